"""The network's specification: the estimator's parameters and the data
resolved once into what builds the network.

A fit resolves it; the warm-start check compares it with what the current
parameters resolve to; saving writes it and loading builds the network from it.
The networks are skae's own (an MLP or convolutions) or the user's
(:mod:`skae._user_networks`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from skae._layers import make_encoder_decoder
from skae._networks import AdversarialAutoencoder, Autoencoder, VariationalAutoencoder
from skae._settings import resolve_neighbor_weight
from skae._user_networks import (
    NetworkSource,
    ShapedInput,
    TrustedClasses,
    check_contract,
    class_path,
)
from skae._validation import positive_ints

DEFAULT_HIDDEN_LAYER_SIZES = {"mlp": (256, 128), "conv": (32, 64)}
# n_components='auto': a code of 32, the usual size for MNIST-sized inputs,
# and never more than half the features, so that the code compresses.
AUTO_MAX_COMPONENTS = 32
# loss='auto' (the autoencoders'): images get binary cross-entropy on
# intensities scaled to [0, 1], which reconstructs MNIST better than squared
# error at the same budget (BENCHMARKS.md, "Defaults"); tables get squared
# error, and so do images under a scaling asked for that leaves [0, 1].
AUTO_LOSS = {"mlp": "mse", "conv": "bce"}
UNBOUNDED_SCALINGS = ("standard", "global")
NETWORKS = {
    "autoencoder": Autoencoder,
    "vae": VariationalAutoencoder,
    "adversarial": AdversarialAutoencoder,
}


@dataclass(frozen=True)
class NetworkSpec:
    """What defines a fitted network, defaults filled in and 'auto' resolved.

    Attributes
    ----------
    kind : {'autoencoder', 'vae', 'adversarial'}
    n_features, n_components : int
        Input width and code size.
    architecture : {'mlp', 'conv'}
    hidden_layer_sizes : tuple of int
        Empty for user networks.
    activation : str
    image_shape : tuple of int or None
        ``(C, H, W)`` for ``architecture='conv'``, and the shape of each
        sample that a user's encoder receives when one was given.
    init : {'pca', 'random'}
        'pca' gives the encoder and decoder a linear shortcut.
    likelihood : str
        The model of X given the code: 'mse' or 'bce' for an autoencoder,
        'isotropic', 'gaussian' or 'bernoulli' for a VAE.
    encoder, decoder : NetworkSource or None
        The user's networks; None for skae's own.
    discriminator_layer_sizes : tuple of int
        The hidden layers of an adversarial autoencoder's discriminator;
        empty for the others.
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
    encoder: NetworkSource | None = None
    decoder: NetworkSource | None = None
    discriminator_layer_sizes: tuple[int, ...] = ()

    @classmethod
    def resolve(
        cls, parameters: Mapping, n_features: int, *, kind: str, likelihood: str
    ) -> NetworkSpec:
        """The specification that an estimator's `parameters` give for `n_features` inputs."""
        spec = cls._resolve_networks(parameters, n_features, kind=kind, likelihood=likelihood)
        if kind != "adversarial":
            return spec
        sizes = positive_ints(parameters["discriminator_layer_sizes"], "discriminator_layer_sizes")
        return dataclasses.replace(spec, discriminator_layer_sizes=sizes)

    @classmethod
    def _resolve_networks(
        cls, parameters: Mapping, n_features: int, *, kind: str, likelihood: str
    ) -> NetworkSpec:
        architecture = parameters["architecture"]
        n_components = resolve_n_components(parameters["n_components"], n_features)
        if _user_networks(parameters):
            return _resolve_user_networks(
                cls, parameters, n_features, n_components, kind=kind, likelihood=likelihood
            )
        return cls(
            kind=kind,
            n_features=n_features,
            n_components=n_components,
            architecture=architecture,
            hidden_layer_sizes=_hidden_layer_sizes(parameters["hidden_layer_sizes"], architecture),
            activation=parameters["activation"],
            image_shape=_image_shape(parameters["image_shape"], architecture, n_features),
            init=_resolved_init(parameters, kind),
            likelihood=_resolved_likelihood(likelihood, architecture, parameters),
        )

    @property
    def n_code_outputs(self) -> int:
        """The encoder's outputs: the code, and for a VAE its log-variances too."""
        return n_code_outputs(self.kind, self.n_components)

    @property
    def is_users(self) -> bool:
        """Whether the networks are the user's."""
        return self.encoder is not None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one sample as the encoder receives it."""
        return self.image_shape or (self.n_features,)

    def build(self, seed: int) -> nn.Module:
        """The untrained network, its initial weights drawn from `seed`."""
        return _seeded(self._build, seed)

    def _build(self) -> nn.Module:
        if self.is_users:
            encoder = ShapedInput(self.encoder.build(), self.image_shape)
            decoder = ShapedInput(self.decoder.build())
        else:
            encoder, decoder = self._build_own()
        if self.kind == "vae":
            return VariationalAutoencoder(encoder, decoder, self.n_features, self.likelihood)
        if self.kind == "adversarial":
            return AdversarialAutoencoder(
                encoder,
                decoder,
                self.likelihood,
                self.n_components,
                self.discriminator_layer_sizes,
                self.activation,
            )
        return Autoencoder(encoder, decoder, self.likelihood)

    def _build_own(self) -> tuple[nn.Module, nn.Module]:
        return make_encoder_decoder(
            self.n_features,
            self.n_code_outputs,
            self.n_components,
            architecture=self.architecture,
            hidden_layer_sizes=self.hidden_layer_sizes,
            activation=self.activation,
            image_shape=self.image_shape,
            linear_shortcut=self.init == "pca",
        )

    def training_randomness(self, seed: int, device: torch.device):
        """A context for training: a user's network may draw from torch's
        global generators in training mode (dropout), so for it they are
        seeded from the fit's `seed` and restored afterwards (fits of user
        networks in concurrent threads take turns); skae's own networks draw
        from the fit's own generators only, and need nothing."""
        if not self.is_users:
            return contextlib.nullcontext()
        return _seeded_global_generators(seed, device)

    def check_network(self, network: nn.Module, device: torch.device) -> None:
        """Check that the user's networks in `network` (on `device`) give the
        shapes skae needs; skae's own need no check."""
        if self.is_users:
            check_contract(
                network.encoder.network,
                network.decoder.network,
                input_shape=self.input_shape,
                n_code_outputs=self.n_code_outputs,
                n_components=self.n_components,
                device=device,
            )

    def _fields(self) -> dict:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def as_parameters(self, likelihood_parameter: str) -> dict:
        """The estimator parameters this specification stands for, resolved."""
        values = self._fields()
        values[likelihood_parameter] = values.pop("likelihood")
        for name in ("kind", "n_features"):
            del values[name]
        return values

    def to_json(self) -> dict:
        """The fields as JSON values; a user's network by its class's import
        path and arguments (TypeError for one given as an instance)."""
        values = self._fields()
        for name in ("encoder", "decoder"):
            values[name] = _source_to_json(values[name], name)
        return values

    @classmethod
    def from_json(cls, values: Mapping, trusted: TrustedClasses) -> NetworkSpec:
        """The specification written by :meth:`to_json`; ValueError when it is
        not one, or when it names a network class not in `trusted`."""
        names = {field.name for field in dataclasses.fields(cls)}
        if not isinstance(values, Mapping) or set(values) != names:
            raise ValueError(f"a network specification has the fields {sorted(names)}")
        values = dict(values)
        for name in ("encoder", "decoder"):
            values[name] = _source_from_json(values[name], trusted)
        shape = values["image_shape"]
        for name in ("hidden_layer_sizes", "discriminator_layer_sizes"):
            values[name] = positive_ints(values[name], "layers")
        values["image_shape"] = None if shape is None else positive_ints(shape, "image_shape")
        for name in ("n_features", "n_components"):
            values[name] = positive_ints(values[name], name)[0]
        if values["kind"] not in NETWORKS:
            raise ValueError(f"unknown network kind {values['kind']!r}")
        return cls(**values)


