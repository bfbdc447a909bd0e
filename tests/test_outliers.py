"""The outlier-detection API: contamination, offset_, decision_function,
predict, fit_predict, and per-feature explanations of the scores."""

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal
from sklearn.base import is_outlier_detector
from sklearn.utils._param_validation import InvalidParameterError

from skae import AdversarialAutoencoderTransformer, AutoencoderTransformer, VAETransformer

ESTIMATORS = [AutoencoderTransformer, VAETransformer, AdversarialAutoencoderTransformer]
QUICK = dict(hidden_layer_sizes=(32,), max_iter=20, random_state=0)


@pytest.fixture(scope="module")
def contaminated():
    """Gaussian data on a 3-D plane in 12-D, with 5% of the rows far off it."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 3)) @ rng.normal(size=(3, 12)) + 0.1 * rng.normal(size=(600, 12))
    outliers = rng.choice(600, 30, replace=False)
    X[outliers] += rng.normal(scale=4.0, size=(30, 12))
    labels = np.ones(600, dtype=int)
    labels[outliers] = -1
    return X, labels


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_the_outlier_api(Estimator, contaminated):
    X, labels = contaminated
    est = Estimator(n_components=3, contamination=0.05, **QUICK).fit(X)
    assert is_outlier_detector(est)
    scores, decision = est.score_samples(X), est.decision_function(X)
    assert_allclose(decision, scores - est.offset_)
    predicted = est.predict(X)
    assert predicted.dtype.kind == "i" and set(np.unique(predicted)) == {-1, 1}
    assert_array_equal(predicted, np.where(decision < 0, -1, 1))
    assert np.mean(predicted == -1) == pytest.approx(0.05, abs=1 / 600)
    # The injected outliers are what it flags.
    assert np.mean(predicted[labels == -1] == -1) > 0.8
    assert_array_equal(
        Estimator(n_components=3, contamination=0.05, **QUICK).fit_predict(X), predicted
    )


# 'auto' trims nothing and sets the threshold by the boxplot rule on the
# training scores: Q1 - 1.5 IQR.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_auto_is_the_boxplot_rule(Estimator, contaminated):
    X, labels = contaminated
    est = Estimator(n_components=3, **QUICK).fit(X)
    assert est.contamination == "auto"
    q1, q3 = np.percentile(est.score_samples(X), [25, 75])
    assert est.offset_ == pytest.approx(q1 - 1.5 * (q3 - q1))
    flagged = est.predict(X) == -1
    assert 0 < flagged.mean() < 0.2 and np.mean(labels[flagged] == -1) > 0.5


def test_contamination_is_a_fraction_in_the_open_closed_half(contaminated):
    X, _ = contaminated
    for bad in (0.0, 0.6, -0.1, "most"):
        with pytest.raises(InvalidParameterError, match="contamination"):
            AutoencoderTransformer(contamination=bad).fit(X)
    AutoencoderTransformer(contamination=0.5, max_iter=1).fit(X)


# On more rows than offset_ is computed on, the fraction flagged is
# contamination within sampling error (0.011 at 2,000 rows and p = 0.1).
def test_offset_from_evenly_spaced_rows(contaminated):
    X = np.tile(contaminated[0], (5, 1)) + np.random.RandomState(1).normal(0, 0.05, (3000, 12))
    est = AutoencoderTransformer(n_components=3, contamination=0.1, **QUICK).fit(X)
    assert np.mean(est.predict(X) == -1) == pytest.approx(0.1, abs=0.03)


def test_offset_follows_partial_fit(contaminated):
    X, _ = contaminated
    est = AutoencoderTransformer(n_components=3, contamination=0.1, **QUICK).fit(X[:300])
    first = est.offset_
    est.partial_fit(X[300:])
    assert est.offset_ != first
    assert np.mean(est.predict(X[300:]) == -1) == pytest.approx(0.1, abs=1 / 300)


# ----------------------------------------------------------------------
# Explanations


def _code_log_density(est, X) -> np.ndarray:
    """The code's part of an autoencoder's score, computed apart."""
    codes = est.transform(X)
    if isinstance(est, AdversarialAutoencoderTransformer):
        return multivariate_normal(np.zeros(codes.shape[1])).logpdf(codes)
    return multivariate_normal(est.latent_mean_, est.latent_covariance_).logpdf(codes)


def _vae_reconstruction_part(est, X) -> np.ndarray:
    """E_q[log p(x | z)] over the score's draws, from the summed log-likelihood."""
    x = torch.as_tensor((X - est.input_offset_) / est.input_scale_, dtype=torch.float32)
    noise = est._score_noise()
    with torch.inference_mode():
        mean, logvar = est.network_.encode(x)
        z = mean + noise[:, None, :] * torch.exp(0.5 * logvar)
        output = est.network_.decoder(z.flatten(0, 1)).view(len(noise), *x.shape)
        log_likelihood = est.network_.log_likelihood(output, x).mean(0)
    return log_likelihood.double().numpy() - np.sum(np.log(est.input_scale_))


