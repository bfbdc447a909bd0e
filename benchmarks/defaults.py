"""The defaults chosen from measurement (issue 26, part 1): each default
against the setting it replaced, side by side in one run.

Run from the repository root (about 17 minutes on 2 CPU cores for conv and
headline, and roughly 30 more for map, timed beside other jobs; the MNIST
sections skip without ``--data-dir``'s files):

    .venv/bin/python benchmarks/defaults.py --data-dir ../shared/data/mnist

Sections:

- ``conv``: ``AutoencoderTransformer(n_components=32, architecture='conv',
  image_shape=(28, 28), random_state=0)`` on MNIST (the first 8000 images
  train, the last 2000 test, pixels in [0, 1]) at the defaults, against the
  same with ``loss='mse'``, the default before ``loss='auto'``; the same
  for AdversarialAutoencoderTransformer: held-out squared error per image
  and its ratio to PCA's, fit seconds, epochs.
- ``headline``: the README's pipeline at issue 26's 32 components,
  ``Pipeline([("vae", VAETransformer(n_components=32)), ("clf",
  LogisticRegression())])``, on
  digits, 5-fold ``cross_val_score``-style (StratifiedKFold(5), no shuffle),
  at the defaults, with the encoder's PCA start before 2026-12-08
  (posterior means at PCA's scores), with ``init='random'``, ``free_bits=0``
  and ``likelihood='isotropic'``, over seeds 0-2
  (``random_state``), beside PCA(32) and FactorAnalysis(32), with the mean
  held-out ``score`` (log-likelihood per sample) of each reducer.
- ``map``: ``n_components=2`` on MNIST, AutoencoderTransformer at the
  defaults (``neighbor_weight='auto'``: the t-SNE term) against
  ``neighbor_weight=0``, the setting before, over seeds 0 to ``--seeds`` -
  1; the VAE and the adversarial autoencoder at the defaults (no term) and
  with ``neighbor_weight=10``, seed 0: ``make_pipeline(StandardScaler(), LogisticRegression())``
  and 5-NN accuracy on the test codes, held-out squared error per image,
  fit seconds, epochs.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AdversarialAutoencoderTransformer, AutoencoderTransformer, VAETransformer
from skae._vae import pca_score_encoder
from skae.datasets import load_mnist_split

SECTIONS = ("conv", "headline", "map")


def squared_error_per_image(model, X: np.ndarray) -> float:
    return float(np.sum((model.inverse_transform(model.transform(X)) - X) ** 2, 1).mean())


def conv(data_dir: Path) -> None:
    """The conv autoencoder's loss: 'auto' (now 'bce' for conv) against 'mse'."""
    try:
        X_train, X_test, _, _ = load_mnist_split(data_dir)
    except FileNotFoundError as error:
        print(f"conv: skipped: {error}")
        return
    pca_error = squared_error_per_image(PCA(32).fit(X_train), X_test)
    print("| conv, n_components=32 | SE / image | ratio to PCA | fit s | epochs |")
    print("|---|---:|---:|---:|---:|")
    print(f"| PCA | {pca_error:.2f} | 1.000 | | |")
    runs = [
        (f"{name}, {label}", Estimator, params)
        for name, Estimator in (
            ("AE", AutoencoderTransformer),
            ("AAE", AdversarialAutoencoderTransformer),
        )
        for label, params in (("`loss='mse'` (before)", {"loss": "mse"}), ("defaults", {}))
    ]
    for label, Estimator, params in runs:
        model = Estimator(
            n_components=32, architecture="conv", image_shape=(28, 28), random_state=0, **params
        )
        start = time.perf_counter()
        model.fit(X_train)
        seconds = time.perf_counter() - start
        error = squared_error_per_image(model, X_test)
        ratio = error / pca_error
        row = f"| {label} | {error:.2f} | {ratio:.3f} | {seconds:.0f} | {model.n_iter_} |"
        print(row, flush=True)


class PCAEncoderVAE(VAETransformer):
    """The VAE's PCA start before 2026-12-08: the posterior means started at
    PCA's whitened scores (the encoder's linear shortcut), not at the prior."""

    def _linear_start(self, mean, components, variances):
        _, _, decoder_weight = super()._linear_start(mean, components, variances)
        return *pca_score_encoder(mean, components, variances), decoder_weight


