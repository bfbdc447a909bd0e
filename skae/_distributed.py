"""Data-parallel fits on ``torch.distributed``: the ranks a fit runs on, and
what they reduce.

Plain torch and NumPy; it knows nothing of estimators. A fit runs on every
rank of the default process group once one is initialised (``torchrun``, or
``torch.distributed.init_process_group``), each rank on its own rows, unless
:func:`single_process` says otherwise. Every number that decides the course
of a fit (a column statistic, a loss, a summary of the codes) is reduced
over the ranks here, in the same order on each, so that all ranks take the
same decisions and end with the same model.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

_SINGLE_PROCESS = contextvars.ContextVar("skae_single_process", default=False)


@contextlib.contextmanager
def single_process() -> Iterator[None]:
    """Fit in this process alone, even inside an initialised process group.

    Inside a process group (e.g. under ``torchrun``) every rank must call
    ``fit`` together, each with its own rows. To fit a model on some ranks
    only, or a different one on each, fit inside this context::

        with skae.distributed.single_process():
            model.fit(X)
    """
    token = _SINGLE_PROCESS.set(True)
    try:
        yield
    finally:
        _SINGLE_PROCESS.reset(token)


_OPS = {torch.add: "SUM", torch.minimum: "MIN", torch.maximum: "MAX"}


@dataclass(frozen=True)
class Ranks:
    """The processes a fit runs on: this one alone (``size == 1``), or the
    ranks of the default process group.

    Attributes
    ----------
    size, rank : int
        The number of ranks and this process's.
    device : torch.device
        Where the tensors of collectives live: the CPU for gloo, this rank's
        GPU for NCCL.
    """

    size: int = 1
    rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @classmethod
    def current(cls) -> Ranks:
        """The ranks of a fit started now."""
        if _SINGLE_PROCESS.get() or not (dist.is_available() and dist.is_initialized()):
            return LOCAL
        if dist.get_world_size() == 1:
            return LOCAL
        nccl = dist.get_backend() == "nccl"
        device = torch.device("cuda", local_gpu()) if nccl else torch.device("cpu")
        return cls(dist.get_world_size(), dist.get_rank(), device)

    @property
    def distributed(self) -> bool:
        return self.size > 1

    # ------------------------------------------------------------------
    # Reductions, each the same on every rank

    def reduce(self, tensor: torch.Tensor, combine=torch.add) -> torch.Tensor:
        """`tensor` combined over the ranks by `combine` (``torch.add``,
        ``torch.minimum`` or ``torch.maximum``); itself in one process."""
        if not self.distributed:
            return tensor
        values = tensor.to(self.device, copy=True)
        dist.all_reduce(values, op=getattr(dist.ReduceOp, _OPS[combine]))
        return values.to(tensor.device)

    def mean_of_rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """The mean over the rows of `tensor` on all ranks (one all-reduce)."""
        sums = torch.cat([tensor.sum(0).reshape(-1), tensor.new_tensor([len(tensor)])])
        sums = self.reduce(sums)
        return (sums[:-1] / sums[-1]).view(tensor.shape[1:])

    def reduce_array(self, array: np.ndarray, combine=torch.add) -> np.ndarray:
        """:meth:`reduce` of a NumPy array, in float64."""
        if not self.distributed:
            return array
        return self.reduce(torch.as_tensor(array, dtype=torch.float64), combine).numpy()

    def gather(self, array: np.ndarray) -> list[np.ndarray]:
        """Every rank's `array` (same dtype and trailing shape on each; any
        number of rows), in rank order; ``[array]`` in one process."""
        if not self.distributed:
            return [array]
        counts = self._all_gather(torch.tensor([len(array)], dtype=torch.long))
        counts = [int(count) for count in counts]
        values = torch.as_tensor(np.ascontiguousarray(array))
        padded = values.new_zeros((max(counts), *values.shape[1:]))
        padded[: len(values)] = values
        pieces = self._all_gather(padded)
        return [piece[:count].numpy() for piece, count in zip(pieces, counts)]

    def gather_rows(self, array: np.ndarray) -> np.ndarray:
        """Every rank's rows of `array`, concatenated in rank order."""
        if not self.distributed:
            return array
        return np.concatenate(self.gather(array))

    def _all_gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        tensor = tensor.to(self.device)
        pieces = [torch.empty_like(tensor) for _ in range(self.size)]
        dist.all_gather(pieces, tensor)
        return [piece.cpu() for piece in pieces]

    # ------------------------------------------------------------------
    # Agreement before the collective part of a fit

    @contextlib.contextmanager
    def all_or_none(self, what: str) -> Iterator[None]:
        """Run the local part of a fit (`what`, e.g. checking the input);
        then every rank learns whether each succeeded, and all stop with an
        error if one did not, instead of waiting for it forever."""
        try:
            yield
        except BaseException:
            self._agree(failed=True, what=what)
            raise
        self._agree(failed=False, what=what)

    def _agree(self, *, failed: bool, what: str) -> None:
        if not self.distributed:
            return
        flags = self._all_gather(torch.tensor([int(failed)], dtype=torch.long))
        failing = [rank for rank, flag in enumerate(flags) if int(flag) and rank != self.rank]
        if failing and not failed:
            raise RuntimeError(
                f"Rank(s) {failing} of the process group failed while {what} (see their "
                f"errors); rank {self.rank} stops with them."
            )

    def check_same_features(self, n_features: int) -> None:
        """Raise on every rank unless all pass rows of the same width."""
        widths = [int(w) for w in self._all_gather(torch.tensor([n_features]))]
        if len(set(widths)) > 1:
            raise ValueError(
                f"The ranks passed X with different numbers of features: {widths} (by "
                "rank). Each rank passes its own rows of the same features."
            )

    def row_counts(self, n_rows: int) -> tuple[int, ...]:
        """Every rank's number of rows, in rank order."""
        if not self.distributed:
            return (n_rows,)
        return tuple(int(n) for n in self._all_gather(torch.tensor([n_rows])))

    # ------------------------------------------------------------------
    # Training

    def seed(self, seed: int) -> int:
        """A seed of this rank's stream drawn from a fit's `seed`: the same
        in one process, distinct on each rank."""
        return seed + (self.rank << 32)

    def random_state(self, seed: int) -> np.random.RandomState:
        """A NumPy generator of this rank's own draws (e.g. its validation
        rows) from a `seed` drawn alike on every rank."""
        return np.random.RandomState([seed, self.rank])

    def place(self, device: torch.device) -> torch.device:
        """`device` for this rank: a GPU without an index is this rank's GPU."""
        if self.distributed and device.type == "cuda" and device.index is None:
            return torch.device("cuda", local_gpu())
        return device

    def data_parallel(self, network: nn.Module):
        """The per-sample loss of `network` (its ``loss`` method), with
        gradients all-reduced over the ranks by ``DistributedDataParallel``."""
        if not self.distributed:
            return network.loss
        device = next(network.parameters()).device
        device_ids = None if device.type == "cpu" else [device.index]
        return nn.parallel.DistributedDataParallel(_Loss(network), device_ids=device_ids)

    def average_gradients(self, optimizer: torch.optim.Optimizer, weight: float) -> None:
        """Replace the gradients of `optimizer`'s parameters by their weighted
        mean over the ranks (each rank's times `weight`, as
        :meth:`steps` gives it), in one all-reduce; nothing in one process."""
        if not self.distributed:
            return
        grads = [
            p.grad for group in optimizer.param_groups for p in group["params"]
            if p.grad is not None
        ]  # fmt: skip
        flat = torch.cat([grad.reshape(-1) for grad in grads]) * (weight / self.size)
        dist.all_reduce(flat)
        for grad, mean in zip(grads, flat.split([grad.numel() for grad in grads])):
            grad.copy_(mean.view_as(grad))

    def steps(self, order: torch.Tensor, batch_size: int, counts: tuple[int, ...]):
        """The positions and the gradient weight of this rank's share of each
        step of an epoch over `order` (its rows, shuffled).

        In one process: batches of `batch_size` rows, weight 1. On several
        ranks, `batch_size` is the global batch: every rank takes the same
        number of steps (one row of each rank at least), its rows split
        into near-equal parts, and weighs its part's mean loss so that the
        all-reduced gradient is the mean over the step's rows on all ranks.
        """
        if not self.distributed:
            for positions in order.split(batch_size):
                yield positions, 1.0
            return
        n_steps = max(1, min(-(-sum(counts) // batch_size), min(counts)))
        shares = np.array([_split_sizes(count, n_steps) for count in counts])
        step_rows = shares.sum(axis=0)
        for positions, share, rows in zip(torch.tensor_split(order, n_steps),
                                          shares[self.rank], step_rows):  # fmt: skip
            weight = self.size * share / rows
            yield positions, 1.0 if weight == 1 else float(weight)


class _Loss(nn.Module):
    """A network's ``loss`` as a forward, which DDP wraps."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, *args):
        return self.network.loss(*args)


def _split_sizes(n: int, parts: int) -> list[int]:
    """The sizes of ``torch.tensor_split`` of `n` items into `parts`."""
    return [n // parts + (i < n % parts) for i in range(parts)]


def local_gpu() -> int:
    """This process's GPU in a process group: ``LOCAL_RANK`` (set by
    ``torchrun``), else the rank modulo the GPUs of the machine."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    return dist.get_rank() % max(1, torch.cuda.device_count())


LOCAL = Ranks()
