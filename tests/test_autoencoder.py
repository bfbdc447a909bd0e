"""AutoencoderTransformer: fitting, transforming, scoring and quality against PCA."""

import pickle
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array

from conftest import FAST
from skae import AutoencoderTransformer, VAETransformer, _fit
from skae._batches import split_rows
from skae._spec import NetworkSpec
from skae._statistics import csr_min_max, mean_variance
from skae._validation import row_major


# transform, inverse_transform and sample return the documented shapes and dtypes.
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_shapes_and_dtypes(small_X, dtype):
    X = small_X.astype(dtype)
    ae = AutoencoderTransformer(n_components=3, **FAST).fit(X)
    codes = ae.transform(X)
    expected = np.float32 if dtype == np.float32 else np.float64
    assert codes.shape == (100, 3) and codes.dtype == expected
    assert ae.inverse_transform(codes).shape == (100, 20)
    assert ae.score_samples(X).shape == (100,)
    assert ae.sample(4, random_state=0).shape == (4, 20)
    assert ae.n_features_in_ == 20 and ae.n_iter_ == len(ae.loss_curve_) == 5


# The same random_state gives identical codes; another gives different ones.
def test_reproducible(small_X):
    first = AutoencoderTransformer(**FAST).fit_transform(small_X)
    second = AutoencoderTransformer(**FAST).fit_transform(small_X)
    other = AutoencoderTransformer(**{**FAST, "random_state": 1}).fit_transform(small_X)
    assert_array_equal(first, second)
    assert not np.allclose(first, other)
    # The seed reaches the initial weights, not only the shuffling: without
    # training (a negligible learning rate), two seeds still give other codes.
    untrained = dict(FAST, init="random", learning_rate_init=1e-12, max_iter=1)
    codes = [
        AutoencoderTransformer(**{**untrained, "random_state": seed}).fit_transform(small_X)
        for seed in (0, 1)
    ]
    assert not np.allclose(*codes, rtol=1e-3)


# Fitting neither reads nor changes torch's global random state.
def test_global_rng_untouched(small_X):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    AutoencoderTransformer(**FAST).fit(small_X)
    assert_array_equal(torch.rand(3), expected)


# Nor the GPUs' generators, which torch.manual_seed would reseed, even for a CPU fit.
def test_gpu_generators_untouched(small_X, monkeypatch):
    reseeded = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", reseeded.append)
    AutoencoderTransformer(**FAST).fit(small_X)
    assert reseeded == []


# Fits in concurrent threads (GridSearchCV's threading backend) give the
# models they give one at a time, and leave the global state as it was.
def test_fits_in_threads(small_X, monkeypatch):
    build = NetworkSpec._build

    def slow_build(self):  # widens the window after the seeding
        time.sleep(0.01)
        return build(self)

    monkeypatch.setattr(NetworkSpec, "_build", slow_build)

    def fit(seed):
        ae = AutoencoderTransformer(
            hidden_layer_sizes=(256,), max_iter=1, early_stopping=False, random_state=seed
        )
        return ae.fit_transform(small_X)

    seeds = range(8)
    threads = torch.get_num_threads()
    alone = [fit(seed) for seed in seeds]
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(fit, seeds))
    for codes, expected_codes in zip(together, alone):
        assert_array_equal(codes, expected_codes)
    assert_array_equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


# 'auto' on continuous data in mixed units: centred, then one common scale,
# the root of the features' mean variance.
def test_global_scaling(small_X):
    ae = AutoencoderTransformer(**FAST).fit(small_X)
    assert ae.scaling_ == "global"
    assert_allclose(ae.input_offset_, small_X.mean(0))
    assert_allclose(ae.input_scale_, np.full(20, np.sqrt(small_X.var(0).mean())))


# The internal scaling is undone: reconstructions come back in the input's
# units, decoder output * input_scale_ + input_offset_ (data far from 0, so that
# a missing offset shows).
def test_inverse_transform_undoes_scaling(small_X):
    ae = AutoencoderTransformer(n_components=3, max_iter=100, random_state=0).fit(small_X)
    reconstruction = ae.inverse_transform(ae.transform(small_X))
    relative_error = np.abs(reconstruction - small_X).mean(0) / small_X.std(0)
    assert relative_error.max() < 0.5
    assert_allclose(reconstruction.mean(0), small_X.mean(0), atol=0.2 * small_X.std(0).max())
    X = small_X + 50 * small_X.std(0)
    ae = AutoencoderTransformer(n_components=3, **FAST).fit(X)
    codes = ae.transform(X)
    with torch.no_grad():
        decoded = ae.network_.decode(torch.as_tensor(codes, dtype=torch.float32)).double().numpy()
    expected = decoded * ae.input_scale_ + ae.input_offset_
    assert_allclose(ae.inverse_transform(codes), expected, rtol=1e-5, atol=1e-6 * X.std())


