"""Run every gallery example (examples/plot_*.py), so that the documentation cannot rot.

Each example runs in a fresh interpreter, as a user would run it: matplotlib
draws off-screen (Agg), warnings are errors as in the rest of the suite, and
PyTorch uses one thread, because ``pytest -n 2`` runs two examples at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))
TIMEOUT_S = 300


def test_there_are_examples():
    assert len(EXAMPLES) >= 8, f"expected the gallery's examples in {EXAMPLES_DIR}"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(path: Path, tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.setdefault("OMP_NUM_THREADS", "1")
    # Runs in a scratch folder, so that nothing an example writes lands in the repository.
    result = subprocess.run(
        [sys.executable, "-W", "error", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, (
        f"{path.name} failed (exit {result.returncode}).\n"
        f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-8000:]}"
    )
