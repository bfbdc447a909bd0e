"""The fitted state: its list, and the copy that a failed warm fit puts back."""

import numpy as np
import torch
from numpy.testing import assert_array_equal

from conftest import FAST
from skae import AutoencoderTransformer
from skae._fitted_state import copy_fitted_state, fitted_state, forget_fit, restore_fitted_state


# The copy is deep: changes made after it, in place or by assignment, are
# undone, and the network and the optimiser are the same objects afterwards.
def test_restore_puts_back_the_copy(small_X):
    model = AutoencoderTransformer(**FAST).fit(small_X)
    network, optimizer = model.network_, model.optimizer_
    weights = [p.detach().clone() for p in network.parameters()]
    curve = list(model.loss_curve_)
    copies = copy_fitted_state(model)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(1.0)
    model.loss_curve_.append(0.0)
    model.n_iter_ = -1
    model._rng.randint(10)
    draw = model._rng.randint(1 << 30)
    restore_fitted_state(model, copies)
    assert model.network_ is network and model.optimizer_ is optimizer
    for parameter, weight in zip(network.parameters(), weights):
        assert_array_equal(parameter.detach(), weight)
    assert model.loss_curve_ == curve and model.n_iter_ == len(curve)
    model._rng.randint(10)
    assert model._rng.randint(1 << 30) == draw


# forget_fit removes every listed attribute and nothing else.
def test_forget_fit(small_X):
    model = AutoencoderTransformer(**FAST).fit(small_X)
    forget_fit(model)
    assert not set(fitted_state(model)) & set(vars(model))
    assert set(model.get_params()) <= set(vars(model))
    assert np.isfinite(model.fit(small_X).transform(small_X)).all()