def n_code_outputs(kind: str, n_components: int) -> int:
    """The encoder's outputs: the code, and for a VAE its log-variances too."""
    return 2 * n_components if kind == "vae" else n_components


def _user_networks(parameters: Mapping) -> bool:
    encoder, decoder = parameters["encoder"], parameters["decoder"]
    if (encoder is None) != (decoder is None):
        raise ValueError(
            "encoder and decoder are given together: skae pairs your encoder with "
            "your decoder, not with one of its own."
        )
    return encoder is not None


def _resolved_likelihood(likelihood: str, architecture: str, parameters: Mapping) -> str:
    """`likelihood`, with loss='auto' resolved for networks of this `architecture`."""
    if likelihood != "auto":
        return likelihood
    if parameters.get("scaling") in UNBOUNDED_SCALINGS:
        return "mse"
    return AUTO_LOSS[architecture]


def _resolve_user_networks(
    cls, parameters: Mapping, n_features: int, n_components: int, *, kind: str, likelihood: str
) -> NetworkSpec:
    """The specification of the user's `encoder` and `decoder`, which skae's
    network parameters do not describe."""
    for name, default in (("architecture", "mlp"), ("hidden_layer_sizes", None)):
        if parameters[name] != default:
            raise ValueError(
                f"{name}={parameters[name]!r} describes skae's own networks; with "
                f"encoder= and decoder= leave it at {default!r}."
            )
    if parameters["init"] == "pca":
        raise ValueError(
            "init='pca' starts skae's own networks from PCA; a user's network starts "
            "from its own initialisation: use init='auto' (the default) or 'random'."
        )
    n_outputs = n_code_outputs(kind, n_components)
    shape = parameters["image_shape"]
    return cls(
        kind=kind,
        n_features=n_features,
        n_components=n_components,
        architecture="mlp",
        hidden_layer_sizes=(),
        activation=parameters["activation"],
        image_shape=None if shape is None else _image_shape(shape, "conv", n_features),
        init="random",
        likelihood=_resolved_likelihood(likelihood, "mlp", parameters),
        encoder=NetworkSource.resolve(
            parameters["encoder"], "encoder", {"n_inputs": n_features, "n_outputs": n_outputs}
        ),
        decoder=NetworkSource.resolve(
            parameters["decoder"], "decoder", {"n_inputs": n_components, "n_outputs": n_features}
        ),
    )


