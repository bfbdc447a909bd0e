"""AutoencoderImputer: missing values filled in by an autoencoder, with
scikit-learn's imputer API.

An imputer, not a method of the estimators: a Pipeline step that returns X
with its holes filled is what ``SimpleImputer``, ``KNNImputer`` and
``IterativeImputer`` are, and a transformer's ``transform`` returns codes.
The imputer wraps any of skae's estimators (fitted on the incomplete rows,
the loss skipping the missing entries) and fills each missing entry with the
decoder's mean at the row's code: by default the code that best explains the
row's observed entries under the model (:mod:`skae._code_inference`).
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.impute import MissingIndicator
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data
from typing_extensions import Self

from skae._autoencoder import AutoencoderTransformer
from skae._base import BaseAutoencoder
from skae._code_inference import map_codes
from skae._networks import evaluation_mode
from skae._validation import MatrixLike

# The fraction of observed entries that the default estimator hides in
# training: on digits with 30% and 50% missing, 0.3 and 0.5 imputed within
# 2-4% of each other, 0.2 and no hiding worse (BENCHMARKS.md).
DEFAULT_HIDDEN_FRACTION = 0.3


class AutoencoderImputer(TransformerMixin, BaseEstimator):
    """Impute missing values with an autoencoder's reconstructions.

    The autoencoder is fitted on the incomplete rows themselves: its
    training loss counts the observed entries only, and its encoder sees a
    missing entry as 0 in its scaled space (the feature's training mean for
    the centring scalings, its minimum for the min-max ones). Trained with
    ``noise='missing'``, a fraction of the observed entries hidden from the
    encoder in each batch, it learns to predict an entry from the rest of
    its row, which is what imputation asks (without it, a network that sees
    every entry it reconstructs learns little of that). Each missing entry
    is then replaced by the decoder's mean at the row's code (one
    deterministic imputation, not multiple imputation by posterior draws);
    observed entries are returned untouched. A row with no observed value
    is an error, as it is for the estimators.

    The code, by default for skae's estimators (``code='auto'``, which is
    ``'map'`` for them), is the one of highest density
    under the fitted model given the row's observed entries alone:
    ``argmax_z log p(x_obs | z) + log p(z)``, as probabilistic PCA
    imputes: for an autoencoder, Gaussian noise of one variance (the mean
    of ``noise_variance_``, in the internal scaling's units) and the
    Gaussian of the training codes; for a VAE, its decoder's likelihood and
    the N(0, I) prior. It is found by 200 steps of Adam from the encoder's code,
    which it replaces only where it is better; each row's code is found
    alone, whatever the other rows of X. The encoder's code alone
    (``code='encoder'``, ``inverse_transform(transform(X))``) is faster, but
    the encoder reads a missing entry as its fill value, which pulls the
    code towards rows with values there at the fill: in BENCHMARKS.md,
    "Missing values", the MAP code imputes better for the default estimator
    on every data set and pattern but one (MNIST with the lower half of each
    digit missing).

    Parameters
    ----------
    estimator : skae estimator, default=None
        The autoencoder to fit, cloned; None is
        ``AutoencoderTransformer(noise='missing', noise_level=0.3)``
        (BENCHMARKS.md, "Missing values", has the measurements). Give your
        own ``noise='missing'`` too.
    missing_values : float or np.nan, default=np.nan
        The placeholder of a missing entry.
    add_indicator : bool, default=False
        Whether to append :class:`~sklearn.impute.MissingIndicator`'s
        columns (the features with missing entries in ``fit``) to the output.
    code : {'auto', 'map', 'encoder'}, default='auto'
        Which code of an incomplete row is decoded: the MAP code given its
        observed entries (needs one of skae's estimators), or the encoder's
        (any estimator whose ``transform`` takes NaN, and its
        ``inverse_transform``); ``'auto'`` is ``'map'`` for skae's
        estimators and ``'encoder'`` for others.
    random_state : int, RandomState instance or None, default=None
        The `random_state` of the default estimator (with `estimator` None);
        an estimator you give keeps its own.

    Attributes
    ----------
    estimator_ : estimator
        The fitted autoencoder.
    indicator_ : MissingIndicator or None
        The fitted indicator, with `add_indicator`.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.impute.IterativeImputer : Each feature regressed on the others, in rounds.
    sklearn.impute.KNNImputer : The mean of the nearest complete neighbours.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import AutoencoderImputer, AutoencoderTransformer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 6))
    >>> X_missing = np.where(rng.rand(*X.shape) < 0.2, np.nan, X)
    >>> imputer = AutoencoderImputer(
    ...     AutoencoderTransformer(n_components=2, noise="missing", random_state=0)
    ... )
    >>> X_filled = imputer.fit_transform(X_missing)
    >>> bool(np.isnan(X_filled).any())
    False
    """

    _parameter_constraints: dict = {
        "estimator": [None, HasMethods(["fit", "transform", "inverse_transform"])],
        "missing_values": [Real],
        "add_indicator": ["boolean"],
        "code": [StrOptions({"auto", "map", "encoder"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        missing_values: float = np.nan,
        add_indicator: bool = False,
        code: str = "auto",
        random_state=None,
    ) -> None:
        self.estimator = estimator
        self.missing_values = missing_values
        self.add_indicator = add_indicator
        self.code = code
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: MatrixLike, y: object = None) -> Self:
        """Fit the autoencoder to X, missing entries and all.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing entries.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted imputer.
        """
        X = self._as_nan(self._validate(X, reset=True))
        estimator = self.estimator
        if estimator is None:
            estimator = AutoencoderTransformer(
                noise="missing",
                noise_level=DEFAULT_HIDDEN_FRACTION,
                random_state=self.random_state,
            )
        self._uses_map_codes(estimator)  # a clear error before a long fit
        self.estimator_ = clone(estimator).fit(X)
        self.indicator_ = None
        if self.add_indicator:
            self.indicator_ = MissingIndicator(missing_values=np.nan, error_on_new=False).fit(X)
        return self

    def transform(self, X: MatrixLike) -> np.ndarray:
        """X with each missing entry replaced by its reconstruction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing entries.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features_out)
            X, its observed entries untouched (n_features columns), then the
            indicator's columns with `add_indicator`.
        """
        check_is_fitted(self)
        X = self._as_nan(self._validate(X, reset=False))
        missing = np.isnan(X)
        imputed = X.copy()
        rows = missing.any(axis=1)
        if rows.any():  # complete rows need no pass through the network
            reconstruction = self.estimator_.inverse_transform(self._codes(X[rows]))
            imputed[rows] = np.where(missing[rows], reconstruction, X[rows])
        if self.indicator_ is None:
            return imputed
        return np.hstack([imputed, self.indicator_.transform(X).astype(imputed.dtype)])

    def _codes(self, X: np.ndarray) -> np.ndarray:
        """The codes of the incomplete rows `X` that are decoded (see `code`)."""
        estimator = self.estimator_
        if not self._uses_map_codes(estimator):
            return estimator.transform(X)
        X = estimator._validate(X, reset=False)  # its errors: e.g. a row with no value
        evaluation_mode(estimator.network_)
        model, batches = estimator._code_model(), estimator._batches(X)
        codes = map_codes(model, estimator.network_.code, batches, estimator._inference_rows)
        return codes.numpy()

    def _uses_map_codes(self, estimator) -> bool:
        """Whether `code` asks for MAP codes of `estimator`; an error where it
        cannot have them."""
        skae_estimator = isinstance(estimator, BaseAutoencoder)
        if self.code == "map" and not skae_estimator:
            raise TypeError(
                f"code='map' needs one of skae's estimators, not {type(estimator).__name__};"
                " use code='encoder' to decode the estimator's transform."
            )
        return self.code == "map" or (self.code == "auto" and skae_estimator)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output feature names: the input's, then the indicator's.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; None uses ``feature_names_in_`` or
            ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
            The input's names, then, with `add_indicator`, the indicator's.
        """
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        if self.indicator_ is None:
            return names
        return np.concatenate([names, self.indicator_.get_feature_names_out(names)])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _validate(self, X, *, reset: bool) -> np.ndarray:
        return validate_data(
            self,
            X,
            reset=reset,
            dtype=(np.float64, np.float32),
            ensure_all_finite="allow-nan",
            copy=False,
        )

    def _as_nan(self, X: np.ndarray) -> np.ndarray:
        """X with `missing_values` as NaN (a copy if they are not NaN already)."""
        if np.isnan(self.missing_values):
            return X
        return np.where(X == self.missing_values, np.nan, X)
