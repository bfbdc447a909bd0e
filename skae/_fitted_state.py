"""The fitted state: the one written list of what ``fit`` sets.

Pickling and the safe format (:mod:`skae._persistence`) keep these attributes
and nothing else; a fit that fails forgets them or puts back a copy
(:meth:`skae._base.BaseAutoencoder.fit` is all or nothing).
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn

from skae._optimizer import OptimizerParts
from skae._training import copy_state

# Fitted attributes set by scikit-learn's validate_data (the first is always set).
FEATURE_STATE = ("n_features_in_", "feature_names_in_")


def fitted_state(estimator) -> tuple[str, ...]:
    """The names of the attributes that fit sets on `estimator`: scikit-learn's
    and those its class lists in ``_fitted_state``."""
    return (*FEATURE_STATE, *type(estimator)._fitted_state)


def forget_fit(estimator) -> None:
    """Delete what fit set, so that a failed fit leaves no model that looks fitted."""
    for name in fitted_state(estimator):
        vars(estimator).pop(name, None)


def adopt_fit(estimator, other) -> None:
    """Give `estimator` the fit of `other` (a fitted clone), replacing its own."""
    forget_fit(estimator)
    for name in fitted_state(other):
        if name in vars(other):
            setattr(estimator, name, vars(other)[name])


@dataclasses.dataclass(frozen=True)
class _InPlace:
    """A network or optimiser, and a copy of its state to load back into it."""

    holder: nn.Module | torch.optim.Optimizer | OptimizerParts
    state: dict


def copy_fitted_state(estimator) -> dict:
    """A copy of what fit set, for :func:`restore_fitted_state`. The network
    and the optimiser are restored in place, so that references to them stay
    valid; their states are copied tensor by tensor."""
    copies = {}
    for name in fitted_state(estimator):
        if name in vars(estimator):
            value = vars(estimator)[name]
            if isinstance(value, (nn.Module, torch.optim.Optimizer, OptimizerParts)):
                copies[name] = _InPlace(value, copy_state(value.state_dict()))
            elif _is_frozen(value):  # the network's specification: a copy would
                copies[name] = value  # copy a user's network, and compare unequal
            else:
                copies[name] = copy.deepcopy(value)
    return copies


def _is_frozen(value) -> bool:
    return dataclasses.is_dataclass(value) and type(value).__dataclass_params__.frozen


def restore_fitted_state(estimator, copies: dict) -> None:
    """Put back the fitted state that :func:`copy_fitted_state` copied."""
    forget_fit(estimator)
    for name, value in copies.items():
        if isinstance(value, _InPlace):
            value.holder.load_state_dict(value.state)
            value = value.holder
        setattr(estimator, name, value)
