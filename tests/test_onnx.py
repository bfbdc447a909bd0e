"""ONNX export (skae.onnx): ONNX Runtime reproduces transform and inverse_transform."""

import copy

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")

from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from torch import nn  # noqa: E402

import skae.onnx  # noqa: E402
from skae import (  # noqa: E402
    AdversarialAutoencoderTransformer,
    AutoencoderTransformer,
    VAETransformer,
)

# Two batches an epoch, three epochs: any fitted weights will do.
FAST = dict(n_components=4, max_iter=3, batch_size=150, early_stopping=False, random_state=0)
MLP = dict(hidden_layer_sizes=(16,))
CONV = dict(architecture="conv", hidden_layer_sizes=(4, 8))
# name: (estimator, whether it is fitted on the digits in [0, 1] rather than the raw
# counts 0-16, the scaling that its fit must choose: what the graph reproduces)
CASES = {
    "ae-mlp": (AutoencoderTransformer(**FAST, **MLP), False, "global"),
    # loss='auto' is 'bce' for conv networks, on counts scaled into [0, 1]
    "ae-conv": (AutoencoderTransformer(**FAST, **CONV), False, "global_minmax"),
    "ae-conv-mse": (AutoencoderTransformer(**FAST, **CONV, loss="mse"), False, "global"),
    "vae-mlp-identity": (VAETransformer(**FAST, **MLP, activation="identity"), False, "global"),
    "vae-conv": (VAETransformer(**FAST, **CONV), False, "global"),
    "aae-mlp": (AdversarialAutoencoderTransformer(**FAST, **MLP), False, "global"),
    "ae-bce-random-gelu": (
        AutoencoderTransformer(**FAST, **MLP, loss="bce", init="random", activation="gelu"),
        True,
        None,
    ),
    "vae-bernoulli-conv-random-elu": (
        VAETransformer(
            **FAST,
            **CONV,
            likelihood="bernoulli",
            init="random",
            activation="elu",
            scaling="global_minmax",
        ),
        False,
        "global_minmax",
    ),
    "ae-standard-tanh": (
        AutoencoderTransformer(**FAST, **MLP, scaling="standard", activation="tanh"),
        False,
        "standard",
    ),
    "vae-random-logistic": (
        VAETransformer(**FAST, **MLP, init="random", activation="logistic"),
        False,
        "global",
    ),
}
BATCH_SIZES = (1, 7, 300)


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    """Float32 agreement. ONNX Runtime and torch sum the products of each layer
    in different orders: a few float32 roundings (1.2e-7 each) per layer of at
    most 64 terms give errors near 1e-6 of the largest value, well inside 1e-4;
    a wrong weight, layout or activation is off by far more."""
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def run(model, inputs: np.ndarray) -> np.ndarray:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # as torch below: tiny graphs, and pytest -n 2 contends
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    (outputs,) = session.run(None, {session.get_inputs()[0].name: inputs})
    return outputs


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: the networks are tiny, and with pytest -n 2 more
    threads only contend for the cores (a 3-epoch fit took seconds)."""
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


@pytest.fixture(scope="module")
def X(digits):
    """The first 300 digits, raw pixel counts 0-16, in float32."""
    return digits[0][:300].astype(np.float32)


@pytest.fixture(scope="module")
def fitted(X):
    """name -> (that case's estimator, fitted on first use and kept; the data it was fitted on)."""
    cache = {}

    def get(name: str):
        if name not in cache:
            estimator, unit_interval, scaling = CASES[name]
            data = X / 16 if unit_interval else X
            estimator = clone(estimator).fit(data)
            assert estimator.scaling_ == scaling  # the case covers the scaling it claims to
            cache[name] = estimator, data
        return cache[name]

    return get


@pytest.fixture(scope="module")
def pipeline(X):
    """StandardScaler, then an autoencoder, fitted on float32 digits."""
    steps = [("scale", StandardScaler()), ("ae", AutoencoderTransformer(**FAST, **MLP))]
    return Pipeline(steps).fit(X)


# Data in, codes out: one exported model (dynamic batch) gives skae's codes for any batch size.
@pytest.mark.parametrize("name", CASES)
def test_transform_matches_skae(fitted, name):
    estimator, X = fitted(name)
    model = skae.onnx.to_onnx(estimator)
    (graph_input,) = model.graph.input
    assert graph_input.name == "X"
    dims = graph_input.type.tensor_type.shape.dim
    assert not dims[0].HasField("dim_value") and dims[1].dim_value == X.shape[1]
    expected = estimator.transform(X)
    for n in BATCH_SIZES:
        assert_close(run(model, X[:n]), expected[:n])


# Codes in, data in the input's units out (the sigmoid of Bernoulli models and the scaling undone).
@pytest.mark.parametrize("name", CASES)
def test_inverse_transform_matches_skae(fitted, name):
    estimator, X = fitted(name)
    model = skae.onnx.to_onnx(estimator, method="inverse_transform")
    codes = estimator.transform(X)
    expected = estimator.inverse_transform(codes)
    for n in BATCH_SIZES:
        assert_close(run(model, codes[:n]), expected[:n])


# A whole pipeline converts through skl2onnx itself, once skae.onnx is imported.
def test_pipeline_converts_with_skl2onnx(pipeline, X):
    model = skl2onnx.to_onnx(pipeline, X[:1].astype(np.float32))
    expected = pipeline.transform(X)
    for n in BATCH_SIZES:
        assert_close(run(model, X[:n]), expected[:n])


# Double input through a pipeline: skae's part computes in float32 and hands back float64.
def test_double_pipeline_input_gives_double_output(pipeline, X):
    X64 = X.astype(np.float64)
    model = skl2onnx.to_onnx(pipeline, initial_types=[("X", DoubleTensorType([None, 64]))])
    assert_close(run(model, X64), pipeline.transform(X64))


# Features in tiny units, which skae divides by their scale in float64 before the cast.
def test_features_in_tiny_units(X):
    estimator = AutoencoderTransformer(**FAST, **MLP, scaling="standard").fit(X * 1e-32)
    assert estimator.input_scale_.min() < 1e-30  # skae's threshold for dividing on the host
    for dtype, tensor_type in ((np.float32, FloatTensorType), (np.float64, DoubleTensorType)):
        data = (X * 1e-32).astype(dtype)
        width = {"transform": data.shape[1], "inverse_transform": estimator.n_components_}
        models = {
            method: skl2onnx.to_onnx(
                estimator,
                initial_types=[("X", tensor_type([None, n]))],
                options={id(estimator): {"method": method}},
            )
            for method, n in width.items()
        }
        codes = estimator.transform(data)
        assert_close(run(models["transform"], data), codes)
        assert_close(run(models["inverse_transform"], codes), estimator.inverse_transform(codes))


# skl2onnx's `method` option decodes instead, here from double codes to double data.
def test_inverse_transform_option_with_double_codes(fitted):
    estimator, X = fitted("ae-standard-tanh")
    codes = estimator.transform(X.astype(np.float64))
    model = skl2onnx.to_onnx(
        estimator,
        initial_types=[("codes", DoubleTensorType([None, estimator.n_components_]))],
        options={id(estimator): {"method": "inverse_transform"}},
    )
    assert_close(run(model, codes), estimator.inverse_transform(codes))


# The oldest opset the converter supports still reproduces skae (Slice, Conv, ConvTranspose).
@pytest.mark.parametrize("method", skae.onnx.METHODS)
def test_oldest_opset(fitted, method):
    estimator, X = fitted("vae-conv")
    model = skae.onnx.to_onnx(estimator, method, target_opset=skae.onnx.MIN_OPSET)
    assert {o.domain: o.version for o in model.opset_import}[""] == skae.onnx.MIN_OPSET
    inputs = X if method == "transform" else estimator.transform(X)
    assert_close(run(model, inputs), getattr(estimator, method)(inputs))


# An opset older than the converter's operators is refused rather than miswritten.
def test_too_old_opset_raises(fitted):
    estimator, _ = fitted("ae-mlp")
    with pytest.raises(ValueError, match=f"opset {skae.onnx.MIN_OPSET} or later"):
        skae.onnx.to_onnx(estimator, target_opset=skae.onnx.MIN_OPSET - 1)


# An unfitted estimator is refused, by skae's to_onnx and inside skl2onnx's conversion.
def test_unfitted_estimator_raises(X):
    with pytest.raises(NotFittedError):
        skae.onnx.to_onnx(VAETransformer())
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(Pipeline([("ae", AutoencoderTransformer())]), X[:1])


# An unknown method is refused with its name, by skae and by skl2onnx's option check.
def test_bad_method_raises(fitted, X):
    estimator, _ = fitted("ae-mlp")
    with pytest.raises(ValueError, match="'predict'"):
        skae.onnx.to_onnx(estimator, method="predict")
    with pytest.raises(ValueError, match="predict"):
        skl2onnx.to_onnx(estimator, X[:1], options={id(estimator): {"method": "predict"}})


# Only skae's estimators are converted, and a network layer skae never builds is named.
def test_unknown_estimator_or_module_raises(fitted, X):
    with pytest.raises(TypeError, match="StandardScaler"):
        skae.onnx.to_onnx(StandardScaler().fit(X))
    estimator = copy.deepcopy(fitted("ae-bce-random-gelu")[0])  # no shortcut: a Sequential
    estimator.network_.encoder.append(nn.Softplus())
    with pytest.raises(TypeError, match="Softplus"):
        skae.onnx.to_onnx(estimator)
