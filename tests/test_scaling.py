"""The internal input scaling: choice, fit, application on batches, undo, checks."""

import copy
import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

from skae._batches import Batches
from skae._scaling import Scaling

CPU = torch.device("cpu")


@pytest.fixture
def X():
    rng = np.random.RandomState(0)
    return rng.normal(size=(50, 4)) * [1.0, 10.0, 100.0, 0.0] + [0.0, 5.0, -3.0, 7.0]


def _fit(kind, X):
    return Scaling.fit(kind, X, (X.min(axis=0), X.max(axis=0)))


# 'auto' is one scale for all features: 'global', or for a loss on [0, 1]
# none when X lies there already, else 'global_minmax'; other values stay.
def test_choose():
    inside, outside = (np.zeros(3), np.ones(3)), (np.zeros(3), np.full(3, 2.0))
    assert Scaling.choose("auto", False, outside) == "global"
    assert Scaling.choose("auto", True, inside) is None
    assert Scaling.choose("auto", True, outside) == "global_minmax"
    assert Scaling.choose("minmax", True, inside) == "minmax"
    assert Scaling.choose(None, False, outside) is None


# Each kind's offset and scale; a constant feature keeps scale 1.
def test_fit_kinds(X):
    standard = _fit("standard", X)
    assert_allclose(standard.offset, X.mean(axis=0))
    assert_allclose(standard.scale[:3], X.std(axis=0)[:3])
    assert standard.scale[3] == 1.0
    common = _fit("global", X)
    assert_allclose(common.scale, np.sqrt(X.var(axis=0).mean()))
    minmax = _fit("minmax", X)
    assert_allclose(minmax.offset, X.min(axis=0))
    assert_allclose(minmax.scale[:3], np.ptp(X, axis=0)[:3])
    overall = _fit("global_minmax", X)
    assert_allclose(overall.offset, X.min())
    assert_allclose(overall.scale, X.max() - X.min())
    identity = _fit(None, X)
    assert_array_equal(identity.offset, 0) and assert_array_equal(identity.scale, 1)


# A scale that float32 cannot hold (data in tiny units) divides on the host,
# in float64, and is undone there: the networks see the usual values.
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tiny_scales_divide_on_the_host(dtype):
    X = np.array([[0.0, 0.0], [3e-39, 1.0], [6e-39, 2.0]]).astype(dtype)
    scaling = _fit("minmax", X)
    assert_allclose(scaling.scale, [6e-39, 2.0], rtol=1e-6)
    batch = Batches(X, CPU, scaling=scaling).take(torch.arange(3))
    assert_allclose(batch.numpy(), [[0, 0], [0.5, 0.5], [1, 1]], rtol=1e-6)
    values = scaling.on(CPU, dtype).unscale(batch).double().numpy()
    scaling.undo_on_host(values)
    assert_allclose(values, X, rtol=1e-6)


# X that varies too little for any scaling, or for none, is refused.
def test_too_little_spread():
    X = np.array([[0.0], [1e-200]])
    with pytest.raises(ValueError, match="X varies by only 1e-200"):
        _fit("global", X)
    with pytest.raises(ValueError, match="Some features vary by only 1e-200"):
        _fit("standard", np.hstack([X, [[0.0], [1.0]]]))
    with pytest.raises(ValueError, match="cannot resolve it unscaled"):
        _fit(None, X * 1e160)


# The log-Jacobian converts densities of scaled data to X's units.
def test_log_jacobian(X):
    scaling = _fit("standard", X)
    assert scaling.log_jacobian == pytest.approx(-np.log(scaling.scale).sum())
    assert _fit(None, X).log_jacobian == 0.0


# Batches are (X - offset) / scale in float32; the offset is subtracted in
# X's precision, so that a large offset (a timestamp) keeps the spread.
def test_apply_keeps_the_spread_of_large_offsets():
    X = 1.7e9 + np.arange(6, dtype=np.float64).reshape(6, 1)
    scaling = _fit("standard", X)
    batch = Batches(X, CPU, scaling=scaling).take(torch.arange(6))
    assert batch.dtype == torch.float32
    assert_allclose(batch.numpy()[:, 0], (X[:, 0] - X.mean()) / X.std(), rtol=1e-6)
    assert scaling.on(CPU, np.float64) is not None and _fit(None, X).on(CPU, np.float64) is None


# Undoing: the scale on the device, then the offset on the host, in place.
def test_undo(X):
    scaling = _fit("standard", X)
    scaled = torch.as_tensor((X - scaling.offset) / scaling.scale)
    values = scaling.on(CPU, np.float64).unscale(scaled).double().numpy()
    scaling.undo_on_host(values)
    assert_allclose(values, X, rtol=1e-5, atol=1e-4)


# X that float32 cannot hold once centred is refused before training.
def test_float32_reach():
    X = np.array([[0.0], [1e39]])
    with pytest.raises(ValueError, match="beyond the range of float32"):
        _fit(None, X).check_float32_reach((X.min(axis=0), X.max(axis=0)))


# Losses on [0, 1] refuse scaled data outside it, with a hint that depends on
# whether the scaling was fitted on these data.
def test_check_unit_interval():
    X = np.array([[0.0], [2.0]])
    scaling = Scaling(None, np.zeros(1), np.ones(1))
    batches = Batches(X, CPU, scaling=scaling)
    with pytest.raises(ValueError, match=r"loss='bce' needs X in \[0, 1\].*scaling='auto'"):
        scaling.check_unit_interval(batches, "loss='bce'", fitted_here=True)
    with pytest.raises(ValueError, match="outside the range of the data the model was fitted"):
        scaling.check_unit_interval(batches, "loss='bce'", fitted_here=False)
    Scaling("minmax", np.zeros(1), np.full(1, 2.0)).check_unit_interval(
        Batches(X, CPU, scaling=Scaling("minmax", np.zeros(1), np.full(1, 2.0))),
        "loss='bce'",
        fitted_here=True,
    )


# The placed tensors are cached for later calls, but never pickled or copied:
# they live on a device (a CUDA model must unpickle on a CPU-only machine).
def test_placed_scaling_is_cached_but_not_pickled(X):
    scaling = Scaling.fit("standard", X, (X.min(axis=0), X.max(axis=0)))
    with torch.inference_mode():
        placed = scaling.on(torch.device("cpu"), np.float64)
    assert scaling.on(torch.device("cpu"), np.float64) is placed
    assert not placed.offset.is_inference() and not placed.scale.is_inference()
    for copied in (pickle.loads(pickle.dumps(scaling)), copy.deepcopy(scaling)):
        assert copied._placed == {}
        assert_array_equal(copied.offset, scaling.offset)
        assert copied.kind == scaling.kind
        assert_array_equal(copied.on(torch.device("cpu"), np.float64).scale, placed.scale)
    # A pickle of an older version, without the cache, loads and places.
    old = Scaling.__new__(Scaling)
    old.__setstate__({"kind": "standard", "offset": scaling.offset, "scale": scaling.scale})
    assert old.on(torch.device("cpu"), np.float32) is not None
