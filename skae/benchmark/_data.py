"""The benchmark's data sets and their train/test protocols."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skae.datasets import list_odds, load_mnist, load_odds, split_mnist

# --quick: a tiny subset, for tests and smoke runs (not for numbers).
QUICK_TRAIN, QUICK_TEST = 300, 150
QUICK_ODDS_SAMPLES = 400
DIGITS_TEST_SIZE = 0.3


@dataclass
class ReductionData:
    """A labelled data set split for the dimensionality-reduction benchmark."""

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int] | None
    pixel_max: float
    protocol: str

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]


def load_reduction_data(
    dataset: str, data_dir=None, *, download: bool = False, quick: bool = False, random_state=0
) -> ReductionData:
    """digits (scikit-learn's 8 x 8 images) or MNIST (t10k: first 8,000 / last 2,000)."""
    if dataset == "digits":
        X, y = load_digits(return_X_y=True)
        split = train_test_split(
            X, y, test_size=DIGITS_TEST_SIZE, stratify=y, random_state=random_state
        )
        protocol = (
            f"load_digits (1797 images, 8 x 8, pixels 0-16), stratified "
            f"{1 - DIGITS_TEST_SIZE:.0%}/{DIGITS_TEST_SIZE:.0%} train/test split "
            f"(random_state={random_state})"
        )
        image_shape, pixel_max = (8, 8), 16.0
    elif dataset == "mnist":
        split = split_mnist(*load_mnist(data_dir, download=download))
        protocol = (
            "MNIST t10k (pixels scaled to [0, 1]): the first 8000 images train, the last 2000 test"
        )
        image_shape, pixel_max = (28, 28), 1.0
    else:
        raise ValueError(f"unknown dataset {dataset!r} for the reduction benchmark")
    X_train, X_test, y_train, y_test = split
    if quick:
        # The splits are shuffled (digits) or in arbitrary order (MNIST): their heads will do.
        X_train, y_train = X_train[:QUICK_TRAIN], y_train[:QUICK_TRAIN]
        X_test, y_test = X_test[:QUICK_TEST], y_test[:QUICK_TEST]
        protocol += f"; --quick: only {len(X_train)} train and {len(X_test)} test rows"
    return ReductionData(
        dataset, X_train, X_test, y_train, y_test, image_shape, pixel_max, protocol
    )


def _too_few_of_a_class(y: np.ndarray) -> bool:
    n_outliers = int(y.sum())
    return min(n_outliers, len(y) - n_outliers) < 2


def load_detection_data(
    data_dir, names: list[str] | None = None, *, quick: bool = False, random_state=0
) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], list[str]]:
    """The ODDS sets in `data_dir` as (name, X, y), optionally only those in
    `names`, and notes on the files skipped: unreadable, or with fewer than
    two inliers or outliers, which a stratified 60/40 split needs."""
    if data_dir is None:
        raise ValueError("--dataset odds needs --data-dir, the folder with the ODDS .mat files")
    paths = {path.stem: path for path in list_odds(data_dir)}
    if names:
        unknown = sorted(set(names) - set(paths))
        if unknown:
            raise ValueError(f"ODDS set(s) {unknown} not found; available: {sorted(paths)}")
        paths = {name: paths[name] for name in names}
    sets, skipped = [], []
    for name, path in paths.items():
        try:
            X, y = load_odds(path)
        except ValueError as error:
            skipped.append(f"{name}: {error}")
            continue
        if quick and len(X) > QUICK_ODDS_SAMPLES and not _too_few_of_a_class(y):
            X, _, y, _ = train_test_split(
                X, y, train_size=QUICK_ODDS_SAMPLES, stratify=y, random_state=random_state
            )
        if _too_few_of_a_class(y):
            skipped.append(
                f"{name}: {int(y.sum())} outlier(s) in {len(y)} samples; need >= 2 of each"
            )
            continue
        sets.append((name, X, y))
    if not sets:
        raise ValueError("no usable ODDS data set:\n  " + "\n  ".join(skipped))
    return sets, skipped
