"""Solvers by name: every module of this package defines one solver and registers it.

A new solver is one new module here; it is found and imported with the package, and appears in
`available()`, in the capability-driven test table and in the benchmark without any other file
changing. The classes each module registers are also attributes of this package
(``invdesign.solvers.GradientDescent``).
"""

from __future__ import annotations

import importlib
import pkgutil

from invdesign.engine import (
    AskTell,
    Capabilities,
    RestartSolver,
    SampleSolver,
    Solver,
    TrainedSolver,
    available,
    capable,
    get,
    load_optimizer,
    make,
    register,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
for _name in available():
    globals()[get(_name).__name__] = get(_name)

__all__ = [
    "AskTell",
    "Capabilities",
    "RestartSolver",
    "SampleSolver",
    "Solver",
    "TrainedSolver",
    "available",
    "capable",
    "get",
    "load_optimizer",
    "make",
    "register",
    *sorted(get(name).__name__ for name in available()),
]
