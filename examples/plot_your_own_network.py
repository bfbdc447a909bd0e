"""
=========================
Bring your own network
=========================

skae builds an MLP or a stack of convolutions, but any torch network can take
their place: pass your encoder and decoder classes as ``encoder=`` and
``decoder=``. Everything else stays skae's: the scaling, early stopping, the
device, ``transform``, ``score_samples``, ``sample``, pipelines, grid search
and safe saving. This example trains a small convolutional network of its own
on the 8 x 8 digits, tunes one of its arguments with ``GridSearchCV``, and
saves and loads the model.
"""

# %%
# The networks
# ------------
# Two plain ``nn.Module`` classes, as a PyTorch tutorial writes them. The
# encoder receives each batch as images, ``(batch, 1, 8, 8)``, because the
# estimator is given ``image_shape=(8, 8)``, and returns ``(batch,
# n_components)`` codes; the decoder returns ``(batch, 1, 8, 8)`` raw outputs
# (skae adds the sigmoid of ``loss='bce'``). An argument named ``n_outputs``
# (or ``n_inputs``) is filled in by skae from ``n_components`` and the data,
# so the same classes serve any code size.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from torch import nn

import skae
from skae import AutoencoderTransformer, Network
from skae.plotting import ImageGridDisplay

# The networks train for a capped number of epochs, to keep this example fast.
warnings.filterwarnings("ignore", category=ConvergenceWarning)


class Encoder(nn.Module):
    def __init__(self, n_outputs, channels=16):
        super().__init__()
        self.convolutions = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2, padding=1),  # 8 x 8 -> 4 x 4
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1),  # -> 2 x 2
            nn.ReLU(),
        )
        self.linear = nn.Linear(2 * channels * 2 * 2, n_outputs)

    def forward(self, x):
        return self.linear(self.convolutions(x).flatten(1))


class Decoder(nn.Module):
    def __init__(self, n_inputs, channels=16):
        super().__init__()
        self.channels = channels
        self.linear = nn.Linear(n_inputs, 2 * channels * 2 * 2)
        self.deconvolutions = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(2 * channels, channels, 3, 2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, 3, 2, padding=1, output_padding=1),
        )

    def forward(self, z):
        x = self.linear(z).view(-1, 2 * self.channels, 2, 2)
        return self.deconvolutions(x)


X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

# %%
# Training it
# -----------
# ``skae.Network(cls, **kwargs)`` holds a class and its arguments; a bare class
# works too. The shapes are checked at fit, with an error that says which
# network gives what.
ae = AutoencoderTransformer(
    n_components=8,
    encoder=Network(Encoder, channels=16),
    decoder=Network(Decoder, channels=16),
    image_shape=(8, 8),
    loss="bce",
    max_iter=40,
    random_state=0,
).fit(X_train)
pca = PCA(n_components=8).fit(X_train)
for name, model in [("your network", ae), ("PCA", pca)]:
    reconstruction = model.inverse_transform(model.transform(X_test))
    print(f"{name:<13} test MSE {np.mean((X_test - reconstruction) ** 2):.2f}")

# %%
# Its arguments are parameters
# ----------------------------
# ``Network``'s arguments appear as ``encoder__channels`` and
# ``decoder__channels`` in ``get_params``, so ``GridSearchCV`` tunes them as
# it would any parameter, here for the accuracy of a classifier on the codes,
# beside PCA's codes of the same size. A code trained to reconstruct is not
# trained to classify: the wider network classifies better, and PCA may still
# classify as well or better on digits this small.
pipeline = Pipeline([("ae", ae), ("clf", LogisticRegression(max_iter=1000))])
search = GridSearchCV(
    pipeline,
    [{"ae__encoder__channels": [c], "ae__decoder__channels": [c]} for c in (4, 16)],
    cv=3,
).fit(X_train, y_train)
for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    print(f"channels={params['ae__encoder__channels']:>2}: accuracy {score:.3f}")
pca_pipeline = Pipeline([("pca", PCA(n_components=8)), ("clf", LogisticRegression(max_iter=1000))])
print(f"PCA:         accuracy {cross_val_score(pca_pipeline, X_train, y_train, cv=3).mean():.3f}")

# %%
# Saving and loading
# ------------------
# The file records each network's class by its import path and its
# arguments, never its code. Loading builds only the classes you name as
# trusted; without them ``skae.load`` refuses the file and imports nothing.
ae.save("digits.skae")
try:
    skae.load("digits.skae")
except skae.UntrustedNetworkError as error:
    print(error.untrusted)
loaded = skae.load("digits.skae", trusted=[Encoder, Decoder])
assert np.array_equal(loaded.transform(X_test), ae.transform(X_test))

# %%
# Reconstructions
# ---------------
rows = {
    "original": X_test[:10],
    "yours": loaded.inverse_transform(loaded.transform(X_test[:10])),
    "PCA": pca.inverse_transform(pca.transform(X_test[:10])),
}
ImageGridDisplay(list(rows.values()), row_labels=list(rows)).plot(vmin=0, vmax=16)
plt.show()
