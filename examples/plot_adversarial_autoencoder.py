"""
=======================================
An adversarial autoencoder's code space
=======================================

A plain autoencoder puts its codes wherever reconstruction likes them; a
VAE pulls them towards the N(0, I) prior with a KL term and noise; an
adversarial autoencoder (Makhzani et al., 2016) pulls them there with a
discriminator that tells codes from prior draws, while its codes stay
deterministic. This example fits the three to the 8 x 8 digits with a 2-D
code, draws their codes, and decodes draws from the prior.
"""

# %%
# Three autoencoders with a 2-D code
# ----------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skae import AdversarialAutoencoderTransformer, AutoencoderTransformer, VAETransformer
from skae.plotting import ImageGridDisplay, LatentScatterDisplay

# The VAE trains for a capped number of epochs, to keep this example fast.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
models = {
    "autoencoder": AutoencoderTransformer(n_components=2, random_state=0),
    "VAE": VAETransformer(n_components=2, max_iter=100, random_state=0),
    "adversarial": AdversarialAutoencoderTransformer(n_components=2, random_state=0),
}
for name, model in models.items():
    model.fit(X_train)
    codes = model.transform(X_test)
    mse = np.mean((X_test - model.inverse_transform(codes)) ** 2)
    print(
        f"{name:<12} test MSE {mse:5.2f}, code mean {np.round(codes.mean(0), 2)}, "
        f"code std {np.round(codes.std(0), 2)}"
    )

# %%
# The codes of the test digits
# ----------------------------
# The dashed circles hold 39% and 86% of the prior's mass (radii 1 and 2).
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
angle = np.linspace(0, 2 * np.pi, 200)
for ax, (name, model) in zip(axes, models.items()):
    LatentScatterDisplay.from_estimator(model, X_test, y_test, ax=ax, legend=False, s=6)
    for radius in (1, 2):
        ax.plot(radius * np.cos(angle), radius * np.sin(angle), "k--", lw=0.8)
    ax.set_title(name)
    ax.set_aspect("equal")
fig.tight_layout()
plt.show()

# %%
# Decoded draws from the prior
# ----------------------------
# ``sample`` decodes draws of N(0, I) for the VAE and the adversarial
# autoencoder; the plain autoencoder has no prior, and draws from a Gaussian
# fitted to its training codes.
samples = [model.sample(10, random_state=0) for model in models.values()]
ImageGridDisplay(samples, row_labels=list(models)).plot(vmin=0, vmax=16)
plt.show()

# %%
# The adversarial autoencoder's codes spread over the prior as the VAE's do,
# with no posterior noise: its reconstructions stay as sharp as the network
# allows. Its ``score_samples`` adds the code's log-density under the prior
# to the reconstruction's, for anomaly detection. ``adversarial_weight``
# sets how hard the codes are pulled towards the prior, against the
# reconstruction.
