"""Black-box objectives: a task's oracle searched directly, and scikit-learn models without gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.ensemble import GradientBoostingRegressor
from test_ask_tell import SAMPLE_METHODS, options

import invdesign as ivd

BRANIN_MIN = 0.397887357729738  # Branin's global minimum


@pytest.fixture(scope="module")
def branin_regressor() -> tuple[GradientBoostingRegressor, ivd.tasks.Task]:
    """Gradient-boosted trees fitted (a fraction of a second) to 300 Branin designs."""
    task = ivd.tasks.get("branin")
    X, Y = task.make_data(300, seed=0)
    reg = GradientBoostingRegressor(n_estimators=60, max_depth=3, random_state=0).fit(X.numpy(), Y[:, 0].numpy())
    return reg, task


@pytest.mark.parametrize("method", ["cmaes", "random"])
def test_branin_oracle_as_the_objective(method):
    task = ivd.tasks.get("branin")
    obj = task.objective()
    assert obj.differentiable
    max_evals, tol = {"cmaes": (200, 1e-4), "random": (512, 0.05)}[method]
    res = ivd.minimize(obj, method, seed=0, max_evals=max_evals)
    assert res.nfev == max_evals, "every oracle call is counted"
    assert abs(res.fun - BRANIN_MIN) < tol
    assert torch.allclose(task.oracle(res.x[None])[0, 0], torch.tensor(res.fun, dtype=torch.float64))


def test_gradient_solvers_also_run_on_the_oracle():
    obj = ivd.tasks.get("branin").objective(dtype=torch.float32)
    res = ivd.minimize(obj, "lbfgs", n_restarts=8, seed=0)
    assert res.x.dtype == torch.float32 and abs(res.fun - BRANIN_MIN) < 1e-4


def test_target_task_matches_a_target_through_its_oracle():
    task = ivd.tasks.get("robot_arm")
    y_star = task.sample_targets(1, seed=0)[0]
    obj = task.objective(target=y_star)
    res = ivd.minimize(obj, "cmaes", seed=0, max_evals=400)
    assert res.nfev == 400
    assert res.fun < 1e-6
    assert float((task.oracle(res.x[None])[0] - y_star).square().mean()) == pytest.approx(res.fun)
    with pytest.raises(ValueError, match="target task: pass target="):
        task.objective()
    with pytest.raises(ValueError, match="minimize task"):
        ivd.tasks.get("branin").objective(target=1.0)


@pytest.mark.parametrize("as_numpy_callable", [True, False], ids=["lambda", "reg.predict"])
@pytest.mark.parametrize("method", SAMPLE_METHODS)
def test_sklearn_model_with_every_sample_solver(method, as_numpy_callable, branin_regressor):
    reg, task = branin_regressor
    model = (lambda x: reg.predict(x.numpy())) if as_numpy_callable else reg.predict
    obj = ivd.Objective(model, task.space)
    assert not obj.differentiable
    kwargs = options(method, max_evals=150) if method in ("cmaes", "random") else options(method)
    n = kwargs["max_evals"]  # the model-based solvers get a tiny budget
    res = ivd.minimize(obj, method, seed=0, **kwargs)
    assert res.success and res.nfev == n
    assert task.space.contains(res.X).all() and res.X.shape == (n, 2)
    assert torch.allclose(res.F, torch.as_tensor(reg.predict(res.X.numpy())))
    if n == 150:
        typical = float(np.median(reg.predict(task.sample_prior(256, seed=1).numpy())))
        assert res.fun < 0.25 * typical


@pytest.mark.parametrize("method", ["gd", "lbfgs"])
def test_gradient_solvers_refuse_a_model_without_gradients(method, branin_regressor):
    reg, task = branin_regressor
    obj = ivd.Objective(reg.predict, task.space)
    gradient_free = ", ".join(SAMPLE_METHODS)
    match = f"method '{method}' needs gradients.*Use a gradient-free method: {gradient_free}"
    with pytest.raises(TypeError, match=match):
        ivd.minimize(obj, method)
