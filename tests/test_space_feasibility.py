"""Property tests: every design a `Space` or a solver hands out is feasible, on random spaces.

Random spaces mix `Real`, `Integer`, `Categorical` and `Composition` variables (random bounds,
levels, totals and component bounds), fixed values, linear inequality constraints built so that a
known design meets them, and now and then an equality. Every solver that declares the kinds a
space has runs on it (chosen from `Capabilities`, never by name), and every design it returns is
checked by `problems` below, which reads the space's variables and constraints itself rather than
asking the space (`Space.contains` allows a tolerance on integrality and one-hot columns; these
tests do not). Examples are few and budgets small, so the file runs in well under a minute on
one core; every failure the properties found is kept below as a deterministic minimal reproduction.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from test_solvers import call_options, capabilities

import invdesign as ivd

SUM_TOL = 1e-9
"""Relative tolerance of a composition's sum (float64)."""
LINEAR_TOL = 1e-7
"""Tolerance of a linear constraint, relative to ``max(1, |rhs|)``."""
BOUND_TOL = 1e-14
"""Tolerance of a bound, relative to ``max(1, |low|, |high|)``: a few units in the last place, for the
affine map between search coordinates and designs (`test_designs_meet_bounds_exactly` asks for none)."""

COEFFICIENTS = (-3.0, -2.0, -1.5, -1.0, -0.5, 0.25, 0.5, 1.0, 2.0, 3.0)
PROPERTY = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # The same examples on every run, so CI is reproducible; INVDESIGN_EXPLORE=1 draws fresh ones.
    derandomize=not os.environ.get("INVDESIGN_EXPLORE"),
    database=None,
)


def examples(n: int, *, shrink: bool = True) -> settings:
    """`PROPERTY` with ``n`` examples; without ``shrink`` a failing example is reported as drawn
    (for tests whose examples take seconds: shrinking would take minutes)."""
    phases = tuple(Phase) if shrink else (Phase.explicit, Phase.reuse, Phase.generate)
    return settings(PROPERTY, max_examples=n, phases=phases)


@dataclass
class Drawn:
    """A random space and a design known to be feasible in it (``point``: value of every variable by name)."""

    space: ivd.Space
    point: dict[str, Any]
    linear: list[tuple[dict[str, float], str, float]] = field(default_factory=list)

    @property
    def x(self) -> torch.Tensor:
        """The known feasible design, encoded, ``(1, dim)``."""
        return self.space.from_frame(pd.DataFrame({name: [value] for name, value in self.point.items()}))


# -- the independent feasibility check ---------------------------------------------------------------------------


