"""Batches: rows of in-memory data streamed to a device, and every batch-size rule.

Plain torch and NumPy; it knows nothing of estimators. Mini-batches are
gathered by indexing in-memory tensors (no per-sample ``Dataset`` and
collation) and moved to the device one at a time, so a data set is never
copied to the GPU whole.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import torch

from skae._distributed import LOCAL, Ranks
from skae._threads import TORCH_CALLS

# Rows per pass of the range check of losses on [0, 1] and of the fitted
# summaries (a fixed size: the fitted attributes' float32 sums do not depend
# on the device's batch rule), and the least rows per inference batch on a
# GPU, to keep it busy.
INFERENCE_BATCH_SIZE = 1024
# On the CPU, values that the widest layer of an inference batch holds (1 MB
# in float32), to stay in a core's cache: with the GPU's larger batches,
# transform, inverse_transform and score_samples took up to 1.3x (MLP) and
# 2.3x (conv) as long (benchmarks/README.md, "Inference batches").
CPU_BATCH_VALUES = 2**18
# Inference runs its matrix products on multiples of this many rows (see
# whole_row_blocks): 4 was enough for MKL on 1 to 16 threads here, 16 leaves
# room for other CPUs' kernels.
ROW_MULTIPLE = 16


class Scaler(Protocol):
    """What Batches needs of a fitted scaling (:class:`skae._scaling.Scaling`)."""

    def on(self, device: torch.device, host_dtype, pin: bool = False) -> PlacedScaling | None:
        """The scaling placed for batches of `host_dtype` going to `device`; None for none."""


@dataclass(frozen=True, eq=False)
class PlacedScaling:
    """A fitted scaling (:class:`skae._scaling.Scaling`) placed for batches on
    a device.

    Attributes
    ----------
    host_offset : ndarray
        Subtracted on the host, in the data's precision (float64 with `host_scale`).
    offset : torch.Tensor
        The offset on the device, in float32.
    scale : torch.Tensor
        Divides the centred batch on the device, in float32 (1 for the
        features of `host_scale`).
    host_scale : ndarray or None
        For features whose scale float32 cannot hold (data in tiny units),
        the float64 scale that divides them on the host, else 1; None when
        there are none.
    device : torch.device
    pin : bool
        Whether batches go through pinned memory.
    """

    host_offset: np.ndarray
    offset: torch.Tensor
    scale: torch.Tensor
    host_scale: np.ndarray | None
    device: torch.device
    pin: bool

    def apply(self, batch: torch.Tensor) -> torch.Tensor:
        """``(batch - offset) / scale`` on the device, in float32.

        The offset is subtracted on the host in the data's precision, as the
        batch is converted to float32: converted first, a feature whose offset
        dwarfs its spread (a timestamp) would lose that spread to rounding.
        The division runs on the device, but for features in tiny units.
        """
        centred = torch.empty(batch.shape, dtype=torch.float32, pin_memory=self.pin)
        # NumPy casts to the output in small buffers, where torch.sub(out=)
        # would first make a float64 copy of a float64 batch. Values beyond
        # float32 become inf, which the estimators report.
        with np.errstate(over="ignore"):
            values, out = batch.numpy(), centred.numpy()
            if self.host_scale is None:
                np.subtract(values, self.host_offset, out=out, casting="same_kind")
            else:
                exact = np.subtract(values, self.host_offset, dtype=np.float64)
                np.divide(exact, self.host_scale, out=out, casting="same_kind")
        # In place: the batch on the device is this call's own buffer.
        return centred.to(self.device, torch.float32, non_blocking=True).div_(self.scale)

    def unscale(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled values back towards X's units on the device; the host's
        part and the offset follow (:meth:`skae._scaling.Scaling.undo_on_host`)."""
        return x * self.scale

    def in_scaled_units(self, level: float) -> torch.Tensor:
        """A length `level` in X's units, per feature in scaled units."""
        if self.host_scale is None:
            return level / self.scale
        return self._on_device(level / self._whole_scale())

    def scaled_zero(self) -> torch.Tensor:
        """Where X's zero lies after scaling, per feature."""
        if self.host_scale is None:
            return -self.offset / self.scale
        return self._on_device(-self.host_offset / self._whole_scale())

    def _whole_scale(self) -> np.ndarray:
        """The device's and the host's scales together, in float64."""
        return self.scale.double().cpu().numpy() * self.host_scale

    def _on_device(self, values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(values, dtype=torch.float32, device=self.device)


class Batches:
    """Rows of an in-memory array, gathered by index and streamed to `device`.

    Parameters
    ----------
    data : ndarray or scipy sparse matrix of shape (n_samples, n_features)
        Dense data is wrapped without a copy when it is float32 and
        C-contiguous; sparse rows are densified one batch at a time.
    device : torch.device
    rows : ndarray of int, default=None
        The rows of `data` these batches cover (a split without a copy).
    scaling : Scaling, default=None
        The fitted scaling each batch goes through (see
        :meth:`skae._scaling.Scaling.on`); its placed form is kept as
        ``self.scaling`` for the corruption of denoising.
    ranks : Ranks, default=LOCAL
        The ranks whose rows together make the data set, each rank's
        Batches its own: folds (:func:`fold_batches`) reduce over them, and
        ``counts`` holds every rank's number of rows.
    """

    def __init__(
        self,
        data: np.ndarray | sp.spmatrix,
        device: torch.device,
        rows: np.ndarray | None = None,
        scaling: Scaler | None = None,
        ranks: Ranks = LOCAL,
    ) -> None:
        self.sparse = sp.issparse(data)
        host_dtype = np.float64 if data.dtype == np.float64 else np.float32
        self.data = data.tocsr() if self.sparse else _as_tensor(data)
        self.device = device
        self.rows = None if rows is None else torch.as_tensor(rows, dtype=torch.long)
        # Pinned host memory makes the copy to a GPU asynchronous.
        self.pin = device.type == "cuda"
        self.scaling = None if scaling is None else scaling.on(device, host_dtype, self.pin)
        self.ranks = ranks
        self.counts = ranks.row_counts(len(self))

    @property
    def n_total(self) -> int:
        """The number of rows on all ranks."""
        return sum(self.counts)

    def __len__(self) -> int:
        return self.data.shape[0] if self.rows is None else len(self.rows)

    def take(self, positions: torch.Tensor) -> torch.Tensor:
        """The rows at `positions`, as float32 on the device, scaled."""
        index = positions if self.rows is None else self.rows[positions]
        if self.sparse:
            batch = torch.from_numpy(self.data[index.numpy()].toarray())
        else:
            batch = self.data.index_select(0, index)
        return self._finish(batch)

    def _slice(self, start: int, stop: int) -> torch.Tensor:
        """Rows ``start:stop`` (of all of `data`), like :meth:`take`. A dense
        slice is a view: no gather, and no copy where no conversion is needed;
        the batches are only read."""
        if self.sparse:
            return self._finish(torch.from_numpy(self.data[start:stop].toarray()))
        return self._finish(self.data[start:stop].contiguous())

    def _finish(self, batch: torch.Tensor) -> torch.Tensor:
        if self.scaling is not None:
            return self.scaling.apply(batch)
        if self.pin:
            batch = batch.pin_memory()
        return batch.to(self.device, torch.float32, non_blocking=True)

    def iterate(self, batch_size: int, order: torch.Tensor | None = None) -> Iterator[torch.Tensor]:
        """Batches of `batch_size` rows in the given `order`, else in order."""
        if order is None and self.rows is None:
            for start in range(0, len(self), batch_size):
                yield self._slice(start, start + batch_size)
            return
        order = torch.arange(len(self)) if order is None else order
        for positions in order.split(batch_size):
            yield self.take(positions)


def _as_tensor(data: np.ndarray) -> torch.Tensor:
    """The array as a tensor without a copy. Batches only read from it, so
    read-only arrays (memory maps) are safe despite torch's warning."""
    data = np.asarray(data)
    if any(stride < 0 for stride in data.strides):  # e.g. X[::-1]; torch refuses those
        data = np.ascontiguousarray(data)
    if data.flags.writeable:
        return torch.from_numpy(data)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch.from_numpy(data)


def map_batches(
    function: Callable[[torch.Tensor], torch.Tensor],
    batches: Batches,
    batch_size: int,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``function`` (a row out per row in) applied batch by batch under
    ``inference_mode``, its outputs written into one CPU tensor: `out` if
    given (cast to its dtype), else a new one of the outputs' dtype.

    Written in place rather than concatenated at the end: a list of small
    outputs kept while each batch's large temporaries come and go fragments
    the C heap, which then holds on to gigabytes (benchmarks/README.md,
    "Inference memory").
    """
    outputs, start = out, 0
    with TORCH_CALLS.running(), torch.inference_mode():
        for batch in batches.iterate(batch_size):
            values = function(whole_row_blocks(batch))[: len(batch)]
            if outputs is None:
                outputs = torch.empty((len(batches), *values.shape[1:]), dtype=values.dtype)
            outputs[start : start + len(values)] = values
            start += len(values)
    return outputs


def whole_row_blocks(batch: torch.Tensor) -> torch.Tensor:
    """The batch padded (with copies of its last row) to a multiple of
    ROW_MULTIPLE rows. The CPU's matrix products round a row differently in
    products of a few rows, whose sizes are not such a multiple; padded, a
    row's outputs do not depend on the batch it is in (benchmarks/README.md,
    "Batch invariance")."""
    missing = -len(batch) % ROW_MULTIPLE
    if missing == 0:
        return batch
    return torch.cat([batch, batch[-1:].expand(missing, *batch.shape[1:])])


def fold_batches(
    function: Callable[[torch.Tensor], torch.Tensor],
    combine: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batches: Batches,
    batch_size: int,
) -> torch.Tensor:
    """``function`` of each batch under ``inference_mode``, folded by ``combine``
    as it goes (``torch.add`` for a sum, ``torch.minimum`` or
    ``torch.maximum``), on the batches' device; over the rows of all ranks."""
    result = None
    with TORCH_CALLS.running(), torch.inference_mode():
        for batch in batches.iterate(batch_size):
            value = function(batch)
            result = value if result is None else combine(result, value)
    return batches.ranks.reduce(result, combine)


def split_rows(
    rng: np.random.RandomState, n_samples: int, n_validation: int
) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """Random training and validation rows, or (None, None) for no validation split."""
    if n_validation == 0:
        return None, None
    order = rng.permutation(n_samples)
    return order[n_validation:], order[:n_validation]


def inference_rows(device: torch.device, widest_activation: int, n_features: int) -> int:
    """Rows per batch of ``transform``, ``inverse_transform`` and (for an
    autoencoder) ``score_samples``: cache-sized on the CPU, large on a GPU."""
    if device.type == "cpu":
        return cpu_batch_rows(widest_activation)
    return gpu_batch_rows(n_features)


def score_rows(device: torch.device, widest_activation: int, n_features: int, n_draws: int) -> int:
    """Samples per batch of VAE scores, each decoded `n_draws` times."""
    if device.type == "cpu":
        return cpu_batch_rows(widest_activation * n_draws)
    return gpu_score_rows(n_features, n_draws)


def cpu_batch_rows(values_per_row: int) -> int:
    """Rows per inference batch on the CPU whose widest layer holds
    `values_per_row` values per row."""
    return _whole_blocks(CPU_BATCH_VALUES // values_per_row)


def gpu_batch_rows(n_features: int) -> int:
    """Rows per inference batch on a GPU: about 4 MB of input, and at least
    INFERENCE_BATCH_SIZE rows."""
    return max(INFERENCE_BATCH_SIZE, _whole_blocks(2**20 // n_features))


def gpu_score_rows(n_features: int, n_draws: int) -> int:
    """Samples per batch of VAE scores on a GPU, each decoded `n_draws` times:
    at most 16,384 decodings per batch, and about 4M values (16 MB) of decoder
    output."""
    decodings = min(16 * INFERENCE_BATCH_SIZE, 2**22 // n_features)
    return _whole_blocks(decodings // n_draws)


def _whole_blocks(rows: int) -> int:
    """`rows` rounded down to a multiple of ROW_MULTIPLE, and at least that."""
    return max(ROW_MULTIPLE, rows - rows % ROW_MULTIPLE)
