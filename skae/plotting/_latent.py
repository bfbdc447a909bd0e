"""``LatentScatterDisplay``: the 2-D codes of samples as a scatter plot,
coloured by their labels, classes (one colour each and a legend) or float
values (a colour scale and a colorbar).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.colors import ListedColormap
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_is_fitted

from skae.plotting._common import _fill_docs, _new_axes


@_fill_docs
class LatentScatterDisplay:
    """The 2-D codes of samples, coloured by their labels.

    Codes of other sizes are refused rather than cut to two columns: an
    autoencoder's code dimensions have no order of importance (unlike
    PCA's), so the first two are no better a view than any other two. Pick
    two yourself, ``LatentScatterDisplay(codes[:, [i, j]], y)``, or fit with
    ``n_components=2``.

    Parameters
    ----------
    codes : array-like of shape (n_samples, 2)
        The codes, e.g. from ``transform``.
    y : array-like of shape (n_samples,), default=None
        Labels to colour the points by. Integer, boolean and string labels
        are classes (one colour each, named in a legend); float labels are
        values on a colour scale (a colorbar). None: one colour.

    %(axes_attributes)s
    scatter_ : matplotlib PathCollection
        The points. For class labels, its values are the indices of the
        classes in ``np.unique(y)``.
    """

    def __init__(self, codes: ArrayLike, y: ArrayLike | None = None) -> None:
        self.codes = codes
        self.y = y

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: ArrayLike,
        y: ArrayLike | None = None,
        *,
        ax: Axes | None = None,
        legend: bool = True,
        **scatter_kwargs: Any,
    ) -> LatentScatterDisplay:
        """Draw ``estimator.transform(X)``, coloured by y.

        Parameters
        ----------
        estimator : fitted estimator
            A transformer to 2 components.
        X : array-like of shape (n_samples, n_features)
            The samples to encode.
        y : array-like of shape (n_samples,), default=None
            Labels to colour the points by (see the class's description).
        %(scatter_drawing)s

        Returns
        -------
        display : LatentScatterDisplay
            The display, with ``ax_``, ``figure_`` and ``scatter_`` set.
        """
        check_is_fitted(estimator)
        codes = np.asarray(estimator.transform(X))
        return cls(codes, y).plot(ax, legend=legend, **scatter_kwargs)

    def plot(
        self, ax: Axes | None = None, *, legend: bool = True, **scatter_kwargs: Any
    ) -> LatentScatterDisplay:
        """Draw the codes.

        Parameters
        ----------
        %(scatter_drawing)s

        Returns
        -------
        display : LatentScatterDisplay
            This display, with ``ax_``, ``figure_`` and ``scatter_`` set.
        """
        codes = np.asarray(self.codes, dtype=float)
        if codes.ndim != 2 or codes.shape[1] != 2:
            raise ValueError(
                f"LatentScatterDisplay draws 2-D codes, got codes of shape {codes.shape}: "
                "fit with n_components=2, or pass two columns, codes[:, [i, j]]."
            )
        ax = _new_axes() if ax is None else ax
        kwargs = {"s": 8, **scatter_kwargs}
        if self.y is None:
            self.scatter_ = ax.scatter(codes[:, 0], codes[:, 1], **kwargs)
        else:
            y = np.asarray(self.y)
            if y.shape != (len(codes),):
                raise ValueError(
                    f"y must be 1-D with one label per code, got shape {y.shape} "
                    f"for {len(codes)} codes."
                )
            draw = _scatter_values if y.dtype.kind == "f" else _scatter_classes
            self.scatter_ = draw(ax, codes, y, legend, kwargs)
        ax.set_xlabel("component 1")
        ax.set_ylabel("component 2")
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _scatter_classes(ax: Axes, codes, y, legend: bool, kwargs: dict) -> PathCollection:
    classes, index = np.unique(y, return_inverse=True)
    n_classes = len(classes)
    # Class i gets colour i: tab10's own colours while they last.
    tab10 = colormaps["tab10"].colors
    default_cmap = ListedColormap(tab10[:n_classes]) if n_classes <= len(tab10) else "viridis"
    kwargs = {"cmap": default_cmap, "vmin": -0.5, "vmax": n_classes - 0.5, **kwargs}
    scatter = ax.scatter(codes[:, 0], codes[:, 1], c=index, **kwargs)
    if legend:
        handles, _ = scatter.legend_elements(num=None)
        ax.legend(handles, [str(c) for c in classes], title="label", fontsize="small")
    return scatter


def _scatter_values(ax: Axes, codes, y, legend: bool, kwargs: dict) -> PathCollection:
    scatter = ax.scatter(codes[:, 0], codes[:, 1], c=y, **kwargs)
    if legend:
        ax.figure.colorbar(scatter, ax=ax, label="label")
    return scatter
