"""
==================================
Filling in missing parts of digits
==================================

:class:`~skae.AutoencoderImputer` trains an autoencoder on incomplete rows,
its loss skipping the missing entries, and fills each hole from what the rest
of the row says. This example trains on digits with 30% of their pixels
missing at random, then hides the whole lower half of each held-out digit and
asks each imputer to draw it back, beside scikit-learn's
:class:`~sklearn.impute.KNNImputer` and
:class:`~sklearn.impute.IterativeImputer`.
"""

# %%
# Digits with holes
# -----------------
# Every training digit misses 30% of its pixels, at random; every test digit
# misses its lower half. NaN marks a missing entry, as in scikit-learn.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer
from sklearn.model_selection import train_test_split

from skae import AutoencoderImputer
from skae.plotting import ImageGridDisplay

warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)

rng = np.random.RandomState(0)
X_train_missing = np.where(rng.rand(*X_train.shape) < 0.3, np.nan, X_train)
X_test_missing = X_test.copy().reshape(-1, 8, 8)
X_test_missing[:, 4:, :] = np.nan
X_test_missing = X_test_missing.reshape(len(X_test), 64)

# %%
# Three imputers
# --------------
# The autoencoder imputer at its defaults: an
# :class:`~skae.AutoencoderTransformer` that hides a further 30% of the
# observed pixels from its encoder in training (``noise='missing'``), so that
# it learns to predict a pixel from the others; each hole is then filled from
# the code that best explains the row's observed pixels under the model.
imputers = {
    "KNN": KNNImputer(),
    "iterative": IterativeImputer(max_iter=10, random_state=0),
    "autoencoder": AutoencoderImputer(random_state=0),
}
holes = np.isnan(X_test_missing)
filled = {}
for name, imputer in imputers.items():
    filled[name] = imputer.fit(X_train_missing).transform(X_test_missing)
    rmse = np.sqrt(np.mean((filled[name][holes] - X_test[holes]) ** 2))
    print(f"{name:<12} RMSE of the lower halves: {rmse:.4f}")

# %%
# The observed upper halves are returned untouched by every imputer; only
# the holes differ.
assert all(np.array_equal(f[~holes], X_test[~holes]) for f in filled.values())

# %%
# A look at the digits
# --------------------
# The first ten test digits: the originals, what the imputers were given
# (the lower half blank), and each imputer's drawing of it.
rows = {"original": X_test, "given": np.nan_to_num(X_test_missing), **filled}
ImageGridDisplay([images[:10] for images in rows.values()], row_labels=list(rows)).plot(
    vmin=0, vmax=1
)
plt.show()

# %%
# With half of a digit missing there is often more than one plausible
# answer, and each imputer gives a single one: a blur between them where it
# is unsure. The measurements on digits, MNIST and tables, with 10% to 50% of
# the entries missing, are in BENCHMARKS.md ("Missing values").
