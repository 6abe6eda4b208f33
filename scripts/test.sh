#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what it needs, run the suite against real
# servers on two workers (arguments go to its pytest), measuring coverage of every dbinit process
# the tests start, then the end-to-end run in real containers. The coverage floor is
# fail_under in pyproject.toml: it applies to the whole suite, and only goes up.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit $?
rm -f .coverage .coverage.*
export COVERAGE_FILE="$PWD/.coverage"
.venv/bin/coverage run -m pytest -n 2 "$@"
rc=$?
[ $rc -eq 0 ] || exit $rc
.venv/bin/coverage combine -q && .venv/bin/coverage report || exit $?
exec scripts/e2e.sh
