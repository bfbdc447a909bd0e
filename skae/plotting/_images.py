"""The image displays: ``ImageGridDisplay``, labelled rows of images drawn
as one picture in one axes (by :mod:`skae.plotting._image_grid`), and the
displays built on it, ``ReconstructionDisplay``, ``SampleGridDisplay`` and
``InterpolationDisplay``.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_is_fitted

from skae.plotting._common import _fill_docs, _require_method
from skae.plotting._image_grid import _draw_image_grid


def _as_samples(X: ArrayLike, name: str) -> np.ndarray:
    """X as a float array of flat samples, (n_samples, n_features)."""
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=float)
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D, (n_samples, n_features), got shape {X.shape}; "
            "for one sample, pass X.reshape(1, -1)."
        )
    return X


def _fitted_image_shape(estimator: Any, image_shape: Sequence[int] | None):
    """`image_shape`, else the estimator's fitted image_shape_ (None without one)."""
    return getattr(estimator, "image_shape_", None) if image_shape is None else image_shape


@_fill_docs
class _ImageDisplay:
    """What the image displays share: their :meth:`plot`, of the grid that
    ``_grid`` gives as (images, row_labels, column_labels)."""

    image_shape: Sequence[int] | None

    def _grid(self) -> tuple[np.ndarray, Sequence[str] | None, Sequence[str] | None]:
        raise NotImplementedError

    def plot(
        self,
        ax: Axes | None = None,
        *,
        cmap: Any = "gray_r",
        vmin: float | None = None,
        vmax: float | None = None,
    ) -> _ImageDisplay:
        """Draw the images.

        Parameters
        ----------
        %(drawing)s

        Returns
        -------
        self
            This display, with ``ax_``, ``figure_`` and ``image_`` set.
        """
        images, row_labels, column_labels = self._grid()
        self.image_ = _draw_image_grid(
            ax, images, self.image_shape, row_labels, column_labels, cmap, vmin, vmax
        )
        self.ax_ = self.image_.axes
        self.figure_ = self.ax_.figure
        return self


@_fill_docs
class ImageGridDisplay(_ImageDisplay):
    """A grid of images with labelled rows, drawn as one picture.

    The building block of the other image displays; use it directly to set
    several models' outputs side by side.

    Parameters
    ----------
    images : array-like of shape (n_rows, n_columns, n_features)
        Flat images, one row of the grid each; NaN draws as blank.
    %(image_shape)s
    row_labels : list of str, default=None
        A label beside each row.
    column_labels : list of str, default=None
        A label above each column.

    %(image_attributes)s

    See Also
    --------
    ReconstructionDisplay : Originals above their reconstructions.
    SampleGridDisplay : Samples drawn by an estimator.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from skae.plotting import ImageGridDisplay
    >>> rng = np.random.RandomState(0)
    >>> grid = rng.uniform(size=(2, 5, 64))
    >>> display = ImageGridDisplay(grid, row_labels=["noise", "more noise"]).plot()
    >>> display.image_.get_array().shape  # 8 x 8 images, a 1-pixel gap between them
    (17, 44)
    >>> plt.close(display.figure_)
    """

    def __init__(
        self,
        images: ArrayLike,
        *,
        image_shape: Sequence[int] | None = None,
        row_labels: Sequence[str] | None = None,
        column_labels: Sequence[str] | None = None,
    ) -> None:
        self.images = images
        self.image_shape = image_shape
        self.row_labels = row_labels
        self.column_labels = column_labels

    def _grid(self):
        images = np.asarray(self.images, dtype=float)
        if images.ndim != 3:
            raise ValueError(
                f"images must be 3-D, (n_rows, n_columns, n_features), got shape {images.shape}."
            )
        return images, self.row_labels, self.column_labels


