"""The network's specification: resolved from parameters, built, written and read."""

import numpy as np
import pytest
import torch
from torch import nn

from skae._layers import LinearShortcut
from skae._spec import NetworkSpec, check_unchanged, compressing_size
from skae._user_networks import Network, ShapedInput, TrustedClasses, UntrustedNetworkError

PARAMETERS = dict(
    n_components="auto",
    hidden_layer_sizes=None,
    activation="relu",
    architecture="mlp",
    image_shape=None,
    init="auto",
    encoder=None,
    decoder=None,
    neighbor_weight="auto",
)
NO_CLASSES = TrustedClasses(None)


class Sized(nn.Linear):
    def __init__(self, n_inputs, n_outputs, bias=True):
        super().__init__(n_inputs, n_outputs, bias)


def _resolve(n_features=64, kind="autoencoder", likelihood="mse", **parameters):
    return NetworkSpec.resolve(
        {**PARAMETERS, **parameters}, n_features, kind=kind, likelihood=likelihood
    )


# Defaults are filled in and 'auto' resolved: a code of min(32, n_features // 2).
def test_resolve_defaults():
    spec = _resolve()
    assert (spec.n_components, spec.hidden_layer_sizes, spec.image_shape) == (32, (256, 128), None)
    assert _resolve(6).n_components == compressing_size(32, 6) == 3
    conv = _resolve(architecture="conv")
    assert (conv.hidden_layer_sizes, conv.image_shape) == ((32, 64), (1, 8, 8))
    assert _resolve(12, architecture="conv", image_shape=(3, 4)).image_shape == (1, 3, 4)


# loss='auto': binary cross-entropy for images (conv), unless the scaling
# asked for leaves [0, 1]; squared error for the MLP and for a user's
# networks; a loss given is kept.
def test_auto_loss_follows_the_architecture():
    assert _resolve(likelihood="auto").likelihood == "mse"
    assert _resolve(likelihood="auto", architecture="conv").likelihood == "bce"
    losses = {"auto": "bce", "minmax": "bce", "standard": "mse", "global": "mse"}
    for scaling, loss in losses.items():
        spec = _resolve(likelihood="auto", architecture="conv", scaling=scaling)
        assert spec.likelihood == loss, scaling
    assert _resolve(likelihood="mse", architecture="conv").likelihood == "mse"
    assert _resolve(likelihood="bce").likelihood == "bce"
    users = dict(encoder=Sized, decoder=Sized, n_components=3)
    assert _resolve(20, likelihood="auto", **users).likelihood == "mse"


# Parameters that cannot make a network are named in the error.
@pytest.mark.parametrize(
    "n_features, parameters, message",
    [
        (10, dict(n_components=11), "n_components=11 must be between 1 and n_features=10"),
        (10, dict(architecture="conv"), "not a square number"),
        (64, dict(architecture="conv", image_shape=(3, 5)), r"C\*H\*W equal to n_features=64"),
        (64, dict(architecture="conv", hidden_layer_sizes=()), "at least one convolution"),
        (64, dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes must hold positive integers"),
    ],
)
def test_resolve_errors(n_features, parameters, message):
    with pytest.raises(ValueError, match=message):
        _resolve(n_features, **parameters)


# The network is built from the specification alone, the same for a seed
# every time, without touching torch's global generator; a VAE's encoder also
# outputs log-variances; init='pca' adds linear shortcuts.
def test_build():
    spec = _resolve(20, n_components=3, hidden_layer_sizes=(8,))
    state = torch.random.get_rng_state()
    first, second = spec.build(seed=1), spec.build(seed=1)
    assert torch.equal(state, torch.random.get_rng_state())
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    assert isinstance(first.encoder, LinearShortcut)
    assert not isinstance(_resolve(20, init="random").build(seed=1).encoder, LinearShortcut)
    vae = _resolve(20, kind="vae", likelihood="gaussian", n_components=3).build(seed=1)
    assert vae.encoder(torch.zeros(2, 20)).shape == (2, 6)
    assert vae.code(torch.zeros(2, 20)).shape == (2, 3)


# The written form reads back to an equal specification; anything else is refused.
def test_json_round_trip_and_refusals():
    spec = _resolve(architecture="conv", kind="vae", likelihood="bernoulli")
    assert NetworkSpec.from_json(spec.to_json(), NO_CLASSES) == spec
    with pytest.raises(ValueError, match="has the fields"):
        NetworkSpec.from_json({**spec.to_json(), "extra": 1}, NO_CLASSES)
    with pytest.raises(ValueError, match="unknown network kind"):
        NetworkSpec.from_json({**spec.to_json(), "kind": "gan"}, NO_CLASSES)
    with pytest.raises(ValueError, match="positive integers"):
        NetworkSpec.from_json({**spec.to_json(), "n_components": -1}, NO_CLASSES)


# The warm-start check names each parameter that changed, old and new values.
def test_check_unchanged():
    fitted = _resolve().as_parameters("loss")
    check_unchanged(fitted, dict(fitted))
    changed = _resolve(hidden_layer_sizes=(8,), likelihood="bce").as_parameters("loss")
    with pytest.raises(ValueError, match=r"hidden_layer_sizes \(256, 128\) -> \(8,\), loss"):
        check_unchanged(fitted, changed)
    # neighbor_weight is a training setting: only init, which it resolves, is the network's.
    assert np.all([name in fitted for name in set(PARAMETERS) - {"neighbor_weight"}])


# A user's networks: the sizes their constructors take are filled in, the
# arguments given win, and skae's network parameters are not used.
def test_user_networks_resolve_and_build():
    networks = dict(encoder=Sized, decoder=Network(Sized, bias=False))
    spec = _resolve(20, kind="vae", likelihood="gaussian", n_components=3, **networks)
    assert dict(spec.encoder.kwargs) == {"n_inputs": 20, "n_outputs": 6}
    assert dict(spec.decoder.kwargs) == {"bias": False, "n_inputs": 3, "n_outputs": 20}
    assert (spec.init, spec.hidden_layer_sizes, spec.input_shape) == ("random", (), (20,))
    network = spec.build(seed=1)
    assert isinstance(network.encoder, ShapedInput) and network.decoder.network.bias is None
    spec.check_network(network, torch.device("cpu"))
    assert _resolve(init="auto").init == "pca"


# init='auto' starts a 2-D map (the t-SNE term on) at random, not from PCA's plane.
def test_auto_init_under_the_neighbor_term():
    assert _resolve(n_components=2).init == "random"
    assert _resolve(n_components=3).init == "pca"
    assert _resolve(n_components=2, neighbor_weight=0.0).init == "pca"
    assert _resolve(n_components=3, neighbor_weight=1.0).init == "random"
    assert _resolve(n_components=2, init="pca").init == "pca"
    assert _resolve(n_components=2, kind="vae", likelihood="gaussian").init == "pca"


# Written, a user's network is its class's import path and its arguments;
# read, only a trusted class is built, and an instance cannot be written.
def test_user_networks_json():
    spec = _resolve(20, encoder=Sized, decoder=Sized)
    written = spec.to_json()
    assert written["encoder"] == {
        "class": {"module": __name__, "qualname": "Sized"},
        "kwargs": {"n_inputs": 20, "n_outputs": 10},
    }
    assert NetworkSpec.from_json(written, TrustedClasses([Sized])) == spec
    with pytest.raises(UntrustedNetworkError, match="Sized"):
        NetworkSpec.from_json(written, NO_CLASSES)
    instance = _resolve(20, encoder=Sized(20, 10), decoder=Sized)
    with pytest.raises(TypeError, match="instance"):
        instance.to_json()
