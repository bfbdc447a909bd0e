# Sourced by the other tools: creates or reuses the virtual environment and
# installs skae into it with the extras named in $1 (e.g. "test").
#
#   SKAE_VENV   where the environment lives (default: .venv in the repository)
#   SKAE_EXTRAS more extras to install, e.g. "peers" for PyOD in the benchmark
#   SKAE_TORCH  pip arguments for torch when none is installed yet
#               (default: torch==2.13.0). A torch already in the environment,
#               e.g. a CUDA build you installed, is kept.
#   PYTHON      the interpreter that creates the environment (default: python3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${SKAE_VENV:-$root/.venv}
extras=${1:-}
if [ -n "${SKAE_EXTRAS:-}" ]; then
    extras=${extras:+$extras,}$SKAE_EXTRAS
fi

# Each step says what it does before it starts (pip is quiet) and how long it took.
say() { echo "skae set-up: $*" >&2; }
step_start=$SECONDS
done_step() { say "done in $((SECONDS - step_start)) s."; step_start=$SECONDS; }

if [ ! -x "$venv/bin/python" ]; then
    say "creating the virtual environment $venv (a few seconds)..."
    "${PYTHON:-python3}" -m venv "$venv"
    done_step
fi
python=$venv/bin/python
pip=("$python" -m pip install --quiet --disable-pip-version-check)

if ! "$python" -c "import torch" 2>/dev/null; then
    say "installing ${SKAE_TORCH:-torch==2.13.0} (about a minute for a CPU build;" \
        "several minutes and GBs for a CUDA build from PyPI)..."
    # shellcheck disable=SC2086
    "${pip[@]}" ${SKAE_TORCH:-torch==2.13.0}
    done_step
fi

# Reinstall only when pyproject.toml or the extras changed.
stamp=$venv/.skae-installed
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1) [$extras]"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing skae${extras:+ with the extras [$extras]} and its dependencies" \
        "(a minute or two the first time)..."
    "${pip[@]}" -e "$root${extras:+[$extras]}"
    echo "$want" >"$stamp"
    done_step
fi
