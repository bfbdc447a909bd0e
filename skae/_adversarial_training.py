"""The adversarial autoencoder's training step: three players' steps per batch.

Plain torch, a :data:`~skae._training.StepFactory` for the one training loop
(:func:`skae._training.train`), which keeps early stopping (on the
validation reconstruction), divergence checks and progress as for the other
models. Per batch, as Makhzani et al. (2016, section 2) alternate them:

1. the reconstruction step updates the encoder and the decoder;
2. the discriminator step teaches the discriminator to tell the codes from
   draws of the N(0, I) prior;
3. the generator step updates the encoder to make its codes pass for prior
   draws.

Each step has its own Adam state (:class:`~skae._optimizer.OptimizerParts`).
"""

from __future__ import annotations

import contextlib

import torch

from skae._batches import Batches
from skae._losses import Objective, corrupt, trimmed_mean
from skae._networks import AdversarialAutoencoder
from skae._optimizer import OptimizerParts, optimizer_step
from skae._training import TrainingOptions, TrainingStep


def adversarial_step(
    network: AdversarialAutoencoder,
    optimizer: OptimizerParts,
    batches: Batches,
    options: TrainingOptions,
) -> TrainingStep:
    """The three steps on each batch; the batch's reconstruction loss is what
    the loop records and checks."""
    autocast = (
        torch.autocast(batches.device.type, dtype=torch.bfloat16)
        if options.mixed_precision
        else contextlib.nullcontext()
    )
    players = ("reconstruction", "discriminator", "generator")
    steps = {name: optimizer_step(optimizer[name]) for name in players}

    def take(name: str, loss: torch.Tensor, weight: float) -> None:
        optimizer[name].zero_grad(set_to_none=True)
        loss.backward()
        # Three players' steps per batch, which one DistributedDataParallel
        # forward cannot drive: their gradients are all-reduced by hand.
        batches.ranks.average_gradients(optimizer[name], weight)
        steps[name]()

    def train_on(x: torch.Tensor, objective: Objective, generator: torch.Generator, weight):
        x_in = corrupt(x, options.noise, options.noise_level, generator, batches.scaling)
        with autocast:
            losses = network.loss(x_in, x, generator, objective)
            reconstruction = trimmed_mean(losses, options.trim_fraction)
        take("reconstruction", reconstruction, weight)
        with autocast:
            codes = network.encode(x_in)
        draws = torch.randn(codes.shape, generator=generator, device=codes.device)
        take("discriminator", network.discriminator_loss(codes.detach(), draws), weight)
        # The generator's rate follows the reconstruction's (its schedule
        # included); the reconstruction step alone applies the weight decay.
        rate = optimizer["reconstruction"].param_groups[0]["lr"] * objective.adversarial_weight
        for group in optimizer["generator"].param_groups:
            group["lr"], group["weight_decay"] = rate, 0.0
        take("generator", network.generator_loss(codes), weight)
        return reconstruction.detach()

    return train_on
