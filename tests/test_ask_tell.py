"""The ask/tell contract, checked for every registered sample-based solver.

A solver added to the registry joins these tests by itself; it runs with its options from the
solver table (``BUDGETS`` in test_solvers.py) but a small ``max_evals`` from MAX_EVALS here (or
DEFAULT_MAX_EVALS for a solver without a row).
"""

from __future__ import annotations

import math

import pytest
import torch
from test_solvers import BUDGETS

import invdesign as ivd

SAMPLE_METHODS = ivd.solvers.capable(lambda c: c.ask_tell)
MAX_EVALS: dict[str, int] = {"cmaes": 24, "random": 24, "bo": 7, "turbo": 10}
DEFAULT_MAX_EVALS = 8
CENTER2 = (0.3, -0.2)


def quadratic2(x: torch.Tensor) -> torch.Tensor:
    """Sum of squares around CENTER2, minimum 0 inside [-1, 1]^2; (b, 2) -> (b,)."""
    return (x - torch.tensor(CENTER2, dtype=x.dtype, device=x.device)).square().sum(dim=-1)


def holey2(x: torch.Tensor) -> torch.Tensor:
    """`quadratic2`, but NaN wherever x0 > 0.5 (a model that fails in part of the box)."""
    return torch.where(x[:, 0] > 0.5, torch.nan, quadratic2(x))


@pytest.fixture(scope="module")
def box2() -> ivd.Box:
    return ivd.Box(-1.0, 1.0, dim=2)


def budget(method: str) -> int:
    return MAX_EVALS.get(method, DEFAULT_MAX_EVALS)


def options(method: str, **changes) -> dict:
    """The solver's options from the solver table, with a small ``max_evals``."""
    table = {k: v for k, v in BUDGETS.get(method, {}).items() if k not in ("max_evals", "n_restarts", "max_iter")}
    return {**table, "max_evals": budget(method), **changes}


def solver_options(method: str) -> dict:
    """The solver's own options (no budget)."""
    return {k: v for k, v in options(method).items() if k != "max_evals"}


def hand_loop(opt: ivd.solvers.AskTell, fun, max_evals: int) -> None:
    """What `minimize` does, written out: ask a batch, evaluate it, tell it, until ``max_evals``."""
    while opt.n_told < max_evals:
        x = opt.ask(min(opt.solver.batch, max_evals - opt.n_told))
        opt.tell(x, fun(x))


def told(path) -> tuple[torch.Tensor, torch.Tensor]:
    """Every told design and energy of a checkpointed run, in the order told."""
    opt = ivd.solvers.load_optimizer(path)
    return opt.X, opt.Y


def test_every_sample_solver_has_a_budget_row():
    assert {"cmaes", "random"} <= set(SAMPLE_METHODS)
    assert set(MAX_EVALS) >= set(SAMPLE_METHODS) or DEFAULT_MAX_EVALS <= 10


@pytest.mark.parametrize("method", SAMPLE_METHODS)
def test_hand_loop_equals_minimize(method, box2, tmp_path):
    n = budget(method)
    obj = ivd.Objective(quadratic2, box2)
    res = ivd.minimize(obj, method, seed=3, checkpoint=tmp_path / "run.safetensors", **options(method))
    opt = ivd.solvers.make(method, **solver_options(method)).optimizer(box2, seed=3)
    hand_loop(opt, quadratic2, n)
    X, Y = told(tmp_path / "run.safetensors")
    assert torch.equal(opt.X, X) and torch.equal(opt.Y, Y)
    assert opt.batches == ivd.solvers.load_optimizer(tmp_path / "run.safetensors").batches
    mine = opt.result()
    assert torch.equal(mine.X, res.X) and torch.equal(mine.F, res.F)
    assert res.nfev == mine.nfev == n


