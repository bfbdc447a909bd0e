"""The shared estimator base: parameters, scaling, devices, and the fit /
transform / inverse_transform plumbing.

Only scikit-learn and NumPy concerns live here; the networks are built by
:mod:`skae._networks` and trained by :mod:`skae._training`, inputs are checked
by :mod:`skae._validation` and summarised by :mod:`skae._statistics`.
"""

from __future__ import annotations

import copy
import math
import threading
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from numbers import Integral, Real

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from torch import nn
from typing_extensions import Self  # typing's from Python 3.11 on

from skae._networks import ACTIVATIONS, make_encoder_decoder, widest_activation
from skae._statistics import RowMoments, mean_variance, min_max
from skae._training import (
    Batches,
    History,
    TrainingOptions,
    fold_batches,
    map_batches,
    train,
)
from skae._validation import (
    MatrixLike,
    as_rows,
    check_finite,
    check_not_images,
    check_numeric_columns,
    device_key,
    device_problem,
    output_dtype,
    positive_ints,
    resolve_device,
    row_major,
)

# Rows per pass of the range check of losses on [0, 1] and of the fitted
# summaries (a fixed size: the fitted attributes' float32 sums do not depend
# on the device's batch rule), and the least rows per inference batch on a
# GPU, to keep it busy.
INFERENCE_BATCH_SIZE = 1024
# On the CPU, values that the widest layer of an inference batch holds (1 MB
# in float32), to stay in a core's cache: with the GPU's larger batches,
# transform, inverse_transform and score_samples took up to 1.3x (MLP) and
# 2.3x (conv) as long (benchmarks/README.md, "Inference batches").
CPU_BATCH_VALUES = 2**18
# PCA for init='pca' runs on at most this many rows: a start, not a result.
PCA_INIT_MAX_SAMPLES = 10_000
PCA_INIT_MAX_VALUES = 2**24  # and at most this many values (64 MB in float32), for wide data
EPS = np.finfo(np.float64).eps
RANGE_SCALINGS = ("minmax", "global_minmax")  # the scalings that map X's range to [0, 1]
DEFAULT_HIDDEN_LAYER_SIZES = {"mlp": (256, 128), "conv": (32, 64)}
# n_components='auto': a code of 32, the usual size for MNIST-sized inputs,
# and never more than half the features, so that the code compresses.
AUTO_MAX_COMPONENTS = 32


