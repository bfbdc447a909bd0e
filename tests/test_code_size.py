"""n_components as PCA users give it: a fraction of variance, 'mle', None;
and variance_explained_, the fraction of variance a fitted code explains."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer, VAETransformer

ESTIMATORS = [AutoencoderTransformer, VAETransformer]
SMALL = dict(hidden_layer_sizes=(32,), max_iter=15, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, _ = load_digits(return_X_y=True)
    return X[:400]


def explained_by_hand(model, X) -> float:
    """1 - residual / total sum of squares, in the model's scaled space."""
    scaled = (X - model.input_offset_) / model.input_scale_
    reconstruction = model.inverse_transform(model.transform(X))
    residual = (reconstruction - model.input_offset_) / model.input_scale_ - scaled
    return 1 - np.square(residual).sum() / np.square(scaled - scaled.mean(axis=0)).sum()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_variance_explained_is_pca_s_measure(Estimator, digits):
    # Without a validation split it is measured on the training rows, all of X here.
    model = Estimator(n_components=4, early_stopping=False, **SMALL).fit(digits)
    assert 0 < model.variance_explained_ < 1
    assert model.variance_explained_ == pytest.approx(explained_by_hand(model, digits), rel=1e-4)
    # Pixels share one scale ('global' scaling): PCA's ratios on X are comparable.
    assert model.scaling_ == "global"
    pca = PCA(4).fit(digits)
    # A code of 4 from PCA's start explains at least PCA's share, less round-off.
    assert model.variance_explained_ > pca.explained_variance_ratio_.sum() - 0.01


def test_fraction_finds_the_smallest_code(digits):
    target = 0.6
    model = AutoencoderTransformer(n_components=target, **SMALL).fit(digits)
    k = model.n_components_
    assert model.variance_explained_ >= target
    pca_k = PCA(target, svd_solver="full").fit(digits)
    assert k <= pca_k.n_components_  # a non-linear code needs no more than PCA's
    # The fit is the one at that size, and one code fewer falls short.
    at_k = clone(model).set_params(n_components=k).fit(digits)
    np.testing.assert_array_equal(model.transform(digits), at_k.transform(digits))
    if k > 1:
        smaller = clone(model).set_params(n_components=k - 1).fit(digits)
        assert smaller.variance_explained_ < target


def test_fraction_out_of_reach_warns(digits):
    model = AutoencoderTransformer(n_components=0.9999, init="random", **SMALL | {"max_iter": 1})
    with pytest.warns(UserWarning, match="even a code of n_features=6"):
        model.fit(digits[:, 20:26])
    assert model.n_components_ == 6


def test_fraction_after_fit_continues(digits):
    model = AutoencoderTransformer(n_components=0.6, warm_start=True, **SMALL).fit(digits)
    k = model.n_components_
    model.fit(digits)  # a warm start keeps the code size found, with no search
    assert model.n_components_ == k
    model.partial_fit(digits)
    assert model.n_components_ == k


def test_fraction_needs_fit(digits):
    with pytest.raises(ValueError, match="partial_fit needs an int"):
        AutoencoderTransformer(n_components=0.9, **SMALL).partial_fit(digits)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_mle_is_pca_s_estimate(Estimator):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 3)) @ rng.normal(size=(3, 12)) + 0.1 * rng.normal(size=(500, 12))
    model = Estimator(n_components="mle", scaling="standard", **SMALL | {"max_iter": 2}).fit(X)
    expected = PCA("mle").fit(StandardScaler().fit_transform(X)).n_components_
    assert model.n_components_ == expected
    # partial_fit resolves it from its first chunk alike.
    streamed = clone(model).partial_fit(X)
    assert streamed.n_components_ == expected


def test_mle_needs_more_samples_than_features(digits):
    with pytest.raises(ValueError, match="'mle' needs at least as many samples as features"):
        AutoencoderTransformer(n_components="mle", **SMALL).fit(digits[:30])


def test_none_is_auto(digits):
    model = AutoencoderTransformer(n_components=None, **SMALL | {"max_iter": 1}).fit(digits)
    assert model.n_components_ == 32  # 'auto': min(32, n_features // 2)


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.5, "pca"])
def test_bad_code_sizes_are_refused(bad, digits):
    with pytest.raises(ValueError, match="n_components"):
        AutoencoderTransformer(n_components=bad).fit(digits)


def test_noise_variance_and_variance_explained_share_the_residuals(digits):
    # One pass of the network gives both: each feature's mean squared residual
    # (in X's units, above the floor) and the explained share.
    model = AutoencoderTransformer(n_components=4, early_stopping=False, **SMALL).fit(digits)
    scaled = (digits - model.input_offset_) / model.input_scale_
    reconstruction = model.inverse_transform(model.transform(digits))
    residual = (reconstruction - model.input_offset_) / model.input_scale_ - scaled
    by_hand = np.square(residual).mean(axis=0) * model.input_scale_**2
    floor = model.noise_variance_.min()
    varying = by_hand > 2 * floor
    assert varying.sum() > 10
    np.testing.assert_allclose(model.noise_variance_[varying], by_hand[varying], rtol=1e-4)
    assert model.variance_explained_ == pytest.approx(explained_by_hand(model, digits), rel=1e-4)
