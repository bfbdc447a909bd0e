"""Anomaly detection on real outlier data (the ODDS sets in the shared data folder,
skipped when it is absent), with the benchmark's protocol (BENCHMARKS.md)."""

import pytest
from sklearn.metrics import roc_auc_score

from skae import AutoencoderTransformer, VAETransformer
from skae.benchmark._run import _scaled_split
from skae.datasets import load_odds


@pytest.fixture(scope="module")
def pendigits_split(shared_data):
    """pendigits (16 features; the outliers are a digit class): the benchmark's
    stratified 60/40 split with seed 0, standardised on the training part."""
    X, y = load_odds("pendigits", data_dir=shared_data / "odds")
    return _scaled_split(X, y, seed=0)


# The reason for n_components='auto': a 2-D code learns to reconstruct and
# encode the outlier digit like the others (ROC-AUC 0.57 for the autoencoder
# and 0.68 for the VAE on this split when recorded), the default code, 8
# here, much less (0.78 and 0.77). The comparison is of code sizes alone:
# the autoencoder's 2-D map (neighbor_weight='auto') is a different model,
# which scores 0.84 here (BENCHMARKS.md, "Defaults").
@pytest.mark.slow
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_default_code_finds_outlier_digits_better_than_2d(Estimator, pendigits_split):
    X_train, X_test, y_test = pendigits_split
    default = Estimator(random_state=0).fit(X_train)
    flat = Estimator(n_components=2, neighbor_weight=0.0, random_state=0).fit(X_train)
    assert default.n_components_ == 8
    auc_default = roc_auc_score(y_test, -default.score_samples(X_test))
    auc_flat = roc_auc_score(y_test, -flat.score_samples(X_test))
    assert auc_default > auc_flat + 0.05 and auc_default > 0.7, (auc_default, auc_flat)
