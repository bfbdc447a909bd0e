"""Missing values (NaN) in fit, partial_fit, transform and score_samples:
masked in the loss and the scaling's statistics, filled for the encoder,
marginalised in the scores."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from skae import AdversarialAutoencoderTransformer, AutoencoderTransformer, VAETransformer
from skae._losses import corrupt, reconstruction_loss

ESTIMATORS = [AutoencoderTransformer, VAETransformer, AdversarialAutoencoderTransformer]
SMALL = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=5, random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 8)) + 0.1 * rng.normal(size=(300, 8))
    X_missing = np.where(rng.rand(*X.shape) < 0.3, np.nan, X)
    X_missing[np.isnan(X_missing).all(axis=1), 0] = X[np.isnan(X_missing).all(axis=1), 0]
    return X, X_missing


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_incomplete_rows_fit_encode_and_score(Estimator, data):
    _X, X_missing = data
    model = Estimator(**SMALL).fit(X_missing)
    assert model.__sklearn_tags__().input_tags.allow_nan
    assert np.isfinite(model.input_offset_).all() and np.isfinite(model.input_scale_).all()
    for method in (model.transform, model.score_samples, model.decision_function):
        assert np.isfinite(method(X_missing)).all()
    assert np.isfinite(model.variance_explained_)
    model.partial_fit(X_missing[:100])
    assert np.isfinite(model.transform(X_missing)).all()


def test_scaling_statistics_skip_missing_entries(data):
    _X, X_missing = data
    model = AutoencoderTransformer(scaling="standard", **SMALL).fit(X_missing)
    np.testing.assert_allclose(model.input_offset_, np.nanmean(X_missing, axis=0))
    np.testing.assert_allclose(model.input_scale_, np.nanstd(X_missing, axis=0))


# The encoder sees a missing entry as the feature's training mean (0 in the
# scaled space of a centring scaling).
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_encoder_sees_the_training_mean(Estimator, data):
    _X, X_missing = data
    model = Estimator(scaling="standard", **SMALL).fit(X_missing)
    filled = np.where(np.isnan(X_missing), model.input_offset_, X_missing)
    np.testing.assert_allclose(model.transform(X_missing), model.transform(filled), atol=1e-6)


def test_loss_averages_the_observed_entries():
    output = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], requires_grad=True)
    target = torch.tensor([[1.5, float("nan"), 2.0], [1.0, 1.0, float("nan")]])
    loss = reconstruction_loss(output, target, "mse")
    torch.testing.assert_close(loss, torch.tensor([(0.25 + 1.0) / 2, 1.0]))
    loss.sum().backward()
    assert output.grad[0, 1] == 0 and output.grad[1, 2] == 0  # no gradient, no NaN
    assert torch.isfinite(output.grad).all()


# The autoencoder's score of an incomplete row is its density over the
# observed features: the filled row's score without the missing feature's
# reconstruction term (in X's units, its Jacobian included).
def test_autoencoder_score_marginalises_missing_features(data):
    X, X_missing = data
    model = AutoencoderTransformer(**SMALL).fit(X_missing)
    rows = X[:20].copy()
    rows[:, 3] = model.input_offset_[3]  # what the encoder sees for a missing entry
    incomplete = rows.copy()
    incomplete[:, 3] = np.nan
    terms = model.score_samples_by_feature(rows)
    expected = model.score_samples(rows) - terms[:, 3]
    np.testing.assert_allclose(model.score_samples(incomplete), expected, rtol=1e-6)
    assert (model.score_samples_by_feature(incomplete)[:, 3] == 0).all()


# The VAE's likelihood of an incomplete row is that of its observed entries:
# a Gaussian or Bernoulli decoder factorises over features.
@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_vae_likelihood_of_observed_entries(likelihood, data):
    X, _ = data
    X = (X - X.min()) / np.ptp(X) if likelihood == "bernoulli" else X
    model = VAETransformer(likelihood=likelihood, **SMALL).fit(X)
    output = torch.randn(5, 8)
    target = torch.as_tensor(X[:5], dtype=torch.float32)
    incomplete = target.clone()
    incomplete[:, [1, 6]] = float("nan")
    observed = [0, 2, 3, 4, 5, 7]
    network = model.network_
    with torch.no_grad():
        full_terms = network.log_likelihood_terms(output, target)
        expected = full_terms[:, observed].sum(dim=1)
        torch.testing.assert_close(network.log_likelihood(output, incomplete), expected)
    rows = X[:5].copy()
    rows[:, [1, 6]] = np.nan
    assert np.isfinite(model.score_samples(rows)).all()


def test_rows_and_features_without_observed_values_are_refused(data):
    X, X_missing = data
    empty_row = X_missing.copy()
    empty_row[7] = np.nan
    with pytest.raises(ValueError, match=r"1 row\(s\) of X have no observed value.*row 7"):
        AutoencoderTransformer(**SMALL).fit(empty_row)
    model = AutoencoderTransformer(**SMALL).fit(X_missing)
    with pytest.raises(ValueError, match="no observed value"):
        model.transform(empty_row)
    empty_feature = X_missing.copy()
    empty_feature[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"feature\(s\) of X have no observed value.*feature 2"):
        AutoencoderTransformer(**SMALL).fit(empty_feature)
    infinite = X.copy()
    infinite[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        AutoencoderTransformer(**SMALL).fit(infinite)


# Sparse input keeps its meaning: implicit zeros are zeros; a stored NaN is missing.
def test_sparse_stored_nan_is_missing(data):
    X, X_missing = data
    dense = np.where(np.abs(X) < 0.5, 0.0, X_missing)
    sparse = sp.csr_matrix(np.nan_to_num(dense, nan=1.0))
    sparse.data[sparse.data == 1.0] = np.nan
    assert np.array_equal(np.isnan(sparse.toarray()), np.isnan(dense))
    model = AutoencoderTransformer(**SMALL).fit(sparse)
    reference = AutoencoderTransformer(**SMALL).fit(dense)
    np.testing.assert_allclose(model.input_offset_, reference.input_offset_)
    np.testing.assert_allclose(model.transform(sparse), reference.transform(dense), atol=1e-5)
    empty = sp.csr_matrix(np.full((1, 8), np.nan))
    with pytest.raises(ValueError, match="no observed value"):
        model.transform(empty)


# noise='missing' hides a fraction of the entries from the encoder as missing
# values are hidden, and leaves the others as they are.
def test_missing_noise_hides_entries():
    x = torch.randn(400, 50)
    hidden = corrupt(x, "missing", 0.3, torch.Generator().manual_seed(0))
    assert abs(torch.isnan(hidden).float().mean().item() - 0.3) < 0.02
    kept = ~torch.isnan(hidden)
    assert torch.equal(hidden[kept], x[kept])
    with pytest.raises(ValueError, match="noise_level must be in"):
        AutoencoderTransformer(noise="missing", noise_level=1.0).fit(np.ones((10, 3)))


# The cases a review found: the VAE's t-SNE term, sparse rows with trailing
# empty rows, a feature unobserved in the validation rows or in a later chunk.
def test_edge_cases_of_missing_entries(data):
    X, X_missing = data
    vae = VAETransformer(neighbor_weight=1.0, **SMALL).fit(X_missing)
    assert np.isfinite(vae.loss_curve_).all()
    sparse = np.where(np.abs(X) < 1.0, 0.0, X)
    sparse[0, 0], sparse[-3:] = np.nan, 0.0
    model = AutoencoderTransformer(**SMALL).fit(sp.csr_matrix(sparse))
    assert np.isfinite(model.score_samples(sp.csr_matrix(sparse))).all()
    few = X_missing.copy()
    few[:, 0] = np.nan
    few[0, 0] = X[0, 0]  # feature 0 observed in one row, not among the validation rows
    model = AutoencoderTransformer(**SMALL).fit(few)
    assert np.isfinite(model.noise_variance_).all() and np.isfinite(model.offset_)
    chunk = X_missing[:50].copy()
    chunk[:, 0] = np.nan
    model.partial_fit(chunk)  # the scaling is fitted: a chunk may miss a feature
    assert np.isfinite(model.noise_variance_).all()
    assert np.isfinite(model.score_samples(X_missing)).all()
