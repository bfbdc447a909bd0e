"""The adversarial autoencoder's `adversarial_weight`, measured on MNIST.

Usage, from the repository root::

    .venv/bin/python benchmarks/adversarial_weight.py K [NAME=PARAMETERS ...]

fits PCA with K components, then one AdversarialAutoencoderTransformer per
NAME=PARAMETERS (e.g. ``w02=adversarial_weight=0.2`` or
``w03nic20=adversarial_weight=0.3,n_iter_no_change=20``), each at its
defaults otherwise (``random_state=0``, torch's default thread count), on
the MNIST protocol (first 8000 images train, last 2000 test, from
``../shared/data``), and prints for each
the test MSE per pixel, the accuracies of the benchmark's logistic
regression and 5-NN on the codes, and the codes' distances to the N(0, I)
prior (MMD² and the mean Kolmogorov-Smirnov statistic), with the metrics of
``skae.benchmark``.
"""

import sys
import time
import warnings

from sklearn.decomposition import PCA

from skae import AdversarialAutoencoderTransformer
from skae.benchmark._metrics import (
    classification_accuracies,
    prior_distances,
    reconstruction_errors,
)
from skae.datasets import load_mnist_split


def main(argv: list[str]) -> None:
    warnings.simplefilter("ignore")
    X_train, X_test, y_train, y_test = load_mnist_split("../shared/data")
    k = int(argv[0])
    models = {"pca": lambda: PCA(k)}
    for given in argv[1:]:
        name, text = given.split("=", 1)
        params = eval(f"dict({text})")  # keyword arguments: numbers and tuples
        models[name] = lambda params=params: AdversarialAutoencoderTransformer(
            k, random_state=0, **params
        )
    for name, make in models.items():
        start = time.perf_counter()
        model = make().fit(X_train)
        seconds = time.perf_counter() - start
        error = reconstruction_errors(model, X_test)["mse_per_feature"]
        accuracy = classification_accuracies(model, X_train, y_train, X_test, y_test)
        prior = prior_distances(model, X_test, 0)
        print(
            f"{name:10s} mse {error:.3f} LR {accuracy['logistic_accuracy']:.3f} "
            f"knn {accuracy['knn_accuracy']:.3f} mmd {prior['prior_mmd']:.4f} "
            f"ks {prior['prior_ks']:.3f} it {getattr(model, 'n_iter_', 0)} {seconds:.1f}s",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
