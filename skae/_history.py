"""What training leaves behind, and how a fit says how it ended.

Plain data: the loss curves and the convergence state that carry over
`warm_start` and `partial_fit` calls (and are saved with a model), the line a
verbose fit closes with, and the warning of one that used all its epochs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning


@dataclass
class History:
    """What training leaves behind; it carries over `warm_start` and `partial_fit` calls."""

    loss_curve: list[float] = field(default_factory=list)
    validation_loss_curve: list[float] = field(default_factory=list)
    best_loss: float = np.inf
    best_epoch: int = 0
    n_epochs_no_improvement: int = 0
    # Whether the last call stopped by the convergence rule, not at its epoch limit.
    converged: bool = False
    # Whether best_loss is a validation loss (else a training loss).
    monitors_validation: bool = False

    def restart(self) -> None:
        """Judge convergence anew, from the next epoch on."""
        self.best_loss, self.n_epochs_no_improvement = np.inf, 0

    @property
    def n_iter(self) -> int:
        return len(self.loss_curve)

    def fitted_attributes(self) -> dict[str, object]:
        """The estimators' fitted attributes that describe training."""
        return {
            "loss_curve_": list(self.loss_curve),
            "validation_loss_curve_": list(self.validation_loss_curve),
            "best_loss_": self.best_loss,
            "best_epoch_": self.best_epoch,
            "n_iter_": self.n_iter,
        }


def closing_line(
    history: History, tol: float, n_iter_no_change: int, max_epochs: int, start_epoch: int
) -> str:
    """How a fit ended: why it stopped, and the epoch whose weights it kept
    (`start_epoch`: the number of epochs before this call)."""
    monitored = "validation" if history.monitors_validation else "training"
    if history.converged:
        ending = (
            f"Stopped at epoch {history.n_iter}: the {monitored} loss did not improve "
            f"by tol={tol:g} for n_iter_no_change={n_iter_no_change} epochs"
        )
    else:
        ending = f"Reached max_iter={max_epochs} epochs (epoch {history.n_iter})"
    if not history.monitors_validation:
        return f"{ending}."
    kept = (
        f"epoch {history.best_epoch}"
        if history.best_epoch > start_epoch
        else "the weights it started from (no epoch improved on them)"
    )
    return f"{ending}; restored {kept}, validation loss {history.best_loss:.6g}."


def warn_not_converged(
    max_epochs: int, tol: float, n_iter_no_change: int, monitored: str, stacklevel: int
) -> None:
    """The ConvergenceWarning of a fit that used all its epochs monitoring the
    `monitored` ('validation' or 'training') loss."""
    warnings.warn(
        f"max_iter={max_epochs} epochs were reached before the {monitored} loss "
        f"stopped improving by tol={tol} for n_iter_no_change="
        f"{n_iter_no_change} epochs. The fit may improve with more epochs.",
        ConvergenceWarning,
        stacklevel=stacklevel,
    )
