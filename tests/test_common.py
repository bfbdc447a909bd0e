"""scikit-learn's estimator checks, for both estimators, and numpydoc's checks of
the public docstrings."""

import inspect

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_user_networks import Encoder

from skae import (
    AdversarialAutoencoderTransformer,
    AutoencoderImputer,
    AutoencoderTransformer,
    Network,
    VAETransformer,
    datasets,
)
from skae._base import BaseAutoencoder

# Few epochs and small networks: the checks test the contract, not the quality.
ESTIMATORS = [
    AutoencoderTransformer(hidden_layer_sizes=(8,), max_iter=3, random_state=0),
    VAETransformer(hidden_layer_sizes=(8,), max_iter=3, n_importance_samples=4, random_state=0),
    AdversarialAutoencoderTransformer(
        hidden_layer_sizes=(8,), discriminator_layer_sizes=(8,), max_iter=3, random_state=0
    ),
    # A user's networks, sized by skae for each data set of the checks.
    AutoencoderTransformer(
        encoder=Network(Encoder, width=8), decoder=Encoder, max_iter=3, random_state=0
    ),
    VAETransformer(
        encoder=Encoder, decoder=Encoder, max_iter=3, n_importance_samples=4, random_state=0
    ),
    AutoencoderImputer(AutoencoderTransformer(hidden_layer_sizes=(8,), max_iter=3, random_state=0)),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# Every parameter is documented, in the signature's order (numpydoc's parser).
ALL = [AutoencoderTransformer, VAETransformer, AdversarialAutoencoderTransformer]


def test_imputer_docstring_parameters_match_signature():
    docscrape = pytest.importorskip("numpydoc.docscrape")
    documented = [p.name for p in docscrape.ClassDoc(AutoencoderImputer)["Parameters"]]
    assert documented == list(inspect.signature(AutoencoderImputer).parameters)


@pytest.mark.parametrize("Estimator", ALL)
def test_docstring_parameters_match_signature(Estimator):
    docscrape = pytest.importorskip("numpydoc.docscrape")
    documented = [p.name for p in docscrape.ClassDoc(Estimator)["Parameters"]]
    assert documented == list(inspect.signature(Estimator).parameters)


def _public_api() -> list[str]:
    names = []
    for Estimator in ALL:
        names.append(f"skae.{Estimator.__name__}")
        names += [
            f"skae.{Estimator.__name__}.{name}"
            for name, member in {**vars(BaseAutoencoder), **vars(Estimator)}.items()
            if callable(member) and not name.startswith("_")
        ]
    names += [f"skae.datasets.{name}" for name in datasets.__all__ if name.islower()]
    names += ["skae.Network", "skae.Network.get_params", "skae.Network.set_params", "skae.load"]
    names += [
        f"skae.AutoencoderImputer.{name}" for name in ("fit", "transform", "get_feature_names_out")
    ] + ["skae.AutoencoderImputer"]
    return sorted(set(names))


# numpydoc's checks that a reader relies on: every parameter documented and no
# stale one, a Returns section with a description, a one-line summary.
NUMPYDOC_CHECKS = {"GL08", "PR01", "PR02", "PR07", "RT01", "RT03", "SS01", "SS06"}


@pytest.mark.parametrize("name", _public_api())
def test_public_docstrings(name):
    validate = pytest.importorskip("numpydoc.validate")
    errors = [f"{code}: {text}" for code, text in validate.validate(name)["errors"]]
    assert [e for e in errors if e[:4] in NUMPYDOC_CHECKS] == []
