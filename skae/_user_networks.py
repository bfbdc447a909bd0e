"""Networks the user brings: the ``encoder=`` and ``decoder=`` parameters.

A user's network is given as an ``nn.Module`` class, as a :class:`Network`
(a class and its keyword arguments, which scikit-learn's ``get_params`` and
``set_params`` route as ``encoder__name``), or as an instance (copied at
fit, never trained in place). This module resolves them into a
:class:`NetworkSource`, builds them, checks their contract on the device,
and names and finds their classes for the safe format. It knows nothing of
scikit-learn.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

# What skae passes to a user's network class, when its constructor names them
# and the user gave no value: the sizes the data and n_components decide.
SIZE_ARGUMENTS = ("n_inputs", "n_outputs")
KEYWORD = inspect.Parameter


class Network:
    """A torch network given by its class and keyword arguments.

    Pass it as ``encoder=`` or ``decoder=``; the estimator builds the network
    at fit. Its keyword arguments are parameters of the estimator, as
    ``encoder__<name>`` (like skorch's ``module__<name>``), so that
    ``set_params`` and :class:`~sklearn.model_selection.GridSearchCV` reach
    them, and a clone builds a fresh network.

    Parameters
    ----------
    module : type
        A subclass of ``torch.nn.Module``.
    **kwargs
        Keyword arguments of its constructor. If the constructor has a
        parameter ``n_inputs`` or ``n_outputs`` not given here, the estimator
        passes the size the data and `n_components` give it (see the user
        guide, "Bring your own network").

    Examples
    --------
    >>> from torch import nn
    >>> from skae import Network
    >>> class Encoder(nn.Sequential):
    ...     def __init__(self, n_inputs, n_outputs, width=32):
    ...         super().__init__(nn.Linear(n_inputs, width), nn.ReLU(), nn.Linear(width, n_outputs))
    >>> Network(Encoder, width=64)
    Network(Encoder, width=64)
    """

    def __init__(self, module: type, **kwargs: Any) -> None:
        self.module = module
        self.kwargs = kwargs

    def get_params(self, deep: bool = True) -> dict:
        """The class (as ``module``) and the keyword arguments.

        Parameters
        ----------
        deep : bool, default=True
            Ignored: a network's arguments hold no estimators.

        Returns
        -------
        params : dict
            ``{'module': module, **kwargs}``.
        """
        return {"module": self.module, **self.kwargs}

    def set_params(self, **params: Any) -> Network:
        """Set the class (as ``module``) or keyword arguments.

        Parameters
        ----------
        **params
            New values; a name the class's constructor does not take is an error.

        Returns
        -------
        self : Network
            This network, its arguments updated.
        """
        for name, value in params.items():
            if name == "module":
                self.module = value
            elif _accepts(self.module, name):
                self.kwargs[name] = value
            else:
                raise ValueError(
                    f"{_name(self.module)}() takes no argument {name!r}: cannot set it in {self!r}."
                )
        return self

    def __repr__(self) -> str:
        arguments = [_name(self.module), *(f"{k}={v!r}" for k, v in self.kwargs.items())]
        return f"Network({', '.join(arguments)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Network):
            return NotImplemented
        return (self.module, self.kwargs) == (other.module, other.kwargs)

    __hash__ = None  # mutable through set_params


@dataclass(frozen=True)
class NetworkSource:
    """How to build one user network: a class and every keyword argument it is
    called with (the sizes skae fills in included), or an instance to copy."""

    module: type | nn.Module
    kwargs: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def resolve(
        cls, value: type | Network | nn.Module, role: str, sizes: Mapping[str, int]
    ) -> NetworkSource:
        """The source that the ``encoder`` or ``decoder`` parameter (`role`)
        gives; `sizes` are the values of :data:`SIZE_ARGUMENTS` for it."""
        if isinstance(value, nn.Module):
            return cls(value)
        module, kwargs = (value.module, value.kwargs) if isinstance(value, Network) else (value, {})
        check_module_class(module, role)
        filled = {name: size for name, size in sizes.items() if _accepts(module, name, named=True)}
        return cls(module, tuple(sorted({**filled, **kwargs}.items())))

    @property
    def is_instance(self) -> bool:
        return isinstance(self.module, nn.Module)

    def build(self) -> nn.Module:
        """A new network: the class called with its arguments, or a copy of the instance."""
        if self.is_instance:
            return copy.deepcopy(self.module)
        kwargs = dict(self.kwargs)
        try:
            return self.module(**kwargs)
        except TypeError as error:  # arguments it does not take, or lacks
            arguments = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
            raise TypeError(f"{_name(self.module)}({arguments}) failed: {error}") from error


def check_module_class(module, role: str) -> None:
    if not (isinstance(module, type) and issubclass(module, nn.Module)):
        raise TypeError(
            f"{role}={module!r} is not a torch network: pass a subclass of "
            "torch.nn.Module, a skae.Network(cls, **kwargs), or an nn.Module instance."
        )


def _accepts(module: type, name: str, *, named: bool = False) -> bool:
    """Whether `module`'s constructor takes an argument `name`; with `named`,
    only a parameter of that name counts, not ``**kwargs``."""
    try:
        parameters = inspect.signature(module).parameters
    except (TypeError, ValueError):  # a signature inspect cannot read
        return not named
    if name in parameters:
        return parameters[name].kind in (KEYWORD.POSITIONAL_OR_KEYWORD, KEYWORD.KEYWORD_ONLY)
    return not named and any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _name(module) -> str:
    return getattr(module, "__qualname__", repr(module))


class ShapedInput(nn.Module):
    """A user's network fed batches in the shape it expects (``input_shape``
    per sample), its output flattened to one row per sample: skae's batches
    are flat rows in and out."""

    def __init__(self, network: nn.Module, input_shape: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.network = network
        self.input_shape = input_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_shape is not None:
            x = x.reshape(len(x), *self.input_shape)
        return self.network(x).reshape(len(x), -1)


def check_contract(
    encoder: nn.Module,
    decoder: nn.Module,
    *,
    input_shape: tuple[int, ...],
    n_code_outputs: int,
    n_components: int,
    device: torch.device,
) -> None:
    """Raise a ValueError naming the network and the shapes if the user's
    `encoder` does not map a batch of `input_shape` inputs on `device` to
    ``(batch, n_code_outputs)``, or the `decoder` codes ``(batch,
    n_components)`` back to the input's shape (or to flat rows)."""
    n_features = math.prod(input_shape)
    # Two rows: batch normalisation in training mode refuses one.
    x = torch.zeros((2, *input_shape), device=device)
    z = torch.zeros((2, n_components), device=device)
    accepted = {(2, *input_shape), (2, n_features)}
    checks = (
        (encoder, "encoder", x, {(2, n_code_outputs)}),
        (decoder, "decoder", z, accepted),
    )
    for network, role, batch, shapes in checks:
        output = _probe(network, role, batch, device)
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
        if shape not in shapes:
            got = shape if shape is not None else type(output).__name__
            want = " or ".join(str(s).replace("2,", "batch,", 1) for s in sorted(shapes))
            raise ValueError(
                f"The {role} maps a batch of shape {_batch_shape(batch)} to {_batch(got)}; "
                f"skae needs a tensor of shape {want}."
                + _code_hint(role, n_code_outputs, n_components)
            )


