"""The code size: ``n_components`` given as PCA users give it (an int, a
fraction of variance to keep, 'mle'), and the fraction of variance that a
fitted code explains.

A fraction is met by a short search: the first fit uses PCA's answer on the
scaled training data, then a bisection over code sizes refits until the
smallest size whose held-out reconstruction explains the fraction is found
(:func:`search_code_size`).
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from skae._batches import INFERENCE_BATCH_SIZE, Batches, fold_batches
from skae._fitted_state import adopt_fit, forget_fit
from skae._statistics import pca_sample


def is_fraction(n_components) -> bool:
    """Whether `n_components` asks for a fraction of the variance (a float in (0, 1))."""
    return isinstance(n_components, Real) and not isinstance(n_components, Integral)


def depends_on_data(n_components) -> bool:
    """Whether the code size comes from the scaled training data ('mle', a fraction)."""
    return n_components == "mle" or is_fraction(n_components)


def pca_code_size(n_components, batches: Batches, rng: np.random.RandomState) -> int:
    """PCA's code size on (a subsample of) the scaled rows of `batches`: the
    smallest that keeps the fraction `n_components` of the variance, or
    Minka's MLE of the dimension for 'mle'."""
    n_features = batches.data.shape[1]
    # Minka's MLE needs as many rows as features: ask the subsample for them.
    sample = pca_sample(batches, rng, n_features if n_components == "mle" else 0)
    if n_components == "mle":
        if sample.shape[0] < n_features:
            rows = f"{len(batches)} samples" + (
                f" (a subsample of {sample.shape[0]})" if sample.shape[0] < len(batches) else ""
            )
            raise ValueError(
                f"n_components='mle' needs at least as many samples as features; got "
                f"{rows} and {n_features} features. Pass an int or a fraction of variance."
            )
        return max(1, int(PCA("mle").fit(sample).n_components_))
    ratios = PCA(svd_solver="full").fit(sample).explained_variance_ratio_
    kept = np.searchsorted(np.cumsum(ratios), n_components) + 1
    return int(min(kept, sample.shape[1]))


@dataclass(frozen=True)
class ReconstructionErrors:
    """How well a network reconstructs some rows, per feature over their
    observed entries, in the scaled space (float64): the sums of squared
    residuals and of squared deviations from the column means, and the
    number of observed entries."""

    residual_squares: np.ndarray
    deviation_squares: np.ndarray
    observed: np.ndarray

    @property
    def explained_variance(self) -> float:
        """1 - residual sum of squares / total sum of squares, summed over
        features, as ``PCA.explained_variance_ratio_.sum()`` measures it."""
        residual, total = self.residual_squares.sum(), self.deviation_squares.sum()
        if total == 0:  # constant rows: explained if reproduced, as sklearn's r2_score
            return 1.0 if residual == 0 else 0.0
        return float(1.0 - residual / total)

    @property
    def mean_squared_residual(self) -> np.ndarray:
        """Each feature's mean squared residual; NaN for a feature never observed."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.residual_squares / self.observed


def reconstruction_errors(network: nn.Module, batches: Batches) -> ReconstructionErrors:
    """The :class:`ReconstructionErrors` of the network's reconstructions (the
    decoded codes) of the scaled rows of `batches` (missing entries are NaN),
    over the rows of all ranks: a pass for the column means, then one of the
    network, whose errors serve every summary that needs them."""
    sums = fold_batches(_observed_sums, torch.add, batches, INFERENCE_BATCH_SIZE)
    mean = sums[0] / sums[1]
    centre = mean.float()

    def squares(x: torch.Tensor) -> torch.Tensor:
        # Differences in float32, the precision of the network and of x;
        # only the sums over rows need float64.
        output = network(x).to(mean.device, torch.float32)
        x = x.to(mean.device)
        residual, deviation = output - x, x - centre
        missing = torch.isnan(x)
        residual.masked_fill_(missing, 0.0)
        deviation.masked_fill_(missing, 0.0)
        return torch.stack([_column_sums(residual.square_()), _column_sums(deviation.square_())])

    residual, deviation = fold_batches(squares, torch.add, batches, INFERENCE_BATCH_SIZE)
    return ReconstructionErrors(*(t.cpu().numpy() for t in (residual, deviation, sums[1])))


def _observed_sums(x: torch.Tensor) -> torch.Tensor:
    """Each column's sum and count of observed entries, in float64 (on the
    CPU for Apple's MPS, which has none)."""
    x = x.to(torch.device("cpu") if x.device.type == "mps" else x.device)
    observed = len(x) - torch.isnan(x).sum(dim=0, dtype=torch.float64)
    return torch.stack([torch.nansum(x, dim=0, dtype=torch.float64), observed])


def _column_sums(x: torch.Tensor) -> torch.Tensor:
    return x.sum(dim=0, dtype=torch.float64)


def search_code_size(estimator, X, target: float) -> None:
    """Refit `estimator` (already fitted at PCA's size) at the smallest code
    size whose ``variance_explained_`` reaches `target`: a bisection below
    PCA's size when it does, sizes doubled up to n_features then a bisection
    when it does not. About ``1 + log2(PCA's size)`` fits in all. Each
    candidate is a clone with an int ``n_components``; the chosen one's fit
    is adopted, with its warnings. A code of n_features that still falls
    short is kept, with a warning."""
    fits = {estimator.n_components_: (estimator, [])}
    if estimator.verbose:
        _report(estimator, target)

    def fit_at(k: int):
        if k not in fits:
            candidate = clone(estimator).set_params(n_components=k)
            if estimator.neighbor_weight == "auto":  # a searched size is not a map
                candidate.set_params(neighbor_weight=0.0)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                candidate.fit(X)
            fits[k] = (candidate, caught)
            if estimator.verbose:
                _report(candidate, target)
        return fits[k][0].variance_explained_ >= target

    try:
        low, high = _bracket(fit_at, estimator.n_components_, estimator.n_features_in_)
        while high is not None and high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if fit_at(middle) else (middle, high)
    except BaseException:
        forget_fit(estimator)
        raise
    chosen, caught = fits[high if high is not None else estimator.n_features_in_]
    if chosen is not estimator:
        adopt_fit(estimator, chosen)
        for warning in caught:  # fit warns of the adopted fit's convergence itself
            if not issubclass(warning.category, ConvergenceWarning):
                warnings.warn(warning.message, stacklevel=4)
    if high is None:
        warnings.warn(
            f"n_components={target}: even a code of n_features={estimator.n_features_in_} "
            f"explains {chosen.variance_explained_:.4f} of the variance of the "
            "validation rows; it is kept. Train longer (max_iter) or lower the fraction.",
            UserWarning,
            stacklevel=4,
        )


def _report(fitted, target: float) -> None:
    print(
        f"n_components={fitted.n_components_}: variance explained "
        f"{fitted.variance_explained_:.4f} (target {target})",
        file=sys.stderr,
    )


def _bracket(fit_at, start: int, n_features: int) -> tuple[int, int | None]:
    """Sizes (low, high) with `low` short of the target (0 stands for none)
    and `high` reaching it, or None when even n_features falls short."""
    if fit_at(start):
        return 0, start
    low = start
    while low < n_features:
        high = min(2 * low, n_features)
        if fit_at(high):
            return low, high
        low = high
    return low, None
