"""
=================================
A convolutional autoencoder
=================================

For images, ``architecture='conv'`` replaces the fully connected layers with
stride-2 convolutions in the encoder and transposed convolutions in the
decoder. A convolution shares its weights across positions, so the network
has far fewer parameters and knows that neighbouring pixels belong together.
The data stay flat, one row of ``C * H * W`` pixels per image, as everywhere
in scikit-learn; ``image_shape`` says how to fold a row into an image. This
example fits a convolutional and a fully connected autoencoder to the 8 x 8
digits and compares them.
"""

# %%
# Two autoencoders with the same code size
# ----------------------------------------
# For ``architecture='conv'``, ``hidden_layer_sizes`` lists the channels of the
# convolutions, each halving the height and width: 8 x 8 becomes 4 x 4 with 16
# channels, then 2 x 2 with 32. ``image_shape=(8, 8)`` is a single-channel
# image (``(C, H, W)`` gives colour channels); left out, a square
# single-channel image is assumed. Pixel intensities suit the binary
# cross-entropy loss (``loss='bce'``); with the default ``scaling='auto'`` the
# counts 0-16 are mapped to [0, 1] internally (divided by 16).
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer
from skae.plotting import ImageGridDisplay

# The networks below train for a capped number of epochs, to keep this example
# fast; scikit-learn would warn that they have not converged.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.25, stratify=y, random_state=0)

conv = AutoencoderTransformer(
    n_components=8,
    architecture="conv",
    image_shape=(8, 8),
    hidden_layer_sizes=(16, 32),
    loss="bce",
    max_iter=40,
    random_state=0,
).fit(X_train)
mlp = AutoencoderTransformer(
    n_components=8, hidden_layer_sizes=(128, 64), loss="bce", max_iter=40, random_state=0
).fit(X_train)

# %%
# Size and accuracy
# -----------------
# ``network_`` is the fitted torch module, so its parameters can be counted
# (or the encoder and decoder used directly in PyTorch code).
for name, model in [("convolutional", conv), ("fully connected", mlp)]:
    n_parameters = sum(p.numel() for p in model.network_.parameters())
    reconstruction = model.inverse_transform(model.transform(X_test))
    mse = np.mean((X_test - reconstruction) ** 2)
    print(f"{name:<16} {n_parameters:>7} parameters, test MSE {mse:.2f}")

# %%
# Reconstructions
# ---------------
rows = {
    "original": X_test[:10],
    "conv": conv.inverse_transform(conv.transform(X_test[:10])),
    "mlp": mlp.inverse_transform(mlp.transform(X_test[:10])),
}
ImageGridDisplay(list(rows.values()), row_labels=list(rows)).plot(vmin=0, vmax=16)
plt.show()

# %%
# On images this small the two networks reconstruct about equally well, the
# convolutional one with far fewer parameters. The difference grows with the
# image: a fully connected layer needs a weight for every pixel and unit, while
# a convolution's 3 x 3 filters are the same size for any image.
# ``architecture='conv'`` works with both estimators and with ``noise`` (a
# convolutional denoising autoencoder), and on a GPU (``device='cuda'``) it
# trains on much larger images such as MNIST's 28 x 28 digits.
