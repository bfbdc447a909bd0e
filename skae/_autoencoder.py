"""AutoencoderTransformer: a non-linear, GPU-capable counterpart of PCA."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions
from torch import nn

from skae._base import INFERENCE_BATCH_SIZE, BaseAutoencoder, fill_doc, logit, set_linear
from skae._networks import Autoencoder
from skae._training import Batches, map_batches


class AutoencoderTransformer(BaseAutoencoder):
    """Autoencoder dimensionality reduction, with the API of :class:`~sklearn.decomposition.PCA`.

    An encoder network maps each sample to a code of `n_components` values,
    and a decoder maps the code back; both are trained together to minimise
    the reconstruction error. ``transform`` returns the codes,
    ``inverse_transform`` decodes them, and ``score_samples`` is the negative
    reconstruction error, an anomaly score (higher is more normal).

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
        Gaussian.
    %(feature_attributes)s

    See Also
    --------
    VAETransformer : A variational autoencoder: a smooth latent space, sampling and likelihoods.
    sklearn.decomposition.PCA : The linear counterpart.

    Notes
    -----
    ``score_samples`` is the negative per-sample reconstruction loss, averaged
    over features and measured after the internal scaling: with the default
    ``scaling='global'`` a squared error in X's units (up to one common
    factor), with ``scaling='standard'`` one in which every feature counts
    alike whatever its units.

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
        """Negative reconstruction error of each sample (higher is more normal).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the per-sample loss (`loss`, averaged over features, after the
            internal scaling).
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
        return lambda x: -self.network_.loss(x, x)

    def _summarize_training_codes(self, batches: Batches) -> None:
        codes = map_batches(self._encode_batch, batches, INFERENCE_BATCH_SIZE).double().numpy()
        self.latent_mean_ = codes.mean(axis=0)
        self.latent_covariance_ = np.atleast_2d(np.cov(codes, rowvar=False, bias=True))

    def _sample_codes(self, n_samples: int, rng: np.random.RandomState) -> np.ndarray:
        variances, axes = np.linalg.eigh(self.latent_covariance_)
        draws = rng.standard_normal((n_samples, self.n_components))
        return self.latent_mean_ + (draws * np.sqrt(variances.clip(0))) @ axes.T
