"""The GP-based sample solvers, ``bo`` and ``turbo``: search quality, reproducibility, failures, state."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
import torch
from conftest import CENTER, quadratic

import invdesign as ivd
from invdesign.solvers.turbo import TrustRegion

# Small, fast settings; turbo's collapse after one failure (length_min above length_init / 2)
# makes its runs restart regions, so the region state is exercised by every test below.
FAST = {
    "bo": {"n_init": 6, "num_restarts": 2, "raw_samples": 64},
    "turbo": {"n_init": 8, "failure_tolerance": 1, "length_min": 0.5, "n_candidates": 500},
}
METHODS = sorted(FAST)
EVALS = {"bo": 14, "turbo": 24}  # a few model-based rounds after the initial design
HALF = {"bo": 9, "turbo": 16}  # where a run is cut: past the initial design, on a batch boundary


def hand_loop(method: str, objective: ivd.Objective, max_evals: int, seed: int) -> ivd.solvers.AskTell:
    """Run ``method`` by hand: ask, evaluate, tell, until ``max_evals`` designs are told."""
    opt = ivd.solvers.make(method, **FAST[method]).optimizer(objective.space, seed=seed)
    while opt.n_told < max_evals:
        x = opt.ask(min(opt.solver.batch, max_evals - opt.n_told))
        opt.tell(x, objective(x))
    return opt


def test_bo_finds_the_quadratic_minimum(box4):
    res = ivd.minimize(ivd.Objective(quadratic, box4), "bo", seed=0, max_evals=20, **FAST["bo"])
    assert res.fun < 0.02
    assert float((res.x - torch.tensor(CENTER, dtype=torch.float64)).norm()) < 0.15
    assert res.X.shape == (20, 4) and res.nfev == 20


def test_bo_beats_random_search_on_branin():
    task = ivd.tasks.get("branin")
    objective = ivd.Objective(lambda x: task.oracle(x)[:, 0], task.space)
    seeds = (0, 1)
    bo = [ivd.minimize(objective, "bo", seed=s, max_evals=20, **FAST["bo"]).fun for s in seeds]
    random = [ivd.minimize(objective, "random", seed=s, max_evals=20).fun for s in seeds]
    assert statistics.mean(bo) < statistics.mean(random)
    assert statistics.mean(bo) < 1.0  # the minimum is 0.397887


@pytest.mark.parametrize("method", METHODS)
def test_hand_ask_tell_equals_minimize(method, box4):
    objective = ivd.Objective(quadratic, box4)
    n = EVALS[method]
    res = ivd.minimize(objective, method, seed=3, max_evals=n, **FAST[method])
    opt = hand_loop(method, objective, n, seed=3)
    assert torch.equal(opt.result().X, res.X) and torch.equal(opt.result().F, res.F)
    other = ivd.minimize(objective, method, seed=4, max_evals=n, **FAST[method])
    assert not torch.equal(other.X, res.X)


@pytest.mark.parametrize("method", METHODS)
def test_checkpoint_resume_equals_an_uninterrupted_run(method, box4, tmp_path):
    objective = ivd.Objective(quadratic, box4)
    n, n_half = EVALS[method], HALF[method]
    full = ivd.minimize(objective, method, seed=5, max_evals=n, **FAST[method])
    checkpoint = tmp_path / "run.safetensors"
    half = ivd.minimize(objective, method, seed=5, max_evals=n_half, checkpoint=checkpoint, **FAST[method])
    assert half.nfev == n_half
    resumed = ivd.minimize(objective, method, seed=5, max_evals=n, checkpoint=checkpoint, **FAST[method])
    assert torch.equal(resumed.X, full.X) and torch.equal(resumed.F, full.F)
    assert resumed.nfev == n


@pytest.mark.parametrize("method", METHODS)
def test_save_and_load_optimizer_resume_exactly(method, box4, tmp_path):
    objective = ivd.Objective(quadratic, box4)
    full = hand_loop(method, objective, EVALS[method], seed=6)
    opt = hand_loop(method, objective, HALF[method], seed=6)
    opt.save(tmp_path / "opt.safetensors")
    loaded = ivd.solvers.load_optimizer(tmp_path / "opt.safetensors")
    assert loaded.extra_state() == opt.extra_state() and torch.equal(loaded.X, opt.X)
    while loaded.n_told < EVALS[method]:
        x = loaded.ask()
        loaded.tell(x, objective(x))
    assert torch.equal(loaded.X, full.X) and torch.equal(loaded.Y, full.Y)
    if method == "turbo":
        assert full.region.n_restarts >= 1, "the settings should make turbo restart within 24 evaluations"
        assert loaded.region == full.region


@pytest.mark.parametrize("method", METHODS)
def test_nan_energies_are_recorded_as_failed_and_the_run_goes_on(method, box4):
    def holey(x):
        return torch.where(x[:, 0] > 0.0, torch.nan, quadratic(x))

    n = EVALS[method]
    res = ivd.minimize(ivd.Objective(holey, box4), method, seed=0, max_evals=n, **FAST[method])
    n_failed = int(torch.isnan(res.F).sum())
    assert res.success and res.nfev == n and res.X.shape == (n, 4)
    assert 0 < n_failed < n and f"{n_failed} failed" in res.message
    assert math.isfinite(res.fun) and res.x[0] <= 0.0
    assert torch.isnan(res.F[-n_failed:]).all(), "failed designs come last"


@pytest.mark.parametrize("method", METHODS)
def test_non_differentiable_sklearn_model(method, box4):
    from sklearn.ensemble import RandomForestRegressor

    X = box4.sample(200, seed=1)
    forest = RandomForestRegressor(n_estimators=20, random_state=0).fit(X.numpy(), quadratic(X).numpy())
    objective = ivd.Objective(forest.predict, box4)
    assert not objective.differentiable
    res = ivd.minimize(objective, method, seed=0, max_evals=EVALS[method], **FAST[method])
    assert res.success and res.X.dtype == torch.float64
    assert np.array_equal(forest.predict(res.X.numpy()), res.F.numpy())
    initial = res.F.new_tensor(forest.predict(box4.sample(FAST[method]["n_init"], seed=0).numpy()))
    assert res.fun < float(initial.min()), "the model-based rounds improve on the initial Sobol design"


def test_float32_box_gets_float32_designs_from_a_float64_gp(box4):
    objective = ivd.Objective(quadratic, box4, dtype=torch.float32)
    opt = hand_loop("bo", objective, 8, seed=0)
    x = opt.ask()
    assert x.dtype == torch.float32 and x.shape == (1, 4) and box4.to(torch.float32).contains(x).all()


def test_gp_fit_seconds_are_recorded_saved_and_reported(box4, tmp_path):
    objective = ivd.Objective(quadratic, box4)
    opt = hand_loop("bo", objective, 10, seed=0)
    assert len(opt.gp_fit_seconds) == 10 - FAST["bo"]["n_init"] and all(s > 0 for s in opt.gp_fit_seconds)
    assert f"{len(opt.gp_fit_seconds)} GP fits" in opt.result().message
    n_init = FAST["bo"]["n_init"]
    assert opt.history.fit_time == [0.0] * n_init + opt.gp_fit_seconds, "one fit per round after the initial design"
    opt.save(tmp_path / "opt.safetensors")
    loaded = ivd.solvers.load_optimizer(tmp_path / "opt.safetensors")
    assert loaded.gp_fit_seconds == opt.gp_fit_seconds and loaded.history.fit_time == opt.history.fit_time
    x = loaded.ask()
    loaded.tell(x, objective(x))
    assert loaded.history.fit_time[-1] == loaded.gp_fit_seconds[-1] > 0, "only the new fit is counted after a resume"


def test_initial_design_is_sobol_and_batch_sizes_are_respected(box4):
    opt = ivd.solvers.make("bo", n_init=6, batch=3, **{k: v for k, v in FAST["bo"].items() if k != "n_init"}).optimizer(box4, seed=2)
    x = opt.ask()
    assert x.shape == (3, 4)
    assert torch.equal(x, box4.sample(3, seed=2)), "the initial design is the seed's Sobol sequence"
    assert opt.ask(5).shape == (5, 4)


def test_trust_region_shrinks_on_failures_grows_on_successes_and_restarts_when_collapsed():
    region = TrustRegion(success_tolerance=2, failure_tolerance=3, length_init=0.8, length_min=0.1, length_max=1.6)
    assert region.length == 0.8
    for _ in range(2):
        assert not region.update(False, n_told=10)
    assert region.length == 0.8 and region.n_failures == 2
    region.update(False, n_told=10)
    assert region.length == 0.4 and region.n_failures == 0
    region.update(True, n_told=10)
    assert region.n_successes == 1 and region.length == 0.4
    region.update(True, n_told=10)
    assert region.length == 0.8 and region.n_successes == 0
    region.length = 1.2
    region.update(True, n_told=10), region.update(True, n_told=10)
    assert region.length == 1.6, "capped at length_max"
    region.length = 0.15
    for _ in range(2):
        region.update(False, n_told=20)
    assert region.update(False, n_told=40), "0.075 < length_min restarts the region"
    assert (region.length, region.n_failures, region.n_successes) == (0.8, 0, 0)
    assert (region.n_restarts, region.start) == (1, 40)


def test_turbo_default_failure_tolerance_and_region_state():
    box = ivd.Box(-5.0, 10.0, dim=20)
    opt = ivd.solvers.make("turbo").optimizer(box, seed=0)
    assert opt.region.failure_tolerance == 5  # ceil(max(4 / 4, 20 / 4))
    assert ivd.solvers.make("turbo", batch=1).optimizer(ivd.Box(0.0, 1.0, dim=2), seed=0).region.failure_tolerance == 4
    assert opt.n_init == 42 and opt.n_candidates == 4000
    assert set(opt.extra_state()["region"]) >= {"length", "n_successes", "n_failures", "n_restarts", "start"}


def test_turbo_regions_restart_with_a_fresh_sobol_design_and_fit_their_own_data(box4, monkeypatch):
    fitted_sizes = []
    fit_gp = ivd.solvers.bo.fit_gp

    def recording_fit_gp(u, energy, **modules):
        fitted_sizes.append(u.shape[0])
        return fit_gp(u, energy, **modules)

    monkeypatch.setattr(ivd.solvers.bo, "fit_gp", recording_fit_gp)
    objective = ivd.Objective(quadratic, box4)
    opt = ivd.solvers.make("turbo", **{**FAST["turbo"], "failure_tolerance": 2}).optimizer(box4, seed=0)
    expected_sizes = []
    while opt.n_told < 40:
        in_region = opt.n_told - opt.region.start
        if in_region >= opt.n_init:
            expected_sizes.append(in_region)
        x = opt.ask()
        opt.tell(x, objective(x))
    assert fitted_sizes == expected_sizes and min(fitted_sizes) < max(fitted_sizes)
    region = opt.region
    assert region.n_restarts >= 1 and 0 < region.start < opt.n_told
    first = opt.X[region.start : region.start + opt.n_init]
    stream = torch.quasirandom.SobolEngine(4, scramble=True, seed=opt.seed + 104_729 * region.n_restarts)
    assert torch.equal(first, box4.from_unit(stream.draw(first.shape[0], dtype=torch.float64)))
    assert opt.result().X.shape == (40, 4), "designs of earlier regions stay in the result"


@pytest.mark.parametrize(
    ("method", "options", "match"),
    [
        ("bo", {"n_init": 0}, "n_init must be a positive integer"),
        ("bo", {"num_restarts": 8, "raw_samples": 4}, "raw_samples"),
        ("bo", {"batch": 0}, "batch must be a positive integer"),
        ("turbo", {"failure_tolerance": 0}, "failure_tolerance must be a positive integer"),
        ("turbo", {"length_min": 1.0}, "length_min <= length_init"),
    ],
)
def test_bad_options_raise(method, options, match):
    with pytest.raises(ValueError, match=match):
        ivd.solvers.make(method, **options)


def test_unknown_option_lists_the_options(box4):
    with pytest.raises(TypeError, match="unknown option 'acquisition' for method 'bo'.*num_restarts"):
        ivd.minimize(ivd.Objective(quadratic, box4), "bo", acquisition="ei")


def test_q_is_batch(box4):
    assert ivd.solvers.make("bo", q=4) == ivd.solvers.make("bo", batch=4)
    assert ivd.solvers.make("turbo", q=3).batch == 3
    with pytest.raises(TypeError, match="q is another name for batch"):
        ivd.solvers.make("bo", q=4, batch=4)
    with pytest.raises(TypeError, match="unknown option 'q' for method 'gd'"):
        ivd.solvers.make("gd", q=4)
