"""The parametric t-SNE term (`neighbor_weight`, `perplexity`), for both estimators."""

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer, VAETransformer
from skae._losses import Objective
from skae._training import TrainingOptions, evaluate_loss

ESTIMATORS = [AutoencoderTransformer, VAETransformer]


# On the digits, the term makes the 2-D codes separate the classes much better
# for a linear classifier than reconstruction alone, at the same seed and
# batches; one weight serves both estimators (the VAE's term is scaled per
# feature).
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_neighbor_weight_separates_classes(Estimator, digits):
    X, y = digits
    params = dict(
        n_components=2, init="random", batch_size=64, perplexity=5.0, max_iter=15,
        early_stopping=False, random_state=0,
    )  # fmt: skip

    def accuracy(**extra):
        codes = Estimator(**params, **extra).fit_transform(X)
        classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        return cross_val_score(classifier, codes, y, cv=3).mean()

    plain, neighbors = accuracy(neighbor_weight=0.0), accuracy(neighbor_weight=1.0)
    assert neighbors > plain + 0.1


# set_params takes effect on a warm start, like every other training parameter:
# from the same weights, an epoch with the term (a divergence, positive) has the
# larger training loss.
def test_neighbor_weight_follows_set_params(digits):
    X = digits[0][:200]
    params = dict(batch_size=64, max_iter=1, warm_start=True, early_stopping=False, random_state=0)
    est = AutoencoderTransformer(**params).fit(X)
    plain, with_term = pickle.loads(pickle.dumps(est)), est
    plain.fit(X)
    with_term.set_params(neighbor_weight=2.0, perplexity=5.0).fit(X)
    assert with_term.loss_curve_[-1] > plain.loss_curve_[-1] + 0.1
    assert np.isfinite(with_term.loss_curve_).all()


# With the term on, the validation loss is measured on batches of the training
# size, so that it is on the training loss's scale (the divergence grows with the
# batch): training and validation losses agree when both use the same data.
def test_validation_batches_match_training_batches(digits):
    X = digits[0][:512]
    params = dict(batch_size=128, max_iter=3, validation_fraction=0.5, random_state=0)
    est = AutoencoderTransformer(init="random", neighbor_weight=1.0, **params).fit(X)
    network, batches = est.network_, est._batches(X)
    objective = Objective(neighbor_weight=1.0)
    options = TrainingOptions(
        max_epochs=1, batch_size=128, evaluation_batch_size=128, objective=objective
    )
    per_batch = evaluate_loss(network, batches, options, seed=0)
    options.evaluation_batch_size = None
    assert evaluate_loss(network, batches, options, seed=0) > per_batch + 0.5
    assert est.validation_loss_curve_[-1] == pytest.approx(est.loss_curve_[-1], rel=0.1)
