"""The training objective's terms: reconstruction losses, the t-SNE neighbour
term, the trimmed mean over a batch, the denoising corruption, and the
settings that weigh them (:class:`Objective`).

Torch only; the networks (:mod:`skae._networks`) compute their losses from
these terms, and the training engine (:mod:`skae._training`) passes them the
objective of each epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from torch.nn import functional as F

from skae._batches import PlacedScaling

# Bisection steps for the t-SNE bandwidths: the log-precision is searched in
# [-30, 30], so 30 halvings place it to within 1e-7.
AFFINITY_BISECTION_STEPS = 30


@dataclass(frozen=True)
class Objective:
    """The settings of a training objective that are not part of the network.

    The estimators make one from their parameters on every fit, so that
    ``set_params`` takes effect on warm starts; the training engine passes
    :meth:`at_epoch` to each training step and the objective itself to every
    evaluation, which measures the real objective.

    Attributes
    ----------
    neighbor_weight, perplexity : float
        Weight and perplexity of the t-SNE term (:func:`neighbor_loss`).
    beta : float
        Weight of a VAE's KL term (beta-VAE).
    kl_warmup : int
        Epochs over which the KL weight rises linearly to `beta`.
    free_bits : float
        The least KL, in nats, that each latent dimension is charged in
        training, on the batch's mean (:func:`free_bits_floor`); 0 for none.
    batch_mean : callable or None
        The mean over a step's rows on all ranks of a (rows, ...) tensor,
        without gradient (:meth:`skae._distributed.Ranks.mean_of_rows`);
        None for this process's batch alone.
    n_draws : int
        Posterior draws per sample of a VAE's training loss (IWAE for > 1).
    kl_weight : float or None
        The KL weight in use: `beta` when None.
    adversarial_weight : float
        An adversarial autoencoder's regularisation: the learning rate of
        its generator step relative to its reconstruction step's (Adam is
        blind to a loss's scale, so a weight on the loss would do nothing).
    complete : bool
        Whether every entry of the inputs and targets is observed (no NaN):
        the autoencoder's loss then skips its masks, which gives the same
        values with fewer operations (a fifth of a step of a small network).
    """

    neighbor_weight: float = 0.0
    perplexity: float = 10.0
    beta: float = 1.0
    kl_warmup: int = 0
    free_bits: float = 0.0
    batch_mean: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, compare=False)
    n_draws: int = 1
    kl_weight: float | None = None
    adversarial_weight: float = 1.0
    complete: bool = False

    @property
    def weight_of_kl(self) -> float:
        return self.beta if self.kl_weight is None else self.kl_weight

    def at_epoch(self, epoch: int) -> Objective:
        """The objective that epoch `epoch` (from 0) trains on: epoch i (from 1)
        weighs the KL term by ``beta * i / (kl_warmup + 1)``."""
        return replace(self, kl_weight=self.beta * min(1.0, (epoch + 1) / (self.kl_warmup + 1)))

    def changes_at(self, epoch: int) -> bool:
        """True if epoch `epoch`'s objective differs from the previous epoch's."""
        return 0 < self.kl_warmup and epoch <= self.kl_warmup


# What the training loss of each likelihood measures, and the space it is measured in.
LOSS_QUANTITIES = {
    "mse": "mean squared error per feature",
    "bce": "mean binary cross-entropy per feature",
    "gaussian": "negative ELBO per sample, in nats",
    "isotropic": "negative ELBO per sample, in nats",
    "bernoulli": "negative ELBO per sample, in nats",
}
SCALED_SPACES = {
    None: "X as given (scaling=None)",
    "standard": "X with each feature standardised (scaling_='standard')",
    "global": "X centred, divided by one common scale (scaling_='global')",
    "minmax": "X with each feature mapped to [0, 1] (scaling_='minmax')",
    "global_minmax": "X mapped to [0, 1] by one common range (scaling_='global_minmax')",
}


def describe_loss(likelihood: str, objective: Objective, scaling: str | None) -> str:
    """What the training loss is and in which units, for the training output."""
    quantity = LOSS_QUANTITIES[likelihood]
    if objective.free_bits and objective.n_draws == 1:  # only a VAE's objective has them
        quantity += f" (in training, each dimension's KL at least {objective.free_bits:g})"
    if objective.neighbor_weight:
        quantity += f" + {objective.neighbor_weight:g} x the t-SNE term"
    text = f"{quantity}, on {SCALED_SPACES[scaling]}"
    if likelihood == "mse" and scaling in ("global", None):
        text += (
            "; times input_scale_**2, in X's squared units" if scaling else "; in X's squared units"
        )
    return text


def fill_missing(x: torch.Tensor) -> torch.Tensor:
    """`x` with its missing entries (NaN) set to 0, the value the encoder sees
    for them: in the scaled space, the feature's training mean for the
    centring scalings ('standard', 'global'), its minimum for the min-max
    ones. One kernel, where ``where(isnan(x), 0, x)`` takes two and a mask
    and ten times as long."""
    return torch.nan_to_num(x, nan=0.0, posinf=math.inf, neginf=-math.inf)


def unobserved_sum(x: torch.Tensor, per_feature: torch.Tensor) -> torch.Tensor:
    """Per row of `x`, the sum of `per_feature` over its missing entries (NaN):
    what a row with missing values leaves out of a constant summed over all
    features (a log-density's normaliser, the scaling's Jacobian); 0 for a
    complete row."""
    return torch.isnan(x).to(per_feature.device, per_feature.dtype) @ per_feature


def reconstruction_loss(
    output: torch.Tensor, target: torch.Tensor, loss: str, complete: bool = False
) -> torch.Tensor:
    """Per-sample reconstruction loss, averaged over the observed features
    (missing entries, NaN in `target`, count for nothing; with `complete`,
    there are none, and the same values come without the masks).

    For ``loss="bce"`` the `output` holds logits, which is numerically safer
    than a sigmoid followed by a log.
    """
    if complete:
        return _per_element_loss(output, target, loss).sum(dim=1) / target.shape[1]
    missing = torch.isnan(target)
    # Filled first: a NaN target would give NaN gradients even where masked.
    target = torch.where(missing, 0.0, target)
    observed = target.shape[1] - missing.sum(dim=1)
    per_element = _per_element_loss(output, target, loss)
    return per_element.masked_fill(missing, 0.0).sum(dim=1) / observed


def _per_element_loss(output: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(output, target, reduction="none")
    return F.mse_loss(output, target, reduction="none")


def neighbor_loss(x: torch.Tensor, code: torch.Tensor, perplexity: float) -> torch.Tensor:
    """Per-sample share of the t-SNE divergence between `x` and its `code`
    within the batch: parametric t-SNE (van der Maaten, 2009).

    P holds the input-space affinities (Gaussian, each row's bandwidth set so
    that its perplexity is `perplexity`, symmetrised), Q the code-space ones
    (Student-t with one degree of freedom); sample i's value is ``n`` times
    row i of KL(P || Q), so that the batch mean is the divergence itself.
    Neighbours in X are pulled together in the code and the rest pushed
    apart, which separates clusters that a reconstruction loss alone leaves
    overlapping in a small code.
    """
    n = len(x)
    if n < 2:
        return code.new_zeros(n)
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=x.device)
    with torch.no_grad():
        p = input_affinities(x.detach().float(), min(perplexity, n - 1), off_diagonal)
    code = code.float()
    kernel = 1 / (1 + torch.cdist(code, code).square())
    log_q = torch.log(kernel) - torch.log((kernel * off_diagonal).sum())
    divergence = torch.where(off_diagonal, p * (torch.log(p.clamp_min(1e-12)) - log_q), 0)
    return n * divergence.sum(dim=1)


def input_affinities(
    x: torch.Tensor, perplexity: float, off_diagonal: torch.Tensor
) -> torch.Tensor:
    """t-SNE's joint probabilities P: a bisection per row on the log of the
    Gaussian precision until the row's entropy is log(perplexity)."""
    distances = torch.cdist(x, x).square()
    distances = distances / distances.mean().clamp_min(1e-12)  # the search range is scale-free
    distances = distances.masked_fill(~off_diagonal, math.inf)
    low = torch.full((len(x), 1), -30.0, device=x.device)
    high = torch.full((len(x), 1), 30.0, device=x.device)
    target = math.log(perplexity)
    for _ in range(AFFINITY_BISECTION_STEPS):
        middle = (low + high) / 2
        conditional = torch.softmax(-distances * middle.exp(), dim=1)
        entropy = -(conditional * torch.log(conditional.clamp_min(1e-12))).sum(1, keepdim=True)
        too_flat = entropy > target  # too many neighbours: raise the precision
        low = torch.where(too_flat, middle, low)
        high = torch.where(too_flat, high, middle)
    joint = conditional + conditional.T
    return joint / joint.sum()


