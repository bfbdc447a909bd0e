"""AdversarialAutoencoderTransformer: an autoencoder whose codes fill a known prior."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from skae._adversarial_training import adversarial_step
from skae._autoencoder import AutoencoderTransformer
from skae._losses import Objective
from skae._parameters import fill_doc
from skae._persistence import register
from skae._validation import MatrixLike


@register
class AdversarialAutoencoderTransformer(AutoencoderTransformer):
    """Adversarial autoencoder: codes that fill a known prior, with PCA's API.

    An adversarial autoencoder (Makhzani et al., 2016) is an autoencoder
    whose codes are also trained to look like draws of the standard Gaussian
    prior N(0, I): a discriminator network learns to tell
    the codes from prior draws, and the encoder learns to fool it. Like a
    VAE's, the code space is then known, so :meth:`sample` decodes prior
    draws and :meth:`interpolate` stays where the data are; unlike a VAE's,
    the codes are deterministic, with no posterior noise to blur the
    reconstructions.

    Each batch takes three steps, each with its own Adam state: the
    reconstruction step (encoder and decoder), the discriminator step, and the
    generator step (the encoder). Early stopping monitors the validation
    reconstruction loss.

    Parameters
    ----------
    %(network_parameters)s
    %(loss_parameter)s
    adversarial_weight : float, default=0.3
        Strength of the pull of the codes towards the prior: the generator
        step's learning rate as a multiple of the reconstruction step's (with
        Adam, a weight on the loss would change nothing). 0 trains a plain
        autoencoder beside an idle discriminator.
    discriminator_layer_sizes : int or tuple of int, default=(128, 128)
        Widths of the discriminator's hidden layers, with `activation` between
        them; it reads a code and gives the logit of its being a prior draw.
    %(training_parameters)s

    Attributes
    ----------
    %(fitted_attributes)s
    latent_mean_, latent_covariance_ : ndarray
        Mean and covariance of the training codes: how close they came to
        the prior's 0 and identity. :meth:`sample` and :meth:`score_samples`
        use the prior itself.
    loss_ : {'mse', 'bce'}
        The loss trained on: `loss`, with 'auto' resolved.
    noise_variance_ : ndarray of shape (n_features_in_,) or None
        For ``loss_='mse'``, the variance of each feature's reconstruction
        residual in X's units, as for :class:`AutoencoderTransformer`.
    %(feature_attributes)s

    See Also
    --------
    AutoencoderTransformer : The plain autoencoder, with codes of any distribution.
    VAETransformer : A variational autoencoder: its KL term shapes the codes.

    Notes
    -----
    ``score_samples`` is the autoencoder's score with the prior in place of
    the Gaussian fitted to the training codes: log p(x | z) + log N(z; 0, I)
    with z = encode(x), in nats and in X's units. With ``init='pca'`` the
    encoder starts at the whitened PCA scores, already near the prior.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import AdversarialAutoencoderTransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> aae = AdversarialAutoencoderTransformer(n_components=8, max_iter=5, random_state=0)
    >>> aae.fit_transform(X).shape
    (1797, 8)
    >>> aae.sample(3, random_state=0).shape
    (3, 64)
    """

    __doc__ = fill_doc(__doc__)

    _parameter_constraints: dict = {
        **AutoencoderTransformer._parameter_constraints,
        "adversarial_weight": [Interval(Real, 0, None, closed="left")],
        "discriminator_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    }
    _network_kind = "adversarial"
    _training_step = staticmethod(adversarial_step)

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
        adversarial_weight: float = 0.3,
        discriminator_layer_sizes=(128, 128),
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
        self.adversarial_weight = adversarial_weight
        self.discriminator_layer_sizes = discriminator_layer_sizes

    def score_samples(self, X: MatrixLike) -> np.ndarray:
        """Log-density of each sample and its code under the prior: higher is more normal.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Data to score (a Dask array gives a Dask array, computed lazily
            block by block of rows).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            log p(x | z) + log N(z; 0, I) with z = encode(x), in nats, in the
            units of X; -inf, the lowest score, for rows outside [0, 1] with
            ``loss='bce'`` and for rows so far from the training data that
            the float32 network overflows on them.
        """
        return super().score_samples(X)

    def _linear_start(self, mean, components, variances):
        # Whitened PCA scores, so that the codes start near the N(0, I) prior.
        std = np.sqrt(variances)
        return components / std[:, None], -(components @ mean) / std, components.T * std

    def _objective(self, neighbor_weight: float) -> Objective:
        return Objective(
            neighbor_weight=neighbor_weight,
            perplexity=self.perplexity,
            adversarial_weight=self.adversarial_weight,
        )

    def _code_distribution(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(self.n_components_), np.eye(self.n_components_)

    def _sample_codes(self, n_samples: int, rng: np.random.RandomState) -> np.ndarray:
        return rng.standard_normal((n_samples, self.n_components_))
