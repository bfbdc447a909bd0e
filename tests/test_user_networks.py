"""Your own torch networks inside the estimators: encoder= and decoder=."""

import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from torch import nn

import skae
from conftest import rewrite_model_file
from skae import AutoencoderTransformer, Network, UntrustedNetworkError, VAETransformer
from skae.datasets import load_mnist_split

ESTIMATORS = [AutoencoderTransformer, VAETransformer]
QUICK = dict(max_iter=3, random_state=0)


class Encoder(nn.Sequential):
    """A user's MLP: skae fills in n_inputs and n_outputs."""

    def __init__(self, n_inputs, n_outputs, width=16):
        super().__init__(nn.Linear(n_inputs, width), nn.ReLU(), nn.Linear(width, n_outputs))


Decoder = Encoder  # the same shape of network, the other way round


class Regularised(nn.Module):
    """Batch normalisation and dropout: eval mode must be used for transform."""

    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_inputs, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5)
        )
        self.out = nn.Linear(16, n_outputs)

    def forward(self, x):
        return self.out(self.layers(x))


# The source documents' image networks: three stride-2 convolutions to a
# 4x4x128 map and a linear layer to the code, and back.
class ConvEncoder(nn.Module):
    def __init__(self, latent_dim=16):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 128, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.fc = nn.Linear(4 * 4 * 128, latent_dim)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


class ConvDecoder(nn.Module):
    def __init__(self, latent_dim=16):
        super().__init__()
        self.fc = nn.Linear(latent_dim, 4 * 4 * 128)
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1),
        )

    def forward(self, z):
        return self.deconv(torch.relu(self.fc(z)).view(-1, 128, 4, 4))


class ImageShapes(nn.Module):
    """Records the shape of the batches it receives."""

    def __init__(self, n_outputs):
        super().__init__()
        self.linear = nn.Linear(64, n_outputs)
        self.seen = []

    def forward(self, x):
        self.seen.append(tuple(x.shape[1:]))
        return self.linear(x.flatten(1))


class WrongWidth(nn.Module):
    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.linear = nn.Linear(n_inputs, n_outputs + 1)

    def forward(self, x):
        return self.linear(x)


class FailsOnDevice(nn.Module):
    """Holds a float64 weight, so that float32 batches fail in its forward."""

    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_inputs, n_outputs, dtype=torch.float64))

    def forward(self, x):
        return x @ self.weight


def _networks(**kwargs):
    return dict(encoder=Network(Encoder, **kwargs), decoder=Network(Decoder, **kwargs))


# ----------------------------------------------------------------------
# Network, the class and its arguments


def test_network_params_route_through_the_estimator():
    est = AutoencoderTransformer(**_networks(width=8))
    assert est.get_params()["encoder__width"] == 8
    est.set_params(encoder__width=32, decoder__module=Regularised)
    assert est.encoder == Network(Encoder, width=32)
    assert est.decoder.module is Regularised
    copy = clone(est)
    assert copy.encoder == est.encoder and copy.encoder is not est.encoder
    assert repr(est.encoder) == "Network(Encoder, width=32)"


def test_network_refuses_an_argument_its_class_does_not_take():
    with pytest.raises(ValueError, match="takes no argument 'depth'"):
        Network(Encoder).set_params(depth=3)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("form", ["class", "network", "instance"])
def test_fit_with_each_form(Estimator, form, digits):
    X = digits[0][:300]
    n_outputs = 8 if Estimator is VAETransformer else 4
    given = {
        "class": dict(encoder=Encoder, decoder=Decoder),
        "network": _networks(width=12),
        "instance": dict(encoder=Encoder(64, n_outputs), decoder=Decoder(4, 64)),
    }[form]
    est = Estimator(n_components=4, **given, **QUICK).fit(X)
    assert est.transform(X).shape == (300, 4)
    assert est.inverse_transform(est.transform(X)).shape == X.shape
    assert np.isfinite(est.score_samples(X)).all()
    assert est.sample(3, random_state=0).shape == (3, 64)
    assert est.network_.encoder.network is not est.encoder  # a copy was trained


