"""Bad input and bad parameters get clear errors naming the problem."""

import copy

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
import torch
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError

import skae._validation
from conftest import TINY
from skae import AutoencoderTransformer, VAETransformer

ESTIMATORS = [AutoencoderTransformer, VAETransformer]


@pytest.fixture
def X():
    return np.random.RandomState(0).normal(size=(30, 5))


# NaN marks a missing entry (tests/test_missing_values.py); inf is an error.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_input(Estimator, X, value):
    X[3, 2] = value
    with pytest.raises(ValueError, match="infinity"):
        Estimator(**TINY).fit(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_empty_input(Estimator):
    with pytest.raises(ValueError, match="0 sample"):
        Estimator(**TINY).fit(np.empty((0, 5)))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_wrong_number_of_features(Estimator, X):
    est = Estimator(**TINY).fit(X)
    with pytest.raises(ValueError, match="X has 4 features, but .* expecting 5 features"):
        est.transform(X[:, :4])
    with pytest.raises(ValueError, match="expects codes of n_components=2"):
        est.inverse_transform(np.zeros((3, 5)))


# Images passed as a 3-D array: the error says how to pass them.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_image_arrays_are_flattened_first(Estimator):
    images = np.random.RandomState(0).rand(20, 8, 8)
    with pytest.raises(ValueError, match=r"X has 3 dimensions .* image_shape=\(H, W\)"):
        Estimator(architecture="conv", **TINY).fit(images)
    fitted = Estimator(architecture="conv", **TINY).fit(images.reshape(20, -1))
    with pytest.raises(ValueError, match="X has 3 dimensions"):
        fitted.transform(images)
    with pytest.raises(ValueError, match="X has 3 dimensions"):
        fitted.transform(images.tolist())
    with pytest.raises(ValueError, match="inhomogeneous"):  # ragged: scikit-learn's error
        fitted.transform([[0.0] * 64, [0.0] * 63])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_n_components_above_n_features(Estimator, X):
    with pytest.raises(ValueError, match="n_components=6 must be between 1 and n_features=5"):
        Estimator(n_components=6, **TINY).fit(X)


# The default, 'auto': half the features (at least 1), at most 32.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("n_features, expected", [(1, 1), (3, 1), (5, 2), (64, 32), (100, 32)])
def test_auto_n_components(Estimator, n_features, expected):
    X = np.random.RandomState(0).normal(size=(30, n_features))
    est = Estimator(**TINY).fit(X)
    assert est.n_components == "auto" and est.n_components_ == expected
    assert est.transform(X).shape == (30, expected)
    assert len(est.get_feature_names_out()) == expected


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_too_few_samples_for_validation(Estimator):
    with pytest.raises(ValueError, match="no training samples are left"):
        Estimator(early_stopping=True, **TINY).fit(np.ones((1, 3)))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_non_numeric_columns(Estimator, X):
    df = pd.DataFrame(X).assign(city=["a", "b", "c"] * 10)
    df.columns = df.columns.astype(str)
    with pytest.raises(TypeError, match=r"non-numeric columns \['city'\]"):
        Estimator(**TINY).fit(df)
    # Numbers held in object columns are numbers, as check_array takes them.
    numbers = pd.DataFrame(X).astype(object)
    assert_array_equal(
        Estimator(**TINY).fit(numbers).transform(numbers), Estimator(**TINY).fit(X).transform(X)
    )
    # A long list of columns is cut short.
    with pytest.raises(TypeError, match=r"'4', '... \(8 in all\)'\]"):
        Estimator(**TINY).fit(pd.DataFrame(np.full((5, 8), "s")))
    # Durations are not numbers (NumPy counts them as integers), numeric categories are.
    durations = df.assign(city=pd.to_timedelta(np.arange(30), unit="s"))
    with pytest.raises(TypeError, match=r"non-numeric columns \['city'\]"):
        Estimator(**TINY).fit(durations)
    categories = df.assign(city=pd.Categorical([1.0, 2.0, 3.0] * 10))
    expected = Estimator(**TINY).fit(categories.astype(float)).transform(categories.astype(float))
    assert_array_equal(Estimator(**TINY).fit(categories).transform(categories), expected)


# Finite float64 values beyond float32's range, or whose spread exceeds it,
# would become inf in the networks: a clear error in fit, and in the methods
# that take new X, but for scores: those rows are the least typical of all.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_values_beyond_float32(Estimator, X):
    with pytest.raises(ValueError, match=r"X lies up to \d\.\d+e\+40 from the scaling's offset"):
        Estimator(**TINY).fit(X * 1e40)
    spread = X.copy()
    spread[:, 0] = np.where(np.arange(len(X)) % 2, 2e38, -2e38)  # each value within range
    with pytest.raises(ValueError, match="beyond the range of float32"):
        Estimator(**{**TINY, "scaling": "minmax"}).fit(spread)
    model = Estimator(**TINY).fit(X)
    with pytest.raises(ValueError, match="Some codes are not finite"):
        model.transform(sp.csr_matrix(-X * 1e40))
    assert_array_equal(model.score_samples(X * 1e40), -np.inf)
    with pytest.raises(ValueError, match="Some outputs are not finite"):
        model.inverse_transform(np.full((3, 2), 1e39))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_complex_dtype(Estimator, X):
    with pytest.raises(ValueError, match="Complex data not supported"):
        Estimator(**TINY).fit(X + 1j)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_components": 0}, "'n_components' parameter .* must be an int in the range"),
        ({"n_components": "all"}, "'n_components' parameter .* a str among {.*'auto'.*}"),
        ({"activation": "swish"}, "'activation' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"learning_rate_init": -1.0}, "'learning_rate_init' parameter"),
        ({"learning_rate": "invscaling"}, "'learning_rate' parameter"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
        ({"scaling": "robust"}, "'scaling' parameter"),
        ({"noise": "salt"}, "'noise' parameter"),
        ({"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes must hold positive integers"),
        ({"hidden_layer_sizes": (2.5,)}, "hidden_layer_sizes must hold positive integers"),
        ({"hidden_layer_sizes": [[3, 4]]}, "hidden_layer_sizes must hold positive integers"),
        ({"hidden_layer_sizes": [8, [4]]}, "hidden_layer_sizes must hold positive integers"),
        ({"device": "tpu"}, "device='tpu' is not a valid torch device"),
        ({"device": "meta"}, r"device='meta' is not usable on this machine \(NotImplementedError"),
        ({"noise": "masking", "noise_level": 1.0}, r"noise_level must be in \[0, 1\)"),
        ({"contamination": 0.6}, "'contamination' parameter"),
        ({"neighbor_weight": -1.0}, "'neighbor_weight' parameter"),
        ({"perplexity": 0.5}, "'perplexity' parameter"),
    ],
)
def test_bad_parameters(Estimator, X, params, message):
    with pytest.raises(ValueError, match=message):
        Estimator(**{**TINY, **params}).fit(X)


# One hidden layer may be given as an int; a conv network needs a convolution.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_hidden_layer_sizes_forms(Estimator):
    X = np.random.RandomState(0).rand(30, 16)
    as_int = Estimator(**{**TINY, "hidden_layer_sizes": 8}).fit(X)
    assert_array_equal(as_int.transform(X), Estimator(**TINY).fit(X).transform(X))
    with pytest.raises(ValueError, match="needs at least one convolution"):
        Estimator(**{**TINY, "architecture": "conv", "hidden_layer_sizes": ()}).fit(X)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"beta": -1.0}, "'beta' parameter"),
        ({"kl_warmup": -1}, "'kl_warmup' parameter"),
        ({"n_importance_samples": 0}, "'n_importance_samples' parameter"),
        ({"n_training_draws": 0}, "'n_training_draws' parameter"),
        ({"likelihood": "poisson"}, "'likelihood' parameter"),
    ],
)
def test_bad_vae_parameters(X, params, message):
    with pytest.raises(ValueError, match=message):
        VAETransformer(**{**TINY, **params}).fit(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_cuda_unavailable(Estimator, X, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device='cuda' was requested, but CUDA is not available"):
        Estimator(device="cuda", **TINY).fit(X)
    assert Estimator(device="auto", **TINY).fit(X).device_ == torch.device("cpu")


# Cross-entropy needs X in [0, 1]: explicit scaling=None on raw data is an error;
# the default scaling='auto' maps its overall range to [0, 1] instead.
def test_bce_needs_unit_interval(X):
    with pytest.raises(ValueError, match=r"loss='bce' needs X in \[0, 1\]"):
        AutoencoderTransformer(loss="bce", scaling=None, **TINY).fit(X)
    ae = AutoencoderTransformer(loss="bce", **TINY).fit(X)
    assert ae.scaling_ == "global_minmax"
    unit = np.abs(X) / np.abs(X).max()
    ae = AutoencoderTransformer(loss="bce", **TINY).fit(unit)  # in [0, 1]: not scaled
    assert ae.scaling_ is None
    # Continuing on data outside the fitted range is an error, whose hint follows
    # the fitted model, not a scaling parameter changed after fit.
    with pytest.raises(ValueError, match="outside the range of the data the model was fitted"):
        ae.set_params(scaling=None).partial_fit(unit * 2)
    with pytest.raises(ValueError, match="Use scaling='auto', 'global_minmax' or 'minmax'"):
        AutoencoderTransformer(loss="bce", scaling="standard", **TINY).fit(unit)
    with pytest.raises(ValueError, match=r"likelihood='bernoulli' needs X in \[0, 1\]"):
        VAETransformer(likelihood="bernoulli", scaling=None, **TINY).fit(X)


# A diverging fit stops with a clear error and leaves a fitted model unharmed.
def test_divergence_is_an_error(X):
    ae = AutoencoderTransformer(**{**TINY, "warm_start": True}).fit(X)
    before = ae.transform(X)
    ae.set_params(learning_rate_init=1e30)
    ae.optimizer_.param_groups[0]["lr"] = 1e30
    with pytest.raises(FloatingPointError, match="Training diverged at epoch"):
        ae.fit(X * 1e30)
    np.testing.assert_array_equal(ae.transform(X), before)
    # The optimizer is restored too, and no loss of the failed epoch is kept:
    # training goes on normally at a sane learning rate.
    assert len(ae.validation_loss_curve_) == len(ae.loss_curve_)
    ae.set_params(learning_rate_init=1e-3).fit(X)
    assert np.isfinite(ae.loss_curve_[-1]) and len(ae.validation_loss_curve_) == len(ae.loss_curve_)


# A loss that explodes but stays finite (saturated units) is divergence too,
# with or without early stopping, which would otherwise keep the starting weights.
@pytest.mark.parametrize(
    "Estimator, early_stopping, init",
    [
        (AutoencoderTransformer, False, "pca"),
        (AutoencoderTransformer, True, "random"),
        (VAETransformer, False, "pca"),
    ],
)
def test_finite_divergence_is_an_error(Estimator, early_stopping, init):
    X = np.random.RandomState(0).normal(size=(200, 5))
    est = Estimator(
        hidden_layer_sizes=(8,), max_iter=15, learning_rate_init=1e4, init=init,
        early_stopping=early_stopping, random_state=0,
    )  # fmt: skip
    with pytest.raises(FloatingPointError, match=r"epoch \d: the training loss grew from"):
        est.fit(X)
    with pytest.raises(NotFittedError):
        est.transform(X)


# A loss dominated by a few samples that the first batch misses is no
# divergence: the rule then compares with the starting loss on all the rows.
def test_heavy_tails_are_not_divergence():
    X = np.random.RandomState(0).normal(size=(5000, 6))
    X[[0, 7, 14], [0, 1, 2]] = 1e4
    ae = AutoencoderTransformer(
        n_components=1, hidden_layer_sizes=(8,), scaling=None, early_stopping=False,
        max_iter=2, random_state=0,
    ).fit(X)  # fmt: skip
    assert ae.loss_curve_[0] > 1000 and ae.loss_curve_[-1] < ae.loss_curve_[0]


# A fresh fit that diverges leaves no model that looks fitted.
def test_diverged_fresh_fit_is_not_fitted(X):
    ae = AutoencoderTransformer(**{**TINY, "learning_rate_init": 1e30})
    with pytest.raises(FloatingPointError, match="epoch 1: the validation loss became nan"):
        ae.fit(X * 1e30)
    with pytest.raises(NotFittedError):
        ae.transform(X)
    # Any failure of a fresh fit, after a good one.
    ae = AutoencoderTransformer(**TINY).fit(X).set_params(loss="bce", scaling=None)
    with pytest.raises(ValueError, match="needs X in"):
        ae.fit(X * 3)
    with pytest.raises(NotFittedError):
        ae.transform(X)


# Parameters are stored as given and never changed by fit.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_parameters_not_mutated(Estimator, X):
    est = Estimator(hidden_layer_sizes=[8], max_iter=2, device="auto", scaling="auto")
    params = copy.deepcopy(est.get_params())  # get_params returns the objects held
    est.fit(X)
    assert est.get_params() == params


# A model pickled on a device this machine cannot use (MPS, another GPU
# backend) loads on the CPU; 'meta' stands in for it, being unusable everywhere.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_unpickling_on_a_machine_without_the_device(Estimator, X):
    est = Estimator(**TINY).fit(X)
    state = {**est.__getstate__(), "device_": torch.device("meta"), "optimizer_": None}
    restored = Estimator.__new__(Estimator)
    restored.__setstate__(state)
    assert restored.device_ == torch.device("cpu")
    assert_array_equal(restored.transform(X), est.transform(X))


# The fitted methods use the fitted code size, whatever set_params did since
# (as PCA works from its components_); names need a fit.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_fitted_methods_ignore_a_changed_n_components(Estimator, X):
    with pytest.raises(NotFittedError):
        Estimator(n_components=3).get_feature_names_out()
    est = Estimator(n_components=2, **TINY).fit(X)
    codes, scores = est.transform(X), est.score_samples(X)
    est.set_params(n_components=4)
    assert est.n_components_ == 2 and len(est.get_feature_names_out()) == 2
    assert_array_equal(est.transform(X), codes)
    assert_array_equal(est.score_samples(X), scores)
    assert est.inverse_transform(codes).shape == X.shape
    assert est.sample(3, random_state=0).shape == (3, 5)
    assert est.interpolate(X[0], X[1], n_steps=3).shape == (3, 5)
    assert est.set_output(transform="pandas").transform(X).shape == (30, 2)
    with pytest.raises(ValueError, match="n_components 2 -> 4"):
        est.partial_fit(X)


# True passes the integer checks (True == 1), as for PCA, and counts as 1.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_booleans_count_as_integers(Estimator, X):
    est = Estimator(n_components=True, **{**TINY, "hidden_layer_sizes": (True, 8)}).fit(X)
    assert est.n_components_ == 1 and type(est.n_components_) is int
    assert est.transform(X).shape == (30, 1)
    assert est.sample(True, random_state=0).shape == (1, 5)


# Likewise the loss or likelihood: the fitted network's, not the parameter's.
@pytest.mark.parametrize(
    "Estimator, changes",
    [
        (AutoencoderTransformer, {"loss": ("mse", "bce")}),
        (AutoencoderTransformer, {"loss": ("bce", "mse")}),
        (VAETransformer, {"likelihood": ("gaussian", "bernoulli")}),
    ],
)
def test_fitted_methods_ignore_a_changed_likelihood(Estimator, changes, X):
    ((name, (fitted, changed)),) = changes.items()
    X = X if fitted != "bce" else np.abs(X) / np.abs(X).max()
    est = Estimator(**{name: fitted}, **TINY).fit(X)
    scores = est.score_samples(X)
    est.set_params(**{name: changed})
    assert_array_equal(est.score_samples(X), scores)
    with pytest.raises(ValueError, match=f"{name} {fitted!r} -> {changed!r}"):
        est.partial_fit(X)


# NumPy integers pass the integer constraints (a grid of np.arange), and work.
# (Without early stopping, which may keep the VAE's start, posteriors at the
# prior, after two epochs of a step or two.)
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_numpy_integer_parameters(Estimator, X):
    integers = dict(batch_size=np.int64(8), max_iter=np.uint8(2), n_iter_no_change=np.int32(2))
    integers["early_stopping"] = False
    if Estimator is VAETransformer:
        integers.update(
            kl_warmup=np.int64(1), n_importance_samples=np.uint8(3), n_training_draws=np.int16(2)
        )
    est = Estimator(n_components=np.int64(2), hidden_layer_sizes=(8,), **integers).fit(X)
    est.partial_fit(X)
    assert np.isfinite(est.score_samples(X)).all()


# partial_fit checks the parameters on every call, not only the first
# (set_params may come between calls), as does the VAE's scoring.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_parameters_checked_after_the_first_partial_fit(Estimator, X):
    est = Estimator(**TINY).partial_fit(X)
    with pytest.raises(ValueError, match="'learning_rate_init' parameter"):
        est.set_params(learning_rate_init=-0.05).partial_fit(X)
    est.set_params(learning_rate_init=1e-3, max_iter=0)  # not read by partial_fit
    with pytest.raises(ValueError, match="'max_iter' parameter"):
        est.partial_fit(X)
    with sklearn.config_context(skip_parameter_validation=True):  # unless told not to
        est.partial_fit(X)
    if Estimator is VAETransformer:  # scoring checks what it reads only
        assert np.isfinite(est.score_samples(X)).all()
        with pytest.raises(ValueError, match="'n_importance_samples' parameter"):
            est.set_params(n_importance_samples=0).score_samples(X)


# A finite float matrix of the fitted width skips validate_data (its checks
# were most of a single-row transform); everything else still gets its errors.
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_fast_path_gives_validate_data_s_results_and_errors(Estimator, X, monkeypatch):
    est = Estimator(**TINY).fit(X)
    rows = {dtype: X[:7].astype(dtype) for dtype in (np.float32, np.float64)}
    fast = {dtype: est.transform(values) for dtype, values in rows.items()}
    with monkeypatch.context() as patch:
        patch.setattr(skae._validation, "_is_finite_float_matrix", lambda *args: False)
        for dtype, values in rows.items():
            assert_array_equal(fast[dtype], est.transform(values))
            assert fast[dtype].dtype == dtype
    bad = X[:3].copy()
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        est.transform(bad)
    bad[1] = np.nan
    with pytest.raises(ValueError, match="no observed value"):
        est.transform(bad)
    with pytest.raises(ValueError, match="X has 4 features, but .* expecting 5 features"):
        est.transform(X[:3, :4].copy())
    with pytest.raises(ValueError, match="0 sample"):
        est.transform(X[:0])
    named = Estimator(**TINY).fit(pd.DataFrame(X, columns=list("abcde")))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        named.transform(X[:3])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_transform_evaluates_a_network_left_in_training_mode(Estimator, X):
    est = Estimator(**TINY).fit(X)
    codes = est.transform(X)
    est.network_.train()
    assert_array_equal(est.transform(X), codes)
    assert not est.network_.training
