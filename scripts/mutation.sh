#!/usr/bin/env bash
# Mutation testing of the pure core (pyproject.toml's [tool.mutmut]: naming, plan, placeholders,
# integrity, targets and the SQL, Cypher and redis-cli splitters) against the in-process tests
# that run it. Not in every CI run: about 4 minutes on 2 cores. Prints each function's
# surviving mutants and mutants no in-process test reaches; `.venv/bin/mutmut show NAME` shows one.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/mutmut ] || .venv/bin/pip install -q 'mutmut>=3.3,<4'
rm -rf mutants
.venv/bin/mutmut run --max-children "${MUTATION_JOBS:-2}" >/dev/null 2>&1 || true
.venv/bin/mutmut results --all true | awk -F': ' '{print $2}' | sort | uniq -c
echo "not killed, by function:"
.venv/bin/mutmut results | sed -E 's/__mutmut_[0-9]+:/:/' | sort | uniq -c | sort -rn
