"""Torch networks: encoders, decoders and the two autoencoders.

This module knows nothing of scikit-learn or NumPy. Each autoencoder exposes
``code`` (the point code of ``transform``), ``decode``, ``set_linear_shortcuts``
(a PCA start) and ``loss(x, target, generator, objective)``, the per-sample
training loss under an :class:`~skae._losses.Objective`, so that one training
loop (:mod:`skae._training`) trains them all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

# The layers are imported here too, where pickles made before they moved
# to skae._layers look them up (skae._networks.Linear, ...).
from skae._layers import (  # noqa: F401
    ACTIVATIONS,
    ConvDecoder,
    ConvEncoder,
    Linear,
    LinearShortcut,
    make_encoder_decoder,
    mlp,
    widest_activation,
)
from skae._losses import (
    Objective,
    fill_missing,
    free_bits_floor,
    neighbor_loss,
    reconstruction_loss,
)

# exp(-12) ~ 6e-6 and exp(8) ~ 3e3 bound the posterior variance, so that the
# KL term and the reparameterised sample can never overflow.
LOGVAR_MIN, LOGVAR_MAX = -12.0, 8.0
LOG_2PI = math.log(2 * math.pi)
# The objective of a loss called without one: no t-SNE term, the ELBO.
FULL_OBJECTIVE = Objective()


def evaluation_mode(network: nn.Module) -> None:
    """``network.eval()``, skipped where the network is in evaluation mode
    already (training ends in it; ``network.train()`` leaves it): eval sets
    the flag of every module, which cost a sixth of a single-row transform."""
    if network.training:
        network.eval()


class _Autoencoding(nn.Module):
    """What both autoencoders share: an encoder, a decoder, a point code."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic code of `x` (a VAE's posterior mean)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.code(x))

    def set_linear_shortcuts(
        self,
        encoder_weight: torch.Tensor,
        encoder_bias: torch.Tensor,
        decoder_weight: torch.Tensor,
        decoder_bias: torch.Tensor,
    ) -> None:
        """Set the linear maps of the encoder's and the decoder's
        :class:`LinearShortcut` (built with ``linear_shortcut=True``)."""
        with torch.no_grad():
            for layer, weight, bias in (
                (self.encoder.linear, encoder_weight, encoder_bias),
                (self.decoder.linear, decoder_weight, decoder_bias),
            ):
                layer.weight.copy_(weight)
                layer.bias.copy_(bias)


