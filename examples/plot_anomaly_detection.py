"""
===========================================
Anomaly detection with score_samples
===========================================

An autoencoder trained on normal data reconstructs normal data well and
anything else badly, so its reconstruction error is an anomaly score.
:meth:`skae.AutoencoderTransformer.score_samples` combines that error with how
unusual the sample's code is (higher is more normal, as everywhere in
scikit-learn), and
:meth:`skae.VAETransformer.score_samples` is an estimate of log p(x). This example
trains on nine of the ten digits, asks each model to flag the tenth, and
compares them with ROC curves against :class:`sklearn.decomposition.PCA` and
:class:`sklearn.ensemble.IsolationForest`. Its last part mixes outliers into
the training data and shows what ``contamination`` does about them.
"""

# %%
# Normal data and novelties
# -------------------------
# The models are fitted on the images of every digit except 7. The test set
# holds unseen images of the nine normal digits and 60 sevens, which no model
# has seen: the sevens are the anomalies to find.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import RocCurveDisplay, roc_auc_score
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer, VAETransformer
from skae.plotting import ImageGridDisplay

# The networks below train for a capped number of epochs, to keep this example
# fast; scikit-learn would warn that they have not converged.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_normal, X_novel = X[y != 7], X[y == 7][:60]
X_train, X_test_normal = train_test_split(X_normal, test_size=0.3, random_state=0)
X_test = np.vstack([X_test_normal, X_novel])
is_anomaly = np.r_[np.zeros(len(X_test_normal)), np.ones(len(X_novel))]
print(f"{len(X_train)} training images, {len(X_test)} test images of which {len(X_novel)} sevens")

# %%
# Fit and score
# -------------
# Every model's ``score_samples`` is higher for more normal samples, so the
# anomaly score is its negative. For PCA, ``score_samples`` is the
# log-likelihood of probabilistic PCA; the autoencoder's is a non-linear
# cousin: the log-density of the reconstruction residual (Gaussian, one
# variance per pixel) plus that of the code under a Gaussian fitted to the
# training codes.
network = dict(n_components=8, hidden_layer_sizes=(128, 64), max_iter=50, random_state=0)
models = {
    "AutoencoderTransformer": AutoencoderTransformer(**network),
    "VAETransformer": VAETransformer(**network),
    "PCA": PCA(n_components=8),
    "IsolationForest": IsolationForest(random_state=0),
}
anomaly_scores = {name: -model.fit(X_train).score_samples(X_test) for name, model in models.items()}

# %%
# ROC curves
# ----------
# A ROC curve plots the fraction of sevens flagged against the fraction of
# normal digits wrongly flagged, as the threshold on the score varies; the area
# under it (AUC) is the probability that a random seven scores higher than a
# random normal digit.
fig, ax = plt.subplots(figsize=(5.5, 5))
for name, score in anomaly_scores.items():
    RocCurveDisplay.from_predictions(is_anomaly, score, name=name, ax=ax)
ax.plot([0, 1], [0, 1], color="gray", linestyle=":", linewidth=1)
ax.set_title("Finding the unseen digit 7")
plt.show()

for name, score in anomaly_scores.items():
    print(f"{name:<24}ROC AUC {roc_auc_score(is_anomaly, score):.3f}")

# %%
# The two networks find the sevens best, the VAE's log-likelihood a little
# ahead of the autoencoder's score: their non-linear decoders reconstruct the
# nine digits they were trained on closely and have no good reconstruction for
# a seven. PCA's linear model comes next; the isolation forest, which scores
# how easily a sample is split off by random thresholds on single pixels, is
# the weakest on this image data.
#
# The most and least typical test images
# --------------------------------------
# Sorting by the autoencoder's score shows what it finds strange: the images
# whose reconstruction and code are least like those of the training data.
ae = models["AutoencoderTransformer"]
order = np.argsort(anomaly_scores["AutoencoderTransformer"])
ImageGridDisplay(
    [X_test[order[:8]], X_test[order[-8:]]], row_labels=["most normal", "most anomalous"]
).plot(vmin=0, vmax=16)
plt.show()

