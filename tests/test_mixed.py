"""Mixed and constrained spaces end to end: projections, rounding with local search and polish,
tables in and out, nonlinear constraints, ask/tell checkpoints on a space."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.optimize import minimize as scipy_minimize

import invdesign as ivd
from invdesign.space import projection

LEVELS = ("a", "b", "c")


def _mixed_space() -> ivd.Space:
    return ivd.Space(
        [
            ivd.Composition(["p", "q", "r"]),
            ivd.Real("t", 0.0, 2.0),
            ivd.Categorical("cat", LEVELS),
            ivd.Integer("n", 0, 6),
        ],
        constraints=["p + q <= 0.8"],
    )


def _mixed_energy(x: torch.Tensor) -> torch.Tensor:
    """A smooth energy of the encoding whose best category is "c" and best integer 4."""
    target = torch.tensor([0.5, 0.2, 0.3], dtype=x.dtype)
    shift = torch.tensor([0.0, 0.3, -0.2], dtype=x.dtype)
    bias = torch.tensor([0.0, 0.05, -0.15], dtype=x.dtype)
    comp = ((x[:, :3] - target) ** 2).sum(-1)
    t = (x[:, 3] - 1.2 - x[:, 4:7] @ shift) ** 2
    return comp + t + x[:, 4:7] @ bias + 0.02 * (x[:, 7] - 4.0) ** 2


def _brute_force(space: ivd.Space) -> float:
    """The minimum of `_mixed_energy` over the space: every category and integer, SLSQP inside each."""
    best = np.inf
    for level, n in itertools.product(range(3), range(7)):
        def f(z: np.ndarray, level: int = level, n: int = n) -> float:
            x = torch.zeros(1, 8, dtype=torch.float64)
            x[0, :4] = torch.as_tensor(z)
            x[0, 4 + level] = 1.0
            x[0, 7] = n
            return float(_mixed_energy(x)[0])

        for start in ([0.3, 0.3, 0.4, 1.0], [0.1, 0.1, 0.8, 0.2], [0.4, 0.4, 0.2, 1.8]):
            res = scipy_minimize(
                f, start, method="SLSQP", bounds=[(0, 1)] * 3 + [(0, 2)],
                constraints=[{"type": "eq", "fun": lambda z: z[:3].sum() - 1}, {"type": "ineq", "fun": lambda z: 0.8 - z[0] - z[1]}],
                options={"ftol": 1e-14, "maxiter": 500},
            )
            best = min(best, res.fun)
    return best


@pytest.mark.parametrize("method", ["gd", "lbfgs"])
def test_restart_solvers_reach_the_brute_force_optimum(method):
    space = _mixed_space()
    result = ivd.minimize(ivd.Objective(_mixed_energy, space), method, seed=0, n_restarts=16)
    assert result.fun <= _brute_force(space) + 1e-6
    best = result.designs.iloc[0]
    assert best["cat"] == "c" and best["n"] == 4
    assert space.contains(result.X).all()


@pytest.mark.parametrize(
    "v", [torch.randn(50, 7, dtype=torch.float64) * s for s in (0.01, 1.0, 30.0)], ids=["near", "unit", "far"]
)
def test_simplex_projections_are_the_nearest_point(v):
    lower = torch.tensor([0.0, 0.05, 0.0, 0.1, 0.0, 0.0, 0.2], dtype=torch.float64)
    upper = torch.tensor([0.5, 1.0, 0.3, 1.0, 1.0, 0.6, 1.0], dtype=torch.float64)
    for u, lo, hi in ((projection.simplex(v), torch.zeros(7), torch.ones(7)), (projection.bounded_simplex(v, lower, upper), lower, upper)):
        assert torch.allclose(u.sum(-1), torch.ones(50, dtype=torch.float64), atol=1e-12)
        assert (u >= lo.double() - 1e-15).all() and (u <= hi.double() + 1e-15).all()
        for i in range(0, 50, 10):
            res = scipy_minimize(
                lambda z, i=i: ((z - v[i].numpy()) ** 2).sum(), np.clip(np.full(7, 1 / 7), lo.numpy(), hi.numpy()),
                jac=lambda z, i=i: 2 * (z - v[i].numpy()), method="SLSQP", bounds=list(zip(lo.tolist(), hi.tolist())),
                constraints=[{"type": "eq", "fun": lambda z: z.sum() - 1}], options={"ftol": 1e-15, "maxiter": 1000},
            )
            assert ((u[i] - v[i]) ** 2).sum() <= res.fun * (1 + 1e-9) + 1e-9


def test_dykstra_projects_onto_the_intersection():
    space = ivd.Space([ivd.Composition(["a", "b", "c", "d"]), ivd.Real("w", 0, 1)], constraints=["a + b <= 0.3", "c - w >= 0.1", "d == 0.2"])
    view = space.coordinates()
    v = torch.randn(20, view.dim, dtype=torch.float64)
    u = view.project(v)
    assert view.contains(u).all()
    A, b, eq = view.linear_constraints()
    assert A.shape[0] == 2 and view.bounds[0, 3] == view.bounds[1, 3] == 0.2  # "d == 0.2" is folded into d's bounds
    for i in range(0, 20, 5):
        cons = [{"type": "eq", "fun": lambda z: z[:4].sum() - 1}]
        for row, rhs, e in zip(A.numpy(), b.numpy(), eq.numpy()):
            cons.append({"type": "eq" if e else "ineq", "fun": (lambda z, row=row, rhs=rhs, e=e: (rhs - row @ z))})
        res = scipy_minimize(lambda z, i=i: ((z - v[i].numpy()) ** 2).sum(), np.array([0.1, 0.1, 0.5, 0.2, 0.2]),
                             method="SLSQP", bounds=view.bounds.T.numpy(), constraints=cons, options={"ftol": 1e-15, "maxiter": 1000})
        assert ((u[i] - v[i]) ** 2).sum() <= res.fun + 1e-8


def test_designs_table_and_dataframe_starts():
    space = _mixed_space()
    objective = ivd.Objective(_mixed_energy, space)
    table = space.to_frame(space.sample(8, seed=1))
    assert list(table.columns) == ["p", "q", "r", "t", "cat", "n"]
    result = ivd.minimize(objective, "gd", x0=table, max_iter=5)
    designs = result.designs
    assert list(designs.columns) == ["p", "q", "r", "t", "cat", "n", "energy", "feasible"]
    assert designs["n"].dtype.kind == "i" and set(designs["cat"]) <= set(LEVELS)
    assert np.allclose(designs["energy"], result.F.numpy()) and designs["feasible"].all()
    assert torch.equal(space.from_frame(designs), result.X)
    energies = pd.Series(_mixed_energy(space.from_frame(table)).numpy())
    result = ivd.minimize(objective, "lbfgs", x0=ivd.FromData(table, energies), n_restarts=2, max_iter=3)
    assert result.options["n_restarts"] == 2
    with pytest.raises(ValueError, match="not a level"):
        ivd.minimize(objective, "gd", x0=table.assign(cat="z"))


def test_fixed_values_are_kept_and_not_searched():
    space = _mixed_space().fix(cat="a", t=0.5)
    assert space.coordinates().dim == 4  # three fractions and the integer
    result = ivd.minimize(ivd.Objective(_mixed_energy, space), "lbfgs", seed=0)
    assert (result.designs["cat"] == "a").all() and (result.designs["t"] == 0.5).all()


def test_nonlinear_constraints_are_met_and_reported():
    space = ivd.Space([ivd.Real("x", -2, 2), ivd.Real("y", -2, 2)], constraints=[lambda z: (z**2).sum(-1) - 1.0])
    objective = ivd.Objective(lambda z: z.sum(-1), space)
    for method, budget in (("gd", {}), ("lbfgs", {}), ("random", {"max_evals": 64})):
        result = ivd.minimize(objective, method, seed=0, **budget)
        assert result.feasible[0] and space.feasible(result.X[:1]).all()
        assert result.fun == pytest.approx(-np.sqrt(2), abs=0.5 if method == "random" else 1e-8)
        assert torch.equal(result.feasible, space.feasible(result.X))
        assert not (result.feasible[1:].int() > result.feasible[:-1].int()).any()  # feasible designs first


@pytest.mark.parametrize("method", ["random", "cmaes"])
def test_checkpoint_resumes_on_a_space(method, tmp_path):
    space = _mixed_space()
    objective = ivd.Objective(_mixed_energy, space)
    path = tmp_path / "run.safetensors"
    full = ivd.minimize(objective, method, max_evals=40, seed=3)
    ivd.minimize(objective, method, max_evals=20, seed=3, checkpoint=path)
    resumed = ivd.minimize(objective, method, max_evals=40, seed=3, checkpoint=path)
    assert torch.equal(resumed.X, full.X) and torch.equal(resumed.F, full.F)
    opt = ivd.solvers.load_optimizer(path)
    assert opt.space == space


def test_sample_solvers_on_integers_and_categoricals_stay_on_the_grid():
    space = ivd.Space([ivd.Categorical("c", ["x", "y", "z", "w"]), ivd.Integer("k", -3, 3), ivd.Real("r", 0, 1)])
    objective = ivd.Objective(lambda x: (x[:, 4] - 2) ** 2 + x[:, 5] + x[:, 1], space)
    for method in ivd.solvers.capable(lambda c: not c.gradients and c.models == "any" and {"integer", "categorical"} <= c.variables):
        result = ivd.minimize(objective, method, max_evals=12, seed=0)
        X = result.X
        assert torch.equal(X[:, 4], X[:, 4].round()) and ((X[:, :4] == 0) | (X[:, :4] == 1)).all()
        assert torch.equal(X[:, :4].sum(-1), torch.ones(X.shape[0], dtype=X.dtype))
