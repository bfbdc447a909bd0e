"""The training engine: one loop that trains any network of :mod:`skae._networks`.

Plain torch; it knows nothing of estimators. Mini-batches are gathered by
indexing in-memory tensors (no per-sample ``Dataset`` and collation) and moved
to the device one at a time, so a data set is never copied to the GPU whole.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from tqdm.auto import tqdm


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
    offset, scale : ndarray of shape (n_features,), default=None
        Each batch becomes ``(batch - offset) / scale``. The offset is
        subtracted on the host in the data's precision, as the batch is
        converted to float32: converted first, a feature whose offset dwarfs
        its spread (a timestamp) would lose that spread to rounding. The
        division runs on the device. `offset` and `scale` are kept as float32
        tensors on the device, for the corruption of denoising.
    """

    def __init__(
        self,
        data: np.ndarray | sp.spmatrix,
        device: torch.device,
        rows: np.ndarray | None = None,
        offset: np.ndarray | None = None,
        scale: np.ndarray | None = None,
    ) -> None:
        self.sparse = sp.issparse(data)
        host_dtype = np.float64 if data.dtype == np.float64 else np.float32
        self.data = data.tocsr() if self.sparse else _as_tensor(data)
        self.device = device
        self.rows = None if rows is None else torch.as_tensor(rows, dtype=torch.long)
        self.offset = self.scale = self._host_offset = None
        if offset is not None:
            self._host_offset = np.asarray(offset, dtype=host_dtype)
            self.offset, self.scale = (
                torch.as_tensor(a, dtype=torch.float32, device=device) for a in (offset, scale)
            )
        # Pinned host memory makes the copy to a GPU asynchronous.
        self.pin = device.type == "cuda"

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
        if self._host_offset is not None:  # centred and converted in one pass
            centred = torch.empty(batch.shape, dtype=torch.float32, pin_memory=self.pin)
            # NumPy casts to the output in small buffers, where torch.sub(out=)
            # would first make a float64 copy of a float64 batch. Values beyond
            # float32 become inf, which the estimators report.
            with np.errstate(over="ignore"):
                np.subtract(
                    batch.numpy(), self._host_offset, out=centred.numpy(), casting="same_kind"
                )
            batch = centred
        elif self.pin:
            batch = batch.pin_memory()
        batch = batch.to(self.device, torch.float32, non_blocking=True)
        return batch if self.scale is None else batch / self.scale

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
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        data = np.asarray(data)
        if any(stride < 0 for stride in data.strides):  # e.g. X[::-1]; torch refuses those
            data = np.ascontiguousarray(data)
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
    the C heap, which then holds on to gigabytes: scoring 100,000 rows of 100
    features with a VAE's 1,000 importance samples raised the peak memory by
    8 GB that way, by 51 MB written in place.
    """
    outputs, start = out, 0
    with torch.inference_mode():
        for batch in batches.iterate(batch_size):
            values = function(batch)
            if outputs is None:
                outputs = torch.empty((len(batches), *values.shape[1:]), dtype=values.dtype)
            outputs[start : start + len(values)] = values
            start += len(values)
    return outputs


def fold_batches(
    function: Callable[[torch.Tensor], torch.Tensor],
    combine: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batches: Batches,
    batch_size: int,
) -> torch.Tensor:
    """``function`` of each batch under ``inference_mode``, folded by ``combine``
    as it goes (e.g. ``torch.add`` for a sum), on the batches' device."""
    result = None
    with torch.inference_mode():
        for batch in batches.iterate(batch_size):
            value = function(batch)
            result = value if result is None else combine(result, value)
    return result


