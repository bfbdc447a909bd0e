"""The training settings that 'auto' resolves to: a 2-D code trains with the
t-SNE term and the batches and patience it needs."""

import numpy as np
import pytest

from skae import AdversarialAutoencoderTransformer, AutoencoderTransformer, VAETransformer
from skae._settings import TrainingSettings

AUTO = dict(neighbor_weight="auto", batch_size="auto", n_iter_no_change="auto")


@pytest.mark.parametrize(
    "n_components, expected",
    [(2, TrainingSettings(10.0, 1000, 30)), (1, TrainingSettings(0.0, 64, 10)),
     (3, TrainingSettings(0.0, 64, 10)), (32, TrainingSettings(0.0, 64, 10))],
)  # fmt: skip
def test_auto_settings_follow_the_code_size(n_components, expected):
    parameters = dict(AUTO, n_components=n_components)
    assert TrainingSettings.resolve(parameters, "autoencoder") == expected


# Only a 2-D code asked for is a map: not one that 'auto' (4 or 5 features),
# 'mle' or a fraction resolves to.
@pytest.mark.parametrize("n_components", ["auto", "mle", 0.5, None, 2.0])
def test_a_resolved_size_is_not_a_map(n_components):
    parameters = dict(AUTO, n_components=n_components)
    assert TrainingSettings.resolve(parameters, "autoencoder") == TrainingSettings(0.0, 64, 10)


def test_default_code_of_few_features_is_not_a_map():
    X = np.random.RandomState(0).rand(60, 4)
    ae = AutoencoderTransformer(max_iter=2, random_state=0)
    with pytest.warns(UserWarning, match="n_iter_no_change=10"):
        ae.fit(X)
    assert ae.n_components_ == 2 and ae._spec.init == "pca"


# A value the user gives is kept; 'auto' of the others follows the term.
def test_given_values_are_kept():
    given = dict(AUTO, neighbor_weight=0.0)
    given = dict(given, n_components=2)
    assert TrainingSettings.resolve(given, "autoencoder") == TrainingSettings(0.0, 64, 10)
    given = dict(AUTO, n_components=8, neighbor_weight=1.5, batch_size=np.int64(32))
    settings = TrainingSettings.resolve(given, "vae")
    assert settings == TrainingSettings(1.5, 32, 30)
    assert type(settings.batch_size) is int


# The generative models keep their codes on the prior: no term at 2-D.
@pytest.mark.parametrize("kind", ["vae", "adversarial"])
def test_no_map_term_for_generative_models(kind):
    parameters = dict(AUTO, n_components=2)
    assert TrainingSettings.resolve(parameters, kind) == TrainingSettings(0.0, 64, 10)


@pytest.mark.parametrize(
    "Estimator", [AutoencoderTransformer, VAETransformer, AdversarialAutoencoderTransformer]
)
def test_estimators_default_to_auto(Estimator):
    params = Estimator().get_params()
    assert {name: params[name] for name in AUTO} == AUTO


# The resolved settings are the ones trained with: a batch of 1000 makes one
# step per epoch here, and the objective carries the term's weight.
def test_a_2d_fit_trains_with_the_map_settings():
    X = np.random.RandomState(0).rand(400, 8)
    ae = AutoencoderTransformer(n_components=2, max_iter=2, random_state=0)
    with pytest.warns(UserWarning, match="n_iter_no_change=30"):
        ae.fit(X)
    assert ae._spec.init == "random"
    plain = AutoencoderTransformer(n_components=2, neighbor_weight=0.0, max_iter=2, random_state=0)
    with pytest.warns(UserWarning, match="n_iter_no_change=10"):
        plain.fit(X)
    assert plain._spec.init == "pca"
    assert not np.allclose(ae.transform(X), plain.transform(X))