@_fill_docs
class ReconstructionDisplay(_ImageDisplay):
    """Images (top row) above their reconstructions (bottom row).

    Parameters
    ----------
    X : array-like of shape (n_images, n_features)
        The original images, flat.
    X_reconstructed : array-like of shape (n_images, n_features)
        Their reconstructions, e.g. ``inverse_transform(transform(X))``.
    %(image_shape)s

    %(image_attributes)s

    See Also
    --------
    ImageGridDisplay : Any grid of images, e.g. several models' reconstructions.
    """

    def __init__(
        self,
        X: ArrayLike,
        X_reconstructed: ArrayLike,
        *,
        image_shape: Sequence[int] | None = None,
    ) -> None:
        self.X = X
        self.X_reconstructed = X_reconstructed
        self.image_shape = image_shape

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: ArrayLike,
        *,
        image_shape: Sequence[int] | None = None,
        ax: Axes | None = None,
        cmap: Any = "gray_r",
        vmin: float | None = None,
        vmax: float | None = None,
    ) -> ReconstructionDisplay:
        """Draw the rows of X above the estimator's reconstructions of them.

        Parameters
        ----------
        estimator : fitted estimator
            With ``transform`` and ``inverse_transform`` (any skae estimator,
            or e.g. :class:`sklearn.decomposition.PCA`).
        X : array-like of shape (n_images, n_features)
            The images to reconstruct, every one drawn: pass a few rows.
        %(fitted_image_shape)s
        %(drawing)s

        Returns
        -------
        display : ReconstructionDisplay
            The display, with ``ax_``, ``figure_`` and ``image_`` set.
        """
        check_is_fitted(estimator)
        _require_method(estimator, "inverse_transform", cls.__name__)
        X = _as_samples(X, "X")
        reconstructed = estimator.inverse_transform(estimator.transform(X))
        display = cls(X, reconstructed, image_shape=_fitted_image_shape(estimator, image_shape))
        return display.plot(ax, cmap=cmap, vmin=vmin, vmax=vmax)

    def _grid(self):
        X = _as_samples(self.X, "X")
        reconstructed = _as_samples(self.X_reconstructed, "X_reconstructed")
        if X.shape != reconstructed.shape:
            raise ValueError(
                f"X and X_reconstructed must have the same shape, got {X.shape} "
                f"and {reconstructed.shape}."
            )
        return np.stack([X, reconstructed]), ["original", "reconstruction"], None


