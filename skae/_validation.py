"""Checks and preparation of the estimators' inputs: arrays, DataFrame
columns, parameter values and devices, each with an error that names the
problem."""

from __future__ import annotations

import math
import mmap
from numbers import Integral
from typing import TypeAlias, Union

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from numpy.typing import ArrayLike
from sklearn.utils.validation import validate_data

# What the estimators take as X: array-likes (lists, NumPy arrays, DataFrames)
# and SciPy sparse matrices.
MatrixLike: TypeAlias = Union[ArrayLike, sp.spmatrix]  # noqa: UP007 (ArrayLike is a Union)


def as_rows(X):
    """A single sample (1-D array or pandas Series) as a one-row 2-D input."""
    if np.ndim(X) != 1:
        return X
    return X.to_frame().T if hasattr(X, "to_frame") else np.atleast_2d(X)


def resolve_device(device: str | torch.device) -> torch.device:
    """``'auto'`` is CUDA when available, else the CPU; an unavailable device is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device={device!r} is not a valid torch device: {error}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested, but CUDA is not available on this "
            "machine. Use device='cpu', or device='auto' to pick CUDA only when present."
        )
    problem = device_problem(resolved)
    if problem is not None:
        raise ValueError(
            f"device={device!r} is not usable on this machine ({problem}). "
            "Use device='cpu', or device='auto' to pick CUDA only when present."
        )
    return resolved


def device_problem(device: torch.device) -> str | None:
    """Why data cannot be put on `device` and read back (None if it can)."""
    if device.type == "cpu":
        return None
    try:
        torch.zeros(1, device=device).cpu()
    except Exception as error:  # each backend fails its own way ('meta' holds no data)
        return f"{type(error).__name__}: {error}"
    return None


def device_key(device: torch.device) -> str:
    """The device's name, with the index that 'cuda' stands for."""
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return str(device)


def check_not_images(X) -> None:
    """A clear error for arrays of images (or anything above 2-D), before
    scikit-learn's generic one."""
    shape = getattr(X, "shape", None)
    if isinstance(X, (list, tuple)) and len(X) > 0:
        try:  # from the first row alone, not a second conversion of the whole list
            shape = (len(X), *np.shape(X[0]))
        except ValueError:  # ragged: scikit-learn's error says so
            pass
    if shape is not None and len(shape) > 2:
        raise ValueError(
            f"X has {len(shape)} dimensions (shape {tuple(shape)}); the estimators take "
            "X of shape (n_samples, n_features). Flatten images to rows, "
            "X.reshape(len(X), -1), and give their shape to architecture='conv' with "
            "image_shape=(H, W) or (C, H, W)."
        )


