#!/usr/bin/env bash
# Runs the test suite (slow quality checks included) in the project's environment,
# with the optional ONNX and Dask stacks (the "onnx" and "dask" extras), whose
# tests skip without them.
# Extra arguments go to pytest, e.g. `bash tools/test.sh -m "not slow"`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" test,onnx,dask
cd "$root"
"$python" -m ruff check .
"$python" -m pytest -n 2 "$@"