def free_bits_floor(
    kl: torch.Tensor,
    free_bits: float,
    batch_mean: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Per-sample, per-dimension KL with each dimension whose mean over the
    batch is under `free_bits` charged `free_bits` instead, a constant
    without gradient ("free bits", Kingma et al., 2016): a dimension may
    carry that much information about the input at no cost, so the KL term
    does not switch dimensions off (posterior collapse). `batch_mean` takes
    the mean over the rows of all ranks, so that the floor is the same as in
    one process."""
    mean = kl.detach().mean(0) if batch_mean is None else batch_mean(kl.detach())
    return torch.where(mean < free_bits, torch.full_like(kl, free_bits), kl)


def trimmed_mean(losses: torch.Tensor, fraction: float) -> torch.Tensor:
    """Mean of all but the `fraction` largest per-sample losses.

    The worst-fitted samples of a batch, the likely outliers, then do not pull
    the model towards them (least trimmed squares, Rousseeuw, 1984), so they
    stay badly reconstructed and easy to flag.
    """
    if fraction == 0:
        return losses.mean()
    keep = max(1, math.ceil((1 - fraction) * len(losses)))
    return losses.topk(keep, largest=False, sorted=False).values.mean()


def corrupt(
    x: torch.Tensor,
    noise: str | None,
    level: float,
    generator: torch.Generator,
    scaling: PlacedScaling | None = None,
) -> torch.Tensor:
    """Denoising corruption of a batch scaled by `scaling`, measured in the
    units of X: Gaussian noise of standard deviation `level`, or a random
    fraction `level` of the entries set to 0 (masking noise, Vincent et al.,
    2010), e.g. pixels switched off, or made missing (NaN)."""
    if noise is None:
        return x
    draws = torch.empty_like(x)
    if noise == "gaussian":
        std = level if scaling is None else scaling.in_scaled_units(level)
        return x + std * draws.normal_(generator=generator)
    if noise == "missing":  # hidden as a missing entry is: the encoder fills it
        return torch.where(draws.uniform_(generator=generator) >= level, x, torch.nan)
    zero = torch.zeros((), device=x.device) if scaling is None else scaling.scaled_zero()
    return torch.where(draws.uniform_(generator=generator) >= level, x, zero)
