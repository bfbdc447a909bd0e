"""The terms of the training objective: reconstruction, t-SNE neighbours,
trimmed mean, denoising corruption, and the objective's KL schedule."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from scipy.spatial.distance import pdist, squareform
from sklearn.manifold._t_sne import _joint_probabilities

from skae._losses import (
    Objective,
    corrupt,
    free_bits_floor,
    input_affinities,
    neighbor_loss,
    reconstruction_loss,
    trimmed_mean,
)
from skae._scaling import Scaling


def _off_diagonal(n):
    return ~torch.eye(n, dtype=torch.bool)


# The input affinities are t-SNE's: scikit-learn's own binary search gives the same P.
@pytest.mark.parametrize("perplexity", [2.0, 10.0])
def testinput_affinities_match_scikit_learn(perplexity):
    x = np.random.RandomState(0).normal(size=(60, 5)).astype(np.float32)
    ours = input_affinities(torch.from_numpy(x), perplexity, _off_diagonal(60)).numpy()
    distances = squareform(pdist(x, "sqeuclidean")).astype(np.float32)
    reference = squareform(_joint_probabilities(distances, perplexity, verbose=0))
    assert_allclose(ours, reference, atol=1e-6)


# The batch mean of the per-sample values is KL(P || Q), computed here directly.
def test_neighbor_loss_mean_is_the_divergence():
    rng = np.random.RandomState(0)
    x, code = rng.normal(size=(40, 6)), rng.normal(size=(40, 2))
    losses = neighbor_loss(torch.tensor(x), torch.tensor(code), perplexity=5.0)
    p = input_affinities(torch.tensor(x).float(), 5.0, _off_diagonal(40)).double().numpy()
    kernel = 1 / (1 + squareform(pdist(code, "sqeuclidean")))
    np.fill_diagonal(kernel, 0)
    q = kernel / kernel.sum()
    mask = ~np.eye(40, dtype=bool)
    divergence = np.sum(p[mask] * np.log(p[mask] / q[mask]))
    assert losses.shape == (40,)
    assert losses.mean().item() == pytest.approx(divergence, rel=1e-4)


# A code that keeps the clusters of X scores better than one that scrambles them,
# and the gradient is finite; a batch of one sample has no neighbours (zero loss).
def test_neighbor_loss_prefers_faithful_codes():
    rng = np.random.RandomState(0)
    centers = 10 * rng.normal(size=(4, 8))
    labels = np.repeat(np.arange(4), 25)
    x = torch.tensor(centers[labels] + rng.normal(size=(100, 8)), dtype=torch.float32)
    corners = np.array([[0, 0], [0, 3], [3, 0], [3, 3]])
    faithful = corners[labels] + 0.1 * rng.normal(size=(100, 2))
    faithful = torch.tensor(faithful, dtype=torch.float32, requires_grad=True)
    scrambled = faithful.detach()[rng.permutation(100)]
    assert neighbor_loss(x, faithful, 10.0).mean() < neighbor_loss(x, scrambled, 10.0).mean()
    neighbor_loss(x, faithful, 10.0).mean().backward()
    assert torch.isfinite(faithful.grad).all()
    assert neighbor_loss(x[:1], faithful[:1], 10.0).tolist() == [0.0]
    assert torch.isfinite(neighbor_loss(x[:2], faithful[:2], 30.0)).all()


# Masking noise sets entries to 0 in X's units; Gaussian noise has std noise_level in X's units.
def test_corruption_in_input_units():
    x = torch.full((2000, 5), 3.0)
    scaling = Scaling("standard", np.full(5, 1.0), np.full(5, 4.0))
    placed = scaling.on(torch.device("cpu"), np.float32)
    scaled = (x - 1) / 4
    generator = torch.Generator().manual_seed(0)
    masked = corrupt(scaled, "masking", 0.3, generator, placed) * 4 + 1
    assert set(torch.unique(masked).tolist()) == {0.0, 3.0}
    assert (masked == 0).float().mean().item() == pytest.approx(0.3, abs=0.02)
    noisy = corrupt(scaled, "gaussian", 0.5, generator, placed) * 4 + 1
    assert (noisy - x).std().item() == pytest.approx(0.5, rel=0.05)
    assert corrupt(scaled, None, 0.5, generator, placed) is scaled


# The trimmed mean leaves out the given fraction of the largest losses.
def test_trimmed_mean():
    losses = torch.tensor([1.0, 2.0, 3.0, 100.0])
    assert trimmed_mean(losses, 0.0).item() == pytest.approx(26.5)
    assert trimmed_mean(losses, 0.25).item() == pytest.approx(2.0)


# A KL warm-up's weight rises linearly to beta; the objective changes in epochs
# 0-4 (the last reaches beta), never without a warm-up; evaluations weigh beta.
def test_kl_warmup_schedule():
    objective = Objective(beta=2.0, kl_warmup=4)
    weights = [objective.at_epoch(epoch).weight_of_kl for epoch in range(6)]
    assert weights == pytest.approx([0.4, 0.8, 1.2, 1.6, 2.0, 2.0])
    assert [objective.changes_at(epoch) for epoch in range(6)] == [True] * 5 + [False]
    assert objective.weight_of_kl == 2.0
    assert not Objective(beta=2.0).changes_at(0)
    assert Objective(beta=2.0).at_epoch(0).weight_of_kl == 2.0


# Free bits: a dimension whose KL, averaged over the batch, is under the
# floor is charged the floor, without gradient; the others are unchanged.
def test_free_bits_floor():
    kl = torch.tensor([[0.1, 2.0, 0.0], [0.5, 0.2, 0.0]], requires_grad=True)
    floored = free_bits_floor(kl, 0.5)
    assert_allclose(floored.detach().numpy(), [[0.5, 2.0, 0.5], [0.5, 0.2, 0.5]])
    floored.sum().backward()
    assert_allclose(kl.grad.numpy(), [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_reconstruction_loss_of_complete_data_without_masks(loss):
    generator = torch.Generator().manual_seed(0)
    target = torch.rand((37, 11), generator=generator)
    output = torch.randn((37, 11), generator=generator, requires_grad=True)
    gradients = []
    for complete in (False, True):
        values = reconstruction_loss(output, target, loss, complete)
        (gradient,) = torch.autograd.grad(values.sum(), output)
        gradients.append((values.detach(), gradient))
    (masked, masked_gradient), (plain, plain_gradient) = gradients
    assert torch.equal(masked, plain) and torch.equal(masked_gradient, plain_gradient)