# The rows sum to the reconstruction part of the score: for the autoencoders,
# the score less the code's log-density; for the VAE, the expected
# log-likelihood of the evidence lower bound.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_feature_terms_sum_to_the_reconstruction_part(Estimator, contaminated):
    X, _ = contaminated
    est = Estimator(n_components=3, **QUICK).fit(X)
    terms = est.score_samples_by_feature(X[:50])
    assert terms.shape == (50, 12) and terms.dtype == np.float64
    if Estimator is VAETransformer:
        expected = _vae_reconstruction_part(est, X[:50])
    else:
        expected = est.score_samples(X[:50]) - _code_log_density(est, X[:50])
    assert_allclose(terms.sum(axis=1), expected, rtol=1e-4)


# A corrupted feature ranks first (the lowest term) in the rows it corrupts.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_the_corrupted_feature_ranks_first(Estimator, contaminated):
    X, labels = contaminated
    clean = X[labels == 1]
    est = Estimator(n_components=3, **QUICK).fit(clean)
    corrupted = clean[:40].copy()
    corrupted[:, 7] += 5 * clean[:, 7].std()
    terms = est.score_samples_by_feature(corrupted)
    assert np.mean(terms.argmin(axis=1) == 7) >= 0.95


def test_feature_terms_as_a_data_frame(contaminated):
    X, _ = contaminated
    frame = pd.DataFrame(X, columns=[f"sensor {i}" for i in range(12)], index=range(100, 700))
    est = AutoencoderTransformer(n_components=3, **QUICK).set_output(transform="pandas")
    terms = est.fit(frame).score_samples_by_feature(frame.iloc[:5])
    assert list(terms.columns) == list(frame.columns)
    assert list(terms.index) == [100, 101, 102, 103, 104]
    unnamed = AutoencoderTransformer(n_components=3, **QUICK).set_output(transform="pandas")
    assert list(unnamed.fit(X).score_samples_by_feature(X[:2]).columns)[:2] == ["x0", "x1"]


def test_bce_terms_are_per_pixel_bernoulli_terms(digits):
    X = digits[0][:400]
    est = AutoencoderTransformer(n_components=4, loss="bce", **QUICK).fit(X)
    terms = est.score_samples_by_feature(X[:10])
    expected = est.score_samples(X[:10]) - _code_log_density(est, X[:10])
    assert_allclose(terms.sum(axis=1), expected, rtol=1e-4)
    assert np.isfinite(terms).all()


# Rows outside [0, 1] have no Bernoulli likelihood: their terms are -inf
# where the value is out of range, as their scores are.
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_bernoulli_terms_outside_the_unit_interval(Estimator, digits):
    X = digits[0][:300] / 16
    likelihood = (
        {"loss": "bce"} if Estimator is AutoencoderTransformer else {"likelihood": "bernoulli"}
    )
    est = Estimator(n_components=4, **likelihood, **QUICK).fit(X)
    rows = X[:3].copy()
    rows[0, 5] = 1.5
    terms = est.score_samples_by_feature(rows)
    assert terms[0, 5] == -np.inf and np.isfinite(np.delete(terms[0], 5)).all()
    assert np.isfinite(terms[1:]).all() and est.score_samples(rows)[0] == -np.inf
    assert est.predict(rows)[0] == -1
