"""
==============================================
Training out of core with ``partial_fit``
==============================================

When a data set does not fit in memory, :meth:`~skae.AutoencoderTransformer.partial_fit`
trains on one chunk at a time, as
:class:`~sklearn.decomposition.IncrementalPCA` does for PCA. Each call is one
epoch over its chunk: the network, the internal scaling (fitted on the first
chunk) and the Adam optimiser's state carry over from call to call. This
example stores the training digits in a memory-mapped ``.npy`` file, streams
it in chunks, and compares the held-out reconstruction error of the
autoencoder after each pass over the file with IncrementalPCA's and with an
ordinary ``fit`` on the data in memory.
"""

# %%
# The training data on disk
# -------------------------
# ``np.load(..., mmap_mode="r")`` maps the file instead of reading it: a chunk
# is read from disk when it is indexed. The first chunk fits the scaling, so
# the rows are stored shuffled (any chunk then looks like the whole file).
import shutil
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer

# The reference fit below is capped at a few dozen epochs to keep this
# example fast; scikit-learn would warn that it has not converged.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X.astype(np.float32), test_size=0.25, stratify=y, random_state=0)

folder = Path(tempfile.mkdtemp())
np.save(folder / "train.npy", X_train)
X_disk = np.load(folder / "train.npy", mmap_mode="r")
chunks = [slice(start, start + 200) for start in range(0, len(X_disk), 200)]
print(f"{len(X_disk)} rows on disk, read in {len(chunks)} chunks of at most 200")


def held_out_mse(model) -> float:
    """Mean squared reconstruction error per pixel on the test digits."""
    return float(np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2))


# %%
# Streaming passes over the file
# ------------------------------
# IncrementalPCA needs one pass: it accumulates the exact covariance of what it
# has seen. The autoencoder is trained by gradient steps, so it takes several
# passes (epochs), each visiting the chunks in a new order.
n_components, n_passes = 8, 30
ipca = IncrementalPCA(n_components=n_components)
for chunk in chunks:
    ipca.partial_fit(X_disk[chunk])

streamed = AutoencoderTransformer(n_components=n_components, random_state=0)
rng = np.random.RandomState(0)
errors = []
for _ in range(n_passes):
    for i in rng.permutation(len(chunks)):
        streamed.partial_fit(X_disk[chunks[i]])
    errors.append(held_out_mse(streamed))

# %%
# Against fitting in memory
# -------------------------
# The same network fitted on all the rows at once, for as many epochs; its
# early stopping holds out a tenth of them, which ``partial_fit`` cannot do.
in_memory = AutoencoderTransformer(
    n_components=n_components, max_iter=n_passes, random_state=0
).fit(X_train)
pca = PCA(n_components=n_components).fit(X_train)

references = {
    "PCA (in memory)": held_out_mse(pca),
    "IncrementalPCA (one pass)": held_out_mse(ipca),
    f"autoencoder, fit ({n_passes} epochs)": held_out_mse(in_memory),
}
for name, error in references.items():
    print(f"{name:>34}: {error:.2f}")
print(f"{'autoencoder, partial_fit':>34}: {errors[-1]:.2f} after {n_passes} passes")
print("after each of the first passes:", " ".join(f"{e:.2f}" for e in errors[:6]))

fig, ax = plt.subplots(figsize=(6, 4))
passes = np.arange(1, n_passes + 1)
ax.plot(passes, errors, marker="o", markersize=3, label="autoencoder, partial_fit")
for (name, error), style in zip(references.items(), ["--", ":", "-."]):
    ax.axhline(error, linestyle=style, color="gray" if "PCA" in name else "C1", label=name)
ax.set_xlabel("passes over the file")
ax.set_ylabel("held-out MSE per pixel")
ax.set_title(f"digits, {n_components} components")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# The streamed autoencoder is below the linear methods from the first pass
# (it starts from a PCA of the first chunk, as ``init='pca'`` does in ``fit``)
# and ends near the in-memory fit (the numbers are printed above). Two
# differences remain: ``fit`` shuffles rows
# across the whole data set, ``partial_fit`` only within a chunk; and the
# fitted summaries that ``score_samples`` and ``sample`` use (such as
# ``latent_covariance_``) pool every call since the last ``fit``, as
# IncrementalPCA's statistics do, each chunk encoded by the network of its
# call.

# %%
# The mapped file is closed when its last array goes; then the folder can go.
del X_disk
shutil.rmtree(folder)
