"""The image grid that the image displays draw: flat samples reshaped into
pictures (channel-major ``(C, H, W)``, as ``architecture='conv'`` reads
them), laid out in labelled rows with a blank gap between the images, and
drawn as one picture in one axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.image import AxesImage

from skae.plotting._common import _new_axes

IMAGE_INCHES = 0.85  # width of one image of a grid in a figure of its own
MAX_GRID_INCHES = 12.0


def _picture_shape(image_shape: Sequence[int] | None, n_features: int) -> tuple[int, ...]:
    """The shape imshow takes, (H, W) or (H, W, 3), of one flat sample of
    `n_features` values laid out as `image_shape` ((H, W) or (C, H, W))."""
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"Cannot draw {n_features} features as a square image ({n_features} is not "
                "a square number): pass "
                f"image_shape=(H, W) or (C, H, W) with C*H*W = {n_features} "
                f"(for tabular data, image_shape=(1, {n_features}) draws each sample as a strip)."
            )
        return (side, side)
    shape = tuple(int(s) for s in image_shape)
    if len(shape) not in (2, 3) or math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={tuple(image_shape)} must be (H, W) or (C, H, W) with "
            f"C*H*W equal to the {n_features} features of each sample."
        )
    if len(shape) == 2 or shape[0] == 1:
        return shape[-2:]
    if shape[0] != 3:
        raise ValueError(
            f"image_shape={shape} has {shape[0]} channels; images of 1 (grey) or 3 (RGB) "
            "channels can be drawn."
        )
    return (shape[1], shape[2], 3)


def _mosaic(images: np.ndarray, picture_shape: tuple[int, ...], gap: int) -> np.ndarray:
    """One picture of the (n_rows, n_columns, n_features) grid `images`,
    NaN in the gaps between the images (and wherever an image is NaN)."""
    n_rows, n_columns, _ = images.shape
    height, width = picture_shape[:2]
    channels = picture_shape[2:]
    if channels:  # flat samples are channel-major, (C, H, W); imshow wants (H, W, C)
        tiles = images.reshape(n_rows, n_columns, 3, height, width).transpose(0, 1, 3, 4, 2)
    else:
        tiles = images.reshape(n_rows, n_columns, height, width)
    padding = [(0, 0), (0, 0), (0, gap), (0, gap)] + [(0, 0)] * len(channels)
    tiles = np.pad(tiles, padding, constant_values=np.nan)
    canvas = tiles.transpose(0, 2, 1, 3, *range(4, tiles.ndim))
    canvas = canvas.reshape(n_rows * (height + gap), n_columns * (width + gap), *channels)
    return canvas[:-gap, :-gap]


def _rgba(canvas: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """An RGB canvas scaled from [vmin, vmax] to [0, 1], transparent where NaN."""
    scale = vmax - vmin if vmax > vmin else 1.0
    rgb = np.clip((canvas - vmin) / scale, 0.0, 1.0)
    opaque = ~np.isnan(canvas).any(axis=-1, keepdims=True)
    return np.concatenate([np.nan_to_num(rgb), opaque.astype(float)], axis=-1)


def _label_ticks(axis, centres: np.ndarray, labels: Sequence[str] | None) -> None:
    if labels is None:
        axis.set_ticks([])
    else:
        axis.set_ticks(centres, [str(label) for label in labels])


def _check_grid(images: np.ndarray, row_labels, column_labels) -> None:
    if images.size == 0:
        raise ValueError(f"There are no images to draw: the grid has shape {images.shape}.")
    for name, labels, n in (
        ("row_labels", row_labels, images.shape[0]),
        ("column_labels", column_labels, images.shape[1]),
    ):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{name} has {len(labels)} labels for {n} {name.split('_')[0]}s.")


def _grid_figsize(canvas: np.ndarray, n_columns: int, row_labels: bool) -> tuple[float, float]:
    """The size of a figure of its own for the grid `canvas`, images at their usual width."""
    grid_width = min(MAX_GRID_INCHES, IMAGE_INCHES * n_columns)
    grid_height = grid_width * canvas.shape[0] / canvas.shape[1]
    return grid_width + (1.2 if row_labels else 0.3), grid_height + 0.5


def _draw_image_grid(
    ax: Axes | None,
    images: np.ndarray,
    image_shape: Sequence[int] | None,
    row_labels: Sequence[str] | None,
    column_labels: Sequence[str] | None,
    cmap: Any,
    vmin: float | None,
    vmax: float | None,
) -> AxesImage:
    """Draw the (n_rows, n_columns, n_features) grid `images` as one picture in `ax`."""
    _check_grid(images, row_labels, column_labels)
    picture_shape = _picture_shape(image_shape, images.shape[2])
    height, width = picture_shape[:2]
    gap = max(1, min(height, width) // 8)
    canvas = _mosaic(images, picture_shape, gap)
    vmin = float(np.nanmin(images)) if vmin is None else vmin
    vmax = float(np.nanmax(images)) if vmax is None else vmax
    if ax is None:
        ax = _new_axes(_grid_figsize(canvas, images.shape[1], row_labels is not None))
    if canvas.ndim == 3:
        image = ax.imshow(_rgba(canvas, vmin, vmax), interpolation="nearest")
    else:  # NaN is the colormap's "bad" colour: transparent, unless cmap says otherwise
        image = ax.imshow(canvas, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    n_rows, n_columns = images.shape[:2]
    _label_ticks(ax.yaxis, np.arange(n_rows) * (height + gap) + (height - 1) / 2, row_labels)
    _label_ticks(ax.xaxis, np.arange(n_columns) * (width + gap) + (width - 1) / 2, column_labels)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    return image
