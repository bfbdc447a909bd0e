"""ONNX export of skae's estimators, through skl2onnx.

Importing this module registers :class:`~skae.AutoencoderTransformer`,
:class:`~skae.VAETransformer` and
:class:`~skae.AdversarialAutoencoderTransformer` with `skl2onnx <https://onnx.ai/sklearn-onnx/>`_,
so that a fitted estimator converts on its own or inside a pipeline::

    import skae.onnx  # registers skae's converters with skl2onnx
    from skl2onnx import to_onnx
    onx = to_onnx(pipeline, X[:1].astype(np.float32))

The graph computes ``transform`` (data in the units of the input, codes out:
skae's internal scaling included; a VAE's posterior mean) or, with the
skl2onnx option ``{"method": "inverse_transform"}`` (e.g.
``options={id(estimator): {"method": "inverse_transform"}}``), the decoding of
codes back to data in the input's units. :func:`to_onnx` converts a single
estimator with either method. The networks compute in float32: double inputs
are cast to float32 (once the scaling's offset is subtracted in double, as
skae does) and the outputs back to double. Needs the ``onnx`` extra
(``pip install skae[onnx]``): onnx and skl2onnx.
"""

from __future__ import annotations

import math
from functools import singledispatch

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from skae._adversarial import AdversarialAutoencoderTransformer
from skae._autoencoder import AutoencoderTransformer
from skae._layers import ConvDecoder, ConvEncoder, LinearShortcut
from skae._networks import Autoencoder, VariationalAutoencoder
from skae._scaling import Scaling
from skae._user_networks import ShapedInput
from skae._vae import VAETransformer

try:
    from onnx import ModelProto, helper, numpy_helper
    from skl2onnx import convert_sklearn, update_registered_converter
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, guess_tensor_type
    from skl2onnx.common.utils import check_input_and_output_numbers, check_input_and_output_types
except ModuleNotFoundError as error:  # pragma: no cover - depends on the environment
    # Of the same type and name, so that callers can tell which dependency is missing.
    raise ModuleNotFoundError(
        f"skae.onnx needs onnx and skl2onnx ({error.name} is missing): pip install 'skae[onnx]'.",
        name=error.name,
    ) from error

__all__ = ["METHODS", "MIN_OPSET", "to_onnx"]

METHODS = ("transform", "inverse_transform")
_ALIASES = {
    AutoencoderTransformer: "SkaeAutoencoderTransformer",
    VAETransformer: "SkaeVAETransformer",
    AdversarialAutoencoderTransformer: "SkaeAdversarialAutoencoderTransformer",
}
# The oldest opset with every operator emitted here in its current form
# (Gemm without a bias input, Slice with its bounds as inputs).
MIN_OPSET = 11
_SIMPLE_ACTIVATIONS = {nn.ReLU: "Relu", nn.Tanh: "Tanh", nn.Sigmoid: "Sigmoid"}


def to_onnx(estimator, method: str = "transform", *, target_opset: int | None = None) -> ModelProto:
    """Convert a fitted skae estimator's `method` to an ONNX model.

    Parameters
    ----------
    estimator : AutoencoderTransformer, VAETransformer or AdversarialAutoencoderTransformer
        A fitted estimator.
    method : {'transform', 'inverse_transform'}, default='transform'
        ``transform``: data in, codes out; ``inverse_transform``: codes in,
        data out, both in the units of the data the estimator was fitted on.
    target_opset : int, default=None
        The ONNX opset; None for skl2onnx's latest tested one.

    Returns
    -------
    model : onnx.ModelProto
        A graph with one float32 input "X" of shape ``[None, n_features_in_]``
        (``[None, n_components_]`` for ``inverse_transform``), any number of
        rows, and one float32 output.
    """
    if type(estimator) not in _ALIASES:
        raise TypeError(
            "skae.onnx.to_onnx converts skae's estimators (AutoencoderTransformer, "
            "VAETransformer, AdversarialAutoencoderTransformer), "
            f"got {type(estimator).__name__}; use skl2onnx.to_onnx for pipelines."
        )
    _check_method(method)
    check_is_fitted(estimator)
    width = estimator.n_features_in_ if method == "transform" else estimator.n_components_
    return convert_sklearn(
        estimator,
        initial_types=[("X", FloatTensorType([None, width]))],
        target_opset=target_opset,
        options={id(estimator): {"method": method}},
    )


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")


