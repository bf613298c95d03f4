"""One table runs every registered solver on the same problems, in float32 and float64."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from conftest import CENTER, quadratic, relu_distance

import invdesign as ivd

# Small budgets for the known solvers, and the energy each must reach on the 4-d quadratic
# (minimum 0) in float64. A solver without a row runs with a budget drawn from its capabilities
# (`call_options`) and must improve on its starting points.
BUDGETS: dict[str, dict] = {
    "gd": {"n_restarts": 8, "max_iter": 300},
    "lbfgs": {"n_restarts": 4, "max_iter": 200},
    "random": {"max_evals": 256},
    "cmaes": {"max_evals": 400},
    "bo": {"max_evals": 16, "n_init": 6, "num_restarts": 2, "raw_samples": 64},
    "turbo": {"max_evals": 32, "n_init": 8},
    "amortized": {"batch_size": 16, "max_iter": 200},
    "milp": {"max_iter": 100_000},
}
# The amortized generator's diversity bonus keeps its designs apart, so its best one sits near,
# not at, a lone minimum.
QUADRATIC_TOL: dict[str, float] = {
    "gd": 1e-8, "lbfgs": 1e-8, "random": 0.3, "cmaes": 1e-5, "bo": 0.02, "turbo": 0.05, "amortized": 0.1, "milp": 1e-8,
}
DTYPES = [torch.float32, torch.float64]
METHODS = ivd.solvers.available()
RESTART_METHODS = ivd.solvers.capable(lambda c: c.x0 and c.budget == "iterations")


def capabilities(method: str) -> ivd.solvers.Capabilities:
    return ivd.solvers.get(method).capabilities


def model_for(method: str, dtype: torch.dtype = torch.float64):
    """The 4-d test function with its minimum 0 at CENTER a solver takes: `quadratic`, or for a
    solver of piecewise-linear models only, the ReLU network of the distance to CENTER."""
    return relu_distance(dtype) if capabilities(method).models == "piecewise_linear" else quadratic


def energy_of(fun, x: torch.Tensor) -> float:
    """``fun`` (`model_for`) at one point ``x`` ``(4,)``."""
    with torch.no_grad():
        return float(fun(x.unsqueeze(0)).reshape(-1)[0])


def trained_for(method: str, request: pytest.FixtureRequest) -> tuple[torch.nn.Module, ivd.tasks.Task]:
    """The `trained_mlp` fixture, or its ReLU twin for a solver of piecewise-linear models only."""
    return request.getfixturevalue("trained_relu_mlp" if capabilities(method).models == "piecewise_linear" else "trained_mlp")


def call_options(method: str, space: ivd.Box | None = None, fun=None) -> dict:
    """Keyword arguments of a quick `minimize` call: the table's row, or a budget from the capabilities.

    A solver that needs the offline data set gets 200 Sobol designs of ``space`` scored by ``fun``.
    """
    caps = capabilities(method)
    if method in BUDGETS:
        options = dict(BUDGETS[method])
    elif caps.budget == "evaluations":
        options = {"max_evals": 128}
    else:
        options = {"max_iter": 200, **({"n_restarts": 8} if caps.x0 else {})}
    if caps.data:
        if space is None:
            raise ValueError(f"{method} needs data: pass the space and the function")
        X = space.sample(200, seed=99)
        with torch.no_grad():
            options["x0"] = ivd.FromData(X, fun(X))
    return options


def n_designs(method: str) -> int:
    """Rows of Result.X: one per restart, per generated design, or per evaluation for sample-based solvers;
    one for a solver that returns its one best design."""
    row = call_options(method, ivd.Box(-1.0, 1.0, dim=4), quadratic)
    return row.get("n_restarts") or row.get("batch_size") or row.get("max_evals", 1)


def test_every_registered_solver_runs_in_the_table():
    assert METHODS == sorted(ivd.solvers.available()) and {"gd", "lbfgs", "random"} <= set(METHODS)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("method", METHODS)
def test_quadratic(method, dtype, box4):
    fun = model_for(method, dtype)
    obj = ivd.Objective(fun, box4, dtype=dtype)
    res = ivd.minimize(obj, method, seed=0, **call_options(method, box4.to(dtype), quadratic))
    assert res.success, res.message
    assert res.solver == method
    assert res.x.dtype == dtype and res.X.dtype == dtype
    assert res.X.shape == (n_designs(method), 4)
    assert torch.all(res.F[:-1] <= res.F[1:]), "designs must come best first"
    assert res.fun == pytest.approx(float(res.F[0]))
    assert res.fun < max(QUADRATIC_TOL.get(method, 0.3), 1e-5 if dtype == torch.float32 else 0.0)
    assert energy_of(fun, res.x) == pytest.approx(res.fun, rel=1e-3, abs=1e-6)
    assert box4.to(dtype).contains(res.X).all()
    assert res.nfev >= res.nit >= 1 and res.runtime > 0
    assert len(res.history) >= 2 and res.history.best[-1] == pytest.approx(res.fun, rel=1e-5, abs=1e-9)
    assert list(res.history.to_dict()) == ["iteration", "best", "nfev", "time", "n_active", "fit_time"]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("method", METHODS)
def test_trained_mlp(method, dtype, request):
    model, task = trained_for(method, request)
    model = copy.deepcopy(model).to(dtype)
    obj = ivd.Objective(model, task.space)
    res = ivd.minimize(obj, method, seed=0, **call_options(method, task.space.to(dtype), lambda x: model(x)))
    assert res.success, res.message
    with torch.no_grad():
        energies = model(res.X).squeeze(-1)
        start_energies = model(task.space.sample(4, seed=123, dtype=dtype)).squeeze(-1)
    assert torch.allclose(res.F, energies, rtol=1e-4, atol=1e-4), "F must be the energy of X"
    assert res.fun < start_energies.min().item()
    assert task.space.to(dtype).contains(res.X).all()


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_result(method, box4, request):
    model, task = trained_for(method, request)
    obj = ivd.Objective(model, task.space)
    options = call_options(method, task.space, model)
    if "x0" in options:  # starts from data: seeds change nothing else, so vary the data instead
        options.pop("x0")
        other = {"x0": ivd.FromData(*task.make_data(200, seed=8))}
        options["x0"] = ivd.FromData(*task.make_data(200, seed=7))
    else:
        other = {}
    a = ivd.minimize(obj, method, seed=7, **options)
    b = ivd.minimize(obj, method, seed=7, **options)
    c = ivd.minimize(obj, method, seed=8, **{**options, **other})
    assert torch.equal(a.X, b.X) and torch.equal(a.F, b.F)
    assert torch.equal(a.X, c.X) != capabilities(method).seeded, "only a seeded solver's designs change with the seed"


@pytest.mark.parametrize("method", RESTART_METHODS)
def test_nan_at_some_starts_drops_those_restarts(method, box4):
    def holey(x):
        return torch.where(x[:, 0] > 0.5, torch.nan, quadratic(x))

    obj = ivd.Objective(holey, box4)
    starts = box4.sample(16, seed=0)
    n_bad = int((starts[:, 0] > 0.5).sum())
    assert 0 < n_bad < 16
    options = {"x0": starts} if not capabilities(method).data else {"x0": ivd.FromData(starts, quadratic(starts)), "n_restarts": 16}
    res = ivd.minimize(obj, method, max_iter=50, **options)
    assert res.success
    assert f"{n_bad} of 16 restarts dropped" in res.message
    assert res.X.shape[0] == 16 - n_bad
    assert torch.isfinite(res.F).all()


@pytest.mark.parametrize("method", RESTART_METHODS)
def test_nan_everywhere_fails_clearly(method, box4):
    obj = ivd.Objective(lambda x: quadratic(x) * math.nan, box4)
    options = call_options(method, box4, quadratic)
    options.pop("max_iter", None)
    with pytest.raises(ValueError, match="NaN or infinite at all 4 starting points"):
        ivd.minimize(obj, method, **{**options, "n_restarts": 4})


def test_unknown_method_and_option(box4):
    obj = ivd.Objective(quadratic, box4)
    with pytest.raises(ValueError, match="unknown method 'newton'.*gd.*lbfgs"):
        ivd.minimize(obj, "newton")
    with pytest.raises(TypeError, match="unknown option 'learning_rate' for method 'gd'"):
        ivd.minimize(obj, "gd", learning_rate=0.1)
    with pytest.raises(TypeError, match="unknown option 'lr' for method 'lbfgs'"):
        ivd.minimize(obj, "lbfgs", lr=0.1)
    with pytest.raises(ValueError, match="optimizer='rmsprop'"):
        ivd.minimize(obj, "gd", optimizer="rmsprop")
    with pytest.raises(TypeError, match="set them on the solver"):
        ivd.minimize(obj, ivd.solvers.GradientDescent(), lr=0.1)
    with pytest.raises(TypeError, match="invdesign.Objective"):
        ivd.minimize(quadratic, "gd")


def test_solver_object_is_accepted(box4):
    obj = ivd.Objective(quadratic, box4)
    res = ivd.minimize(obj, ivd.solvers.GradientDescent(lr=0.1, lr_schedule="exponential"), n_restarts=4, seed=0)
    assert res.options["lr"] == 0.1 and res.fun < 1e-6


@pytest.mark.parametrize(
    ("x0", "kwargs", "match"),
    [
        (torch.zeros(3, 5), {}, r"shape \(n, 4\)"),
        (torch.full((2, 4), 2.0), {}, "outside the box"),
        (torch.tensor([[0.0, 0.0, math.nan, 0.0]]), {}, "NaN or infinite values in rows \\[0\\]"),
        (torch.zeros(3, 4), {"n_restarts": 5}, "x0 has 3 rows but n_restarts=5"),
        (None, {"n_restarts": 0}, "n_restarts must be at least 1"),
    ],
)
def test_bad_starting_points(box4, x0, kwargs, match):
    obj = ivd.Objective(quadratic, box4)
    with pytest.raises(ValueError, match=match):
        ivd.minimize(obj, "gd", x0=x0, **kwargs)


def test_x0_single_point_and_tensor(box4):
    obj = ivd.Objective(quadratic, box4)
    res = ivd.minimize(obj, "lbfgs", x0=torch.zeros(4))
    assert res.X.shape == (1, 4) and res.fun < 1e-10


def test_from_data_starts_pick_best_and_nearest_target(box4):
    X = box4.sample(100, seed=0)
    y = quadratic(X)
    best = ivd.FromData(X, y)(ivd.Objective(quadratic, box4), 5, None)
    assert torch.equal(best, X[torch.argsort(y)[:5]])
    worst = ivd.FromData(X, y)(ivd.Objective(quadratic, box4, maximize=True), 5, None)
    assert torch.equal(worst, X[torch.argsort(y, descending=True)[:5]])
    target_obj = ivd.Objective(quadratic, box4, target=1.0)
    near = ivd.FromData(X, y, share=1.0)(target_obj, 5, None)
    assert torch.equal(near, X[torch.argsort((y - 1.0).abs())[:5]])
    mixed = ivd.FromData(X, y, share=0.5)(target_obj, 6, 0)
    assert torch.equal(mixed[:3], near[:3]) and torch.equal(mixed[3:], box4.sample(3, seed=0)), "half nearest, half Sobol"
    filled = ivd.FromData(X, y)(target_obj, 103, 0)
    assert torch.equal(filled[100:], box4.sample(3, seed=0)), "Sobol points fill in for a data set too small"
    by_energy = ivd.FromData(X)(ivd.Objective(quadratic, box4), 5, None)
    assert torch.equal(by_energy, best)
    res = ivd.minimize(ivd.Objective(quadratic, box4), "gd", n_restarts=5, x0=ivd.FromData(X, y), max_iter=5)
    assert res.X.shape == (5, 4)
    with pytest.raises(ValueError, match="only 100 designs"):
        ivd.minimize(ivd.Objective(quadratic, box4), "gd", n_restarts=101, x0=ivd.FromData(X, y))


def test_from_data_starts_skip_designs_outside_the_box(box4):
    X = box4.sample(20, seed=0)
    y = quadratic(X)
    X_out = torch.cat([X, X[:3] + 100.0])  # three designs outside the box, with the best values
    y_out = torch.cat([y, torch.full((3,), -1.0, dtype=y.dtype)])
    starts = ivd.FromData(X_out, y_out)(ivd.Objective(quadratic, box4), 5, None)
    assert torch.equal(starts, X[torch.argsort(y)[:5]])
    with pytest.raises(ValueError, match="only 20 designs inside the box"):
        ivd.FromData(X_out, y_out)(ivd.Objective(quadratic, box4), 21, None)


@pytest.mark.parametrize("method", METHODS)
def test_callback_can_stop_the_run(method, box4):
    seen = []

    def stop_after_three(progress: ivd.Progress) -> None:
        seen.append(progress.fun)
        assert progress.x.shape == (4,)
        if len(seen) == 3:
            raise StopIteration

    objective = ivd.Objective(model_for(method), box4)
    if not capabilities(method).callback:
        with pytest.raises(TypeError, match=f"method '{method}' calls no callback during its run; methods that do: .*gd"):
            ivd.minimize(objective, method, callback=stop_after_three, **call_options(method, box4, quadratic))
        return
    res = ivd.minimize(objective, method, seed=0, callback=stop_after_three, **call_options(method, box4, quadratic))
    assert res.status is ivd.Status.STOPPED and res.success
    assert len(seen) == 3 and res.fun <= seen[-1]
    assert res.nit >= 1


def test_gd_boundary_penalty_returns_only_in_box_designs():
    box = ivd.Box(-1.0, 1.0, dim=2)
    obj = ivd.Objective(lambda x: x.sum(-1), box)  # minimum at the corner (-1, -1)
    res = ivd.minimize(obj, "gd", n_restarts=8, seed=0, bounds="penalty", boundary_weight=10.0)
    assert box.contains(res.X).all()
    assert res.fun < -1.9
    project = ivd.minimize(obj, "gd", n_restarts=8, seed=0)
    assert project.fun == pytest.approx(-2.0)


def test_gd_retires_converged_restarts(box4):
    res = ivd.minimize(ivd.Objective(quadratic, box4), "gd", n_restarts=8, seed=0, max_iter=5000, patience=10)
    assert res.status is ivd.Status.CONVERGED
    assert res.nit < 5000 and res.history.n_active[-1] == 0
    assert res.nfev < 8 * (res.nit + 1)


def test_sgd_option(box4):
    res = ivd.minimize(ivd.Objective(quadratic, box4), "gd", optimizer="sgd", lr=0.05, momentum=0.9, n_restarts=4, seed=0)
    assert res.fun < 1e-8


def test_result_repr_and_history_frame(box4):
    res = ivd.minimize(ivd.Objective(quadratic, box4), "lbfgs", n_restarts=3, seed=0)
    text = repr(res)
    assert "solver='lbfgs'" in text and "3 designs" in text and "nfev" in text
    frame = res.history.to_pandas()
    assert list(frame.columns) == ["iteration", "best", "nfev", "time", "n_active", "fit_time"] and len(frame) == len(res.history)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("method", ["gd", "lbfgs"])
def test_hartmann6_global_minimum_from_32_restarts(method, dtype):
    task = ivd.tasks.get("hartmann6")
    obj = ivd.Objective(lambda x: task.oracle(x)[:, 0], task.space, dtype=dtype)
    res = ivd.minimize(obj, method, n_restarts=32, seed=0)
    optimum = -3.32236801141551  # Hartmann6's global minimum to double precision
    assert abs(res.fun - optimum) / abs(optimum) <= 1e-4
    assert task.space.to(dtype).contains(res.X).all(), "a returned design violates the bounds"


@pytest.mark.parametrize("method", RESTART_METHODS)
def test_maximize_finds_the_maximum(method, box4):
    obj = ivd.Objective(lambda x: -quadratic(x), box4, maximize=True)
    res = ivd.minimize(obj, method, seed=0, **call_options(method, box4, lambda x: -quadratic(x)))
    if method not in QUADRATIC_TOL or QUADRATIC_TOL[method] > 1e-6:
        assert res.fun < QUADRATIC_TOL.get(method, 0.3)
        return
    assert res.fun == pytest.approx(0.0, abs=1e-8)
    assert torch.allclose(res.x, torch.tensor(CENTER, dtype=torch.float64), atol=1e-3)


@pytest.mark.parametrize("method", RESTART_METHODS)
def test_max_iter_is_checked_and_zero_returns_the_starts(method, box4):
    obj = ivd.Objective(quadratic, box4)
    starts = box4.sample(3, seed=0)
    x0 = ivd.FromData(starts, quadratic(starts)) if capabilities(method).data else starts
    with pytest.raises(ValueError, match="max_iter must be at least 0, got -1"):
        ivd.minimize(obj, method, max_iter=-1, x0=x0)
    with pytest.raises(TypeError, match="max_iter must be an integer, got 2.5"):
        ivd.minimize(obj, method, max_iter=2.5, x0=x0)
    res = ivd.minimize(obj, method, x0=x0, max_iter=0, n_restarts=3)
    assert res.nit == 0 and res.status is ivd.Status.MAX_ITER
    assert torch.allclose(res.X, starts[torch.argsort(quadratic(starts))])


@pytest.mark.parametrize("method", RESTART_METHODS)
def test_energy_turning_nan_mid_run_is_reported(method):
    box = ivd.Box(-1.0, 1.0, dim=2)

    def cliff(x):  # slopes down towards x0 = 1, but is NaN beyond x0 = 0.5
        return torch.where(x[:, 0] > 0.5, torch.nan, -x[:, 0] + x[:, 1].square())

    starts = torch.tensor([[0.0, 0.3], [-0.5, 0.1]], dtype=torch.float64)
    x0 = ivd.FromData(starts, cliff(starts)) if capabilities(method).data else starts
    res = ivd.minimize(ivd.Objective(cliff, box), method, x0=x0, n_restarts=2)
    assert "NaN or infinite" in res.message
    assert torch.isfinite(res.F).all() and (res.X[:, 0] <= 0.5).all()
    assert res.fun < -0.4


def test_x0_that_requires_grad_and_integer_x0_are_accepted(box4):
    obj = ivd.Objective(quadratic, box4)
    x0 = box4.sample(2, seed=0).requires_grad_(True)
    assert ivd.minimize(obj, "gd", x0=x0 * 1.0, max_iter=5).X.shape == (2, 4)
    assert ivd.minimize(obj, "lbfgs", x0=[[0, 0, 0, 0]]).fun < 1e-10


def test_start_strategy_must_return_n_rows(box4):
    obj = ivd.Objective(quadratic, box4)
    with pytest.raises(ValueError, match=r"start strategy returned shape \(3, 4\); expected \(5, 4\)"):
        ivd.minimize(obj, "gd", n_restarts=5, x0=lambda objective, n, seed: box4.sample(3, seed=0))


def test_lbfgs_options_are_checked():
    with pytest.raises(ValueError, match="maxcor must be a positive integer"):
        ivd.solvers.LBFGSB(maxcor=0)
    with pytest.raises(ValueError, match="ftol must be non-negative"):
        ivd.solvers.LBFGSB(ftol=-1.0)


def test_sgd_step_is_scaled_by_sqrt_d():
    box = ivd.Box(-1.0, 1.0, dim=4)
    obj = ivd.Objective(lambda x: x.sum(-1), box)  # gradient 2 per unit-cube coordinate
    x0 = torch.zeros(1, 4, dtype=torch.float64)
    res = ivd.minimize(obj, "gd", x0=x0, max_iter=2, optimizer="sgd", lr=0.01, lr_schedule="constant")
    # One step in the unit cube: 0.01 * sqrt(4) * 2 = 0.04, i.e. 0.08 in the box of width 2.
    assert torch.allclose(res.x, torch.full((4,), -0.08, dtype=torch.float64))


def test_lr_schedules_end_at_lr_final():
    for schedule in ("cosine", "exponential"):
        solver = ivd.solvers.GradientDescent(lr_schedule=schedule, lr_final=0.01)
        assert solver._lr_factor(0, 100) == pytest.approx(1.0)
        assert solver._lr_factor(99, 100) == pytest.approx(0.01)
    assert ivd.solvers.GradientDescent(lr_schedule="constant")._lr_factor(99, 100) == 1.0


def test_result_options_record_the_run(box4):
    res = ivd.minimize(ivd.Objective(quadratic, box4), "gd", n_restarts=3, max_iter=7, seed=11, lr=0.2)
    assert res.options["lr"] == 0.2
    assert (res.options["n_restarts"], res.options["max_iter"], res.options["seed"]) == (3, 7, 11)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", RESTART_METHODS)
def test_runs_on_cuda(method, trained_mlp):
    model, task = trained_mlp
    obj = ivd.Objective(copy.deepcopy(model).cuda(), task.space)
    cuda_model = obj.model
    res = ivd.minimize(obj, method, seed=0, **call_options(method, task.space.to(device="cuda"), cuda_model))
    assert res.X.device.type == "cuda" and res.success
    assert task.space.to(device="cuda").contains(res.X).all()
