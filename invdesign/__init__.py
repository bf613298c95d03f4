"""invdesign: inverse design against learned models.

Find inputs ``x`` that minimize a trained surrogate ``E(x)``, or make it hit a target, with
solvers that are batched, seeded and comparable, and judge the designs with the task's true
oracle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from invdesign import benchmark, diversity, models, penalties, selection, solvers, starts, tasks
    from invdesign.mip.certify import Certificate, certify
    from invdesign.objective import Objective
    from invdesign.optimize import minimize
    from invdesign.recommendation import Recommendation, recommend
    from invdesign.result import BatchResult, History, Progress, Result, Status
    from invdesign.selection import select_designs
    from invdesign.space import Box, Categorical, Composition, Integer, Linear, Real, Space
    from invdesign.starts import FromData

_SUBPACKAGES = {"benchmark", "diversity", "models", "penalties", "selection", "solvers", "starts", "tasks"}
_NAMES = {
    "Certificate": "invdesign.mip.certify",
    "certify": "invdesign.mip.certify",
    "Objective": "invdesign.objective",
    "minimize": "invdesign.optimize",
    "Recommendation": "invdesign.recommendation",
    "recommend": "invdesign.recommendation",
    "BatchResult": "invdesign.result",
    "History": "invdesign.result",
    "Progress": "invdesign.result",
    "Result": "invdesign.result",
    "Status": "invdesign.result",
    "select_designs": "invdesign.selection",
    "Box": "invdesign.space",
    "Categorical": "invdesign.space",
    "Composition": "invdesign.space",
    "Integer": "invdesign.space",
    "Linear": "invdesign.space",
    "Real": "invdesign.space",
    "Space": "invdesign.space",
    "FromData": "invdesign.starts",
}
"""Where each public name lives: everything loads when first used, so ``import invdesign`` (and the
command line's ``--help``) costs next to nothing, and the core (torch, the space, the objective,
``minimize``) loads without BoTorch, cma, matplotlib, scikit-learn or the benchmark."""


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"invdesign.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'invdesign' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BatchResult",
    "Box",
    "Categorical",
    "Certificate",
    "Composition",
    "FromData",
    "History",
    "Integer",
    "Linear",
    "Objective",
    "Progress",
    "Real",
    "Recommendation",
    "Result",
    "Space",
    "Status",
    "benchmark",
    "certify",
    "diversity",
    "minimize",
    "models",
    "penalties",
    "recommend",
    "select_designs",
    "selection",
    "solvers",
    "starts",
    "tasks",
]
__version__ = "0.1.0"
