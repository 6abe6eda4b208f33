#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what it needs, run the suite against real
# servers (arguments go to its pytest), then the end-to-end run in real containers.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit $?
.venv/bin/pytest "$@"
rc=$?
[ $rc -eq 0 ] || exit $rc
exec scripts/e2e.sh
