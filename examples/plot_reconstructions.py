"""
===========================================
Reconstructions and choosing n_components
===========================================

``inverse_transform(transform(X))`` squeezes each sample through the
bottleneck and back: the reconstruction shows what the code keeps. This
example compares the reconstructions of :class:`sklearn.decomposition.PCA` and
:class:`skae.AutoencoderTransformer` on held-out digits, follows the
autoencoder's training through ``loss_curve_``, and plots the reconstruction
error against ``n_components`` to choose the size of the code.
"""

# %%
# Fit both models with eight components
# -------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer
from skae.plotting import ImageGridDisplay, LossCurveDisplay

# The networks below train for a capped number of epochs, to keep this example
# fast; scikit-learn would warn that they have not converged.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.25, stratify=y, random_state=0)

pca = PCA(n_components=8).fit(X_train)
ae = AutoencoderTransformer(
    n_components=8, hidden_layer_sizes=(128, 64), max_iter=60, random_state=0
).fit(X_train)

# %%
# Originals and reconstructions
# -----------------------------
# The first row holds ten test images, the others their reconstructions from
# eight numbers each. Both models return pixel counts: the autoencoder undoes
# its internal scaling in ``inverse_transform``.
images = X_test[:10]
rows = {
    "original": images,
    "PCA": pca.inverse_transform(pca.transform(images)),
    "autoencoder": ae.inverse_transform(ae.transform(images)),
}
ImageGridDisplay(list(rows.values()), row_labels=list(rows)).plot(vmin=0, vmax=16)
plt.show()

# %%
# The training curve
# ------------------
# ``loss_curve_`` holds the mean training loss of each epoch, measured after
# the internal scaling (for the squared error, ``scaling='auto'`` centres the
# pixels and divides them all by one common scale). With the default
# ``init='pca'``, training starts from the PCA solution and improves on it.
# With the default ``early_stopping=True``, a ``validation_fraction`` of the
# training data is held out and its loss recorded in
# ``validation_loss_curve_``; training stops once that loss has not improved
# by ``tol`` for ``n_iter_no_change`` epochs (or after ``max_iter`` epochs),
# and the weights of the best epoch, ``best_epoch_``, are restored.
fig, ax = plt.subplots(figsize=(5, 3.2))
LossCurveDisplay.from_estimator(ae, ax=ax)
ax.set_title(f"AutoencoderTransformer, {ae.n_iter_} epochs")
fig.tight_layout()
plt.show()


# %%
# How many components?
# --------------------
# As for PCA, the error on held-out data against the size of the code is the
# guide: it falls quickly at first and then flattens, and the elbow is a good
# ``n_components``. PCA is cheap to fit for every size; the autoencoder is
# fitted for a few.
def test_error(model):
    reconstruction = model.inverse_transform(model.transform(X_test))
    return np.mean((X_test - reconstruction) ** 2)


sizes = [2, 4, 8, 16, 32]
pca_errors = [test_error(PCA(n_components=k).fit(X_train)) for k in sizes]
ae_errors = [
    test_error(
        AutoencoderTransformer(
            n_components=k, hidden_layer_sizes=(128, 64), max_iter=40, random_state=0
        ).fit(X_train)
    )
    for k in sizes
]

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(sizes, pca_errors, "o-", label="PCA")
ax.plot(sizes, ae_errors, "s-", label="AutoencoderTransformer")
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, [str(k) for k in sizes])
ax.set_xlabel("n_components")
ax.set_ylabel("test reconstruction MSE")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# The autoencoder's advantage is largest for small codes, where a linear map
# has to discard the most. As the code grows, PCA catches up: with enough
# components any method reconstructs well, and the simpler, faster model is
# then the better choice. If the codes feed a classifier, choose
# ``n_components`` by the classifier's score instead, with a grid search; see
# :ref:`sphx_glr_auto_examples_plot_pipeline_grid_search.py`.
