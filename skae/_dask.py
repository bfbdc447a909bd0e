"""Dask arrays in the estimators: row-wise methods mapped lazily over blocks
of rows, and ``partial_fit`` streamed one block at a time.

Dask is optional and never imported here: an object can only be a Dask array
once ``dask.array`` has been imported (by whoever made the array).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator

import numpy as np


def is_dask_array(X: object) -> bool:
    """Whether X is a ``dask.array.Array``."""
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)


def row_blocks(X, n_features: int | None, owner: str) -> Iterator[np.ndarray]:
    """X's blocks of rows (each with all the columns), computed one at a
    time, after checking X's width against `n_features` (None: any)."""
    X = _whole_rows(X, n_features, owner)
    for i in range(X.numblocks[0]):
        yield X.blocks[i].compute()


def map_row_blocks(
    estimator: object,
    method: str,
    X,
    n_outputs: int | None,
    dtype: np.dtype | type,
    *,
    n_features: int | None = None,
):
    """The estimator's `method` on each block of X's rows, as a lazy Dask
    array of shape (n_rows, n_outputs), or (n_rows,) when `n_outputs` is
    None, chunked as X's rows. X must have `n_features` columns (default: the
    estimator's ``n_features_in_``). A copy of the estimator goes into the
    graph, so that a later fit does not change the result."""
    owner = type(estimator).__name__
    if n_features is None:
        n_features = estimator.n_features_in_
    X = _whole_rows(X, n_features, owner)
    shape = (0,) if n_outputs is None else (0, n_outputs)
    apply = getattr(copy.deepcopy(estimator), method)

    def block_result(block) -> np.ndarray:
        if block.shape[0] == 0:  # scikit-learn's input checks refuse empty rows
            return np.empty(shape, dtype)
        return np.asarray(apply(block), dtype=dtype)

    if n_outputs is None:
        chunks, extra = (X.chunks[0],), {"drop_axis": 1}
    else:
        chunks, extra = (X.chunks[0], (n_outputs,)), {}
    # meta: dask need not call the method on an empty block to learn the type.
    return X.map_blocks(
        block_result, chunks=chunks, dtype=dtype, meta=np.empty(shape, dtype), **extra
    )


def _whole_rows(X, n_features: int | None, owner: str):
    """X in blocks of whole rows (one chunk across the columns)."""
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D Dask array, got one of shape {X.shape}.")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but {owner} is expecting {n_features} features as input."
        )
    return X.rechunk({1: -1}) if X.numblocks[1] > 1 else X
