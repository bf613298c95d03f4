"""The run engine: solver capabilities, the registry, the run every `invdesign.minimize` call
makes, and the base classes of the three solver families. Solvers themselves live in
`invdesign.solvers`, one module each."""

from invdesign.engine.ask_tell import AskTell, SampleSolver, load_optimizer
from invdesign.engine.capabilities import Budget, Capabilities
from invdesign.engine.registry import available, capable, get, make, register
from invdesign.engine.run import Callback, Data, Outcome, Run, count
from invdesign.engine.solver import RestartSolver, Solver, TrainedSolver

__all__ = [
    "AskTell",
    "Budget",
    "Callback",
    "Capabilities",
    "Data",
    "Outcome",
    "RestartSolver",
    "Run",
    "SampleSolver",
    "Solver",
    "TrainedSolver",
    "available",
    "capable",
    "count",
    "get",
    "load_optimizer",
    "make",
    "register",
]
