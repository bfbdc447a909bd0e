#!/usr/bin/env bash
# Runs the test suite (slow quality checks included) in the project's environment.
# Extra arguments go to pytest, e.g. `bash tools/test.sh -m "not slow"`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" test
cd "$root"
"$python" -m ruff check .
"$python" -m pytest -n 2 "$@"
