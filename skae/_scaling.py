"""The internal input scaling: chosen, fitted from column statistics, applied
to batches on their device, undone, and its log-Jacobian and range checks.

``(X - offset) / scale`` per feature; one fitted :class:`Scaling` serves the
estimators, the batch streamer and the denoising corruption alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from skae._batches import INFERENCE_BATCH_SIZE, Batches, PlacedScaling, fold_batches
from skae._distributed import LOCAL, Ranks
from skae._statistics import mean_variance

EPS = np.finfo(np.float64).eps
SCALINGS = ("standard", "global", "minmax", "global_minmax")
RANGE_SCALINGS = ("minmax", "global_minmax")  # the scalings that map X's range to [0, 1]
# How far (in scaled units) values may stray outside [0, 1] for a loss on [0, 1].
UNIT_INTERVAL_SLACK = 1e-5
# Scales below this divide on the host, in float64: float32 would hold values
# of that size with less than its 24 bits, or not at all (subnormal numbers
# start at 1.2e-38).
HOST_SCALE_BELOW = 1e-30
# The least spread of X that can be scaled: the densities need the squares of
# deviations, and of noise variances a millionth of them, as normal float64.
MIN_SPREAD = 1e-150


def outside_unit_interval(x: torch.Tensor) -> torch.Tensor:
    """Where `x` lies outside [0, 1] (beyond round-off), where a Bernoulli
    model or cross-entropy has no likelihood."""
    return (x < -UNIT_INTERVAL_SLACK) | (x > 1 + UNIT_INTERVAL_SLACK)


def lowest_outside_unit_interval(
    scorer: Callable[[torch.Tensor], torch.Tensor],
) -> Callable[[torch.Tensor], torch.Tensor]:
    """`scorer` of scaled batches, but -inf for rows with a value outside [0, 1],
    where a Bernoulli model or cross-entropy has no likelihood."""

    def score(x: torch.Tensor) -> torch.Tensor:
        outside = outside_unit_interval(x).any(dim=1)
        return scorer(x).masked_fill(outside, -torch.inf)

    return score


@dataclass(frozen=True, eq=False)
class Scaling:
    """A fitted scaling ``(X - offset) / scale``.

    Attributes
    ----------
    kind : {'standard', 'global', 'minmax', 'global_minmax'} or None
        None is the identity (offset 0, scale 1), which batches skip.
    offset, scale : ndarray of shape (n_features,)
        In float64; a feature without spread has scale 1.
    """

    kind: str | None
    offset: np.ndarray
    scale: np.ndarray
    # Placed once per (device, host dtype, pin): every transform places it.
    # Not pickled or copied: its tensors live on a device (pickle state).
    _placed: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict:
        return {"kind": self.kind, "offset": self.offset, "scale": self.scale}

    def __setstate__(self, state: dict) -> None:
        for name, value in {**state, "_placed": {}}.items():
            object.__setattr__(self, name, value)

    @staticmethod
    def choose(
        requested: str | None, unit_interval: bool, extremes: tuple[np.ndarray, np.ndarray]
    ) -> str | None:
        """The scaling that ``scaling=requested`` gives: 'auto' is 'global', or for
        a loss on [0, 1] (`unit_interval`) none when X (column minima and
        maxima `extremes`) lies in [0, 1] already, else 'global_minmax'."""
        if requested != "auto":
            return requested
        if not unit_interval:
            return "global"
        low, high = extremes
        spread = high.max() - low.min()
        # X in tiny units needs a scale, even inside [0, 1].
        if low.min() >= 0 and high.max() <= 1 and not 0 < spread < HOST_SCALE_BELOW:
            return None
        return "global_minmax"

    @classmethod
    def fit(
        cls, kind: str | None, X, extremes: tuple[np.ndarray, np.ndarray], ranks: Ranks = LOCAL
    ) -> Scaling:
        """The scaling of this `kind` for X, whose column minima and maxima are
        `extremes`, on the rows of all `ranks` (`extremes` pooled already)."""
        n_features = X.shape[1]
        _check_spread(kind, extremes)
        if kind is None:
            return cls(None, np.zeros(n_features), np.ones(n_features))
        if kind in RANGE_SCALINGS:
            offset, high = extremes
            if kind == "global_minmax":
                offset, high = np.full(n_features, offset.min()), np.full(n_features, high.max())
            scale = high - offset
            # A range within rounding of its values is none (MinMaxScaler's
            # test, relative to the values, so that tiny units are scaled).
            constant = scale <= 10 * EPS * np.maximum(np.abs(offset), np.abs(high))
        else:
            offset, variance = mean_variance(X, ranks)
            if kind == "global":
                variance = np.full(n_features, variance.mean())
            scale = np.sqrt(variance)
            # A variance within the rounding error of a mean of n values is
            # none, as in StandardScaler (scikit-learn's _is_constant_feature):
            # relative to the mean, so that data in tiny units is scaled.
            n = sum(ranks.row_counts(X.shape[0]))
            constant = variance <= n * EPS * variance + (n * offset * EPS) ** 2
        return cls(kind, offset, np.where(constant, 1.0, scale))  # constant features stay

    @property
    def log_jacobian_per_feature(self) -> np.ndarray:
        """Each feature's part of :attr:`log_jacobian`."""
        return -np.log(self.scale)

    @property
    def log_jacobian(self) -> float:
        """log |det d(scaled x)/dx|: converts densities of scaled data to input units."""
        return -float(np.sum(np.log(self.scale)))

    def check_float32_reach(self, extremes: tuple[np.ndarray, np.ndarray]) -> None:
        """The networks compute in float32: X, once centred, must lie in its range
        (`extremes`: X's column minima and maxima)."""
        low, high = extremes
        # nanmax: a later chunk may not observe a feature at all.
        reach = float(np.nanmax(np.maximum(high - self.offset, self.offset - low)))
        if reach > float(np.finfo(np.float32).max):
            raise ValueError(
                f"X lies up to {reach:.3g} from the scaling's offset, beyond the range of "
                "float32, in which the networks compute; rescale X first."
            )

    def on(self, device: torch.device, host_dtype, pin: bool = False) -> PlacedScaling | None:
        """This scaling for batches of `host_dtype` data going to `device`
        (through pinned memory with `pin`); None for the identity."""
        if self.kind is None:
            return None
        key = (device, np.dtype(host_dtype), pin)
        if key not in self._placed:
            self._placed[key] = self._place(device, host_dtype, pin)
        return self._placed[key]

    def _place(self, device: torch.device, host_dtype, pin: bool) -> PlacedScaling:
        host_scale = self._host_scale
        host_offset = self.offset.astype(host_dtype if host_scale is None else np.float64)
        device_scale = self.scale if host_scale is None else self.scale / host_scale
        # Kept for later calls: never inference tensors, whatever mode places them.
        with torch.inference_mode(False):
            offset, scale = (
                torch.as_tensor(values, dtype=torch.float32, device=device)
                for values in (self.offset, device_scale)
            )
        return PlacedScaling(host_offset, offset, scale, host_scale, device, pin)

    @property
    def _host_scale(self) -> np.ndarray | None:
        """The scale of the features in tiny units (1 for the others), which
        divides them on the host; None when there are none."""
        on_host = self.scale < HOST_SCALE_BELOW
        return np.where(on_host, self.scale, 1.0) if on_host.any() else None

    def undone_on_device(
        self, function: Callable[[torch.Tensor], torch.Tensor], device: torch.device
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """`function` (giving scaled values on `device`) followed by the part of
        undoing the scaling that runs on the device; :meth:`undo_on_host` ends it."""
        placed = self.on(device, np.float32)
        if placed is None:
            return function
        return lambda z: placed.unscale(function(z))

    def undo_on_host(self, values: np.ndarray) -> None:
        """Finish undoing the scaling of `values` (scaled back on the device by
        :meth:`PlacedScaling.unscale`) in place, in their precision: the scale
        of features in tiny units, and the offset (for the reason of
        :meth:`PlacedScaling.apply`)."""
        if self.kind is None:
            return
        if self._host_scale is not None:
            values *= self._host_scale.astype(values.dtype)
        values += self.offset.astype(values.dtype)

    def check_unit_interval(
        self, batches: Batches, setting: str | None, *, fitted_here: bool
    ) -> None:
        """Cross-entropy and Bernoulli likelihoods (`setting`, e.g.
        "loss='bce'"; None for other losses) are defined for targets in
        [0, 1]: raise if the scaled `batches` leave it.

        `fitted_here`: the scaling was fitted on these data, so only another
        scaling can bring them into [0, 1]; otherwise the model was fitted on
        data that were in [0, 1] after this scaling, and these lie outside
        their range.
        """
        if setting is None:
            return
        # The smallest of (min, -max) over the batches: the least and greatest value.
        low_and_minus_high = fold_batches(
            lambda x: torch.stack([x.nan_to_num(0.5).min(), -x.nan_to_num(0.5).max()]),
            torch.minimum,
            batches,
            INFERENCE_BATCH_SIZE,
        )  # missing entries (NaN) are inside [0, 1] as far as this check goes
        low, high = low_and_minus_high[0].item(), -low_and_minus_high[1].item()
        if low >= -UNIT_INTERVAL_SLACK and high <= 1 + UNIT_INTERVAL_SLACK:
            return
        if fitted_here:
            hint = "Use scaling='auto', 'global_minmax' or 'minmax', or a squared-error loss."
        else:
            hint = (
                "These values lie outside the range of the data the model was fitted "
                "on, where a Bernoulli model has no likelihood: refit on data that "
                "covers them, or use a Gaussian model of X (loss='mse' or "
                "likelihood='gaussian')."
            )
        raise ValueError(
            f"{setting} needs X in [0, 1] (after scaling={self.kind!r}),"
            f" but X ranges over [{low:.4g}, {high:.4g}]. {hint}"
        )


def _check_spread(kind: str | None, extremes: tuple[np.ndarray, np.ndarray]) -> None:
    """Refuse X that varies too little to be scaled by `kind` (`extremes`:
    its column minima and maxima): below MIN_SPREAD, or unscaled, below what
    the float32 networks resolve."""
    low, high = extremes
    spread = (high - low).astype(np.float64)
    per_feature = kind in ("standard", "minmax")
    least = spread[spread > 0].min(initial=np.inf) if per_feature else spread.max(initial=0.0)
    limit = HOST_SCALE_BELOW if kind is None else MIN_SPREAD
    if 0 < least < limit:
        reason = (
            "the float32 networks cannot resolve it unscaled; use scaling='auto'"
            if kind is None
            else "float64 cannot hold the squared deviations that the scaling and the scores need"
        )
        raise ValueError(
            f"{'Some features vary' if per_feature else 'X varies'} by only {least:.3g}, "
            f"less than {limit:g}, too little for scaling={kind!r}: {reason}. "
            "Multiply X by a power of ten first (e.g. X * 1e200)."
        )
