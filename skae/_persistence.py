"""The fitted state, pickling, and skae's safe file format.

A saved model is one safetensors file: the tensors (the network's weights,
the optimiser's moments and the fitted arrays) as safetensors, and the rest
(the class, the parameters, the other fitted state, the versions) as JSON in
its metadata. Loading reads the JSON, builds the estimator from its own
class registry (never from a name in the file), builds the network from its
specification and checks every tensor against it: nothing in the file is
unpickled or executed. The values' JSON form is :mod:`skae._saved_values`.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Iterable, Mapping

import numpy as np
import sklearn
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from sklearn.utils.validation import check_is_fitted
from torch import nn

from skae._fitted_state import fitted_state
from skae._history import History
from skae._layers import widest_activation
from skae._optimizer import OptimizerParts, make_optimizer
from skae._saved_values import ValueReader, ValueWriter, checked, short
from skae._scaling import Scaling
from skae._spec import NetworkSpec
from skae._statistics import RowMoments
from skae._user_networks import (
    TrustedClasses,
    UntrustedNetworkError,
)
from skae._validation import device_problem, resolve_device
from skae._version import __version__

FORMAT, FORMAT_VERSION = "skae", 1
# The estimators that load() builds, by class name; only skae's classes register.
ESTIMATORS: dict[str, type] = {}
# scikit-learn's configuration of an estimator (set_output) that a file keeps.
CONFIG_STATE = ("_sklearn_output_config",)


class InconsistentVersionWarning(UserWarning):
    """A model is loaded with other versions of skae, PyTorch or scikit-learn
    than it was saved with; like scikit-learn's warning of that name, its
    results may differ or it may not work."""


def register(cls: type) -> type:
    """Let :func:`load` build `cls` (a class decorator)."""
    ESTIMATORS[cls.__name__] = cls
    return cls


class PersistenceMixin:
    """``save``, and pickling that keeps the fitted state and nothing else."""

    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted estimator to `path` in skae's safe format.

        The parameters and the fitted state go to JSON, the tensors to
        safetensors, in one file that :func:`skae.load` reads back without
        unpickling or executing anything (see the persistence guide).

        Parameters
        ----------
        path : str or path-like
            The file to write (``.skae`` by convention).
        """
        check_is_fitted(self)
        save(self, path)

    # A model fitted on a GPU is pickled with its weights on the CPU and is
    # loaded back on its device where that exists, else on the CPU.
    def __getstate__(self):
        state = super().__getstate__()
        kept = {*self.get_params(), *fitted_state(self), *CONFIG_STATE, "_sklearn_version"}
        state = {name: value for name, value in state.items() if name in kept}
        network = state.get("network_")
        if network is not None and next(network.parameters()).device.type != "cpu":
            state["network_"] = _cpu_copy(network)
            state["optimizer_"] = None
        return state

    def __setstate__(self, state):
        super().__setstate__(with_later_params(type(self), state))
        if "network_" in state:
            if device_problem(self.device_) is not None:
                self.device_ = torch.device("cpu")
            self.network_.to(self.device_)
            if self.optimizer_ is None:
                self.optimizer_ = make_optimizer(
                    self.network_, self.learning_rate_init, self.alpha, self.device_
                )


def _cpu_copy(network: nn.Module) -> nn.Module:
    return copy.deepcopy(network).cpu()


# ----------------------------------------------------------------------
# Saving


def save(estimator, path: str | os.PathLike) -> None:
    """Write `estimator` (fitted) to `path` in the safe format."""
    tensors: dict[str, torch.Tensor] = {}
    encoder = ValueWriter(tensors)
    params = estimator.get_params(deep=False)
    state = {
        name: getattr(estimator, name)
        for name in fitted_state(estimator)
        if hasattr(estimator, name)
    }
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "versions": _versions(),
        "params": encoder.encode(params, "params"),
        "state": {name: encoder.encode(value, name) for name, value in state.items()},
        "config": encoder.encode(
            {name: getattr(estimator, name) for name in CONFIG_STATE if name in vars(estimator)},
            "config",
        ),
    }
    metadata = {FORMAT: json.dumps(document)}
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, path, metadata)


def _versions() -> dict[str, str]:
    return {"skae": __version__, "torch": torch.__version__, "scikit-learn": sklearn.__version__}


# ----------------------------------------------------------------------
# Loading


