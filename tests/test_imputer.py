"""AutoencoderImputer: scikit-learn's imputer API over skae's estimators."""

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skae import AutoencoderImputer, AutoencoderTransformer, VAETransformer

SMALL = dict(
    n_components=2, neighbor_weight=0.0, hidden_layer_sizes=(32,), max_iter=30, random_state=0
)


@pytest.fixture(scope="module")
def low_rank():
    """Rows on a 2-D curved surface in 8 dimensions, 30% of entries missing."""
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(600, 2))
    X = np.tanh(latent @ rng.normal(size=(2, 8))) + 0.05 * rng.normal(size=(600, 8))
    missing = rng.rand(*X.shape) < 0.3
    missing[missing.all(axis=1), 0] = False
    return X, np.where(missing, np.nan, X)


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_imputes_better_than_the_mean(Estimator, low_rank):
    X, X_missing = low_rank
    missing = np.isnan(X_missing)
    imputer = AutoencoderImputer(Estimator(**SMALL))
    filled = imputer.fit_transform(X_missing)
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~missing], X_missing[~missing])  # untouched

    def rmse(imputed):
        return np.sqrt(np.mean((imputed[missing] - X[missing]) ** 2))

    mean_filled = SimpleImputer().fit_transform(X_missing)
    assert rmse(filled) < 0.7 * rmse(mean_filled)
    assert X_missing is not filled and np.isnan(X_missing).sum() == missing.sum()


def test_placeholder_indicator_and_names(low_rank):
    _, X_missing = low_rank
    X_placeholder = np.where(np.isnan(X_missing), -999.0, X_missing)
    frame = pd.DataFrame(X_placeholder, columns=[f"f{i}" for i in range(8)])
    imputer = AutoencoderImputer(
        AutoencoderTransformer(**SMALL | {"max_iter": 2}), missing_values=-999.0, add_indicator=True
    ).set_output(transform="pandas")
    out = imputer.fit_transform(frame)
    assert list(out.columns[:8]) == list(frame.columns)
    assert list(out.columns[8:]) == [f"missingindicator_f{i}" for i in range(8)]
    np.testing.assert_array_equal(out.iloc[:, 8:].to_numpy(), X_placeholder == -999.0)
    assert not (out.iloc[:, :8].to_numpy() == -999.0).any()


def test_in_a_pipeline(low_rank):
    X, X_missing = low_rank
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    pipe = make_pipeline(
        AutoencoderImputer(AutoencoderTransformer(**SMALL | {"max_iter": 5})),
        LogisticRegression(),
    )
    assert pipe.fit(X_missing, y).score(X_missing, y) > 0.6


def test_complete_rows_pass_through(low_rank):
    X, X_missing = low_rank
    imputer = AutoencoderImputer(AutoencoderTransformer(**SMALL | {"max_iter": 2})).fit(X_missing)
    np.testing.assert_array_equal(imputer.transform(X), X)


# The default estimator hides entries in training, and random_state fixes it.
def test_default_estimator_is_seeded(low_rank):
    _, X_missing = low_rank
    first = AutoencoderImputer(random_state=0).fit(X_missing[:200])
    assert first.estimator_.noise == "missing" and first.estimator_.random_state == 0
    again = AutoencoderImputer(random_state=0).fit(X_missing[:200])
    np.testing.assert_array_equal(first.transform(X_missing), again.transform(X_missing))


# The MAP code given the observed entries imputes better than the encoder's,
# which reads a missing entry as the fill; code='encoder' is that
# inverse_transform(transform(X)), from the same fit.
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_map_codes_impute_better_than_the_encoder(Estimator, low_rank):
    X, X_missing = low_rank
    missing = np.isnan(X_missing)
    imputer = AutoencoderImputer(Estimator(**SMALL | {"noise": "missing"})).fit(X_missing)
    by_map = imputer.transform(X_missing)
    by_encoder = imputer.set_params(code="encoder").transform(X_missing)
    estimator = imputer.estimator_
    decoded = estimator.inverse_transform(estimator.transform(X_missing))
    np.testing.assert_array_equal(by_encoder[missing], decoded[missing])

    def rmse(imputed):
        return np.sqrt(np.mean((imputed[missing] - X[missing]) ** 2))

    assert rmse(by_map) < 0.9 * rmse(by_encoder)
    np.testing.assert_array_equal(by_map[~missing], X_missing[~missing])


# A row's imputed values do not depend on the other rows imputed with it.
def test_map_imputation_of_a_row_does_not_depend_on_its_batch(low_rank):
    _, X_missing = low_rank
    imputer = AutoencoderImputer(AutoencoderTransformer(**SMALL)).fit(X_missing)
    together = imputer.transform(X_missing)
    np.testing.assert_array_equal(imputer.transform(X_missing[:50]), together[:50])
    np.testing.assert_array_equal(imputer.transform(X_missing[7:8]), together[7:8])


class _ZeroFilledPCA(PCA):
    """A PCA that reads a missing entry as 0: an estimator of another library."""

    def transform(self, X):
        return super().transform(np.nan_to_num(X))


# code='auto' decodes MAP codes for skae's estimators and the transform of
# others; code='map' needs one of skae's, at fit and after set_params.
def test_which_code_for_which_estimator(low_rank):
    X, X_missing = low_rank
    imputer = AutoencoderImputer(_ZeroFilledPCA(n_components=2)).fit(X)
    pca = imputer.estimator_
    expected = pca.inverse_transform(pca.transform(X_missing))
    missing = np.isnan(X_missing)
    np.testing.assert_array_equal(imputer.transform(X_missing)[missing], expected[missing])
    with pytest.raises(TypeError, match="code='map' needs one of skae's estimators, not PCA"):
        AutoencoderImputer(PCA(), code="map").fit(X)
    with pytest.raises(TypeError, match="code='map' needs one of skae's estimators"):
        imputer.set_params(code="map").transform(X_missing)


# A row with no observed value has nothing to impute from: the estimator's
# clear error, whichever code is decoded.
@pytest.mark.parametrize("code", ["map", "encoder"])
def test_a_row_with_no_value_is_an_error(code, low_rank):
    _, X_missing = low_rank
    imputer = AutoencoderImputer(AutoencoderTransformer(**SMALL | {"max_iter": 2}), code=code)
    imputer.fit(X_missing)
    empty = np.vstack([X_missing[:3], np.full((1, 8), np.nan)])
    with pytest.raises(ValueError, match=r"no observed value.*row 3"):
        imputer.transform(empty)
