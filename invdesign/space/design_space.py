"""`Space`: named, mixed, constrained design spaces, and the encoding the model sees."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from invdesign.space.constraints import Linear, NonlinearConstraint, as_linear
from invdesign.space.table import space_from_data
from invdesign.space.variables import Categorical, Composition, Integer, Kind, Real, Variable, check_name

if TYPE_CHECKING:
    import pandas

    from invdesign.space.view import SpaceView

FEASIBILITY_TOL = 1e-7
"""How far a design may break a linear constraint, a bound or a composition's sum (relative to the
constraint's scale) and still count as feasible."""


class Space:
    """A design space of named variables, with fixed values and constraints.

    The model sees each design as one row of ``dim`` columns (the *encoding*, `columns`): a
    `Real` or `Integer` one column, a `Categorical` one column per level (one-hot), a
    `Composition` one column per component. Fixed variables keep their columns: the model
    receives them, the solvers do not search them.

    Args:
        variables: The variables, in the order of the model's input columns.
        constraints: Linear constraints over the variables, as strings (``"Fe + Ni <= 0.6"``) or
            `Linear` objects, and nonlinear constraints as callables ``g(x) <= 0`` on the model's
            input batch ``(b, dim) -> (b,)`` or ``(b, m)``.
        fixed: Values that pin variables, by name (``{"temperature": 500.0, "solvent": "water"}``).
        dtype: Floating dtype of the encoded designs (default ``torch.float64``).
        device: Device of the encoded designs.

    Raises:
        ValueError: for repeated or unknown names, a fixed value outside its bounds or not among
            the levels, a constraint naming an unknown variable or a categorical one, and
            constraints that leave no feasible design (checked by an exact mixed-integer feasibility
            problem before any search).
        TypeError: for a variable or constraint of the wrong type.

    Example:
        >>> space = Space(
        ...     [Composition(["Fe", "Ni", "Co"]), Real("temperature", 300, 900), Categorical("solvent", ["water", "ethanol"])],
        ...     constraints=["Fe + Ni <= 0.8"],
        ...     fixed={"temperature": 500.0},
        ... )
        >>> space.dim
        6
    """

    def __init__(
        self,
        variables: Sequence[Variable],
        *,
        constraints: Sequence[str | Linear | NonlinearConstraint] = (),
        fixed: Mapping[str, Any] | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        if not dtype.is_floating_point:
            raise TypeError(f"Space dtype must be a floating point dtype, got {dtype}")
        if isinstance(variables, (Real, Integer, Categorical, Composition)) or not isinstance(variables, Sequence):
            raise TypeError("Space takes a sequence of variables (Real, Integer, Categorical, Composition)")
        if not variables:
            raise ValueError("a Space needs at least one variable")
        for v in variables:
            if not isinstance(v, (Real, Integer, Categorical, Composition)):
                raise TypeError(f"Space variables must be Real, Integer, Categorical or Composition, got {v!r}")
        self.variables: tuple[Variable, ...] = tuple(variables)
        names = [n for v in self.variables for n in _names(v)]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"Space variable names repeat: {repeated}")
        self.dtype, self.device = dtype, torch.device(device) if device is not None else torch.device("cpu")
        self.fixed: dict[str, Any] = self._check_fixed(fixed or {})
        self.linear: tuple[Linear, ...] = ()
        self.nonlinear: tuple[NonlinearConstraint, ...] = ()
        for c in constraints:
            if isinstance(c, (str, Linear)):
                self.linear += tuple(self._check_linear(part) for part in as_linear(c))
            elif callable(c):
                self.nonlinear += (c,)
            else:
                raise TypeError(f"a constraint must be a string, an invdesign.Linear or a callable g(x) <= 0, got {c!r}")
        self.columns: tuple[str, ...] = tuple(c for v in self.variables for c in v.columns)
        self._starts = _column_starts(self.variables)
        lower, upper = [], []
        for v in self.variables:
            if isinstance(v, (Real, Integer)):
                lower.append(float(v.low))
                upper.append(float(v.high))
            elif isinstance(v, Categorical):
                lower += [0.0] * len(v.levels)
                upper += [1.0] * len(v.levels)
            else:
                lower += list(v.lower)  # type: ignore[arg-type]
                upper += list(v.upper)  # type: ignore[arg-type]
        self.lower: Tensor = torch.tensor(lower, dtype=dtype, device=self.device)
        self.upper: Tensor = torch.tensor(upper, dtype=dtype, device=self.device)
        collapsed = [c for c, lo, hi, a, b in zip(self.columns, self.lower.tolist(), self.upper.tolist(), lower, upper) if a < b and not lo < hi]
        if collapsed or not torch.isfinite(self.upper - self.lower).all():
            raise ValueError(
                f"the bounds of columns {collapsed or 'with huge bounds'} collapse or overflow in {dtype}: widen "
                "them, or search in float64 (a float64 model, or dtype=torch.float64 to the objective)"
            )
        if not self.free_variables:
            raise ValueError("every variable of the space is fixed: there is nothing to search")
        self._view: dict[bool, SpaceView] = {}
        self.coordinates(relax=True).check_feasible()

    @property
    def dim(self) -> int:
        """Width of the encoding: the number of columns the model takes."""
        return len(self.columns)

    @property
    def free_variables(self) -> tuple[Variable, ...]:
        """The variables that are not fixed."""
        return tuple(
            v for v in self.variables
            if not (v.name in self.fixed if not isinstance(v, Composition) else all(n in self.fixed for n in v.names))
        )

    @property
    def variable_kinds(self) -> frozenset[Kind]:
        """The kinds of the variables the solvers search (fixed ones excluded)."""
        return frozenset(v.kind for v in self.free_variables)

    @property
    def constraint_kinds(self) -> frozenset[str]:
        """``"linear"`` and/or ``"nonlinear"``, for the constraints the space has beyond bounds and compositions."""
        return frozenset({"linear"} if self.linear else set()) | frozenset({"nonlinear"} if self.nonlinear else set())

    @property
    def bounds(self) -> Tensor:
        """Bounds of the encoded columns stacked BoTorch-style, shape ``(2, dim)``."""
        return torch.stack([self.lower, self.upper])

    def variable(self, name: str) -> Variable:
        """The variable called ``name`` (a composition by any of its components' names)."""
        for v in self.variables:
            if name in _names(v):
                return v
        raise ValueError(f"the space has no variable {name!r}; its variables are {self.names}")

    @property
    def names(self) -> list[str]:
        """Every variable's name (each composition component by its own)."""
        return [n for v in self.variables for n in _names(v)]

    def column_slice(self, variable: Variable) -> slice:
        """The encoded columns of ``variable``."""
        start = self._starts[self.variables.index(variable)]
        return slice(start, start + len(variable.columns))

    def fix(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> Space:
        """A copy of the space with more variables pinned (``space.fix(temperature=500.0)``)."""
        return Space(
            self.variables,
            constraints=(*self.linear, *self.nonlinear),
            fixed={**self.fixed, **(values or {}), **more},
            dtype=self.dtype,
            device=self.device,
        )

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> Space:
        """The same space with encoded designs of another dtype or on another device."""
        if (dtype or self.dtype) == self.dtype and torch.device(device or self.device) == self.device:
            return self
        return Space(
            self.variables,
            constraints=(*self.linear, *self.nonlinear),
            fixed=self.fixed,
            dtype=dtype or self.dtype,
            device=device or self.device,
        )

    def coordinates(self, *, relax: bool = True) -> SpaceView:
        """The coordinates solvers search the space in (`invdesign.space.SpaceView`).

        Args:
            relax: ``True`` (gradient solvers): integers are continuous and each categorical is
                its one-hot block relaxed to the simplex; rounding comes at the end. ``False``
                (sample solvers): integers on their grid, each categorical one column of level
                indices.
        """
        from invdesign.space.view import SpaceView

        if relax not in self._view:
            self._view[relax] = SpaceView(self, relax=relax)
        return self._view[relax]

    def sample(
        self,
        n: int,
        *,
        seed: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """``n`` feasible designs (encoded), shape ``(n, dim)``: uniform over levels, integers and
        simplices, Sobol over reals, moved onto the linear constraints where they break them."""
        view = self.coordinates(relax=False)
        return view.designs(view.sample(n, seed=seed)).to(dtype=dtype or self.dtype, device=device or self.device)

    def contains(self, x: Tensor, *, tol: float = FEASIBILITY_TOL) -> Tensor:
        """Whether each design of ``x`` ``(b, dim)`` meets the bounds, fixed values, integrality,
        one-hot blocks, composition sums and linear constraints (not the nonlinear ones), ``(b,)``.

        A violation up to ``tol`` (relative to each constraint's scale) counts as met; in a dtype
        coarser than float64, up to ``64 eps`` of the dtype.
        """
        return self.coordinates(relax=True).design_violation(self._check_width(x)) <= _tolerance(tol, x)

    def feasible(self, x: Tensor, *, tol: float = FEASIBILITY_TOL) -> Tensor:
        """`contains`, and every nonlinear constraint ``g(x) <= tol``, ``(b,)``."""
        return self.contains(x, tol=tol) & (self.nonlinear_violation(x) <= _tolerance(tol, x))

    def nonlinear_violation(self, x: Tensor) -> Tensor:
        """``sum_j relu(g_j(x))`` over every nonlinear constraint's outputs, ``(b,)``, differentiable in ``x``.

        Raises:
            ValueError: for a constraint that returns another shape than ``(b,)`` or ``(b, m)``,
                or NaN.
        """
        total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for i, g in enumerate(self.nonlinear):
            value = g(x)
            if not isinstance(value, Tensor) or value.ndim not in (1, 2) or value.shape[0] != x.shape[0]:
                shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise ValueError(
                    f"nonlinear constraint {i} ({getattr(g, '__name__', g)!r}) returned {shape} for {x.shape[0]} designs; "
                    f"expected a tensor of shape ({x.shape[0]},) or ({x.shape[0]}, m)"
                )
            if torch.isnan(value).any():
                raise ValueError(f"nonlinear constraint {i} ({getattr(g, '__name__', g)!r}) returned NaN")
            value = value.to(dtype=x.dtype).reshape(x.shape[0], -1)
            total = total + value.clamp_min(0.0).sum(dim=-1)
        return total

    def neighbors(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """The discrete neighbours of designs ``X`` ``(b, dim)``: each free integer one step up and
        down (within bounds), each free categorical at every other level, the rest unchanged.

        Returns:
            Neighbours ``(m, dim)`` and the row of ``X`` each comes from, ``(m,)``.
        """
        parts, owners = [], []
        rows = torch.arange(X.shape[0], device=X.device)
        for variable in self.free_variables:
            cols = self.column_slice(variable)
            if isinstance(variable, Integer):
                for step in (-1.0, 1.0):
                    moved = X.clone()
                    moved[:, cols.start] += step
                    keep = (moved[:, cols.start] >= variable.low) & (moved[:, cols.start] <= variable.high)
                    parts.append(moved[keep])
                    owners.append(rows[keep])
            elif isinstance(variable, Categorical):
                current = X[:, cols].argmax(dim=-1)
                for level in range(len(variable.levels)):
                    keep = current != level
                    moved = X[keep].clone()
                    moved[:, cols] = 0.0
                    moved[:, cols.start + level] = 1.0
                    parts.append(moved)
                    owners.append(rows[keep])
        if not parts:
            return X[:0], rows[:0]
        return torch.cat(parts), torch.cat(owners)

    def assignment(self, x: Tensor) -> dict[str, Any]:
        """The values of the free integer and categorical variables of one design ``x`` ``(dim,)``."""
        out: dict[str, Any] = {}
        for variable in self.free_variables:
            cols = self.column_slice(variable)
            if isinstance(variable, Integer):
                out[variable.name] = round(float(x[cols.start]))
            elif isinstance(variable, Categorical):
                out[variable.name] = variable.levels[int(x[cols].argmax())]
        return out

    def to_frame(self, X: Tensor, **columns: Any) -> pandas.DataFrame:
        """Designs ``X`` ``(n, dim)`` as a table: one column per variable (levels as labels,
        integers as ints, each composition component its own), then ``columns``."""
        from invdesign.space.table import to_frame

        return to_frame(self, X, **columns)

    def from_frame(self, frame: pandas.DataFrame) -> Tensor:
        """Encoded designs ``(n, dim)`` of a table with one column per variable (fixed ones may be absent).

        Raises:
            ValueError: for a missing column, a level not among a categorical's, or a non-number.
        """
        from invdesign.space.table import from_frame

        return from_frame(self, frame)

    from_data = staticmethod(space_from_data)
    """A space read off a table of lab data: `invdesign.space.table.space_from_data`."""

    def spec(self) -> dict[str, Any]:
        """A JSON-ready description (variables, fixed values, linear constraints, how many nonlinear)."""
        return {
            "variables": [_spec(v) for v in self.variables],
            "fixed": {k: (v if isinstance(v, (int, float)) else str(v)) for k, v in self.fixed.items()},
            "linear": [[dict(c.coefficients), c.op, c.rhs] for c in self.linear],
            "nonlinear": len(self.nonlinear),
        }

    def _check_width(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected encoded designs of shape (b, {self.dim}) ({', '.join(self.columns)}), got {tuple(x.shape)}")
        return x

    def _check_fixed(self, fixed: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(fixed, Mapping):
            raise TypeError(f"fixed must be a mapping of names to values, got {type(fixed).__name__}")
        out: dict[str, Any] = {}
        for name, value in fixed.items():
            variable = self.variable(check_name(name, "fixed variable"))
            if isinstance(variable, Composition):
                assert isinstance(variable.lower, tuple) and isinstance(variable.upper, tuple)
                i = variable.names.index(name)
                out[name] = Real(name, variable.lower[i], variable.upper[i]).check_value(value) if variable.lower[i] < variable.upper[i] else variable.lower[i]
                if out[name] != value and variable.lower[i] == variable.upper[i]:
                    raise ValueError(f"the value {value!r} of {name!r} differs from its pinned bound {variable.lower[i]}")
                continue
            out[name] = variable.check_value(value)
        return out

    def _check_linear(self, constraint: Linear) -> Linear:
        for name in constraint.coefficients:
            if name not in self.names:
                close = [n for n in self.names if n.lower() == name.lower()]
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(
                    f"the constraint {str(constraint)!r} names {name!r}, which is not a variable of the space{hint}; "
                    f"its variables are {self.names}"
                )
            if isinstance(self.variable(name), Categorical):
                raise ValueError(
                    f"the constraint {str(constraint)!r} names the categorical {name!r}; linear constraints add up "
                    "reals, integers and composition components"
                )
        return constraint

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Space):
            return NotImplemented
        return self.spec() == other.spec() and self.nonlinear == other.nonlinear

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [", ".join(_describe(v) for v in self.variables)]
        if self.fixed:
            parts.append(f"fixed={self.fixed}")
        if self.linear or self.nonlinear:
            parts.append(f"constraints=[{', '.join(repr(str(c)) for c in self.linear)}" + (
                f"{', ' if self.linear else ''}{len(self.nonlinear)} nonlinear]" if self.nonlinear else "]"
            ))
        return f"Space({'; '.join(parts)})"


def _tolerance(tol: float, x: Tensor) -> float:
    """``tol``, or more for a low-precision dtype: sums of a few float32 fractions are off by several ``eps``."""
    return max(tol, 64 * torch.finfo(x.dtype).eps) if x.dtype.is_floating_point else tol


def _names(v: Variable) -> tuple[str, ...]:
    return v.names if isinstance(v, Composition) else (v.name,)


def _column_starts(variables: Sequence[Variable]) -> list[int]:
    starts, at = [], 0
    for v in variables:
        starts.append(at)
        at += len(v.columns)
    return starts


def _describe(v: Variable) -> str:
    if isinstance(v, (Real, Integer)):
        return f"{type(v).__name__}({v.name!r}, {v.low:g}, {v.high:g})"
    if isinstance(v, Categorical):
        return f"Categorical({v.name!r}, {list(v.levels)})"
    bounds = ", bounded" if v.bounded else ""
    return f"Composition({list(v.names)}, total={v.total:g}{bounds})"


def _spec(v: Variable) -> dict[str, Any]:
    if isinstance(v, (Real, Integer)):
        return {"kind": v.kind, "name": v.name, "low": v.low, "high": v.high}
    if isinstance(v, Categorical):
        return {"kind": v.kind, "name": v.name, "levels": [str(level) for level in v.levels]}
    return {"kind": v.kind, "names": list(v.names), "total": v.total, "lower": list(v.lower), "upper": list(v.upper)}  # type: ignore[arg-type]


def space_from_spec(spec: dict[str, Any], *, dtype: torch.dtype, device: torch.device | str | None = None) -> Space:
    """The space `Space.spec` described (nonlinear constraints cannot be saved: give them back with `Space.fix`'s copy)."""
    variables: list[Variable] = []
    for v in spec["variables"]:
        if v["kind"] == "real":
            variables.append(Real(v["name"], v["low"], v["high"]))
        elif v["kind"] == "integer":
            variables.append(Integer(v["name"], v["low"], v["high"]))
        elif v["kind"] == "categorical":
            variables.append(Categorical(v["name"], tuple(v["levels"])))
        else:
            variables.append(Composition(tuple(v["names"]), v["total"], tuple(v["lower"]), tuple(v["upper"])))
    linear = [Linear(c, op, rhs) for c, op, rhs in spec["linear"]]
    return Space(variables, constraints=linear, fixed=spec["fixed"], dtype=dtype, device=device)
