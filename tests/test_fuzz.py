"""Fuzz: random boxes, dtypes, models, targets, penalties, options, seeds and bad inputs against every
registered solver; each call either raises a clear ``ValueError``/``TypeError`` or returns a result that
keeps the contract (designs inside the box, energies the objective's own values at those designs, best
first).

The solvers come from the registry and what each call passes is read off its `Capabilities` (budget
keyword, start points, the data set), so a new solver joins without an edit here. Examples are drawn
deterministically (``INVDESIGN_EXPLORE=1`` draws fresh ones) and budgets are tiny: the file runs in
well under a minute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from test_space_feasibility import examples

import invdesign as ivd

FAULTS = (
    "budget 0",
    "negative budget",
    "budget a string",
    "negative seed",
    "seed a float",
    "NaN target",
    "target of the wrong size",
    "x0 of the wrong width",
    "x0 outside the box",
    "unknown option",
)
"""Bad inputs a call may carry; each must be refused with a ``ValueError`` or ``TypeError``."""


@dataclass
class Problem:
    """One drawn call: the objective, `minimize`'s keyword arguments, and the fault it carries (if any)."""

    objective: ivd.Objective
    options: dict[str, Any]
    fault: str | None


def _model(kind: str, dim: int, outputs: int, dtype: torch.dtype, seed: int, lower: torch.Tensor, upper: torch.Tensor):
    """A model of the box ``(b, dim) -> (b,)`` or ``(b, outputs)``, bounded, in ``dtype``: smooth, or
    (``kind="relu"``) a ReLU network that scales the box to ``[-1, 1]`` in its first layer."""
    mid, half = (lower + upper) / 2, (upper - lower) / 2
    generator = torch.Generator().manual_seed(seed)
    if kind == "relu":
        torch.manual_seed(seed)
        scale = torch.nn.Linear(dim, dim)
        with torch.no_grad():
            scale.weight.copy_(torch.diag(1.0 / half))
            scale.bias.copy_(-mid / half)
        layers = [scale, torch.nn.Linear(dim, 8), torch.nn.ReLU(), torch.nn.Linear(8, outputs)]
        return torch.nn.Sequential(*layers).to(dtype)
    if kind == "mlp":
        torch.manual_seed(seed)

        class Scaled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = torch.nn.Sequential(torch.nn.Linear(dim, 8), torch.nn.Tanh(), torch.nn.Linear(8, outputs))
                self.register_buffer("centre", mid)
                self.register_buffer("radius", half)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                y = self.net((x - self.centre) / self.radius)
                return y.squeeze(-1) if outputs == 1 else y

        return Scaled().to(dtype)
    centre = (torch.rand(outputs, dim, generator=generator, dtype=torch.float64) * 2 - 1).to(dtype)

    def analytic(x: torch.Tensor) -> torch.Tensor:
        u = (x - mid.to(x)) / half.to(x)
        y = ((u.unsqueeze(-2) - centre.to(x)) ** 2).sum(-1) + (0.3 * torch.sin(3 * u)).sum(-1, keepdim=True)
        return y.squeeze(-1) if outputs == 1 else y

    return analytic


