"""
============================================================
Feature extraction in a Pipeline, tuned with GridSearchCV
============================================================

The autoencoders are scikit-learn transformers, so they slot into a
:class:`~sklearn.pipeline.Pipeline` wherever :class:`~sklearn.decomposition.PCA`
does, and :class:`~sklearn.model_selection.GridSearchCV` tunes their
parameters like any other step's. This example reduces the digits to a few
features before a logistic regression, and lets a cross-validated grid search
choose between PCA and an autoencoder and the number of components.
"""

# %%
# The pipeline
# ------------
# The reduction step is named ``"reduce"``, so that the grid can replace it
# whole (``reduce=[...]``) or set its parameters (``reduce__n_components``).
# Each fit of the pipeline trains the autoencoder on the training folds only,
# so no information leaks from the validation fold.
import warnings

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from skae import AutoencoderTransformer

# The networks below train for a capped number of epochs, to keep this example
# fast; scikit-learn would warn that they have not converged.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

pipe = Pipeline(
    [
        ("reduce", PCA()),
        ("classify", LogisticRegression(max_iter=2000)),
    ]
)
autoencoder = AutoencoderTransformer(hidden_layer_sizes=(128, 64), max_iter=30, random_state=0)
param_grid = {
    "reduce": [PCA(), autoencoder],
    "reduce__n_components": [2, 4, 8],
}

# %%
# The search
# ----------
# Three folds, two reducers, three sizes: 18 fits, and one more of the best
# combination on all the training data. ``n_jobs=1`` keeps the example light;
# on a machine with many cores ``n_jobs=-1`` runs the fits in parallel (each
# PyTorch fit also uses several threads, so fewer jobs than cores may be
# faster).
search = GridSearchCV(pipe, param_grid, cv=3, n_jobs=1)
search.fit(X_train, y_train)

results = pd.DataFrame(search.cv_results_)
results["reducer"] = results["param_reduce"].map(lambda step: type(step).__name__)
table = results.pivot(
    index="param_reduce__n_components", columns="reducer", values="mean_test_score"
)
print(table.round(3))
best = search.best_params_
print(f"best: {type(best['reduce']).__name__} with n_components={best['reduce__n_components']}")
print(f"test accuracy of the best pipeline: {search.score(X_test, y_test):.3f}")

# %%
# Accuracy against the number of features
# ---------------------------------------
fig, ax = plt.subplots(figsize=(5, 3.4))
for reducer in table.columns:
    ax.plot(table.index, table[reducer], "o-", label=reducer)
ax.set_xticks(table.index)
ax.set_xlabel("n_components")
ax.set_ylabel("cross-validated accuracy")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# With few features, the autoencoder's codes carry more of what distinguishes
# the digits than PCA's. As the number of components grows the gap closes, and
# PCA, which fits in a fraction of the time, becomes the better deal.
#
# The fitted pipeline is an ordinary estimator: ``search.best_estimator_``
# predicts, pickles and can be put into a larger pipeline. Without labels,
# ``GridSearchCV`` can also tune a :class:`~skae.VAETransformer` alone: its
# ``score`` is a held-out log-likelihood, higher being better. (An
# autoencoder's ``score``, the mean of ``score_samples``, is the joint
# log-density of a sample and its code, not a normalised density, so it is a
# weaker criterion for ``n_components``; see :doc:`/user_guide/choosing`.)
