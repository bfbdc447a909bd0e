"""Choosing `n_components` without labels, measured on digits (and MNIST when
``../shared/data`` has it).

Usage, from the repository root::

    .venv/bin/python benchmarks/code_size.py [--mnist]

prints, at the defaults (``random_state=0``):

1. the 3-fold ``cross_val_score`` (each estimator's own ``score``, held out)
   of the autoencoder and the VAE at code sizes 2 to 32 on digits: what an
   unsupervised ``GridSearchCV`` over ``n_components`` would compare;
2. for fractions of variance 0.8 and 0.9, the code size that a float
   ``n_components`` finds, its ``variance_explained_`` (validation rows),
   the number of fits of the search and its time, beside the size PCA needs
   for the same fraction (on the same scaled data) and the time of one fit
   at the size found.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score

from skae import AutoencoderTransformer, VAETransformer
from skae.datasets import load_mnist_split

SIZES = (2, 4, 8, 16, 32)
FRACTIONS = (0.8, 0.9)


def score_by_size(X) -> None:
    print("estimator  " + "  ".join(f"k={k:>3}" for k in SIZES))
    for Estimator in (AutoencoderTransformer, VAETransformer):
        scores = [
            cross_val_score(Estimator(n_components=k, random_state=0), X, cv=3).mean()
            for k in SIZES
        ]
        best = SIZES[int(np.argmax(scores))]
        row = "  ".join(f"{s:7.1f}" for s in scores)
        print(f"{Estimator.__name__[:9]:9}  {row}   (largest at k={best})", flush=True)


def fraction_search(name: str, X) -> None:
    print(
        f"\n{name}: fraction, estimator, k found, variance explained, fits, search s, "
        "one fit s, PCA's k"
    )
    for fraction in FRACTIONS:
        for Estimator in (AutoencoderTransformer, VAETransformer):
            model = Estimator(n_components=fraction, random_state=0)
            start = time.perf_counter()
            fits = _count_fits(model, X)
            search = time.perf_counter() - start
            start = time.perf_counter()
            Estimator(n_components=model.n_components_, random_state=0).fit(X)
            one = time.perf_counter() - start
            scaled = (X - model.input_offset_) / model.input_scale_
            pca_k = PCA(fraction, svd_solver="full").fit(scaled).n_components_
            print(
                f"{fraction}  {Estimator.__name__[:9]:9}  {model.n_components_:4d}  "
                f"{model.variance_explained_:.3f}  {fits:2d}  {search:7.1f}  {one:6.1f}  "
                f"{pca_k:4d}",
                flush=True,
            )


def _count_fits(model, X) -> int:
    """Fit `model`; the number of network fits its search made."""
    counted = []
    original = type(model).fit

    def counting_fit(self, *args, **kwargs):
        counted.append(1)
        return original(self, *args, **kwargs)

    type(model).fit = counting_fit
    try:
        model.fit(X)
    finally:
        type(model).fit = original
    return len(counted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", action="store_true", help="also the MNIST split")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X = load_digits().data
    score_by_size(X)
    fraction_search("digits", X)
    if args.mnist:
        X_train, _, _, _ = load_mnist_split("../shared/data")
        fraction_search("mnist", X_train)


if __name__ == "__main__":
    main()
