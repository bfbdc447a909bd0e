"""
=======================
Denoising autoencoder
=======================

With ``noise='gaussian'`` (or ``noise='masking'``) the autoencoder sees a
corrupted copy of each training sample and learns to reconstruct the clean
one. It can then clean up noisy inputs: ``inverse_transform(transform(X))``
maps a noisy image to the nearest image the decoder knows how to draw. This
example corrupts held-out digits with Gaussian noise and compares the
denoising of :class:`~sklearn.decomposition.PCA`, a plain
:class:`~skae.AutoencoderTransformer` and a denoising one.
"""

# %%
# Clean training data, noisy test data
# ------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer
from skae.plotting import ImageGridDisplay

# The networks below train for a capped number of epochs, to keep this example
# fast; scikit-learn would warn that they have not converged.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.25, stratify=y, random_state=0)

rng = np.random.RandomState(0)
X_test_noisy = np.clip(X_test + rng.normal(scale=4.0, size=X_test.shape), 0, 16)

# %%
# Three models
# ------------
# The noise is added during training only, drawn anew for every batch, and
# ``transform`` never adds noise. ``noise_level`` is the noise's standard
# deviation in the units of X, here pixel counts. A level somewhat below that
# of the test noise works best on these digits; like any parameter, it can be
# tuned with a grid search.
common = dict(n_components=16, hidden_layer_sizes=(128, 64), max_iter=60, random_state=0)
models = {
    "PCA": PCA(n_components=16),
    "autoencoder": AutoencoderTransformer(**common),
    "denoising AE": AutoencoderTransformer(noise="gaussian", noise_level=2.0, **common),
}
for model in models.values():
    model.fit(X_train)

denoised = {
    name: model.inverse_transform(model.transform(X_test_noisy)) for name, model in models.items()
}

# %%
# Errors against the clean images
# -------------------------------
# The mean squared error between each output and the *clean* test image, in
# squared pixel counts; the first line is the noise itself.
print(f"{'noisy input':<14}{np.mean((X_test_noisy - X_test) ** 2):8.2f}")
for name, images in denoised.items():
    print(f"{name:<14}{np.mean((images - X_test) ** 2):8.2f}")

# %%
# A look at the images
# --------------------
rows = {"clean": X_test, "noisy": X_test_noisy, **denoised}
first_ten = [images[:10] for images in rows.values()]
ImageGridDisplay(first_ten, row_labels=list(rows)).plot(vmin=0, vmax=16)
plt.show()

# %%
# Projecting onto 16 components already removes much of the noise, for all
# three models: noise spreads over all 64 pixels, the digits do not. The plain
# autoencoder has learned to reproduce its inputs closely, noise included,
# while the denoising autoencoder has learned to ignore it. ``noise='masking'``
# instead sets a random fraction ``noise_level`` of the inputs to zero, which
# suits missing pixels or dropped-out features. For images with more pixels, a
# convolutional network helps further:
# :ref:`sphx_glr_auto_examples_plot_conv_autoencoder.py`.
