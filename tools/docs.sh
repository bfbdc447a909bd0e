#!/usr/bin/env bash
# Builds the HTML documentation (API reference, user guide and the example
# gallery, whose scripts are run) into docs/_build/html, warnings as errors.
# Extra arguments go to sphinx-build, e.g. `bash tools/docs.sh -E` to rebuild
# everything, or `-D plot_gallery=0` to skip running the examples.
# Links to scikit-learn, PyTorch and NumPy need the network:
# `SKAE_DOCS_INTERSPHINX=1 bash tools/docs.sh`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" docs,onnx
cd "$root"
"$python" -m sphinx -W --keep-going -b html "$@" docs docs/_build/html
echo "Documentation built: docs/_build/html/index.html"
