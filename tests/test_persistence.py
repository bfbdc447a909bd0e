"""The fitted state, pickling, and the safe format of save / skae.load."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_array_equal
from safetensors.torch import save_file
from sklearn.exceptions import NotFittedError

import skae
from conftest import FAST, rewrite_model_file
from skae import (
    AdversarialAutoencoderTransformer,
    AutoencoderTransformer,
    InconsistentVersionWarning,
    VAETransformer,
)
from skae._fitted_state import fitted_state

MODELS = {
    "ae-mlp": (AutoencoderTransformer, dict(n_components=4)),
    "ae-conv-bce": (
        AutoencoderTransformer,
        dict(n_components=4, architecture="conv", hidden_layer_sizes=(4,), loss="bce"),
    ),
    "vae-mlp": (VAETransformer, dict(n_components=4, n_importance_samples=8, kl_warmup=2)),
    "vae-mlp-isotropic": (VAETransformer, dict(n_components=4, likelihood="isotropic")),
    "vae-conv-bernoulli": (
        VAETransformer,
        dict(n_components=3, architecture="conv", hidden_layer_sizes=(4,), likelihood="bernoulli"),
    ),
}


@pytest.fixture(scope="module")
def X(digits):
    return digits[0][:300] / 16


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted(request, X):
    Estimator, params = MODELS[request.param]
    return Estimator(**{**FAST, **params}).fit(X)


@pytest.fixture
def saved(tmp_path, X):
    model = AutoencoderTransformer(**FAST).fit(X)
    path = tmp_path / "model.skae"
    model.save(path)
    return model, path


# A loaded model gives bit for bit the same transform, inverse_transform,
# score_samples and samples, has the same parameters and fitted attributes,
# and partial_fit continues as the saved model's would.
def test_round_trip_is_exact(fitted, X, tmp_path):
    path = tmp_path / "model.skae"
    fitted.save(path)
    loaded = skae.load(path)
    assert type(loaded) is type(fitted)
    assert loaded.get_params() == fitted.get_params()
    codes = fitted.transform(X)
    assert_array_equal(loaded.transform(X), codes)
    assert_array_equal(loaded.inverse_transform(codes), fitted.inverse_transform(codes))
    assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))
    assert_array_equal(loaded.sample(5, random_state=0), fitted.sample(5, random_state=0))
    for name in ("latent_mean_", "noise_variance_", "kl_per_component_", "loss_curve_"):
        if hasattr(fitted, name):
            assert_array_equal(getattr(loaded, name), getattr(fitted, name))
    going_on = pickle.loads(pickle.dumps(fitted))  # the saved model, continued in memory
    assert_array_equal(loaded.partial_fit(X).transform(X), going_on.partial_fit(X).transform(X))
    assert loaded.n_iter_ == going_on.n_iter_


# Column names, set_output's configuration and parameters of every kind
# (tuples, a RandomState) come back as they were.
def test_round_trip_keeps_names_output_and_parameters(X, tmp_path):
    frame = pd.DataFrame(X[:, :20], columns=[f"pixel {i}" for i in range(20)])
    rng = np.random.RandomState(0)
    model = VAETransformer(hidden_layer_sizes=(8, 4), max_iter=2, random_state=rng)
    model.set_output(transform="pandas").fit(frame)
    model.save(tmp_path / "model.skae")
    loaded = skae.load(tmp_path / "model.skae")
    assert loaded.hidden_layer_sizes == (8, 4)
    assert loaded.random_state.get_state()[1].tolist() == rng.get_state()[1].tolist()
    assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
    pd.testing.assert_frame_equal(loaded.transform(frame), model.transform(frame))


# A model saved from a GPU (here: a file that says so) loads on a machine
# without one, on the CPU; a device given to load becomes the device parameter
# too, so that partial_fit goes on there.
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_model_saved_on_cuda_loads_on_the_cpu(saved, X):
    model, path = saved

    def on_cuda(document):
        document["state"]["device_"] = {"device": "cuda:0"}
        document["params"]["dict"]["device"] = "cuda"

    rewrite_model_file(path, on_cuda)
    loaded = skae.load(path)
    assert loaded.device_ == torch.device("cpu")
    assert_array_equal(loaded.transform(X), model.transform(X))
    moved = skae.load(path, device="cpu")
    assert moved.device == "cpu" and moved.device_ == torch.device("cpu")
    moved.partial_fit(X)
    with pytest.raises(ValueError, match="CUDA is not available"):
        skae.load(path, device="cuda")


# Other versions of skae, torch or scikit-learn warn, as scikit-learn does,
# and the model still loads.
def test_version_mismatch_warns(saved, X):
    model, path = saved
    rewrite_model_file(path, lambda document: document["versions"].update(torch="1.0"))
    with pytest.warns(InconsistentVersionWarning, match="saved with torch 1.0"):
        loaded = skae.load(path)
    assert_array_equal(loaded.transform(X), model.transform(X))


# A pickle renamed as a model file is refused without being unpickled: the
# code it would run on unpickling never runs.
def test_a_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "model.skae"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ValueError, match="not a skae model file"):
        skae.load(path)
    assert not marker.exists()


# A truncated file, or a safetensors file that is not a model, is refused clearly.
def test_truncated_or_foreign_files(saved, tmp_path):
    _, path = saved
    content = path.read_bytes()
    for cut in (10, len(content) // 2, len(content) - 4):
        path.write_bytes(content[:cut])
        with pytest.raises(ValueError, match="not a skae model file"):
            skae.load(path)
    other = tmp_path / "weights.safetensors"
    save_file({"weight": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not a skae model"):
        skae.load(other)


# A file whose JSON names a class that is not one of skae's estimators is
# refused before anything is built, whatever the name points to.
@pytest.mark.parametrize(
    "name", ["PCA", "sklearn.decomposition.PCA", "os.system", "BaseAutoencoder"]
)
def test_only_skae_estimators_load(saved, name):
    _, path = saved
    rewrite_model_file(path, lambda document: document.update({"class": name}))
    with pytest.raises(ValueError, match="not one of skae's estimators"):
        skae.load(path)


# A file written before variance_explained_ existed loads, without the measure.
def test_file_from_before_variance_explained_loads(saved, X):
    model, path = saved
    rewrite_model_file(path, lambda document: document["state"].pop("variance_explained_"))
    loaded = skae.load(path)
    assert np.isnan(loaded.variance_explained_)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


# A VAE saved or pickled before free_bits existed trained on the plain ELBO,
# and goes on doing so when it is fitted further; its parameters are whole.
def test_vae_from_before_free_bits_keeps_its_training(X, tmp_path):
    vae = VAETransformer(n_components=2, **FAST).fit(X)
    path = tmp_path / "vae.skae"
    vae.save(path)
    rewrite_model_file(path, lambda document: document["params"]["dict"].pop("free_bits"))
    state = vae.__getstate__()
    del state["free_bits"]
    unpickled = VAETransformer.__new__(VAETransformer)
    unpickled.__setstate__(state)
    for old in (skae.load(path), unpickled):
        assert old.get_params()["free_bits"] == 0.0
        np.testing.assert_array_equal(old.transform(X), vae.transform(X))
        pickle.loads(pickle.dumps(old)).partial_fit(X)


def _wrong_shape(tensors):
    key = next(k for k in tensors if k.endswith("encoder.linear.weight"))
    tensors[key] = torch.zeros(3, 3)


def _extra_tensor(tensors):
    tensors["network_.extra"] = torch.zeros(1)


# Crafted contents: weights of the wrong shape, unknown or missing keys, a
# parameter or a value of an unknown kind; each is a clear error.
@pytest.mark.parametrize(
    "document, tensors, message",
    [
        (None, _wrong_shape, "has shape"),
        (None, _extra_tensor, "nothing refers to"),
        (lambda d: d["state"].update(_extra={"list": []}), None, "unknown"),
        (lambda d: d["state"].pop("_scaling"), None, "missing"),
        (lambda d: d["params"]["dict"].update(surprise=1), None, "surprise"),
        (lambda d: d["params"]["dict"].update(activation="rm -rf"), None, "activation"),
        (lambda d: d["state"].update(n_iter_={"pickle": "..."}), None, "unknown kind"),
        (lambda d: d["state"]["_spec"]["network_spec"]["dict"].update(kind="gan"), None, "kind"),
        (lambda d: d.update(format_version=99), None, "version 99"),
    ],
)
def test_crafted_files_are_refused(saved, document, tensors, message):
    _, path = saved
    rewrite_model_file(path, document, tensors)
    with pytest.raises(ValueError, match=message):
        skae.load(path)


# An unfitted model cannot be saved; a parameter the format cannot hold is
# named (pickle remains for those).
def test_save_errors(tmp_path, X):
    with pytest.raises(NotFittedError):
        AutoencoderTransformer().save(tmp_path / "model.skae")
    model = AutoencoderTransformer(device=torch.device("cpu"), **FAST).fit(X)
    model.save(tmp_path / "model.skae")  # a torch.device is fine
    model.set_params(verbose=object())
    with pytest.raises(TypeError, match="verbose"):
        model.save(tmp_path / "model.skae")


# The written list of fitted state is complete: fit sets nothing else (it is
# what pickling and the safe format keep), and a failed fit removes all of it.
@pytest.mark.parametrize(
    "Estimator", [AutoencoderTransformer, VAETransformer, AdversarialAutoencoderTransformer]
)
def test_fitted_state_is_listed(Estimator, X):
    model = Estimator(**FAST).fit(X)
    expected = {*model.get_params(), *fitted_state(model), "_sklearn_version"}
    assert set(vars(model)) <= expected
    assert set(fitted_state(model)) - {"feature_names_in_"} <= set(vars(model))
    model.temporary = "not state"
    assert "temporary" not in vars(pickle.loads(pickle.dumps(model)))
    with pytest.raises(ValueError):
        model.set_params(warm_start=False).fit(np.full((10, 64), np.nan))
    assert not set(fitted_state(model)) & set(vars(model))