def load(
    path: str | os.PathLike,
    *,
    device: str | torch.device | None = None,
    trusted: Iterable[type | str] | None = None,
):
    """Load an estimator saved by ``save``, without unpickling anything.

    Parameters
    ----------
    path : str or path-like
        A file written by the ``save`` method of an estimator
        (:meth:`AutoencoderTransformer.save`, :meth:`VAETransformer.save`,
        :meth:`AdversarialAutoencoderTransformer.save`).
    device : str or torch.device, default=None
        Where to put the network. None: the device it was saved from where
        that exists here, else the CPU (a model saved on CUDA loads on a
        CPU-only machine). Given, the estimator's `device` parameter is set
        to it too, so that ``partial_fit`` goes on there.
    trusted : list of classes or str, default=None
        The classes of your own networks (``encoder=``, ``decoder=``) that the
        file may build, or their import paths (``"package.module.Class"``,
        imported only if the file names them), as skops's ``trusted=``. A
        file that names another class is refused before anything is imported.

    Returns
    -------
    estimator : AutoencoderTransformer, VAETransformer or AdversarialAutoencoderTransformer
        The fitted estimator, with the same parameters, fitted attributes,
        optimiser state and random streams as the one saved.

    Raises
    ------
    ValueError
        If the file is not a skae model, is truncated or corrupted, or its
        contents do not fit together (unknown class, keys or shapes).
    UntrustedNetworkError
        If the file builds a network class that is not in `trusted` (a
        ValueError too).
    """
    trusted = TrustedClasses(trusted)  # its errors are the caller's, not the file's
    try:
        with safe_open(os.fspath(path), framework="pt") as file:
            return _load(file, path, device, trusted)
    except SafetensorError as error:
        raise ValueError(f"{path} is not a skae model file (safetensors: {error}).") from None
    except UntrustedNetworkError as error:
        raise UntrustedNetworkError(error.untrusted, str(path)) from None
    except (KeyError, TypeError, ValueError, RuntimeError, json.JSONDecodeError) as error:
        if isinstance(error, ValueError) and str(error).startswith(f"{path} "):
            raise
        raise ValueError(f"{path} is not a valid skae model file: {error}") from None


def _load(file, path, device, trusted: TrustedClasses):
    document = _document(file, path)
    cls = ESTIMATORS.get(document["class"])
    if cls is None:
        raise ValueError(
            f"{path} holds a {short(document['class'])}, not one of skae's estimators "
            f"({', '.join(sorted(ESTIMATORS))}); nothing of it was imported or run."
        )
    _check_versions(document["versions"], path)
    decoder = ValueReader(file, trusted)
    trusted.check(_network_classes(document["params"], decoder), f"{path}")
    params = decoder.decode(document["params"])
    estimator = cls(**with_later_params(cls, checked(params, dict, "params")))
    estimator._validate_params()
    state = {k: decoder.decode(v) for k, v in checked(document["state"], dict, "state").items()}
    names = fitted_state(estimator)
    for name, default in LATER_STATE.items():  # files written before these existed
        state.setdefault(name, default)
    missing = [name for name in names[:1] + names[2:] if name not in state]
    unknown = sorted(set(state) - set(names))
    if missing or unknown:
        raise ValueError(f"fitted state missing {missing} or unknown {unknown}")
    _check_types(state)
    _restore_network(estimator, state, device)
    vars(estimator).update(state)
    vars(estimator).update(decoder.decode(document["config"]))
    unused = sorted(set(file.keys()) - decoder.used)
    if unused:
        raise ValueError(f"tensors that nothing refers to: {unused[:5]}")
    return estimator


def _network_classes(params, decoder: ValueReader) -> list:
    """The network classes that a file's parameters name, read before any is looked up."""
    paths = []
    for value in checked(params, dict, "params").get("dict", {}).values():
        if isinstance(value, dict) and len(value) == 1:
            ((tag, content),) = value.items()
            if tag == "user_class":
                paths.append(decoder.decode(content))
            elif tag == "user_network":
                paths.append(checked(decoder.decode(content), dict, tag).get("class"))
    return paths


def _document(file, path) -> dict:
    metadata = file.metadata() or {}
    if FORMAT not in metadata:
        raise ValueError(f"{path} is a safetensors file but not a skae model (no skae metadata).")
    document = json.loads(metadata[FORMAT])
    keys = {"format", "format_version", "class", "versions", "params", "state", "config"}
    if not isinstance(document, dict) or set(document) != keys:
        raise ValueError(f"its metadata has not the fields {sorted(keys)}")
    if (document["format"], document["format_version"]) != (FORMAT, FORMAT_VERSION):
        raise ValueError(f"format {document['format']!r} version {document['format_version']!r}")
    return document


def _check_versions(saved, path) -> None:
    for package, version in _versions().items():
        if not isinstance(saved, dict) or saved.get(package) != version:
            was = saved.get(package) if isinstance(saved, dict) else None
            warnings.warn(
                f"{path} was saved with {package} {was}, and is loaded with {version}: "
                "the model may give other results or fail.",
                InconsistentVersionWarning,
                stacklevel=4,
            )


# Fitted attributes added after format version 1 was first written, and
# what a file from before them loads with (NaN: not measured then).
LATER_STATE = {"variance_explained_": float("nan")}

# Parameters added since, and the value that gives the models of files and
# pickles made before them (which lack them) their former training.
LATER_PARAMS = {"free_bits": 0.0}


