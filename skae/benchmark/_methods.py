"""The methods compared: how each is built for a given number of components.

Reducers (for digits and MNIST) are transformers with ``transform``, most
with ``inverse_transform``; detectors (for ODDS) give an anomaly score, higher
for more anomalous samples. Each method is built fresh for every fit.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.decomposition import PCA, FactorAnalysis, KernelPCA, TruncatedSVD
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import FunctionTransformer

from skae import AdversarialAutoencoderTransformer, AutoencoderTransformer, VAETransformer
from skae.benchmark._metrics import squared_residuals

# KernelPCA's kernel matrix is n_train x n_train and its fit O(n_train^3):
# it is fitted on a random subsample of at most this many training rows.
KERNEL_PCA_MAX_SAMPLES = 2000
# Ridge penalty of KernelPCA's learned inverse map: the value of scikit-learn's
# "Image denoising using kernel PCA" example. The default, 1.0, reconstructs
# little more than the mean image on digits, whatever n_components.
KERNEL_PCA_ALPHA = 5e-3


@dataclass(frozen=True)
class Settings:
    """What the methods need to know about the run and the data."""

    random_state: int = 0
    device: str = "auto"
    max_iter: int | None = None  # None: the estimators' defaults
    image_shape: tuple[int, int] | None = None
    kernel_gamma: float | None = None  # KernelPCA's RBF gamma

    def network_options(self) -> dict:
        options = {"random_state": self.random_state, "device": self.device}
        if self.max_iter is not None:
            options["max_iter"] = self.max_iter
        return options


def _n_features(n_samples: int, n_features: int) -> int:
    return n_features


def _rank(n_samples: int, n_features: int) -> int:
    return min(n_samples, n_features)


def _n_samples(n_samples: int, n_features: int) -> int:
    return n_samples


@dataclass(frozen=True)
class Method:
    """One method of the comparison.

    `make(k, settings)` returns the unfitted estimator for k components
    (k is ignored when `uses_components` is False).
    `max_components(n_samples, n_features)` is the most components it gives when
    fitted on that much data: beyond, it fails (PCA, the networks) or silently
    gives fewer (TruncatedSVD, KernelPCA, FactorAnalysis), so k is skipped there.
    """

    key: str
    name: str
    make: Callable[[int, Settings], object]
    uses_components: bool = True
    max_components: Callable[[int, int], int] = _n_features
    has_likelihood: bool = False  # ``score`` is a held-out log-likelihood
    has_prior: bool = False  # its codes should follow N(0, I) (a VAE's posterior means, an AAE's)
    max_train_samples: int | None = None  # fitted on a subsample of this size
    # For detectors: the anomaly score (higher = more anomalous) of fitted model on X.
    anomaly_score: Callable[[object, np.ndarray], np.ndarray] | None = None
    notes: str = field(default="", compare=False)


def _pca(k, s):
    return PCA(k, random_state=s.random_state)


def _svd(k, s):
    return TruncatedSVD(k, random_state=s.random_state)


def _kernel_pca(k, s):
    return KernelPCA(
        k,
        kernel="rbf",
        gamma=s.kernel_gamma,
        fit_inverse_transform=True,
        alpha=KERNEL_PCA_ALPHA,
        random_state=s.random_state,
    )


def _factor_analysis(k, s):
    return FactorAnalysis(k, random_state=s.random_state)


def _autoencoder(k, s):
    return AutoencoderTransformer(k, **s.network_options())


def _conv_autoencoder(k, s):
    return AutoencoderTransformer(
        k, architecture="conv", image_shape=s.image_shape, **s.network_options()
    )


def _vae(k, s):
    return VAETransformer(k, **s.network_options())


def _adversarial(k, s):
    return AdversarialAutoencoderTransformer(k, **s.network_options())


# A brief fit of a small network, in the spirit of PyOD's defaults (one
# hidden layer of 64, 10 epochs): a network trained to convergence also
# learns to reconstruct the outliers among its training samples.
BRIEF_FIT = {"hidden_layer_sizes": (64,), "init": "random", "max_iter": 10}
BRIEF_FIT_NOTES = ", ".join(f"{name}={value!r}" for name, value in BRIEF_FIT.items())


def _brief_fit(estimator: type) -> Callable[[int, Settings], object]:
    def make(k, s):
        # --max-iter (e.g. --quick) may shorten the brief fit, never lengthen it.
        max_iter = min(BRIEF_FIT["max_iter"], s.max_iter or np.inf)
        return estimator(k, **{**s.network_options(), **BRIEF_FIT, "max_iter": max_iter})

    return make


def _raw(k, s):
    return FunctionTransformer()  # the identity, with an identity inverse


RAW = Method(
    "raw",
    "raw features (no reduction)",
    _raw,
    uses_components=False,
    notes="the classifiers on the unreduced features: a reference",
)
REDUCERS = [
    Method("pca", "PCA", _pca, max_components=_rank, has_likelihood=True),
    Method("svd", "TruncatedSVD", _svd, max_components=_rank),
    Method(
        "kpca",
        "KernelPCA (rbf)",
        _kernel_pca,
        max_components=_n_samples,
        max_train_samples=KERNEL_PCA_MAX_SAMPLES,
        notes=f"fitted on at most {KERNEL_PCA_MAX_SAMPLES} training rows; "
        f"gamma = 1 / (n_features * X.var()), alpha={KERNEL_PCA_ALPHA}",
    ),
    Method(
        "fa",
        "FactorAnalysis",
        _factor_analysis,
        max_components=_rank,
        has_likelihood=True,
        notes="no inverse_transform, so no reconstruction error; on images its mean held-out "
        "log-likelihood can be hugely negative: pixels constant in the training set get a "
        "noise variance of 1e-12, so a test image that is non-zero there costs ~1e11 nats",
    ),
    Method("ae", "AutoencoderTransformer (mlp)", _autoencoder),
    Method(
        "ae-conv",
        "AutoencoderTransformer (conv)",
        _conv_autoencoder,
        notes="images only; default channels (32, 64)",
    ),
    Method(
        "vae",
        "VAETransformer (mlp)",
        _vae,
        has_likelihood=True,
        has_prior=True,
        notes="log-likelihood: the importance-weighted bound of score (100 draws)",
    ),
    Method(
        "aae",
        "AdversarialAutoencoderTransformer (mlp)",
        _adversarial,
        has_prior=True,
        notes="score is log p(x | z) + log N(z; 0, I), not a likelihood",
    ),
]


def reduction_methods(settings: Settings, keys: list[str] | None = None) -> list[Method]:
    """The reducers for a data set: the conv autoencoder only for images."""
    methods = [RAW, *REDUCERS]
    if settings.image_shape is None:
        methods = [m for m in methods if m.key != "ae-conv"]
    return _select(methods, keys)


# ----------------------------------------------------------------------
# Anomaly detection


def _minus_score_samples(model, X):
    return -model.score_samples(X)


def _reconstruction_error(model, X):
    return squared_residuals(model, X).sum(axis=1)


def _decision_function(model, X):
    return model.decision_function(X)


def _isolation_forest(k, s):
    return IsolationForest(random_state=s.random_state)


def _pyod_device(device: str):
    return None if device == "auto" else device


def _pyod_options(s: Settings) -> dict:
    return {"epoch_num": s.max_iter} if s.max_iter is not None else {}


def _pyod_autoencoder(k, s):
    from pyod.models.auto_encoder import AutoEncoder

    # PyOD's defaults, with the bottleneck (last hidden layer) set to k.
    return AutoEncoder(
        hidden_neuron_list=[64, k],
        random_state=s.random_state,
        device=_pyod_device(s.device),
        verbose=0,
        **_pyod_options(s),
    )


def _pyod_autoencoder_defaults(k, s):
    from pyod.models.auto_encoder import AutoEncoder

    # Every parameter at PyOD's default, bottleneck included (hidden_neuron_list=[64, 32]).
    return AutoEncoder(
        random_state=s.random_state, device=_pyod_device(s.device), verbose=0, **_pyod_options(s)
    )


def _pyod_vae(k, s):
    from pyod.models.vae import VAE

    return VAE(
        latent_dim=k,
        random_state=s.random_state,
        device=_pyod_device(s.device),
        verbose=0,
        **_pyod_options(s),
    )


def pyod_available() -> bool:
    return importlib.util.find_spec("pyod") is not None


DETECTORS = [
    Method(
        "iforest",
        "IsolationForest",
        _isolation_forest,
        uses_components=False,
        anomaly_score=_minus_score_samples,
    ),
    Method(
        "pca-recon",
        "PCA reconstruction error",
        _pca,
        anomaly_score=_reconstruction_error,
    ),
    Method(
        "pca-ll",
        "PCA log-likelihood",
        _pca,
        anomaly_score=_minus_score_samples,
        notes="probabilistic PCA's score_samples: the linear counterpart of skae's scores",
    ),
    Method("ae", "AutoencoderTransformer", _autoencoder, anomaly_score=_minus_score_samples),
    Method("vae", "VAETransformer", _vae, anomaly_score=_minus_score_samples),
    Method(
        "aae",
        "AdversarialAutoencoderTransformer",
        _adversarial,
        anomaly_score=_minus_score_samples,
    ),
    Method(
        "ae-robust",
        "AutoencoderTransformer (contamination=0.1)",
        lambda k, s: AutoencoderTransformer(k, contamination=0.1, **s.network_options()),
        anomaly_score=_minus_score_samples,
    ),
    Method(
        "vae-robust",
        "VAETransformer (contamination=0.1)",
        lambda k, s: VAETransformer(k, contamination=0.1, **s.network_options()),
        anomaly_score=_minus_score_samples,
    ),
    Method(
        "ae-brief",
        "AutoencoderTransformer (brief fit)",
        _brief_fit(AutoencoderTransformer),
        anomaly_score=_minus_score_samples,
        notes=BRIEF_FIT_NOTES,
    ),
    Method(
        "vae-brief",
        "VAETransformer (brief fit)",
        _brief_fit(VAETransformer),
        anomaly_score=_minus_score_samples,
        notes=BRIEF_FIT_NOTES,
    ),
]
PYOD_DETECTORS = [
    Method(
        "pyod-ae",
        "PyOD AutoEncoder",
        _pyod_autoencoder,
        anomaly_score=_decision_function,
        notes="PyOD defaults, hidden_neuron_list=[64, k]",
    ),
    Method(
        "pyod-ae-defaults",
        "PyOD AutoEncoder (its defaults)",
        _pyod_autoencoder_defaults,
        uses_components=False,
        anomaly_score=_decision_function,
        notes="every parameter at PyOD's default: hidden_neuron_list=[64, 32]",
    ),
    Method(
        "pyod-vae",
        "PyOD VAE",
        _pyod_vae,
        anomaly_score=_decision_function,
        notes="PyOD defaults, latent_dim=k",
    ),
]


def detection_methods(keys: list[str] | None = None) -> tuple[list[Method], list[str]]:
    """The detectors, and notes on those skipped (PyOD's when it is not installed)."""
    if pyod_available():
        return _select(DETECTORS + PYOD_DETECTORS, keys), []
    # skae is installed from its checkout, not from PyPI: so is its extra.
    skipped = [
        f"{m.name}: pyod is not installed (SKAE_EXTRAS=peers bash tools/benchmark.sh ..., "
        "or in the skae checkout: pip install -e '.[peers]')"
        for m in _select(PYOD_DETECTORS, keys)
    ]
    return _select(DETECTORS, keys), skipped


REDUCER_KEYS = [RAW.key, *(m.key for m in REDUCERS)]
DETECTOR_KEYS = [m.key for m in DETECTORS + PYOD_DETECTORS]


def all_method_keys() -> list[str]:
    return list(dict.fromkeys(REDUCER_KEYS + DETECTOR_KEYS))


def _select(methods: list[Method], keys: list[str] | None) -> list[Method]:
    if keys is None:
        return methods
    return [m for m in methods if m.key in keys]
