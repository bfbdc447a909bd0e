"""architecture='conv', image_shape and denoising noise, for both estimators."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import GridSearchCV, train_test_split

from conftest import FAST_CONV
from skae import AutoencoderTransformer, VAETransformer

ESTIMATORS = [AutoencoderTransformer, VAETransformer]


@pytest.fixture(scope="module")
def images(digits):
    """load_digits as 8 x 8 images with pixels in [0, 1]."""
    return digits[0][:400] / 16.0


# Flat images in, codes out, flat reconstructions back; the shape is inferred or given.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("image_shape", [None, (8, 8), (1, 8, 8)])
def test_conv_shapes(Estimator, images, image_shape):
    est = Estimator(n_components=4, architecture="conv", image_shape=image_shape, **FAST_CONV)
    codes = est.fit_transform(images)
    assert codes.shape == (400, 4)
    assert est.image_shape_ == (1, 8, 8)
    assert est.inverse_transform(codes).shape == (400, 64)
    assert est.sample(2, random_state=0).shape == (2, 64)


# Sizes that do not halve evenly (7 -> 4 -> 2 -> 1) come back exactly, with channels.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_conv_odd_sizes_and_channels(Estimator):
    X = np.random.RandomState(0).uniform(size=(50, 2 * 7 * 5))
    est = Estimator(
        n_components=3,
        architecture="conv",
        image_shape=(2, 7, 5),
        hidden_layer_sizes=(4, 8, 8),
        **FAST_CONV,
    ).fit(X)
    assert est.inverse_transform(est.transform(X)).shape == (50, 70)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_image_shape_mismatch(Estimator, images):
    with pytest.raises(ValueError, match=r"C\*H\*W equal to n_features=64"):
        Estimator(architecture="conv", image_shape=(7, 7), **FAST_CONV).fit(images)
    with pytest.raises(ValueError, match="n_features=63 is not a square number"):
        Estimator(architecture="conv", **FAST_CONV).fit(images[:, :63])
    for shape in [(8.9, 8.4), (1.5, 8, 8), ("8", 8), [[8, 8]], ((1,), 8, 8), (0, 8, 8)]:
        with pytest.raises(ValueError, match="image_shape must hold positive integers"):
            Estimator(architecture="conv", image_shape=shape, **FAST_CONV).fit(images)


# The noise is used in training only: transform stays deterministic, and
# noise settings are searchable hyper-parameters.
@pytest.mark.parametrize("noise", ["gaussian", "masking"])
def test_noise_is_training_only(images, noise):
    ae = AutoencoderTransformer(noise=noise, noise_level=0.3, **FAST_CONV).fit(images)
    assert_array_equal(ae.transform(images), ae.transform(images))
    plain = AutoencoderTransformer(**FAST_CONV).fit(images)
    assert not np.allclose(ae.transform(images), plain.transform(images))


def test_noise_in_grid_search(images):
    grid = {"noise": [None, "gaussian", "masking"], "noise_level": [0.1, 0.3]}
    search = GridSearchCV(AutoencoderTransformer(n_components=4, **FAST_CONV), grid, cv=2)
    search.fit(images)
    results = search.cv_results_
    scores = {str(params): s for params, s in zip(results["params"], results["mean_test_score"])}
    # Without noise its level is unused; each noise and level trains another model.
    without = [v for k, v in scores.items() if "None" in k]
    assert without[0] == without[1] and len(set(scores.values())) == 5


# A denoising autoencoder removes noise from new images better than a plain one.
@pytest.mark.slow
def test_denoising_beats_plain_autoencoder(images, digits):
    X = digits[0] / 16.0
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    noisy = X_test + np.random.RandomState(1).normal(scale=0.3, size=X_test.shape)
    params = dict(n_components=16, scaling=None, random_state=0)
    plain = AutoencoderTransformer(**params).fit(X_train)
    denoising = AutoencoderTransformer(noise="gaussian", noise_level=0.3, **params).fit(X_train)

    def error(model):
        return np.mean((model.inverse_transform(model.transform(noisy)) - X_test) ** 2)

    assert error(denoising) < 0.8 * error(plain)


# A convolutional autoencoder with an 8-number code reconstructs held-out digit
# images far better than their mean image does, within 25 epochs (the
# comparison with MLPs and PCA at MNIST scale is in benchmarks/conv_quality.py).
@pytest.mark.slow
def test_conv_reconstructs_digits(digits):
    X = digits[0] / 16.0
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    conv = AutoencoderTransformer(
        n_components=8, architecture="conv", scaling=None, max_iter=25, random_state=0
    ).fit(X_train)
    error = np.mean((conv.inverse_transform(conv.transform(X_test)) - X_test) ** 2)
    baseline = np.mean((X_test - X_train.mean(0)) ** 2)
    assert error < 0.3 * baseline


# A conv autoencoder asked for a scaling that leaves [0, 1] trains with
# squared error at loss='auto'; with none, cross-entropy needs X in [0, 1],
# and the error says where 'bce' came from.
def test_auto_loss_under_a_scaling_asked_for(digits):
    counts = digits[0][:200]
    est = AutoencoderTransformer(architecture="conv", scaling="standard", **FAST_CONV).fit(counts)
    assert (est.loss_, est.scaling_) == ("mse", "standard")
    with pytest.raises(ValueError, match=r"loss='auto' \(loss='bce' for this architecture\)"):
        AutoencoderTransformer(architecture="conv", scaling=None, **FAST_CONV).fit(counts)


# Raw pixel counts with a bounded loss: one range for all pixels, so new images
# whose pixels are lit where every training image was dark can still be scored
# and streamed (with a range per pixel they fall far outside [0, 1]). The conv
# autoencoder's default loss is that bounded one.
@pytest.mark.parametrize(
    "Estimator, params",
    [
        (AutoencoderTransformer, {"loss": "bce"}),
        (AutoencoderTransformer, {}),
        (VAETransformer, {"likelihood": "bernoulli"}),
    ],
)
def test_raw_pixel_counts_with_a_bounded_loss(Estimator, params, digits):
    counts = digits[0][:400]
    dark_border = counts[counts[:, 0] == 0]
    lit_border = counts[counts[:, 0] == 0].copy()[:20]
    lit_border[:, 0] = 16
    est = Estimator(architecture="conv", **params, **FAST_CONV).fit(dark_border)
    assert getattr(est, "loss_", "bce") == "bce"
    assert est.scaling_ == "global_minmax"
    assert_allclose(est.input_offset_, 0)
    assert_allclose(est.input_scale_, 16)
    assert np.isfinite(est.score_samples(lit_border)).all()
    assert est.inverse_transform(est.transform(counts)).max() <= 16 + 1e-4
    stream = Estimator(architecture="conv", **params, **FAST_CONV)
    for chunk in np.array_split(counts, 4):
        stream.partial_fit(chunk)
    # Rows outside the fitted range have no Bernoulli likelihood: the lowest score.
    outside = counts[:4] * 2
    assert (est.score_samples(outside) == -np.inf).all()