# Default settings beat PCA's held-out reconstruction error on raw digits.
@pytest.mark.slow
@pytest.mark.parametrize("n_components", [2, 8])
def test_beats_pca_on_digits(digits, n_components):
    X_train, X_test = train_test_split(digits[0], test_size=0.3, random_state=0)
    pca = PCA(n_components).fit(X_train)
    ae = AutoencoderTransformer(n_components, random_state=0).fit(X_train)
    pca_error = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
    ae_error = np.mean((ae.inverse_transform(ae.transform(X_test)) - X_test) ** 2)
    assert ae_error < 0.9 * pca_error


# Outliers reconstruct badly, so they get low scores.
def test_score_samples_flags_outliers(small_X):
    ae = AutoencoderTransformer(n_components=3, max_iter=50, random_state=0).fit(small_X)
    rng = np.random.RandomState(1)
    outliers = rng.normal(size=(10, 20)) * small_X.std(0) * 3 + small_X.mean(0)
    assert ae.score_samples(outliers).max() < np.median(ae.score_samples(small_X))
    assert ae.score(small_X) == pytest.approx(ae.score_samples(small_X).mean())


# score_samples is log p(x | z) + log p(z) at z = encode(x), from the fitted
# attributes, in X's units; the noise variances are those of held-out residuals.
def test_score_samples_is_joint_log_density(small_X, monkeypatch):
    rows = {}

    def recording_split(*args):
        rows["train"], rows["validation"] = split_rows(*args)
        return rows["train"], rows["validation"]

    monkeypatch.setattr(_fit, "split_rows", recording_split)
    ae = AutoencoderTransformer(n_components=3, max_iter=30, random_state=0).fit(small_X)
    codes = ae.transform(small_X)
    residuals = small_X - ae.inverse_transform(codes)
    expected = multivariate_normal(ae.latent_mean_, ae.latent_covariance_).logpdf(codes)
    expected += multivariate_normal(np.zeros(20), np.diag(ae.noise_variance_)).logpdf(residuals)
    assert_allclose(ae.score_samples(small_X), expected, rtol=1e-4, atol=1e-3)
    train_variance = np.mean(residuals**2, axis=0)
    assert np.mean(ae.noise_variance_ / train_variance) > 1
    held_out = residuals[rows["validation"]]
    floor = 1e-6 * np.mean(ae.input_scale_**2)
    assert_allclose(ae.noise_variance_, np.maximum((held_out**2).mean(0), floor), rtol=1e-4)


# With loss='bce' the reconstruction term is a Bernoulli log-probability.
def test_bce_score_samples_flag_random_bits(digits):
    X = (digits[0][:500] > 8).astype(float)
    ae = AutoencoderTransformer(n_components=2, loss="bce", max_iter=10, random_state=0).fit(X)
    random_bits = np.random.RandomState(0).randint(2, size=X.shape).astype(float)
    scores, outlier_scores = ae.score_samples(X), ae.score_samples(random_bits)
    assert np.all(np.isfinite(scores))
    assert np.median(outlier_scores) < np.percentile(scores, 10)
    assert ae.noise_variance_ is None


def test_bce_score_samples_is_joint_log_density(digits):
    X = (digits[0][:500] > 8).astype(float)
    ae = AutoencoderTransformer(
        n_components=2, loss="bce", scaling=None, max_iter=10, random_state=0
    ).fit(X)
    codes = ae.transform(X)
    p = np.clip(ae.inverse_transform(codes), 1e-12, 1 - 1e-12)
    expected = multivariate_normal(ae.latent_mean_, ae.latent_covariance_).logpdf(codes)
    expected += np.sum(X * np.log(p) + (1 - X) * np.log1p(-p), axis=1)
    assert_allclose(ae.score_samples(X), expected, rtol=1e-5, atol=1e-3)