@st.composite
def problems(draw: st.DrawFn, method: str, fault: str | None = None) -> Problem:
    """A random box, model, objective and call for ``method``, carrying ``fault`` where it applies
    to the solver (else no fault)."""
    caps = ivd.solvers.get(method).capabilities
    dim = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([torch.float64, torch.float32]))
    centre = draw(st.floats(-1e3, 1e3))
    widths = draw(st.lists(st.floats(-2.0, 3.0), min_size=dim, max_size=dim))
    lower = torch.tensor([centre - 10**w / 2 for w in widths], dtype=torch.float64)
    upper = torch.tensor([centre + 10**w / 2 for w in widths], dtype=torch.float64)
    box = ivd.Box(lower, upper, dtype=dtype)
    # A solver of piecewise-linear models takes ReLU networks of one output and no penalties.
    piecewise = caps.models == "piecewise_linear"
    kind = "relu" if piecewise else draw(st.sampled_from(["analytic", "mlp"]))
    goal = "target" if fault in ("NaN target", "target of the wrong size") else draw(st.sampled_from(["minimize", "maximize", "target"]))
    outputs = draw(st.integers(1, 3)) if goal == "target" and not piecewise else 1
    model = _model(kind, dim, outputs, dtype, draw(st.integers(0, 2**16)), lower, upper)

    target: Any = None
    if goal == "target":
        target = draw(st.lists(st.floats(-2.0, 5.0), min_size=outputs, max_size=outputs))
        if fault is None and draw(st.booleans()):
            # A batch of targets: T rows of k outputs.
            target = [target, draw(st.lists(st.floats(-2.0, 5.0), min_size=outputs, max_size=outputs))]
        if fault == "NaN target":
            target[0] = math.nan
        elif fault == "target of the wrong size":
            target = [[*target, 0.0]]
    penalties = []
    if not piecewise and draw(st.booleans()):
        weight = draw(st.floats(0.0, 10.0))
        mid, half = (lower + upper) / 2, (upper - lower) / 2
        penalties.append(lambda x: weight * (((x - mid.to(x)) / half.to(x)) ** 2).mean(-1))
    if fault in ("NaN target", "target of the wrong size"):
        return Problem(_PendingObjective(model, box, target, penalties), {}, fault)  # type: ignore[arg-type]
    objective = ivd.Objective(model, box, target=target, maximize=goal == "maximize", penalties=penalties)

    budget = draw(st.integers(2, 10) if caps.budget == "evaluations" else st.integers(1, 12))
    options: dict[str, Any] = {caps.budget_keyword: budget}
    options["seed"] = draw(st.one_of(st.none(), st.integers(0, 2**63 - 1)))
    if caps.x0 and not caps.data and draw(st.booleans()):
        n = draw(st.integers(1, 4))
        options["x0"] = box.sample(n, seed=draw(st.integers(0, 100)))
    elif caps.x0 and not caps.data and caps.budget != "evaluations":
        options["n_restarts"] = draw(st.integers(1, 4))
    if caps.data:
        X = box.sample(32, seed=draw(st.integers(0, 100)))
        with torch.no_grad():
            Y = objective.adapter(X) if target is not None else objective(X)
        options["x0"] = ivd.FromData(X, Y.reshape(32, -1))

    if fault == "budget 0" and caps.budget != "evaluations":
        fault = None  # zero iterations or steps: the evaluated starts, a valid call
    if fault in ("budget 0", "negative budget", "budget a string"):
        options[caps.budget_keyword] = {"budget 0": 0, "negative budget": -3, "budget a string": "5"}[fault]
    elif fault == "negative seed":
        options["seed"] = -1
    elif fault == "seed a float":
        options["seed"] = 1.5
    elif fault in ("x0 of the wrong width", "x0 outside the box"):
        if not caps.x0 or caps.data:
            fault = None
        else:
            x0 = box.sample(2, seed=0)
            options.pop("n_restarts", None)
            options["x0"] = torch.cat([x0, x0[:, :1]], dim=1) if fault == "x0 of the wrong width" else x0 + 2 * (upper - lower).to(dtype)
    elif fault == "unknown option":
        options["no_such_option"] = 1
    return Problem(objective, options, fault)


class _PendingObjective:
    """The arguments of an `Objective` whose construction itself must be refused."""

    def __init__(self, model: Any, box: ivd.Box, target: Any, penalties: list) -> None:
        self.args = (model, box, target, penalties)

    def build(self) -> ivd.Objective:
        model, box, target, penalties = self.args
        return ivd.Objective(model, box, target=target, penalties=penalties)


def check_contract(objective: ivd.Objective, result: ivd.Result | ivd.BatchResult) -> None:
    """The invariants of every result: designs in the box, energies the objective's own, best first
    (for a batch of targets, each target's result against its own objective)."""
    if isinstance(result, ivd.BatchResult):
        assert objective.n_targets == len(result) and result.X.shape[:2] == result.F.shape
        for t, one in enumerate(result):
            check_contract(objective[t], one)
        return
    X, F = result.X, result.F
    assert X.ndim == 2 and X.shape[1] == objective.space.dim and X.shape[0] == F.shape[0] >= 1
    assert X.dtype == objective.dtype and F.dtype == objective.dtype
    assert objective.space.contains(X).all(), "a returned design leaves the box"
    with torch.no_grad():
        again = objective(X)
    tol = {"rtol": 1e-4, "atol": 1e-4} if objective.dtype == torch.float32 else {"rtol": 1e-9, "atol": 1e-9}
    torch.testing.assert_close(F, again, **tol)
    finite = F[torch.isfinite(F)]
    assert torch.all(finite[1:] >= finite[:-1]), "energies are not best first"
    assert torch.equal(result.x, X[0]) and float(result.fun) == float(F[0])


@pytest.mark.parametrize("method", ivd.solvers.available())
def test_every_solver_keeps_the_contract(method):
    @given(problems(method))
    @examples(12, shrink=False)
    def run(problem: Problem) -> None:
        try:
            result = ivd.minimize(problem.objective, method, **problem.options)
        except (ValueError, TypeError) as error:
            pytest.fail(f"a valid call was refused: {type(error).__name__}: {error}")
        check_contract(problem.objective, result)

    run()


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("method", ivd.solvers.available())
def test_every_solver_refuses_bad_input_clearly(method, fault):
    @given(problems(method, fault))
    @examples(3, shrink=False)
    def run(problem: Problem) -> None:
        if isinstance(problem.objective, _PendingObjective):
            with pytest.raises((ValueError, TypeError)):
                problem.objective.build()
        elif problem.fault is None:
            check_contract(problem.objective, ivd.minimize(problem.objective, method, **problem.options))
        else:
            with pytest.raises((ValueError, TypeError)):
                ivd.minimize(problem.objective, method, **problem.options)

    run()
