"""The shared estimator base: the scikit-learn API and the fit steps.

Each concept has its own module: the network's specification
(:mod:`skae._spec`), the input scaling (:mod:`skae._scaling`), batches and
their sizes (:mod:`skae._batches`), the loss settings (:mod:`skae._losses`),
the training loop (:mod:`skae._training`), the fitted state
(:mod:`skae._fitted_state`) and its safe format (:mod:`skae._persistence`);
inputs are checked by :mod:`skae._validation` and summarised by
:mod:`skae._statistics`.
"""

from __future__ import annotations

import copy
from abc import ABCMeta, abstractmethod
from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted
from torch import nn
from typing_extensions import Self  # typing's from Python 3.11 on

from skae._batches import Batches, inference_rows, map_batches, split_rows
from skae._code_size import (
    ReconstructionErrors,
    depends_on_data,
    is_fraction,
    pca_code_size,
    reconstruction_errors,
    search_code_size,
)
from skae._dask import is_dask_array, map_row_blocks, row_blocks
from skae._distributed import LOCAL, Ranks
from skae._fitted_state import copy_fitted_state, forget_fit, restore_fitted_state
from skae._generation import GenerativeMixin
from skae._losses import Objective, describe_loss
from skae._networks import evaluation_mode, widest_activation
from skae._optimizer import make_optimizer
from skae._outliers import OutlierDetectionMixin
from skae._parameters import PARAMETER_CONSTRAINTS
from skae._persistence import PersistenceMixin
from skae._scaling import Scaling, lowest_outside_unit_interval
from skae._spec import NetworkSpec, check_unchanged
from skae._statistics import (
    RowMoments,
    check_codes_vary,
    check_features_observed,
    logit,
    min_max,
    pca_start,
    pooled_extremes,
)
from skae._threads import TORCH_CALLS
from skae._training import (
    History,
    StepFactory,
    TrainingOptions,
    gradient_step,
    train,
    warn_not_converged,
)
from skae._validation import (
    MatrixLike,
    check_finite,
    check_noise_level,
    device_key,
    output_dtype,
    resolve_device,
    row_major,
    validate_rows,
    validation_size,
)


