"""The adversarial autoencoder's training step: three players per batch."""

import torch

from skae._adversarial_training import adversarial_step
from skae._batches import Batches
from skae._layers import mlp
from skae._losses import Objective
from skae._networks import AdversarialAutoencoder
from skae._optimizer import make_optimizer
from skae._training import TrainingOptions


def _parameters(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(before, module):
    return [not torch.equal(a, b) for a, b in zip(before, module.parameters())]


# One step moves every player, returns the batch's reconstruction loss, and
# gives the generator the reconstruction's rate times the adversarial weight.
def test_one_step_moves_the_three_players():
    torch.manual_seed(0)
    network = AdversarialAutoencoder(
        mlp([6, 8, 2], "relu"), mlp([2, 8, 6], "relu"), "mse", 2, (8,), "relu"
    )
    optimizer = make_optimizer(network, 0.01, 0.0, torch.device("cpu"))
    x = torch.randn(16, 6)
    step = adversarial_step(
        network, optimizer, Batches(x.numpy(), torch.device("cpu")), TrainingOptions(1, 16)
    )
    before = {
        name: _parameters(getattr(network, name))
        for name in ("encoder", "decoder", "discriminator")
    }
    expected = network.loss(x, x).mean().detach()
    loss = step(x, Objective(adversarial_weight=0.5), torch.Generator().manual_seed(0), 1.0)
    assert torch.allclose(loss, expected)
    for name, values in before.items():
        assert all(_changed(values, getattr(network, name))), name
    assert optimizer["generator"].param_groups[0]["lr"] == 0.005
    # The encoder took two steps (reconstruction, generator), each with its own moments.
    assert optimizer["reconstruction"].state_dict()["state"][0]["step"] == 1
    assert optimizer["generator"].state_dict()["state"][0]["step"] == 1


# The discriminator learns: after some steps it tells prior draws from codes
# far from the prior better than at the start.
def test_the_discriminator_learns():
    torch.manual_seed(0)
    network = AdversarialAutoencoder(
        mlp([6, 2], "relu"), mlp([2, 6], "relu"), "mse", 2, (16,), "relu"
    )
    optimizer = make_optimizer(network, 0.01, 0.0, torch.device("cpu"))
    codes, draws = torch.randn(256, 2) * 4 + 3, torch.randn(256, 2)
    start = network.discriminator_loss(codes, draws).item()
    for _ in range(200):
        optimizer["discriminator"].zero_grad()
        network.discriminator_loss(codes, draws).backward()
        optimizer["discriminator"].step()
    assert network.discriminator_loss(codes, draws).item() < 0.5 * start