def _method(operator) -> str:
    """The method that the skl2onnx option ``method`` chose for this operator."""
    options = operator.scope_inst.get_options(operator.raw_operator, {"method": "transform"})
    _check_method(options["method"])
    return options["method"]


# ----------------------------------------------------------------------
# The skl2onnx shape calculator and converter


def _parse(scope, model, inputs, custom_parsers=None) -> list:
    """One output, as for a transformer: skl2onnx would give an outlier
    detector a label and a score."""
    operator = scope.declare_local_operator(_ALIASES[type(model)], model)
    operator.inputs = inputs
    operator.outputs.append(
        scope.declare_local_variable("variable", guess_tensor_type(inputs[0].type))
    )
    return operator.outputs


def _calculate_output_shapes(operator) -> None:
    """skl2onnx shape calculator: ``[N, n_features_in_]`` -> ``[N, n_components_]``
    for ``transform``, the reverse for ``inverse_transform``, in the input's type.

    Parameters
    ----------
    operator : skl2onnx.common._topology.Operator
        The operator of a fitted skae estimator.
    """
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_input_and_output_types(operator, good_input_types=[FloatTensorType, DoubleTensorType])
    estimator = operator.raw_operator
    check_is_fitted(estimator)
    widths = (estimator.n_features_in_, estimator.n_components_)
    method = _method(operator)
    n_in, n_out = widths if method == "transform" else widths[::-1]
    input_type = operator.inputs[0].type
    shape = input_type.shape
    if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != n_in):
        raise ValueError(
            f"{type(estimator).__name__}.{method} takes inputs of shape "
            f"[N, {n_in}], got {list(shape)}."
        )
    rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = type(input_type)([rows, n_out])


def _convert(scope, operator, container) -> None:
    """skl2onnx converter: the nodes of ``transform`` or ``inverse_transform``.

    Parameters
    ----------
    scope : skl2onnx.common._topology.Scope
    operator : skl2onnx.common._topology.Operator
    container : skl2onnx.common._container.ModelComponentContainer
    """
    opset = container.target_opset_any_domain("")
    if opset is not None and opset < MIN_OPSET:
        raise ValueError(f"skae's ONNX converters need opset {MIN_OPSET} or later, got {opset}.")
    estimator = operator.raw_operator
    graph = _Graph(scope, container)
    dtype = np.float64 if isinstance(operator.inputs[0].type, DoubleTensorType) else np.float32
    network = estimator.network_
    values = operator.inputs[0].full_name
    if _method(operator) == "transform":
        values = _emit_scaling(graph, estimator._scaling, values, dtype)
        values = _emit_code(graph, network, values, estimator.n_components_)
        values = _cast(graph, values, np.float32, dtype)
    else:
        values = _cast(graph, values, dtype, np.float32)
        values = _emit_decode(graph, network, values)
        values = _emit_unscaling(graph, estimator._scaling, values, dtype)
    graph.node("Identity", [values], output=operator.outputs[0].full_name)