def test_instance_is_never_trained_in_place(digits):
    encoder, decoder = Encoder(64, 4), Decoder(4, 64)
    before = [p.detach().clone() for p in [*encoder.parameters(), *decoder.parameters()]]
    est = AutoencoderTransformer(n_components=4, encoder=encoder, decoder=decoder, **QUICK)
    est.fit(digits[0][:200])
    for old, new in zip(before, [*encoder.parameters(), *decoder.parameters()]):
        assert_array_equal(old, new.detach())


def test_sizes_are_filled_in_and_yours_win(digits):
    est = VAETransformer(n_components=3, **_networks(), **QUICK).fit(digits[0][:200])
    assert est.network_.encoder.network[-1].out_features == 6  # mean and log-variance
    assert est.network_.decoder.network[0].in_features == 3
    est = AutoencoderTransformer(
        n_components=3, encoder=Network(Encoder, n_outputs=2), decoder=Decoder, **QUICK
    )
    with pytest.raises(ValueError, match=r"to \(batch, 2\).*shape \(batch, 3\)"):
        est.fit(digits[0][:200])


def test_same_random_state_same_model(digits):
    X = digits[0][:200]
    first = AutoencoderTransformer(n_components=4, **_networks(), **QUICK).fit_transform(X)
    second = AutoencoderTransformer(n_components=4, **_networks(), **QUICK).fit_transform(X)
    assert_array_equal(first, second)


# Dropout draws from torch's global generator: seeded from random_state for
# the fit, and the caller's stream is left where it was.
def test_dropout_is_reproducible_and_leaves_the_global_stream(digits):
    X = digits[0][:200]
    state = torch.random.get_rng_state()
    codes = [
        AutoencoderTransformer(n_components=4, encoder=Regularised, decoder=Regularised, **QUICK)
        .fit(X)
        .transform(X)
        for _ in range(2)
    ]
    assert_array_equal(*codes)
    assert torch.equal(state, torch.random.get_rng_state())


# A failed partial_fit leaves the model as it was, and the next one goes on
# (the user's instance in the specification is kept, not copied).
def test_partial_fit_after_a_failed_one(digits):
    X = digits[0][:200]
    est = AutoencoderTransformer(
        n_components=4, encoder=Encoder(64, 4), decoder=Decoder(4, 64), **QUICK
    ).partial_fit(X)
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :10])
    est.partial_fit(X)
    assert est.n_iter_ == 2


def test_a_module_among_the_arguments_is_pickled_not_saved(digits, tmp_path):
    est = AutoencoderTransformer(
        n_components=4, encoder=Network(Encoder, width=nn.Identity()), decoder=Decoder
    )
    with pytest.raises(TypeError):  # Linear(64, Identity()) is no network
        est.fit(digits[0][:100])
    est = AutoencoderTransformer(n_components=4, encoder=Encoder, decoder=Decoder, **QUICK)
    est.fit(digits[0][:100]).set_params(encoder=Encoder(64, 4), warm_start=False)
    with pytest.raises(TypeError, match="torch module"):
        est.save(tmp_path / "model.skae")


def test_eval_mode_for_transform(digits):
    X = digits[0][:200]
    est = AutoencoderTransformer(
        n_components=4, encoder=Regularised, decoder=Regularised, **QUICK
    ).fit(X)
    assert_array_equal(est.transform(X), est.transform(X))  # no dropout
    assert est.network_.training is False


def test_image_shape_feeds_images(digits):
    X = digits[0][:100]
    est = AutoencoderTransformer(
        n_components=2, encoder=ImageShapes, decoder=Decoder, image_shape=(8, 8), **QUICK
    ).fit(X)
    assert set(est.network_.encoder.network.seen) == {(1, 8, 8)}
    assert est.image_shape_ == (1, 8, 8)


# ----------------------------------------------------------------------
# The contract, checked at fit


