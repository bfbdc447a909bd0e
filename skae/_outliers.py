"""Outlier detection: scikit-learn's outlier API on the estimators' scores,
and the per-feature terms that explain them.

``score_samples`` is higher for more typical rows. ``contamination`` sets
``offset_``, the training score below which a row is an outlier, so that
``decision_function(X) = score_samples(X) - offset_`` is negative for
outliers and ``predict`` returns -1 for them and +1 otherwise, as for
:class:`~sklearn.ensemble.IsolationForest`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import OutlierMixin
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

from skae._batches import map_batches
from skae._dask import is_dask_array, map_row_blocks
from skae._distributed import LOCAL, Ranks
from skae._networks import evaluation_mode
from skae._scaling import outside_unit_interval
from skae._validation import MatrixLike

# offset_ is a quantile of the training scores, computed on at most this many
# rows, evenly spaced, in fit and in each partial_fit call: the VAE's score
# decodes n_importance_samples draws per row, and a partial_fit call is one
# epoch. Sampling errors, sqrt(p (1 - p) / n), are at most 0.011 and 0.022.
OFFSET_MAX_ROWS = {"fit": 2000, "partial_fit": 500}
# contamination='auto': Tukey's boxplot rule, outliers below Q1 - 1.5 IQR.
TUKEY_FENCE = 1.5


def training_offset(scores: np.ndarray, contamination: float | str) -> float:
    """The score below which a training row is an outlier: the `contamination`
    quantile of the training `scores`, or for 'auto' the lower fence of the
    boxplot rule, Q1 - 1.5 IQR, which needs no guess of the fraction."""
    finite = np.isfinite(scores)
    if not finite.any():
        return -np.inf
    # Rows without a density (-inf) rank below all others.
    scores = np.where(finite, scores, scores[finite].min() - 1.0)
    if contamination == "auto":
        q1, q3 = np.percentile(scores, [25, 75])
        return float(q1 - TUKEY_FENCE * (q3 - q1))
    return float(np.percentile(scores, 100 * contamination))


def offset_rows(n_samples: int, max_rows: int) -> np.ndarray:
    """The rows whose scores set ``offset_``: all, or `max_rows` evenly spaced ones."""
    if n_samples <= max_rows:
        return np.arange(n_samples)
    return np.linspace(0, n_samples - 1, max_rows).round().astype(np.intp)


def _lowest_outside_unit_interval(
    scorer: Callable[[torch.Tensor], torch.Tensor],
) -> Callable[[torch.Tensor], torch.Tensor]:
    def terms(x: torch.Tensor) -> torch.Tensor:
        return scorer(x).masked_fill(outside_unit_interval(x), -torch.inf)

    return terms


class OutlierDetectionMixin(OutlierMixin):
    """``decision_function``, ``predict`` and ``fit_predict`` (scikit-learn's
    :class:`~sklearn.base.OutlierMixin`) on ``score_samples`` and ``offset_``,
    and the per-feature terms of the score."""

    def decision_function(self, X: MatrixLike) -> np.ndarray:
        """Shifted scores: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Data to score (a Dask array gives a Dask array, computed lazily
            block by block of rows).

        Returns
        -------
        decision : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        check_is_fitted(self)
        return self.score_samples(X) - self.offset_

    def predict(self, X: MatrixLike) -> np.ndarray:
        """Whether each sample is an outlier (-1) or an inlier (+1).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Data to classify (a Dask array gives a Dask array, computed lazily
            block by block of rows).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            +1 where ``decision_function(X) >= 0``, else -1 (also for a
            score of -inf when every training score was -inf).
        """
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def score_samples_by_feature(self, X: MatrixLike):
        """Each feature's part of the reconstruction term of the score.

        The rows sum to the reconstruction part of :meth:`score_samples`:
        log p(x | z) for the autoencoders (Gaussian with the per-feature
        variances `noise_variance_`, or Bernoulli), in nats and in X's units;
        for the VAE, its expected value over the posterior, the first term
        of the evidence lower bound, with the draws that the score uses. The
        lowest terms of an outlier name the features that make it one.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Data to explain.

        Returns
        -------
        terms : ndarray or DataFrame of shape (n_samples, n_features)
            Float64; a DataFrame with X's feature names (or ``x0``, ``x1``,
            ...) and index under ``set_output(transform="pandas")``; for a
            Dask array under the default output, a Dask array computed
            lazily, block by block of rows.
        """
        check_is_fitted(self)
        if is_dask_array(X):
            lazy = map_row_blocks(
                self, "score_samples_by_feature", X, self.n_features_in_, np.float64
            )
            return self._as_output(lazy, X)
        rows = self._validate(X, reset=False)
        scorer = self._feature_scorer()
        if self._unit_interval_loss is not None:  # as in score_samples
            scorer = _lowest_outside_unit_interval(scorer)
        evaluation_mode(self.network_)
        terms = map_batches(scorer, self._batches(rows), self._score_batch_size).double()
        # A term that overflows the float32 network is the lowest, as a score is.
        terms = torch.nan_to_num(terms, nan=-np.inf, posinf=-np.inf, neginf=-np.inf).numpy()
        # A missing entry (NaN) has no term, its Jacobian's part included.
        missing = np.isnan(rows.toarray() if sp.issparse(rows) else rows)
        jacobian = np.where(missing, 0.0, self._scaling.log_jacobian_per_feature)
        return self._as_output(terms + jacobian, X)

    def _feature_scorer(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """A function giving the per-feature terms of a scaled batch, in the
        scaled space (the scaling's log-Jacobian is added after)."""
        raise NotImplementedError

    def _as_output(self, terms: np.ndarray, X):
        """`terms` in the container that ``set_output`` (or scikit-learn's
        ``transform_output``) asks of transform, with X's feature names."""
        container = _get_output_config("transform", self)["dense"]
        if container == "default":
            return terms
        terms = np.asarray(terms)  # a Dask array is computed into the container, as in transform
        names = getattr(self, "feature_names_in_", None)
        names = list(names) if names is not None else [f"x{i}" for i in range(terms.shape[1])]
        if container == "polars":
            import polars

            return polars.DataFrame(terms, schema=names)
        import pandas as pd

        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(terms, columns=names, index=index)

    def _fit_offset(self, X, method: str, ranks: Ranks = LOCAL) -> None:
        """Set ``offset_`` from the scores of (evenly spaced rows of) the
        training data of `method`, 'fit' or 'partial_fit', on all `ranks`."""
        scores = self._scores(X[offset_rows(X.shape[0], OFFSET_MAX_ROWS[method])])
        scores = ranks.gather_rows(scores)
        self.offset_ = training_offset(scores, self.contamination)
