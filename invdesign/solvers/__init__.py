"""Solvers by name. A new solver is a new module here that defines a `Solver` and `register`s it."""

from invdesign.solvers import gd, lbfgs
from invdesign.solvers.base import Solver, available, get, make, register
from invdesign.solvers.gd import GradientDescent
from invdesign.solvers.lbfgs import LBFGSB

__all__ = ["GradientDescent", "LBFGSB", "Solver", "available", "get", "gd", "lbfgs", "make", "register"]