def check_numeric_columns(X) -> None:
    """A clear error for DataFrames with non-numeric columns (before any coercion)."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return
    bad = [
        str(name)
        for i, (name, dtype) in enumerate(dtypes.items())
        if not is_numeric_dtype(dtype) and not holds_numbers(X.iloc[:, i])
    ]
    if bad:
        shown = bad if len(bad) <= 5 else [*bad[:5], f"... ({len(bad)} in all)"]
        raise TypeError(
            f"X has non-numeric columns {shown}; encode them first, e.g. with "
            "sklearn.preprocessing.OneHotEncoder in a ColumnTransformer."
        )


def holds_numbers(column) -> bool:
    """Whether an object column holds numbers only, which check_array converts as for arrays."""
    kind = pd.api.types.infer_dtype(column, skipna=True)
    return kind in ("integer", "floating", "mixed-integer-float", "decimal", "boolean")


def is_numeric_dtype(dtype) -> bool:
    if isinstance(dtype, pd.CategoricalDtype):  # numbers as categories convert as numbers
        return is_numeric_dtype(dtype.categories.dtype)
    try:
        dtype = np.dtype(dtype)
    except TypeError:  # pandas extension dtypes such as Int64
        return getattr(dtype, "_is_numeric", False)
    return dtype.kind in "biufc"  # not timedeltas ('m'), which NumPy counts as integers


def output_dtype(input_dtype) -> type:
    """float32 in, float32 out; anything else gives float64, as in scikit-learn."""
    return np.float32 if input_dtype == np.float32 else np.float64


def positive_ints(value, name: str) -> tuple[int, ...]:
    """`value`, an integer or a flat sequence of them, as a tuple of positive ints."""
    values = np.atleast_1d(np.asarray(value, dtype=object))  # object: ragged input stays 1-D
    if values.ndim != 1 or not all(isinstance(v, Integral) and v >= 1 for v in values.tolist()):
        raise ValueError(f"{name} must hold positive integers, got {value!r}.")
    return tuple(int(v) for v in values.tolist())  # True counts as 1, as for n_components


def check_finite(values: torch.Tensor, what: str) -> torch.Tensor:
    """`values`, computed from finite X by a fitted network: not finite only if X overflowed it."""
    # A sum is finite only if every value is (a 20x cheaper test); when it is
    # not, large finite values may have overflowed it: look at each.
    if not torch.isfinite(values.sum()) and not torch.isfinite(values).all():
        raise ValueError(
            f"Some {what} are not finite: X holds values too large for the float32 "
            "networks (about 3.4e38 from the scaling's offset, or large enough to "
            "overflow a layer); rescale X first."
        )
    return values


def row_major(X):
    """Dense X in C order. Training gathers random rows, which from column-major
    memory (a DataFrame's values) took 8x longer, and 3 epochs of the default
    autoencoder on 20,000 x 784 30% longer: one copy of X is cheaper. A
    memory map stays where it is, perhaps larger than memory."""
    if sp.issparse(X) or X.flags.c_contiguous or is_memory_map(X):
        return X
    return np.ascontiguousarray(X)


def is_memory_map(X) -> bool:
    """Whether X's values lie in a file mapped into memory (not in an
    in-memory np.memmap, such as one made by ``astype``)."""
    while X is not None:
        if isinstance(X, mmap.mmap) or getattr(X, "_mmap", None) is not None:
            return True
        X = getattr(X, "base", None)
    return False


def check_noise_level(noise: str | None, noise_level: float) -> None:
    if noise in ("masking", "missing") and noise_level >= 1:
        what = "to 0" if noise == "masking" else "as missing"
        raise ValueError(
            f"noise={noise!r} sets a fraction noise_level of the entries {what}, so "
            f"noise_level must be in [0, 1), got {noise_level}."
        )


def validation_size(validation_fraction: float, n_samples: int) -> int:
    """Rows that early stopping sets aside: ``ceil(validation_fraction * n_samples)``."""
    n_validation = math.ceil(validation_fraction * n_samples)
    if n_samples - n_validation < 1:
        raise ValueError(
            f"early_stopping=True sets aside validation_fraction="
            f"{validation_fraction} of the data, but with n_samples={n_samples} "
            "no training samples are left. Pass more samples or early_stopping=False."
        )
    return n_validation


def validate_rows(estimator, X, *, reset: bool):
    """X checked (no images, numeric columns, a value observed in each row:
    NaN marks a missing entry, inf is an error) and validated by
    scikit-learn for `estimator`: dense float32 or float64, or CSR / CSC."""
    if not reset and _is_finite_float_matrix(estimator, X):
        return X
    check_not_images(X)
    check_numeric_columns(X)
    X = validate_data(
        estimator,
        X,
        reset=reset,
        accept_sparse=("csr", "csc"),
        dtype=(np.float64, np.float32),
        ensure_all_finite="allow-nan",
    )
    check_rows_observed(X)
    return X


def _is_finite_float_matrix(estimator, X) -> bool:
    """Whether X is a finite float32 or float64 NumPy matrix of the fitted
    width, without feature names to check: what ``validate_data`` would
    return as it is, after checks that are most of a single-row transform's
    time. Anything else goes through ``validate_data``, and its errors."""
    if type(X) is not np.ndarray or X.ndim != 2 or X.dtype not in (np.float32, np.float64):
        return False
    if hasattr(estimator, "feature_names_in_") or X.shape[1] != estimator.n_features_in_:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        return len(X) > 0 and bool(np.isfinite(np.sum(X)))


def has_missing(X) -> bool:
    """Whether X (finite but for NaN) has a missing entry, in one pass."""
    values = X.data if sp.issparse(X) else X
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isnan(np.sum(values)))


def check_rows_observed(X) -> None:
    """Raise if a row of X has no observed value (all NaN): it has no code."""
    if not has_missing(X):
        return
    if sp.issparse(X):
        X = X.tocsr()
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        stored_nan = np.bincount(rows, weights=np.isnan(X.data), minlength=X.shape[0])
        empty = np.flatnonzero(stored_nan == X.shape[1])
    else:
        empty = np.flatnonzero(np.isnan(X).all(axis=1))
    if len(empty):
        raise ValueError(
            f"{len(empty)} row(s) of X have no observed value (all NaN), e.g. row "
            f"{empty[0]}: there is nothing to encode. Drop them."
        )