@pytest.mark.parametrize("method", SAMPLE_METHODS)
def test_resumed_run_equals_uninterrupted_run(method, box2, tmp_path):
    n = budget(method)
    calls = []

    def counted(x):
        calls.append(x.shape[0])
        return quadratic2(x)

    obj = ivd.Objective(counted, box2)
    full = ivd.minimize(obj, method, seed=1, checkpoint=tmp_path / "full.safetensors", **options(method))
    batches = ivd.solvers.load_optimizer(tmp_path / "full.safetensors").batches
    stop = sum(batches[: len(batches) // 2])  # where the uninterrupted run had told a whole batch
    assert 0 < stop < n

    path = tmp_path / "cut.safetensors"
    first = ivd.minimize(obj, method, seed=1, checkpoint=path, **options(method, max_evals=stop))
    assert first.nfev == stop
    evals = sum(calls)
    resumed = ivd.minimize(obj, method, seed=1, checkpoint=path, **options(method))
    assert sum(calls) - evals == n - stop, "a resumed run evaluates only what is left"
    assert resumed.nfev == n
    assert torch.equal(resumed.X, full.X) and torch.equal(resumed.F, full.F)
    X, Y = told(path)
    X_full, Y_full = told(tmp_path / "full.safetensors")
    assert torch.equal(X, X_full) and torch.equal(Y, Y_full)
    again = ivd.minimize(obj, method, seed=1, checkpoint=path, **options(method))  # nothing left to do
    assert torch.equal(again.X, full.X) and sum(calls) - evals == n - stop


@pytest.mark.parametrize("method", SAMPLE_METHODS)
def test_save_and_load_optimizer_continue_identically(method, box2, tmp_path):
    n = budget(method)
    opt = ivd.solvers.make(method, **solver_options(method)).optimizer(box2, seed=5)
    hand_loop(opt, quadratic2, n // 2)
    opt.save(tmp_path / "opt.safetensors")
    loaded = ivd.solvers.load_optimizer(tmp_path / "opt.safetensors")
    assert type(loaded) is type(opt) and loaded.seed == opt.seed and loaded.space == opt.space
    assert torch.equal(loaded.X, opt.X) and torch.equal(loaded.Y, opt.Y) and loaded.batches == opt.batches
    while opt.n_told < n:
        size = min(opt.solver.batch, n - opt.n_told)
        x, x_loaded = opt.ask(size), loaded.ask(size)
        assert torch.equal(x, x_loaded)
        opt.tell(x, quadratic2(x))
        loaded.tell(x_loaded, quadratic2(x_loaded))
    assert torch.equal(loaded.X, opt.X) and torch.equal(loaded.Y, opt.Y)
    assert loaded.result().fun == opt.result().fun


@pytest.mark.parametrize("method", SAMPLE_METHODS)
def test_checkpoint_of_another_run_is_refused(method, box2, tmp_path):
    n = budget(method)
    path = tmp_path / "run.safetensors"
    obj = ivd.Objective(quadratic2, box2)
    ivd.minimize(obj, method, seed=0, checkpoint=path, **options(method))
    other_method = next(m for m in SAMPLE_METHODS if m != method)
    other_box = ivd.Objective(quadratic2, ivd.Box(-2.0, 2.0, dim=2))
    for objective, other, seed in [(obj, method, 1), (other_box, method, 0), (obj, other_method, 0)]:
        with pytest.raises(ValueError, match="does not match this call"):
            ivd.minimize(objective, other, seed=seed, checkpoint=path, **options(other))
    assert ivd.minimize(obj, method, checkpoint=path, **options(method)).nfev == n  # seed=None takes the saved one


@pytest.mark.parametrize("method", SAMPLE_METHODS)
def test_nan_energies_are_recorded_as_failed_and_the_run_goes_on(method, box2):
    n = budget(method)
    res = ivd.minimize(ivd.Objective(holey2, box2), method, seed=0, **options(method))
    failed = int(torch.isnan(res.F).sum())
    assert 0 < failed < n, "the test needs some designs in the NaN part of the box"
    assert res.nfev == n and res.X.shape == (n, 2)
    assert f"{n} designs evaluated, {failed} failed (NaN or infinite energy)" in res.message
    assert res.success and math.isfinite(res.fun) and float(res.x[0]) <= 0.5
    assert torch.isnan(res.F[-failed:]).all() and (res.X[-failed:, 0] > 0.5).all(), "failed designs come last"


@pytest.mark.parametrize("method", SAMPLE_METHODS)
def test_tell_checks_shapes_and_the_box(method, box2):
    opt = ivd.solvers.make(method, **solver_options(method)).optimizer(box2, seed=0)
    x = opt.ask(2)
    y = quadratic2(x)
    outside = x.clone()
    outside[0, 0] = 1.5
    for bad_x, bad_y, match in [
        (x[:, :1], y, r"shape \(n, 2\)"),
        (x[0], y[:1], r"shape \(n, 2\)"),
        (x, y[:1], "2 designs but 1 energies"),
        (outside, y, "outside the box"),
    ]:
        with pytest.raises(ValueError, match=match):
            opt.tell(bad_x, bad_y)
    assert opt.n_told == 0, "a refused tell records nothing"
    opt.tell(x, y)
    assert opt.n_told == 2 and torch.equal(opt.X, x)
