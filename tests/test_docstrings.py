"""Run the Examples sections of skae's docstrings as doctests.

Every module of the skae package is searched (tools/test.sh runs pytest on
tests/ only, so ``--doctest-modules`` would not reach them). A module that
needs an optional dependency that is not installed is skipped.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import torch

import skae

SUBMODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(skae.__path__, prefix="skae.")
    if not info.name.endswith("__main__")
)
MODULES = ["skae", *SUBMODULES]
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# Modules whose docstrings must hold examples: the finder is looking in the right place.
MUST_HAVE_EXAMPLES = {"skae._autoencoder", "skae._vae"}


def _import(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and not error.name.startswith("skae"):
            pytest.skip(f"{name} needs {error.name}, which is not installed")
        raise


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = _import(name)
    tests = [t for t in doctest.DocTestFinder().find(module, name) if t.examples]
    if name in MUST_HAVE_EXAMPLES:
        assert tests, f"no docstring examples found in {name}"
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    # One thread: the examples train tiny networks, and pytest -n 2 runs two
    # workers side by side; more threads only contend for the cores.
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for test in tests:
            runner.run(test, out=report.append)
    finally:
        torch.set_num_threads(n_threads)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
