"""The network's specification: the estimator's parameters and the data
resolved once into what builds the network.

A fit resolves it; the warm-start check compares it with what the current
parameters resolve to; saving writes it and loading builds the network from it.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from skae._networks import Autoencoder, VariationalAutoencoder, make_encoder_decoder
from skae._validation import positive_ints

DEFAULT_HIDDEN_LAYER_SIZES = {"mlp": (256, 128), "conv": (32, 64)}
# n_components='auto': a code of 32, the usual size for MNIST-sized inputs,
# and never more than half the features, so that the code compresses.
AUTO_MAX_COMPONENTS = 32
NETWORKS = {"autoencoder": Autoencoder, "vae": VariationalAutoencoder}


@dataclass(frozen=True)
class NetworkSpec:
    """What defines a fitted network, defaults filled in and 'auto' resolved.

    Attributes
    ----------
    kind : {'autoencoder', 'vae'}
    n_features, n_components : int
        Input width and code size.
    architecture : {'mlp', 'conv'}
    hidden_layer_sizes : tuple of int
    activation : str
    image_shape : tuple of int or None
        ``(C, H, W)`` for ``architecture='conv'``.
    init : {'pca', 'random'}
        'pca' gives the encoder and decoder a linear shortcut.
    likelihood : str
        The model of X given the code: 'mse' or 'bce' for an autoencoder,
        'gaussian' or 'bernoulli' for a VAE.
    """

    kind: str
    n_features: int
    n_components: int
    architecture: str
    hidden_layer_sizes: tuple[int, ...]
    activation: str
    image_shape: tuple[int, int, int] | None
    init: str
    likelihood: str

    @classmethod
    def resolve(
        cls, parameters: Mapping, n_features: int, *, kind: str, likelihood: str
    ) -> NetworkSpec:
        """The specification that an estimator's `parameters` give for `n_features` inputs."""
        architecture = parameters["architecture"]
        return cls(
            kind=kind,
            n_features=n_features,
            n_components=resolve_n_components(parameters["n_components"], n_features),
            architecture=architecture,
            hidden_layer_sizes=_hidden_layer_sizes(parameters["hidden_layer_sizes"], architecture),
            activation=parameters["activation"],
            image_shape=_image_shape(parameters["image_shape"], architecture, n_features),
            init=parameters["init"],
            likelihood=likelihood,
        )

    @property
    def n_code_outputs(self) -> int:
        """The encoder's outputs: the code, and for a VAE its log-variances too."""
        return 2 * self.n_components if self.kind == "vae" else self.n_components

    def build(self, seed: int) -> nn.Module:
        """The untrained network, its initial weights drawn from `seed`."""
        return _seeded(self._build, seed)

    def _build(self) -> nn.Module:
        encoder, decoder = make_encoder_decoder(
            self.n_features,
            self.n_code_outputs,
            self.n_components,
            architecture=self.architecture,
            hidden_layer_sizes=self.hidden_layer_sizes,
            activation=self.activation,
            image_shape=self.image_shape,
            linear_shortcut=self.init == "pca",
        )
        if self.kind == "vae":
            return VariationalAutoencoder(encoder, decoder, self.n_features, self.likelihood)
        return Autoencoder(encoder, decoder, self.likelihood)

    def as_parameters(self, likelihood_parameter: str) -> dict:
        """The estimator parameters this specification stands for, resolved."""
        values = dataclasses.asdict(self)
        values[likelihood_parameter] = values.pop("likelihood")
        for name in ("kind", "n_features"):
            del values[name]
        return values

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: Mapping) -> NetworkSpec:
        """The specification written by :meth:`to_json`; ValueError when it is not one."""
        names = {field.name for field in dataclasses.fields(cls)}
        if not isinstance(values, Mapping) or set(values) != names:
            raise ValueError(f"a network specification has the fields {sorted(names)}")
        values = dict(values)
        shape = values["image_shape"]
        values["hidden_layer_sizes"] = positive_ints(values["hidden_layer_sizes"], "layers")
        values["image_shape"] = None if shape is None else positive_ints(shape, "image_shape")
        for name in ("n_features", "n_components"):
            values[name] = positive_ints(values[name], name)[0]
        if values["kind"] not in NETWORKS:
            raise ValueError(f"unknown network kind {values['kind']!r}")
        return cls(**values)


def check_unchanged(fitted: Mapping, requested: Mapping) -> None:
    """Raise if the parameters that define a fitted network (`fitted`, as
    resolved at fit time) differ from what the current ones resolve to."""
    changed = [f"{k} {fitted[k]!r} -> {v!r}" for k, v in requested.items() if v != fitted[k]]
    if changed:
        raise ValueError(
            "warm_start and partial_fit continue training the fitted network, but "
            f"what defines it has changed: {', '.join(changed)}. Set warm_start=False, "
            "or fit a new estimator, to change it."
        )


def compressing_size(k: int, n_features: int) -> int:
    """`k`, but at most half of `n_features` (and at least 1), so that a code of
    this size compresses the input: 3 for 6 features."""
    return max(1, min(k, n_features // 2))


def resolve_n_components(n_components: int | str, n_features: int) -> int:
    """The code size that `n_components` gives for `n_features` input features."""
    if n_components == "auto":
        return compressing_size(AUTO_MAX_COMPONENTS, n_features)
    if n_components > n_features:
        raise ValueError(
            f"n_components={n_components} must be between 1 and "
            f"n_features={n_features}: an autoencoder's code is a bottleneck."
        )
    return int(n_components)  # True passes Integral checks


def _hidden_layer_sizes(hidden, architecture: str) -> tuple[int, ...]:
    if hidden is None:
        hidden = DEFAULT_HIDDEN_LAYER_SIZES[architecture]
    hidden = positive_ints(hidden, "hidden_layer_sizes")
    if architecture == "conv" and not hidden:
        raise ValueError(
            "architecture='conv' needs at least one convolution's channels in "
            "hidden_layer_sizes, got ()."
        )
    return hidden


def _image_shape(shape, architecture: str, n_features: int) -> tuple[int, int, int] | None:
    if architecture != "conv":
        return None
    if shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"architecture='conv' needs image_shape: n_features={n_features} is "
                "not a square number, so it is not a single-channel square image."
            )
        return (1, side, side)
    resolved = positive_ints(shape, "image_shape")
    if len(resolved) == 2:
        resolved = (1, *resolved)
    if len(resolved) != 3 or math.prod(resolved) != n_features:
        raise ValueError(
            f"image_shape={shape} must be (H, W) or (C, H, W) with "
            f"C*H*W equal to n_features={n_features}."
        )
    return resolved


# torch's modules draw their initial weights from its global CPU generator,
# shared by all threads: fits in concurrent threads (GridSearchCV with the
# threading backend) take turns with it.
_GLOBAL_GENERATOR_LOCK = threading.Lock()


def _seeded(make, seed: int) -> nn.Module:
    """`make()` with torch's global CPU generator seeded with `seed`, and its
    state restored afterwards: a reproducible network, and no change to the
    caller's random stream (``torch.manual_seed`` would also reseed the GPUs')."""
    with _GLOBAL_GENERATOR_LOCK, torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        return make()
