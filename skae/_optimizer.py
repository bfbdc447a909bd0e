"""The optimiser: Adam, its step on one thread for small networks, and the
clearing of negligible weights and moments.

Plain torch, used by the training engine (:mod:`skae._training`) and by
loading (:mod:`skae._persistence`), which rebuilds the optimiser of a network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from skae._threads import TORCH_CALLS


def make_optimizer(
    network: nn.Module, learning_rate: float, weight_decay: float, device: torch.device
) -> torch.optim.Optimizer | OptimizerParts:
    """The Adam optimiser of `network`, on `device`; for a network with
    ``optimized_parts`` (an adversarial autoencoder's players), one Adam per part."""
    # The fused Adam step is one kernel per step instead of a Python loop
    # over parameters; it exists for CPU and CUDA tensors.
    fused = (device.type in ("cpu", "cuda")) or None

    def adam(parameters) -> torch.optim.Adam:
        return torch.optim.Adam(
            parameters, lr=learning_rate, weight_decay=weight_decay, fused=fused
        )

    if hasattr(network, "optimized_parts"):
        return OptimizerParts({name: adam(p) for name, p in network.optimized_parts().items()})
    return adam(network.parameters())


class OptimizerParts:
    """Several optimisers, one per part of a network, seen by the training
    engine, the fitted-state copies and the safe format as one: their
    parameter groups and states side by side, their state dicts by name."""

    def __init__(self, parts: dict[str, torch.optim.Optimizer]) -> None:
        self.parts = parts

    def __getitem__(self, name: str) -> torch.optim.Optimizer:
        return self.parts[name]

    @property
    def param_groups(self) -> list[dict]:
        return [group for part in self.parts.values() for group in part.param_groups]

    @property
    def state(self) -> dict:
        return {(name, p): s for name, part in self.parts.items() for p, s in part.state.items()}

    def state_dict(self) -> dict:
        return {name: part.state_dict() for name, part in self.parts.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, part in self.parts.items():
            part.load_state_dict(state[name])


# Elements below which torch runs an element-wise kernel on one thread
# (ATen's ``GRAIN_SIZE``).
_GRAIN_SIZE = 32768


def optimizer_step(optimizer: torch.optim.Optimizer) -> Callable[[], object]:
    """``optimizer.step``, on one thread where the parameter tensors are small.

    The fused CPU Adam kernel opens a parallel region for every parameter
    tensor however small (its grain size is 0), where torch's other
    element-wise kernels stay on one thread below ``_GRAIN_SIZE`` elements;
    each region waits for all the intra-op threads, which on busy cores costs
    far more than the update (benchmarks/README.md, "Reading the numbers",
    shared cores). So the step runs on one thread when the parameter tensors
    hold fewer than ``_GRAIN_SIZE`` elements on average, torch's own rule
    applied to the whole step. The update is element-wise and the tensors
    are split on vector boundaries, so the result is bit for bit the same.

    torch's thread count is the whole process's, so the step does this only
    while this fit is skae's one computation with torch
    (:data:`skae._threads.TORCH_CALLS`).
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    fused = any(group.get("fused") for group in optimizer.param_groups)
    on_cpu = all(p.device.type == "cpu" for p in params)
    small = sum(p.numel() for p in params) < _GRAIN_SIZE * len(params)
    if not (fused and on_cpu and small):
        return optimizer.step

    def step() -> None:
        with TORCH_CALLS.lock:  # nothing starts while the count is lowered
            if TORCH_CALLS.count == 1:
                threads = torch.get_num_threads()
                torch.set_num_threads(1)
                try:
                    optimizer.step()
                finally:
                    torch.set_num_threads(threads)
                return
        optimizer.step()

    return step


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
    arithmetic is many times slower (benchmarks/README.md, "Weight decay and
    subnormal floats").
    """
    with torch.no_grad():
        for tensor in tensors:
            if tensor.is_floating_point():
                tensor.masked_fill_(tensor.abs() < threshold, 0)


def moment_tensors(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The optimiser's per-parameter state tensors (Adam's moments)."""
    return [
        value
        for state in optimizer.state.values()
        for value in state.values()
        if isinstance(value, torch.Tensor) and value.dim() > 0
    ]
