"""The values of skae's safe format: Python values to JSON, with their
tensors and arrays set apart for safetensors (:class:`ValueWriter`), and
back (:class:`ValueReader`).

Reading builds only the kinds of values listed here, and a user's network
class only if it is trusted (:mod:`skae._user_networks`): nothing is
unpickled or executed. :mod:`skae._persistence` writes and reads the files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from skae._history import History
from skae._optimizer import OptimizerParts
from skae._scaling import Scaling
from skae._spec import NetworkSpec
from skae._statistics import RowMoments
from skae._user_networks import Network, TrustedClasses, check_module_class, class_path


class ValueWriter:
    """Values to JSON, each tensor or array to `tensors` under a key of its path."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self.tensors = tensors

    def tensor(self, value, key: str, tag: str) -> dict:
        self.tensors[key] = torch.as_tensor(value)
        return {tag: key}

    def encode(self, value, key: str):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            return float(value)
        if isinstance(value, (list, tuple)):
            items = [self.encode(v, f"{key}.{i}") for i, v in enumerate(value)]
            return {"tuple" if isinstance(value, tuple) else "list": items}
        if isinstance(value, Mapping):
            return {"dict": {str(k): self.encode(v, f"{key}.{k}") for k, v in value.items()}}
        if isinstance(value, np.ndarray) and value.dtype == object:
            return {"strings": [str(v) for v in value.tolist()]}
        if isinstance(value, np.ndarray):
            return self.tensor(value, key, "array")
        if isinstance(value, torch.Tensor):
            return self.tensor(value, key, "tensor")
        if isinstance(value, torch.device):
            return {"device": str(value)}
        return self.encode_object(value, key)

    def encode_object(self, value, key: str):
        if isinstance(value, np.random.RandomState):
            name, keys, position, has_gauss, gauss = value.get_state()
            state = [name, keys.astype(np.int64), position, has_gauss, gauss]
            return {"random_state": self.encode(state, key)}
        if isinstance(value, Scaling):
            fields = {"kind": value.kind, "offset": value.offset, "scale": value.scale}
            return {"scaling": self.encode(fields, key)}
        if isinstance(value, NetworkSpec):
            return {"network_spec": self.encode(value.to_json(), key)}
        if isinstance(value, Network):
            check_module_class(value.module, key)
            fields = {"class": class_path(value.module), "kwargs": value.kwargs}
            return {"user_network": self.encode(fields, key)}
        if isinstance(value, type) and issubclass(value, nn.Module):
            return {"user_class": self.encode(class_path(value), key)}
        if isinstance(value, (History, RowMoments)):
            kind = "history" if isinstance(value, History) else "moments"
            return {kind: self.encode(dataclasses.asdict(value), key)}
        if isinstance(value, nn.Module) and key == "network_":
            return {"network": self.encode(value.state_dict(), key)}
        if isinstance(value, (torch.optim.Optimizer, OptimizerParts)) and key == "optimizer_":
            return {"optimizer": self.encode(value.state_dict(), key)}
        if isinstance(value, nn.Module):
            raise TypeError(
                f"{key} holds a torch module, which skae's safe format cannot rebuild: "
                "give a network as its class or as skae.Network(cls, **kwargs) with "
                "JSON arguments, or pickle the model."
            )
        raise TypeError(
            f"{key}={value!r} cannot be saved in skae's format: it holds a "
            f"{type(value).__name__}. Use an int for random_state, or pickle the model."
        )


class ValueReader:
    """JSON of :class:`ValueWriter` back to values, the tensors read from `file`."""

    def __init__(self, file, trusted: TrustedClasses) -> None:
        self.file = file
        self.trusted = trusted
        self.used: set[str] = set()

    def decode(self, value):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if not isinstance(value, dict) or len(value) != 1:
            raise ValueError(f"an unreadable value {short(value)}")
        ((tag, content),) = value.items()
        if tag in ("list", "tuple"):
            items = [self.decode(v) for v in checked(content, list, tag)]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            return {k: self.decode(v) for k, v in checked(content, dict, tag).items()}
        if tag == "tensor":
            return self.tensor(content)
        if tag == "array":
            return self.tensor(content).numpy()
        if tag == "strings":
            return np.array([str(v) for v in checked(content, list, tag)], dtype=object)
        if tag == "device":
            return torch.device(checked(content, str, tag))
        if tag in ("network_spec", "user_class", "user_network"):
            return self.user_classes(tag, self.decode(content))
        if tag in _OBJECTS:
            return _OBJECTS[tag](self.decode(content))
        raise ValueError(f"an unknown kind of value {tag!r}")

    def user_classes(self, tag: str, content):
        """The values that may name a user's network class, found among the trusted."""
        if tag == "network_spec":
            return NetworkSpec.from_json(content, self.trusted)
        if tag == "user_class":
            return self.trusted.find(content)
        fields = checked(content, dict, tag)
        if set(fields) != {"class", "kwargs"}:
            raise ValueError("a user network recorded without its class and arguments")
        return Network(self.trusted.find(fields["class"]), **checked(fields["kwargs"], dict, tag))

    def tensor(self, key) -> torch.Tensor:
        if not isinstance(key, str) or key not in self.file.keys():
            raise ValueError(f"a reference to a missing tensor {short(key)}")
        self.used.add(key)
        return self.file.get_tensor(key)


def checked(value, kind: type, tag: str):
    if not isinstance(value, kind):
        raise ValueError(f"a {tag!r} value that is not a {kind.__name__}")
    return value


def short(value) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _random_state(state) -> np.random.RandomState:
    name, keys, position, has_gauss, gauss = state
    rng = np.random.RandomState()
    rng.set_state((name, keys.astype(np.uint32), position, has_gauss, gauss))
    return rng


def _scaling(fields: dict) -> Scaling:
    offset, scale = fields["offset"], fields["scale"]
    if offset.shape != scale.shape or offset.ndim != 1 or offset.dtype != np.float64:
        raise ValueError("a scaling whose offset and scale are not float64 vectors alike")
    return Scaling(fields["kind"], offset, scale)


def _moments(fields: dict) -> RowMoments:
    return RowMoments(fields["count"], fields["mean"], fields["covariance"])


_OBJECTS = {
    "random_state": _random_state,
    "scaling": _scaling,
    "history": lambda fields: History(**fields),
    "moments": _moments,
    # Built once the specification is known (see _restore_network).
    "network": lambda state: ("network", state),
    "optimizer": lambda state: ("optimizer", state),
}
