"""The training engine on its own: batches, corruption, trimmed loss, early stopping."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose
from torch import nn

from skae import AutoencoderTransformer, VAETransformer
from skae._base import CPU_BATCH_VALUES
from skae._networks import Autoencoder, mlp
from skae._training import (
    Batches,
    History,
    TrainingOptions,
    corrupt,
    fold_batches,
    map_batches,
    train,
    trimmed_mean,
    zero_negligible,
)


# Batches gather rows by index, scale them, and densify sparse rows per batch.
def test_batches_take_scales_and_densifies():
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    offset, scale = torch.tensor([1.0, 1.0, 1.0]), torch.tensor([2.0, 2.0, 2.0])
    for data in (X, sp.csr_matrix(X)):
        batches = Batches(
            data, torch.device("cpu"), rows=np.array([3, 1]), offset=offset, scale=scale
        )
        assert len(batches) == 2
        batch = batches.take(torch.tensor([1, 0]))
        assert batch.dtype == torch.float32
        assert_allclose(batch.numpy(), (X[[1, 3]] - 1) / 2)


# Masking noise sets entries to 0 in X's units; Gaussian noise has std noise_level in X's units.
def test_corruption_in_input_units():
    x = torch.full((2000, 5), 3.0)
    offset, scale = torch.full((5,), 1.0), torch.full((5,), 4.0)
    scaled = (x - offset) / scale
    generator = torch.Generator().manual_seed(0)
    masked = corrupt(scaled, "masking", 0.3, generator, offset, scale) * scale + offset
    assert set(torch.unique(masked).tolist()) == {0.0, 3.0}
    assert (masked == 0).float().mean().item() == pytest.approx(0.3, abs=0.02)
    noisy = corrupt(scaled, "gaussian", 0.5, generator, offset, scale) * scale + offset
    assert (noisy - x).std().item() == pytest.approx(0.5, rel=0.05)


# The trimmed mean leaves out the given fraction of the largest losses.
def test_trimmed_mean():
    losses = torch.tensor([1.0, 2.0, 3.0, 100.0])
    assert trimmed_mean(losses, 0.0).item() == pytest.approx(26.5)
    assert trimmed_mean(losses, 0.25).item() == pytest.approx(2.0)


# With contamination, gross outliers in the training data are not learned:
# they keep a worse reconstruction than when every sample counts.
def test_contamination_keeps_outliers_badly_reconstructed(small_X):
    rng = np.random.RandomState(0)
    outliers = small_X.mean(0) + 4 * small_X.std(0) * rng.choice([-1, 1], size=(8, 20))
    X = np.vstack([small_X, outliers])
    params = dict(n_components=3, max_iter=100, early_stopping=False, random_state=0)
    plain = AutoencoderTransformer(**params).fit(X)
    robust = AutoencoderTransformer(contamination=0.1, **params).fit(X)

    def gap(model):  # how much worse the outliers score than the inliers
        return np.median(model.score_samples(small_X)) - np.median(model.score_samples(outliers))

    assert gap(robust) > gap(plain) + 0.1


# Entries below the threshold in magnitude are set to zero; the others are kept.
def test_zero_negligible():
    values = torch.tensor([1e-40, -1e-20, 1e-15, -1.5, 0.0, 2e-15])
    zero_negligible([values, torch.tensor([1, 0])], threshold=1e-15)
    kept = [pytest.approx(1e-15, rel=1e-6, abs=0), pytest.approx(2e-15, rel=1e-6, abs=0)]
    assert values.tolist() == [0.0, 0.0, kept[0], -1.5, 0.0, kept[1]]


# Training clears negligible weights, such as those that weight decay leaves
# behind, here one that gets no gradient at all, once per epoch.
def test_training_clears_negligible_weights():
    network = Autoencoder(mlp([3, 4, 2], "relu"), mlp([2, 4, 3], "relu"))
    network.unused = nn.Parameter(torch.tensor([1e-40, 1e-20, 1.0]))
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    X = np.random.RandomState(0).normal(size=(32, 3)).astype(np.float32)
    options = TrainingOptions(max_epochs=1, batch_size=8)
    train(network, optimizer, Batches(X, torch.device("cpu")), None, options, History(), seed=0)
    assert network.unused.tolist() == [0.0, 0.0, 1.0]


# A diverging call restores the network and Adam's state as they were before it,
# from copies that the failed epoch's updates did not touch.
def test_divergence_restores_network_and_optimizer():
    network = Autoencoder(mlp([3, 4, 2], "relu"), mlp([2, 4, 3], "relu"))
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    X = np.random.RandomState(0).normal(size=(32, 3)).astype(np.float32)
    options = TrainingOptions(max_epochs=2, batch_size=8)
    train(network, optimizer, Batches(X, torch.device("cpu")), None, options, History(), seed=0)
    weights = {k: v.clone() for k, v in network.state_dict().items()}
    moments = [v.clone() for s in optimizer.state.values() for v in s.values()]
    optimizer.param_groups[0]["lr"] = 1e30
    with pytest.raises(FloatingPointError, match="diverged"):
        train(
            network,
            optimizer,
            Batches(X * 1e30, torch.device("cpu")),
            None,
            options,
            History(),
            seed=1,
        )
    for name, value in network.state_dict().items():
        assert torch.equal(value, weights[name])
    restored = [v for s in optimizer.state.values() for v in s.values()]
    assert all(torch.equal(a, b) for a, b in zip(restored, moments, strict=True))
    assert optimizer.param_groups[0]["lr"] == 1e30  # the state as the call found it


# Outputs land in one tensor (optionally a given one, cast to its dtype), in
# row order across batches; fold_batches combines per-batch values as it goes.
def test_map_and_fold_batches():
    X = np.arange(35, dtype=np.float64).reshape(7, 5)
    batches = Batches(X, torch.device("cpu"), offset=np.full(5, 1.0), scale=np.full(5, 2.0))
    halves = map_batches(lambda x: x[:, :2], batches, batch_size=3)
    assert halves.dtype == torch.float32
    assert_allclose(halves.numpy(), (X[:, :2] - 1) / 2)
    out = torch.zeros((7, 2), dtype=torch.float64)
    assert map_batches(lambda x: x[:, :2], batches, 3, out=out) is out
    assert_allclose(out.numpy(), (X[:, :2] - 1) / 2)
    total = fold_batches(lambda x: x.sum(dim=0), torch.add, batches, batch_size=2)
    assert_allclose(total.numpy(), ((X - 1) / 2).sum(axis=0), rtol=1e-6)


# verbose=1 shows a progress bar that counts every epoch run, the last one
# of an early stop included; verbose=2 prints a line per epoch, as both do
# per partial_fit call.
def test_verbose_output(capsys):
    X = np.random.RandomState(0).normal(size=(100, 5))
    ae = AutoencoderTransformer(n_iter_no_change=2, verbose=1, random_state=0).fit(X)
    assert ae.n_iter_ < 200 and f"{ae.n_iter_}/200" in capsys.readouterr().err
    AutoencoderTransformer(max_iter=3, verbose=2, random_state=0).fit(X)
    assert capsys.readouterr().err.count("Epoch ") == 3
    stream = AutoencoderTransformer(verbose=1, random_state=0)
    for chunk in np.array_split(X, 3):
        stream.partial_fit(chunk)
    err = capsys.readouterr().err
    assert err.count("Epoch ") == 3 and "epochs:" not in err


# On the CPU an inference batch holds about CPU_BATCH_VALUES values in its
# widest layer (input, hidden layer or convolution output), whatever the
# architecture; the results do not depend on how the rows are batched (but
# for float32 rounding in a VAE's scores, whose matrices change size).
@pytest.mark.parametrize(
    "params, widest",
    [
        (dict(hidden_layer_sizes=(300, 20)), 300),
        (dict(hidden_layer_sizes=(16,)), 64),  # the input
        (dict(architecture="conv", hidden_layer_sizes=(6, 4)), 6 * 4 * 4),
    ],
)
def test_inference_batches_fit_the_widest_layer(params, widest, monkeypatch):
    X = np.random.RandomState(0).rand(600, 64).astype(np.float32)
    ae = AutoencoderTransformer(max_iter=2, random_state=0, device="cpu", **params).fit(X)
    assert ae._widest_activation == widest
    assert ae._inference_rows == CPU_BATCH_VALUES // widest
    state = {k: v for k, v in ae.__getstate__().items() if k != "_widest_activation"}
    older = AutoencoderTransformer.__new__(AutoencoderTransformer)  # a pickle from before
    older.__setstate__(state)
    assert older._widest_activation == widest
    vae = VAETransformer(
        max_iter=2, n_importance_samples=7, random_state=0, device="cpu", **params
    ).fit(X)
    assert vae._score_batch_size == CPU_BATCH_VALUES // (widest * 7)
    for model in ae, vae:
        codes = model.transform(X)
        whole = codes, model.inverse_transform(codes), model.score_samples(X)
        for name in "_inference_rows", "_score_batch_size":  # many batches
            monkeypatch.setattr(type(model), name, property(lambda self: 50))
        assert_allclose(model.transform(X), whole[0], rtol=1e-6, atol=1e-6)
        assert_allclose(model.inverse_transform(codes), whole[1], rtol=1e-6, atol=1e-6)
        assert_allclose(model.score_samples(X), whole[2], rtol=1e-5, atol=1e-4)