def problems(space: ivd.Space, X: torch.Tensor, *, relaxed: bool = False) -> list[str]:
    """What is wrong with each design of ``X`` ``(n, dim)``, read off the space's variables and constraints.

    Exact: bounds, fixed values, integrality, one-hot columns 0/1 with one 1. Within `SUM_TOL`:
    composition sums. Within `LINEAR_TOL`: linear constraints. ``relaxed``: the designs a gradient
    solver evaluates in relaxed coordinates, where integers may lie between grid points and a
    categorical's columns anywhere on the unit simplex (still exact at fixed values).
    """
    assert X.ndim == 2 and X.shape[1] == space.dim, f"shape {tuple(X.shape)}, expected (n, {space.dim})"
    assert X.dtype == torch.float64, X.dtype
    x = X.detach().cpu().numpy()
    out: list[str] = []
    if not np.isfinite(x).all():
        out.append(f"rows {np.nonzero(~np.isfinite(x).all(axis=1))[0].tolist()} hold NaN or infinite values")
        return out

    def bounded(name: str, values: np.ndarray, low: float, high: float) -> None:
        tol = BOUND_TOL * max(1.0, abs(low), abs(high))
        bad = (values < low - tol) | (values > high + tol)
        if bad.any():
            out.append(f"{name}: {values[bad][:3].tolist()} outside [{low!r}, {high!r}]")

    for variable in space.variables:
        part = x[:, space.column_slice(variable)]
        if isinstance(variable, ivd.Composition):
            for i, name in enumerate(variable.names):
                bounded(name, part[:, i], variable.lower[i], variable.upper[i])
            gap = np.abs(part.sum(axis=1) - variable.total) / variable.total
            if (gap > SUM_TOL).any():
                out.append(f"composition {variable.name} sums off {variable.total} by up to {gap.max():.3g} (relative)")
            continue
        fixed = variable.name in space.fixed
        if isinstance(variable, ivd.Categorical):
            if fixed:
                want = np.zeros(len(variable.levels))
                want[variable.index(space.fixed[variable.name])] = 1.0
                if not (part == want).all():
                    out.append(f"fixed categorical {variable.name}: columns {part[(part != want).any(axis=1)][:2].tolist()}")
            elif relaxed:
                if (part < 0).any() or (part > 1).any() or (np.abs(part.sum(axis=1) - 1) > SUM_TOL).any():
                    out.append(f"relaxed categorical {variable.name}: columns off the unit simplex {part[:2].tolist()}")
            elif not (((part == 0) | (part == 1)).all() and (part.sum(axis=1) == 1).all()):
                rows = ~(((part == 0) | (part == 1)).all(axis=1) & (part.sum(axis=1) == 1))
                out.append(f"categorical {variable.name}: not one-hot {part[rows][:3].tolist()}")
            continue
        values = part[:, 0]
        if fixed:
            if not (values == float(space.fixed[variable.name])).all():
                out.append(f"fixed {variable.name}={space.fixed[variable.name]!r}: got {values[:3].tolist()}")
            continue
        bounded(variable.name, values, float(variable.low), float(variable.high))
        if isinstance(variable, ivd.Integer) and not relaxed and not (values == np.round(values)).all():
            out.append(f"integer {variable.name}: {values[values != np.round(values)][:3].tolist()} not integral")
    column = {name: i for i, name in enumerate(space.columns)}
    for c in space.linear:
        lhs = sum(coefficient * x[:, column[name]] for name, coefficient in c.coefficients.items())
        gap = (lhs - c.rhs) / max(1.0, abs(c.rhs))
        worst = {"<=": gap, ">=": -gap, "==": np.abs(gap)}[c.op].max()
        if worst > LINEAR_TOL:
            out.append(f"linear constraint {str(c)!r} broken by {worst:.3g} (relative)")
    return out


def assert_feasible(space: ivd.Space, X: torch.Tensor, what: str, *, relaxed: bool = False) -> None:
    found = problems(space, X, relaxed=relaxed)
    assert not found, f"{what} of {space!r} are not feasible:\n  " + "\n  ".join(found)


# -- random spaces -----------------------------------------------------------------------------------------------


