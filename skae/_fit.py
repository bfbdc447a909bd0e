"""The fit of an estimator, step by step: from the user's rows to a trained
and summarised model.

A fresh fit resolves the network's specification, the device, the scaling
and the code size from the parameters and the data, builds the network
(started from a PCA with ``init='pca'``) and its optimiser; every fit then
splits off the validation rows, trains through the engine
(:mod:`skae._training`) and sets the fitted summaries, which each estimator
defines (``_summarize_fit``), and ``offset_``. The estimator base
(:mod:`skae._base`) makes a call all or nothing around it.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn

from skae._batches import split_rows
from skae._code_size import depends_on_data, pca_code_size, reconstruction_errors
from skae._distributed import Ranks
from skae._history import History
from skae._layers import widest_activation
from skae._losses import describe_loss
from skae._optimizer import make_optimizer
from skae._scaling import Scaling
from skae._settings import TrainingSettings
from skae._spec import NetworkSpec, check_unchanged
from skae._statistics import (
    check_codes_vary,
    check_features_observed,
    logit,
    min_max,
    pca_start,
    pooled_extremes,
)
from skae._training import TrainingOptions, train
from skae._validation import (
    check_noise_level,
    device_key,
    has_missing,
    resolve_device,
    row_major,
    validation_size,
)


def train_estimator(
    estimator, X, *, reset: bool, max_epochs: int, validate: bool, adaptive: bool, accumulate: bool
):
    """Train on X; with `accumulate` (``partial_fit``), the fitted
    summaries pool this call's data with that summarised since the last
    ``fit`` (see the estimators' ``partial_fit``)."""
    # Every rank checks its own rows; all stop if one cannot go on.
    ranks = Ranks.current()
    with ranks.all_or_none("checking X"):
        check_noise_level(estimator.noise, estimator.noise_level)
        X = estimator._validate(X, reset=reset)
        n_validation = validation_size(estimator.validation_fraction, X.shape[0]) if validate else 0
        extremes = min_max(X)  # one pass, for the scaling and the float32 check
    if ranks.distributed:
        ranks.check_same_features(X.shape[1])
        extremes = pooled_extremes(extremes, ranks)
    if reset:
        check_features_observed(extremes)  # later chunks may miss a feature
        _initialize(estimator, X, extremes, ranks)
    else:
        _check_spec_unchanged(estimator)
        estimator._scaling.check_float32_reach(extremes)
        if not accumulate:  # each fit judges convergence anew: its parameters may have changed
            estimator._history.restart()
    for group in estimator.optimizer_.param_groups:  # set_params takes effect on warm starts
        group["lr"] = estimator.learning_rate_init  # an adaptive schedule starts anew
        group["weight_decay"] = estimator.alpha
    # After the scaling statistics, which keep the bits of X's own layout.
    X = row_major(X)
    train_rows, validation_rows = split_rows(_rank_rng(estimator, ranks), X.shape[0], n_validation)
    batches = estimator._batches(X, train_rows, ranks=ranks)
    estimator._scaling.check_unit_interval(
        batches, estimator._unit_interval_loss, fitted_here=reset
    )
    validation = estimator._batches(X, validation_rows, ranks=ranks) if validate else None
    # Noise 'missing' makes entries of the inputs missing.
    complete = estimator.noise != "missing" and not has_missing(X)
    options = _training_options(
        estimator, max_epochs, adaptive, ranks, one_epoch_calls=accumulate, complete=complete
    )
    seed = estimator._draw_seed()
    with estimator._spec.training_randomness(seed, estimator.device_):
        history = train(
            estimator.network_,
            estimator.optimizer_,
            batches,
            validation,
            options,
            estimator._history,
            seed,
            estimator._training_step,
        )
    vars(estimator).update(history.fitted_attributes())
    if reset or not accumulate:
        estimator._moments = {}
    # Held out when there is a validation split: a flexible network fits
    # its training data more closely than new data.
    held_out = batches if validation is None else validation
    errors = reconstruction_errors(estimator.network_, held_out)
    estimator._summarize_fit(batches, validation, errors)
    estimator.variance_explained_ = errors.explained_variance
    if np.any(extremes[0] < extremes[1]):
        check_codes_vary(estimator._moments["codes"])
    estimator._fit_offset(X, "partial_fit" if accumulate else "fit", ranks)
    return estimator


def _training_options(
    estimator,
    max_epochs: int,
    adaptive: bool,
    ranks: Ranks,
    *,
    one_epoch_calls: bool,
    complete: bool,
) -> TrainingOptions:
    settings = TrainingSettings.resolve(estimator.get_params(), estimator._network_kind)
    # Across ranks, batch means (free bits') are over the step's rows on all of them.
    batch_mean = ranks.mean_of_rows if ranks.distributed else None
    objective = replace(
        estimator._objective(settings.neighbor_weight), complete=complete, batch_mean=batch_mean
    )
    return TrainingOptions(
        max_epochs=max_epochs,
        batch_size=settings.batch_size,
        # The t-SNE term depends on the batch: validate on batches like training's.
        evaluation_batch_size=settings.batch_size if settings.neighbor_weight else None,
        n_iter_no_change=settings.n_iter_no_change,
        tol=estimator.tol,
        noise=estimator.noise,
        noise_level=estimator.noise_level,
        trim_fraction=0.0 if estimator.contamination == "auto" else estimator.contamination,
        adaptive_learning_rate=adaptive,
        mixed_precision=estimator.mixed_precision,
        # A bar per partial_fit call would be one epoch long: a line instead.
        verbose=max(estimator.verbose, 2)
        if one_epoch_calls and estimator.verbose
        else estimator.verbose,
        objective=objective,
        loss_units=describe_loss(estimator._spec.likelihood, objective, estimator.scaling_),
    )


def resolve_spec(estimator, n_features: int, n_components: int | str | None = None) -> NetworkSpec:
    """The specification of the parameters, with `n_components` in place of
    the parameter's when given (a code size resolved from the data)."""
    parameters = estimator.get_params()
    if n_components is not None:
        parameters["n_components"] = n_components
    likelihood = getattr(estimator, estimator._likelihood_parameter)
    return NetworkSpec.resolve(
        parameters, n_features, kind=estimator._network_kind, likelihood=likelihood
    )


def _check_spec_unchanged(estimator) -> None:
    """warm_start and partial_fit continue the fitted network: what defines it
    must not have changed since it was fitted."""
    # 'auto' chose scaling_ from the data the fit saw; the network is where
    # it is now (a model unpickled without CUDA moved to the CPU).
    fitted = estimator._spec.as_parameters(estimator._likelihood_parameter)
    requested = resolve_spec(
        estimator,
        estimator.n_features_in_,
        # A code size resolved from the data stays as fitted.
        estimator.n_components_ if depends_on_data(estimator.n_components) else None,
    ).as_parameters(estimator._likelihood_parameter)
    if estimator.init == "auto":  # the start was made: turning the t-SNE term on changes nothing
        requested["init"] = fitted["init"]
    check_unchanged(
        fitted | {"scaling": estimator.scaling_, "device": device_key(estimator.device_)},
        requested
        | {
            "scaling": estimator.scaling_ if estimator.scaling == "auto" else estimator.scaling,
            "device": device_key(Ranks.current().place(resolve_device(estimator.device))),
        },
    )


def _initialize(estimator, X, extremes: tuple[np.ndarray, np.ndarray], ranks: Ranks) -> None:
    """Everything that a fresh fit resolves from the parameters and the data
    (whose column minima and maxima are `extremes`) of all `ranks`."""
    from_data = depends_on_data(estimator.n_components)
    # With a code size from the data, 'auto' stands in until the scaling is fitted.
    estimator._spec = resolve_spec(estimator, X.shape[1], "auto" if from_data else None)
    estimator._rng = check_random_state(estimator.random_state)
    estimator.device_ = ranks.place(resolve_device(estimator.device))
    kind = Scaling.choose(estimator.scaling, estimator._unit_interval_loss is not None, extremes)
    estimator._scaling = Scaling.fit(kind, X, extremes, ranks)
    estimator._scaling.check_float32_reach(extremes)
    if from_data:
        cpu_batches = estimator._batches(X, device=torch.device("cpu"), ranks=ranks)
        # From a copy of the generator: the fit then draws as one of that size would.
        rng = copy.deepcopy(estimator._rng)
        n_components = pca_code_size(estimator.n_components, cpu_batches, rng)
        estimator._spec = resolve_spec(estimator, X.shape[1], n_components)
    network = estimator._spec.build(estimator._draw_seed())
    estimator._spec.check_network(network.to(estimator.device_), estimator.device_)
    estimator._widest_activation = widest_activation(network, X.shape[1])
    if estimator._spec.init == "pca":
        _start_from_pca(estimator, network, X, ranks)
    estimator.network_ = network.to(estimator.device_)
    estimator.optimizer_ = make_optimizer(
        estimator.network_, estimator.learning_rate_init, estimator.alpha, estimator.device_
    )
    estimator._history = History()


def _rank_rng(estimator, ranks: Ranks) -> np.random.RandomState:
    """The generator of this rank's own draws: the fit's in one process;
    on several ranks, one seeded from it, which stays alike on all."""
    return ranks.random_state(estimator._draw_seed()) if ranks.distributed else estimator._rng


def _start_from_pca(estimator, network: nn.Module, X, ranks: Ranks) -> None:
    """Set the linear shortcuts to a PCA of (a subsample of) the scaled
    data of all `ranks`."""
    batches = estimator._batches(X, device=torch.device("cpu"), ranks=ranks)
    mean, components, variances = pca_start(batches, estimator.n_components_, estimator._rng)
    encoder_weight, encoder_bias, decoder_weight = estimator._linear_start(
        mean, components, variances
    )
    if estimator._unit_interval_loss is not None:
        # A sigmoid output: the decoder starts at the logit of the mean, whatever the code.
        decoder_weight, mean = 0 * decoder_weight, logit(mean)
    tensors = (encoder_weight, encoder_bias, decoder_weight, mean)
    network.set_linear_shortcuts(*(torch.as_tensor(t) for t in tensors))