def corrupt(
    x: torch.Tensor,
    noise: str | None,
    level: float,
    generator: torch.Generator,
    offset: torch.Tensor | None = None,
    scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """Denoising corruption of a batch scaled as ``(X - offset) / scale``,
    measured in the units of X: Gaussian noise of standard deviation `level`,
    or a random fraction `level` of the entries set to 0 (masking noise,
    Vincent et al., 2010), e.g. pixels switched off."""
    if noise is None:
        return x
    draws = torch.empty_like(x)
    if noise == "gaussian":
        std = level if scale is None else level / scale
        return x + std * draws.normal_(generator=generator)
    zero = torch.zeros((), device=x.device) if offset is None else -offset / scale
    return torch.where(draws.uniform_(generator=generator) >= level, x, zero)


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


@dataclass
class TrainingOptions:
    max_epochs: int
    batch_size: int
    # Rows per batch of the validation loss; larger than training batches for
    # speed, unless the loss depends on the batch (a t-SNE term).
    evaluation_batch_size: int | None = None
    n_iter_no_change: int = 10
    tol: float = 1e-4
    noise: str | None = None
    noise_level: float = 0.0
    mixed_precision: bool = False
    trim_fraction: float = 0.0
    adaptive_learning_rate: bool = False
    verbose: int = 0
    # Called with the epoch's index before it starts; returns True when it has
    # changed the training objective (e.g. a KL warm-up step).
    on_epoch_start: Callable[[int], bool] | None = None


# The adaptive schedule divides the learning rate by this at each plateau, and
# stops at or below the floor (scikit-learn's MLP values).
LEARNING_RATE_DIVISOR, LEARNING_RATE_FLOOR = 5.0, 1e-6

# Elements below which torch runs an element-wise kernel on one thread
# (ATen's ``GRAIN_SIZE``).
_GRAIN_SIZE = 32768


def _optimizer_step(optimizer: torch.optim.Optimizer) -> Callable[[], object]:
    """``optimizer.step``, on one thread where the parameter tensors are small.

    The fused CPU Adam kernel opens a parallel region for every parameter
    tensor however small (its grain size is 0), where torch's other
    element-wise kernels stay on one thread below ``_GRAIN_SIZE`` elements.
    Each region waits for all the intra-op threads: on idle cores that costs
    more than updating a small tensor, and on shared ones (``pytest -n 2``,
    other processes) a scheduler time slice, so that on two busy cores the
    step of a 20-64-32-4 autoencoder took ~100 ms instead of ~0.1 ms. So the
    step runs on one thread when the parameter tensors hold fewer than
    ``_GRAIN_SIZE`` elements on average, torch's own rule applied to the
    whole step. The update is element-wise and the tensors are split on
    vector boundaries, so the result is bit for bit the same.

    torch's thread count is the whole process's, so the step does this only
    while no other fit trains (`_ACTIVE_FITS`): fits in concurrent threads
    (a search's threading backend) would otherwise run some of their
    operations on one thread, and round differently, or keep a count that
    another fit had lowered.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    fused = any(group.get("fused") for group in optimizer.param_groups)
    on_cpu = all(p.device.type == "cpu" for p in params)
    small = sum(p.numel() for p in params) < _GRAIN_SIZE * len(params)
    if not (fused and on_cpu and small):
        return optimizer.step

    def step() -> None:
        with _ACTIVE_FITS.lock:  # no fit starts while the count is lowered
            if _ACTIVE_FITS.count == 1:
                threads = torch.get_num_threads()
                torch.set_num_threads(1)
                try:
                    optimizer.step()
                finally:
                    torch.set_num_threads(threads)
                return
        optimizer.step()

    return step


class _ActiveFits:
    """How many calls of `train` are running in this process, under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        with self.lock:
            self.count += 1
        try:
            yield
        finally:
            with self.lock:
                self.count -= 1


_ACTIVE_FITS = _ActiveFits()


def _epoch(
    network: nn.Module,
    batches: Batches,
    optimizer: torch.optim.Optimizer,
    options: TrainingOptions,
    shuffle: torch.Generator,
    noise: torch.Generator,
) -> tuple[float, float]:
    """One pass over `batches`; the mean training loss, and the first batch's
    (before its step)."""
    network.train()
    autocast = (
        torch.autocast(batches.device.type, dtype=torch.bfloat16)
        if options.mixed_precision
        else contextlib.nullcontext()
    )
    # Summed on the device: one host sync per epoch, not one per step.
    total = torch.zeros((), device=batches.device)
    order = torch.randperm(len(batches), generator=shuffle)
    step = _optimizer_step(optimizer)
    first = None
    for x in batches.iterate(options.batch_size, order):
        x_in = corrupt(x, options.noise, options.noise_level, noise, batches.offset, batches.scale)
        with autocast:
            loss = trimmed_mean(network.loss(x_in, x, noise), options.trim_fraction)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        step()
        total += loss.detach() * len(x)
        first = loss.detach() if first is None else first
    return total.item() / len(batches), first.item()


def trimmed_mean(losses: torch.Tensor, fraction: float) -> torch.Tensor:
    """Mean of all but the `fraction` largest per-sample losses.

    The worst-fitted samples of a batch, the likely outliers, then do not pull
    the model towards them (least trimmed squares, Rousseeuw, 1984), so they
    stay badly reconstructed and easy to flag.
    """
    if fraction == 0:
        return losses.mean()
    keep = max(1, math.ceil((1 - fraction) * len(losses)))
    return losses.topk(keep, largest=False, sorted=False).values.mean()


def evaluate_loss(
    network: nn.Module, batches: Batches, options: TrainingOptions, seed: int
) -> float:
    """Mean per-sample loss in evaluation mode, with inputs corrupted as in training.

    The generator is seeded alike on every call, so that epochs are compared
    on the same corruption (and, for a VAE, the same posterior draws).
    """
    network.eval()
    generator = torch.Generator(device=batches.device).manual_seed(seed)

    def loss(x: torch.Tensor) -> torch.Tensor:
        x_in = corrupt(
            x, options.noise, options.noise_level, generator, batches.offset, batches.scale
        )
        return network.loss(x_in, x, generator)

    batch_size = options.evaluation_batch_size or 4 * options.batch_size
    losses = map_batches(loss, batches, batch_size).double()
    return trimmed_mean(losses, options.trim_fraction).item()


def train(
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_batches: Batches,
    validation_batches: Batches | None,
    options: TrainingOptions,
    history: History,
    seed: int,
) -> History:
    """Train `network` in place for up to ``options.max_epochs`` epochs.

    Convergence is checked like scikit-learn's ``MLPRegressor``: training
    stops once the monitored loss (the validation loss with early stopping,
    else the training loss) has not improved by `tol` for `n_iter_no_change`
    epochs. With early stopping the weights of the best epoch are restored.
    With ``options.adaptive_learning_rate`` a plateau divides the learning
    rate instead, and training goes on (from the best weights, with early
    stopping) until the rate reaches its floor.

    Raises
    ------
    FloatingPointError
        If the loss becomes NaN or infinite, or grows by orders of magnitude
        (see `DIVERGENCE_GROWTH`); the network and the optimizer are first
        restored to their state before this call, so a fitted model is never
        left broken.
    """
    run = _TrainingRun(
        network, optimizer, train_batches, validation_batches, options, history, seed
    )
    history.converged = False
    with (
        _ACTIVE_FITS.running(),
        tqdm(
            total=options.max_epochs, desc="epochs", file=sys.stderr, disable=options.verbose != 1
        ) as progress,
    ):
        for _ in range(options.max_epochs):
            stalled = run.epoch()
            _report(progress, options.verbose, history)
            if stalled and not run.lower_learning_rate():
                history.converged = True
                break
    if run.best_state is not None:
        network.load_state_dict(run.best_state)
    network.eval()
    return history


@dataclass
class _TrainingRun:
    """One call of `train`: its random streams, and the states that early
    stopping and a diverging fit go back to."""

    network: nn.Module
    optimizer: torch.optim.Optimizer
    train_batches: Batches
    validation_batches: Batches | None
    options: TrainingOptions
    history: History
    seed: int

    def __post_init__(self) -> None:
        self.shuffle_generator = torch.Generator().manual_seed(self.seed)
        # Drives the input corruption and, for a VAE, the posterior draws.
        device = self.train_batches.device
        self.draw_generator = torch.Generator(device=device).manual_seed(self.seed + 1)
        self.initial_state = _snapshot(self.network.state_dict())
        self.initial_optimizer_state = _snapshot(self.optimizer.state_dict())
        # The loss before this call's first step (not an earlier call's: a
        # partial_fit stream's chunks may differ in scale), first on one batch.
        self.start_loss: float | None = None
        self.start_on_all_rows = False
        self.best_state = None
        history = self.history
        if self.validation_batches is not None:
            # The starting point is a candidate too (with init='pca', the PCA
            # solution), so early stopping never returns something worse on
            # validation. The split may be new (warm_start), so earlier bests
            # do not carry over.
            history.best_loss = self._validation_loss()
            history.best_epoch, history.n_epochs_no_improvement = history.n_iter, 0
            self.best_state = self.initial_state
        elif history.monitors_validation:  # a training loss cannot be compared with it
            history.restart()
        history.monitors_validation = self.validation_batches is not None

    def epoch(self) -> bool:
        """Train one epoch and record it; True when the monitored loss has
        stopped improving."""
        options, history = self.options, self.history
        epoch = history.n_iter
        objective_changed = options.on_epoch_start is not None and options.on_epoch_start(epoch)
        if objective_changed and self.validation_batches is None:
            # A training loss of a new objective cannot be compared with the
            # best so far; the validation loss always measures the real one.
            history.restart()
        loss, first_batch_loss = _epoch(
            self.network,
            self.train_batches,
            self.optimizer,
            options,
            self.shuffle_generator,
            self.draw_generator,
        )
        if self.start_loss is None:
            self.start_loss = first_batch_loss
        zero_negligible(self.network.parameters(), NEGLIGIBLE_WEIGHT)
        zero_negligible(_state_tensors(self.optimizer), NEGLIGIBLE_MOMENT)
        monitored = loss if self.validation_batches is None else self._validation_loss()
        self._check_divergence(loss, monitored, epoch)
        history.loss_curve.append(loss)
        if self.validation_batches is not None:
            history.validation_loss_curve.append(monitored)
        self._track_best(monitored, epoch)
        if objective_changed:  # convergence is judged once the objective is fixed
            history.n_epochs_no_improvement = 0
        return history.n_epochs_no_improvement >= options.n_iter_no_change

    def _validation_loss(self) -> float:
        return evaluate_loss(self.network, self.validation_batches, self.options, self.seed + 2)

    def _check_divergence(self, loss: float, monitored: float, epoch: int) -> None:
        """Raise FloatingPointError, with the starting state restored, if the fit diverged."""
        problem = _divergence(loss, monitored, self.start_loss)
        finite = np.isfinite(loss) and np.isfinite(monitored)
        if problem is not None and finite and not self.start_on_all_rows:
            # The loss grew past the first batch's: that batch may miss the few
            # samples that dominate the loss, so the starting network's loss
            # on every training row decides.
            self.start_loss = _starting_loss(
                self.network, self.initial_state, self.train_batches, self.options, self.seed
            )
            self.start_on_all_rows = True
            problem = _divergence(loss, monitored, self.start_loss)
        if problem is not None:
            self.network.load_state_dict(self.initial_state)
            self.optimizer.load_state_dict(self.initial_optimizer_state)
            raise FloatingPointError(
                f"Training diverged at epoch {epoch + 1}: {problem}. Try a smaller "
                "learning_rate_init, or check that the input is scaled (scaling='standard')."
            )

    def _track_best(self, monitored: float, epoch: int) -> None:
        history = self.history
        if monitored < history.best_loss - self.options.tol:
            history.best_loss, history.best_epoch = monitored, epoch + 1
            history.n_epochs_no_improvement = 0
            if self.validation_batches is not None:
                self.best_state = _snapshot(self.network.state_dict())
        else:
            history.n_epochs_no_improvement += 1

    def lower_learning_rate(self) -> bool:
        """At a plateau, with an adaptive learning rate, lower it and go on
        from the best weights; False when it is not adaptive or at its floor."""
        if not (
            self.options.adaptive_learning_rate
            and _lower_learning_rate(self.optimizer, self.options)
        ):
            return False
        self.history.n_epochs_no_improvement = 0
        if self.best_state is not None:
            self.network.load_state_dict(self.best_state)
        return True


# A training loss this many times its starting magnitude (at least 1) above
# it has diverged: a fit that lowers its loss never comes near, while one
# whose steps overshoot grows it by orders of magnitude per epoch, and may
# stay finite (a saturated network) without ever recovering.
DIVERGENCE_GROWTH = 1e3


def _starting_loss(
    network: nn.Module, initial_state: dict, batches: Batches, options: TrainingOptions, seed: int
) -> float:
    """The mean loss over `batches` of the network in `initial_state`; the
    network is left as it was."""
    current = _snapshot(network.state_dict())
    network.load_state_dict(initial_state)
    try:
        return evaluate_loss(network, batches, options, seed)
    finally:
        network.load_state_dict(current)


def _divergence(loss: float, monitored: float, start_loss: float) -> str | None:
    """What shows that training diverged, or None."""
    if not np.isfinite(loss):
        return f"the training loss became {loss}"
    if not np.isfinite(monitored):
        return f"the validation loss became {monitored}"
    if loss > start_loss + DIVERGENCE_GROWTH * max(abs(start_loss), 1.0):
        return f"the training loss grew from {start_loss:.4g} to {loss:.4g}"
    return None


# Magnitudes below which a weight or an Adam moment is set to zero (see
# `zero_negligible`): a weight of 1e-15 changes no output of a float32
# network whose weights matter, and a moment of 1e-30 no step, where Adam's
# eps is 1e-8.
NEGLIGIBLE_WEIGHT, NEGLIGIBLE_MOMENT = 1e-15, 1e-30


def zero_negligible(tensors: Iterable[torch.Tensor], threshold: float) -> None:
    """Set the entries of `tensors` smaller than `threshold` in magnitude to zero, in place.

    Weight decay (``alpha``) pulls the weights that get no gradient, such as
    those of dead ReLU units, and their Adam moments towards zero until they,
    and the activations they produce, are subnormal floats, on which CPU
    arithmetic is many times slower. A conv VAE with ``alpha=1e-2`` trained on
    2000 MNIST images went from 0.5 s per epoch to 0.9 s after 60 epochs;
    clearing such values once per epoch kept it at 0.5 s, the time without
    weight decay.
    """
    with torch.no_grad():
        for tensor in tensors:
            if tensor.is_floating_point():
                tensor.masked_fill_(tensor.abs() < threshold, 0)


def _state_tensors(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The optimiser's per-parameter state tensors (Adam's moments)."""
    return [
        value
        for state in optimizer.state.values()
        for value in state.values()
        if isinstance(value, torch.Tensor) and value.dim() > 0
    ]


def _lower_learning_rate(optimizer: torch.optim.Optimizer, options: TrainingOptions) -> bool:
    """Divide the learning rate for the next plateau; False once it is at the floor."""
    if optimizer.param_groups[0]["lr"] <= LEARNING_RATE_FLOOR:
        return False
    for group in optimizer.param_groups:
        group["lr"] /= LEARNING_RATE_DIVISOR
    if options.verbose >= 2:
        print(f"Learning rate set to {optimizer.param_groups[0]['lr']:.3g}", file=sys.stderr)
    return True


def _snapshot(state):
    """A copy of a ``state_dict`` that training does not change: its tensors
    cloned, the rest shared or copied. A fraction of ``copy.deepcopy``'s cost,
    which ``partial_fit`` pays on every call."""
    if isinstance(state, dict):
        return {key: _snapshot(value) for key, value in state.items()}
    if isinstance(state, list):
        return [_snapshot(value) for value in state]
    return state.detach().clone() if isinstance(state, torch.Tensor) else state


def _report(progress: tqdm, verbose: int, history: History) -> None:
    values = {"loss": history.loss_curve[-1]}
    if history.validation_loss_curve:
        values["validation_loss"] = history.validation_loss_curve[-1]
    if verbose == 1:
        progress.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
        progress.update()
    elif verbose >= 2:
        text = ", ".join(f"{k} = {v:.6g}" for k, v in values.items())
        print(f"Epoch {history.n_iter}: {text}", file=sys.stderr)
