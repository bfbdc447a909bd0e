"""Column statistics of X: ranges (of sparse X without a CSC copy), means and
variances (in chunks for C-ordered X), and moments that pool over
``partial_fit`` calls; the PCA that starts a network. Each pools over the
ranks of a data-parallel fit (:mod:`skae._distributed`) when given them."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.decomposition import PCA
from sklearn.utils.sparsefuncs import mean_variance_axis, min_max_axis

from skae._batches import Batches
from skae._distributed import LOCAL, Ranks


@dataclass
class RowMoments:
    """The number, mean and (optionally) covariance of some rows, mergeable
    with those of other rows by the pairwise formulas of Chan, Golub and
    LeVeque (1979), as in :class:`~sklearn.decomposition.IncrementalPCA`."""

    count: int
    mean: np.ndarray
    covariance: np.ndarray | None = None

    @classmethod
    def of(cls, rows: np.ndarray, covariance: bool = False) -> RowMoments:
        rows = np.asarray(rows, dtype=np.float64)
        cov = np.atleast_2d(np.cov(rows, rowvar=False, bias=True)) if covariance else None
        return cls(len(rows), rows.mean(axis=0), cov)

    def merge(self, other: RowMoments) -> RowMoments:
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / count)
        covariance = None
        if self.covariance is not None:
            pooled = self.count * self.covariance + other.count * other.covariance
            spread = np.outer(delta, delta) * (self.count * other.count / count)
            covariance = (pooled + spread) / count
        return RowMoments(count, mean, covariance)

    def over_ranks(self, ranks: Ranks) -> RowMoments:
        """These moments pooled with those of the same rows' kind on the
        other `ranks`, merged in rank order (itself in one process)."""
        if not ranks.distributed:
            return self
        counts = ranks.gather(np.array([self.count]))
        means = ranks.gather(self.mean[None])
        covariances = (
            [None] * ranks.size if self.covariance is None else ranks.gather(self.covariance[None])
        )
        pooled = None
        for count, mean, covariance in zip(counts, means, covariances):
            part = RowMoments(int(count[0]), mean[0], None if covariance is None else covariance[0])
            pooled = part if pooled is None else pooled.merge(part)
        return pooled


def check_codes_vary(codes: RowMoments) -> None:
    """Warn when the training codes (their moments) are all the same although X
    varies: the model then tells no sample from another."""
    if not np.any(np.diag(codes.covariance) > 0):
        warnings.warn(
            "The fitted model encodes every training sample to the same code although "
            "X varies: it is degenerate. Check the scale of X (scaling=None passes it "
            "as it is) and the training parameters (a VAE's posteriors start at the "
            "prior: a fit whose start stays best, see best_epoch_, encodes every "
            "sample alike).",
            UserWarning,
            stacklevel=5,
        )


def min_max(X) -> tuple[np.ndarray, np.ndarray]:
    """Column minima and maxima of the observed entries (missing ones are
    NaN); NaN for a feature with none."""
    if sp.issparse(X) and X.format == "csr" and X.has_canonical_format:
        low, high = csr_min_max(X)
    elif sp.issparse(X):
        low, high = min_max_axis(X, axis=0, ignore_nan=True)
    else:
        low, high = X.min(axis=0), X.max(axis=0)
        if np.isnan(low).any():  # missing values: a second pass, for them only
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns, raised below
                low, high = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
    return low, high


def pooled_extremes(
    extremes: tuple[np.ndarray, np.ndarray], ranks: Ranks
) -> tuple[np.ndarray, np.ndarray]:
    """The column minima and maxima (:func:`min_max`) of the rows of all `ranks`."""
    if not ranks.distributed:
        return extremes
    low, high = extremes
    low = ranks.reduce_array(np.where(np.isnan(low), np.inf, low), torch.minimum)
    high = ranks.reduce_array(np.where(np.isnan(high), -np.inf, high), torch.maximum)
    unobserved = np.isposinf(low)
    low[unobserved], high[unobserved] = np.nan, np.nan
    return low.astype(extremes[0].dtype), high.astype(extremes[1].dtype)


def check_features_observed(extremes: tuple[np.ndarray, np.ndarray]) -> None:
    """Raise if a feature has no observed value (its extremes, from
    :func:`min_max`, are NaN): a scaling cannot be fitted to it."""
    unobserved = np.flatnonzero(np.isnan(extremes[0]))
    if len(unobserved):
        raise ValueError(
            f"{len(unobserved)} feature(s) of X have no observed value (all NaN), e.g. "
            f"feature {unobserved[0]}: there is nothing to learn of them. Drop them."
        )


def csr_min_max(X: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Column minima and maxima of a CSR matrix from its stored values, without
    the CSC copy of all of X that ``min_max_axis`` makes."""
    n_samples, n_features = X.shape
    low, high = np.full(n_features, np.inf, X.dtype), np.full(n_features, -np.inf, X.dtype)
    np.fmin.at(low, X.indices, X.data)  # fmin and fmax skip stored NaN, missing entries
    np.fmax.at(high, X.indices, X.data)
    unstored_zeros = np.bincount(X.indices, minlength=n_features) < n_samples
    low[unstored_zeros] = np.minimum(low[unstored_zeros], 0)
    high[unstored_zeros] = np.maximum(high[unstored_zeros], 0)
    # A column of stored NaN only has no observed value.
    low[np.isinf(low) & (low > 0)] = np.nan
    high[np.isinf(high) & (high < 0)] = np.nan
    return low, high


