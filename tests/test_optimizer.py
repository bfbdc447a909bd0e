"""The optimiser: fused Adam, its one-thread step, negligible values cleared."""

import pytest
import torch

from conftest import FAST
from skae import AutoencoderTransformer
from skae._layers import mlp
from skae._networks import AdversarialAutoencoder
from skae._optimizer import (
    OptimizerParts,
    make_optimizer,
    moment_tensors,
    optimizer_step,
    zero_negligible,
)
from skae._threads import TORCH_CALLS


# Adam is fused on the CPU, with the given learning rate and weight decay.
def test_make_optimizer():
    network = mlp([3, 4, 2], "relu")
    optimizer = make_optimizer(network, 0.01, 0.5, torch.device("cpu"))
    group = optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"], group["fused"]) == (0.01, 0.5, True)


# A network with parts gets one Adam per part, seen together: their groups,
# their moments, and a state dict by part that loads back.
def test_optimizer_parts():
    network = AdversarialAutoencoder(
        mlp([6, 2], "relu"), mlp([2, 6], "relu"), "mse", 2, (4,), "relu"
    )
    optimizer = make_optimizer(network, 0.01, 0.0, torch.device("cpu"))
    assert isinstance(optimizer, OptimizerParts) and len(optimizer.param_groups) == 3
    network.loss(torch.ones(3, 6), torch.ones(3, 6)).sum().backward()
    optimizer["reconstruction"].step()
    assert len(moment_tensors(optimizer)) == 2 * 4  # the encoder's and decoder's weights, biases
    state = optimizer.state_dict()
    fresh = make_optimizer(network, 0.01, 0.0, torch.device("cpu"))
    fresh.load_state_dict(state)
    assert fresh["reconstruction"].state_dict()["state"][0]["step"] == 1


# Small networks step on one thread; large ones (here, 50,000 weights per
# tensor on average) with the optimizer's own step.
def test_one_thread_step_for_small_networks():
    small = make_optimizer(mlp([3, 4, 2], "relu"), 0.01, 0.0, torch.device("cpu"))
    large = make_optimizer(mlp([1000, 100], "relu"), 0.01, 0.0, torch.device("cpu"))
    assert optimizer_step(small) != small.step
    assert optimizer_step(large) == large.step


# The one-thread optimizer step lowers torch's thread count, which is the
# whole process's, only while no other fit trains: a fit in another thread
# would run some operations on one thread then, and round differently.
def test_one_thread_step_only_while_alone(small_X, monkeypatch):
    calls = []
    set_num_threads = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), set_num_threads(n)))
    AutoencoderTransformer(**FAST).fit(small_X)
    assert calls[:2] == [1, torch.get_num_threads()]
    calls.clear()
    with TORCH_CALLS.running():  # as a fit or transform in another thread does
        AutoencoderTransformer(**FAST).fit(small_X)
    assert calls == []


# Entries below the threshold in magnitude are set to zero; the others are kept.
def test_zero_negligible():
    values = torch.tensor([1e-40, -1e-20, 1e-15, -1.5, 0.0, 2e-15])
    zero_negligible([values, torch.tensor([1, 0])], threshold=1e-15)
    kept = [pytest.approx(1e-15, rel=1e-6, abs=0), pytest.approx(2e-15, rel=1e-6, abs=0)]
    assert values.tolist() == [0.0, 0.0, kept[0], -1.5, 0.0, kept[1]]
