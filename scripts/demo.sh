#!/usr/bin/env bash
# No-Docker demo: dbinit against local servers started by the test harness.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python scripts/demo.py
