"""What the displays of :mod:`skae.plotting` share: a new pyplot axes when no
``ax`` is given, the check that an estimator has the method a display needs,
and the parameter and attribute docs filled into the displays' docstrings
(``%(name)s`` blocks of ``SHARED_DOCS``, by the ``_fill_docs`` decorator).
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Any

from matplotlib.axes import Axes


def _new_axes(figsize: tuple[float, float] | None = None) -> Axes:
    # pyplot only when no axes is given: its figures are the ones plt.show()
    # and notebooks show; drawing into a given axes needs no pyplot.
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _require_method(estimator: Any, method: str, display: str) -> None:
    if not callable(getattr(estimator, method, None)):
        raise TypeError(
            f"{display}.from_estimator needs an estimator with a {method} method; "
            f"{type(estimator).__name__} has none."
        )


# Parameter and attribute docs shared by the displays' docstrings.
SHARED_DOCS = {
    "image_shape": """\
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(C, H, W)`` of one image (C = 1 or 3, channel-major
        as ``architecture='conv'`` reads them); None: a square,
        single-channel image. For tabular data, ``(1, n_features)`` draws
        each sample as a strip.""",
    "fitted_image_shape": """\
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(C, H, W)`` of one image; None: the estimator's
        ``image_shape_`` when it has one, else a square.""",
    "drawing": """\
    ax : matplotlib Axes, default=None
        Where to draw; None draws in a new figure.
    cmap : str or matplotlib Colormap, default="gray_r"
        Colormap of single-channel images (dark is high); RGB images are
        drawn in their own colours.
    vmin, vmax : float, default=None
        The values drawn as the ends of the colormap; None: the lowest and
        highest value of all the images drawn, so that they share one scale.""",
    "scatter_drawing": """\
    ax : matplotlib Axes, default=None
        Where to draw; None draws in a new figure.
    legend : bool, default=True
        Whether to show which colour is which label: a legend for
        classes, a colorbar for float labels.
    **scatter_kwargs
        Passed to :meth:`matplotlib.axes.Axes.scatter` (e.g. ``s``,
        ``alpha``, ``cmap``).""",
    "axes_attributes": """\
    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes drawn in.
    figure_ : matplotlib Figure
        The figure of ``ax_``.""",
}
SHARED_DOCS["image_attributes"] = (
    SHARED_DOCS["axes_attributes"]
    + """
    image_ : matplotlib AxesImage
        The picture of the whole grid."""
)


def _fill_docs(cls: type) -> type:
    """`cls`, with the ``%(name)s`` blocks of SHARED_DOCS filled in its
    docstring and its methods' (each dedented)."""
    blocks = {name: textwrap.dedent(text) for name, text in SHARED_DOCS.items()}
    for owner in (cls, *(getattr(m, "__func__", m) for m in vars(cls).values())):
        if "%(" in (getattr(owner, "__doc__", None) or ""):
            owner.__doc__ = inspect.cleandoc(owner.__doc__) % blocks
    return cls