# %%
# ``predict`` turns the score into a yes/no decision, -1 for an outlier, as
# scikit-learn's detectors do: below ``offset_``, the threshold that
# ``contamination`` sets on the training scores. By default
# (``contamination='auto'``) it is the boxplot rule, Q1 - 1.5 IQR of the
# training scores; here ``contamination=0.01`` flags 1% of the training
# images, the false-alarm rate we accept.
ae_1pct = AutoencoderTransformer(contamination=0.01, **network).fit(X_train)
flagged = ae_1pct.predict(X_test) == -1
print(f"flagged {flagged[is_anomaly == 1].mean():.0%} of the sevens")
print(f"and {flagged[is_anomaly == 0].mean():.0%} of the normal test digits")

# %%
# Why is a sample flagged?
# ------------------------
# ``score_samples_by_feature`` splits the reconstruction part of the score
# into one term per feature (here, per pixel), in nats: the lowest terms are
# the pixels the model explains worst. Below, three flagged sevens and a
# normal test digit with its top three rows of pixels lit: the explanation
# points at the pixels that a normal digit would not have, or would not lack.
damaged = X_test_normal[:1].copy()
damaged[0, :24] = 16  # the top three rows of pixels lit
examples = np.vstack([X_novel[flagged[is_anomaly == 1]][:3], damaged])
terms = ae_1pct.score_samples_by_feature(examples)
fig, axes = plt.subplots(2, 4, figsize=(8, 4.4))
for column, (image, term) in enumerate(zip(examples, terms)):
    axes[0, column].imshow(image.reshape(8, 8), cmap="gray_r")
    axes[1, column].imshow(-term.reshape(8, 8), cmap="Reds")
    for ax in axes[:, column]:
        ax.set_xticks([])
        ax.set_yticks([])
axes[0, 0].set_ylabel("image")
axes[1, 0].set_ylabel("- term per pixel")
fig.tight_layout()
plt.show()

# %%
# Outliers in the training data: ``contamination``
# --------------------------------------------------
# Clean training data are a luxury: often the outliers to find are among the
# data the model is fitted on. Here 60 other sevens, 5% of the rows, are mixed
# into the training data. An autoencoder that minimises the mean loss over all
# samples learns to reconstruct these sevens too, and they stand out less.
#
# ``contamination=0.1`` trims the loss instead: in each mini-batch, the 10% of
# samples with the largest loss are left out of the mean that training
# minimises (and the same fraction of the validation data is left out of the
# early-stopping loss). The worst-fitted samples, the likely outliers, then
# do not pull the network towards them, so they stay badly reconstructed. It is
# set a little above the true 5% because the number of outliers varies from one
# batch of 64 to the next.
X_sevens_train = X[y == 7][60:120]
X_dirty = np.vstack([X_train, X_sevens_train])
is_planted = np.r_[np.zeros(len(X_train)), np.ones(len(X_sevens_train))]

dirty_models = {
    "contamination='auto' (default)": AutoencoderTransformer(**network),
    "contamination=0.1": AutoencoderTransformer(contamination=0.1, **network),
}
dirty_scores = {}
print(f"{'ROC AUC':<31}{'sevens in training data':>24}{'unseen sevens':>15}")
for name, model in dirty_models.items():
    model.fit(X_dirty)
    dirty_scores[name] = -model.score_samples(X_dirty)
    auc_train = roc_auc_score(is_planted, dirty_scores[name])
    auc_test = roc_auc_score(is_anomaly, -model.score_samples(X_test))
    print(f"{name:<31}{auc_train:>24.3f}{auc_test:>15.3f}")

# %%
# ROC curves for finding the planted sevens among the training data: with the
# trimmed loss, more of them keep a large reconstruction error and stand out
# from the normal digits.
fig, ax = plt.subplots(figsize=(5.5, 5))
for name, score in dirty_scores.items():
    RocCurveDisplay.from_predictions(is_planted, score, name=name, ax=ax)
ax.plot([0, 1], [0, 1], color="gray", linestyle=":", linewidth=1)
ax.set_title("Finding the sevens in the training data")
plt.show()

# %%
# Trimming wins back part of what the outliers cost, on the training data and
# on new data, but not all of it: a model fitted to clean data remains the
# better detector. Set ``contamination`` to about the fraction of outliers you
# expect; too little lets some of them be learned, too much leaves the hardest
# normal samples out of training as well, and they end up flagged too.
