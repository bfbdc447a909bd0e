"""The steps of a fit (skae/_fit.py)."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

from skae import AdversarialAutoencoderTransformer, AutoencoderTransformer, VAETransformer, _fit

SMALL = dict(n_components=3, hidden_layer_sizes=(16,), max_iter=3, batch_size=32, random_state=0)


@pytest.fixture
def completeness(monkeypatch):
    """The `Objective.complete` of each fit's training options, in order."""
    recorded = []
    original = _fit._training_options

    def recording(*args, **kwargs):
        options = original(*args, **kwargs)
        recorded.append(options.objective.complete)
        return options

    monkeypatch.setattr(_fit, "_training_options", recording)
    return recorded


# Complete data train without the loss's masks: the same model to the bit.
@pytest.mark.parametrize(
    "Estimator", [AutoencoderTransformer, VAETransformer, AdversarialAutoencoderTransformer]
)
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_complete_data_skip_the_masks_with_the_same_result(
    Estimator, loss, monkeypatch, completeness
):
    X = np.random.RandomState(0).uniform(size=(200, 7))
    if Estimator is VAETransformer:
        params = {"likelihood": "bernoulli" if loss == "bce" else "gaussian"}
    else:
        params = {"loss": loss}
    fast = Estimator(**params, **SMALL).fit(X)
    monkeypatch.setattr(_fit, "has_missing", lambda X: True)
    masked = Estimator(**params, **SMALL).fit(X)
    assert completeness == [True, False]
    for (name, a), b in zip(
        fast.network_.state_dict().items(), masked.network_.state_dict().values()
    ):
        assert torch.equal(a, b), name
    assert fast.loss_curve_ == masked.loss_curve_
    assert_array_equal(fast.transform(X), masked.transform(X))


def test_missing_entries_keep_the_masks(completeness):
    X = np.random.RandomState(0).normal(size=(100, 5))
    X[3, 1] = np.nan
    AutoencoderTransformer(**SMALL).fit(X)
    AutoencoderTransformer(noise="missing", **SMALL).fit(np.nan_to_num(X))
    assert completeness == [False, False]
