"""Shared fixtures: small data sets, and the shared data folder when it is present."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.datasets import load_digits

# Fast fits shared by the tests: small networks, a few epochs, seeded.
FAST = dict(hidden_layer_sizes=(16,), max_iter=5, early_stopping=False, random_state=0)
TINY = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0)  # API checks: any fit will do
FAST_CONV = dict(max_iter=3, early_stopping=False, random_state=0)  # the default channels

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def digits():
    """load_digits as raw pixel counts 0-16, and labels."""
    return load_digits(return_X_y=True)


@pytest.fixture
def small_X():
    """100 x 20 Gaussian data with a 3-dimensional structure and mixed column scales."""
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(100, 3))
    X = latent @ rng.normal(size=(3, 20)) + 0.1 * rng.normal(size=(100, 20))
    return X * np.logspace(-2, 2, 20)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def assert_starts_as_pca():
    """A check that a network holds its init='pca' starting weights: the last
    layer of each non-linear correction is still zero."""

    def check(network) -> None:
        for shortcut in (network.encoder, network.decoder):
            layers = [m for m in shortcut.network.modules() if isinstance(m, torch.nn.Linear)]
            assert torch.count_nonzero(layers[-1].weight) == 0

    return check


def rewrite_model_file(path, document=None, tensors=None):
    """Write back the file at `path` with its JSON and tensors edited in place
    by the functions `document` and `tensors`."""
    with safe_open(path, framework="pt") as file:
        metadata = json.loads(file.metadata()["skae"])
        values = {key: file.get_tensor(key) for key in file.keys()}
    if document is not None:
        document(metadata)
    if tensors is not None:
        tensors(values)
    save_file(values, path, {"skae": json.dumps(metadata)})
