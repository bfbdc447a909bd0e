"""The training engine: one loop that trains any network of :mod:`skae._networks`.

Plain torch; it knows nothing of estimators. The loop streams
:class:`~skae._batches.Batches`, and a *training step* (by default
:func:`gradient_step`: one optimiser step on the corrupted, trimmed loss) does
the work on each batch, so that a model with another step (two players, or a
network wrapped for distributed training) supplies its own.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from skae._batches import Batches, map_batches
from skae._history import History, closing_line
from skae._losses import Objective, corrupt, trimmed_mean
from skae._optimizer import (
    NEGLIGIBLE_MOMENT,
    NEGLIGIBLE_WEIGHT,
    moment_tensors,
    optimizer_step,
    zero_negligible,
)


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
    # The loss settings; each epoch trains on objective.at_epoch(epoch) (a KL
    # warm-up changes it), and every evaluation measures the objective itself.
    objective: Objective = field(default_factory=Objective)
    # What the loss measures and in which units, said once by a verbose fit.
    loss_units: str = "the network's loss"


# A training step: trains on one batch, with the epoch's objective, the
# generator of the corruption and posterior draws, and the weight of this
# rank's batch in the step's gradient (1 in one process: see
# skae._distributed.Ranks.steps); returns the batch's loss, detached. Made by
# a StepFactory once per call of `train`.
TrainingStep = Callable[[torch.Tensor, Objective, torch.Generator, float], torch.Tensor]
StepFactory = Callable[[nn.Module, torch.optim.Optimizer, Batches, "TrainingOptions"], TrainingStep]


def gradient_step(
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Batches,
    options: TrainingOptions,
) -> TrainingStep:
    """The default step: one optimiser step on the trimmed mean of the
    network's loss of its corrupted inputs."""
    autocast = (
        torch.autocast(batches.device.type, dtype=torch.bfloat16)
        if options.mixed_precision
        else contextlib.nullcontext()
    )
    step = optimizer_step(optimizer)
    # Across ranks, through DistributedDataParallel (network.loss in one process).
    loss_of = batches.ranks.data_parallel(network)

    def train_on(x: torch.Tensor, objective: Objective, generator: torch.Generator, weight):
        x_in = corrupt(x, options.noise, options.noise_level, generator, batches.scaling)
        with autocast:
            losses = loss_of(x_in, x, generator, objective)
            loss = trimmed_mean(losses, options.trim_fraction)
        optimizer.zero_grad(set_to_none=True)
        (loss if weight == 1 else loss * weight).backward()
        step()
        return loss.detach()

    return train_on


# The adaptive schedule divides the learning rate by this at each plateau, and
# stops at or below the floor (scikit-learn's MLP values).
LEARNING_RATE_DIVISOR, LEARNING_RATE_FLOOR = 5.0, 1e-6


def _epoch(
    step: TrainingStep,
    batches: Batches,
    options: TrainingOptions,
    objective: Objective,
    shuffle: torch.Generator,
    draws: torch.Generator,
) -> tuple[float, float]:
    """One pass over `batches`; the mean training loss, and the first batch's
    (before its step), over the rows of all ranks."""
    # Summed on the device: one host sync per epoch, not one per step.
    total = torch.zeros((), device=batches.device)
    order = torch.randperm(len(batches), generator=shuffle)
    first = None
    ranks = batches.ranks
    for positions, weight in ranks.steps(order, options.batch_size, batches.counts):
        x = batches.take(positions)
        loss = step(x, objective, draws, weight)
        total += loss * len(x)
        first = (loss, len(x)) if first is None else first
    if not ranks.distributed:
        return total.item() / len(batches), first[0].item()
    (first_loss, n_first), n_rows = first, len(batches)
    sums = torch.stack([total, first_loss * n_first]).double().cpu().numpy()
    total, first_total, n_rows, n_first = ranks.reduce_array(np.r_[sums, n_rows, n_first])
    return total / n_rows, first_total / n_first