def _probe(network: nn.Module, role: str, batch: torch.Tensor, device: torch.device):
    was_training = network.training
    network.eval()
    try:
        with torch.inference_mode():
            return network(batch)
    except Exception as error:
        raise ValueError(
            f"The {role} failed on a batch of shape {_batch_shape(batch)} on device "
            f"{device}: {type(error).__name__}: {error}"
        ) from error
    finally:
        network.train(was_training)


def _batch_shape(batch: torch.Tensor) -> str:
    return _batch(tuple(batch.shape))


def _batch(shape) -> str:
    if isinstance(shape, tuple) and shape and shape[0] == 2:
        return "(batch, " + ", ".join(map(str, shape[1:])) + ")"
    return str(shape)


def _code_hint(role: str, n_code_outputs: int, n_components: int) -> str:
    if role != "encoder":
        return ""
    if n_code_outputs == 2 * n_components:
        return (
            f" A VAE's encoder gives the posterior means and log-variances of its "
            f"n_components={n_components} codes side by side."
        )
    return f" That is n_components={n_components}."


# ----------------------------------------------------------------------
# Classes by name, for the safe format


def class_path(module: type) -> dict[str, str]:
    """Where `module` is defined: what the safe format records of a class."""
    return {"module": module.__module__, "qualname": module.__qualname__}


def _dotted(path: Mapping[str, str]) -> str:
    return f"{path['module']}.{path['qualname']}"


class TrustedClasses:
    """The network classes a user trusts a file to build: classes, or their
    import paths ("package.module.Class"), as skops's ``trusted=``."""

    def __init__(self, trusted: Iterable[type | str] | None) -> None:
        self.classes: dict[str, type] = {}
        self.paths: set[str] = set()
        for entry in trusted or ():
            if isinstance(entry, str):
                self.paths.add(entry)
            elif isinstance(entry, type):
                self.classes[_dotted(class_path(entry))] = entry
            else:
                raise TypeError(
                    f"trusted holds {entry!r}: give network classes or their "
                    "import paths as strings."
                )

    def find(self, path: Mapping[str, str]) -> type:
        """The class at `path`, if trusted: ValueError otherwise, before any import."""
        self.check([path])
        dotted = _dotted(path)
        return self.classes[dotted] if dotted in self.classes else _import(path)

    def check(self, paths: Iterable[Mapping[str, str]], file: str | None = None) -> None:
        """Raise :class:`UntrustedNetworkError` naming every class at `paths`
        (read from `file`) that is not trusted."""
        untrusted = []
        for path in paths:
            if not isinstance(path, Mapping) or set(path) != {"module", "qualname"}:
                raise ValueError("a network class recorded without its module and name")
            dotted = _dotted(path)
            if dotted not in self.classes and dotted not in self.paths:
                untrusted.append(dotted)
        if untrusted:
            raise UntrustedNetworkError(sorted(set(untrusted)), file)


class UntrustedNetworkError(ValueError):
    """A model file builds network classes that the user has not trusted.

    Attributes
    ----------
    untrusted : list of str
        The import paths of those classes.
    """

    def __init__(self, untrusted: list[str], file: str | None = None) -> None:
        self.untrusted = untrusted
        names = ", ".join(name.rsplit(".", 1)[-1] for name in untrusted)
        super().__init__(
            f"{file or 'The file'} builds networks of classes {untrusted}, which are not "
            f"trusted: if you trust their code, pass the classes (trusted=[{names}]) or "
            "their import paths to skae.load. Nothing was imported or run."
        )


def _import(path: Mapping[str, str]) -> type:
    module = importlib.import_module(path["module"])
    value: Any = module
    for name in path["qualname"].split("."):
        value = getattr(value, name, None)
        if value is None:
            raise ValueError(
                f"{_dotted(path)} cannot be imported: pass the class itself in trusted."
            )
    check_module_class(value, _dotted(path))
    return value