@st.composite
def spaces(
    draw: st.DrawFn,
    *,
    free: frozenset[str] = frozenset({"real", "integer", "categorical", "composition"}),
    constraints: frozenset[str] = frozenset({"linear"}),
    max_variables: int = 4,
) -> Drawn:
    """A random space whose free variables are of the kinds ``free`` (others appear only fixed),
    with linear constraints when ``"linear" in constraints``, and a design known to be feasible."""
    kinds = [k for k in ("real", "integer", "categorical", "composition") if k in free or k != "composition"]
    n = draw(st.integers(1, max_variables))
    variables: list[Any] = []
    point: dict[str, Any] = {}
    fixed: dict[str, Any] = {}
    for j in range(n):
        kind = draw(st.sampled_from(kinds))
        if kind == "real":
            if draw(st.booleans()):  # bounds as people write them, with one decimal
                tenths = draw(st.integers(-100, 99))
                low, high = tenths / 10, draw(st.integers(tenths + 1, 100)) / 10
            else:
                low = draw(st.floats(-10.0, 10.0, allow_subnormal=False))
                high = low + draw(st.floats(0.01, 20.0))
            variable = ivd.Real(f"r{j}", low, high)
            value: Any = draw(st.floats(variable.low, variable.high))
        elif kind == "integer":
            low = draw(st.integers(-5, 5))
            variable = ivd.Integer(f"i{j}", low, low + draw(st.integers(1, 6)))
            value = draw(st.integers(variable.low, variable.high))
        elif kind == "categorical":
            k = draw(st.integers(2, 4))
            levels = draw(st.sampled_from([[f"L{i}" for i in range(k)], list(range(10, 10 + k)), ["water", "ethanol", "dmso", "oil"][:k]]))
            variable = ivd.Categorical(f"k{j}", levels)
            value = draw(st.sampled_from(levels))
        else:
            k = draw(st.integers(2, 4))
            total = draw(st.sampled_from([1.0, 100.0, 7.5]))
            weights = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k)))
            assume(weights.sum() > 1e-3)
            share = np.minimum(total * weights / weights.sum(), total)
            names = [f"c{j}_{i}" for i in range(k)]
            lower = upper = None
            if draw(st.booleans()):
                below = draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k))
                above = draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k))
                lower = tuple(float(max(0.0, s - b * total)) for s, b in zip(share, below))
                upper = tuple(float(min(total, s + a * total)) for s, a in zip(share, above))
            variable = ivd.Composition(names, total=total, lower=lower, upper=upper)
            point.update(zip(names, share.tolist()))
            variables.append(variable)
            continue
        variables.append(variable)
        point[variable.name] = value
        if kind not in free or draw(st.integers(0, 3)) == 0:
            fixed[variable.name] = value
    free_left = [v for v in variables if isinstance(v, ivd.Composition) or v.name not in fixed]
    if not free_left:
        # Keep one variable of a kind the caller allows free; a space needs one to search.
        allowed = [v for v in variables if v.kind in free]
        assume(allowed)
        del fixed[allowed[0].name]
    linear: list[tuple[dict[str, float], str, float]] = []
    numeric = [name for v in variables if not isinstance(v, ivd.Categorical) for name in (v.names if isinstance(v, ivd.Composition) else (v.name,))]
    if "linear" in constraints and numeric:
        for _ in range(draw(st.integers(0, 3))):
            names = draw(st.lists(st.sampled_from(numeric), min_size=1, max_size=min(3, len(numeric)), unique=True))
            coefficients = {name: draw(st.sampled_from(COEFFICIENTS)) for name in names}
            value = sum(c * float(point[name]) for name, c in coefficients.items())
            op = draw(st.sampled_from(["<=", "<=", ">=", ">=", "=="]))
            slack = 0.0 if op == "==" else draw(st.sampled_from([0.0, 0.01, 0.3, 2.0]))
            rhs = value + slack if op == "<=" else value - slack
            linear.append((coefficients, op, rhs))
    written: list[Any] = []
    for coefficients, op, rhs in linear:
        if draw(st.booleans()):
            written.append(" + ".join(f"{c!r}*{name}" for name, c in coefficients.items()) + f" {op} {rhs!r}")
        else:
            written.append(ivd.Linear(coefficients, op, rhs))
    space = ivd.Space(variables, constraints=written, fixed=fixed)
    return Drawn(space, point, linear)


def quadratic_model(space: ivd.Space, seed: int):
    """A cheap differentiable model over the encoding: a random, diagonal, scaled quadratic ``(b, dim) -> (b,)``."""
    g = torch.Generator().manual_seed(seed)
    width = (space.upper - space.lower).clamp_min(1e-3)
    centre = space.lower + width * torch.rand(space.dim, generator=g, dtype=torch.float64)
    weight = 0.1 + torch.rand(space.dim, generator=g, dtype=torch.float64)

    def model(x: torch.Tensor) -> torch.Tensor:
        return (((x - centre) / width).square() * weight).sum(dim=-1)

    return model