@_fill_docs
class SampleGridDisplay(_ImageDisplay):
    """Generated samples in a grid, row after row.

    Parameters
    ----------
    samples : array-like of shape (n_samples, n_features)
        Flat images, e.g. from ``sample``.
    n_columns : int, default=10
        Images per row; the last row may be shorter.
    %(image_shape)s

    %(image_attributes)s
    """

    def __init__(
        self,
        samples: ArrayLike,
        *,
        n_columns: int = 10,
        image_shape: Sequence[int] | None = None,
    ) -> None:
        self.samples = samples
        self.n_columns = n_columns
        self.image_shape = image_shape

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        n_samples: int = 30,
        *,
        n_columns: int = 10,
        random_state: int | np.random.RandomState | None = None,
        image_shape: Sequence[int] | None = None,
        ax: Axes | None = None,
        cmap: Any = "gray_r",
        vmin: float | None = None,
        vmax: float | None = None,
    ) -> SampleGridDisplay:
        """Draw ``estimator.sample(n_samples, random_state=random_state)``.

        Parameters
        ----------
        estimator : fitted estimator
            With a ``sample(n_samples, random_state=...)`` method, e.g. any
            skae estimator.
        n_samples : int, default=30
            Number of samples to draw.
        n_columns : int, default=10
            Images per row.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw of codes.
        %(fitted_image_shape)s
        %(drawing)s

        Returns
        -------
        display : SampleGridDisplay
            The display, with ``ax_``, ``figure_`` and ``image_`` set.
        """
        check_is_fitted(estimator)
        _require_method(estimator, "sample", cls.__name__)
        samples = estimator.sample(n_samples, random_state=random_state)
        image_shape = _fitted_image_shape(estimator, image_shape)
        display = cls(samples, n_columns=n_columns, image_shape=image_shape)
        return display.plot(ax, cmap=cmap, vmin=vmin, vmax=vmax)

    def _grid(self):
        samples = _as_samples(self.samples, "samples")
        if not isinstance(self.n_columns, Integral) or self.n_columns < 1:
            raise ValueError(f"n_columns must be a positive integer, got {self.n_columns!r}.")
        n_columns = max(1, min(int(self.n_columns), len(samples)))
        n_rows = -(-len(samples) // n_columns)
        blank = np.full((n_rows * n_columns - len(samples), samples.shape[1]), np.nan)
        grid = np.vstack([samples, blank]).reshape(n_rows, n_columns, samples.shape[1])
        return grid, None, None


def _straight_path(estimator: Any, X_start: ArrayLike, X_end: ArrayLike, n_steps: int):
    """What skae's ``interpolate`` returns, for an estimator without it: the
    decoded points evenly spaced on the segment between the codes of the ends."""
    if not isinstance(n_steps, Integral) or n_steps < 2:
        raise ValueError(f"n_steps must be an integer >= 2, got {n_steps!r}.")
    start, end = (np.asarray(estimator.transform(np.atleast_2d(X))) for X in (X_start, X_end))
    t = np.linspace(0.0, 1.0, n_steps)[None, :, None]
    codes = (1 - t) * start[:, None, :] + t * end[:, None, :]
    path = estimator.inverse_transform(codes.reshape(-1, start.shape[1]))
    path = np.asarray(path).reshape(len(start), n_steps, -1)
    return path[0] if np.ndim(X_start) == 1 else path


@_fill_docs
class InterpolationDisplay(_ImageDisplay):
    """Decoded paths between two images: one strip of images per path.

    Parameters
    ----------
    path : array-like of shape (n_steps, n_features) or (n_paths, n_steps, n_features)
        Flat images along each path, as ``interpolate`` returns them.
    %(image_shape)s

    %(image_attributes)s
    """

    def __init__(self, path: ArrayLike, *, image_shape: Sequence[int] | None = None) -> None:
        self.path = path
        self.image_shape = image_shape

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X_start: ArrayLike,
        X_end: ArrayLike,
        *,
        n_steps: int = 10,
        image_shape: Sequence[int] | None = None,
        ax: Axes | None = None,
        cmap: Any = "gray_r",
        vmin: float | None = None,
        vmax: float | None = None,
    ) -> InterpolationDisplay:
        """Draw ``estimator.interpolate(X_start, X_end, n_steps)``.

        An estimator without ``interpolate`` (e.g.
        :class:`sklearn.decomposition.PCA`) gets the same straight path
        between the codes, through ``transform`` and ``inverse_transform``.

        Parameters
        ----------
        estimator : fitted estimator
            With ``interpolate``, or ``transform`` and ``inverse_transform``.
        X_start, X_end : array-like of shape (n_features,) or (n_paths, n_features)
            Where each path starts and ends.
        n_steps : int, default=10
            Number of images on each path, both ends included.
        %(fitted_image_shape)s
        %(drawing)s

        Returns
        -------
        display : InterpolationDisplay
            The display, with ``ax_``, ``figure_`` and ``image_`` set.
        """
        check_is_fitted(estimator)
        if callable(getattr(estimator, "interpolate", None)):
            path = estimator.interpolate(X_start, X_end, n_steps=n_steps)
        else:
            _require_method(estimator, "inverse_transform", cls.__name__)
            path = _straight_path(estimator, X_start, X_end, n_steps)
        display = cls(path, image_shape=_fitted_image_shape(estimator, image_shape))
        return display.plot(ax, cmap=cmap, vmin=vmin, vmax=vmax)

    def _grid(self):
        path = np.asarray(self.path, dtype=float)
        if path.ndim == 2:
            path = path[None]
        if path.ndim != 3:
            raise ValueError(
                "path must be (n_steps, n_features) or (n_paths, n_steps, n_features), "
                f"got shape {path.shape}."
            )
        return path, None, None
