"""Solvers by name. A new solver is a new module here that defines a `Solver` and `register`s it."""

# One line per solver module: importing it registers its solver.
from invdesign.solvers import gd
from invdesign.solvers import lbfgs
from invdesign.solvers import random_search
from invdesign.solvers.cmaes import CMAES
from invdesign.solvers.bo import BayesianOptimization
from invdesign.solvers.turbo import TuRBO
from invdesign.solvers.amortized import Amortized
from invdesign.solvers.ask_tell import AskTell, SampleSolver, load_optimizer
from invdesign.solvers.base import RestartSolver, Solver, available, get, make, register
from invdesign.solvers.gd import GradientDescent
from invdesign.solvers.lbfgs import LBFGSB
from invdesign.solvers.random_search import RandomSearch

__all__ = [
    "Amortized",
    "AskTell",
    "BayesianOptimization",
    "CMAES",
    "GradientDescent",
    "LBFGSB",
    "RandomSearch",
    "RestartSolver",
    "SampleSolver",
    "Solver",
    "TuRBO",
    "amortized",
    "available",
    "bo",
    "cmaes",
    "get",
    "gd",
    "lbfgs",
    "load_optimizer",
    "make",
    "random_search",
    "register",
    "turbo",
]
