"""AdversarialAutoencoderTransformer: an autoencoder whose codes fill the prior."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

import skae
from skae import AdversarialAutoencoderTransformer
from skae._optimizer import OptimizerParts

SMALL = dict(hidden_layer_sizes=(32,), discriminator_layer_sizes=(32,), random_state=0)


@pytest.fixture(scope="module")
def X(digits):
    return digits[0][:600]


@pytest.fixture(scope="module")
def fitted(X):
    return AdversarialAutoencoderTransformer(n_components=4, max_iter=15, **SMALL).fit(X)


def test_the_api(fitted, X):
    codes = fitted.transform(X)
    assert codes.shape == (600, 4) and codes.dtype == np.float64
    assert fitted.inverse_transform(codes).shape == X.shape
    assert fitted.sample(5, random_state=0).shape == (5, 64)
    assert fitted.interpolate(X[:2], X[2:4], n_steps=3).shape == (2, 3, 64)
    assert np.isfinite(fitted.score_samples(X)).all()
    assert fitted.score(X) == pytest.approx(fitted.score_samples(X).mean())
    names = fitted.get_feature_names_out()
    assert names[0] == "adversarialautoencodertransformer0"
    frame = fitted.set_output(transform="pandas").transform(pd.DataFrame(X))
    assert list(frame.columns) == list(names)
    fitted.set_output(transform="default")


def test_transform_is_deterministic(fitted, X):
    assert_array_equal(fitted.transform(X), fitted.transform(X))


def _prior_gap(codes: np.ndarray) -> float:
    """How far the codes' mean and covariance are from N(0, I)'s."""
    return np.abs(codes.mean(0)).max() + np.abs(np.cov(codes.T) - np.eye(codes.shape[1])).max()


# The adversarial game pulls the codes towards N(0, I); without it, from the
# same random start, they spread as they like.
def test_codes_fill_the_prior(X):
    params = dict(n_components=4, init="random", max_iter=15, early_stopping=False)
    gaps = [
        _prior_gap(
            AdversarialAutoencoderTransformer(**params, adversarial_weight=weight, random_state=0)
            .fit(X)
            .transform(X)
        )
        for weight in (0.0, 1.0)
    ]
    # Measured: 11.7 without the game, 0.75 with it.
    assert gaps[1] < 1.0 < 5.0 < gaps[0]


def test_three_players_with_their_own_optimisers(fitted):
    optimizer = fitted.optimizer_
    assert isinstance(optimizer, OptimizerParts)
    assert set(optimizer.parts) == {"reconstruction", "discriminator", "generator"}
    encoder = {id(p) for p in fitted.network_.encoder.parameters()}
    generator = {id(p) for g in optimizer["generator"].param_groups for p in g["params"]}
    assert generator == encoder
    assert all(len(part.state) > 0 for part in optimizer.parts.values())
    states = [part.state_dict()["state"] for part in optimizer.parts.values()]
    assert states[0][0]["exp_avg"] is not states[2][0]["exp_avg"]  # the encoder's, twice


def test_adversarial_weight_sets_the_generator_rate(X):
    est = AdversarialAutoencoderTransformer(
        n_components=2, max_iter=2, adversarial_weight=0.25, learning_rate_init=2e-3, **SMALL
    ).fit(X)
    assert est.optimizer_["generator"].param_groups[0]["lr"] == pytest.approx(5e-4)
    est.set_params(adversarial_weight=0.0, warm_start=True).fit(X)  # the encoder still learns
    assert est.optimizer_["generator"].param_groups[0]["lr"] == 0.0


# The same seed gives the same model, and no global random state moves.
def test_reproducible_without_global_state(X):
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 - the global state itself
    torch_state = torch.random.get_rng_state()
    first = AdversarialAutoencoderTransformer(n_components=2, max_iter=3, **SMALL).fit(X)
    second = AdversarialAutoencoderTransformer(n_components=2, max_iter=3, **SMALL).fit(X)
    assert_array_equal(first.transform(X), second.transform(X))
    assert_array_equal(first.sample(4, random_state=1), second.sample(4, random_state=1))
    assert_array_equal(numpy_state, np.random.get_state()[1])  # noqa: NPY002
    assert torch.equal(torch_state, torch.random.get_rng_state())


def test_scores_flag_what_is_far_from_the_data(fitted, X):
    outliers = X[:20] + 40.0
    assert fitted.score_samples(outliers).max() < np.percentile(fitted.score_samples(X), 1)


def test_sample_decodes_prior_draws(fitted):
    draws = np.random.RandomState(3).standard_normal((4, 4))
    assert_allclose(fitted.sample(4, random_state=3), fitted.inverse_transform(draws))


def test_a_diverging_game_stops_with_a_clear_error(X):
    est = AdversarialAutoencoderTransformer(
        n_components=2, max_iter=20, learning_rate_init=10.0, adversarial_weight=100.0, **SMALL
    )
    with pytest.raises(FloatingPointError, match="diverged"):
        est.fit(X)
    assert not hasattr(est, "network_")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(adversarial_weight=-1.0), "adversarial_weight"),
        (dict(discriminator_layer_sizes="wide"), "discriminator_layer_sizes"),
    ],
)
def test_bad_parameters(params, message, X):
    with pytest.raises(InvalidParameterError, match=message):
        AdversarialAutoencoderTransformer(**params).fit(X)


def test_non_positive_discriminator_layers_are_refused(X):
    est = AdversarialAutoencoderTransformer(discriminator_layer_sizes=(8, 0))
    with pytest.raises(ValueError, match="discriminator_layer_sizes must hold positive"):
        est.fit(X)


def test_warm_start_and_partial_fit_continue(X):
    est = AdversarialAutoencoderTransformer(n_components=2, max_iter=2, warm_start=True, **SMALL)
    est.fit(X)
    network = est.network_
    est.fit(X).partial_fit(X)
    assert est.network_ is network and est.n_iter_ == 5
    with pytest.raises(ValueError, match="discriminator_layer_sizes"):
        est.set_params(discriminator_layer_sizes=(8,)).fit(X)


def test_conv_networks(X):
    est = AdversarialAutoencoderTransformer(
        n_components=2, architecture="conv", hidden_layer_sizes=(4, 8), max_iter=2, random_state=0
    ).fit(X)
    assert est.transform(X).shape == (600, 2)


def test_save_load_and_pickle(fitted, X, tmp_path):
    fitted.save(tmp_path / "aae.skae")
    loaded = skae.load(tmp_path / "aae.skae")
    assert_array_equal(loaded.transform(X), fitted.transform(X))
    assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))
    assert isinstance(loaded.optimizer_, OptimizerParts)
    for name, part in fitted.optimizer_.parts.items():
        for old, new in zip(part.param_groups, loaded.optimizer_[name].param_groups):
            assert old["lr"] == new["lr"]
    unpickled = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(unpickled.transform(X), fitted.transform(X))
    loaded.partial_fit(X)
    pickle.loads(pickle.dumps(fitted)).partial_fit(X)