def headline_reducers() -> dict:
    """label -> (factory of the reducer given a seed, whether it uses the seed)."""
    return {
        "PCA(32)": (lambda seed: PCA(32), False),
        "FactorAnalysis(32)": (lambda seed: FactorAnalysis(32), False),
        "VAETransformer(32), the defaults": (
            lambda seed: VAETransformer(n_components=32, random_state=seed),
            True,
        ),
        "VAETransformer(32), posterior means started at PCA's scores (before)": (
            lambda seed: PCAEncoderVAE(n_components=32, random_state=seed),
            True,
        ),
        "VAETransformer(32, init='random')": (
            lambda seed: VAETransformer(n_components=32, init="random", random_state=seed),
            True,
        ),
        "VAETransformer(32, free_bits=0)": (
            lambda seed: VAETransformer(n_components=32, free_bits=0.0, random_state=seed),
            True,
        ),
        "VAETransformer(32, likelihood='isotropic')": (
            lambda seed: VAETransformer(n_components=32, likelihood="isotropic", random_state=seed),
            True,
        ),
    }


def headline_scores(reducer, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The pipeline's mean accuracy over 5 folds, and the reducer's mean held-out score."""
    accuracies, scores = [], []
    for train, test in StratifiedKFold(5).split(X, y):
        pipeline = Pipeline([("reduce", reducer), ("clf", LogisticRegression())])
        with warnings.catch_warnings():
            # LogisticRegression()'s 100 iterations, as in the README's pipeline
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipeline.fit(X[train], y[train])
        accuracies.append(pipeline.score(X[test], y[test]))
        scores.append(pipeline.named_steps["reduce"].score(X[test]))
    return float(np.mean(accuracies)), float(np.mean(scores))


def headline(n_seeds: int) -> None:
    """The README's pipeline on digits, 5 folds; skae's rows over `n_seeds` seeds."""
    X, y = load_digits(return_X_y=True)
    print(f"| reducer in the pipeline | accuracy (seeds 0-{n_seeds - 1}) | mean | "
          "held-out log-likelihood per sample | s per 5 folds, fit and score |")  # fmt: skip
    print("|---|---|---:|---:|---:|")
    for label, (reducer, seeded) in headline_reducers().items():
        start = time.perf_counter()
        runs = [
            headline_scores(clone(reducer(seed)), X, y) for seed in range(n_seeds if seeded else 1)
        ]
        accuracies, scores = zip(*runs)
        seconds = (time.perf_counter() - start) / len(runs)
        each = " / ".join(f"{a:.4f}" for a in accuracies)
        print(
            f"| {label} | {each} | {np.mean(accuracies):.4f} | {np.mean(scores):.4g} | "
            f"{seconds:.0f} |",
            flush=True,
        )


def map_2d(data_dir: Path, n_seeds: int) -> None:
    """2-D codes of MNIST: the t-SNE term on by default against reconstruction alone."""
    try:
        X_train, X_test, y_train, y_test = load_mnist_split(data_dir)
    except FileNotFoundError as error:
        print(f"map: skipped: {error}")
        return
    print("| n_components=2 | seed | LogisticRegression | 5-NN | SE / image | fit s | epochs |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    before, term = {"neighbor_weight": 0.0}, {"neighbor_weight": 10.0}
    runs = (
        ("AE", AutoencoderTransformer, range(n_seeds), "`neighbor_weight=0` (before)", before),
        ("AE", AutoencoderTransformer, range(n_seeds), "defaults", {}),
        # The generative models keep 'auto' at 0: what the AE's term would do to them.
        ("VAE", VAETransformer, [0], "defaults (no term)", {}),
        ("VAE", VAETransformer, [0], "`neighbor_weight=10`", term),
        ("AAE", AdversarialAutoencoderTransformer, [0], "defaults (no term)", {}),
        ("AAE", AdversarialAutoencoderTransformer, [0], "`neighbor_weight=10`", term),
    )
    for name, Estimator, seeds, label, params in runs:
        for seed in seeds:
            model = Estimator(n_components=2, random_state=seed, **params)
            start = time.perf_counter()
            codes = model.fit_transform(X_train)
            seconds = time.perf_counter() - start
            test_codes = model.transform(X_test)
            linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
            accuracy = linear.fit(codes, y_train).score(test_codes, y_test)
            knn = KNeighborsClassifier(5).fit(codes, y_train).score(test_codes, y_test)
            error = squared_error_per_image(model, X_test)
            print(
                f"| {name}, {label} | {seed} | {accuracy:.4f} | {knn:.4f} | {error:.2f} | "
                f"{seconds:.0f} | {model.n_iter_} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/mnist"))
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument(
        "--seeds", type=int, default=3, help="seeds of skae's headline rows and the map's AE rows"
    )
    args = parser.parse_args()
    if "conv" in args.sections:
        conv(args.data_dir)
    if "headline" in args.sections:
        headline(args.seeds)
    if "map" in args.sections:
        map_2d(args.data_dir, args.seeds)


if __name__ == "__main__":
    main()
