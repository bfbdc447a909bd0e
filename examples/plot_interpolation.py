"""
=================================
Walking through the latent space
=================================

:meth:`~skae.VAETransformer.interpolate` encodes two inputs, walks the
straight line between their codes and decodes each step. In a VAE's latent
space, where the KL term leaves no empty gaps between the codes of the training
data, every step decodes to something that looks like data, and one digit
morphs into another. This example compares such paths with a plain
cross-fade in pixel space and with an autoencoder's paths, and maps a
two-dimensional VAE's whole latent space.
"""

# %%
# Three ways from one digit to another
# ------------------------------------
# Both autoencoders use a Bernoulli-type output for pixel intensities
# (``loss='bce'`` and ``likelihood='bernoulli'``); with ``scaling='auto'`` they
# map the raw counts 0-16 to [0, 1] themselves.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer, VAETransformer
from skae.plotting import ImageGridDisplay, InterpolationDisplay

# The networks below train for a capped number of epochs, to keep this example
# fast; scikit-learn would warn that they have not converged.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
common = dict(n_components=8, hidden_layer_sizes=(128, 64), max_iter=60, random_state=0)
vae = VAETransformer(likelihood="bernoulli", kl_warmup=10, **common).fit(X)
ae = AutoencoderTransformer(loss="bce", **common).fit(X)

# Three pairs of images, one path each: a 1 to a 7, a 3 to an 8, a 0 to a 6.
# ``interpolate`` takes the pairs' starts and ends as rows, and returns
# (3 pairs, 9 steps, 64 pixels).
starts = X[[np.flatnonzero(y == d)[0] for d in (1, 3, 0)]]
ends = X[[np.flatnonzero(y == d)[0] for d in (7, 8, 6)]]
n_steps = 9
t = np.linspace(0, 1, n_steps)[None, :, None]
crossfades = (1 - t) * starts[:, None, :] + t * ends[:, None, :]

fig, (pixels_ax, ae_ax, vae_ax) = plt.subplots(3, 1, figsize=(6.5, 7.5))
InterpolationDisplay(crossfades).plot(ax=pixels_ax, vmin=0, vmax=16)
for ax, model in [(ae_ax, ae), (vae_ax, vae)]:
    InterpolationDisplay.from_estimator(
        model, starts, ends, n_steps=n_steps, ax=ax, vmin=0, vmax=16
    )
for ax, title in [(pixels_ax, "pixels"), (ae_ax, "AE"), (vae_ax, "VAE")]:
    ax.set_title(title)
fig.tight_layout()
plt.show()

# %%
# The cross-fade superimposes the two images: halfway along, both digits are
# visible at half strength. The autoencoders' paths change the shape instead,
# and their first and last images are the reconstructions of the two ends, not
# the inputs themselves. The VAE's images are softer: its decoder is trained on
# codes drawn around each posterior mean, so it averages over nearby codes. In
# exchange, its latent space has no holes. A plain autoencoder is only trained
# at the codes of its training data, and a straight path that crosses an empty
# region of its latent space decodes to whatever the network happens to
# produce there, with no guarantee of a digit. On these small images the two
# paths look alike; the difference shows when codes are drawn at random
# (:ref:`sphx_glr_auto_examples_plot_vae_samples.py`) or in the map below.
#
# The whole latent space of a two-dimensional VAE
# -----------------------------------------------
# With ``n_components=2`` the latent space is a plane that can be drawn whole.
# The prior is N(0, I), so a grid of its quantiles covers the space where the
# codes lie; each cell is ``inverse_transform`` of one grid point, drawn in
# its place of a grid of images.
vae_2d = VAETransformer(
    n_components=2,
    hidden_layer_sizes=(128, 64),
    likelihood="bernoulli",
    kl_warmup=10,
    max_iter=60,
    random_state=0,
).fit(X)

n_grid = 12
quantiles = norm.ppf(np.linspace(0.03, 0.97, n_grid))
grid = np.array([[z1, z2] for z2 in quantiles[::-1] for z1 in quantiles])
images = vae_2d.inverse_transform(grid).reshape(n_grid, n_grid, 64)

fig, ax = plt.subplots(figsize=(6, 6))
ImageGridDisplay(images).plot(ax=ax, vmin=0, vmax=16)
ax.set_xlabel("latent dimension 1")
ax.set_ylabel("latent dimension 2")
plt.show()

# %%
# Neighbouring cells decode to similar images, and digits change into each
# other gradually across the map: the smoothness that the KL term buys. Two
# dimensions are too few for all ten digits, so some appear only as blends;
# more components give a richer space that can no longer be drawn in one
# picture, but can still be sampled (:meth:`~skae.VAETransformer.sample`) and
# walked with ``interpolate``.
