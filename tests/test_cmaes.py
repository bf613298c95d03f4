"""method="cmaes": convergence on small budgets, seeding, populations as batches, ask/tell rules, replayed resume."""

from __future__ import annotations

import math

import cma
import numpy as np
import pytest
import torch
from conftest import CENTER, quadratic
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import invdesign as ivd
from invdesign.solvers.cmaes import default_popsize


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    """Rosenbrock's valley, minimum 0 at (1, ..., 1); (b, d) -> (b,)."""
    return (100 * (x[:, 1:] - x[:, :-1].square()).square() + (1 - x[:, :-1]).square()).sum(dim=-1)


def ellipsoid10(x: torch.Tensor) -> torch.Tensor:
    """A smooth ill-conditioned bowl in 10-d, minimum 0 at x_i = 0.1 i - 0.45; (b, 10) -> (b,)."""
    i = torch.arange(10, dtype=x.dtype, device=x.device)
    return (10 ** (i / 9) * (x - (0.1 * i - 0.45)).square()).sum(dim=-1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_quadratic_4d(box4, dtype):
    res = ivd.minimize(ivd.Objective(quadratic, box4, dtype=dtype), "cmaes", seed=0, max_evals=400)
    assert res.fun < 1e-5 and res.nfev == 400 and res.X.dtype == dtype
    assert torch.allclose(res.x, torch.tensor(CENTER, dtype=dtype), atol=5e-3)


def test_rosenbrock_4d():
    box = ivd.Box(-2.0, 2.0, dim=4)
    res = ivd.minimize(ivd.Objective(rosenbrock, box), "cmaes", seed=0, max_evals=1500)
    assert res.fun < 1e-4
    assert torch.allclose(res.x, torch.ones(4, dtype=torch.float64), atol=0.02)


def test_beats_random_search_at_equal_budget_in_10d():
    box = ivd.Box(-1.0, 1.0, dim=10)
    obj = ivd.Objective(ellipsoid10, box)
    for seed in (0, 1):
        cmaes = ivd.minimize(obj, "cmaes", seed=seed, max_evals=600)
        random = ivd.minimize(obj, "random", seed=seed, max_evals=600)
        assert cmaes.nfev == random.nfev == 600
        assert cmaes.fun < 0.01 * random.fun, (cmaes.fun, random.fun)


def test_same_seed_same_run_and_numpy_global_generator_untouched(box4):
    obj = ivd.Objective(quadratic, box4)
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    a = ivd.minimize(obj, "cmaes", seed=7, max_evals=80)
    assert np.array_equal(np.random.get_state()[1], state), "cmaes must not reseed NumPy's global generator"
    np.random.standard_normal(1000)  # other code drawing from the global generator changes nothing
    b = ivd.minimize(obj, "cmaes", seed=7, max_evals=80)
    c = ivd.minimize(obj, "cmaes", seed=8, max_evals=80)
    assert torch.equal(a.X, b.X) and torch.equal(a.F, b.F)
    assert not torch.equal(a.X, c.X)


def test_interleaved_runs_equal_separate_runs(box4):
    def run(opt, rounds):
        out = []
        for _ in range(rounds):
            x = opt.ask()
            opt.tell(x, quadratic(x))
            out.append(x)
        return out

    solver = ivd.solvers.make("cmaes")
    alone = run(solver.optimizer(box4, seed=0), 5)
    a, b = solver.optimizer(box4, seed=0), solver.optimizer(box4, seed=1)
    together = []
    for _ in range(5):
        together += run(a, 1)
        run(b, 1)
    assert all(torch.equal(x, y) for x, y in zip(alone, together))


def test_one_population_per_batch(box4):
    obj = ivd.Objective(quadratic, box4)
    res = ivd.minimize(obj, "cmaes", seed=0, max_evals=50)
    p = default_popsize(4)
    assert p == 8 == cma.CMAEvolutionStrategy(np.zeros(4), 0.3, {"verbose": -9}).popsize
    assert res.options["popsize"] == res.options["batch"] == p
    assert res.history.n_active == [p] * 6 + [2], "the last batch is what is left of the budget"
    assert res.nit == 7 and res.nfev == 50

    res = ivd.minimize(obj, "cmaes", seed=0, max_evals=60, popsize=12, sigma0=0.1)
    assert res.history.n_active == [12] * 5
    assert (res.options["popsize"], res.options["sigma0"]) == (12, 0.1)
    opt = ivd.solvers.make("cmaes", popsize=5).optimizer(box4, seed=0)
    assert opt.ask().shape == (5, 4) and opt.solver.batch == 5


def test_search_starts_at_the_centre_or_the_best_start_design(box4):
    solver = ivd.solvers.make("cmaes", sigma0=0.01)
    opt = solver.optimizer(box4, seed=0)
    assert (opt.ask() - box4.center).abs().max() < 0.1
    opt = solver.optimizer(box4, seed=0)
    starts = torch.tensor([[0.9, 0.9, 0.9, 0.9], [-0.5, 0.5, -0.5, 0.5], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    opt.tell(starts, torch.tensor([2.0, 1.0, math.nan], dtype=torch.float64))  # the best finite one is the start
    assert opt.n_start == 3 and opt.es is None
    assert (opt.ask() - starts[1]).abs().max() < 0.1

    res = ivd.minimize(ivd.Objective(quadratic, box4), "cmaes", sigma0=0.01, x0=starts[:1], seed=0, max_evals=9)
    assert res.nfev == 9 and (res.X - starts[0]).abs().max() < 0.1, "the first population is drawn around x0"


def test_failed_designs_rank_below_every_finite_one():
    box = ivd.Box(-1.0, 1.0, dim=4)

    def holey(x):  # NaN on the half x1 > 0; the minimum (CENTER, x1 = -0.2) is on the other half
        return torch.where(x[:, 1] > 0, torch.nan, quadratic(x))

    res = ivd.minimize(ivd.Objective(holey, box), "cmaes", seed=0, max_evals=600)
    failed = int(torch.isnan(res.F).sum())
    assert failed > 0 and f"{failed} failed (NaN or infinite energy)" in res.message
    assert res.fun < 1e-4

    opt = ivd.solvers.make("cmaes").optimizer(box, seed=0)
    x = opt.ask()
    y = torch.full((8,), math.nan, dtype=torch.float64)
    y[:3] = torch.tensor([1.0, -5.0, 3.0])
    y[3] = math.inf
    opt.tell(x, y)
    assert opt._failure_value() == 6.0  # worst finite energy 3, plus max(1, |3|)
    assert torch.isinf(opt.Y[3]) and torch.isnan(opt.Y[4:]).all(), "the told data keeps the failures"


def test_tell_takes_back_exactly_the_asked_designs(box4):
    opt = ivd.solvers.make("cmaes").optimizer(box4, seed=0)
    x = opt.ask(3)
    assert x.shape == (3, 4)
    with pytest.raises(ValueError, match="exactly the designs it asked for, in the order asked"):
        opt.tell(x.flip(0), quadratic(x.flip(0)))
    with pytest.raises(ValueError, match="exactly the designs it asked for"):
        opt.tell(box4.sample(3, seed=0), quadratic(box4.sample(3, seed=0)))
    opt.tell(x[:2], quadratic(x[:2]))  # part of what was asked, in order
    more = opt.ask(4)
    last = opt.ask(4)
    assert more.shape == (4, 4) and last.shape == (1, 4), "ask hands out what is left of the population, never more"
    with pytest.raises(ValueError, match="tell the 6 designs asked last first"):
        opt.ask()
    rest = torch.cat([x[2:], more, last])
    opt.tell(rest, quadratic(rest))
    assert opt.es.countiter == 1, "cma is told a population once all of it is told"
    with pytest.raises(ValueError, match="did not ask for"):
        opt.tell(x[:1], quadratic(x[:1]))
    assert opt.n_told == 8


def test_resume_mid_population_and_with_designs_pending(box4, tmp_path):
    obj = ivd.Objective(quadratic, box4)
    x0 = box4.sample(2, seed=3)
    full = ivd.minimize(obj, "cmaes", seed=2, max_evals=60, x0=x0, n_restarts=2)
    path = tmp_path / "cut.safetensors"
    ivd.minimize(obj, "cmaes", seed=2, max_evals=13, x0=x0, n_restarts=2, checkpoint=path)  # stops inside a population
    resumed = ivd.minimize(obj, "cmaes", seed=2, max_evals=60, checkpoint=path)
    assert torch.equal(resumed.X, full.X) and torch.equal(resumed.F, full.F)
    with pytest.raises(ValueError, match="does not match this call"):
        ivd.minimize(obj, "cmaes", popsize=10, max_evals=70, checkpoint=path)

    opt = ivd.solvers.make("cmaes").optimizer(box4, seed=4)
    for _ in range(3):
        x = opt.ask()
        opt.tell(x, quadratic(x))
    pending = opt.ask(3)
    opt.save(tmp_path / "pending.safetensors")
    loaded = ivd.solvers.load_optimizer(tmp_path / "pending.safetensors")
    assert loaded.n_pending == 3 and loaded.es.countiter == opt.es.countiter == 3
    for o in (opt, loaded):
        o.tell(pending, quadratic(pending))
        rest = o.ask()
        o.tell(rest, quadratic(rest))
    assert torch.equal(opt.ask(), loaded.ask())
    assert np.array_equal(opt.es.mean, loaded.es.mean) and opt.es.sigma == loaded.es.sigma


def test_a_tampered_checkpoint_is_refused(box4, tmp_path):
    path = tmp_path / "run.safetensors"
    ivd.minimize(ivd.Objective(quadratic, box4), "cmaes", seed=0, max_evals=24, checkpoint=path)
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(path)
    tensors["X"][10, 0] = 0.123
    save_file(tensors, path, metadata=metadata)
    with pytest.raises(ValueError, match="asks for other designs than the saved ones at told design 8"):
        ivd.solvers.load_optimizer(path)


def test_options_are_checked(box4):
    for options, error, match in [
        ({"sigma0": 0.0}, ValueError, r"sigma0 must be in \(0, 1\]"),
        ({"sigma0": 1.5}, ValueError, r"sigma0 must be in \(0, 1\]"),
        ({"popsize": 2}, ValueError, "popsize must be at least 3, got 2"),
        ({"popsize": 4.5}, TypeError, "popsize must be an integer"),
        ({"batch": 6}, ValueError, "pass popsize=6 instead of batch=6"),
        ({"sigma": 0.1}, TypeError, "unknown option 'sigma' for method 'cmaes'"),
    ]:
        with pytest.raises(error, match=match):
            ivd.minimize(ivd.Objective(quadratic, box4), "cmaes", **options)
    assert ivd.solvers.CMAES(popsize=6, batch=6).batch == 6
    with pytest.raises(ValueError, match="n must be at least 1"):
        ivd.solvers.CMAES().optimizer(box4, seed=0).ask(0)


def test_restarts_after_cma_stops_and_replay_repeats_them(box4, tmp_path):
    def run(opt, populations):
        for _ in range(populations):
            x = opt.ask()
            opt.tell(x, quadratic(x))

    opt = ivd.solvers.make("cmaes").optimizer(box4, seed=0)
    run(opt, 130)  # cma reports convergence (tolfun) after about 110 populations on this bowl
    assert opt.n_restarts >= 1 and opt.result().fun < 1e-12
    opt.save(tmp_path / "run.safetensors")
    loaded = ivd.solvers.load_optimizer(tmp_path / "run.safetensors")
    assert loaded.n_restarts == opt.n_restarts and torch.equal(loaded.ask(), opt.ask())

    still = ivd.solvers.make("cmaes", restarts=False).optimizer(box4, seed=0)
    run(still, 1)
    es = still.es
    run(still, 129)
    assert still.n_restarts == 0 and still.es is es


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_and_resumes_on_cuda(tmp_path):
    box = ivd.Box(-1.0, 1.0, dim=4, device="cuda")
    obj = ivd.Objective(quadratic, box)
    path = tmp_path / "run.safetensors"
    ivd.minimize(obj, "cmaes", seed=0, max_evals=20, checkpoint=path)
    resumed = ivd.minimize(obj, "cmaes", seed=0, max_evals=200, checkpoint=path)
    full = ivd.minimize(obj, "cmaes", seed=0, max_evals=200)
    assert resumed.X.device.type == "cuda" and torch.equal(resumed.X, full.X)
    assert resumed.fun < 1e-3
    on_cpu = ivd.solvers.load_optimizer(path)  # the replay runs on the CPU
    assert on_cpu.n_told == 200 and on_cpu.X.device.type == "cpu"
