"""skae.plotting: each display draws what it says, where it is told, and refuses bad input."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.image import AxesImage
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

from conftest import TINY
from skae import AutoencoderTransformer, VAETransformer
from skae.plotting import (
    ImageGridDisplay,
    InterpolationDisplay,
    LatentScatterDisplay,
    LossCurveDisplay,
    ReconstructionDisplay,
    SampleGridDisplay,
)

N_ROWS = 300

plt.switch_backend("Agg")  # off-screen


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:N_ROWS], y[:N_ROWS]


@pytest.fixture(scope="module")
def ae(data):
    """A 2-D autoencoder, with early stopping (a validation curve and best epoch)."""
    return AutoencoderTransformer(n_components=2, **{**TINY, "max_iter": 3}).fit(data[0])


@pytest.fixture(scope="module")
def conv_vae(data):
    """A convolutional VAE: its fitted image_shape_ is (1, 8, 8)."""
    settings = {**TINY, "hidden_layer_sizes": (4,)}
    return VAETransformer(n_components=3, architecture="conv", **settings).fit(data[0])


def _single_image(ax) -> AxesImage:
    (image,) = ax.get_images()
    return image


def _tick_texts(labels) -> list[str]:
    return [label.get_text() for label in labels]


def test_import_skae_does_not_import_matplotlib():
    code = "import sys, skae; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------
# Image grids


def test_image_grid_draws_one_picture_with_gaps_and_labels():
    images = np.arange(2 * 3 * 16, dtype=float).reshape(2, 3, 16)
    display = ImageGridDisplay(images, row_labels=["a", "b"], column_labels=["x", "y", "z"]).plot(
        vmin=0, vmax=100
    )
    canvas = _single_image(display.ax_).get_array()
    assert canvas.shape == (2 * 4 + 1, 3 * 4 + 2)  # 4 x 4 images, a 1-pixel gap between
    assert canvas.mask[4, :].all() and canvas.mask[:, 4].all()  # the gaps are blank
    np.testing.assert_array_equal(canvas[5:9, 5:9], images[1, 1].reshape(4, 4))
    assert _tick_texts(display.ax_.get_yticklabels()) == ["a", "b"]
    assert _tick_texts(display.ax_.get_xticklabels()) == ["x", "y", "z"]
    assert display.image_.get_clim() == (0, 100)
    assert display.figure_ is display.ax_.figure


def test_image_grid_draws_in_the_given_axes():
    figure, (left, right) = plt.subplots(1, 2)
    display = ImageGridDisplay(np.zeros((1, 2, 9))).plot(ax=right)
    assert display.ax_ is right and display.figure_ is figure
    assert not left.get_images() and len(right.get_images()) == 1


def test_image_grid_draws_rgb_images_channel_major():
    images = np.zeros((1, 1, 3 * 2 * 2))
    images[0, 0, :4] = 1.0  # the red channel lit
    display = ImageGridDisplay(images, image_shape=(3, 2, 2)).plot(vmin=0, vmax=1)
    picture = _single_image(display.ax_).get_array()
    np.testing.assert_array_equal(picture[0, 0], [1, 0, 0, 1])  # red, opaque


@pytest.mark.parametrize(
    "image_shape, match",
    [
        (None, r"not a square.*image_shape=\(1, 10\)"),
        ((2, 4), r"C\*H\*W equal to the 10 features"),
        ((2, 1, 5), "2 channels"),
    ],
)
def test_image_grid_refuses_shapes_that_do_not_fit(image_shape, match):
    if image_shape == (2, 1, 5):
        images = np.zeros((1, 1, 10))
    else:
        images = np.zeros((1, 2, 10))
    with pytest.raises(ValueError, match=match):
        ImageGridDisplay(images, image_shape=image_shape).plot()


def test_image_grid_refuses_bad_grids_and_labels():
    with pytest.raises(ValueError, match="must be 3-D"):
        ImageGridDisplay(np.zeros((4, 16))).plot()
    with pytest.raises(ValueError, match="row_labels has 1 labels for 2 rows"):
        ImageGridDisplay(np.zeros((2, 3, 16)), row_labels=["a"]).plot()
    with pytest.raises(ValueError, match="no images to draw"):
        SampleGridDisplay(np.zeros((0, 16))).plot()


def test_reconstruction_display_from_estimator(ae, data):
    X = data[0][:6]
    display = ReconstructionDisplay.from_estimator(ae, X)
    canvas = _single_image(display.ax_).get_array()
    assert canvas.shape == (2 * 9 - 1, 6 * 9 - 1)
    np.testing.assert_array_equal(canvas[:8, :8], X[0].reshape(8, 8))
    assert _tick_texts(display.ax_.get_yticklabels()) == ["original", "reconstruction"]
    np.testing.assert_allclose(display.X_reconstructed, ae.inverse_transform(ae.transform(X)))


def test_reconstruction_display_strips_tabular_data():
    X = np.random.RandomState(0).normal(size=(50, 5))
    pca = PCA(n_components=2).fit(X)
    with pytest.raises(ValueError, match="not a square"):
        ReconstructionDisplay.from_estimator(pca, X[:4])
    display = ReconstructionDisplay.from_estimator(pca, X[:4], image_shape=(1, 5))
    assert _single_image(display.ax_).get_array().shape == (3, 4 * 6 - 1)


def test_reconstruction_display_refuses_bad_input(ae, data):
    with pytest.raises(NotFittedError):
        ReconstructionDisplay.from_estimator(AutoencoderTransformer(), data[0][:3])
    with pytest.raises(ValueError, match=r"must be 2-D.*reshape\(1, -1\)"):
        ReconstructionDisplay.from_estimator(ae, data[0][0])
    with pytest.raises(ValueError, match="same shape"):
        ReconstructionDisplay(data[0][:3], data[0][:2]).plot()


def test_sample_grid_uses_the_fitted_image_shape_and_leaves_the_rest_blank(conv_vae):
    display = SampleGridDisplay.from_estimator(conv_vae, 7, n_columns=3, random_state=0)
    canvas = _single_image(display.ax_).get_array()
    assert canvas.shape == (3 * 9 - 1, 3 * 9 - 1)  # 7 images in rows of 3
    assert canvas.mask[18:, 9:].all()  # the last row's two empty places
    assert not canvas.mask[18:, :8].any()
    np.testing.assert_allclose(
        canvas[:8, :8], conv_vae.sample(7, random_state=0)[0].reshape(8, 8), rtol=1e-6
    )


def test_sample_grid_refuses_bad_input(data):
    with pytest.raises(NotFittedError):
        SampleGridDisplay.from_estimator(VAETransformer())
    pca = PCA(n_components=2).fit(data[0])
    with pytest.raises(TypeError, match="sample method; PCA has none"):
        SampleGridDisplay.from_estimator(pca)
    with pytest.raises(ValueError, match="n_columns must be a positive integer"):
        SampleGridDisplay(np.zeros((3, 16)), n_columns=0).plot()


def test_interpolation_display_draws_one_strip_per_path(ae, data):
    X = data[0]
    display = InterpolationDisplay.from_estimator(ae, X[:2], X[2:4], n_steps=5)
    canvas = _single_image(display.ax_).get_array()
    assert canvas.shape == (2 * 9 - 1, 5 * 9 - 1)
    path = ae.interpolate(X[:2], X[2:4], n_steps=5)
    np.testing.assert_allclose(canvas[9:, 36:], path[1, 4].reshape(8, 8), rtol=1e-6)


def test_interpolation_display_without_interpolate_decodes_the_straight_path(data):
    X = data[0]
    pca = PCA(n_components=4).fit(X)
    display = InterpolationDisplay.from_estimator(pca, X[0], X[1], n_steps=3)
    middle = pca.inverse_transform(pca.transform(X[:2]).mean(axis=0, keepdims=True))
    np.testing.assert_allclose(display.path[1], middle[0])
    assert _single_image(display.ax_).get_array().shape == (8, 3 * 9 - 1)
    with pytest.raises(ValueError, match="n_steps must be an integer >= 2"):
        InterpolationDisplay.from_estimator(pca, X[0], X[1], n_steps=1)
    with pytest.raises(ValueError, match="path must be"):
        InterpolationDisplay(np.zeros(16)).plot()


# ----------------------------------------------------------------------
# Codes and training


def test_latent_scatter_colours_classes_and_names_them(ae, data):
    X, y = data
    display = LatentScatterDisplay.from_estimator(ae, X, y, alpha=0.5)
    (collection,) = display.ax_.collections
    assert collection is display.scatter_
    np.testing.assert_allclose(collection.get_offsets(), ae.transform(X), rtol=1e-6)
    assert collection.get_alpha() == 0.5
    legend = display.ax_.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [str(c) for c in np.unique(y)]
    assert display.ax_.get_xlabel() == "component 1"
    assert display.ax_.get_ylabel() == "component 2"


def test_latent_scatter_string_and_float_labels(ae, data):
    X, y = data
    names = np.array(["even", "odd"])[y % 2]
    display = LatentScatterDisplay.from_estimator(ae, X, names)
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == ["even", "odd"]
    figure, ax = plt.subplots()
    display = LatentScatterDisplay(ae.transform(X), y.astype(float)).plot(ax=ax)
    assert display.ax_ is ax and ax.get_legend() is None
    assert len(figure.axes) == 2  # the colorbar's
    display = LatentScatterDisplay(ae.transform(X)).plot(legend=False)
    assert display.ax_.get_legend() is None and len(display.ax_.collections) == 1


def test_latent_scatter_refuses_other_than_2d_codes(conv_vae, data):
    X, y = data
    with pytest.raises(ValueError, match=r"2-D codes, got codes of shape \(300, 3\)"):
        LatentScatterDisplay.from_estimator(conv_vae, X, y)
    with pytest.raises(ValueError, match="one label per code"):
        LatentScatterDisplay(np.zeros((5, 2)), np.zeros(4)).plot()
    with pytest.raises(NotFittedError):
        LatentScatterDisplay.from_estimator(AutoencoderTransformer(), X)


def test_loss_curve_marks_the_best_epoch_with_early_stopping(ae):
    display = LossCurveDisplay.from_estimator(ae)
    ax = display.ax_
    np.testing.assert_allclose(display.line_.get_ydata(), ae.loss_curve_)
    np.testing.assert_array_equal(display.line_.get_xdata(), np.arange(1, ae.n_iter_ + 1))
    np.testing.assert_allclose(display.validation_line_.get_ydata(), ae.validation_loss_curve_)
    assert display.best_epoch_line_.get_xdata()[0] == ae.best_epoch_
    assert len(ax.get_lines()) == 3
    assert "internal scaled units" in ax.get_ylabel()
    assert ax.get_xlabel() == "epoch"


def test_loss_curve_without_validation(data):
    model = AutoencoderTransformer(**{**TINY, "max_iter": 1, "early_stopping": False}).fit(data[0])
    figure, ax = plt.subplots()
    display = LossCurveDisplay.from_estimator(model, ax=ax)
    assert display.ax_ is ax and display.figure_ is figure
    assert display.validation_line_ is None and display.best_epoch_line_ is None
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training"]


def test_loss_curve_refuses_bad_input(data):
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(AutoencoderTransformer())
    with pytest.raises(TypeError, match="loss_curve_; PCA has none"):
        LossCurveDisplay.from_estimator(PCA(n_components=2).fit(data[0]))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        LossCurveDisplay([]).plot()
