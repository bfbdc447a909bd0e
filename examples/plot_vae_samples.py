"""
=================================
Generating digits with a VAE
=================================

A variational autoencoder is a generative model: its decoder maps codes drawn
from the prior N(0, I) to new samples. :meth:`skae.VAETransformer.sample` does
exactly that. :meth:`skae.AutoencoderTransformer.sample` also exists, but a
plain autoencoder has no prior: it fits a Gaussian to the codes of the training
data and decodes draws from it, which works only as well as that Gaussian
describes where the codes lie. This example compares the two, and reads the
VAE's ``kl_per_component_`` to see which latent dimensions it uses.
"""

# %%
# Fit a VAE and an autoencoder
# ----------------------------
# Pixel intensities are bounded, so the VAE uses a Bernoulli decoder
# (``likelihood='bernoulli'``): each output is the probability that a pixel is
# dark, which gives crisper images than a Gaussian decoder's mean. That
# likelihood needs data in [0, 1]; with the default ``scaling='auto'`` the VAE
# maps the raw counts 0-16 to [0, 1] itself and ``inverse_transform`` and ``sample``
# return counts. ``kl_warmup`` raises the weight of the KL term from 0 to
# ``beta`` over the first epochs, so that the decoder learns to use the code
# before the KL term pulls the posteriors towards the prior.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skae import AutoencoderTransformer, VAETransformer
from skae.plotting import SampleGridDisplay

X, y = load_digits(return_X_y=True)

vae = VAETransformer(
    n_components=8,
    hidden_layer_sizes=(128, 64),
    likelihood="bernoulli",
    kl_warmup=10,
    random_state=0,
).fit(X)
ae = AutoencoderTransformer(n_components=8, hidden_layer_sizes=(128, 64), random_state=0).fit(X)


# %%
# Samples
# -------
# Each image is the decoder's mean for one random code (``sample`` returns
# pixel counts, like ``inverse_transform``); ``random_state`` fixes the draws.
for model, title in [
    (vae, "VAETransformer.sample: codes from N(0, I)"),
    (ae, "AutoencoderTransformer.sample: codes from a fitted Gaussian"),
]:
    display = SampleGridDisplay.from_estimator(model, 30, random_state=0, vmin=0, vmax=16)
    display.ax_.set_title(title)
    plt.show()

# %%
# Most of the VAE's samples are recognisable digits, a little blurry: the
# decoder's mean averages over the images that a code could stand for. The plain
# autoencoder's codes do not fill a Gaussian, so some of its draws fall between
# the places where training codes lie, and decode to mixtures of strokes.
#
# How much each latent dimension carries
# --------------------------------------
# ``kl_per_component_`` is the mean KL divergence, in nats, between each
# dimension's posterior and the prior: a dimension that carries no information
# about the input has a KL near zero, its posterior equal to the prior.
# ``active_components_`` marks the dimensions whose posterior means vary over
# the data. They are the VAE's counterpart of PCA's ``explained_variance_``.
order = np.argsort(vae.kl_per_component_)[::-1]
fig, ax = plt.subplots(figsize=(5, 3))
colors = ["tab:blue" if active else "tab:gray" for active in vae.active_components_[order]]
ax.bar(range(vae.n_components), vae.kl_per_component_[order], color=colors)
ax.set_xticks(range(vae.n_components), [str(i) for i in order])
ax.set_xlabel("latent dimension (blue: active)")
ax.set_ylabel("KL (nats)")
fig.tight_layout()
plt.show()

print(f"active dimensions: {vae.active_components_.sum()} of {vae.n_components}")

# %%
# A larger ``beta`` weighs the KL term more, which usually turns more
# dimensions off and makes the latent space smoother, at the cost of blurrier
# reconstructions; ``beta=1`` (the default) is the standard VAE. The next
# example walks through the latent space:
# :ref:`sphx_glr_auto_examples_plot_interpolation.py`.