class BaseAutoencoder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator, metaclass=ABCMeta
):
    """Base class of the autoencoder transformers. Not for direct use."""

    # The parameter that names the model of X given the code ('loss' or
    # 'likelihood'), and its value that needs X in [0, 1].
    _likelihood_parameter: str
    _unit_interval_likelihood: str

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left"), None],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "architecture": [StrOptions({"mlp", "conv"})],
        "image_shape": ["array-like", None],
        "init": [StrOptions({"pca", "random"})],
        "scaling": [StrOptions({"auto", "standard", "global", "minmax", "global_minmax"}), None],
        "noise": [StrOptions({"gaussian", "masking"}), None],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "contamination": [Interval(Real, 0, 0.5, closed="left")],
        "neighbor_weight": [Interval(Real, 0, None, closed="left")],
        "perplexity": [Interval(Real, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "mixed_precision": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components: int | str = "auto",
        *,
        hidden_layer_sizes=None,
        activation: str = "relu",
        architecture: str = "mlp",
        image_shape=None,
        init: str = "pca",
        scaling: str | None = "auto",
        noise: str | None = None,
        noise_level: float = 0.1,
        contamination: float = 0.0,
        neighbor_weight: float = 0.0,
        perplexity: float = 5.0,
        batch_size: int = 64,
        learning_rate: str = "constant",
        learning_rate_init: float = 1e-3,
        max_iter: int = 200,
        alpha: float = 0.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        warm_start: bool = False,
        device: str | torch.device = "auto",
        mixed_precision: bool = False,
        random_state=None,
        verbose: int = 0,
    ) -> None:
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.architecture = architecture
        self.image_shape = image_shape
        self.init = init
        self.scaling = scaling
        self.noise = noise
        self.noise_level = noise_level
        self.contamination = contamination
        self.neighbor_weight = neighbor_weight
        self.perplexity = perplexity
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.device = device
        self.mixed_precision = mixed_precision
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------
    # What each autoencoder defines

    @property
    def _unit_interval_loss(self) -> str | None:
        """The fitted setting (e.g. "loss='bce'") if its loss needs X in [0, 1], else None."""
        if self._likelihood != self._unit_interval_likelihood:
            return None
        return f"{self._likelihood_parameter}={self._likelihood!r}"

    @abstractmethod
    def _make_network(self, n_features: int) -> nn.Module:
        """The untrained torch network for `n_features` inputs."""

    @abstractmethod
    def _set_linear_parts(
        self, network: nn.Module, mean: np.ndarray, components: np.ndarray, variances: np.ndarray
    ) -> None:
        """Initialise the network's linear shortcuts from a PCA of the scaled data."""

    def _set_decoder_start(self, network: nn.Module, weight: np.ndarray, mean: np.ndarray) -> None:
        """Start the decoder's linear shortcut at ``weight @ code + mean``; for
        X in [0, 1] (a sigmoid output), at the logit of the mean, whatever the code."""
        if self._unit_interval_loss is not None:
            set_linear(network.decoder.linear, 0 * weight, logit(mean))
        else:
            set_linear(network.decoder.linear, weight, mean)

    @abstractmethod
    def _summarize_fit(self, batches: Batches, validation: Batches | None) -> None:
        """Set the fitted attributes that describe the fitted model on the
        training data (`batches`) and, when there is one, the validation split,
        through :meth:`_summarize` so that ``partial_fit`` calls add up."""

    @abstractmethod
    def _sample_codes(self, n_samples: int, rng: np.random.RandomState) -> np.ndarray:
        """Draws of codes for :meth:`sample`."""

    @abstractmethod
    def _batch_scorer(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """A function giving the per-sample scores of a scaled batch, for one
        :meth:`score_samples` call."""

    def _on_epoch_start(self, epoch: int) -> bool:
        """Called before each training epoch; True if that epoch's training
        objective differs from the previous one's (e.g. during a KL warm-up)."""
        return False

    # ------------------------------------------------------------------
    # Public API

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike, y: object = None) -> Self:
        """Fit the autoencoder to X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse rows are densified one batch at a time.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        reset = not (self.warm_start and hasattr(self, "network_"))
        if not reset:  # each fit judges convergence anew: its parameters may have changed
            self._history.restart()
        self._fit(
            X,
            reset=reset,
            max_epochs=self.max_iter,
            validate=self.early_stopping,
            adaptive=self.learning_rate == "adaptive",
            accumulate=False,
        )
        if not self._history.converged:
            monitored = "validation" if self.early_stopping else "training"
            warnings.warn(
                f"max_iter={self.max_iter} epochs were reached before the {monitored} loss "
                f"stopped improving by tol={self.tol} for n_iter_no_change="
                f"{self.n_iter_no_change} epochs. The fit may improve with more epochs.",
                ConvergenceWarning,
                stacklevel=3,  # the caller of fit, past the fit-context wrapper
            )
        return self

    def partial_fit(self, X: MatrixLike, y: object = None) -> Self:
        """Train for one epoch on X, initialising the model on the first call.

        The internal scaling is fitted on the first call's data and kept. The
        summaries of the fit (e.g. ``latent_covariance_``, ``noise_variance_``)
        are running statistics, as in
        :class:`~sklearn.decomposition.IncrementalPCA`: they pool this call's
        data with that of the earlier calls since the last ``fit`` (whose own
        data count too), each encoded as the network was after its call, so
        that a small last chunk does not decide them. Early stopping does not
        apply to ``partial_fit``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The updated estimator.
        """
        # Through a method of another name: scikit-learn's _fit_context checks
        # the parameters of a partial_fit on its first call only, and
        # set_params may come between calls.
        return self._partial_fit(X)

    @_fit_context(prefer_skip_nested_validation=True)
    def _partial_fit(self, X):
        return self._fit(
            X,
            reset=not hasattr(self, "network_"),
            max_epochs=1,
            validate=False,
            adaptive=False,
            accumulate=True,
        )

    def transform(self, X: MatrixLike) -> np.ndarray:
        """Encode X: the codes (for the VAE, the posterior means) of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Float32 for float32 input, float64 otherwise.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        self.network_.eval()
        codes = map_batches(self._encode_batch, self._batches(X), self._inference_rows)
        return self._as_output(check_finite(codes, "codes"), X.dtype)

    def inverse_transform(self, X: ArrayLike) -> np.ndarray:
        """Decode codes back to the input space (undoing the internal scaling).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            The decoder's mean output in the units of the training data.
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=(np.float64, np.float32), input_name="X")
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but inverse_transform expects codes "
                f"of n_components={self.n_components_} features, as fitted."
            )
        offset, scale = self._scaling_arrays()
        if scale is not None:
            scale = torch.as_tensor(scale, dtype=torch.float32, device=self.device_)

        def decode(z: torch.Tensor) -> torch.Tensor:
            x = self.network_.decode(z)
            return x if scale is None else x * scale

        self.network_.eval()
        decoded = np.empty((len(Z), self.n_features_in_), dtype=output_dtype(Z.dtype))
        batches = Batches(Z, self.device_)
        out = torch.from_numpy(decoded)
        check_finite(map_batches(decode, batches, self._inference_rows, out=out), "outputs")
        if offset is not None:  # in the output's precision, for the reason of Batches'
            decoded += offset.astype(decoded.dtype)
        return decoded

    def score_samples(self, X: MatrixLike) -> np.ndarray:
        """Per-sample score: higher means more typical of the training data."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        batches = self._batches(X)
        self._check_bounds(batches, scaling_chosen_here=False)
        self.network_.eval()
        scores = map_batches(self._batch_scorer(), batches, self._score_batch_size)
        return check_finite(scores, "scores").double().numpy()

    def score(self, X: MatrixLike, y: object = None) -> float:
        """Mean of :meth:`score_samples`, so that model selection needs no scorer.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            The mean log-density of the samples, in nats.
        """
        return float(np.mean(self.score_samples(X)))

    def sample(
        self, n_samples: int = 1, random_state: int | np.random.RandomState | None = None
    ) -> np.ndarray:
        """Generate samples by decoding random codes.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw of codes.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
            The decoder's mean output for each drawn code.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        codes = self._sample_codes(int(n_samples), check_random_state(random_state))
        return self.inverse_transform(codes)

    def interpolate(self, X_start: ArrayLike, X_end: ArrayLike, n_steps: int = 10) -> np.ndarray:
        """Decode the straight path between the codes of two inputs.

        Parameters
        ----------
        X_start, X_end : array-like of shape (n_features,) or (n_pairs, n_features)
            Where each path starts and ends.
        n_steps : int, default=10
            Number of points on each path, both ends included.

        Returns
        -------
        path : ndarray of shape (n_steps, n_features) or (n_pairs, n_steps, n_features)
            Decoded points; the first and last are the reconstructions of the ends.
        """
        check_is_fitted(self)
        if not isinstance(n_steps, Integral) or n_steps < 2:
            raise ValueError(f"n_steps must be an integer >= 2, got {n_steps!r}.")
        single = np.ndim(X_start) == 1 and np.ndim(X_end) == 1
        start, end = (np.asarray(self.transform(as_rows(X))) for X in (X_start, X_end))
        if start.shape != end.shape:
            raise ValueError(
                f"X_start and X_end must have the same shape, got {start.shape} and {end.shape}."
            )
        t = np.linspace(0.0, 1.0, n_steps, dtype=start.dtype)[None, :, None]  # float32 stays
        codes = (1 - t) * start[:, None, :] + t * end[:, None, :]
        path = self.inverse_transform(codes.reshape(-1, self.n_components_))
        path = path.reshape(len(start), n_steps, -1)
        return path[0] if single else path

    @property
    def _n_features_out(self) -> int:
        # An attribute error before fitting makes get_feature_names_out raise NotFittedError.
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # A model fitted on a GPU is pickled with its weights on the CPU and is
    # loaded back on its device where that exists, else on the CPU.
    def __getstate__(self):
        state = super().__getstate__()
        network = state.get("network_")
        if network is not None and next(network.parameters()).device.type != "cpu":
            state = {**state, "network_": _cpu_copy(network)}
            state["optimizer_"] = None
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "network_" in state:
            # Pickled by an earlier development version, without these attributes.
            fitted = state.get("_fitted_architecture", state)
            if "n_components_" not in state:
                self.n_components_ = fitted["n_components"]
            if "_likelihood" not in state:
                self._likelihood = fitted[self._likelihood_parameter]
            if "_widest_activation" not in state:
                self._widest_activation = widest_activation(self.network_, self.n_features_in_)
            if device_problem(self.device_) is not None:
                self.device_ = torch.device("cpu")
            self.network_.to(self.device_)
            if self.optimizer_ is None:
                self.optimizer_ = self._make_optimizer()

    # ------------------------------------------------------------------
    # Fitting

    def _fit(self, X, *, reset: bool, **training):
        try:
            return self._train(X, reset=reset, **training)
        except Exception:
            if reset:  # a failed fresh fit leaves no model that looks fitted
                self._forget_fit()
            raise

    def _train(
        self, X, *, reset: bool, max_epochs: int, validate: bool, adaptive: bool, accumulate: bool
    ):
        """Train on X; with `accumulate` (``partial_fit``), the fitted
        summaries pool this call's data with that summarised since the last
        ``fit`` (see :meth:`partial_fit`)."""
        self._check_noise_level()
        X = self._validate(X, reset=reset)
        n_validation = self._n_validation(X.shape[0]) if validate else 0
        if reset:
            self._initialize(X)
        else:
            self._check_architecture_unchanged()
            self._check_float32_reach(min_max(X))
        self._set_training_parameters()
        # After the scaling statistics, which keep the bits of X's own layout.
        X = row_major(X)
        train_rows, validation_rows = self._split(X.shape[0], n_validation)
        batches = self._batches(X, train_rows)
        self._check_bounds(batches, scaling_chosen_here=reset)
        validation = self._batches(X, validation_rows) if validate else None
        options = self._training_options(max_epochs, adaptive, one_epoch_calls=accumulate)
        seed = self._draw_seed()
        history = train(
            self.network_, self.optimizer_, batches, validation, options, self._history, seed
        )
        self._record_history(history)
        if reset or not accumulate or not hasattr(self, "_moments"):  # (an older pickle)
            self._moments = {}
        self._summarize_fit(batches, validation)
        return self

    def _training_options(
        self, max_epochs: int, adaptive: bool, *, one_epoch_calls: bool
    ) -> TrainingOptions:
        return TrainingOptions(
            max_epochs=max_epochs,
            batch_size=int(self.batch_size),  # NumPy integers pass the Integral constraint
            # The t-SNE term depends on the batch: validate on batches like training's.
            evaluation_batch_size=int(self.batch_size) if self.neighbor_weight else None,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            noise=self.noise,
            noise_level=self.noise_level,
            trim_fraction=self.contamination,
            adaptive_learning_rate=adaptive,
            mixed_precision=self.mixed_precision,
            # A bar per partial_fit call would be one epoch long: a line instead.
            verbose=max(self.verbose, 2) if one_epoch_calls and self.verbose else self.verbose,
            on_epoch_start=self._on_epoch_start,
        )

    def _record_history(self, history: History) -> None:
        """The fitted attributes that describe training."""
        self.loss_curve_ = list(history.loss_curve)
        self.validation_loss_curve_ = list(history.validation_loss_curve)
        self.best_loss_ = history.best_loss
        self.best_epoch_ = history.best_epoch
        self.n_iter_ = history.n_iter

    def _summarize(self, name: str, moments: RowMoments) -> RowMoments:
        """`moments` of this call's rows, pooled with those summarised since
        the last ``fit`` (its own included): a stream's summaries describe all
        its chunks, each as encoded after its call, not its last one alone."""
        earlier = self._moments.get(name)
        self._moments[name] = moments if earlier is None else earlier.merge(moments)
        return self._moments[name]

    def _set_training_parameters(self) -> None:
        """Set the parameters that shape training on the network and optimizer,
        on every call, so that set_params takes effect on warm starts."""
        self.network_.neighbor_weight = self.neighbor_weight
        self.network_.perplexity = self.perplexity
        for group in self.optimizer_.param_groups:
            group["lr"] = self.learning_rate_init  # an adaptive schedule starts anew
            group["weight_decay"] = self.alpha

    def _architecture(self) -> dict:
        """What defines the fitted network, as a fresh fit resolves it from the
        parameters (defaults filled in, 'auto' resolved)."""
        return {
            "n_components": self._resolve_n_components(self.n_features_in_),
            "init": self.init,  # 'pca' adds a linear shortcut to the networks
            "hidden_layer_sizes": self._hidden_layer_sizes(),
            "activation": self.activation,
            "architecture": self.architecture,
            "image_shape": self._resolve_image_shape(self.n_features_in_),
            # 'auto' chose scaling_ from the data the fit saw.
            "scaling": self.scaling_ if self.scaling == "auto" else self.scaling,
            "device": device_key(resolve_device(self.device)),
            self._likelihood_parameter: getattr(self, self._likelihood_parameter),
        }

    def _check_architecture_unchanged(self) -> None:
        fitted = getattr(self, "_fitted_architecture", None)
        if fitted is None:  # pickled by a version that did not record it
            return
        # Where the network is now: a model unpickled without CUDA moved to the CPU.
        fitted = {**fitted, "device": device_key(self.device_)}
        changed = [
            f"{name} {fitted[name]!r} -> {value!r}"
            for name, value in self._architecture().items()
            if value != fitted[name]
        ]
        if changed:
            raise ValueError(
                "warm_start and partial_fit continue training the fitted network, but "
                f"what defines it has changed: {', '.join(changed)}. Set warm_start=False, "
                "or fit a new estimator, to change it."
            )

    def _forget_fit(self) -> None:
        fitted = [name for name in vars(self) if name.endswith("_") and not name.startswith("_")]
        for name in fitted:
            delattr(self, name)

    def _initialize(self, X) -> None:
        """Everything that a fresh fit resolves from the parameters and the data."""
        n_features = X.shape[1]
        self.n_components_ = self._resolve_n_components(n_features)
        # The loss or likelihood the network is built for: what the fitted
        # methods compute, whatever set_params changes later.
        self._likelihood = getattr(self, self._likelihood_parameter)
        self._rng = check_random_state(self.random_state)
        self.device_ = resolve_device(self.device)
        self.image_shape_ = self._resolve_image_shape(n_features)
        extremes = min_max(X)  # one pass, for the scaling and the float32 check
        self.scaling_ = self._resolve_scaling(extremes)
        self.input_offset_, self.input_scale_ = self._scaling_statistics(X, extremes)
        self._check_float32_reach(extremes)
        seed = self._draw_seed()
        network = _seeded(lambda: self._make_network(n_features), seed)
        self._widest_activation = widest_activation(network, n_features)
        if self.init == "pca":
            self._initialize_from_pca(network, X)
        self.network_ = network.to(self.device_)
        self.optimizer_ = self._make_optimizer()
        self._history = History()
        self._fitted_architecture = self._architecture()

    def _draw_seed(self) -> int:
        """A seed for one random stream of this fit, from its `random_state`."""
        return int(self._rng.randint(np.iinfo(np.int32).max))

    def _initialize_from_pca(self, network: nn.Module, X) -> None:
        """Set the linear shortcuts to a PCA of (a subsample of) the scaled data."""
        batches = self._batches(X, device=torch.device("cpu"))
        n_rows = min(
            len(batches),
            PCA_INIT_MAX_SAMPLES,
            max(PCA_INIT_MAX_VALUES // X.shape[1], self.n_components_ + 1),
        )
        rows = np.sort(self._rng.choice(len(batches), n_rows, replace=False))
        sample = batches.take(torch.as_tensor(rows)).double().numpy()
        # n rows vary about their mean in at most n - 1 directions (one row,
        # or identical rows: none).
        n_found = min(self.n_components_, sample.shape[0] - 1, sample.shape[1])
        seed = self._draw_seed()
        components = np.zeros((self.n_components_, sample.shape[1]))
        variances = np.ones(self.n_components_)
        if n_found > 0 and np.ptp(sample, axis=0).any():
            pca = PCA(n_found, random_state=seed).fit(sample)
            components[:n_found] = pca.components_
            variances[:n_found] = np.maximum(pca.explained_variance_, 1e-12)
        self._set_linear_parts(network, sample.mean(axis=0), components, variances)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        # The fused Adam step is one kernel per step instead of a Python loop
        # over parameters; it exists for CPU and CUDA tensors.
        fused = self.device_.type in ("cpu", "cuda")
        return torch.optim.Adam(
            self.network_.parameters(),
            lr=self.learning_rate_init,
            weight_decay=self.alpha,
            fused=fused or None,
        )

    def _resolve_n_components(self, n_features: int) -> int:
        """The code size that `n_components` gives for `n_features` input features."""
        if self.n_components == "auto":
            return compressing_size(AUTO_MAX_COMPONENTS, n_features)
        if self.n_components > n_features:
            raise ValueError(
                f"n_components={self.n_components} must be between 1 and "
                f"n_features={n_features}: an autoencoder's code is a bottleneck."
            )
        return int(self.n_components)  # True passes Integral checks

    def _hidden_layer_sizes(self) -> tuple[int, ...]:
        hidden = self.hidden_layer_sizes
        if hidden is None:
            hidden = DEFAULT_HIDDEN_LAYER_SIZES[self.architecture]
        hidden = positive_ints(hidden, "hidden_layer_sizes")
        if self.architecture == "conv" and not hidden:
            raise ValueError(
                "architecture='conv' needs at least one convolution's channels in "
                "hidden_layer_sizes, got ()."
            )
        return hidden

    def _encoder_decoder(self, n_features: int, n_code_outputs: int):
        return make_encoder_decoder(
            n_features,
            n_code_outputs,
            self.n_components_,
            architecture=self.architecture,
            hidden_layer_sizes=self._hidden_layer_sizes(),
            activation=self.activation,
            image_shape=self.image_shape_,
            linear_shortcut=self.init == "pca",
        )

    def _resolve_image_shape(self, n_features: int) -> tuple[int, int, int] | None:
        if self.architecture != "conv":
            return None
        shape = self.image_shape
        if shape is None:
            side = math.isqrt(n_features)
            if side * side != n_features:
                raise ValueError(
                    f"architecture='conv' needs image_shape: n_features={n_features} is "
                    "not a square number, so it is not a single-channel square image."
                )
            return (1, side, side)
        shape = positive_ints(shape, "image_shape")
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or math.prod(shape) != n_features:
            raise ValueError(
                f"image_shape={self.image_shape} must be (H, W) or (C, H, W) with "
                f"C*H*W equal to n_features={n_features}."
            )
        return shape

    def _resolve_scaling(self, extremes: tuple[np.ndarray, np.ndarray]) -> str | None:
        if self.scaling != "auto":
            return self.scaling
        if self._unit_interval_loss is None:
            return "global"
        low, high = extremes
        return None if low.min() >= 0 and high.max() <= 1 else "global_minmax"

    def _scaling_statistics(
        self, X, extremes: tuple[np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Offset and scale of the scaling; `extremes` are X's column minima and maxima."""
        n_features = X.shape[1]
        if self.scaling_ is None:
            return np.zeros(n_features), np.ones(n_features)
        if self.scaling_ in RANGE_SCALINGS:
            offset, high = extremes
            if self.scaling_ == "global_minmax":
                offset, high = np.full(n_features, offset.min()), np.full(n_features, high.max())
            scale = high - offset
            # A range within rounding of its values is none (MinMaxScaler's
            # test, relative to the values, so that tiny units are scaled).
            constant = scale <= 10 * EPS * np.maximum(np.abs(offset), np.abs(high))
        else:
            offset, variance = mean_variance(X)
            if self.scaling_ == "global":
                variance = np.full(n_features, variance.mean())
            scale = np.sqrt(variance)
            # A variance within the rounding error of a mean of n values is
            # none, as in StandardScaler (scikit-learn's _is_constant_feature):
            # relative to the mean, so that data in tiny units is scaled.
            n = X.shape[0]
            constant = variance <= n * EPS * variance + (n * offset * EPS) ** 2
        # Constant features keep their values; so do those whose scale float32 cannot hold.
        return offset, np.where(constant | (scale < np.finfo(np.float32).tiny), 1.0, scale)

    def _check_float32_reach(self, extremes: tuple[np.ndarray, np.ndarray]) -> None:
        """The networks compute in float32: X, once centred, must lie in its range
        (`extremes`: X's column minima and maxima)."""
        low, high = extremes
        reach = float(np.max(np.maximum(high - self.input_offset_, self.input_offset_ - low)))
        if reach > float(np.finfo(np.float32).max):
            raise ValueError(
                f"X lies up to {reach:.3g} from the scaling's offset, beyond the range of "
                "float32, in which the networks compute; rescale X first."
            )

    def _check_noise_level(self) -> None:
        if self.noise == "masking" and self.noise_level >= 1:
            raise ValueError(
                f"noise='masking' sets a fraction noise_level of the entries to 0, so "
                f"noise_level must be in [0, 1), got {self.noise_level}."
            )

    def _n_validation(self, n_samples: int) -> int:
        n_validation = math.ceil(self.validation_fraction * n_samples)
        if n_samples - n_validation < 1:
            raise ValueError(
                f"early_stopping=True sets aside validation_fraction="
                f"{self.validation_fraction} of the data, but with n_samples={n_samples} "
                "no training samples are left. Pass more samples or early_stopping=False."
            )
        return n_validation

    def _split(self, n_samples: int, n_validation: int):
        if n_validation == 0:
            return None, None
        order = self._rng.permutation(n_samples)
        return order[n_validation:], order[:n_validation]

    # ------------------------------------------------------------------
    # Batches, scaling and outputs

    def _validate(self, X, *, reset: bool):
        check_not_images(X)
        check_numeric_columns(X)
        return validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
        )

    def _scaling_arrays(self) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """The internal scaling's offset and scale, or None for no scaling."""
        if self.scaling_ is None:
            return None, None
        return self.input_offset_, self.input_scale_

    def _batches(self, X, rows=None, device: torch.device | None = None) -> Batches:
        return Batches(X, device or self.device_, rows, *self._scaling_arrays())

    def _check_bounds(self, batches: Batches, *, scaling_chosen_here: bool) -> None:
        """Cross-entropy and Bernoulli likelihoods are defined for targets in [0, 1].

        `scaling_chosen_here`: the scaling was fitted on these data, so only
        another scaling can bring them into [0, 1]; otherwise the model was
        fitted on data that were in [0, 1] after its scaling, and these lie
        outside their range.
        """
        if self._unit_interval_loss is None:
            return
        # The smallest of (min, -max) over the batches: the least and greatest value.
        low_and_minus_high = fold_batches(
            lambda x: torch.stack([x.min(), -x.max()]), torch.minimum, batches, INFERENCE_BATCH_SIZE
        )
        low, high = low_and_minus_high[0].item(), -low_and_minus_high[1].item()
        if low < -1e-5 or high > 1 + 1e-5:
            if scaling_chosen_here:
                hint = "Use scaling='auto', 'global_minmax' or 'minmax'."
            else:
                hint = (
                    "These values lie outside the range of the data the model was fitted "
                    "on, where a Bernoulli model has no likelihood: refit on data that "
                    "covers them, or use the default Gaussian model of X."
                )
            raise ValueError(
                f"{self._unit_interval_loss} needs X in [0, 1] (after scaling={self.scaling_!r}),"
                f" but X ranges over [{low:.4g}, {high:.4g}]. {hint}"
            )

    @property
    def _log_scale_jacobian(self) -> float:
        """log |det d(scaled x)/dx|: converts densities of scaled data to input units."""
        return -float(np.sum(np.log(self.input_scale_)))

    @property
    def _inference_rows(self) -> int:
        if self.device_.type == "cpu":
            return cpu_batch_rows(self._widest_activation)
        return gpu_batch_rows(self.n_features_in_)

    @property
    def _score_batch_size(self) -> int:
        return self._inference_rows

    def _encode_batch(self, x: torch.Tensor) -> torch.Tensor:
        code = self.network_.encode(x)
        return code[0] if isinstance(code, tuple) else code

    @staticmethod
    def _as_output(values: torch.Tensor, dtype) -> np.ndarray:
        return values.numpy().astype(output_dtype(dtype), copy=False)