class Autoencoder(_Autoencoding):
    """A deterministic autoencoder: ``decode(encode(x))`` reconstructs ``x``."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, loss: str = "mse") -> None:
        super().__init__(encoder, decoder)
        self.loss_name = loss

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(fill_missing(x))

    code = encode

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        output = self.decoder(z)
        return torch.sigmoid(output) if self.loss_name == "bce" else output

    def loss(
        self,
        x: torch.Tensor,
        target: torch.Tensor,
        generator: torch.Generator | None = None,
        objective: Objective = FULL_OBJECTIVE,
    ) -> torch.Tensor:
        """Per-sample reconstruction loss of `target` from input `x`, plus
        ``objective.neighbor_weight`` times the t-SNE term when it is positive."""
        code = self.encoder(x) if objective.complete else self.encode(x)
        losses = reconstruction_loss(self.decoder(code), target, self.loss_name, objective.complete)
        if objective.neighbor_weight:
            term = neighbor_loss(fill_missing(target), code, objective.perplexity)
            losses = losses + objective.neighbor_weight * term
        return losses


class AdversarialAutoencoder(Autoencoder):
    """An adversarial autoencoder (Makhzani et al., 2016): an
    :class:`Autoencoder` whose codes a `discriminator` tells from draws of
    the N(0, I) prior, so that training the encoder to fool it makes the
    codes fill the prior.

    ``loss`` is the reconstruction loss, which early stopping monitors; the
    adversarial training step (:mod:`skae._adversarial_training`) adds the
    two players' losses, each with its own optimiser over
    :meth:`optimized_parts`.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        loss: str,
        n_components: int,
        discriminator_layer_sizes: Sequence[int],
        activation: str,
    ) -> None:
        super().__init__(encoder, decoder, loss)
        self.discriminator = mlp([n_components, *discriminator_layer_sizes, 1], activation)

    def optimized_parts(self) -> dict[str, list[nn.Parameter]]:
        """The parameters of each player's step, each given its own optimiser."""
        encoder = list(self.encoder.parameters())
        return {
            "reconstruction": encoder + list(self.decoder.parameters()),
            "discriminator": list(self.discriminator.parameters()),
            "generator": encoder,
        }

    def discriminator_loss(self, codes: torch.Tensor, prior_draws: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of telling prior draws (1) from codes (0)."""
        logits = self.discriminator(torch.cat([prior_draws, codes]).float())
        labels = torch.cat([torch.ones(len(prior_draws)), torch.zeros(len(codes))])
        return F.binary_cross_entropy_with_logits(logits[:, 0], labels.to(logits.device))

    def generator_loss(self, codes: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the codes taken for prior draws: low when
        the discriminator is fooled (the non-saturating GAN loss)."""
        logits = self.discriminator(codes.float())[:, 0]
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


class VariationalAutoencoder(_Autoencoding):
    """A VAE (Kingma & Welling, 2014) with a Gaussian posterior and an N(0, I) prior.

    The encoder outputs the posterior mean and log-variance; the decoder gives
    the parameters of p(x | z): Bernoulli logits, or a Gaussian mean with a
    learned standard deviation, one for all features ('isotropic') or one per
    feature ('gaussian'), so that the model is a density.

    The loss weighs the KL term by the objective's KL weight (a KL warm-up
    changes it per epoch). With ``objective.n_draws > 1`` it is the
    importance-weighted bound of an IWAE (Burda et al., 2016) instead of the
    ELBO, the weight applied to log p(z) - log q(z | x) in each importance
    weight.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        n_features: int,
        likelihood: str = "gaussian",
    ) -> None:
        super().__init__(encoder, decoder)
        self.likelihood = likelihood
        # One standard deviation shared by the features ('isotropic', as
        # probabilistic PCA's noise) or one per feature ('gaussian').
        n_scales = {"gaussian": n_features, "isotropic": 1}.get(likelihood, 0)
        self.log_scale = nn.Parameter(torch.zeros(n_scales)) if n_scales else None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, in float32 even under bf16 autocast:
        on the CPU autocast would leave the KL, the draws and the prior and
        posterior densities in bf16 (a KL of 0.005 came out as -0.07)."""
        mean, logvar = self.encoder(fill_missing(x)).float().chunk(2, dim=1)
        return mean, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of p(x | z)."""
        output = self.decoder(z)
        return torch.sigmoid(output) if self.likelihood == "bernoulli" else output

    def code(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)[0]

    def log_likelihood(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """log p(target | z), summed over the observed features (a missing
        entry, NaN, is marginalised out: the likelihood factorises over
        features); `output` is the decoder's raw output."""
        missing = torch.isnan(target)
        target = torch.where(missing, 0.0, target)  # no NaN gradients through the mask
        if self.likelihood == "bernoulli":
            target = target.expand_as(output)
            terms = -F.binary_cross_entropy_with_logits(output, target, reduction="none")
            return terms.masked_fill(missing, 0.0).sum(-1)
        log_scale = self.log_scale.clamp(min=LOGVAR_MIN / 2)
        z_score = (target - output) * torch.exp(-log_scale)
        return -(0.5 * z_score**2 + log_scale + 0.5 * LOG_2PI).masked_fill(missing, 0.0).sum(-1)

    def log_likelihood_terms(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """log p(target_j | z) of each feature j, whose sum is :meth:`log_likelihood`.

        Not its building block: negating before the sum rounds the training
        gradients differently, by an ulp, and would change every fitted VAE."""
        missing = torch.isnan(target)
        target = torch.where(missing, 0.0, target)
        if self.likelihood == "bernoulli":
            target = target.expand_as(output)
            terms = -F.binary_cross_entropy_with_logits(output, target, reduction="none")
            return terms.masked_fill(missing, 0.0)
        log_scale = self.log_scale.clamp(min=LOGVAR_MIN / 2)
        z_score = (target - output) * torch.exp(-log_scale)
        return -(0.5 * z_score**2 + log_scale + 0.5 * LOG_2PI).masked_fill(missing, 0.0)

    def expected_log_likelihood_terms(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """E_q[log p(x_j | z)] of each feature j, averaged over the K draws
        z_k = mean + noise_k * std (`noise` of shape (K, n_components))."""
        mean, logvar = self.encode(x)
        z = mean + noise[:, None, :] * torch.exp(0.5 * logvar)
        output = self.decoder(z.flatten(0, 1)).view(len(noise), *x.shape)
        return self.log_likelihood_terms(output, x).mean(0)

    @staticmethod
    def kl_per_component(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q(z | x) || N(0, I)) for each latent dimension (Kingma & Welling, App. B)."""
        return 0.5 * (mean**2 + logvar.exp() - 1 - logvar)

    def loss(
        self,
        x: torch.Tensor,
        target: torch.Tensor,
        generator: torch.Generator | None = None,
        objective: Objective = FULL_OBJECTIVE,
    ) -> torch.Tensor:
        """Per-sample negative ELBO (reconstruction + weight * KL), or negative
        importance-weighted bound with ``objective.n_draws > 1``, in nats;
        plus ``objective.neighbor_weight`` times the t-SNE term on the
        posterior means, per feature as the bound is a sum over features, so
        that a weight means the same as for :class:`Autoencoder`, whose loss
        is a mean."""
        mean, logvar = self.encode(x)
        losses = self._negative_bound(target, mean, logvar, generator, objective)
        if objective.neighbor_weight:
            weight = objective.neighbor_weight * target.shape[1]
            term = neighbor_loss(fill_missing(target), mean, objective.perplexity)
            losses = losses + weight * term
        return losses

    def _negative_bound(
        self,
        target: torch.Tensor,
        mean: torch.Tensor,
        logvar: torch.Tensor,
        generator: torch.Generator | None,
        objective: Objective,
    ) -> torch.Tensor:
        weight, n_draws = objective.weight_of_kl, objective.n_draws
        shape = (n_draws, *mean.shape) if n_draws > 1 else mean.shape
        noise = torch.randn(shape, generator=generator, device=mean.device, dtype=mean.dtype)
        if n_draws > 1:
            return -self._importance_weighted_bound(target, mean, logvar, noise, weight)
        z = mean + noise * torch.exp(0.5 * logvar)  # the reparameterisation trick
        kl = self.kl_per_component(mean, logvar)
        if objective.free_bits and self.training:  # evaluations measure the ELBO
            kl = free_bits_floor(kl, objective.free_bits, objective.batch_mean)
        return -self.log_likelihood(self.decoder(z), target) + weight * kl.sum(1)

    def importance_weighted_log_likelihood(
        self, x: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """Per-sample IWAE bound on log p(x) (Burda et al., 2016, Eq. 8).

        log p(x) >= E[log (1/K) sum_k p(x, z_k) / q(z_k | x)], z_k ~ q(z | x),
        with z_k = mean + noise_k * std. The K standard-normal draws in `noise`
        (shape (K, n_components)) are shared by all samples ("common random
        numbers"), so each sample's estimate does not depend on the other samples.
        """
        mean, logvar = self.encode(x)
        return self._importance_weighted_bound(x, mean, logvar, noise[:, None, :], 1.0)

    def _importance_weighted_bound(
        self,
        x: torch.Tensor,
        mean: torch.Tensor,
        logvar: torch.Tensor,
        noise: torch.Tensor,
        weight: float,
    ) -> torch.Tensor:
        """log (1/K) sum_k exp(log p(x | z_k) + weight * log(p(z_k) / q(z_k | x))),
        for K draws z_k = mean + noise_k * std; `noise` is (K, n or 1, n_components)."""
        z = mean + noise * torch.exp(0.5 * logvar)
        log_prior = -0.5 * (z**2 + LOG_2PI).sum(-1)
        log_posterior = -0.5 * (noise**2 + LOG_2PI + logvar).sum(-1)
        output = self.decoder(z.flatten(0, 1)).view(len(noise), *x.shape)
        log_weights = self.log_likelihood(output, x) + weight * (log_prior - log_posterior)
        # Each sample's draws in a contiguous row: reduced across rows, exp is
        # vectorised for some samples and not others, rounding them apart.
        draws_by_sample = log_weights.t().contiguous()
        return torch.logsumexp(draws_by_sample, dim=1) - math.log(len(noise))
