"""Torch building blocks of skae's own networks: layers, MLPs,
convolutional encoders and decoders, the linear shortcut of a PCA start.

Torch only, like :mod:`skae._networks`, whose autoencoders are made of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
    "elu": nn.ELU,
    "gelu": nn.GELU,
}

# The least outputs of a matrix product (see Linear); 12 were enough here.
MIN_PRODUCT_COLUMNS = 16


class Linear(nn.Linear):
    """``nn.Linear`` that, outside training (no gradients), computes at least
    MIN_PRODUCT_COLUMNS outputs (the extra ones from zero weights, then
    dropped).

    Narrower, the CPU's matrix product rounds a row differently with the
    row's alignment in memory, so that a row's outputs would depend on the
    rows computed with it (benchmarks/README.md, "Batch invariance"). The
    dropped columns leave the outputs' rows 64-byte aligned for the next
    layer too. Training, whose batches are the same on every run, keeps the
    plain product and its speed.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        missing = MIN_PRODUCT_COLUMNS - self.out_features
        if missing <= 0 or torch.is_grad_enabled():
            return super().forward(x)
        weight = F.pad(self.weight, (0, 0, 0, missing))
        bias = None if self.bias is None else F.pad(self.bias, (0, missing))
        return F.linear(x, weight, bias)[..., : self.out_features]


def mlp(sizes: Sequence[int], activation: str) -> nn.Sequential:
    """Linear layers of the given sizes, with `activation` between them."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        layers.append(Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def _halved(size: int, n_times: int) -> list[int]:
    """Sizes after each stride-2 convolution (kernel 3, padding 1): ceil(s / 2)."""
    sizes = [size]
    for _ in range(n_times):
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


class ConvEncoder(nn.Module):
    """Stride-2 convolutions, then a linear layer to `n_outputs`.

    Takes flat inputs of shape (n, C*H*W) and reshapes them to `image_shape`.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        channels: Sequence[int],
        n_outputs: int,
        activation: str,
    ) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        n_channels, height, width = self.image_shape
        layers: list[nn.Module] = []
        for c_in, c_out in zip((n_channels, *channels[:-1]), channels):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)]
            layers += [ACTIVATIONS[activation]()]
        self.convolutions = nn.Sequential(*layers)
        h, w = _halved(height, len(channels))[-1], _halved(width, len(channels))[-1]
        self.linear = Linear(channels[-1] * h * w, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.convolutions(x.view(-1, *self.image_shape))
        return self.linear(x.flatten(1))


class ConvDecoder(nn.Module):
    """A linear layer, then stride-2 transposed convolutions mirroring `ConvEncoder`.

    ``output_padding`` is chosen per layer so that odd sizes come back exactly
    (28 -> 14 -> 7 -> 4 is undone as 4 -> 7 -> 14 -> 28). Returns flat outputs.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        channels: Sequence[int],
        n_inputs: int,
        activation: str,
    ) -> None:
        super().__init__()
        n_channels, height, width = image_shape
        heights = _halved(height, len(channels))[::-1]
        widths = _halved(width, len(channels))[::-1]
        channels = tuple(channels)[::-1]
        self.start_shape = (channels[0], heights[0], widths[0])
        self.linear = nn.Sequential(
            Linear(n_inputs, math.prod(self.start_shape)),
            ACTIVATIONS[activation](),
        )
        layers: list[nn.Module] = []
        outs = (*channels[1:], n_channels)
        for i, (c_in, c_out) in enumerate(zip(channels, outs)):
            # A stride-2 transposed convolution maps s to 2s - 1 + output_padding.
            padding = (heights[i + 1] - 2 * heights[i] + 1, widths[i + 1] - 2 * widths[i] + 1)
            layers.append(
                nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=padding)
            )
            if i < len(channels) - 1:
                layers.append(ACTIVATIONS[activation]())
        self.deconvolutions = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.linear(z).view(-1, *self.start_shape)
        return self.deconvolutions(x).flatten(1)


class LinearShortcut(nn.Module):
    """``linear(x) + network(x)``: a linear map with a non-linear correction.

    The last layer of `network` starts at zero, so the sum starts as the
    linear map; initialised from PCA, an autoencoder starts as PCA and
    training only adds what a linear map cannot do.
    """

    def __init__(self, network: nn.Module, n_inputs: int, n_outputs: int) -> None:
        super().__init__()
        self.network = network
        self.linear = Linear(n_inputs, n_outputs)
        last = [m for m in network.modules() if isinstance(m, (nn.Linear, nn.ConvTranspose2d))][-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.network(x)


def make_encoder_decoder(
    n_features: int,
    n_code_outputs: int,
    n_components: int,
    *,
    architecture: str,
    hidden_layer_sizes: Sequence[int],
    activation: str,
    image_shape: tuple[int, int, int] | None = None,
    linear_shortcut: bool = False,
) -> tuple[nn.Module, nn.Module]:
    """An encoder to `n_code_outputs` values and a decoder from `n_components`,
    each wrapped in a :class:`LinearShortcut` if `linear_shortcut`."""
    if architecture == "conv":
        encoder = ConvEncoder(image_shape, hidden_layer_sizes, n_code_outputs, activation)
        decoder = ConvDecoder(image_shape, hidden_layer_sizes, n_components, activation)
    else:
        hidden = list(hidden_layer_sizes)
        encoder = mlp([n_features, *hidden, n_code_outputs], activation)
        decoder = mlp([n_components, *hidden[::-1], n_features], activation)
    if linear_shortcut:
        encoder = LinearShortcut(encoder, n_features, n_code_outputs)
        decoder = LinearShortcut(decoder, n_components, n_features)
    return encoder, decoder


def widest_activation(network: nn.Module, n_features: int) -> int:
    """The most values that the input or a layer of `network` holds per sample."""
    widths = [n_features]

    def record(module: nn.Module, inputs, output) -> None:
        if isinstance(output, torch.Tensor):
            widths.append(output[0].numel())

    layers = [module for module in network.modules() if not any(module.children())]
    hooks = [layer.register_forward_hook(record) for layer in layers]
    parameter = next(network.parameters())
    was_training = network.training
    network.eval()  # a user's batch normalisation refuses one sample in training mode
    try:
        with torch.inference_mode():
            network(torch.zeros((1, n_features), dtype=parameter.dtype, device=parameter.device))
    finally:
        network.train(was_training)
        for hook in hooks:
            hook.remove()
    return max(widths)