# torch's modules draw their initial weights from its global CPU generator,
# shared by all threads: fits in concurrent threads (GridSearchCV with the
# threading backend) take turns with it.
_GLOBAL_GENERATOR_LOCK = threading.Lock()


def _seeded(make: Callable[[], nn.Module], seed: int) -> nn.Module:
    """`make()` with torch's global CPU generator seeded with `seed`, and its
    state restored afterwards: a reproducible network, and no change to the
    caller's random stream (``torch.manual_seed`` would also reseed the GPUs')."""
    with _GLOBAL_GENERATOR_LOCK, torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        return make()


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-3, 1 - 1e-3)
    return np.log(p) - np.log1p(-p)


def compressing_size(k: int, n_features: int) -> int:
    """`k`, but at most half of `n_features` (and at least 1), so that a code of
    this size compresses the input: 3 for 6 features."""
    return max(1, min(k, n_features // 2))


def cpu_batch_rows(values_per_row: int) -> int:
    """Rows per inference batch on the CPU whose widest layer holds
    `values_per_row` values per row."""
    return max(1, CPU_BATCH_VALUES // values_per_row)


def gpu_batch_rows(n_features: int) -> int:
    """Rows per inference batch on a GPU: about 4 MB of input, and at least
    INFERENCE_BATCH_SIZE rows."""
    return max(INFERENCE_BATCH_SIZE, 2**20 // n_features)


def set_linear(layer: nn.Linear, weight: np.ndarray, bias: np.ndarray) -> None:
    """Copy NumPy values into a linear layer's parameters."""
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight))
        layer.bias.copy_(torch.as_tensor(bias))


def _cpu_copy(network: nn.Module) -> nn.Module:
    return copy.deepcopy(network).cpu()
