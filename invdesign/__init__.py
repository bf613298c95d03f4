"""invdesign: inverse design against learned models.

Find inputs ``x`` that minimize a trained surrogate ``E(x)``, or make it hit a target, with
solvers that are batched, seeded and comparable, and judge the designs with the task's true
oracle.
"""

from invdesign import benchmark, diversity, models, penalties, selection, solvers, starts, tasks
from invdesign.objective import Objective
from invdesign.optimize import minimize
from invdesign.result import History, Progress, Result, Status
from invdesign.selection import select_designs
from invdesign.space import Box, Categorical, Composition, Integer, Linear, Real, Space
from invdesign.starts import FromData

__all__ = [
    "Box",
    "Categorical",
    "Composition",
    "FromData",
    "History",
    "Integer",
    "Linear",
    "Objective",
    "Progress",
    "Real",
    "Result",
    "Space",
    "Status",
    "benchmark",
    "diversity",
    "minimize",
    "models",
    "penalties",
    "select_designs",
    "selection",
    "solvers",
    "starts",
    "tasks",
]
__version__ = "0.1.0"
