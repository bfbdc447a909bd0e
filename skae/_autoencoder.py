"""AutoencoderTransformer: a non-linear, GPU-capable counterpart of PCA."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions
from torch.nn import functional as F

from skae._base import BaseAutoencoder
from skae._batches import INFERENCE_BATCH_SIZE, Batches, map_batches
from skae._code_inference import CodeModel
from skae._code_size import ReconstructionErrors, reconstruction_errors
from skae._losses import fill_missing, reconstruction_loss, unobserved_sum
from skae._networks import LOG_2PI, evaluation_mode
from skae._parameters import fill_doc
from skae._persistence import register
from skae._statistics import RowMoments
from skae._validation import MatrixLike

# Relative lower bounds of the fitted variances, against division by zero when
# the data lie exactly on the decoded manifold or the codes collapse: float32
# networks do not resolve smaller variances anyway.
MIN_NOISE_VARIANCE = 1e-6


@register
class AutoencoderTransformer(BaseAutoencoder):
    """Autoencoder dimensionality reduction, with the API of :class:`~sklearn.decomposition.PCA`.

    An encoder network maps each sample to a code of `n_components` values,
    and a decoder maps the code back; both are trained together to minimise
    the reconstruction error. ``transform`` returns the codes,
    ``inverse_transform`` decodes them, and ``score_samples`` is an anomaly
    score (higher is more normal) that weighs both the reconstruction error
    and how unusual the code is.

    Features are scaled internally (see `scaling`) and ``inverse_transform``
    undoes it, so raw data such as pixel counts can be passed as they are. By
    default the loss is the squared error in X's units, as for PCA (for
    ``architecture='conv'``, the cross-entropy of intensities scaled to
    [0, 1]; see `loss`); for columns of mixed units, ``scaling='standard'``
    makes every feature count alike.

    Parameters
    ----------
    %(network_parameters)s
    %(loss_parameter)s
    %(training_parameters)s

    Attributes
    ----------
    %(fitted_attributes)s
    loss_ : {'mse', 'bce'}
        The loss trained on: `loss`, with 'auto' resolved.
    latent_mean_, latent_covariance_ : ndarray
        Mean and covariance of the training codes; :meth:`sample` draws from this
        Gaussian and :meth:`score_samples` uses its density.
    noise_variance_ : ndarray of shape (n_features_in_,) or None
        For ``loss_='mse'``, the variance of each feature's reconstruction
        residual in X's units, measured on the validation split when there is
        one (training residuals understate it), else on the training data
        (pooled over the calls, with :meth:`partial_fit`). None for
        ``loss_='bce'``.
    %(feature_attributes)s

    See Also
    --------
    VAETransformer : A variational autoencoder: a smooth latent space, sampling and likelihoods.
    sklearn.decomposition.PCA : The linear counterpart.

    Notes
    -----
    ``score_samples`` reads the autoencoder as a generative model: codes
    follow the Gaussian N(`latent_mean_`, `latent_covariance_`), and a sample
    is its decoded code plus noise, Gaussian with the per-feature variances
    `noise_variance_` for ``loss='mse'``, Bernoulli for ``loss='bce'``. The
    score of x is the joint log-density of x and its code z = encode(x) under
    that model, log p(x | z) + log p(z), in nats and in X's units (for
    ``loss='bce'``, the log-Jacobian of the scaling to [0, 1] is added to the
    Bernoulli log-probability, as for the Gaussian's density). Both terms
    matter for anomaly detection: an outlier may be reconstructed well and
    still land far from the other codes. It is the non-linear cousin of
    probabilistic PCA and factor analysis, but a score rather than a
    normalised density: the code is the encoder's, not integrated out.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = AutoencoderTransformer(n_components=8, max_iter=5, random_state=0)
    >>> codes = ae.fit_transform(X)
    >>> codes.shape
    (1797, 8)
    >>> ae.inverse_transform(codes).shape
    (1797, 64)
    """

    __doc__ = fill_doc(__doc__)

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "loss": [StrOptions({"auto", "mse", "bce"})],
    }
    _likelihood_parameter, _unit_interval_likelihood = "loss", "bce"
    _network_kind = "autoencoder"
    _fitted_state = (
        *BaseAutoencoder._fitted_state,
        "latent_mean_",
        "latent_covariance_",
        "noise_variance_",
    )
    loss_ = property(lambda self: self._spec.likelihood)

    def __init__(
        self,
        n_components: int | str = "auto",
        *,
        hidden_layer_sizes=None,
        activation: str = "relu",
        architecture: str = "mlp",
        image_shape=None,
        init: str = "auto",
        encoder=None,
        decoder=None,
        loss: str = "auto",
        scaling: str | None = "auto",
        noise: str | None = None,
        noise_level: float = 0.1,
        contamination: float | str = "auto",
        neighbor_weight: float | str = "auto",
        perplexity: float = 10.0,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 1e-3,
        max_iter: int = 200,
        alpha: float = 0.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int | str = "auto",
        tol: float = 1e-4,
        warm_start: bool = False,
        device="auto",
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
        self.encoder = encoder
        self.decoder = decoder
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
        self.loss = loss

    def score_samples(self, X: MatrixLike) -> np.ndarray:
        """Log-density of each sample and its code: higher is more normal.

        The autoencoder is read as a generative model (see Notes).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Data to score (a Dask array gives a Dask array, computed lazily
            block by block of rows).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            log p(x | z) + log p(z) with z = encode(x), in nats, in the units
            of X; -inf, the lowest score, for rows outside [0, 1] with
            ``loss_='bce'`` and for rows so far from the training data that
            the float32 network overflows on them.
        """
        return super().score_samples(X)

    def _linear_start(self, mean, components, variances):
        return components, -(components @ mean), components.T

    def _batch_scorer(self) -> Callable[[torch.Tensor], torch.Tensor]:
        # The density terms in float64: float32 sums of many features would
        # make a sample's score depend on its batch in the last digits.
        n_features, device = self.n_features_in_, _float64_device(self.device_)
        code_mean, cholesky = self._code_gaussian()
        whitening = torch.as_tensor(np.linalg.inv(cholesky).T, device=device)
        mean = torch.as_tensor(code_mean, device=device)
        log_det_code = np.sum(np.log(np.diag(cholesky)))
        constant = self._scaling.log_jacobian - 0.5 * self.n_components_ * LOG_2PI - log_det_code
        likelihood = self._spec.likelihood
        per_feature = self._scaling.log_jacobian_per_feature
        if likelihood == "mse":
            scaled_variance = self.noise_variance_ / self.input_scale_**2
            constant -= 0.5 * np.sum(LOG_2PI + np.log(scaled_variance))
            precision = torch.as_tensor(1 / scaled_variance, device=device)
            per_feature = per_feature - 0.5 * (LOG_2PI + np.log(scaled_variance))
        # A missing entry is marginalised out: its terms are left out of the constant.
        per_feature = torch.as_tensor(per_feature, device=device)

        def score(x: torch.Tensor) -> torch.Tensor:
            code = self.network_.encode(x)
            output = self.network_.decoder(code)  # logits for loss='bce'
            missing = torch.isnan(x)
            if likelihood == "mse":
                residual = (output - x).to(device, torch.float64).masked_fill(missing, 0.0)
                log_likelihood = -0.5 * (residual.square() * precision).sum(dim=1)
            else:  # Bernoulli: minus the summed cross-entropy
                cross_entropy = reconstruction_loss(output, x, "bce").to(device, torch.float64)
                log_likelihood = -(n_features - missing.sum(dim=1)) * cross_entropy
            centred = code.to(device, torch.float64) - mean
            mahalanobis = _row_by_row_product(centred, whitening).square().sum(dim=1)
            return constant + log_likelihood - 0.5 * mahalanobis - unobserved_sum(x, per_feature)

        return score

    def _feature_scorer(self) -> Callable[[torch.Tensor], torch.Tensor]:
        # Each feature's log p(x_j | z) in the scaled space, in float64 as the score's.
        device, network = _float64_device(self.device_), self.network_
        if self._spec.likelihood == "mse":
            variance = torch.as_tensor(self.noise_variance_ / self.input_scale_**2, device=device)
            constant = -0.5 * (LOG_2PI + torch.log(variance))

        def terms(x: torch.Tensor) -> torch.Tensor:
            output = network.decoder(network.encode(x))
            missing = torch.isnan(x)
            if self._spec.likelihood == "mse":
                residual = (output - x).to(device, torch.float64)
                terms = constant - 0.5 * residual.square() / variance
            else:
                cross_entropy = F.binary_cross_entropy_with_logits(
                    output, fill_missing(x), reduction="none"
                )
                terms = (-cross_entropy).to(device, torch.float64)
            return terms.masked_fill(missing.to(device), 0.0)  # a missing entry has no term

        return terms

    def _code_model(self) -> CodeModel:
        # The density of score_samples at any code rather than encode(x), but
        # with one noise variance for all features (their mean, as
        # probabilistic PCA's): per-feature variances, tiny where a feature
        # is nearly constant (an image's border), weigh the observed entries
        # unevenly: on MNIST they imputed 9-19% worse, on digits 2-4%; on
        # the tables the two are within 2% either way (BENCHMARKS.md,
        # "Missing values").
        mean, cholesky = (
            torch.as_tensor(values, dtype=torch.float32, device=self.device_)
            for values in self._code_gaussian()
        )
        likelihood, decoder = self._spec.likelihood, self.network_.decoder
        if likelihood == "mse":
            precision = 1 / np.mean(self.noise_variance_ / self.input_scale_**2)

        def negative_log_likelihood(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            output, target = decoder(z).float(), fill_missing(x)
            if likelihood == "mse":
                terms = 0.5 * (output - target).square() * precision
            else:
                terms = F.binary_cross_entropy_with_logits(output, target, reduction="none")
            return terms.masked_fill(torch.isnan(x), 0.0).sum(dim=1)

        return CodeModel(mean, cholesky, negative_log_likelihood)

    def _code_distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """The Gaussian of the codes that scores and samples use: the training codes'."""
        return self.latent_mean_, self.latent_covariance_

    def _code_gaussian(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean and Cholesky factor of that Gaussian, its covariance
        regularised, as the scores and the MAP codes read it."""
        mean, covariance = self._code_distribution()
        return mean, np.linalg.cholesky(_regularized(covariance))

    def _summarize_fit(
        self, batches: Batches, validation: Batches | None, errors: ReconstructionErrors
    ) -> None:
        evaluation_mode(self.network_)
        codes = map_batches(self.network_.code, batches, INFERENCE_BATCH_SIZE).double().numpy()
        moments = RowMoments.of(codes, covariance=True).over_ranks(batches.ranks)
        moments = self._summarize("codes", moments)
        self.latent_mean_, self.latent_covariance_ = moments.mean, moments.covariance
        self.noise_variance_ = None
        if self._spec.likelihood == "mse":
            # From the held-out residuals where there are some: the training
            # residuals of a flexible network understate the noise.
            held_out = batches if validation is None else validation
            fallback = None if validation is None else batches
            self.noise_variance_ = self._residual_variance(errors, held_out.n_total, fallback)

    def _residual_variance(
        self, errors: ReconstructionErrors, n_rows: int, fallback: Batches | None
    ) -> np.ndarray:
        """Mean squared residual of each feature over its observed entries
        (`errors`, of `n_rows` rows; those of the `fallback` rows for a
        feature that `errors`' rows never observe), in X's units."""
        mean_square = errors.mean_squared_residual
        unobserved = np.isnan(mean_square)
        if unobserved.any() and fallback is not None:
            fallback_errors = reconstruction_errors(self.network_, fallback)
            mean_square[unobserved] = fallback_errors.mean_squared_residual[unobserved]
        unobserved = np.isnan(mean_square)
        if unobserved.any():  # a partial_fit chunk without the feature: the earlier chunks'
            earlier = self._moments.get("squared residuals")
            known = np.nanmean(mean_square) if earlier is None else earlier.mean[unobserved]
            mean_square[unobserved] = known
        mean_square = RowMoments(n_rows, mean_square)
        variance = self._summarize("squared residuals", mean_square).mean * self.input_scale_**2
        return np.maximum(variance, MIN_NOISE_VARIANCE * np.mean(self.input_scale_**2))

    def _sample_codes(self, n_samples: int, rng: np.random.RandomState) -> np.ndarray:
        variances, axes = np.linalg.eigh(self.latent_covariance_)
        draws = rng.standard_normal((n_samples, self.n_components_))
        return self.latent_mean_ + (draws * np.sqrt(variances.clip(0))) @ axes.T


def _float64_device(device: torch.device) -> torch.device:
    """Where float64 sums run: on `device`, but on the CPU for Apple's MPS,
    which has no float64."""
    return torch.device("cpu") if device.type == "mps" else device


def _regularized(covariance: np.ndarray) -> np.ndarray:
    """`covariance` plus a small ridge, so that collapsed codes still have a density."""
    ridge = MIN_NOISE_VARIANCE * np.trace(covariance) / len(covariance) + 1e-12
    return covariance + ridge * np.eye(len(covariance))


def _row_by_row_product(rows: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """``rows @ matrix``, as a sum of rank-one terms in a fixed order: a row's
    result does not depend on the other rows, as a BLAS product's does in
    float64 through each row's alignment in memory (benchmarks/README.md,
    "Batch invariance"). For the small matrices of the code's density."""
    product = torch.zeros((len(rows), matrix.shape[1]), dtype=rows.dtype, device=rows.device)
    for k in range(matrix.shape[0]):
        # Two operations, so that neither can be fused into an FMA on some rows only.
        product = product + rows[:, k : k + 1] * matrix[k]
    return product
