"""The parametric t-SNE term (`neighbor_weight`, `perplexity`), for both estimators."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from scipy.spatial.distance import pdist, squareform
from sklearn.linear_model import LogisticRegression
from sklearn.manifold._t_sne import _joint_probabilities
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer, VAETransformer
from skae._networks import _input_affinities, neighbor_loss
from skae._training import TrainingOptions, evaluate_loss

ESTIMATORS = [AutoencoderTransformer, VAETransformer]


def _off_diagonal(n):
    return ~torch.eye(n, dtype=torch.bool)


# The input affinities are t-SNE's: scikit-learn's own binary search gives the same P.
@pytest.mark.parametrize("perplexity", [2.0, 10.0])
def test_input_affinities_match_scikit_learn(perplexity):
    x = np.random.RandomState(0).normal(size=(60, 5)).astype(np.float32)
    ours = _input_affinities(torch.from_numpy(x), perplexity, _off_diagonal(60)).numpy()
    distances = squareform(pdist(x, "sqeuclidean")).astype(np.float32)
    reference = squareform(_joint_probabilities(distances, perplexity, verbose=0))
    assert_allclose(ours, reference, atol=1e-6)


# The batch mean of the per-sample values is KL(P || Q), computed here directly.
def test_neighbor_loss_mean_is_the_divergence():
    rng = np.random.RandomState(0)
    x, code = rng.normal(size=(40, 6)), rng.normal(size=(40, 2))
    losses = neighbor_loss(torch.tensor(x), torch.tensor(code), perplexity=5.0)
    p = _input_affinities(torch.tensor(x).float(), 5.0, _off_diagonal(40)).double().numpy()
    kernel = 1 / (1 + squareform(pdist(code, "sqeuclidean")))
    np.fill_diagonal(kernel, 0)
    q = kernel / kernel.sum()
    mask = ~np.eye(40, dtype=bool)
    divergence = np.sum(p[mask] * np.log(p[mask] / q[mask]))
    assert losses.shape == (40,)
    assert losses.mean().item() == pytest.approx(divergence, rel=1e-4)


# A code that keeps the clusters of X scores better than one that scrambles them,
# and the gradient is finite; a batch of one sample has no neighbours (zero loss).
def test_neighbor_loss_prefers_faithful_codes():
    rng = np.random.RandomState(0)
    centers = 10 * rng.normal(size=(4, 8))
    labels = np.repeat(np.arange(4), 25)
    x = torch.tensor(centers[labels] + rng.normal(size=(100, 8)), dtype=torch.float32)
    corners = np.array([[0, 0], [0, 3], [3, 0], [3, 3]])
    faithful = corners[labels] + 0.1 * rng.normal(size=(100, 2))
    faithful = torch.tensor(faithful, dtype=torch.float32, requires_grad=True)
    scrambled = faithful.detach()[rng.permutation(100)]
    assert neighbor_loss(x, faithful, 10.0).mean() < neighbor_loss(x, scrambled, 10.0).mean()
    neighbor_loss(x, faithful, 10.0).mean().backward()
    assert torch.isfinite(faithful.grad).all()
    assert neighbor_loss(x[:1], faithful[:1], 10.0).tolist() == [0.0]
    assert torch.isfinite(neighbor_loss(x[:2], faithful[:2], 30.0)).all()


# On the digits, the term makes the 2-D codes separate the classes much better
# for a linear classifier than reconstruction alone, at the same seed; one
# weight serves both estimators (the VAE's term is scaled per feature).
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_neighbor_weight_separates_classes(Estimator, digits):
    X, y = digits
    params = dict(n_components=2, init="random", max_iter=30, early_stopping=False, random_state=0)

    def accuracy(**extra):
        codes = Estimator(**params, **extra).fit_transform(X)
        classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        return cross_val_score(classifier, codes, y, cv=3).mean()

    plain, neighbors = accuracy(), accuracy(neighbor_weight=1.0)
    assert neighbors > plain + 0.1


# set_params takes effect on a warm start, like every other training parameter.
def test_neighbor_weight_follows_set_params(digits):
    X = digits[0][:200]
    est = AutoencoderTransformer(max_iter=1, warm_start=True, random_state=0).fit(X)
    assert est.network_.neighbor_weight == 0.0
    est.set_params(neighbor_weight=2.0, perplexity=5.0).fit(X)
    assert (est.network_.neighbor_weight, est.network_.perplexity) == (2.0, 5.0)
    assert np.isfinite(est.loss_curve_).all()


# With the term on, the validation loss is measured on batches of the training
# size, so that it is on the training loss's scale (the divergence grows with the
# batch): training and validation losses agree when both use the same data.
def test_validation_batches_match_training_batches(digits):
    X = digits[0][:512]
    params = dict(batch_size=128, max_iter=3, validation_fraction=0.5, random_state=0)
    est = AutoencoderTransformer(init="random", neighbor_weight=1.0, **params).fit(X)
    network, batches = est.network_, est._batches(X)
    options = TrainingOptions(max_epochs=1, batch_size=128, evaluation_batch_size=128)
    per_batch = evaluate_loss(network, batches, options, seed=0)
    options.evaluation_batch_size = None
    assert evaluate_loss(network, batches, options, seed=0) > per_batch + 0.5
    assert est.validation_loss_curve_[-1] == pytest.approx(est.loss_curve_[-1], rel=0.1)