@pytest.mark.parametrize(
    ("given", "error", "message"),
    [
        (dict(encoder=WrongWidth, decoder=Decoder), ValueError, r"encoder maps .* \(batch, 5\)"),
        (dict(encoder=Encoder, decoder=WrongWidth), ValueError, r"decoder maps .*\(batch, 65\)"),
        (dict(encoder=FailsOnDevice, decoder=Decoder), ValueError, "encoder failed .* cpu"),
        (dict(encoder=Encoder), ValueError, "given together"),
        (dict(encoder=np.ndarray, decoder=Decoder), TypeError, "not a torch network"),
        (dict(**_networks(), architecture="conv"), ValueError, "architecture='conv'"),
        (dict(**_networks(), hidden_layer_sizes=(8,)), ValueError, "hidden_layer_sizes"),
        (dict(**_networks(), init="pca"), ValueError, "init='pca'"),
    ],
)
def test_contract_errors(given, error, message, digits):
    est = AutoencoderTransformer(n_components=4, **given, **QUICK)
    with pytest.raises(error, match=message):
        est.fit(digits[0][:100])
    assert not hasattr(est, "network_")


def test_a_class_that_cannot_be_called_so_is_named(digits):
    est = AutoencoderTransformer(
        encoder=Network(ConvEncoder, depth=3), decoder=ConvDecoder, **QUICK
    )
    with pytest.raises(TypeError, match=r"ConvEncoder\(depth=3\) failed"):
        est.fit(digits[0][:100])


def test_vae_error_explains_the_two_halves(digits):
    est = VAETransformer(n_components=4, encoder=Network(Encoder, n_outputs=4), decoder=Decoder)
    with pytest.raises(ValueError, match="posterior means and log-variances"):
        est.fit(digits[0][:100])


# ----------------------------------------------------------------------
# Everything else works unchanged


def test_grid_search_over_a_network_argument(digits):
    X = digits[0][:300]
    search = GridSearchCV(
        AutoencoderTransformer(n_components=4, **_networks(), **QUICK),
        {"encoder__width": [4, 32], "decoder__width": [4, 32]},
        cv=2,
    ).fit(X)
    assert search.best_estimator_.network_.encoder.network[0].out_features in (4, 32)
    assert len(search.cv_results_["params"]) == 4


