"""Every registered solver does what its declared capabilities say, and refuses the rest by name.

Driven by `Capabilities` alone: a new solver module joins these tests without edits.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import quadratic
from test_solvers import METHODS, call_options, capabilities, model_for

import invdesign as ivd


class Killed(Exception):
    """Stands in for a crash in the middle of a run."""


def kill_after(n: int):
    seen = []

    def callback(progress: ivd.Progress) -> None:
        seen.append(progress.nfev)
        if len(seen) == n:
            raise Killed

    return callback


@pytest.mark.parametrize("method", METHODS)
def test_gradients(method, box4):
    numpy_model = ivd.Objective(lambda x: torch.as_tensor(quadratic(x).detach().numpy()), box4, differentiable=False)
    if capabilities(method).gradients:
        with pytest.raises(TypeError, match="needs gradients.*declared with differentiable=False.*gradient-free method: .*random"):
            ivd.minimize(numpy_model, method, **call_options(method, box4, quadratic))
    elif capabilities(method).models == "piecewise_linear":
        with pytest.raises(TypeError, match="not a torch.nn.Module; milp reads torch.nn.Sequential stacks of Linear, ReLU"):
            ivd.minimize(numpy_model, method, **call_options(method, box4, quadratic))
    else:
        res = ivd.minimize(numpy_model, method, seed=0, **call_options(method, box4, quadratic))
        assert res.success and torch.isfinite(res.F).any()


@pytest.mark.parametrize("method", METHODS)
def test_starting_points(method, box4):
    obj = ivd.Objective(quadratic, box4)
    options = call_options(method, box4, quadratic)
    if not capabilities(method).x0:
        with pytest.raises(TypeError, match=f"method '{method}' takes no starting points.*methods that do: .*gd"):
            ivd.minimize(obj, method, x0=box4.sample(2, seed=0), **options)
        with pytest.raises(TypeError, match="takes no starting points"):
            ivd.minimize(obj, method, n_restarts=2, **options)
        return
    good = torch.tensor([[0.3, -0.2, 0.5, 0.1]], dtype=torch.float64)  # the minimum
    options.pop("n_restarts", None)
    options.pop("x0", None)
    x0 = ivd.FromData(good.expand(3, 4).clone(), torch.zeros(3)) if capabilities(method).data else good
    res = ivd.minimize(obj, method, x0=x0, seed=0, **options)
    assert res.fun <= 1e-12, "a solver that takes starting points keeps the best of them"


@pytest.mark.parametrize("method", METHODS)
def test_budget(method, box4):
    caps = capabilities(method)
    obj = ivd.Objective(model_for(method), box4)
    options = call_options(method, box4, quadratic)
    options.pop("max_evals", None)
    options.pop("max_iter", None)
    if caps.budget == "evaluations":
        with pytest.raises(TypeError, match=f"method '{method}' counts its budget in evaluations: pass max_evals="):
            ivd.minimize(obj, method, max_iter=5, **options)
        res = ivd.minimize(obj, method, max_evals=9, seed=0, **options)
        assert res.nfev == 9 and res.X.shape[0] == 9 and res.options["max_evals"] == 9
    else:
        with pytest.raises(TypeError, match=f"counts its budget in {caps.budget}: pass max_iter="):
            ivd.minimize(obj, method, max_evals=5, **options)
        res = ivd.minimize(obj, method, max_iter=3, seed=0, **options)
        assert res.nit <= 3 and res.options["max_iter"] == 3


@pytest.mark.parametrize("method", METHODS)
def test_default_restarts(method, box4):
    caps = capabilities(method)
    if not (caps.x0 and caps.budget == "iterations"):
        pytest.skip(f"{method} has no restarts")
    options = call_options(method, box4, quadratic)
    options.pop("n_restarts", None)
    if caps.data:
        X = box4.sample(caps.default_restarts, seed=1)
        options["x0"] = ivd.FromData(X, quadratic(X))
    res = ivd.minimize(ivd.Objective(quadratic, box4), method, max_iter=2, **{k: v for k, v in options.items() if k != "max_iter"})
    assert res.X.shape[0] == caps.default_restarts


@pytest.mark.parametrize("method", METHODS)
def test_data(method, box4):
    obj = ivd.Objective(quadratic, box4)
    options = call_options(method, box4, quadratic)
    if capabilities(method).data:
        options.pop("x0")
        with pytest.raises(TypeError, match="pass x0=invdesign.FromData"):
            ivd.minimize(obj, method, **options)
    elif capabilities(method).x0:
        X = box4.sample(64, seed=5)
        options.setdefault("n_restarts", 4)
        res = ivd.minimize(obj, method, x0=ivd.FromData(X, quadratic(X)), seed=0, **options)
        assert res.success


@pytest.mark.parametrize("method", METHODS)
def test_checkpoint(method, box4, tmp_path):
    obj = ivd.Objective(quadratic, box4)
    options = call_options(method, box4, quadratic)
    path = tmp_path / "run.safetensors"
    if not capabilities(method).checkpoint:
        with pytest.raises(TypeError, match=f"method '{method}' cannot save and resume.*methods that can: .*random"):
            ivd.minimize(obj, method, checkpoint=path, **options)
        return
    full = ivd.minimize(obj, method, seed=4, **options)
    calls = []

    def counted(x):
        calls.append(x.shape[0])
        return quadratic(x)

    counted_obj = ivd.Objective(counted, box4)
    with pytest.raises(Killed):
        ivd.minimize(counted_obj, method, seed=4, checkpoint=path, callback=kill_after(2), **options)
    done = ivd.solvers.load_optimizer(path).n_told
    assert 0 < done < full.nfev
    calls.clear()
    resumed = ivd.minimize(counted_obj, method, seed=4, checkpoint=path, **options)
    assert sum(calls) == full.nfev - done, "the resumed run evaluates only what the killed one had not"
    assert f"Resumed from {str(path)!r} after {done} designs" in resumed.message
    assert torch.equal(resumed.X, full.X) and torch.equal(resumed.F, full.F), "a killed run resumes exactly"
    assert resumed.nfev == full.nfev
    other = ivd.Objective(lambda x: quadratic(x) + 1.0, box4)
    with pytest.raises(ValueError, match="another objective"):
        ivd.minimize(other, method, seed=4, checkpoint=path, **options)


@pytest.mark.parametrize("method", METHODS)
def test_ask_tell(method, box4):
    solver = ivd.solvers.make(method, **{k: v for k, v in call_options(method, box4, quadratic).items()
                                         if k not in ("max_evals", "max_iter", "n_restarts", "x0")})
    if not capabilities(method).ask_tell:
        assert not callable(getattr(solver, "optimizer", None))
        return
    opt = solver.optimizer(box4, seed=0)
    for _ in range(3):
        x = opt.ask()
        assert box4.contains(x).all()
        opt.tell(x, quadratic(x))
    assert opt.result().X.shape[0] == opt.n_told == sum(opt.batches)


class IntegerBox(ivd.Box):
    """A box whose variables claim to be integers: no solver declares that kind yet."""

    @property
    def variable_kinds(self) -> frozenset[str]:
        return frozenset({"integer"})


@pytest.mark.parametrize("method", METHODS)
def test_variable_kinds(method, box4):
    caps = capabilities(method)
    assert dataclasses.is_dataclass(caps) and caps.budget in ("iterations", "evaluations", "steps", "nodes")
    obj = ivd.Objective(quadratic, IntegerBox(-1.0, 1.0, dim=4))
    if "integer" in caps.variables:
        return
    with pytest.raises(TypeError, match=f"method '{method}' does not handle integer variables"):
        ivd.minimize(obj, method, **call_options(method, box4, quadratic))


def test_registry_errors_name_the_known_entries():
    with pytest.raises(ValueError, match="unknown method 'newton'; known: .*gd"):
        ivd.solvers.get("newton")
    with pytest.raises(ValueError, match="unknown task 'nope'; known: .*branin"):
        ivd.tasks.get("nope")


def test_model_raising_inside_forward_is_reported_with_its_own_exception(box4):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise ZeroDivisionError("bad layer")

    with pytest.raises(ValueError, match="ZeroDivisionError: bad layer") as info:
        ivd.Objective(Broken(), box4)
    assert isinstance(info.value.__cause__, ZeroDivisionError)

    calls = []

    def flaky(x):
        calls.append(1)
        if len(calls) > 3:
            raise KeyError("lookup failed on call 4")
        return quadratic(x)

    obj = ivd.Objective(flaky, box4)
    with pytest.raises(ValueError, match="raised KeyError on a batch") as info:
        ivd.minimize(obj, "gd", n_restarts=2, max_iter=10)
    assert isinstance(info.value.__cause__, KeyError)


def test_model_editing_its_input_in_place_is_differentiable(box4):
    def centred(x):
        x -= 0.1
        return x.square().sum(-1)

    obj = ivd.Objective(centred, box4)
    assert obj.differentiable
    assert ivd.minimize(obj, "gd", n_restarts=2, max_iter=50, seed=0).success


def test_numpy_model_is_found_out_and_the_reason_shown(box4):
    obj = ivd.Objective(lambda x: np.square(x.numpy()).sum(-1), box4)
    assert not obj.differentiable and "not differentiable" in repr(obj)
    with pytest.raises(TypeError, match=r"needs gradients.*Can't call numpy\(\).*gradient-free method: .*cmaes") as info:
        ivd.minimize(obj, "lbfgs")
    assert isinstance(info.value.__cause__, RuntimeError), "the probe's own exception is chained"


def test_a_model_failing_on_its_first_call_is_not_taken_for_a_numpy_model(box4):
    calls = []

    def lazy(x):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("lazy weights not initialised yet")
        return quadratic(x)

    with pytest.raises(ValueError, match="lazy weights not initialised yet") as info:
        ivd.Objective(lazy, box4)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_x0_from_data_without_n_restarts_starts_sample_solvers_from_the_best_design(box4):
    X = box4.sample(32, seed=3)
    for method in ivd.solvers.capable(lambda c: c.ask_tell):
        options = {k: v for k, v in call_options(method, box4, quadratic).items() if k != "max_evals"}
        res = ivd.minimize(ivd.Objective(quadratic, box4), method, x0=ivd.FromData(X, quadratic(X)), max_evals=12, seed=0, **options)
        assert res.nfev == 12
        assert (res.X == X[torch.argmin(quadratic(X))]).all(dim=-1).any(), f"{method}: the best data design is told as it is"
