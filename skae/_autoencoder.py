"""AutoencoderTransformer: a non-linear, GPU-capable counterpart of PCA."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions
from torch import nn

from skae._base import INFERENCE_BATCH_SIZE, BaseAutoencoder, fill_doc, logit, set_linear
from skae._networks import Autoencoder, reconstruction_loss
from skae._training import Batches, map_batches

# Lower bounds of the fitted variances, against division by zero when the data
# lie exactly on the decoded manifold: float32 reconstructions of unit-scale
# data do not resolve smaller residual variances anyway.
MIN_NOISE_VARIANCE = 1e-10
RELATIVE_CODE_RIDGE = 1e-6


class AutoencoderTransformer(BaseAutoencoder):
    """Autoencoder dimensionality reduction, with the API of :class:`~sklearn.decomposition.PCA`.

    An encoder network maps each sample to a code of `n_components` values,
    and a decoder maps the code back; both are trained together to minimise
    the reconstruction error. ``transform`` returns the codes,
    ``inverse_transform`` decodes them, and ``score_samples`` is a
    log-likelihood in the manner of probabilistic PCA, an anomaly score
    (higher is more normal).

    Features are scaled internally (see `scaling`) and ``inverse_transform``
    undoes it, so raw data such as pixel counts can be passed as they are. By
    default the loss is the squared error in X's units, as for PCA; for columns
    of mixed units, ``scaling='standard'`` makes every feature count alike.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code, at most ``n_features``.
    %(network_parameters)s
    loss : {'mse', 'bce'}, default='mse'
        Reconstruction loss: mean squared error, or binary cross-entropy for
        data in [0, 1] such as pixel intensities.
    %(training_parameters)s

    Attributes
    ----------
    %(fitted_attributes)s
    latent_mean_, latent_covariance_ : ndarray
        Mean and covariance of the training codes; :meth:`sample` draws from this
        Gaussian and :meth:`score_samples` uses its density.
    noise_variance_ : float or None
        For ``loss='mse'``, the variance of the reconstruction residual on the
        training data, per feature and in the internally scaled space, counting
        ``n_features - n_components`` degrees of freedom as PCA's
        ``noise_variance_`` does. None for ``loss='bce'``.
    %(feature_attributes)s

    See Also
    --------
    VAETransformer : A variational autoencoder: a smooth latent space, sampling and likelihoods.
    sklearn.decomposition.PCA : The linear counterpart.

    Notes
    -----
    ``score_samples`` reads the autoencoder as a non-linear probabilistic PCA:
    codes follow the Gaussian N(`latent_mean_`, `latent_covariance_`) and a
    sample is its decoded code plus residual noise. The score of x is the
    log-density of its code under that Gaussian plus the log-likelihood of the
    residual x - decode(encode(x)): isotropic Gaussian noise of variance
    `noise_variance_` for ``loss='mse'``, Bernoulli for ``loss='bce'``. Both
    terms matter for anomaly detection: an outlier may reconstruct well yet
    land far from the other codes. It is in nats and in X's units (the
    log-Jacobian of the internal scaling is included); for a linear network
    with ``loss='mse'`` it equals :meth:`sklearn.decomposition.PCA.score_samples`
    exactly. For a non-linear network it is a score, not a normalised density,
    since the decoder's Jacobian is left out.

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
        "loss": [StrOptions({"mse", "bce"})],
    }

    def __init__(
        self,
        n_components: int = 2,
        *,
        hidden_layer_sizes=None,
        activation: str = "relu",
        architecture: str = "mlp",
        image_shape=None,
        init: str = "pca",
        loss: str = "mse",
        scaling: str | None = "auto",
        noise: str | None = None,
        noise_level: float = 0.1,
        contamination: float = 0.0,
        batch_size: int = 64,
        learning_rate_init: float = 1e-3,
        max_iter: int = 200,
        alpha: float = 0.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        warm_start: bool = False,
        device="auto",
        mixed_precision: bool = False,
        random_state=None,
        verbose: int = 0,
    ) -> None:
        super().__init__(
            n_components,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            architecture=architecture,
            image_shape=image_shape,
            init=init,
            scaling=scaling,
            noise=noise,
            noise_level=noise_level,
            contamination=contamination,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            alpha=alpha,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            warm_start=warm_start,
            device=device,
            mixed_precision=mixed_precision,
            random_state=random_state,
            verbose=verbose,
        )
        self.loss = loss

    def score_samples(self, X):
        """Log-likelihood of each sample under the autoencoder read as a
        non-linear probabilistic PCA (higher is more normal; see Notes).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Log-density of the sample's code plus the log-likelihood of its
            reconstruction residual, in nats, in the units of X.
        """
        return super().score_samples(X)

    @property
    def _unit_interval_loss(self) -> str | None:
        return "loss='bce'" if self.loss == "bce" else None

    def _make_network(self, n_features: int) -> nn.Module:
        encoder, decoder = self._encoder_decoder(n_features, self.n_components)
        return Autoencoder(encoder, decoder, self.loss)

    def _set_linear_parts(self, network, mean, components, variances) -> None:
        codes = components @ mean
        set_linear(network.encoder.linear, components, -codes)
        if self.loss == "bce":
            set_linear(network.decoder.linear, 0 * components.T, logit(mean))
        else:
            set_linear(network.decoder.linear, components.T, mean)

    def _batch_scorer(self) -> Callable[[torch.Tensor], torch.Tensor]:
        n_features, device = self.n_features_in_, self.device_
        cholesky = np.linalg.cholesky(_regularized(self.latent_covariance_))
        whitening = torch.as_tensor(np.linalg.inv(cholesky).T, dtype=torch.float32, device=device)
        mean = torch.as_tensor(self.latent_mean_, dtype=torch.float32, device=device)
        constant = self._log_scale_jacobian - 0.5 * (
            self.n_components * np.log(2 * np.pi) + 2 * np.sum(np.log(np.diag(cholesky)))
        )
        if self.loss == "mse":
            dof = self._residual_dof
            constant -= 0.5 * dof * np.log(2 * np.pi * self.noise_variance_)
            residual_weight = 0.5 / self.noise_variance_
        else:  # the Bernoulli log-likelihood is minus the summed cross-entropy
            residual_weight = 1.0

        def score(x: torch.Tensor) -> torch.Tensor:
            code = self.network_.encode(x)
            residual = n_features * reconstruction_loss(self.network_.decode(code), x, self.loss)
            mahalanobis = ((code - mean) @ whitening).square().sum(dim=1)
            return constant - residual_weight * residual - 0.5 * mahalanobis

        return score

    def _summarize_training_codes(self, batches: Batches) -> None:
        network, n_features = self.network_, self.n_features_in_

        def code_and_residual(x: torch.Tensor) -> torch.Tensor:
            code = network.encode(x)
            residual = n_features * reconstruction_loss(network.decode(code), x, self.loss)
            return torch.cat([code, residual[:, None]], dim=1)

        network.eval()
        stats = map_batches(code_and_residual, batches, INFERENCE_BATCH_SIZE).double().numpy()
        codes, residuals = stats[:, :-1], stats[:, -1]
        self.latent_mean_ = codes.mean(axis=0)
        # Unbiased estimates (ddof=1), as PCA's explained_variance_ and noise_variance_.
        n_minus_one = max(len(codes) - 1, 1)
        centered = codes - self.latent_mean_
        self.latent_covariance_ = centered.T @ centered / n_minus_one
        self.noise_variance_ = None
        if self.loss == "mse":
            self.noise_variance_ = max(
                float(np.sum(residuals)) / (n_minus_one * self._residual_dof), MIN_NOISE_VARIANCE
            )

    @property
    def _residual_dof(self) -> int:
        # As for PCA's noise_variance_: the residual spans the other n_features - k directions.
        return max(self.n_features_in_ - self.n_components, 1)

    def _sample_codes(self, n_samples: int, rng: np.random.RandomState) -> np.ndarray:
        variances, axes = np.linalg.eigh(self.latent_covariance_)
        draws = rng.standard_normal((n_samples, self.n_components))
        return self.latent_mean_ + (draws * np.sqrt(variances.clip(0))) @ axes.T


def _regularized(covariance: np.ndarray) -> np.ndarray:
    """`covariance` plus a small ridge, so that collapsed codes still have a density."""
    ridge = RELATIVE_CODE_RIDGE * np.trace(covariance) / len(covariance) + MIN_NOISE_VARIANCE
    return covariance + ridge * np.eye(len(covariance))
