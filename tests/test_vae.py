"""VAETransformer: posterior means, sampling, interpolation, likelihoods, KL per dimension."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from conftest import FAST
from skae import AutoencoderTransformer, VAETransformer
from skae._losses import Objective


# transform gives posterior means: the same codes on every call.
def test_transform_is_deterministic(small_X):
    vae = VAETransformer(n_components=3, **FAST).fit(small_X)
    assert_array_equal(vae.transform(small_X), vae.transform(small_X))
    assert vae.transform(small_X).shape == (100, 3)
    scaled = (small_X - vae.input_offset_) / vae.input_scale_
    with torch.no_grad():
        mean, _ = vae.network_.encode(torch.as_tensor(scaled, dtype=torch.float32))
    assert_allclose(vae.transform(small_X), mean.numpy(), rtol=1e-5, atol=1e-6)


# score_samples is deterministic, and a sample's score does not depend on its batch.
def test_score_samples_deterministic_and_per_sample(small_X):
    vae = VAETransformer(n_components=3, **FAST).fit(small_X)
    scores = vae.score_samples(small_X)
    assert_array_equal(scores, vae.score_samples(small_X))
    assert_allclose(vae.score_samples(small_X[::-1])[::-1], scores, rtol=1e-5)
    assert vae.score(small_X) == pytest.approx(scores.mean())


# The importance-weighted bound lies above the ELBO (averaged over many draws)
# and settles as the number of importance samples grows.
def test_importance_weighted_bound_is_above_the_elbo(small_X):
    vae = VAETransformer(n_components=3, n_importance_samples=200, **FAST).fit(small_X)
    x = torch.as_tensor((small_X - vae.input_offset_) / vae.input_scale_, dtype=torch.float32)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        losses = torch.stack([vae.network_.loss(x, x, generator) for _ in range(200)])
    elbo = -losses.mean().item() + vae._scaling.log_jacobian
    iwae_200 = vae.score(small_X)
    iwae_1000 = vae.set_params(n_importance_samples=1000).score(small_X)
    assert iwae_200 > elbo + 1.0
    assert iwae_1000 == pytest.approx(iwae_200, abs=0.5)


# n_training_draws=K trains on the importance-weighted bound: the loss of one
# sample is minus the bound that score_samples computes from the same K draws.
def test_training_on_the_importance_weighted_bound(small_X):
    vae = VAETransformer(n_components=3, n_training_draws=5, **FAST).fit(small_X)
    assert np.all(np.isfinite(vae.loss_curve_))
    x = torch.as_tensor((small_X[:1] - vae.input_offset_) / vae.input_scale_, dtype=torch.float32)
    vae.network_.eval()
    with torch.no_grad():
        loss = vae.network_.loss(x, x, torch.Generator().manual_seed(0), vae._objective(0.0))
        noise = torch.randn((5, 3), generator=torch.Generator().manual_seed(0))
        bound = vae.network_.importance_weighted_log_likelihood(x, noise)
    assert_allclose(loss.numpy(), -bound.numpy(), rtol=1e-5)
    again = VAETransformer(n_components=3, n_training_draws=5, **FAST).fit(small_X)
    assert_array_equal(again.transform(small_X), vae.transform(small_X))


# score_samples is a density of X in its own units: rescaling a feature by c
# shifts every log-density by -log(c), as for PCA.
def test_score_includes_the_scaling_jacobian(small_X):
    X_scaled = small_X.copy()
    X_scaled[:, 0] *= 10.0
    a = VAETransformer(n_components=3, scaling="standard", **FAST).fit(small_X)
    b = VAETransformer(n_components=3, scaling="standard", **FAST).fit(X_scaled)
    assert_allclose(b.score_samples(X_scaled), a.score_samples(small_X) - np.log(10.0), rtol=1e-4)


# sample() decodes prior draws, reproducibly for a given random_state.
def test_sample(small_X):
    vae = VAETransformer(n_components=3, **FAST).fit(small_X)
    draws = vae.sample(5, random_state=0)
    assert draws.shape == (5, 20)
    assert_array_equal(draws, vae.sample(5, random_state=0))
    assert not np.allclose(draws, vae.sample(5, random_state=1))
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        vae.sample(0)


# interpolate() decodes a path whose ends are the reconstructions of its inputs.
def test_interpolate(small_X):
    vae = VAETransformer(n_components=3, **FAST).fit(small_X)
    path = vae.interpolate(small_X[0], small_X[1], n_steps=7)
    assert path.shape == (7, 20)
    ends = vae.inverse_transform(vae.transform(small_X[:2]))
    assert_allclose(path[[0, -1]], ends, rtol=1e-5, atol=1e-6)
    assert vae.interpolate(small_X[:3], small_X[3:6], n_steps=4).shape == (3, 4, 20)
    X32 = small_X.astype(np.float32)
    assert vae.interpolate(X32[0], X32[1], n_steps=3).dtype == np.float32
    with pytest.raises(ValueError, match="n_steps must be an integer >= 2"):
        vae.interpolate(small_X[0], small_X[1], n_steps=1)
    with pytest.raises(ValueError, match="X_start and X_end must have the same shape"):
        vae.interpolate(small_X[:3], small_X[3:5])


# Rows of a DataFrame, and pandas output, give the same path as arrays.
def test_interpolate_with_pandas(small_X):
    df = pd.DataFrame(small_X, columns=[f"c{i}" for i in range(20)])
    vae = VAETransformer(n_components=3, **FAST).fit(small_X)
    expected = vae.interpolate(small_X[0], small_X[1], n_steps=4)
    on_frame = VAETransformer(n_components=3, **FAST).set_output(transform="pandas").fit(df)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning about lost feature names
        assert_allclose(on_frame.interpolate(df.iloc[0], df.iloc[1], n_steps=4), expected)
        assert_allclose(on_frame.interpolate(df[:1], df[1:2], n_steps=4), expected[None])


# kl_per_component_ is the mean KL per latent dimension on the training data, and
# active_components_ marks the dimensions whose posterior mean varies (Burda et al.).
def test_kl_per_component_and_active_components(small_X):
    vae = VAETransformer(n_components=4, **FAST).fit(small_X)
    x = torch.as_tensor((small_X - vae.input_offset_) / vae.input_scale_, dtype=torch.float32)
    with torch.no_grad():
        mean, logvar = vae.network_.encode(x)
        kl = vae.network_.kl_per_component(mean, logvar).mean(0).numpy()
    assert_allclose(vae.kl_per_component_, kl, rtol=1e-4)
    assert np.all(vae.kl_per_component_ >= 0)
    assert_array_equal(vae.active_components_, vae.transform(small_X).var(0) > 0.01)


# partial_fit's summaries run over all the chunks of a stream: a last chunk of
# one row, whose posterior mean cannot vary, leaves the active dimensions active.
# (Posteriors start at the prior: the stream's first chunks move them off it.)
def test_partial_fit_summaries_run_over_the_stream(small_X):
    vae = VAETransformer(n_components=4, **FAST)
    codes, kl = [], []
    for chunk in [small_X[:99]] * 10 + [small_X[99:]]:
        vae.partial_fit(chunk)
        x = torch.as_tensor((chunk - vae.input_offset_) / vae.input_scale_, dtype=torch.float32)
        with torch.no_grad():
            kl.append(vae.network_.kl_per_component(*vae.network_.encode(x)).numpy())
        codes.append(vae.transform(chunk))
    assert_allclose(vae.kl_per_component_, np.vstack(kl).mean(axis=0), rtol=1e-5)
    assert_array_equal(vae.active_components_, np.vstack(codes).var(axis=0) > 0.01)
    assert vae.active_components_.any()


# A first chunk of one row starts from a PCA of no directions, not from the
# undefined variance of a single sample (which made the weights NaN).
def test_fits_a_single_row(small_X):
    vae = VAETransformer(n_components=2, **FAST).partial_fit(small_X[:1])
    assert np.isfinite(vae.transform(small_X)).all()
    vae.partial_fit(small_X)
    assert np.isfinite(vae.score_samples(small_X)).all()


# The estimator trains on its parameters' objective: the KL warm-up and the
# draws per sample (the schedule itself: tests/test_losses.py).
def test_training_objective(small_X):
    vae = VAETransformer(kl_warmup=4, beta=2.0, n_training_draws=3, **FAST)
    assert vae._objective(0.0) == Objective(beta=2.0, kl_warmup=4, free_bits=0.5, n_draws=3)


# Free bits change the training loss only: evaluations (the validation loss,
# the scores) measure the ELBO.
def test_free_bits_only_in_training(small_X):
    vae = VAETransformer(n_components=4, **FAST).fit(small_X)
    x = torch.as_tensor(small_X[:50], dtype=torch.float32)
    free, plain = Objective(free_bits=1e3), Objective()  # above every dimension's KL
    losses = {}
    for training in (False, True):
        vae.network_.train(training)
        with torch.no_grad():
            for name, objective in (("free", free), ("plain", plain)):
                generator = torch.Generator().manual_seed(0)
                losses[training, name] = vae.network_.loss(x, x, generator, objective)
    vae.network_.eval()
    assert_array_equal(losses[False, "free"], losses[False, "plain"])
    # a dimension below the floor is charged it: the batch mean can only rise
    assert losses[True, "free"].mean() > losses[True, "plain"].mean()


# Convergence is judged after the warm-up, with or without early stopping.
@pytest.mark.parametrize("early_stopping", [True, False])
def test_kl_warmup_is_not_stopped(early_stopping):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 3)) @ rng.normal(size=(3, 20)) + 0.1 * rng.normal(size=(100, 20))
    vae = VAETransformer(
        kl_warmup=30, beta=5.0, n_iter_no_change=3, learning_rate_init=0.01, max_iter=60,
        early_stopping=early_stopping, hidden_layer_sizes=(16,), random_state=0,
    ).fit(X)  # fmt: skip
    assert vae.n_iter_ > 30


# A warm start with a new objective judges convergence anew.
def test_warm_start_with_new_beta_restarts_convergence(small_X):
    vae = VAETransformer(beta=0.1, warm_start=True, **{**FAST, "max_iter": 10}).fit(small_X)
    vae.set_params(beta=4.0, n_iter_no_change=3).fit(small_X)
    assert vae.best_epoch_ > 10  # the best of the new objective, not the old one's


# The loss weighs the KL term by the objective's weight: the warm-up's in
# training, beta (the real objective) when none is set, as in evaluation.
def test_loss_weighs_the_kl_term_by_the_objective(small_X):
    vae = VAETransformer(n_components=3, **FAST).fit(small_X)
    x = torch.as_tensor((small_X - vae.input_offset_) / vae.input_scale_, dtype=torch.float32)
    network = vae.network_.eval()

    def loss(objective):
        with torch.no_grad():
            return network.loss(x, x, torch.Generator().manual_seed(0), objective)

    assert torch.equal(loss(Objective()), loss(Objective().at_epoch(5)))
    assert torch.equal(loss(Objective(beta=2.0)), loss(Objective(kl_weight=2.0)))
    assert (loss(Objective(kl_weight=0.01)) < loss(Objective())).all()


# The validation loss measures the real objective during a KL warm-up too, so
# early stopping keeps the starting point when training only made it worse.
def test_kl_warmup_keeps_a_better_start(small_X, assert_starts_as_pca):
    vae = VAETransformer(kl_warmup=5, learning_rate_init=0.05, max_iter=2, random_state=0)
    with pytest.warns(UserWarning, match="every training sample to the same code"):
        vae.fit(small_X)  # the start: every posterior at the prior
    assert vae.best_epoch_ == 0
    assert vae.best_loss_ < min(vae.validation_loss_curve_)
    assert_starts_as_pca(vae.network_)  # the starting weights were restored
    # The decoder starts from PCA's, the encoder at zero: posteriors at the prior.
    assert torch.count_nonzero(vae.network_.encoder.linear.weight) == 0
    assert torch.count_nonzero(vae.network_.decoder.linear.weight) > 0


# The PCA start: the encoder at zero (posteriors at the prior) where the decoder
# starts from PCA's; a Bernoulli decoder starts from the mean alone, and the
# posterior means from PCA's scores. (A step of 1e-9 leaves the start in place.)
@pytest.mark.parametrize("likelihood", ["gaussian", "isotropic", "bernoulli"])
def test_pca_start_of_the_encoder(digits, likelihood):
    vae = VAETransformer(
        n_components=4, likelihood=likelihood, learning_rate_init=1e-9, max_iter=1, random_state=0
    )
    with warnings.catch_warnings():  # posteriors at the prior: one code for every row
        warnings.filterwarnings("ignore", "The fitted model encodes every", UserWarning)
        vae.fit(digits[0][:200] / 16)
    largest = vae.network_.encoder.linear.weight.abs().max().item()
    assert largest > 1e-3 if likelihood == "bernoulli" else largest < 1e-6


# beta and n_training_draws take effect on warm starts: from the same weights,
# the training loss (a negative bound in nats) grows with beta, and the
# importance-weighted bound of several draws is tighter than the ELBO (no free
# bits, which only the one-draw loss has).
def test_warm_start_sets_beta(small_X):
    vae = VAETransformer(warm_start=True, free_bits=0.0, **FAST).fit(small_X)
    vae.set_params(max_iter=1)
    plain = pickle.loads(pickle.dumps(vae)).fit(small_X)
    heavier = pickle.loads(pickle.dumps(vae)).set_params(beta=5.0).fit(small_X)
    drawn = vae.set_params(n_training_draws=3).fit(small_X)
    assert heavier.loss_curve_[-1] > plain.loss_curve_[-1]
    assert drawn.loss_curve_[-1] < plain.loss_curve_[-1]


# Generated samples look like the training data: per-pixel means within 0.3
# standard deviations of the digits' (noise uniform over the pixel range: 1.5).
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_samples_match_the_data(digits, Estimator):
    X = digits[0][:1000]
    model = Estimator(n_components=4, hidden_layer_sizes=(64,), max_iter=20, random_state=0)
    samples = model.fit(X).sample(2000, random_state=0)
    varied = X.std(0) > 0.5
    distance = np.abs(samples.mean(0) - X.mean(0))[varied] / X.std(0)[varied]
    assert distance.max() < 0.3


# Bernoulli likelihood on [0, 1] data: scores are log-probabilities, so at most 0.
def test_bernoulli_likelihood(digits):
    X = (digits[0][:300] > 8).astype(float)
    vae = VAETransformer(likelihood="bernoulli", n_components=4, **FAST).fit(X)
    assert vae.scaling_ is None
    assert np.all(vae.score_samples(X) <= 0)
    assert np.all((vae.sample(3, random_state=0) >= 0) & (vae.sample(3, random_state=0) <= 1))


# likelihood='isotropic' learns one standard deviation for all features,
# 'gaussian' one per feature; the per-feature terms of the score follow it.
def test_isotropic_likelihood_shares_one_scale(small_X):
    isotropic = VAETransformer(likelihood="isotropic", n_components=3, **FAST).fit(small_X)
    gaussian = VAETransformer(n_components=3, **FAST).fit(small_X)
    assert isotropic.network_.log_scale.shape == (1,)
    assert gaussian.network_.log_scale.shape == (20,)
    terms = isotropic.score_samples_by_feature(small_X[:5])
    assert terms.shape == (5, 20) and np.isfinite(terms).all()
    assert np.isfinite(isotropic.score_samples(small_X)).all()


# Works as a feature extractor inside GridSearchCV.
def test_pipeline_grid_search(digits):
    X, y = digits[0][:300], digits[1][:300]
    pipe = Pipeline(
        [("vae", VAETransformer(n_components=4, **FAST)), ("clf", LogisticRegression(max_iter=500))]
    )
    search = GridSearchCV(pipe, {"vae__n_components": [2, 4]}, cv=2).fit(X, y)
    assert search.best_score_ > 0.3


# On continuous digits, the VAE's held-out log-likelihood beats PCA's and FactorAnalysis's.
@pytest.mark.slow
def test_likelihood_beats_pca_and_factor_analysis(digits):
    X = digits[0] + np.random.RandomState(0).uniform(size=digits[0].shape)
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    vae = VAETransformer(n_components=8, random_state=0).fit(X_train)
    pca = PCA(8).fit(X_train)
    fa = FactorAnalysis(8, random_state=0).fit(X_train)
    assert vae.score(X_test) > max(pca.score(X_test), fa.score(X_test)) + 5


# A 1-D end and a one-row 2-D end give one path of the 2-D form, in either order.
def test_interpolate_mixed_ends(small_X):
    vae = VAETransformer(n_components=3, **FAST).fit(small_X)
    forward = vae.interpolate(small_X[0], small_X[1:2], n_steps=4)
    backward = vae.interpolate(small_X[1:2], small_X[0], n_steps=4)
    assert forward.shape == backward.shape == (1, 4, 20)
    assert_allclose(forward[0, ::-1], backward[0], rtol=1e-5, atol=1e-6)