def mean_variance(X, ranks: Ranks = LOCAL) -> tuple[np.ndarray, np.ndarray]:
    """Column means and variances of the observed entries (missing ones are
    NaN), of the rows of all `ranks`."""
    mean, variance = _mean_variance(X)
    if not ranks.distributed:
        return mean, variance
    pooled = None
    for piece in ranks.gather(np.stack([_observed(X), mean, variance])[None]):
        count, part_mean, part_variance = np.nan_to_num(piece[0])  # NaN: none observed
        if pooled is None:
            pooled = count, part_mean, part_variance
            continue
        # Chan, Golub and LeVeque's pairwise formulas, feature by feature.
        n, m, v = pooled
        total = np.maximum(n + count, 1)
        delta = part_mean - m
        pooled = (
            n + count,
            m + delta * count / total,
            (n * v + count * part_variance + delta**2 * n * count / total) / total,
        )
    return pooled[1], pooled[2]


def _observed(X) -> np.ndarray:
    """Each column's number of observed (not NaN) entries."""
    if sp.issparse(X):
        missing = np.bincount(X.tocsr().indices[np.isnan(X.tocsr().data)], minlength=X.shape[1])
        return (X.shape[0] - missing).astype(np.float64)
    return np.count_nonzero(~np.isnan(X), axis=0).astype(np.float64)


def _mean_variance(X) -> tuple[np.ndarray, np.ndarray]:
    if sp.issparse(X):
        return mean_variance_axis(X, axis=0)  # skips NaN
    mean = X.mean(axis=0, dtype=np.float64)
    if np.isnan(mean).any():  # missing values: a second pass, for them only
        return np.nanmean(X, axis=0, dtype=np.float64), np.nanvar(X, axis=0, dtype=np.float64)
    if not X.flags.c_contiguous:  # NumPy sums each column pairwise: chunks would round otherwise
        return mean, X.var(axis=0, dtype=np.float64)
    # X.var would hold all of X - mean in float64 (twice float32 X); in chunks,
    # each added row by row after the running sum, as NumPy sums the rows of a
    # C-ordered array, the result is X.var's to the bit.
    rows = max(1, 2**20 // X.shape[1])
    sum_squares = np.zeros((1, X.shape[1]))
    for start in range(0, len(X), rows):
        squares = np.square(X[start : start + rows] - mean)
        sum_squares = np.add.reduce(np.vstack([sum_squares, squares]), axis=0, keepdims=True)
    return mean, sum_squares[0] / len(X)


# The PCA that starts a network (init='pca') runs on at most this many rows
# and values (64 MB in float32, for wide data): a start, not a result.
PCA_START_MAX_SAMPLES = 10_000
PCA_START_MAX_VALUES = 2**24


def pca_sample(batches: Batches, rng: np.random.RandomState, n_components: int = 0) -> np.ndarray:
    """A random subsample of the scaled rows of `batches` (of all its ranks),
    float64, in their order, missing entries filled as for the encoder: at most
    PCA_START_MAX_SAMPLES rows and PCA_START_MAX_VALUES values, but more than
    `n_components` rows."""
    n_samples, n_features = len(batches), batches.data.shape[1]
    n_rows = min(
        batches.n_total,
        PCA_START_MAX_SAMPLES,
        max(PCA_START_MAX_VALUES // n_features, n_components + 1),
    )
    ranks = batches.ranks
    if ranks.distributed:
        # Each rank its share of the rows, from a generator of its own (the
        # shared one must stay alike on every rank).
        n_rows = min(n_samples, max(1, round(n_rows * n_samples / batches.n_total)))
        rng = ranks.random_state(int(rng.randint(np.iinfo(np.int32).max)))
    rows = np.sort(rng.choice(n_samples, n_rows, replace=False))
    sample = batches.take(torch.as_tensor(rows)).double().numpy()
    sample = np.where(np.isnan(sample), 0.0, sample)  # missing entries as the encoder sees them
    return ranks.gather_rows(sample)


def pca_start(
    batches: Batches, n_components: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, `n_components` principal axes and their variances of (a random
    subsample of) the scaled rows of `batches`; axes that the rows do not
    span are zero, with variance 1."""
    sample = pca_sample(batches, rng, n_components)
    # n rows vary about their mean in at most n - 1 directions (one row,
    # or identical rows: none).
    n_found = min(n_components, sample.shape[0] - 1, sample.shape[1])
    seed = int(rng.randint(np.iinfo(np.int32).max))
    components = np.zeros((n_components, sample.shape[1]))
    variances = np.ones(n_components)
    if n_found > 0 and np.ptp(sample, axis=0).any():
        pca = PCA(n_found, random_state=seed).fit(sample)
        components[:n_found] = pca.components_
        variances[:n_found] = np.maximum(pca.explained_variance_, 1e-12)
    return sample.mean(axis=0), components, variances


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-3, 1 - 1e-3)
    return np.log(p) - np.log1p(-p)
