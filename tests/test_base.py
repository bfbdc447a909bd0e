"""The fit steps of the estimator base: fits are all or nothing."""

import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from conftest import FAST
from skae import AutoencoderTransformer, VAETransformer
from skae._fitted_state import fitted_state
from skae._networks import Autoencoder, VariationalAutoencoder

ESTIMATORS = [AutoencoderTransformer, VAETransformer]


@pytest.fixture
def interrupt_at(monkeypatch):
    """Make the networks' loss raise KeyboardInterrupt at its `n`-th call
    (counted from the call of this fixture's function), as Ctrl-C would."""

    def arm(n: int, error: type[BaseException] = KeyboardInterrupt) -> None:
        calls = [0]
        for network in (Autoencoder, VariationalAutoencoder):
            loss = network.loss

            def interrupted(self, *args, _loss=loss, **kwargs):
                calls[0] += 1
                if calls[0] == n:
                    raise error("interrupted")
                return _loss(self, *args, **kwargs)

            monkeypatch.setattr(network, "loss", interrupted)

    return arm


def _plain(value):
    """`value` as plain Python values that compare exactly: tensors as lists."""
    if isinstance(value, (torch.nn.Module, torch.optim.Optimizer)):
        return _plain(value.state_dict())
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return (str(value.dtype), value.tolist())
    if isinstance(value, np.random.RandomState):
        return _plain(value.get_state())
    return pickle.dumps(value)


def _state(model) -> dict:
    """Everything that fit set, comparable."""
    return {name: _plain(vars(model).get(name)) for name in fitted_state(model)}


# An interrupted fresh fit propagates the interrupt and leaves the estimator
# unfitted, even one that was fitted before, mid-epoch or in the validation pass.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("at_call", [1, 3, 8])
def test_interrupted_fresh_fit_leaves_no_model(Estimator, at_call, small_X, interrupt_at):
    model = Estimator(**{**FAST, "early_stopping": True}).fit(small_X)
    interrupt_at(at_call)
    with pytest.raises(KeyboardInterrupt):
        model.fit(small_X)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    assert not set(fitted_state(model)) & set(vars(model))


# An interrupted warm start or partial_fit leaves the model exactly as it was:
# network, optimiser, history, summaries and random stream; it then trains on
# as if the interrupted call had never been.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("method", ["warm_start", "partial_fit"])
def test_interrupted_warm_fit_changes_nothing(Estimator, method, small_X, interrupt_at):
    model = Estimator(**{**FAST, "warm_start": True}).fit(small_X)
    twin = pickle.loads(pickle.dumps(model))
    before, codes = _state(model), model.transform(small_X)
    network = model.network_
    interrupt_at(2, RuntimeError)  # any error, at the second batch, after a step
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(small_X) if method == "warm_start" else model.partial_fit(small_X)
    assert _state(model) == before
    assert model.network_ is network  # restored in place
    assert_array_equal(model.transform(small_X), codes)
    assert_array_equal(model.score_samples(small_X), twin.score_samples(small_X))
    interrupt_at(10**9)  # disarmed
    model.partial_fit(small_X)
    twin.partial_fit(small_X)
    assert_array_equal(model.transform(small_X), twin.transform(small_X))


def _structured(n=200):
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(n, 3))
    return latent @ rng.normal(size=(3, 10)) + 0.1 * rng.normal(size=(n, 10))


# Data in tiny units (float64 still holds them normally) are scaled into the
# networks' range: the codes and the relative fit are those of the same data
# in ordinary units, and the scores differ by the log-Jacobian only.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("unit", [1e-40, 1e-140])
def test_tiny_units_are_scaled(Estimator, unit):
    X = _structured()
    params = dict(n_components=3, hidden_layer_sizes=(16,), max_iter=10, random_state=0)
    plain, tiny = Estimator(**params).fit(X), Estimator(**params).fit(X * unit)
    codes = tiny.transform(X * unit)
    assert (codes.std(axis=0) > 0.1).all()
    assert_allclose(codes, plain.transform(X), rtol=1e-3, atol=1e-3)
    reconstruction = tiny.inverse_transform(codes) / unit
    assert_allclose(reconstruction, plain.inverse_transform(plain.transform(X)), atol=1e-2)
    shift = -X.shape[1] * np.log(unit)
    assert_allclose(tiny.score_samples(X * unit) - shift, plain.score_samples(X), atol=1e-2)


# Subnormal units, whose squares float64 cannot hold, are refused with the fix
# named; so is X too tiny for the float32 networks when it is not scaled.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_subnormal_units_are_refused(Estimator):
    X = _structured(50)
    with pytest.raises(ValueError, match=r"X varies by only .*Multiply X by a power of ten"):
        Estimator(max_iter=1).fit(X * 1e-310)
    with pytest.raises(ValueError, match="float32 networks cannot resolve it unscaled"):
        Estimator(max_iter=1, scaling=None).fit(X * 1e-35)


# A model whose codes are all the same on data that vary is not returned
# silently (here, a network that outputs a constant code).
def test_constant_codes_warn(monkeypatch):
    X = _structured(100)
    monkeypatch.setattr(Autoencoder, "code", lambda self, x: torch.zeros(len(x), 3))
    monkeypatch.setattr(Autoencoder, "encode", lambda self, x: torch.zeros(len(x), 3))
    with pytest.warns(UserWarning, match="encodes every training sample to the same code"):
        AutoencoderTransformer(n_components=3, **FAST).fit(X)


# A row far outside the training data gets the lowest score, -inf, where the
# float32 network overflows (else a finite, very low one); the batch's other
# rows keep their scores. Rows outside [0, 1] have no Bernoulli likelihood.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_extreme_rows_get_the_lowest_scores(Estimator):
    X = _structured()
    model = Estimator(n_components=3, **FAST).fit(X)
    batch = X[:5].copy()
    batch[0] *= 1e30
    scores = model.score_samples(batch)
    # (float32 products round alike only in batches of one size)
    assert_allclose(scores[1:], model.score_samples(X[1:5]), rtol=1e-5, atol=1e-4)
    assert scores[0] < scores[1:].min() - 1e10 or scores[0] == -np.inf
    unit = (X - X.min()) / np.ptp(X)
    is_ae = Estimator is AutoencoderTransformer
    bernoulli = {"loss": "bce"} if is_ae else {"likelihood": "bernoulli"}
    model = Estimator(n_components=3, **bernoulli, **FAST).fit(unit)
    batch = unit[:5].copy()
    batch[0, 0] = 1.5
    scores = model.score_samples(batch)
    assert scores[0] == -np.inf
    assert_allclose(scores[1:], model.score_samples(unit[1:5]), rtol=1e-5, atol=1e-4)
