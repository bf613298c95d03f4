"""Tests for invdesign.tasks.formulation: the "composition" and "mixed" tasks on a `Space`, their
known optima (checked against dense samples and local searches), data, surrogates and benchmark runs."""

from __future__ import annotations

import math

import pytest
import torch

import invdesign as ivd
from invdesign import benchmark, tasks
from invdesign.benchmark import runner
from invdesign.tasks import formulation as F

NAMES = ["composition", "mixed"]
DTYPES = [torch.float32, torch.float64]


# --- oracles -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_oracle_shape_dtype_and_gradient(name: str, dtype: torch.dtype) -> None:
    task = tasks.get(name)
    x = task.sample_prior(64, seed=0, dtype=dtype).requires_grad_()
    y = task.oracle(x)
    assert y.shape == (64, 1) and y.dtype == dtype and y.device == x.device
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    exact = task.oracle(x.detach().double())
    torch.testing.assert_close(y.detach().double(), exact, atol=1e-4 if dtype == torch.float32 else 1e-12, rtol=0)


def test_tasks_are_registered_on_a_space() -> None:
    for name in NAMES:
        task = tasks.get(name)
        assert isinstance(task.space, ivd.Space) and task.kind == "minimize" and task.hidden_fraction == 0.5
        assert task.n_train == 2000 and task.budget >= 100
    assert tasks.get("composition").space.columns == ("Fe", "Ni", "Co", "Cr", "Mn", "temperature")
    assert tasks.get("composition").space.variable_kinds == {"composition", "real"}
    mixed = tasks.get("mixed").space
    assert mixed.columns[:4] == ("catalyst=Pt", "catalyst=Pd", "catalyst=Ni", "catalyst=Cu") and mixed.dim == 8
    assert mixed.variable_kinds == {"categorical", "integer", "real"}


# --- optima ------------------------------------------------------------------------------------------------


def test_composition_optimum_is_interior_and_no_dense_sample_beats_it() -> None:
    task = tasks.get("composition")
    assert task.optimum == F.COMPOSITION_OPTIMUM
    # the stored minimizer (rounded, its fractions scaled back onto the simplex) is within rounding of the optimum
    minimizer = torch.tensor([F.COMPOSITION_MINIMIZER], dtype=torch.float64)
    minimizer[:, :5] /= minimizer[:, :5].sum()
    assert task.space.contains(minimizer).all()
    at = task.oracle(minimizer)[0, 0]
    assert F.COMPOSITION_OPTIMUM - 1e-12 <= float(at) <= F.COMPOSITION_OPTIMUM + 1e-6
    dense = task.space.sample(2**16, seed=11)
    values = task.oracle(dense)[:, 0]
    assert float(values.min()) > F.COMPOSITION_OPTIMUM
    # SLSQP from the best dense designs and from random ones never goes below it, and the best is interior
    starts = torch.cat([dense[torch.argsort(values)[:8]], task.space.sample(12, seed=12)])
    found, designs = F.composition_local_minima(starts)
    assert float(found.min()) >= F.COMPOSITION_OPTIMUM - 1e-10
    assert float(found[0]) == pytest.approx(F.COMPOSITION_OPTIMUM, abs=1e-9)
    best = designs[0]
    assert float(best[:5].min()) > 0.09 and 300.0 < float(best[5]) < 900.0
    torch.testing.assert_close(best, torch.tensor(F.COMPOSITION_MINIMIZER, dtype=torch.float64), atol=1e-3, rtol=1e-3)


def test_composition_second_minimum_lies_on_the_face_ni_zero() -> None:
    task = tasks.get("composition")
    near = torch.tensor([[0.10, 0.02, 0.40, 0.06, 0.42, 650.0]], dtype=torch.float64)
    value, design = F.composition_local_minima(near)
    assert float(value[0]) == pytest.approx(F.COMPOSITION_EDGE_OPTIMUM, abs=1e-5)
    assert 0.01 < float(value[0]) - F.COMPOSITION_OPTIMUM < 0.1  # slightly worse than the global minimum
    x = design[0]
    assert float(x[1]) < 1e-9 and float(x[[0, 2, 3, 4]].min()) > 0.03  # exactly one component at 0
    # KKT at an active bound: along the face (Ni = 0, the fractions summing to 1) and in temperature the
    # gradient vanishes; moving Ni into the simplex, taking from the others, costs energy.
    x = x.clone().requires_grad_()
    task.oracle(x.unsqueeze(0)).sum().backward()
    assert x.grad is not None
    g, others = x.grad, [0, 2, 3, 4]
    assert float((g[others] - g[others].mean()).abs().max()) < 1e-6 and abs(float(g[5])) < 1e-8
    inward = torch.zeros(6, dtype=torch.float64)
    inward[1] = 1.0
    inward[others] = -x.detach()[others] / x.detach()[others].sum()
    assert float(g @ inward) > 0.1