def _source_to_json(source: NetworkSource | None, role: str) -> dict | None:
    if source is None:
        return None
    if source.is_instance:
        raise TypeError(
            f"The {role} was given as an instance, which skae's safe format cannot "
            f"rebuild: pass its class, as {role}=skae.Network(cls, **kwargs), or "
            "pickle the model."
        )
    return {"class": class_path(source.module), "kwargs": dict(source.kwargs)}


def _source_from_json(values, trusted: TrustedClasses) -> NetworkSource | None:
    if values is None:
        return None
    if not isinstance(values, Mapping) or set(values) != {"class", "kwargs"}:
        raise ValueError("a user network recorded without its class and arguments")
    if not isinstance(values["kwargs"], Mapping):
        raise ValueError("a user network's arguments are not a mapping")
    return NetworkSource(trusted.find(values["class"]), tuple(sorted(values["kwargs"].items())))


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


def resolve_n_components(n_components: int | str | None, n_features: int) -> int:
    """The code size that `n_components` (an int, 'auto' or None) gives for
    `n_features` input features."""
    if n_components is None or n_components == "auto":
        return compressing_size(AUTO_MAX_COMPONENTS, n_features)
    if n_components > n_features:
        raise ValueError(
            f"n_components={n_components} must be between 1 and "
            f"n_features={n_features}: an autoencoder's code is a bottleneck."
        )
    return int(n_components)  # True passes Integral checks


def _resolved_init(parameters: Mapping, kind: str) -> str:
    """init='auto' of skae's networks: the PCA start, but a random one under
    the t-SNE term, which the PCA start would hold near PCA's plane."""
    if parameters["init"] != "auto":
        return parameters["init"]
    term = resolve_neighbor_weight(parameters, kind) > 0
    return "random" if term else "pca"


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
_GLOBAL_GENERATOR_LOCK = threading.RLock()


@contextlib.contextmanager
def _seeded_global_generators(seed: int, device: torch.device):
    cuda = [device.index or 0] if device.type == "cuda" else []
    with _GLOBAL_GENERATOR_LOCK, torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for index in cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield


def _seeded(make, seed: int) -> nn.Module:
    """`make()` with torch's global CPU generator seeded with `seed`, and its
    state restored afterwards: a reproducible network, and no change to the
    caller's random stream (``torch.manual_seed`` would also reseed the GPUs')."""
    with _GLOBAL_GENERATOR_LOCK, torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        return make()
