#!/usr/bin/env bash
# Pins the image's Python packages with their hashes (pip install --require-hashes): requirements.lock
# from pyproject.toml's dependencies, requirements-build.lock for what only the build stage runs (the
# wheel build and the SBOM). For the image's Python (Debian trixie's 3.13) on every platform.
# Run after changing pyproject.toml's dependencies, or to take newer releases; commit both files.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools" && "$tools/bin/pip" install -q uv
compile() { "$tools/bin/uv" pip compile -q --universal --python-version 3.13 --generate-hashes \
              --custom-compile-command scripts/lock.sh "$@"; }
compile pyproject.toml --extra otel -o requirements.lock  # the image has the otel extra (docs/licences.md, README)
printf 'setuptools>=77\ncyclonedx-bom>=7\n' > "$tools/build.in"
compile "$tools/build.in" -o requirements-build.lock
sed -i "s|$tools/build.in|requirements-build (scripts/lock.sh)|" requirements-build.lock