def with_later_params(cls: type, params: dict) -> dict:
    """`params` of `cls`, with the LATER_PARAMS that `cls` takes and they lack."""
    names = cls._get_param_names()
    return {**{k: v for k, v in LATER_PARAMS.items() if k in names}, **params}


# The fitted attributes of a structured kind, and what they must be.
STATE_TYPES = {
    "device_": torch.device,
    "_spec": NetworkSpec,
    "_scaling": Scaling,
    "_history": History,
    "_rng": np.random.RandomState,
    "_moments": dict,
    "n_features_in_": int,
    "offset_": float,
    "variance_explained_": float,
}


def _check_types(state: dict) -> None:
    for name, kind in STATE_TYPES.items():
        if not isinstance(state[name], kind):
            raise ValueError(f"{name} is not a {kind.__name__}")
    if not all(isinstance(m, RowMoments) for m in state["_moments"].values()):
        raise ValueError("_moments holds values that are not moments")
    n_features = state["n_features_in_"]
    if not state["_spec"].n_features == len(state["_scaling"].offset) == n_features:
        raise ValueError(f"a network or scaling not for n_features_in_={n_features}")


def _restore_network(estimator, state: dict, device) -> None:
    """Build the network from its specification, check the saved weights
    against it, load them, and the optimiser's state, on the device."""
    spec = state["_spec"]
    if spec.kind != type(estimator)._network_kind:
        raise ValueError(f"a {spec.kind} network in a {type(estimator).__name__}")
    with torch.device("meta"):  # checked before any memory is taken
        network = spec.build(seed=0)
    weights = _tagged(state["network_"], "network")
    _check_tensors(network.state_dict(), weights, "network_")
    if spec.is_users:  # built for real: it may hold tensors that its state does not save
        with torch.device("cpu"):
            network = spec.build(seed=0)
    network.load_state_dict(weights, assign=True)
    if device is None:
        target = state["device_"]
        target = target if device_problem(target) is None else torch.device("cpu")
    else:
        target = resolve_device(device)
        estimator.set_params(device=device)
    state["device_"] = target
    state["network_"] = network = network.to(target)
    state["_widest_activation"] = widest_activation(network, spec.n_features)
    optimizer = make_optimizer(network, estimator.learning_rate_init, estimator.alpha, target)
    saved = _tagged(state["optimizer_"], "optimizer")
    if isinstance(optimizer, OptimizerParts):
        if not isinstance(saved, dict) or set(saved) != set(optimizer.parts):
            raise ValueError(f"optimizer_ has not the parts {sorted(optimizer.parts)}")
        for name, part in optimizer.parts.items():
            _check_optimizer(part, saved[name])
    else:
        _check_optimizer(optimizer, saved)
    optimizer.load_state_dict(saved)
    state["optimizer_"] = optimizer


def _tagged(value, tag: str):
    if not (isinstance(value, tuple) and len(value) == 2 and value[0] == tag):
        raise ValueError(f"{tag} state of the wrong kind")
    return value[1]


def _check_tensors(expected: Mapping, saved, name: str) -> None:
    if not isinstance(saved, dict) or set(saved) != set(expected):
        raise ValueError(f"{name} has not the parameters its specification builds")
    for key, tensor in expected.items():
        value = saved[key]
        if not isinstance(value, torch.Tensor) or value.shape != tensor.shape:
            raise ValueError(
                f"{name}.{key} has shape {getattr(value, 'shape', None)}, not {tuple(tensor.shape)}"
            )
        if value.dtype != tensor.dtype:
            raise ValueError(f"{name}.{key} is {value.dtype}, not {tensor.dtype}")


def _check_optimizer(optimizer: torch.optim.Optimizer, saved) -> None:
    """The saved Adam state fits the network's parameters; the fused and
    foreach choices are the target device's, not the saving one's."""
    fresh = optimizer.state_dict()
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    if not isinstance(groups, list) or len(groups) != len(fresh["param_groups"]):
        raise ValueError("optimizer_ has not the parameter groups of the network")
    for group, new in zip(groups, fresh["param_groups"]):
        if not isinstance(group, dict) or group.get("params") != new["params"]:
            raise ValueError("optimizer_ has not the parameters of the network")
        for key in ("fused", "foreach", "capturable"):
            group[key] = new[key]
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    states = saved.get("state")
    if not isinstance(states, dict):
        raise ValueError("optimizer_ has no state")
    saved["state"] = {int(index): value for index, value in states.items()}
    for index, state in saved["state"].items():
        if not 0 <= index < len(parameters) or not isinstance(state, dict):
            raise ValueError(f"optimizer_ state for an unknown parameter {index}")
        for key in ("exp_avg", "exp_avg_sq"):
            value = state.get(key)
            if not isinstance(value, torch.Tensor) or value.shape != parameters[index].shape:
                raise ValueError(f"optimizer_ state {index}.{key} does not fit its parameter")