def evaluate_loss(
    network: nn.Module, batches: Batches, options: TrainingOptions, seed: int
) -> float:
    """Mean per-sample loss in evaluation mode, with inputs corrupted as in training.

    The generator is seeded alike on every call, so that epochs are compared
    on the same corruption (and, for a VAE, the same posterior draws).
    """
    network.eval()
    generator = torch.Generator(device=batches.device).manual_seed(batches.ranks.seed(seed))

    def loss(x: torch.Tensor) -> torch.Tensor:
        x_in = corrupt(x, options.noise, options.noise_level, generator, batches.scaling)
        return network.loss(x_in, x, generator, options.objective)

    batch_size = options.evaluation_batch_size or 4 * options.batch_size
    losses = map_batches(loss, batches, batch_size).double()
    if batches.ranks.distributed:  # the trimmed mean of the rows of all ranks
        losses = torch.from_numpy(batches.ranks.gather_rows(losses.numpy()))
    return trimmed_mean(losses, options.trim_fraction).item()


def train(
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_batches: Batches,
    validation_batches: Batches | None,
    options: TrainingOptions,
    history: History,
    seed: int,
    make_step: StepFactory = gradient_step,
) -> History:
    """Train `network` in place for up to ``options.max_epochs`` epochs, with
    the training step that `make_step` makes (:func:`gradient_step` by default).

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
        network, optimizer, train_batches, validation_batches, options, history, seed, make_step
    )
    history.converged = False
    if options.verbose == 1 or (options.verbose >= 2 and options.max_epochs > 1):
        print(f"Loss: {options.loss_units}.", file=sys.stderr)
    with tqdm(
        total=options.max_epochs, desc="epochs", file=sys.stderr, disable=options.verbose != 1
    ) as progress:
        for _ in range(options.max_epochs):
            stalled = run.epoch()
            _report(progress, options.verbose, history)
            if stalled and not run.lower_learning_rate():
                history.converged = True
                break
    if run.best_state is not None:
        network.load_state_dict(run.best_state)
    if options.verbose and (history.converged or run.best_state is not None):
        print(
            closing_line(
                history, options.tol, options.n_iter_no_change, options.max_epochs, run.start_epoch
            ),
            file=sys.stderr,
        )
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
    make_step: StepFactory

    def __post_init__(self) -> None:
        self.step = self.make_step(self.network, self.optimizer, self.train_batches, self.options)
        # Each rank shuffles its own rows and draws its own noise.
        ranks = self.train_batches.ranks
        self.shuffle_generator = torch.Generator().manual_seed(ranks.seed(self.seed))
        # Drives the input corruption and, for a VAE, the posterior draws.
        device = self.train_batches.device
        self.draw_generator = torch.Generator(device=device).manual_seed(ranks.seed(self.seed + 1))
        self.initial_state = copy_state(self.network.state_dict())
        self.initial_optimizer_state = copy_state(self.optimizer.state_dict())
        # The loss before this call's first step (not an earlier call's: a
        # partial_fit stream's chunks may differ in scale), first on one batch.
        self.start_loss: float | None = None
        self.start_on_all_rows = False
        self.best_state = None
        history = self.history
        self.start_epoch = history.n_iter
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
        objective_changed = options.objective.changes_at(epoch)
        if objective_changed and self.validation_batches is None:
            # A training loss of a new objective cannot be compared with the
            # best so far; the validation loss always measures the real one.
            history.restart()
        self.network.train()
        loss, first_batch_loss = _epoch(
            self.step,
            self.train_batches,
            options,
            options.objective.at_epoch(epoch),
            self.shuffle_generator,
            self.draw_generator,
        )
        if self.start_loss is None:
            self.start_loss = first_batch_loss
        zero_negligible(self.network.parameters(), NEGLIGIBLE_WEIGHT)
        zero_negligible(moment_tensors(self.optimizer), NEGLIGIBLE_MOMENT)
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
                self.best_state = copy_state(self.network.state_dict())
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
    current = copy_state(network.state_dict())
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


def _lower_learning_rate(optimizer: torch.optim.Optimizer, options: TrainingOptions) -> bool:
    """Divide the learning rate for the next plateau; False once it is at the floor."""
    if optimizer.param_groups[0]["lr"] <= LEARNING_RATE_FLOOR:
        return False
    for group in optimizer.param_groups:
        group["lr"] /= LEARNING_RATE_DIVISOR
    if options.verbose >= 2:
        print(f"Learning rate set to {optimizer.param_groups[0]['lr']:.3g}", file=sys.stderr)
    return True


def copy_state(state):
    """A copy of a ``state_dict`` that training does not change: its tensors
    cloned, the rest shared or copied. A fraction of ``copy.deepcopy``'s cost,
    which ``partial_fit`` pays on every call."""
    if isinstance(state, dict):
        return {key: copy_state(value) for key, value in state.items()}
    if isinstance(state, list):
        return [copy_state(value) for value in state]
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
