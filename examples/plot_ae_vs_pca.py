"""
=============================================
Autoencoder vs PCA: a two-dimensional map
=============================================

:class:`~sklearn.decomposition.PCA` projects the data onto the plane that
keeps the most variance: a *linear* map. An autoencoder learns a *non-linear*
encoder and decoder, so its two-dimensional code can follow curved structure
that a plane cuts through. This example fits :class:`sklearn.decomposition.PCA`,
:class:`skae.AutoencoderTransformer` and :class:`skae.VAETransformer` with
``n_components=2`` on scikit-learn's hand-written digits, draws the maps
side by side, and measures how much of each image the two numbers keep. At
its defaults a 2-D autoencoder adds a parametric t-SNE term to its loss
(``neighbor_weight='auto'``), for a map whose clusters a linear classifier
can read; the second model turns it off to show reconstruction alone.
"""

# %%
# The data
# --------
# 1797 images of 8 x 8 pixels, each pixel a count from 0 to 16. A quarter is
# held out to measure reconstruction error on images the models have not seen.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer, VAETransformer
from skae.plotting import LatentScatterDisplay

# The networks below train for a capped number of epochs, to keep this example
# fast; scikit-learn would warn that they have not converged.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# Four models with two components
# -------------------------------
# The estimators take the same arguments and have the same methods. The
# autoencoders scale each pixel internally (``scaling='auto'``), so raw counts
# go in and ``inverse_transform`` gives counts back. ``max_iter`` is kept small
# so that the example runs in seconds on a CPU; ``random_state`` makes the
# result the same on every run.
#
# The last model is the autoencoder at its defaults, whose 2-D code turns on
# the t-SNE term: besides reconstructing, its encoder is trained so that
# images that are neighbours in pixel space stay neighbours in the code, and
# the others move apart (t-SNE's objective, within each batch of 1000). It
# starts from random weights, since a PCA start would hold the map near PCA's
# plane. The second model, ``neighbor_weight=0``, trains for reconstruction
# alone, from PCA.
models = {
    "PCA": PCA(n_components=2),
    "AutoencoderTransformer\n(neighbor_weight=0)": AutoencoderTransformer(
        n_components=2, neighbor_weight=0, hidden_layer_sizes=(128, 64), max_iter=60, random_state=0
    ),
    "VAETransformer": VAETransformer(
        n_components=2, hidden_layer_sizes=(128, 64), max_iter=60, random_state=0
    ),
    "AutoencoderTransformer\n(defaults: the t-SNE term)": AutoencoderTransformer(
        n_components=2, hidden_layer_sizes=(128, 64), max_iter=60, random_state=0
    ),
}
for model in models.values():
    model.fit(X_train)

# %%
# The maps
# --------
# Each point is a test image, placed at its code and coloured by its digit
# (the labels were not used for fitting). The digit sits at the median code of
# its class. The axes show the central 99% of the codes, so that a few outliers
# do not shrink the rest.
fig, axes = plt.subplots(2, 2, figsize=(9.5, 9.5))
for ax, (name, model) in zip(axes.flat, models.items()):
    codes = model.transform(X_test)
    LatentScatterDisplay(codes, y_test).plot(ax=ax, legend=False, alpha=0.8)
    for digit in range(10):
        x_mid, y_mid = np.median(codes[y_test == digit], axis=0)
        ax.text(x_mid, y_mid, str(digit), fontsize=15, weight="bold", ha="center", va="center")
    low, high = np.percentile(codes, [0.5, 99.5], axis=0)
    margin = 0.05 * (high - low)
    ax.set_xlim(low[0] - margin[0], high[0] + margin[0])
    ax.set_ylim(low[1] - margin[1], high[1] + margin[1])
    ax.set_title(name)
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()

# %%
# In PCA's plane several digits run into each other in the middle. The
# autoencoder bends its map and pulls more of the classes apart. With the
# neighbour term most digits form islands of their own. The VAE packs
# its codes into one dense cloud around the origin: its KL term pulls every
# code towards a standard normal distribution, which leaves no empty gaps
# between the classes. That is what lets it decode random draws from N(0, I)
# into plausible digits (see :ref:`sphx_glr_auto_examples_plot_vae_samples.py`).
#
# How much do two numbers keep?
# -----------------------------
# Three measures on the held-out images: the reconstruction error
# (``inverse_transform(transform(X))``, in squared pixel counts), and how well a
# nearest-neighbour classifier and a linear one (logistic regression)
# recognise the digit from the two-dimensional code alone.
print(f"{'model':<40}{'reconstruction MSE':>20}{'5-NN':>8}{'logistic':>10}")
for name, model in models.items():
    codes_train, codes_test = model.transform(X_train), model.transform(X_test)
    reconstruction = model.inverse_transform(codes_test)
    mse = np.mean((X_test - reconstruction) ** 2)
    knn = KNeighborsClassifier(5).fit(codes_train, y_train).score(codes_test, y_test)
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    logistic = linear.fit(codes_train, y_train).score(codes_test, y_test)
    print(f"{name.replace(chr(10), ' '):<40}{mse:>20.2f}{knn:>8.3f}{logistic:>10.3f}")

# %%
# From the same two numbers, the autoencoders reconstruct the images more
# accurately than PCA and separate the digits better. The VAE trades some of
# that for its smooth, normally distributed latent space. The neighbour term
# buys the best separation, linear included, for a little reconstruction
# error: its decoder is still trained, so the map can be decoded back into
# images. With more components
# all three reconstruct better; see
# :ref:`sphx_glr_auto_examples_plot_reconstructions.py`.
