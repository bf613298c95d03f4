"""Design spaces: the all-real `Box`, and the named, mixed, constrained `Space`; the search
coordinates solvers see them in (`UnitCube`, `SpaceView`)."""

from invdesign.space.box import Box, UnitCube
from invdesign.space.constraints import Linear, NonlinearConstraint
from invdesign.space.design_space import FEASIBILITY_TOL, Space, space_from_spec
from invdesign.space.variables import Categorical, Composition, Integer, Real, Variable
from invdesign.space.view import SpaceView

DesignSpace = Box | Space
"""Anything a design lives in: a `Box` or a `Space`."""

__all__ = [
    "FEASIBILITY_TOL",
    "Box",
    "Categorical",
    "Composition",
    "DesignSpace",
    "Integer",
    "Linear",
    "NonlinearConstraint",
    "Real",
    "Space",
    "SpaceView",
    "UnitCube",
    "Variable",
    "space_from_spec",
]