def quick_options(method: str, space: ivd.Space, model) -> dict[str, Any]:
    """`call_options` with the budget cut down to a few evaluations or iterations."""
    caps = capabilities(method)
    options = call_options(method, space, lambda x: model(x).detach())
    if caps.budget == "evaluations":
        options.update(max_evals=10)
        options.pop("n_init", None)
    else:
        options.update(max_iter=6)
        if caps.x0:
            options["n_restarts"] = 2
        if "batch_size" in options:  # a generator's batch
            options["batch_size"] = 8
    return options


# -- the space on its own ----------------------------------------------------------------------------------------


@examples(60)
@given(drawn=spaces())
def test_the_known_design_is_feasible_and_the_space_agrees(drawn):
    """The strategy's own check: the design it built the constraints around passes both checks."""
    assert_feasible(drawn.space, drawn.x, "the known design")
    assert drawn.space.contains(drawn.x).all()


@examples(60)
@given(drawn=spaces(), n=st.integers(1, 20), seed=st.integers(0, 2**16))
def test_sample_is_feasible(drawn, n, seed):
    X = drawn.space.sample(n, seed=seed)
    assert X.shape == (n, drawn.space.dim)
    assert_feasible(drawn.space, X, "space.sample designs")
    assert drawn.space.contains(X).all()


@st.composite
def wild_points(draw: st.DrawFn, view: ivd.space.SpaceView, max_rows: int = 6) -> torch.Tensor:
    """Arbitrary search points of ``view``, far off its bounds as often as not, ``(b, n)``."""
    b = draw(st.integers(1, max_rows))
    scale = draw(st.sampled_from([1.0, 3.0, 1e3, 1e6]))
    values = draw(st.lists(st.floats(-1.0, 2.0, allow_subnormal=False), min_size=b * view.dim, max_size=b * view.dim))
    u = torch.tensor(values, dtype=torch.float64).reshape(b, view.dim)
    return u if scale == 1.0 else (u - 0.5) * scale


@examples(40, shrink=False)
@given(drawn=spaces(), relax=st.booleans(), data=st.data())
def test_projection_and_designs_of_wild_points_are_feasible(drawn, relax, data):
    view = drawn.space.coordinates(relax=relax)
    u = data.draw(wild_points(view))
    p = view.project(u)
    assert p.shape == u.shape
    assert_feasible(drawn.space, view.to_design(p), f"to_design(project(u)) (relax={relax})", relaxed=True)
    assert_feasible(drawn.space, view.designs(u), f"designs(u) (relax={relax})")


@examples(30, shrink=False)
@given(drawn=spaces(), relax=st.booleans(), data=st.data())
def test_the_view_contains_its_own_projections(drawn, relax, data):
    view = drawn.space.coordinates(relax=relax)
    u = data.draw(wild_points(view))
    p = view.project(u)
    assert bool(view.contains(p).all()), f"view.contains(view.project(u)) is False: u={u.tolist()}, project(u)={p.tolist()}"
    assert bool(drawn.space.contains(view.designs(u)).all())


@examples(30, shrink=False)
@given(drawn=spaces(), relax=st.booleans(), data=st.data())
def test_projection_is_idempotent_on_feasible_points(drawn, relax, data):
    view = drawn.space.coordinates(relax=relax)
    feasible = torch.cat([view.project(data.draw(wild_points(view))), view.to_search(drawn.space.sample(4, seed=0))])
    again = view.project(feasible)
    if relax:
        torch.testing.assert_close(again, feasible, rtol=0.0, atol=1e-10)
    else:
        assert torch.equal(again, feasible), "rounding a point already on the grid changes nothing"


