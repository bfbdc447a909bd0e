"""Missing values imputed by AutoencoderImputer beside scikit-learn's imputers.

Usage, from the repository root::

    .venv/bin/python benchmarks/imputation.py [--mnist] [--odds NAME ...] [--imputers NAME ...]

On digits (a 70/30 split, seed 0), ODDS sets (``../shared/data/odds``;
default cardio, satellite, pendigits; 60/40 stratified split, seed 0,
standardised on the training rows) and with ``--mnist`` the MNIST split
(first 8000 / last 2000, pixels in [0, 1]): entries of both splits are
removed completely at random (10%, 30%, 50%; seed 0) and, for images, the
lower half of each test digit (training rows keep 30% MCAR). Each imputer is
fitted on the incomplete training rows and fills the test rows; printed per
data set and pattern: the RMSE of the imputed test entries, the accuracy of
``LogisticRegression`` (fitted on the imputed training rows) on the imputed
test rows, and the fit + transform time, for SimpleImputer (mean),
KNNImputer (5 neighbours), IterativeImputer (BayesianRidge; on more than 100
features with ``n_nearest_features=50``, max_iter=10) and AutoencoderImputer
at its defaults (``ae``: an AutoencoderTransformer with noise='missing',
noise_level=0.3) and with ``VAETransformer(noise='missing',
noise_level=0.3)`` (``vae``), random_state=0, each decoding the MAP codes
(``code='map'``, the default) and, from the same fit, the encoder's codes
(``code='encoder'``, rows "(encoder)"; their seconds: the fit and their own
transforms). Labels are used only for the downstream accuracy.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderImputer, VAETransformer
from skae.datasets import load_mnist_split, load_odds

RATES = (0.1, 0.3, 0.5)


def imputers(n_features: int) -> dict:
    nearest = 50 if n_features > 100 else None
    return {
        "mean": lambda: SimpleImputer(),
        "knn": lambda: KNNImputer(),
        "iterative": lambda: IterativeImputer(
            max_iter=10, n_nearest_features=nearest, random_state=0
        ),
        "ae": lambda: AutoencoderImputer(random_state=0),
        "vae": lambda: AutoencoderImputer(
            VAETransformer(noise="missing", noise_level=0.3, random_state=0)
        ),
    }


def remove(X: np.ndarray, rate: float, rng) -> np.ndarray:
    """X with a fraction `rate` of entries NaN; every row keeps one value."""
    missing = rng.rand(*X.shape) < rate
    missing[missing.all(axis=1), 0] = False
    return np.where(missing, np.nan, X)


def lower_half(X: np.ndarray, side: int) -> np.ndarray:
    holes = X.copy().reshape(len(X), side, side)
    holes[:, side // 2 :, :] = np.nan
    return holes.reshape(len(X), -1)


def run(name: str, X_train, X_test, y_train, y_test, images: int | None, names) -> None:
    patterns = {f"mcar {int(r * 100)}%": (r, None) for r in RATES}
    if images:
        patterns["lower half"] = (0.3, images)
    sizes = f"{X_train.shape[0]} train, {X_test.shape[0]} test, {X_train.shape[1]} features"
    print(f"\n{name} ({sizes})")
    print("pattern      imputer           rmse   accuracy   seconds")
    for pattern, (rate, side) in patterns.items():
        rng = np.random.RandomState(0)
        train_missing = remove(X_train, rate, rng)
        test_missing = lower_half(X_test, side) if side else remove(X_test, rate, rng)
        holes = np.isnan(test_missing)
        for imputer_name, make in imputers(X_train.shape[1]).items():
            if imputer_name not in names:
                continue
            start = time.perf_counter()
            imputer = make().fit(train_missing)
            fit_seconds = time.perf_counter() - start
            # `code` acts in transform alone: one fit gives both of skae's rows.
            codes = ["map", "encoder"] if isinstance(imputer, AutoencoderImputer) else [None]
            for code in codes:
                variant = f"{imputer_name} (encoder)" if code == "encoder" else imputer_name
                if code is not None:
                    imputer.set_params(code=code)
                start = time.perf_counter()
                filled = imputer.transform(train_missing), imputer.transform(test_missing)
                seconds = fit_seconds + time.perf_counter() - start
                rmse = np.sqrt(np.mean((filled[1][holes] - X_test[holes]) ** 2))
                classifier = LogisticRegression(max_iter=1000).fit(filled[0], y_train)
                accuracy = classifier.score(filled[1], y_test)
                row = f"{pattern:12} {variant:15} {rmse:7.4f}   {accuracy:.3f}   {seconds:7.1f}"
                print(row, flush=True)


def odds(name: str):
    X, y = load_odds(name, "../shared/data/odds")
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.4, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", action="store_true")
    parser.add_argument("--odds", nargs="*", default=["cardio", "satellite", "pendigits"])
    parser.add_argument("--imputers", nargs="*", default=list(imputers(0)), help="default: all")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    run("digits", *_split(X / 16.0, y), images=8, names=args.imputers)
    for name in args.odds:
        run(f"odds {name}", *odds(name), images=None, names=args.imputers)
    if args.mnist:
        run("mnist", *load_mnist_split("../shared/data"), images=28, names=args.imputers)


def _split(X, y):
    return train_test_split(X, y, test_size=0.3, random_state=0)


if __name__ == "__main__":
    main()