# Sparse input gives the same model as its dense twin.
@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix])
def test_sparse_matches_dense(small_X, container):
    X = np.where(np.abs(small_X) > small_X.std(0), small_X, 0.0)
    dense = AutoencoderTransformer(**FAST).fit(X)
    sparse = AutoencoderTransformer(**FAST).fit(container(X))
    assert_allclose(dense.transform(X), sparse.transform(container(X)), rtol=1e-4, atol=1e-5)
    minmax = dict(FAST, scaling="minmax")
    dense = AutoencoderTransformer(**minmax).fit(X)
    sparse = AutoencoderTransformer(**minmax).fit(container(X))
    assert_array_equal(dense.input_offset_, sparse.input_offset_)
    assert_array_equal(dense.input_scale_, sparse.input_scale_)


# Column ranges of CSR matrices come from the stored values (no CSC copy of X),
# unstored zeros, explicit zeros, empty and negative columns included.
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_csr_min_max(dtype):
    X = sp.random(60, 12, density=0.2, format="lil", random_state=0, dtype=dtype)
    X[:, 3], X[:, 5], X[:, 7] = 0, -2.0, 0.5
    X = X.tocsr()
    X.data[X.indices == 7] = 0  # stored zeros
    low, high = csr_min_max(X)
    assert low.dtype == dtype
    assert_array_equal(low, X.toarray().min(axis=0))
    assert_array_equal(high, X.toarray().max(axis=0))


# DataFrames keep their column names; set_output returns DataFrames.
def test_pandas_in_and_out(small_X):
    df = pd.DataFrame(small_X, columns=[f"c{i}" for i in range(20)])
    ae = AutoencoderTransformer(n_components=3, **FAST).set_output(transform="pandas")
    codes = ae.fit_transform(df)
    assert isinstance(codes, pd.DataFrame)
    assert list(codes.columns) == [
        "autoencodertransformer0",
        "autoencodertransformer1",
        "autoencodertransformer2",
    ]
    assert_array_equal(ae.feature_names_in_, df.columns)


# partial_fit trains one epoch per call and continues from the previous state.
def test_partial_fit(small_X):
    ae = AutoencoderTransformer(**FAST)
    for chunk in np.array_split(small_X, 4):
        ae.partial_fit(chunk)
    assert ae.n_iter_ == 4
    losses = [ae.partial_fit(small_X).loss_curve_[-1] for _ in range(20)]
    assert losses[-1] < losses[0]


# The summaries that score_samples and sample use run over all the chunks of a
# stream, each encoded as the network was after its call: those of the rows
# stacked, so that a last chunk of one row does not make the codes' covariance
# singular.
def test_partial_fit_summaries_run_over_the_stream(small_X):
    ae = AutoencoderTransformer(n_components=3, **FAST)
    codes, squared_residuals = [], []
    for chunk in (small_X[:99], small_X[99:]):
        ae.partial_fit(chunk)
        codes.append(ae.transform(chunk))
        squared_residuals.append((chunk - ae.inverse_transform(codes[-1])) ** 2)
    codes, squared_residuals = np.vstack(codes), np.vstack(squared_residuals)
    assert_allclose(ae.latent_mean_, codes.mean(axis=0), rtol=1e-6)
    assert_allclose(ae.latent_covariance_, np.cov(codes.T, bias=True), rtol=1e-6)
    floor = 1e-6 * np.mean(ae.input_scale_**2)
    expected = np.maximum(squared_residuals.mean(axis=0), floor)
    assert_allclose(ae.noise_variance_, expected, rtol=1e-4)
    # fit starts them anew, on its own data, with which a later partial_fit pools.
    ae.fit(small_X)
    fitted = ae.transform(small_X)
    assert_allclose(ae.latent_mean_, fitted.mean(axis=0), rtol=1e-6)
    ae.partial_fit(small_X[:10])
    pooled = np.vstack([fitted, ae.transform(small_X[:10])])
    assert_allclose(ae.latent_mean_, pooled.mean(axis=0), rtol=1e-6)