def test_mixed_optimum_by_enumeration_and_its_catalyst_is_not_the_best_on_average() -> None:
    task = tasks.get("mixed")
    assert task.optimum == F.MIXED_OPTIMUM
    rows = F.mixed_slice_minima(n_random=1, seed=3)
    value, catalyst, layers, design = rows[0]
    assert value == pytest.approx(F.MIXED_OPTIMUM, abs=1e-10)
    assert (catalyst, layers) == (F.MIXED_MINIMIZER["catalyst"], F.MIXED_MINIMIZER["layers"])
    assert task.space.contains(design.unsqueeze(0)).all()
    for level, optimum in F.MIXED_CATALYST_OPTIMA.items():
        assert min(r[0] for r in rows if r[1] == level) == pytest.approx(optimum, abs=1e-4)
    # no dense sample beats the minimum of its own catalyst and layer count
    slice_min = {(r[1], r[2]): r[0] for r in rows}
    dense = task.space.sample(2**16, seed=5)
    values = task.oracle(dense)[:, 0]
    levels = dense[:, :4].argmax(dim=1)
    layer_counts = dense[:, 4].round().long()
    bound = torch.tensor([slice_min[(F.CATALYSTS[int(k)], int(n))] for k, n in zip(levels, layer_counts)], dtype=torch.float64)
    assert bool((values >= bound - 1e-12).all()) and float(values.min()) > F.MIXED_OPTIMUM
    # the best catalyst on average over the space (Pt) is not the optimum's (Ni); it has the worst optimum
    means = torch.stack([values[levels == k].mean() for k in range(4)])
    assert F.CATALYSTS[int(means.argmin())] == "Pt" != catalyst
    assert float(means.sort().values[1] - means.min()) > 0.05
    assert max(F.MIXED_CATALYST_OPTIMA, key=F.MIXED_CATALYST_OPTIMA.__getitem__) == "Pt"


# --- data, surrogates and search ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_offline_data_is_feasible_reproducible_and_hides_the_best(name: str) -> None:
    task = tasks.get(name)
    X, Y = task.make_offline_data(seed=0)
    assert X.shape == (1000, task.input_dim) and Y.shape == (1000, 1)
    assert task.space.feasible(X).all()
    assert torch.equal(X, task.make_offline_data(seed=0)[0]) and not torch.equal(X, task.make_offline_data(seed=1)[0])
    _, Y_all = task.make_data(task.n_train, seed=0)
    assert float(Y.min()) >= float(Y_all.median()) > task.optimum
    if name == "mixed":  # every catalyst keeps designs (a level never seen would be a constant one-hot column)
        assert bool((X[:, :4].sum(dim=0) >= 100).all())
        assert set(X[:, 4].tolist()) == set(map(float, range(1, 13)))
    y_min, y_max = task.reference_range()
    assert task.optimum < y_min < float(Y.min()) < y_max


@pytest.mark.parametrize(("name", "limit"), [("composition", 0.06), ("mixed", 0.01)])
def test_recommended_surrogate_fits_and_gd_on_it_returns_feasible_designs(name: str, limit: float) -> None:
    task = tasks.get(name)
    X, Y = task.make_offline_data(seed=0)
    model, _ = task.surrogate.fit(X, Y, seed=0, epochs=60)  # a sixth to a third of the recipe's epochs
    X_test, Y_test = task.make_offline_data(seed=1)  # fresh designs of the same distribution
    with torch.no_grad():
        error = float((model(X_test) - Y_test).square().mean() / Y_test.var())
    assert error < limit
    result = ivd.minimize(ivd.Objective(model, task.space), "gd", n_restarts=8, max_iter=40, seed=0)
    assert task.space.feasible(result.X).all()
    assert list(result.designs.columns[: len(task.space.names)]) == task.space.names
    truth = task.oracle(result.X.double())[:, 0]
    assert torch.isfinite(truth).all() and float(truth.min()) >= task.optimum


@pytest.mark.parametrize("name", NAMES)
def test_black_box_objective_on_the_oracle(name: str) -> None:
    task = tasks.get(name)
    result = ivd.minimize(task.objective(), "random", max_evals=64, seed=0)
    assert result.nfev == 64 and task.space.feasible(result.X).all()
    assert task.optimum <= result.fun == pytest.approx(float(task.oracle(result.x.unsqueeze(0))[0, 0]))
    polished = ivd.minimize(task.objective(), "lbfgs", n_restarts=4, max_iter=100, seed=0)
    assert task.space.feasible(polished.X).all() and polished.fun >= task.optimum - 1e-9


def test_benchmark_runs_every_solver_that_declares_the_kinds(tmp_path) -> None:
    trust = benchmark.SolverConfig(name="gd+trust", solver=ivd.solvers.make("gd"), max_iter=30, data_weight=10.0, data_radius=0.5)
    table = benchmark.run(NAMES, ["gd", "random", "ga", trust], 1, out=tmp_path, k=8, n_train=300, epochs=5, progress=False)
    assert sorted(zip(table["task"], table["solver"])) == [
        ("composition", "ga"), ("composition", "gd"), ("composition", "gd+trust"), ("composition", "random"),
        ("mixed", "ga"), ("mixed", "gd"), ("mixed", "gd+trust"), ("mixed", "random"),
    ]
    for row in table.itertuples():
        task = tasks.get(row.task)
        assert row.n_invalid == 0 and row.n_designs == 8
        assert task.optimum <= row.oracle_best <= row.oracle_median
        assert math.isfinite(row.surrogate_best) and math.isfinite(row.gap) and row.distance_to_data >= 0
    # the trust region's scale: the data spacing in the space's search coordinates (one-hot, unit-scaled reals)
    X, _ = tasks.get("mixed").make_offline_data(seed=0, n=300)
    assert 0.0 < runner.data_spacing(X, tasks.get("mixed").space) < 1.0
    targets_only = benchmark.SolverConfig(name="gd on targets", solver=ivd.solvers.make("gd"), kinds=("target",))
    with pytest.raises(ValueError, match="no cell to run: a configuration runs on the task kinds it names"):
        benchmark.run(["mixed"], [targets_only], 1, progress=False)


def test_suites_hold_both_tasks() -> None:
    assert {"composition", "mixed"} <= set(benchmark.SUITES["full"].tasks)
    assert "mixed" in benchmark.SUITES["quick"].tasks
