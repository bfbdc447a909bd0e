"""The shared estimator base: the scikit-learn API.

Each concept has its own module: the steps of a fit (:mod:`skae._fit`), the
network's specification (:mod:`skae._spec`), the input scaling
(:mod:`skae._scaling`), batches and their sizes (:mod:`skae._batches`), the
loss settings (:mod:`skae._losses`), the training loop
(:mod:`skae._training`), the fitted state
(:mod:`skae._fitted_state`) and its safe format (:mod:`skae._persistence`);
inputs are checked by :mod:`skae._validation` and summarised by
:mod:`skae._statistics`.
"""

from __future__ import annotations

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
from sklearn.utils.validation import check_array, check_is_fitted
from typing_extensions import Self  # typing's from Python 3.11 on

from skae._batches import Batches, inference_rows, map_batches
from skae._code_inference import CodeModel
from skae._code_size import ReconstructionErrors, is_fraction, search_code_size
from skae._dask import is_dask_array, map_row_blocks, row_blocks
from skae._distributed import LOCAL, Ranks
from skae._fit import train_estimator
from skae._fitted_state import copy_fitted_state, forget_fit, restore_fitted_state
from skae._generation import GenerativeMixin
from skae._history import warn_not_converged
from skae._losses import Objective
from skae._networks import evaluation_mode
from skae._outliers import OutlierDetectionMixin
from skae._parameters import PARAMETER_CONSTRAINTS
from skae._persistence import PersistenceMixin
from skae._scaling import lowest_outside_unit_interval
from skae._settings import TrainingSettings
from skae._statistics import RowMoments
from skae._threads import TORCH_CALLS
from skae._training import StepFactory, gradient_step
from skae._validation import MatrixLike, check_finite, output_dtype, validate_rows


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

    @abstractmethod
    def _code_model(self) -> CodeModel:
        """The code's Gaussian and the likelihood of a scaled row's observed
        entries given a code: what the MAP code of an incomplete row
        maximises (:mod:`skae._code_inference`)."""

    def _objective(self, neighbor_weight: float) -> Objective:
        """The loss settings of training, from the current parameters and
        the resolved `neighbor_weight`."""
        return Objective(neighbor_weight=neighbor_weight, perplexity=self.perplexity)

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
        setting = f"{self._likelihood_parameter}={self._spec.likelihood!r}"
        if getattr(self, self._likelihood_parameter) == "auto":
            return f"{self._likelihood_parameter}='auto' ({setting} for this architecture)"
        return setting

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
            settings = TrainingSettings.resolve(self.get_params(), self._network_kind)
            warn_not_converged(
                self.max_iter, self.tol, settings.n_iter_no_change, monitored, stacklevel=4
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

    def __sklearn_is_fitted__(self) -> bool:
        # What check_is_fitted asks, in every method; its default scans the
        # name of every attribute.
        return "network_" in vars(self)

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
                return train_estimator(self, X, reset=reset, **training)
            except BaseException:
                if reset:
                    forget_fit(self)
                else:
                    restore_fitted_state(self, before)
                raise

    def _summarize(self, name: str, moments: RowMoments) -> RowMoments:
        """`moments` of this call's rows, pooled with those summarised since
        the last ``fit`` (its own included): a stream's summaries describe all
        its chunks, each as encoded after its call, not its last one alone."""
        earlier = self._moments.get(name)
        self._moments[name] = moments if earlier is None else earlier.merge(moments)
        return self._moments[name]

    def _draw_seed(self) -> int:
        """A seed for one random stream of this fit, from its `random_state`."""
        return int(self._rng.randint(np.iinfo(np.int32).max))

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