# The scaling centres each batch in X's precision before float32: features
# whose offset dwarfs their spread (timestamps) keep that spread, and the
# reconstructions get the offset back in float64. (Converted first, the first
# columns, of spread ~0.02, were rounded to steps of 0.06: 40 times the error.)
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_large_offsets_keep_the_spread(small_X, Estimator):
    def relative_error(model, X):  # on the four columns of smallest spread
        residual = (X - model.inverse_transform(model.transform(X)))[:, :4]
        return np.mean(residual**2) / X[:, :4].var()

    offset = 1e6
    plain = Estimator(n_components=3, scaling="standard", **FAST).fit(small_X)
    shifted = Estimator(n_components=3, scaling="standard", **FAST).fit(small_X + offset)
    # Not exactly equal: Adam's first steps amplify the float32 round-off.
    expected = pytest.approx(relative_error(plain, small_X), rel=0.01)
    assert relative_error(shifted, small_X + offset) == expected


# Data in tiny units (std 1e-20) is scaled like any other, as StandardScaler
# does: only a spread within rounding of the offset counts as constant.
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
@pytest.mark.parametrize("scaling", ["standard", "minmax"])
def test_tiny_units_are_scaled(small_X, Estimator, scaling):
    plain = Estimator(n_components=3, scaling=scaling, **FAST).fit(small_X)
    tiny = Estimator(n_components=3, scaling=scaling, **FAST).fit(small_X * 1e-20)
    assert_allclose(tiny.input_scale_, plain.input_scale_ * 1e-20)
    # Not exactly equal: Adam's first steps amplify the float32 round-off.
    assert_allclose(tiny.transform(small_X * 1e-20), plain.transform(small_X), atol=0.02)
    # Constant features of any value keep scale 1, although their summed mean
    # rounds (a spread of ~1e-15 that scaling would blow up to 1).
    constant = np.tile(np.random.RandomState(1).uniform(0, 1, 20), (1000, 1))
    model = Estimator(n_components=3, scaling=scaling, **FAST).fit(constant)
    assert_array_equal(model.input_scale_, np.ones(20))


# warm_start continues training; without it fit starts anew.
def test_warm_start(small_X):
    ae = AutoencoderTransformer(**{**FAST, "warm_start": True}).fit(small_X)
    ae.fit(small_X)
    assert ae.n_iter_ == 10
    cold = AutoencoderTransformer(**FAST).fit(small_X).fit(small_X)
    assert cold.n_iter_ == 5


# A warm start applies changed training parameters, and refuses to change the
# network it continues (partial_fit too); a fresh fit may change anything.
def test_warm_start_parameters(small_X):
    ae = AutoencoderTransformer(**{**FAST, "warm_start": True}).fit(small_X)
    ae.set_params(alpha=0.5, hidden_layer_sizes=list(FAST["hidden_layer_sizes"])).fit(small_X)
    assert ae.optimizer_.param_groups[0]["weight_decay"] == 0.5
    # The same network, spelled differently: no refusal.
    hidden = np.array(FAST["hidden_layer_sizes"])
    for same in [{"hidden_layer_sizes": hidden}, {"device": "cpu"}, {"scaling": "global"}]:
        ae.set_params(**same).fit(small_X)
    fitted = ae.get_params()
    changes = [("n_components", 3), ("loss", "bce"), ("hidden_layer_sizes", (4,))]
    changes += [("init", "random")]
    for name, value in changes:
        with pytest.raises(ValueError, match=rf"has changed: {name} .* -> "):
            ae.set_params(**{name: value}).fit(small_X)
        with pytest.raises(ValueError, match=rf"has changed: {name} .* -> "):
            ae.partial_fit(small_X)
        ae.set_params(**fitted)
    ae.set_params(warm_start=False, n_components=3).fit(small_X)
    assert ae.transform(small_X).shape == (len(small_X), 3)


# Early stopping tracks a validation loss and restores the best epoch's weights;
# the starting point (epoch 0) is a candidate too.
@pytest.mark.parametrize("init", ["pca", "random"])
def test_early_stopping(small_X, init, assert_starts_as_pca):
    params = dict(init=init, n_iter_no_change=3, learning_rate_init=0.01, random_state=0)
    ae = AutoencoderTransformer(max_iter=300, **params).fit(small_X)
    curve = ae.validation_loss_curve_
    assert len(curve) == ae.n_iter_ < 300
    assert min(curve) > ae.best_loss_ - ae.tol  # the best: no epoch lower by tol
    if ae.best_epoch_ > 0:
        assert ae.best_loss_ == pytest.approx(curve[ae.best_epoch_ - 1])
        # The weights are the best epoch's: a fit that stops there gives the same model.
        stopped = AutoencoderTransformer(max_iter=ae.best_epoch_, **params).fit(small_X)
        assert_allclose(ae.transform(small_X), stopped.transform(small_X), rtol=1e-5, atol=1e-6)
    else:  # the start, PCA: the non-linear corrections are still zero
        assert_starts_as_pca(ae.network_)
    assert (init, ae.best_epoch_ > 0) in [("pca", False), ("random", True)]  # both cases run
    # No epoch improves by a tol larger than any loss: the start is kept.
    huge_tol = AutoencoderTransformer(max_iter=50, **{**params, "tol": 1e6}).fit(small_X)
    assert (huge_tol.n_iter_, huge_tol.best_epoch_) == (3, 0)


