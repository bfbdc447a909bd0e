"""Batches: rows gathered, scaled and streamed to a device; the batch-size rules."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal

from skae import AdversarialAutoencoderTransformer, AutoencoderTransformer, VAETransformer
from skae._batches import (
    CPU_BATCH_VALUES,
    INFERENCE_BATCH_SIZE,
    ROW_MULTIPLE,
    Batches,
    fold_batches,
    gpu_batch_rows,
    gpu_score_rows,
    inference_rows,
    map_batches,
    score_rows,
    split_rows,
)
from skae._scaling import Scaling

CPU = torch.device("cpu")


def _scaling(n_features, offset, scale):
    return Scaling("standard", np.full(n_features, offset), np.full(n_features, scale))


# Batches gather rows by index, scale them, and densify sparse rows per batch.
def test_batches_take_scales_and_densifies():
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    for data in (X, sp.csr_matrix(X)):
        batches = Batches(data, CPU, rows=np.array([3, 1]), scaling=_scaling(3, 1.0, 2.0))
        assert len(batches) == 2
        batch = batches.take(torch.tensor([1, 0]))
        assert batch.dtype == torch.float32
        assert_allclose(batch.numpy(), (X[[1, 3]] - 1) / 2)


# The identity scaling (scaling=None) leaves the values as they are, in float32.
def test_batches_without_scaling():
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    identity = Scaling(None, np.zeros(3), np.ones(3))
    for scaling in (None, identity):
        batches = Batches(X, CPU, scaling=scaling)
        assert batches.scaling is None
        assert_allclose(torch.cat(list(batches.iterate(3))).numpy(), X)


# Outputs land in one tensor (optionally a given one, cast to its dtype), in
# row order across batches; fold_batches combines per-batch values as it goes.
def test_map_and_fold_batches():
    X = np.arange(35, dtype=np.float64).reshape(7, 5)
    batches = Batches(X, CPU, scaling=_scaling(5, 1.0, 2.0))
    halves = map_batches(lambda x: x[:, :2], batches, batch_size=3)
    assert halves.dtype == torch.float32
    assert_allclose(halves.numpy(), (X[:, :2] - 1) / 2)
    out = torch.zeros((7, 2), dtype=torch.float64)
    assert map_batches(lambda x: x[:, :2], batches, 3, out=out) is out
    assert_allclose(out.numpy(), (X[:, :2] - 1) / 2)
    total = fold_batches(lambda x: x.sum(dim=0), torch.add, batches, batch_size=2)
    assert_allclose(total.numpy(), ((X - 1) / 2).sum(axis=0), rtol=1e-6)


# The validation split is a random partition of the rows; none without one.
def test_split_rows():
    train, validation = split_rows(np.random.RandomState(0), 10, 3)
    assert len(validation) == 3 and sorted([*train, *validation]) == list(range(10))
    assert split_rows(np.random.RandomState(0), 10, 0) == (None, None)


def whole_blocks(rows):
    return max(ROW_MULTIPLE, rows // ROW_MULTIPLE * ROW_MULTIPLE)


# CPU batches hold CPU_BATCH_VALUES values in their widest layer; GPU batches
# about 4 MB of input and at least INFERENCE_BATCH_SIZE rows; VAE scores divide
# by the draws per sample; all in multiples of ROW_MULTIPLE rows.
def test_batch_size_rules():
    cuda = torch.device("cuda")
    assert inference_rows(CPU, 256, 64) == CPU_BATCH_VALUES // 256
    assert inference_rows(CPU, 300, 64) == whole_blocks(CPU_BATCH_VALUES // 300) == 864
    assert inference_rows(cuda, 256, 64) == gpu_batch_rows(64) == 2**20 // 64
    assert gpu_batch_rows(10**6) == INFERENCE_BATCH_SIZE
    assert score_rows(CPU, 256, 64, 100) == ROW_MULTIPLE  # not the 10 of the values' rule
    assert score_rows(cuda, 256, 64, 100) == gpu_score_rows(64, 100) == 160


# On the CPU an inference batch holds about CPU_BATCH_VALUES values in its
# widest layer (input, hidden layer or convolution output), whatever the
# architecture; the results do not depend on how the rows are batched.
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
    assert ae._inference_rows == whole_blocks(CPU_BATCH_VALUES // widest)
    vae = VAETransformer(
        max_iter=2, n_importance_samples=7, random_state=0, device="cpu", **params
    ).fit(X)
    assert vae._score_batch_size == whole_blocks(CPU_BATCH_VALUES // (widest * 7))
    for model in ae, vae:
        codes = model.transform(X)
        whole = codes, model.inverse_transform(codes), model.score_samples(X)
        for name in "_inference_rows", "_score_batch_size":  # many batches
            monkeypatch.setattr(type(model), name, property(lambda self: 50))
        assert_array_equal(model.transform(X), whole[0])
        assert_array_equal(model.inverse_transform(codes), whole[1])
        assert_array_equal(model.score_samples(X), whole[2])


def _invariance_cases():
    rng = np.random.RandomState(0)
    table = rng.normal(size=(120, 10)) * rng.uniform(0.5, 4, 10)
    missing = np.where(rng.uniform(size=table.shape) < 0.1, np.nan, table)
    unit = rng.uniform(size=(120, 64))
    conv = dict(architecture="conv", image_shape=(8, 8), hidden_layer_sizes=(4, 8))
    for cls, bernoulli in [
        (AutoencoderTransformer, dict(loss="bce")),
        (VAETransformer, dict(likelihood="bernoulli")),
        (AdversarialAutoencoderTransformer, dict(loss="bce")),
    ]:
        yield cls, dict(n_components=7, hidden_layer_sizes=(13, 5)), table
        yield cls, {}, missing
        yield cls, dict(conv, **bernoulli), unit


# A row's outputs are the same, to the bit, whatever rows it is computed with:
# alone, in small or odd batches, at any offset (benchmarks/README.md, "Batch
# invariance").
@pytest.mark.parametrize("cls, params, X", list(_invariance_cases()))
def test_per_row_outputs_do_not_depend_on_the_batch(cls, params, X):
    model = cls(max_iter=1, random_state=0, **params).fit(X)
    codes = model.transform(X)
    for method, data in [
        (model.transform, X),
        (model.score_samples, X),
        (model.score_samples_by_feature, X),
        (model.inverse_transform, codes),
    ]:
        whole = method(data)
        for rows in 1, 3, 7, 33:
            starts = range(0, len(data), rows) if rows > 3 else range(0, 12, rows)
            parts = np.concatenate([method(data[start : start + rows]) for start in starts])
            assert_array_equal(parts, whole[: len(parts)])
