#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what it needs, then run it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/pytest "$@"