# partial_fit after an early-stopping fit judges progress on its own training
# loss, not against the fit's best validation loss (here the smaller one).
def test_partial_fit_after_early_stopping():
    X = np.random.RandomState(0).rand(80, 10)
    ae = AutoencoderTransformer(max_iter=2, warm_start=True, random_state=0).fit(X).fit(X)
    ae.partial_fit(X)
    assert ae.loss_curve_[-1] > min(ae.validation_loss_curve_)
    assert (ae.best_loss_, ae.best_epoch_) == (ae.loss_curve_[-1], ae.n_iter_)


# fit warns, as scikit-learn's MLPs do, when max_iter ends training before it
# converged; partial_fit, one epoch by definition, does not.
def test_convergence_warning(small_X):
    with pytest.warns(ConvergenceWarning, match="max_iter=2 epochs were reached"):
        AutoencoderTransformer(max_iter=2, random_state=0).fit(small_X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        AutoencoderTransformer(n_iter_no_change=2, max_iter=300, random_state=0).fit(small_X)
        AutoencoderTransformer(max_iter=1, random_state=0).partial_fit(small_X)


# learning_rate='adaptive' divides the rate at a plateau where 'constant' stops,
# and goes on from the best weights: the same start, never a worse optimum.
def test_adaptive_learning_rate(small_X, capsys):
    params = dict(
        n_components=2, neighbor_weight=0.0, n_iter_no_change=2, max_iter=300,
        learning_rate_init=0.01, random_state=0,
    )  # fmt: skip
    constant = AutoencoderTransformer(**params).fit(small_X)
    adaptive = AutoencoderTransformer(learning_rate="adaptive", verbose=2, **params).fit(small_X)
    assert "Learning rate set to 0.002" in capsys.readouterr().err
    n = constant.n_iter_
    assert adaptive.validation_loss_curve_[:n] == constant.validation_loss_curve_
    assert adaptive.n_iter_ > n and adaptive.best_loss_ < constant.best_loss_
    assert adaptive.optimizer_.param_groups[0]["lr"] < 0.01
    # Each fit starts at learning_rate_init again.
    adaptive.set_params(warm_start=True, max_iter=1).fit(small_X)
    assert adaptive.optimizer_.param_groups[0]["lr"] == 0.01


# Drops into Pipeline, GridSearchCV (with parallel jobs, scored by `score`) and cross_val_score.
def test_pipeline_and_grid_search(digits):
    X, y = digits[0][:300], digits[1][:300]
    pipe = Pipeline(
        [
            ("ae", AutoencoderTransformer(n_components=8, **{**FAST, "max_iter": 3})),
            ("clf", LogisticRegression(max_iter=200)),
        ]
    )
    assert cross_val_score(pipe, X, y, cv=2).mean() > 0.3
    search = GridSearchCV(
        AutoencoderTransformer(**FAST), {"n_components": [2, 4]}, cv=KFold(2), n_jobs=2
    )
    search.fit(X)
    assert search.best_params_["n_components"] in (2, 4)
    # Scored by score: the mean log-density of the held-out fold.
    train, test = next(KFold(2).split(X))
    first = AutoencoderTransformer(**{**FAST, "n_components": 2}).fit(X[train])
    expected = first.score_samples(X[test]).mean()
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(expected)
    assert clone(search.best_estimator_).get_params() == search.best_estimator_.get_params()


# A model pickles with its weights, and one fitted on CUDA loads on a CPU-only machine.
def test_pickle_round_trip_and_gpu_to_cpu(small_X, monkeypatch):
    ae = AutoencoderTransformer(**FAST).fit(small_X)
    codes = ae.transform(small_X)
    restored = pickle.loads(pickle.dumps(ae))
    assert_array_equal(restored.transform(small_X), codes)
    # Pretend the model was fitted on CUDA: it must come back on the CPU here.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ae.device_ = torch.device("cuda")
    restored = pickle.loads(pickle.dumps(ae))
    assert restored.device_ == torch.device("cpu")
    assert_array_equal(restored.transform(small_X), codes)


# The VAE shares the contract: pandas names and pickling work the same way.
def test_vae_pickle_and_pandas(small_X):
    vae = VAETransformer(n_components=3, **FAST).fit(small_X)
    restored = pickle.loads(pickle.dumps(vae))
    assert_array_equal(restored.score_samples(small_X), vae.score_samples(small_X))
    df = pd.DataFrame(small_X, columns=[f"c{i}" for i in range(20)])
    codes = VAETransformer(n_components=3, **FAST).set_output(transform="pandas").fit_transform(df)
    assert list(codes.columns) == ["vaetransformer0", "vaetransformer1", "vaetransformer2"]
    assert list(vae.fit(df).feature_names_in_) == list(df.columns)


# score_samples is a density in X's units for both losses: scaling X by 10
# lowers it by d * log(10), as for the VAE (test_score_includes_the_scaling_jacobian).
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_score_includes_the_scaling_jacobian(loss):
    X = np.random.RandomState(0).rand(100, 16)
    X[0], X[1] = 0, 1  # every feature spans [0, 1], so min-max scales 10 X back to X
    params = dict(loss=loss, scaling="minmax", **FAST)
    a = AutoencoderTransformer(**params).fit(X)
    b = AutoencoderTransformer(**params).fit(10 * X)
    assert a.score(X) - b.score(10 * X) == pytest.approx(16 * np.log(10), rel=1e-4)


# Column-major input (a DataFrame's values) trains from a row-major copy, made
# after the scaling statistics: the same model as before, bit for bit.
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_column_major_input(small_X, Estimator, tmp_path):
    column_major = np.asfortranarray(small_X)
    model = Estimator(**FAST).fit(column_major)
    expected = Estimator(**FAST).fit(small_X)
    assert_array_equal(model.transform(small_X), expected.transform(small_X))
    assert_array_equal(model.score_samples(small_X), expected.score_samples(small_X))
    # A memory map is not copied: it may be larger than memory.
    np.save(tmp_path / "X.npy", column_major)
    mapped = check_array(np.load(tmp_path / "X.npy", mmap_mode="r"))
    assert not mapped.flags.c_contiguous and row_major(mapped) is mapped
    # An np.memmap made in memory (by astype) is copied like any array.
    in_memory = np.load(tmp_path / "X.npy", mmap_mode="r").astype(np.float32)
    assert not in_memory.flags.c_contiguous and row_major(in_memory).flags.c_contiguous


# mixed_precision=True trains under bf16 autocast to about the float32 loss;
# the VAE's posterior, and so its KL and draws, stays in float32.
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_mixed_precision(small_X, Estimator):
    # A code smaller than the data's three dimensions, so that training has work to do.
    full = Estimator(n_components=2, **FAST).fit(small_X)
    mixed = Estimator(n_components=2, mixed_precision=True, **FAST).fit(small_X)
    assert mixed.loss_curve_[-1] == pytest.approx(full.loss_curve_[-1], rel=0.1)
    assert mixed.loss_curve_ != full.loss_curve_  # bfloat16 was used
    assert np.isfinite(mixed.score_samples(small_X)).all()
    if Estimator is VAETransformer:
        x = torch.as_tensor(small_X[:5], dtype=torch.float32)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mean, logvar = mixed.network_.encode(x)
        assert mean.dtype == logvar.dtype == torch.float32


# The scaling's variances are summed in chunks (no float64 copy of X), to the
# bit of X.var; 2**14 features make chunks of 64 rows.
def test_chunked_variances_equal_numpy():
    X = np.random.RandomState(0).normal(3.0, 2.0, size=(200, 2**14)).astype(np.float32)
    for data in (X, np.asfortranarray(X)):
        mean, variance = mean_variance(data)
        assert_array_equal(mean, data.mean(axis=0, dtype=np.float64))
        assert_array_equal(variance, data.var(axis=0, dtype=np.float64))
