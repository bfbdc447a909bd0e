"""Command-line entry point: ``python -m skae.benchmark`` or ``skae-benchmark``."""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="skae-benchmark", description=__doc__)
    parser.add_argument("--n-components", type=int, nargs="+", default=[2, 8, 32])
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=args.random_state
    )
    print("| method | n_components | test MSE | logistic accuracy | fit s |")
    print("|---|---:|---:|---:|---:|")
    for k in args.n_components:
        for name, reducer in [
            ("PCA", PCA(k, random_state=args.random_state)),
            ("AutoencoderTransformer", AutoencoderTransformer(k, random_state=args.random_state)),
        ]:
            start = time.perf_counter()
            reducer.fit(X_train)
            seconds = time.perf_counter() - start
            error = np.mean((reducer.inverse_transform(reducer.transform(X_test)) - X_test) ** 2)
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
            accuracy = clf.fit(reducer.transform(X_train), y_train).score(
                reducer.transform(X_test), y_test
            )
            print(f"| {name} | {k} | {error:.3f} | {accuracy:.3f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
