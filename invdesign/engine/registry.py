"""The registry of solvers by name; every lookup error names the known entries."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from invdesign.engine.capabilities import Capabilities
    from invdesign.engine.solver import Solver

_REGISTRY: dict[str, type[Solver]] = {}


def register(cls: type[Solver]) -> type[Solver]:
    """Class decorator adding a solver to the registry under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"a solver named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def _load_solvers() -> None:
    """Import `invdesign.solvers` (every solver module registers itself) the first time a name is looked up:
    ``import invdesign`` stays light, and BoTorch, cma and the rest load when a solver is first used."""
    if "invdesign.solvers" not in sys.modules:
        importlib.import_module("invdesign.solvers")


def available() -> list[str]:
    """Names of the registered solvers."""
    _load_solvers()
    return sorted(_REGISTRY)


def get(name: str) -> type[Solver]:
    """The solver class registered as ``name``.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    _load_solvers()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown method {name!r}; known: {', '.join(available())}") from None


def capable(test: Callable[[Capabilities], bool]) -> list[str]:
    """Names of the registered solvers whose capabilities pass ``test``."""
    return [name for name in available() if test(_REGISTRY[name].capabilities)]


def make(name: str, **options: Any) -> Solver:
    """Build the solver ``name`` with ``options``.

    ``q`` (BoTorch's word) is accepted for the ``batch`` option of the sample-based solvers.

    Raises:
        ValueError: for an unknown name.
        TypeError: naming any option the solver does not have, or for both ``q`` and ``batch``.
    """
    cls = get(name)
    known = {f.name for f in dataclasses.fields(cls)}
    if "q" in options and "batch" in known and "q" not in known:
        if "batch" in options:
            raise TypeError(f"method {name!r}: q is another name for batch; give one of them")
        options = {("batch" if key == "q" else key): value for key, value in options.items()}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"for method {name!r}; its options are: {', '.join(sorted(known)) or 'none'}"
        )
    return cls(**options)
