#!/usr/bin/env bash
# Runs the side-by-side benchmark (PCA and friends against skae's estimators)
# in the project's environment. Extra arguments go to `python -m skae.benchmark`,
# e.g. `bash tools/benchmark.sh --dataset mnist --data-dir ../shared/data/mnist`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" ""
cd "$root"
"$python" -m skae.benchmark "$@"
