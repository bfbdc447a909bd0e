"""The training settings whose default, 'auto', depends on the code: an
autoencoder's 2-D code, asked for to draw a map (``n_components=2`` given,
not a size that 'auto', 'mle' or a fraction resolves to), trains with the
parametric t-SNE term, and the term brings the batches and the patience it
needs.

Not the generative models': the term pulls a VAE's or an adversarial
autoencoder's codes away from the prior that ``sample`` and ``score`` use.

A batch of 64 of MNIST's 7,200 training images holds too few close
neighbours for the term, and batches of 1000 give few steps per epoch, so
early stopping needs more epochs of patience; the PCA start (``init='auto'``)
would hold the map near PCA's plane. Measured in BENCHMARKS.md, "Defaults".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral

MAP_COMPONENTS = 2  # the n_components that 'auto' reads as a map
MAP_KINDS = ("autoencoder",)  # the estimators (NetworkSpec.kind) that draw it
MAP_NEIGHBOR_WEIGHT = 10.0
MAP_BATCH_SIZE = 1000
MAP_N_ITER_NO_CHANGE = 30
BATCH_SIZE = 64
N_ITER_NO_CHANGE = 10


@dataclass(frozen=True)
class TrainingSettings:
    """The training parameters with 'auto' resolved for one code size."""

    neighbor_weight: float
    batch_size: int
    n_iter_no_change: int

    @classmethod
    def resolve(cls, parameters: Mapping, kind: str) -> TrainingSettings:
        """The settings that `parameters` (an estimator's, of `kind`) give."""
        neighbor_weight = resolve_neighbor_weight(parameters, kind)
        term = neighbor_weight > 0
        return cls(
            neighbor_weight=neighbor_weight,
            batch_size=_resolved(parameters["batch_size"], MAP_BATCH_SIZE if term else BATCH_SIZE),
            n_iter_no_change=_resolved(
                parameters["n_iter_no_change"], MAP_N_ITER_NO_CHANGE if term else N_ITER_NO_CHANGE
            ),
        )


def resolve_neighbor_weight(parameters: Mapping, kind: str) -> float:
    """`parameters`' neighbor_weight, with 'auto' the map's weight for an
    autoencoder asked for a 2-D code and 0 otherwise."""
    neighbor_weight, requested = parameters["neighbor_weight"], parameters["n_components"]
    if neighbor_weight == "auto":
        is_map = isinstance(requested, Integral) and requested == MAP_COMPONENTS
        is_map = is_map and kind in MAP_KINDS
        return MAP_NEIGHBOR_WEIGHT if is_map else 0.0
    return float(neighbor_weight)


def _resolved(value: int | str, auto: int) -> int:
    return auto if value == "auto" else int(value)  # NumPy integers pass the Integral checks
