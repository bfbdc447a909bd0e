"""VAETransformer: a variational autoencoder with a smooth, probabilistic latent space."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real

import numpy as np
import torch
from sklearn import get_config
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

from skae._base import BaseAutoencoder
from skae._batches import INFERENCE_BATCH_SIZE, Batches, map_batches, score_rows
from skae._code_inference import CodeModel
from skae._code_size import ReconstructionErrors
from skae._losses import Objective, unobserved_sum
from skae._parameters import fill_doc
from skae._persistence import register
from skae._statistics import RowMoments
from skae._validation import MatrixLike

# Activity threshold of a latent dimension: the variance over the data of its
# posterior mean (Burda et al., 2016, Sec. 5.2).
ACTIVITY_THRESHOLD = 0.01


def pca_score_encoder(mean, components, variances) -> tuple[np.ndarray, np.ndarray]:
    """The weight and bias of an encoder output (posterior means, then
    log-variances) whose means are PCA's whitened scores and whose
    log-variances are 0: the N(0, I) prior's scale."""
    std = np.sqrt(variances)[:, None]
    weight = np.vstack([components / std, np.zeros_like(components)])
    bias = np.concatenate([-(components @ mean) / std[:, 0], np.zeros(len(std))])
    return weight, bias


@register
class VAETransformer(BaseAutoencoder):
    """Variational autoencoder, with the API of :class:`~sklearn.decomposition.PCA`.

    The encoder maps each sample to a Gaussian posterior q(z | x) over codes of
    `n_components` values; the decoder maps a code to a distribution p(x | z).
    Both are trained on the evidence lower bound (ELBO): the reconstruction
    log-likelihood of a code drawn by the reparameterisation trick, minus the
    KL divergence from q(z | x) to the prior N(0, I), each latent dimension's
    KL floored in training by `free_bits`. The KL term makes the
    latent space smooth, so that decoding draws from the prior generates new
    data (:meth:`sample`) and decoding a straight path between two codes
    morphs one input into another (:meth:`interpolate`).

    ``transform`` returns the posterior means (deterministic),
    ``inverse_transform`` the decoder's mean, and ``score_samples`` an
    importance-weighted estimate of log p(x) in nats, in the units of X.

    Parameters
    ----------
    %(network_parameters)s
    likelihood : {'gaussian', 'isotropic', 'bernoulli'}, default='gaussian'
        The decoder's distribution: a Gaussian with a learned standard deviation
        per feature (a real density for continuous data, factor analysis's
        noise model); a Gaussian with one learned standard deviation for all
        features ('isotropic', probabilistic PCA's), whose codes make better
        features and reconstructions where some features are nearly constant
        (see the user guide); or a Bernoulli for data in [0, 1] such as
        (binarised) pixels.
    beta : float, default=1.0
        Weight of the KL term (beta-VAE, Higgins et al., 2017); 1 is the ELBO.
    kl_warmup : int, default=0
        Number of epochs over which the KL weight rises linearly to `beta`,
        against posterior collapse (Bowman et al., 2016): epoch i (from 1)
        weighs the KL term by ``beta * i / (kl_warmup + 1)``, and every epoch
        from ``kl_warmup + 1`` on by `beta`. Convergence is checked only after
        the warm-up.
    free_bits : float, default=0.5
        The least KL, in nats, that each latent dimension is charged in
        training ("free bits", Kingma et al., 2016): a dimension whose KL,
        averaged over the batch (over all ranks' rows of a step under
        ``torch.distributed``), is below it costs `free_bits` and no
        gradient, so it can carry that much information at no cost instead
        of collapsing onto the prior. Only the training loss: the validation
        loss, ``score_samples`` and ``score`` are the ELBO and its bounds.
        0 trains on the plain ELBO (the default before 0.5 nats was measured
        better: held-out likelihood, codes as features and anomaly scores;
        BENCHMARKS.md, "Defaults"). Applies to ``n_training_draws=1``; the
        importance-weighted bound of more draws has no per-dimension KL.
    n_importance_samples : int, default=100
        Number of posterior draws per sample in ``score_samples``; more gives a
        tighter bound on log p(x), 1 gives the ELBO.
    n_training_draws : int, default=1
        Number of posterior draws per sample in each training step. 1 trains on
        the ELBO (a VAE); K > 1 on the importance-weighted bound with K draws
        (an IWAE, Burda et al., 2016), which is tighter and usually gives a
        better held-out likelihood, at about K times the decoder's cost.
    %(training_parameters)s

    Attributes
    ----------
    %(fitted_attributes)s
    kl_per_component_ : ndarray of shape (n_components,)
        Mean KL divergence (nats) of each latent dimension on the training data:
        how much information it carries. The VAE's answer to PCA's
        ``explained_variance_``.
    active_components_ : ndarray of bool, shape (n_components,)
        Dimensions whose posterior mean varies over the training data (variance
        above 0.01); the others have collapsed to the prior.
    %(feature_attributes)s

    See Also
    --------
    AutoencoderTransformer : A deterministic autoencoder.
    sklearn.decomposition.PCA : The linear counterpart; ``PCA.score`` is comparable
        with ``VAETransformer.score``.

    Notes
    -----
    ``score_samples`` is the IWAE bound of Burda et al. (2016), computed with a
    generator seeded at fit time, so repeated calls give the same values. It
    includes the log-Jacobian of the internal scaling, so it is a log-density
    of X itself, like ``PCA.score_samples`` and ``FactorAnalysis.score_samples``.

    References
    ----------
    D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    Y. Burda, R. Grosse and R. Salakhutdinov, "Importance Weighted
    Autoencoders", ICLR 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import VAETransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VAETransformer(n_components=4, max_iter=5, random_state=0)
    >>> vae.fit_transform(X).shape
    (1797, 4)
    >>> vae.sample(3, random_state=0).shape
    (3, 64)
    """

    __doc__ = fill_doc(__doc__)

    _likelihood_parameter, _unit_interval_likelihood = "likelihood", "bernoulli"
    _network_kind = "vae"
    _fitted_state = (
        *BaseAutoencoder._fitted_state,
        "kl_per_component_",
        "active_components_",
        "_score_seed",
    )
    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        "likelihood": [StrOptions({"isotropic", "gaussian", "bernoulli"})],
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup": [Interval(Integral, 0, None, closed="left")],
        "free_bits": [Interval(Real, 0, None, closed="left")],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "n_training_draws": [Interval(Integral, 1, None, closed="left")],
    }

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
        likelihood: str = "gaussian",
        beta: float = 1.0,
        kl_warmup: int = 0,
        free_bits: float = 0.5,
        n_importance_samples: int = 100,
        n_training_draws: int = 1,
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
        self.likelihood = likelihood
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.free_bits = free_bits
        self.n_importance_samples = n_importance_samples
        self.n_training_draws = n_training_draws

    def score_samples(self, X: MatrixLike) -> np.ndarray:
        """Importance-weighted estimate of log p(x) for each sample, in nats.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Data to score (a Dask array gives a Dask array, computed lazily
            block by block of rows).

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            The IWAE lower bound with `n_importance_samples` draws, as a log-density
            of X in its own units (the internal scaling's Jacobian included);
            -inf, the lowest score, for rows outside [0, 1] with
            ``likelihood='bernoulli'`` and for rows so far from the training
            data that the float32 network overflows on them.
        """
        if not get_config()["skip_parameter_validation"]:  # it may be set after fit
            validate_parameter_constraints(
                {"n_importance_samples": self._parameter_constraints["n_importance_samples"]},
                {"n_importance_samples": self.n_importance_samples},
                caller_name=type(self).__name__,
            )
        return super().score_samples(X)

    def _linear_start(self, mean, components, variances):
        # Whitened PCA scores, the N(0, I) prior's scale. Where the decoder
        # starts from PCA, the encoder starts at zero, every posterior at the
        # prior: posterior means started at PCA's scores stay near them and
        # classify no better (BENCHMARKS.md, "Defaults"). A Bernoulli decoder
        # starts from the mean alone, and the encoder from PCA's scores, so
        # that gradients reach the code.
        weight, bias = pca_score_encoder(mean, components, variances)
        if self._unit_interval_loss is None:
            weight, bias = np.zeros_like(weight), np.zeros_like(bias)
        return weight, bias, components.T * np.sqrt(variances)

    def _objective(self, neighbor_weight: float) -> Objective:
        return Objective(
            neighbor_weight=neighbor_weight,
            perplexity=self.perplexity,
            beta=self.beta,
            kl_warmup=self.kl_warmup,
            free_bits=self.free_bits,
            n_draws=self.n_training_draws,
        )

    @property
    def _score_batch_size(self) -> int:
        # Each sample is decoded n_importance_samples times.
        return score_rows(
            self.device_, self._widest_activation, self.n_features_in_, self._n_importance_draws
        )

    @property
    def _n_importance_draws(self) -> int:
        return int(self.n_importance_samples)  # a NumPy integer would overflow in torch's sizes

    def _batch_scorer(self) -> Callable[[torch.Tensor], torch.Tensor]:
        noise, log_jacobian = self._score_noise(), self._scaling.log_jacobian
        # A missing entry is marginalised out, its part of the Jacobian too.
        per_feature = torch.as_tensor(
            self._scaling.log_jacobian_per_feature, dtype=torch.float32, device=self.device_
        )

        def score(x: torch.Tensor) -> torch.Tensor:
            log_likelihood = self.network_.importance_weighted_log_likelihood(x, noise)
            return log_likelihood + log_jacobian - unobserved_sum(x, per_feature)

        return score

    def _feature_scorer(self) -> Callable[[torch.Tensor], torch.Tensor]:
        noise = self._score_noise()

        def terms(x: torch.Tensor) -> torch.Tensor:
            return self.network_.expected_log_likelihood_terms(x, noise).double()

        return terms

    def _code_model(self) -> CodeModel:
        network, k = self.network_, self.n_components_

        def negative_log_likelihood(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return -network.log_likelihood(network.decoder(z).float(), x)

        prior = torch.zeros(k, device=self.device_), torch.eye(k, device=self.device_)
        return CodeModel(*prior, negative_log_likelihood)

    def _summarize_fit(
        self, batches: Batches, validation: Batches | None, errors: ReconstructionErrors
    ) -> None:
        network = self.network_

        def posterior(x: torch.Tensor) -> torch.Tensor:
            mean, logvar = network.encode(x)
            return torch.cat([mean, network.kl_per_component(mean, logvar)], dim=1)

        network.eval()
        stats = map_batches(posterior, batches, INFERENCE_BATCH_SIZE).double().numpy()
        means, kl = np.split(stats, 2, axis=1)
        ranks = batches.ranks
        self.kl_per_component_ = self._summarize("kl", RowMoments.of(kl).over_ranks(ranks)).mean
        codes = RowMoments.of(means, covariance=True).over_ranks(ranks)
        spread = np.diag(self._summarize("codes", codes).covariance)
        self.active_components_ = spread > ACTIVITY_THRESHOLD
        self._score_seed = self._draw_seed()

    def _score_noise(self) -> torch.Tensor:
        """The draws of every score: the same for every call and every sample,
        so that scores are deterministic."""
        generator = torch.Generator().manual_seed(self._score_seed)
        noise = torch.randn((self._n_importance_draws, self.n_components_), generator=generator)
        return noise.to(self.device_)

    def _sample_codes(self, n_samples: int, rng: np.random.RandomState) -> np.ndarray:
        return rng.standard_normal((n_samples, self.n_components_))