@examples(30)
@given(drawn=spaces(), relax=st.booleans(), n=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_a_feasible_design_maps_to_itself_through_the_search_coordinates(drawn, relax, n, seed):
    space = drawn.space
    view = space.coordinates(relax=relax)
    X = space.sample(n, seed=seed)
    back = view.designs(view.to_search(X))
    assert_feasible(space, back, f"designs(to_search(X)) (relax={relax})")
    scale = torch.maximum(space.lower.abs(), space.upper.abs()).clamp_min(1.0)
    torch.testing.assert_close(back / scale, X / scale, rtol=0.0, atol=1e-12)


@examples(40)
@given(drawn=spaces(), n=st.integers(1, 8), seed=st.integers(0, 2**16), drop_fixed=st.booleans())
def test_frame_round_trip(drawn, n, seed, drop_fixed):
    space = drawn.space
    X = space.sample(n, seed=seed)
    frame = space.to_frame(X, energy=torch.arange(n, dtype=torch.float64))
    assert list(frame.columns) == [*space.names, "energy"]
    for variable in space.variables:
        if isinstance(variable, ivd.Categorical):
            assert set(frame[variable.name]) <= set(variable.levels)
        elif isinstance(variable, ivd.Integer):
            assert pd.api.types.is_integer_dtype(frame[variable.name])
    for name, value in space.fixed.items():
        assert (frame[name] == value).all()
    if drop_fixed:
        frame = frame.drop(columns=list(space.fixed))
    assert torch.equal(space.from_frame(frame), X)


# -- every solver that declares the space's kinds --------------------------------------------------------------

METHODS = ivd.solvers.capable(lambda c: c.models == "any")
EXAMPLES = {True: 5, False: 4}
"""Examples per solver: restart solvers and generators (gradients) are cheap, sample solvers with a GP less so."""


@dataclass
class Watch:
    """What a run showed: every batch the model evaluated, and every design a callback saw."""

    evaluated: list[torch.Tensor] = field(default_factory=list)
    seen: list[torch.Tensor] = field(default_factory=list)

    def model(self, model):
        def watched(x: torch.Tensor) -> torch.Tensor:
            self.evaluated.append(x.detach().clone())
            return model(x)

        return watched

    def callback(self, progress: ivd.Progress) -> None:
        self.seen.append(progress.x.detach().clone().unsqueeze(0))


def solver_case(method: str):
    """A random space of the kinds ``method`` declares, with linear constraints when it takes them."""
    caps = capabilities(method)
    return spaces(free=frozenset(caps.variables), constraints=frozenset(caps.constraints) & {"linear"})


@pytest.mark.parametrize("method", METHODS)
def test_every_solver_returns_feasible_designs(method):
    caps = capabilities(method)

    @examples(EXAMPLES[caps.gradients], shrink=False)
    @given(drawn=solver_case(method), seed=st.integers(0, 2**16))
    def check(drawn, seed):
        space = drawn.space
        assert space.variable_kinds <= caps.variables and space.constraint_kinds <= caps.constraints
        watch = Watch()
        obj = ivd.Objective(watch.model(quadratic_model(space, seed)), space)
        watch.evaluated.clear()  # the objective's probe
        res = ivd.minimize(obj, method, seed=seed, callback=watch.callback, **quick_options(method, space, obj.model))
        assert res.success, res.message
        assert res.X.shape[1] == space.dim and res.X.dtype == torch.float64
        assert_feasible(space, res.X, f"{method}'s result.X")
        assert res.feasible is not None and bool(res.feasible.all()), res.message
        assert torch.equal(res.x, res.X[0])
        designs = res.designs
        trust = [] if res.trust is None else list(res.trust.columns())  # a FromData start (ga's) reports trust
        assert list(designs.columns) == [*space.names, "energy", "feasible", *trust]
        assert torch.equal(space.from_frame(designs), res.X)
        assert watch.seen, f"{method} never called the callback"
        assert_feasible(space, torch.cat(watch.seen), f"designs {method}'s callback saw (Progress.x)")
        assert watch.evaluated, f"{method} never evaluated the model"
        if caps.gradients:
            # A projection solver starts from feasible designs and only ever evaluates projected points.
            assert_feasible(space, watch.evaluated[0], f"{method}'s starting points")
            assert_feasible(space, torch.cat(watch.evaluated), f"designs {method} evaluated", relaxed=True)
        else:
            assert_feasible(space, torch.cat(watch.evaluated), f"designs {method} evaluated")

    check()


def test_every_kind_of_space_has_a_solver():
    """The table above is not vacuous: every kind and constraint is declared by some solver."""
    for kind in ("real", "integer", "categorical", "composition"):
        assert ivd.solvers.capable(lambda c, kind=kind: kind in c.variables), kind
    assert ivd.solvers.capable(lambda c: "linear" in c.constraints)
    assert ivd.solvers.capable(lambda c: c.gradients and "linear" in c.constraints)


def test_hard_space_every_projection_solver_stays_feasible():
    """One fixed, tight mixed space (active constraints at the optimum, an equality, an integer in a
    constraint, bounded components) for every gradient solver, with its iterates watched."""
    space = ivd.Space(
        [
            ivd.Composition(["Fe", "Ni", "Co", "Cr"], total=100.0, lower=(10.0, 0.0, 0.0, 5.0), upper=(70.0, 60.0, 30.0, 20.0)),
            ivd.Real("T", 300.0, 900.0),
            ivd.Integer("layers", 1, 9),
            ivd.Categorical("solvent", ["water", "ethanol", "dmso"]),
            ivd.Real("w", -1.0, 1.0),
        ],
        constraints=["Fe + Ni <= 60", "Co - 2*w >= 10", "0.5*layers + w == 2.25", "T/100 + layers <= 12"],
        fixed={"solvent": "ethanol"},
    )
    for method in ivd.solvers.capable(
        lambda c: c.gradients and space.variable_kinds <= c.variables and space.constraint_kinds <= c.constraints
    ):
        watch = Watch()
        obj = ivd.Objective(watch.model(quadratic_model(space, 3)), space)
        watch.evaluated.clear()
        res = ivd.minimize(obj, method, seed=1, callback=watch.callback, **quick_options(method, space, obj.model))
        assert_feasible(space, res.X, f"{method}'s result.X")
        assert_feasible(space, watch.evaluated[0], f"{method}'s starting points")
        assert_feasible(space, torch.cat(watch.seen), f"designs {method}'s callback saw")
        assert_feasible(space, torch.cat(watch.evaluated), f"designs {method} evaluated", relaxed=True)
        assert math.isfinite(res.fun)


NONLINEAR = ivd.Space(
    [ivd.Composition(["Fe", "Ni", "Co"]), ivd.Real("T", 300.0, 900.0), ivd.Categorical("solvent", ["water", "dmso"]), ivd.Integer("n", 1, 6)],
    constraints=["Fe + Ni <= 0.8", lambda x: x[:, 0] * x[:, 1] - 0.05],
    fixed={"T": 500.0},
)


@pytest.mark.parametrize("method", ivd.solvers.capable(lambda c: NONLINEAR.variable_kinds <= c.variables and NONLINEAR.constraint_kinds <= c.constraints))
def test_with_a_nonlinear_constraint_everything_else_still_holds(method):
    """A nonlinear constraint is a penalty, so a design may break it; it must still meet everything
    else, and `Result.feasible` must say which designs meet it too, those first."""
    model = quadratic_model(NONLINEAR, 5)
    watch = Watch()
    res = ivd.minimize(ivd.Objective(model, NONLINEAR), method, seed=0, callback=watch.callback, **quick_options(method, NONLINEAR, model))
    assert_feasible(NONLINEAR, res.X, f"{method}'s result.X")
    assert_feasible(NONLINEAR, torch.cat(watch.seen), f"designs {method}'s callback saw")
    assert torch.equal(res.feasible, NONLINEAR.feasible(res.X))
    assert not (~res.feasible[:-1] & res.feasible[1:]).any(), "feasible designs come first"
    assert res.designs["feasible"].tolist() == res.feasible.tolist()


# -- exact bounds --------------------------------------------------------------------------------------------------


def outside_bounds(space: ivd.Space, X: torch.Tensor) -> list[str]:
    """Entries of designs ``X`` outside their column's ``[lower, upper]``, with no tolerance at all."""
    low, high = space.lower.expand_as(X), space.upper.expand_as(X)
    bad = (X < low) | (X > high)
    return [f"{space.columns[j]}={float(X[i, j])!r} outside [{float(low[i, j])!r}, {float(high[i, j])!r}]" for i, j in bad.nonzero().tolist()[:5]]


@examples(30, shrink=False)
@given(drawn=spaces(), relax=st.booleans(), data=st.data())
def test_designs_meet_bounds_exactly(drawn, relax, data):
    """A design is never outside a bound, not even by a unit in the last place: a simulator or a
    lab robot given ``high + 4e-17`` may refuse it."""
    view = drawn.space.coordinates(relax=relax)
    X = torch.cat([drawn.space.sample(8, seed=0), view.designs(data.draw(wild_points(view)))])
    assert not outside_bounds(drawn.space, X), outside_bounds(drawn.space, X)


# -- what the properties found, each as a minimal reproduction ----------------------------------------------------


def test_a_design_at_an_upper_bound_is_the_bound():
    space = ivd.Space([ivd.Real("r", -0.1, 0.2)])
    x = space.coordinates(relax=True).designs(torch.tensor([[1.0]], dtype=torch.float64))
    assert float(x[0, 0]) == 0.2, f"got {float(x[0, 0])!r}: -0.1 + 0.30000000000000004 * 1.0"


@pytest.mark.parametrize("method", ivd.solvers.capable(lambda c: c.gradients and c.x0 and not c.data and "real" in c.variables))
def test_a_solver_ending_at_an_upper_bound_returns_the_bound(method):
    """On a `Box` the same problem ends exactly at 0.2; on a `Space` at 0.20000000000000004 > high."""
    space = ivd.Space([ivd.Real("r", -0.1, 0.2), ivd.Real("s", 0.0, 1.0)])
    res = ivd.minimize(ivd.Objective(lambda x: (x[:, 1] - 0.5).square() - x[:, 0], space), method, seed=0, n_restarts=2, max_iter=30)
    assert float(res.x[0]) <= 0.2, f"{method} returned r={float(res.x[0])!r} for a Real('r', -0.1, 0.2)"


def test_a_component_pinned_by_its_bounds_stays_exactly_pinned():
    pinned = 400 / 7
    space = ivd.Space([ivd.Composition(["a", "b"], total=100.0, lower=(pinned, 0.0), upper=(pinned, 100.0))])
    X = space.sample(2, seed=0)
    assert (X[:, 0] == pinned).all(), f"got {X[:, 0].tolist()} for a component pinned at {pinned!r}"


PINNED = ivd.Space([ivd.Composition(["Fe", "Ni", "Co"], lower=(0.2, 0.0, 0.0), upper=(0.2, 1.0, 1.0)), ivd.Real("T", 0.0, 1.0)])
"""A composition with one component pinned by its bounds: what `Space` itself recommends instead of ``fixed=``."""


@pytest.mark.parametrize("method", ivd.solvers.capable(lambda c: c.models == "any" and PINNED.variable_kinds <= c.variables))
def test_every_solver_handles_a_component_pinned_by_its_bounds(method):
    """cmaes hands the pinned column to pycma as bounds [0.2, 0.2] ("Lower bounds need to be smaller
    than upper bounds"); amortized builds a `Box` of the search bounds ("Box needs lower < upper")."""
    model = quadratic_model(PINNED, 0)
    res = ivd.minimize(ivd.Objective(model, PINNED), method, seed=0, **quick_options(method, PINNED, model))
    assert_feasible(PINNED, res.X, f"{method}'s result.X")
    assert (res.X[:, 0] == 0.2).all()


ONE_D = ivd.Space([ivd.Real("r", 0.0, 1.0)])


@pytest.mark.parametrize("method", ivd.solvers.capable(lambda c: c.models == "any" and "real" in c.variables and not c.data))
def test_every_solver_handles_one_search_dimension(method):
    """cmaes fails inside pycma on a 1-d search whose optimum (0.97) lies near a bound
    ("not yet initialized (dimension needed)"); an `ivd.Box(0, 1, dim=1)` fails the same way."""
    res = ivd.minimize(ivd.Objective(lambda x: (x[:, 0] - 0.97).square(), ONE_D), method, seed=0, **quick_options(method, ONE_D, None))
    assert_feasible(ONE_D, res.X, f"{method}'s result.X")


STEEP = ivd.Space([ivd.Real("y", 0.0, 100.0), ivd.Real("r", 0.0, 1.0)], constraints=["y - r <= -0.5"])
"""A constraint at a shallow angle to a bound in search coordinates (``y`` spans 100, ``r`` 1): the
nearest feasible point to ``(0, 0)`` is ``(0, 0.5)``."""
ONE_POINT = ivd.Space([ivd.Composition(["x", "y"])], constraints=["y >= 1", "x <= 0.00001"])
"""A feasible set of one point, ``(0, 1)``."""


@pytest.mark.parametrize("space", [STEEP, ONE_POINT], ids=["steep", "one point"])
def test_projection_reaches_the_feasible_set(space):
    """Dykstra's projection stops after its 2000 cycles far from the feasible set: (0, 0.0906) for
    ``STEEP`` (r must be >= 0.5; 20000 cycles would be needed), 5e-6 off for ``ONE_POINT``."""
    view = space.coordinates(relax=True)
    p = view.project(torch.tensor([[0.0, 0.0]], dtype=torch.float64))
    assert_feasible(space, view.to_design(p), "to_design(project([0, 0]))", relaxed=True)
    assert bool(view.contains(p).all())


@pytest.mark.parametrize("method", ivd.solvers.capable(lambda c: c.gradients and c.x0 and not c.data and STEEP.constraint_kinds <= c.constraints))
def test_projection_solvers_evaluate_only_feasible_designs(method):
    """gd evaluates the model at designs with r down to 0.33 (108 of 124 of them infeasible), lbfgs at
    r = 0.09, where r >= 0.5; their results are feasible only because the final rounding repairs them."""
    watch = Watch()
    objective = ivd.Objective(watch.model(lambda x: x[:, 1].square() + (x[:, 0] / 100).square()), STEEP)
    watch.evaluated.clear()
    res = ivd.minimize(objective, method, seed=0, n_restarts=2, max_iter=10)
    assert_feasible(STEEP, res.X, f"{method}'s result.X")
    assert_feasible(STEEP, torch.cat(watch.evaluated), f"designs {method} evaluated", relaxed=True)


def test_the_view_contains_its_projection_of_a_far_point():
    """The sort-based simplex projection of (-100, -100, -100) sums to 1 - 1.4e-14; `SpaceView.contains`
    allows 4 * eps * k (2.7e-15), so the view refuses its own projection."""
    view = ivd.Space([ivd.Composition(["a", "b", "c"])]).coordinates(relax=True)
    p = view.project(torch.full((1, 3), -100.0, dtype=torch.float64))
    assert bool(view.contains(p).all()), f"project gave {p.tolist()}, summing to 1 {float(p.sum()) - 1:+.2g}"


def test_gd_refuses_penalty_bounds_where_compositions_must_hold():
    """gd's ``bounds="penalty"`` lets points leave the box; a composition's sum must hold exactly, so it is refused by name."""
    space = ivd.Space([ivd.Composition(["a", "b", "c"]), ivd.Real("s", 0.0, 1.0)])
    objective = ivd.Objective(lambda x: x.square().sum(dim=-1), space)
    with pytest.raises(ValueError, match="bounds='penalty' lets points leave the box.*use bounds='project'"):
        ivd.minimize(objective, "gd", bounds="penalty", max_iter=3, seed=0)