class _Graph:
    """Adds named initializers and nodes to a skl2onnx container."""

    def __init__(self, scope, container) -> None:
        self.scope = scope
        self.container = container

    def constant(self, values: np.ndarray | torch.Tensor, seed: str = "skae_const") -> str:
        """An initializer holding `values` (a tensor is taken as float32); its name."""
        if isinstance(values, torch.Tensor):
            values = values.detach().to("cpu", torch.float32).numpy()
        tensor = numpy_helper.from_array(np.ascontiguousarray(values))
        name = self.scope.get_unique_variable_name(seed)
        self.container.add_initializer(name, tensor.data_type, list(values.shape), tensor)
        return name

    def node(self, op_type: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        """Add an `op_type` node of `inputs`; the name of its one output."""
        output = output or self.scope.get_unique_variable_name(f"skae_{op_type.lower()}")
        name = self.scope.get_unique_operator_name(f"Skae{op_type}")
        self.container.add_node(op_type, inputs, [output], name=name, **attrs)
        return output


# ----------------------------------------------------------------------
# The scaling and the network's two halves


def _emit_scaling(graph: _Graph, scaling: Scaling, x: str, dtype: type) -> str:
    """``(x - offset) / scale`` to float32, split between precisions as skae
    splits it (:meth:`~skae._scaling.Scaling.on`): the offset subtracted in the
    input's precision (cast to float32 first, a feature whose offset dwarfs its
    spread would lose that spread), in float64 with features in tiny units,
    which it divides there too; then the cast, then the float32 scale."""
    placed = scaling.on(torch.device("cpu"), dtype)
    if placed is None:
        return _cast(graph, x, dtype, np.float32)
    host_dtype = placed.host_offset.dtype
    x = graph.node("Sub", [_cast(graph, x, dtype, host_dtype), graph.constant(placed.host_offset)])
    if placed.host_scale is not None:
        x = graph.node("Div", [x, graph.constant(placed.host_scale.astype(host_dtype))])
    x = _cast(graph, x, host_dtype, np.float32)
    return graph.node("Div", [x, graph.constant(placed.scale, "skae_scale")])


def _emit_unscaling(graph: _Graph, scaling: Scaling, x: str, dtype: type) -> str:
    """``x * scale + offset``, as skae's ``inverse_transform``: the float32
    scale in float32, the scale of features in tiny units and the offset in
    the output's precision (:meth:`~skae._scaling.Scaling.undo_on_host`)."""
    placed = scaling.on(torch.device("cpu"), np.float32)
    if placed is not None:
        x = graph.node("Mul", [x, graph.constant(placed.scale, "skae_scale")])
    x = _cast(graph, x, np.float32, dtype)
    if placed is not None:
        if placed.host_scale is not None:
            x = graph.node("Mul", [x, graph.constant(placed.host_scale.astype(dtype))])
        x = graph.node("Add", [x, graph.constant(scaling.offset.astype(dtype), "skae_offset")])
    return x


def _cast(graph: _Graph, x: str, source: type, target: type) -> str:
    """`x` of dtype `source` as `target`: a Cast node where they differ."""
    if np.dtype(source) == np.dtype(target):
        return x
    return graph.node("Cast", [x], to=helper.np_dtype_to_tensor_dtype(np.dtype(target)))


def _emit_code(graph: _Graph, network: nn.Module, x: str, n_components: int) -> str:
    """``network.code(x)``: the encoder's output, for a VAE its first
    `n_components` columns (the posterior mean)."""
    _check_network(network)
    code = _emit(network.encoder, graph, x)
    if isinstance(network, VariationalAutoencoder):
        bounds = (graph.constant(np.array([v], dtype=np.int64)) for v in (0, n_components, 1))
        code = graph.node("Slice", [code, *bounds])
    return code


def _emit_decode(graph: _Graph, network: nn.Module, z: str) -> str:
    """``network.decode(z)``: the decoder's output, through a sigmoid for
    Bernoulli (cross-entropy) models."""
    _check_network(network)
    x = _emit(network.decoder, graph, z)
    if isinstance(network, Autoencoder):
        sigmoid = network.loss_name == "bce"
    else:
        sigmoid = network.likelihood == "bernoulli"
    return graph.node("Sigmoid", [x]) if sigmoid else x


def _check_network(network: nn.Module) -> None:
    if not isinstance(network, (Autoencoder, VariationalAutoencoder)):
        raise TypeError(f"skae.onnx cannot convert a network of type {type(network).__name__}.")


# ----------------------------------------------------------------------
# The modules, one emitter per type


@singledispatch
def _emit(module: nn.Module, graph: _Graph, x: str) -> str:
    """Add the nodes computing ``module(x)`` to `graph`; the name of the result."""
    raise TypeError(
        f"skae.onnx cannot convert a {type(module).__name__} module: it converts "
        "the layers that skae builds (Linear, Conv2d, ConvTranspose2d and their activations)."
    )


@_emit.register
def _(module: nn.Sequential, graph: _Graph, x: str) -> str:
    for layer in module:
        x = _emit(layer, graph, x)
    return x


@_emit.register
def _(module: LinearShortcut, graph: _Graph, x: str) -> str:
    return graph.node("Add", [_emit(module.linear, graph, x), _emit(module.network, graph, x)])


@_emit.register
def _(module: ConvEncoder, graph: _Graph, x: str) -> str:
    x = _reshape(graph, x, module.image_shape)
    x = graph.node("Flatten", [_emit(module.convolutions, graph, x)], axis=1)
    return _emit(module.linear, graph, x)


@_emit.register
def _(module: ConvDecoder, graph: _Graph, x: str) -> str:
    x = _reshape(graph, _emit(module.linear, graph, x), module.start_shape)
    return graph.node("Flatten", [_emit(module.deconvolutions, graph, x)], axis=1)


@_emit.register
def _(module: ShapedInput, graph: _Graph, x: str) -> str:
    if module.input_shape is not None:
        x = _reshape(graph, x, module.input_shape)
    return graph.node("Flatten", [_emit(module.network, graph, x)], axis=1)


def _reshape(graph: _Graph, x: str, shape: tuple[int, ...]) -> str:
    """``x.view(-1, *shape)``."""
    return graph.node("Reshape", [x, graph.constant(np.array([-1, *shape], dtype=np.int64))])


@_emit.register
def _(module: nn.Linear, graph: _Graph, x: str) -> str:
    inputs = [x, graph.constant(module.weight, "skae_weight")]
    if module.bias is not None:
        inputs.append(graph.constant(module.bias, "skae_bias"))
    return graph.node("Gemm", inputs, transB=1)


@_emit.register(nn.Conv2d)
@_emit.register(nn.ConvTranspose2d)
def _(module: nn.Conv2d | nn.ConvTranspose2d, graph: _Graph, x: str) -> str:
    if module.padding_mode != "zeros" or isinstance(module.padding, str):
        raise TypeError(
            f"skae.onnx converts {type(module).__name__} layers with numeric zero "
            f"padding, got padding={module.padding!r}, padding_mode={module.padding_mode!r}."
        )
    # torch's ConvTranspose2d weight is (in, out / groups, kH, kW), as ONNX's.
    inputs = [x, graph.constant(module.weight, "skae_weight")]
    if module.bias is not None:
        inputs.append(graph.constant(module.bias, "skae_bias"))
    attributes = dict(
        kernel_shape=list(module.kernel_size),
        strides=list(module.stride),
        pads=[*module.padding, *module.padding],
        dilations=list(module.dilation),
        group=module.groups,
    )
    if isinstance(module, nn.ConvTranspose2d):
        attributes["output_padding"] = list(module.output_padding)
        return graph.node("ConvTranspose", inputs, **attributes)
    return graph.node("Conv", inputs, **attributes)


def _emit_activation(module: nn.Module, graph: _Graph, x: str) -> str:
    op_type = next(op for cls, op in _SIMPLE_ACTIVATIONS.items() if isinstance(module, cls))
    return graph.node(op_type, [x])


for _activation in _SIMPLE_ACTIVATIONS:
    _emit.register(_activation, _emit_activation)


@_emit.register
def _(module: nn.Identity, graph: _Graph, x: str) -> str:
    return x


@_emit.register
def _(module: nn.ELU, graph: _Graph, x: str) -> str:
    return graph.node("Elu", [x], alpha=float(module.alpha))


@_emit.register
def _(module: nn.GELU, graph: _Graph, x: str) -> str:
    # 0.5 x (1 + erf(x / sqrt 2)): opset 20's Gelu operator would rule out older runtimes.
    if module.approximate != "none":
        raise TypeError(
            f"skae.onnx converts the exact GELU, got approximate={module.approximate!r}."
        )
    constant = {v: graph.constant(np.array(v, dtype=np.float32)) for v in (math.sqrt(2), 1.0, 0.5)}
    erf = graph.node("Erf", [graph.node("Div", [x, constant[math.sqrt(2)]])])
    half_x = graph.node("Mul", [x, constant[0.5]])
    return graph.node("Mul", [half_x, graph.node("Add", [erf, constant[1.0]])])


for _estimator, _alias in _ALIASES.items():
    update_registered_converter(
        _estimator,
        _alias,
        _calculate_output_shapes,
        _convert,
        parser=_parse,
        options={"method": list(METHODS)},
    )