class BaseAutoencoder(
    PersistenceMixin,
    GenerativeMixin,
    OutlierDetectionMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
    metaclass=ABCMeta,
):
    """Base class of the autoencoder transformers (each ``__init__`` stores
    the parameters). Not for direct use."""

    # The parameter that names the model of X given the code ('loss' or
    # 'likelihood'), and its value that needs X in [0, 1]; the network kind
    # of skae._spec.
    _likelihood_parameter: str
    _unit_interval_likelihood: str
    _network_kind: str
    # What fit sets (besides n_features_in_ and feature_names_in_), each
    # estimator adding its summaries: pickling and the safe format
    # (skae._persistence) keep these and nothing else.
    _fitted_state: tuple[str, ...] = (
        "device_", "network_", "optimizer_", "_spec", "_scaling", "_rng", "_history",
        "_moments", "_widest_activation", "loss_curve_", "validation_loss_curve_",
        "best_loss_", "best_epoch_", "n_iter_", "offset_", "variance_explained_",
    )  # fmt: skip

    _parameter_constraints: dict = PARAMETER_CONSTRAINTS
    # The training step of the engine (skae._training) for this model.
    _training_step: StepFactory = staticmethod(gradient_step)

    # ------------------------------------------------------------------
    # What each autoencoder defines

    @abstractmethod
    def _linear_start(
        self, mean: np.ndarray, components: np.ndarray, variances: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The encoder's linear shortcut (weight, bias) and the decoder's weight
        that start the network at a PCA of the scaled data."""

    @abstractmethod
    def _summarize_fit(
        self, batches: Batches, validation: Batches | None, errors: ReconstructionErrors
    ) -> None:
        """Set the fitted attributes that describe the fitted model on the
        training data (`batches`) and, when there is one, the validation split,
        through :meth:`_summarize` so that ``partial_fit`` calls add up;
        `errors` are the reconstruction errors of the validation split, else
        of the training data."""

    @abstractmethod
    def _sample_codes(self, n_samples: int, rng: np.random.RandomState) -> np.ndarray:
        """Draws of codes for :meth:`sample`."""

    @abstractmethod
    def _batch_scorer(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """A function giving the per-sample scores of a scaled batch, for one
        :meth:`score_samples` call."""

    def _objective(self) -> Objective:
        """The loss settings of training, from the current parameters."""
        return Objective(neighbor_weight=self.neighbor_weight, perplexity=self.perplexity)

    # ------------------------------------------------------------------
    # Fitted attributes held by the specification and the scaling

    n_components_ = property(lambda self: self._spec.n_components)
    image_shape_ = property(lambda self: self._spec.image_shape)
    scaling_ = property(lambda self: self._scaling.kind)
    input_offset_ = property(lambda self: self._scaling.offset)
    input_scale_ = property(lambda self: self._scaling.scale)

    @property
    def _unit_interval_loss(self) -> str | None:
        """The fitted setting (e.g. "loss='bce'") if its loss needs X in [0, 1], else None."""
        if self._spec.likelihood != self._unit_interval_likelihood:
            return None
        return f"{self._likelihood_parameter}={self._spec.likelihood!r}"

    # ------------------------------------------------------------------
    # Public API

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike, y: object = None) -> Self:
        """Fit the autoencoder to X.

        A fit is all or nothing: if anything stops it (an error, a
        ``KeyboardInterrupt``), a fresh fit leaves the estimator unfitted and
        a warm start leaves the model exactly as it was.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse rows are densified one batch at a time. NaN
            marks a missing entry: the loss skips it (user guide, "Missing
            values").
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        reset = not (self.warm_start and hasattr(self, "network_"))
        self._fit(
            X,
            reset=reset,
            max_epochs=self.max_iter,
            validate=self.early_stopping,
            adaptive=self.learning_rate == "adaptive",
            accumulate=False,
        )
        if reset and is_fraction(self.n_components):
            search_code_size(self, X, self.n_components)
        if not self._history.converged:
            monitored = "validation" if self.early_stopping else "training"
            # stacklevel: the caller of fit, past the fit-context wrapper.
            warn_not_converged(
                self.max_iter, self.tol, self.n_iter_no_change, monitored, stacklevel=4
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
        apply to ``partial_fit``. An interrupted call leaves the model as it
        was before it.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            A chunk of training data. A Dask array is streamed: its blocks of
            rows are computed and trained on one at a time, as if
            ``partial_fit`` were called on each in turn (so a first call
            fits the scaling on its first block).
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
        if not is_dask_array(X):
            return self._partial_fit(X)
        for block in row_blocks(X, getattr(self, "n_features_in_", None), type(self).__name__):
            self._partial_fit(block)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def _partial_fit(self, X):
        reset = not hasattr(self, "network_")
        if reset and is_fraction(self.n_components):
            raise ValueError(
                f"n_components={self.n_components} (a fraction of variance) is met by "
                "comparing fits of several code sizes, which needs fit; partial_fit "
                "needs an int, 'auto' or 'mle'."
            )
        return self._fit(
            X,
            reset=reset,
            max_epochs=1,
            validate=False,
            adaptive=False,
            accumulate=True,
        )

    def transform(self, X: MatrixLike) -> np.ndarray:
        """Encode X: the codes (for the VAE, the posterior means) of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Float32 for float32 input, float64 otherwise; for a Dask array
            under the default output, a Dask array encoded lazily, block by
            block of rows.
        """
        check_is_fitted(self)
        if is_dask_array(X):
            return map_row_blocks(self, "transform", X, self.n_components_, output_dtype(X.dtype))
        X = self._validate(X, reset=False)
        evaluation_mode(self.network_)
        codes = map_batches(self.network_.code, self._batches(X), self._inference_rows)
        return check_finite(codes, "codes").numpy().astype(output_dtype(X.dtype), copy=False)

    def inverse_transform(self, X: ArrayLike) -> np.ndarray:
        """Decode codes back to the input space (undoing the internal scaling).

        Parameters
        ----------
        X : {array-like, dask array} of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            The decoder's mean output in the units of the training data; for
            a Dask array, a Dask array decoded lazily, block by block of rows.
        """
        check_is_fitted(self)
        if is_dask_array(X):
            return map_row_blocks(
                self,
                "inverse_transform",
                X,
                self.n_features_in_,
                output_dtype(X.dtype),
                n_features=self.n_components_,
            )
        Z = check_array(X, dtype=(np.float64, np.float32), input_name="X")
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but inverse_transform expects codes "
                f"of n_components={self.n_components_} features, as fitted."
            )
        decode = self._scaling.undone_on_device(self.network_.decode, self.device_)
        evaluation_mode(self.network_)
        decoded = np.empty((len(Z), self.n_features_in_), dtype=output_dtype(Z.dtype))
        out = torch.from_numpy(decoded)
        map_batches(decode, Batches(Z, self.device_), self._inference_rows, out=out)
        check_finite(out, "outputs")
        self._scaling.undo_on_host(decoded)
        return decoded

    def score_samples(self, X: MatrixLike) -> np.ndarray:
        """Per-sample score: higher means more typical of the training data; -inf
        for rows the model gives no density (outside [0, 1] for ``loss='bce'``
        and ``likelihood='bernoulli'``) or so far from the training data that
        the float32 network overflows; for a Dask array, a Dask array scored
        lazily, block by block of rows."""
        check_is_fitted(self)
        if is_dask_array(X):
            return map_row_blocks(self, "score_samples", X, None, np.float64)
        return self._scores(self._validate(X, reset=False))

    def _scores(self, X) -> np.ndarray:
        """:meth:`score_samples` of validated rows."""
        scorer = self._batch_scorer()
        if self._unit_interval_loss is not None:  # no likelihood outside [0, 1]
            scorer = lowest_outside_unit_interval(scorer)
        evaluation_mode(self.network_)
        scores = map_batches(scorer, self._batches(X), self._score_batch_size)
        # A finite row that overflows the float32 network is the least typical of all.
        scores = torch.nan_to_num(scores.double(), nan=-np.inf, posinf=-np.inf, neginf=-np.inf)
        return scores.numpy()

    def score(self, X: MatrixLike, y: object = None) -> float:
        """Mean of :meth:`score_samples`, so that model selection needs no scorer.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Data to score (a Dask array is scored block by block of rows).
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            The mean log-density of the samples, in nats.

        Notes
        -----
        Across `n_components`, a larger autoencoder code reconstructs better
        and its score keeps rising, held-out rows too: an unsupervised
        ``GridSearchCV`` over the code size picks the largest. To choose it,
        pass a float `n_components` (a fraction of variance), or compare
        :class:`VAETransformer` scores, whose likelihood prices each code
        dimension (BENCHMARKS.md, "Choosing n_components").
        """
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self) -> int:
        # An attribute error before fitting makes get_feature_names_out raise NotFittedError.
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = True  # missing entries (skae._losses.fill_missing)
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ------------------------------------------------------------------
    # Fitting

    def _fit(self, X, *, reset: bool, **training):
        """Train, all or nothing (see :meth:`fit`)."""
        before = None if reset else copy_fitted_state(self)
        # One count for the whole fit: its PCA start and summaries compute with torch too.
        with TORCH_CALLS.running():
            try:
                return self._train(X, reset=reset, **training)
            except BaseException:
                if reset:
                    forget_fit(self)
                else:
                    restore_fitted_state(self, before)
                raise

    def _train(
        self, X, *, reset: bool, max_epochs: int, validate: bool, adaptive: bool, accumulate: bool
    ):
        """Train on X; with `accumulate` (``partial_fit``), the fitted
        summaries pool this call's data with that summarised since the last
        ``fit`` (see :meth:`partial_fit`)."""
        # Every rank checks its own rows; all stop if one cannot go on.
        ranks = Ranks.current()
        with ranks.all_or_none("checking X"):
            check_noise_level(self.noise, self.noise_level)
            X = self._validate(X, reset=reset)
            n_validation = validation_size(self.validation_fraction, X.shape[0]) if validate else 0
            extremes = min_max(X)  # one pass, for the scaling and the float32 check
        if ranks.distributed:
            ranks.check_same_features(X.shape[1])
            extremes = pooled_extremes(extremes, ranks)
        if reset:
            check_features_observed(extremes)  # later chunks may miss a feature
            self._initialize(X, extremes, ranks)
        else:
            self._check_spec_unchanged()
            self._scaling.check_float32_reach(extremes)
            if not accumulate:  # each fit judges convergence anew: its parameters may have changed
                self._history.restart()
        for group in self.optimizer_.param_groups:  # set_params takes effect on warm starts
            group["lr"] = self.learning_rate_init  # an adaptive schedule starts anew
            group["weight_decay"] = self.alpha
        # After the scaling statistics, which keep the bits of X's own layout.
        X = row_major(X)
        train_rows, validation_rows = split_rows(self._rank_rng(ranks), X.shape[0], n_validation)
        batches = self._batches(X, train_rows, ranks=ranks)
        self._scaling.check_unit_interval(batches, self._unit_interval_loss, fitted_here=reset)
        validation = self._batches(X, validation_rows, ranks=ranks) if validate else None
        options = self._training_options(max_epochs, adaptive, one_epoch_calls=accumulate)
        seed = self._draw_seed()
        with self._spec.training_randomness(seed, self.device_):
            history = train(
                self.network_,
                self.optimizer_,
                batches,
                validation,
                options,
                self._history,
                seed,
                self._training_step,
            )
        vars(self).update(history.fitted_attributes())
        if reset or not accumulate:
            self._moments = {}
        # Held out when there is a validation split: a flexible network fits
        # its training data more closely than new data.
        held_out = batches if validation is None else validation
        errors = reconstruction_errors(self.network_, held_out)
        self._summarize_fit(batches, validation, errors)
        self.variance_explained_ = errors.explained_variance
        if np.any(extremes[0] < extremes[1]):
            check_codes_vary(self._moments["codes"])
        self._fit_offset(X, "partial_fit" if accumulate else "fit", ranks)
        return self

    def _training_options(
        self, max_epochs: int, adaptive: bool, *, one_epoch_calls: bool
    ) -> TrainingOptions:
        objective = self._objective()
        return TrainingOptions(
            max_epochs=max_epochs,
            batch_size=int(self.batch_size),  # NumPy integers pass the Integral constraint
            # The t-SNE term depends on the batch: validate on batches like training's.
            evaluation_batch_size=int(self.batch_size) if self.neighbor_weight else None,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            noise=self.noise,
            noise_level=self.noise_level,
            trim_fraction=0.0 if self.contamination == "auto" else self.contamination,
            adaptive_learning_rate=adaptive,
            mixed_precision=self.mixed_precision,
            # A bar per partial_fit call would be one epoch long: a line instead.
            verbose=max(self.verbose, 2) if one_epoch_calls and self.verbose else self.verbose,
            objective=objective,
            loss_units=describe_loss(self._spec.likelihood, objective, self.scaling_),
        )

    def _summarize(self, name: str, moments: RowMoments) -> RowMoments:
        """`moments` of this call's rows, pooled with those summarised since
        the last ``fit`` (its own included): a stream's summaries describe all
        its chunks, each as encoded after its call, not its last one alone."""
        earlier = self._moments.get(name)
        self._moments[name] = moments if earlier is None else earlier.merge(moments)
        return self._moments[name]

    def _resolve_spec(self, n_features: int, n_components: int | str | None = None) -> NetworkSpec:
        """The specification of the parameters, with `n_components` in place of
        the parameter's when given (a code size resolved from the data)."""
        parameters = self.get_params()
        if n_components is not None:
            parameters["n_components"] = n_components
        likelihood = getattr(self, self._likelihood_parameter)
        return NetworkSpec.resolve(
            parameters, n_features, kind=self._network_kind, likelihood=likelihood
        )

    def _check_spec_unchanged(self) -> None:
        """warm_start and partial_fit continue the fitted network: what defines it
        must not have changed since it was fitted."""
        # 'auto' chose scaling_ from the data the fit saw; the network is where
        # it is now (a model unpickled without CUDA moved to the CPU).
        check_unchanged(
            self._spec.as_parameters(self._likelihood_parameter)
            | {"scaling": self.scaling_, "device": device_key(self.device_)},
            # A code size resolved from the data stays as fitted.
            self._resolve_spec(
                self.n_features_in_,
                self.n_components_ if depends_on_data(self.n_components) else None,
            ).as_parameters(self._likelihood_parameter)
            | {
                "scaling": self.scaling_ if self.scaling == "auto" else self.scaling,
                "device": device_key(Ranks.current().place(resolve_device(self.device))),
            },
        )

    def _initialize(self, X, extremes: tuple[np.ndarray, np.ndarray], ranks: Ranks) -> None:
        """Everything that a fresh fit resolves from the parameters and the data
        (whose column minima and maxima are `extremes`) of all `ranks`."""
        from_data = depends_on_data(self.n_components)
        # With a code size from the data, 'auto' stands in until the scaling is fitted.
        self._spec = self._resolve_spec(X.shape[1], "auto" if from_data else None)
        self._rng = check_random_state(self.random_state)
        self.device_ = ranks.place(resolve_device(self.device))
        kind = Scaling.choose(self.scaling, self._unit_interval_loss is not None, extremes)
        self._scaling = Scaling.fit(kind, X, extremes, ranks)
        self._scaling.check_float32_reach(extremes)
        if from_data:
            cpu_batches = self._batches(X, device=torch.device("cpu"), ranks=ranks)
            # From a copy of the generator: the fit then draws as one of that size would.
            rng = copy.deepcopy(self._rng)
            n_components = pca_code_size(self.n_components, cpu_batches, rng)
            self._spec = self._resolve_spec(X.shape[1], n_components)
        network = self._spec.build(self._draw_seed())
        self._spec.check_network(network.to(self.device_), self.device_)
        self._widest_activation = widest_activation(network, X.shape[1])
        if self._spec.init == "pca":
            self._start_from_pca(network, X, ranks)
        self.network_ = network.to(self.device_)
        self.optimizer_ = make_optimizer(
            self.network_, self.learning_rate_init, self.alpha, self.device_
        )
        self._history = History()

    def _rank_rng(self, ranks: Ranks) -> np.random.RandomState:
        """The generator of this rank's own draws: the fit's in one process;
        on several ranks, one seeded from it, which stays alike on all."""
        return ranks.random_state(self._draw_seed()) if ranks.distributed else self._rng

    def _draw_seed(self) -> int:
        """A seed for one random stream of this fit, from its `random_state`."""
        return int(self._rng.randint(np.iinfo(np.int32).max))

    def _start_from_pca(self, network: nn.Module, X, ranks: Ranks) -> None:
        """Set the linear shortcuts to a PCA of (a subsample of) the scaled
        data of all `ranks`."""
        batches = self._batches(X, device=torch.device("cpu"), ranks=ranks)
        mean, components, variances = pca_start(batches, self.n_components_, self._rng)
        encoder_weight, encoder_bias, decoder_weight = self._linear_start(
            mean, components, variances
        )
        if self._unit_interval_loss is not None:
            # A sigmoid output: the decoder starts at the logit of the mean, whatever the code.
            decoder_weight, mean = 0 * decoder_weight, logit(mean)
        tensors = (encoder_weight, encoder_bias, decoder_weight, mean)
        network.set_linear_shortcuts(*(torch.as_tensor(t) for t in tensors))

    # ------------------------------------------------------------------
    # Inputs and batches

    def _validate(self, X, *, reset: bool):
        return validate_rows(self, X, reset=reset)

    def _batches(
        self, X, rows=None, device: torch.device | None = None, ranks: Ranks = LOCAL
    ) -> Batches:
        return Batches(X, device or self.device_, rows, self._scaling, ranks)

    @property
    def _inference_rows(self) -> int:
        return inference_rows(self.device_, self._widest_activation, self.n_features_in_)

    @property
    def _score_batch_size(self) -> int:
        return self._inference_rows
