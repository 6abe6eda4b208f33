#!/usr/bin/env bash
# Every benchmark against every peer in one run (after scripts/setup.sh): installs the peers,
# then bench/run.py. Arguments go to bench/run.py (--rounds N, --sections a,b, --smoke, --check).
set -euo pipefail
cd "$(dirname "$0")/.."
bench/peers.sh
exec .venv/bin/python bench/run.py "$@"
