"""The metrics: held-out reconstruction, downstream accuracy, likelihood, speed, detection."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import kstest
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

LOGISTIC_MAX_ITER = 1000
N_NEIGHBORS = 5


def timed(function: Callable, *args, **kwargs):
    """``(result, seconds)`` of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def squared_residuals(reducer, X: np.ndarray) -> np.ndarray:
    """``(inverse_transform(transform(X)) - X) ** 2``, in float64."""
    reconstruction = reducer.inverse_transform(reducer.transform(X))
    return (np.asarray(reconstruction, dtype=np.float64) - X) ** 2


def reconstruction_errors(reducer, X_test: np.ndarray) -> dict:
    """Held-out squared error of ``inverse_transform(transform(X))``, in the data's units.

    ``mse_per_feature`` averages over samples and features, ``se_per_sample``
    sums over features and averages over samples. NaN without an inverse.
    """
    if not hasattr(reducer, "inverse_transform"):
        return {"mse_per_feature": np.nan, "se_per_sample": np.nan}
    squared = squared_residuals(reducer, X_test)
    return {
        "mse_per_feature": float(squared.mean()),
        "se_per_sample": float(squared.sum(axis=1).mean()),
    }


def classification_accuracies(reducer, X_train, y_train, X_test, y_test) -> dict:
    """Test accuracy of a logistic regression and a 5-NN classifier on the codes.

    The fitted reducer goes frozen into ``Pipeline([reducer, StandardScaler(),
    LogisticRegression()])`` (and ``Pipeline([reducer, KNeighborsClassifier(5)])``):
    the pipelines' ``fit`` trains the classifiers on its ``transform`` output,
    without refitting the reducer, which never sees the labels.
    """
    frozen = FrozenEstimator(reducer)
    logistic = Pipeline(
        [
            ("reducer", frozen),
            ("scaler", StandardScaler()),
            ("classifier", LogisticRegression(max_iter=LOGISTIC_MAX_ITER)),
        ]
    )
    knn = Pipeline([("reducer", frozen), ("classifier", KNeighborsClassifier(N_NEIGHBORS))])
    return {
        "logistic_accuracy": float(logistic.fit(X_train, y_train).score(X_test, y_test)),
        "knn_accuracy": float(knn.fit(X_train, y_train).score(X_test, y_test)),
    }


def held_out_log_likelihood(reducer, X_test) -> float:
    """Mean log-likelihood of the test samples (nats per sample), from ``score``."""
    return float(reducer.score(X_test))


def transform_speed(reducer, X_test) -> float:
    """Rows per second of ``transform`` on the test set."""
    _, seconds = timed(reducer.transform, X_test)
    return len(X_test) / max(seconds, 1e-9)


def prior_distances(reducer, X_test: np.ndarray, random_state: int) -> dict:
    """How far the held-out codes are from the N(0, I) prior.

    ``prior_mmd``: the unbiased squared maximum mean discrepancy between the
    codes and as many prior draws, with the Gaussian kernel of bandwidth
    sqrt(n_components) (0 for codes drawn from the prior); ``prior_ks``: the
    mean over code dimensions of the Kolmogorov-Smirnov statistic of each
    against N(0, 1).
    """
    codes = np.asarray(reducer.transform(X_test), dtype=np.float64)
    draws = np.random.RandomState(random_state).standard_normal(codes.shape)
    return {
        "prior_mmd": _mmd_squared(codes, draws, bandwidth=np.sqrt(codes.shape[1])),
        "prior_ks": float(np.mean([kstest(column, "norm").statistic for column in codes.T])),
    }


def _mmd_squared(X: np.ndarray, Y: np.ndarray, bandwidth: float) -> float:
    def kernel_mean(A, B, same: bool) -> float:
        K = np.exp(-cdist(A, B, "sqeuclidean") / (2 * bandwidth**2))
        if same:  # the unbiased estimate leaves out each sample's kernel with itself
            return (K.sum() - np.trace(K)) / (len(A) * (len(A) - 1))
        return K.mean()

    return float(kernel_mean(X, X, True) + kernel_mean(Y, Y, True) - 2 * kernel_mean(X, Y, False))


def detection_scores(y_true, anomaly_score) -> dict:
    """ROC-AUC and average precision of an anomaly score (higher = more anomalous)."""
    anomaly_score = np.asarray(anomaly_score, dtype=np.float64)
    n_bad = np.count_nonzero(~np.isfinite(anomaly_score))
    if n_bad:
        raise ValueError(f"{n_bad} of {anomaly_score.size} anomaly scores are not finite.")
    return {
        "roc_auc": float(roc_auc_score(y_true, anomaly_score)),
        "average_precision": float(average_precision_score(y_true, anomaly_score)),
    }
