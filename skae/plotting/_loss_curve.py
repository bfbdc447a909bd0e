"""``LossCurveDisplay``: the training loss of each epoch of a fit, the
validation loss when the estimator validated (early stopping), and a mark at
the best epoch, whose weights early stopping kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_is_fitted

from skae.plotting._common import _fill_docs, _new_axes


@_fill_docs
class LossCurveDisplay:
    """The training loss of each epoch, and the validation loss with early stopping.

    The losses are the estimator's internal training objective, on the
    internally scaled data (see the estimators' `scaling`), not errors in
    the data's units: compare epochs of one fit, not different models.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        The training loss of each epoch (``loss_curve_``).
    validation_loss_curve : array-like of shape (n_epochs,), default=None
        The validation loss of each epoch (``validation_loss_curve_``),
        drawn against epochs 1, 2, ...: the same epochs as the training
        loss when every fit of the estimator validated.
    best_epoch : int, default=None
        The epoch to mark (``best_epoch_``: with early stopping, that whose
        weights were kept; 0, the starting weights). None marks none.

    %(axes_attributes)s
    line_ : matplotlib Line2D
        The training loss.
    validation_line_ : matplotlib Line2D or None
        The validation loss, if any.
    best_epoch_line_ : matplotlib Line2D or None
        The mark of the best epoch, if any.
    """

    def __init__(
        self,
        loss_curve: ArrayLike,
        validation_loss_curve: ArrayLike | None = None,
        best_epoch: int | None = None,
    ) -> None:
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.best_epoch = best_epoch

    @classmethod
    def from_estimator(cls, estimator: Any, *, ax: Axes | None = None) -> LossCurveDisplay:
        """Draw the estimator's ``loss_curve_`` and ``validation_loss_curve_``.

        ``best_epoch_`` is marked when there is a validation loss: early
        stopping kept that epoch's weights.

        Parameters
        ----------
        estimator : fitted estimator
            With ``loss_curve_`` (any skae estimator).
        ax : matplotlib Axes, default=None
            Where to draw; None draws in a new figure.

        Returns
        -------
        display : LossCurveDisplay
            The display, with ``ax_``, ``figure_`` and the lines set.
        """
        check_is_fitted(estimator)
        if not hasattr(estimator, "loss_curve_"):
            raise TypeError(
                f"LossCurveDisplay.from_estimator needs an estimator with loss_curve_; "
                f"{type(estimator).__name__} has none."
            )
        validation = list(getattr(estimator, "validation_loss_curve_", None) or [])
        best_epoch = getattr(estimator, "best_epoch_", None) if validation else None
        return cls(estimator.loss_curve_, validation or None, best_epoch).plot(ax)

    def plot(self, ax: Axes | None = None) -> LossCurveDisplay:
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None draws in a new figure.

        Returns
        -------
        display : LossCurveDisplay
            This display, with ``ax_``, ``figure_`` and the lines set.
        """
        training = _curve(self.loss_curve, "loss_curve")
        validation = None
        if self.validation_loss_curve is not None:
            validation = _curve(self.validation_loss_curve, "validation_loss_curve")
        ax = _new_axes() if ax is None else ax
        (self.line_,) = ax.plot(np.arange(1, len(training) + 1), training, label="training")
        self.validation_line_: Line2D | None = None
        if validation is not None:
            epochs = np.arange(1, len(validation) + 1)
            (self.validation_line_,) = ax.plot(epochs, validation, label="validation")
        self.best_epoch_line_: Line2D | None = None
        if self.best_epoch is not None:
            self.best_epoch_line_ = ax.axvline(
                self.best_epoch,
                color="gray",
                linestyle=":",
                label=f"best epoch ({self.best_epoch})",
            )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (internal scaled units)")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _curve(values: ArrayLike, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {values.shape}.")
    return values
