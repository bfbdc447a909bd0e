"""Plots of fitted autoencoders, as scikit-learn's ``Display`` objects.

Each display follows the pattern of :class:`sklearn.metrics.PredictionErrorDisplay`:
the constructor takes values already computed, :meth:`plot` draws them and
sets ``ax_`` and ``figure_`` (and the artists drawn), and the classmethod
``from_estimator`` computes the values from a fitted estimator and plots them
in one call. Every ``plot`` and ``from_estimator`` takes ``ax=``, the
matplotlib axes to draw in; without one it draws in a new pyplot figure.

The image displays draw their grid as one picture in one axes, with a blank
gap between the images; flat samples are reshaped to the estimator's fitted
``image_shape_`` (``architecture='conv'``), to ``image_shape=``, or else to a
square.

Importing this module imports matplotlib; ``import skae`` does not.

Examples
--------
>>> import matplotlib.pyplot as plt
>>> from sklearn.datasets import load_digits
>>> from skae import AutoencoderTransformer
>>> from skae.plotting import ReconstructionDisplay
>>> X, _ = load_digits(return_X_y=True)
>>> ae = AutoencoderTransformer(n_components=8, max_iter=3, random_state=0).fit(X)
>>> display = ReconstructionDisplay.from_estimator(ae, X[:10])
>>> display.ax_.get_yticklabels()[1].get_text()
'reconstruction'
>>> plt.close(display.figure_)
"""

from skae.plotting._images import (
    ImageGridDisplay,
    InterpolationDisplay,
    ReconstructionDisplay,
    SampleGridDisplay,
)
from skae.plotting._latent import LatentScatterDisplay
from skae.plotting._loss_curve import LossCurveDisplay

__all__ = [
    "ImageGridDisplay",
    "InterpolationDisplay",
    "LatentScatterDisplay",
    "LossCurveDisplay",
    "ReconstructionDisplay",
    "SampleGridDisplay",
]