def test_warm_start_and_partial_fit_continue_your_network(digits):
    X = digits[0][:300]
    est = AutoencoderTransformer(n_components=4, **_networks(), warm_start=True, **QUICK).fit(X)
    network = est.network_
    est.fit(X).partial_fit(X)
    assert est.network_ is network
    with pytest.raises(ValueError, match="encoder"):
        est.set_params(encoder__width=8).fit(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_training_options_with_your_network(Estimator, digits):
    X = digits[0][:200]
    est = Estimator(
        n_components=2,
        **_networks(),
        noise="masking",
        contamination=0.1,
        neighbor_weight=0.5,
        mixed_precision=True,
        **QUICK,
    ).fit(X)
    assert np.isfinite(est.transform(X)).all()
    assert est.interpolate(X[:1], X[1:2], n_steps=3).shape == (1, 3, 64)


# ----------------------------------------------------------------------
# Saving, loading, pickling


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_save_and_load_with_the_classes_trusted(Estimator, digits, tmp_path):
    X = digits[0][:200]
    est = Estimator(n_components=4, encoder=Network(Encoder, width=8), decoder=Decoder, **QUICK)
    est.fit(X)
    path = tmp_path / "model.skae"
    est.save(path)
    with pytest.raises(UntrustedNetworkError, match="Encoder") as caught:
        skae.load(path)
    assert caught.value.untrusted == [f"{__name__}.Encoder"]  # Decoder is the same class
    for trusted in ([Encoder], [f"{__name__}.Encoder"]):
        loaded = skae.load(path, trusted=trusted)
        assert_array_equal(loaded.transform(X), est.transform(X))
        assert loaded.encoder == est.encoder and loaded.decoder is Decoder
    loaded.partial_fit(X)  # the optimiser's state came back too


def test_load_refuses_a_class_trusted_by_another_name(digits, tmp_path):
    est = AutoencoderTransformer(n_components=4, **_networks(), **QUICK).fit(digits[0][:100])
    est.save(tmp_path / "model.skae")
    with pytest.raises(UntrustedNetworkError):
        skae.load(tmp_path / "model.skae", trusted=[Regularised, "os.system"])


def _point_classes_at(module, qualname):
    """Rewrite every recorded network class of a file to `module`.`qualname`."""

    def edit(value):
        if isinstance(value, dict):
            if set(value.get("dict", ())) == {"module", "qualname"}:
                value["dict"].update(module=module, qualname=qualname)
            for item in value.values():
                edit(item)
        elif isinstance(value, list):
            for item in value:
                edit(item)

    return edit


# A crafted file that names any other class is refused before an import; one
# trusted by its path but not a torch network is refused after it.
def test_crafted_class_names_are_refused(digits, tmp_path):
    path = tmp_path / "model.skae"
    AutoencoderTransformer(n_components=4, **_networks(), **QUICK).fit(digits[0][:100]).save(path)
    rewrite_model_file(path, _point_classes_at("os", "system"))
    with pytest.raises(UntrustedNetworkError, match="'os.system'"):
        skae.load(path, trusted=[Encoder])
    with pytest.raises(ValueError, match="not a torch network"):
        skae.load(path, trusted=["os.system"])


def test_a_network_smuggled_into_the_specification_is_refused(digits, tmp_path):
    path = tmp_path / "model.skae"
    AutoencoderTransformer(n_components=4, **QUICK).fit(digits[0][:100]).save(path)
    source = {
        "dict": {"class": {"dict": {"module": "os", "qualname": "system"}}, "kwargs": {"dict": {}}}
    }

    def smuggle(document):
        document["state"]["_spec"]["network_spec"]["dict"].update(encoder=source)

    rewrite_model_file(path, smuggle)
    with pytest.raises(UntrustedNetworkError, match=f"^{path} builds .*os.system"):
        skae.load(path)


def test_trusted_holds_classes_or_paths(tmp_path):
    with pytest.raises(TypeError, match="trusted holds"):
        skae.load(tmp_path / "absent.skae", trusted=[print])


def test_an_instance_is_pickled_not_saved(digits, tmp_path):
    X = digits[0][:100]
    est = AutoencoderTransformer(
        n_components=4, encoder=Encoder(64, 4), decoder=Decoder(4, 64), **QUICK
    ).fit(X)
    with pytest.raises(TypeError, match=r"torch module.*skae.Network\(cls"):
        est.save(tmp_path / "model.skae")
    assert not (tmp_path / "model.skae").exists()
    assert_allclose(pickle.loads(pickle.dumps(est)).transform(X), est.transform(X))


def test_onnx_export_of_your_network(digits):
    pytest.importorskip("onnxruntime")
    from skae.onnx import to_onnx

    ort = pytest.importorskip("onnxruntime")
    X = digits[0][:50].astype(np.float32)
    est = AutoencoderTransformer(n_components=4, **_networks(), **QUICK).fit(X)
    session = ort.InferenceSession(to_onnx(est).SerializeToString())
    (codes,) = session.run(None, {session.get_inputs()[0].name: X})
    assert_allclose(codes, est.transform(X), rtol=1e-4, atol=1e-5)
    est = AutoencoderTransformer(n_components=4, encoder=Regularised, decoder=Decoder, **QUICK)
    with pytest.raises(TypeError, match="Regularised"):
        to_onnx(est.fit(X))


# ----------------------------------------------------------------------
# The source documents' conv networks on MNIST


def test_source_documents_conv_networks_on_mnist(shared_data):
    X_train, X_test, _, _ = load_mnist_split(shared_data)
    k = 16
    est = AutoencoderTransformer(
        n_components=k,
        encoder=Network(ConvEncoder, latent_dim=k),
        decoder=Network(ConvDecoder, latent_dim=k),
        image_shape=(28, 28),
        **QUICK,
    ).fit(X_train)
    error = np.mean((X_test - est.inverse_transform(est.transform(X_test))) ** 2)
    pca = PCA(k).fit(X_train)
    pca_error = np.mean((X_test - pca.inverse_transform(pca.transform(X_test))) ** 2)
    # Measured: 0.0167 against PCA's 0.0278 after 3 epochs.
    assert error < 0.8 * pca_error
