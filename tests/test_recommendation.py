"""``invdesign.recommend``: one configuration per kind of problem, and the benchmark's ``recommended`` row."""

from __future__ import annotations

import pytest
import torch

import invdesign as ivd
from invdesign import benchmark
from invdesign.benchmark import runner
from invdesign.recommendation import BO_MAX_EVALS, ENSEMBLE_MEMBERS


def _problem(n: int = 160):
    space = ivd.Box(-2.0, 2.0, dim=2)
    X = space.sample(n, seed=0)
    Y = (X - 0.5).square().sum(-1, keepdim=True)
    return space, X, Y


def test_each_kind_has_one_configuration():
    offline = ivd.recommend("offline")
    assert (offline.kind, offline.method, offline.ensemble, offline.members) == ("offline", "ga", "worst", ENSEMBLE_MEMBERS)
    assert "seeds 100 and 101" in offline.evidence and offline.settings == {}
    assert ivd.recommend("target").method == "gd"
    assert ivd.recommend("black-box", max_evals=BO_MAX_EVALS).method == "bo"
    assert ivd.recommend("black-box", max_evals=BO_MAX_EVALS + 1).method == "turbo"
    assert ivd.recommend("black-box", max_evals=40).settings == {"max_evals": 40}


def test_the_kind_is_read_from_tasks_objectives_and_data():
    space, X, Y = _problem()
    assert ivd.recommend("branin").kind == "offline" and ivd.recommend(ivd.tasks.get("robot_arm")).kind == "target"
    assert ivd.recommend((X, Y)).kind == ivd.recommend(ivd.FromData(X, Y)).kind == "offline"
    model = torch.nn.Linear(2, 1)
    assert ivd.recommend(ivd.Objective(model, space, data=(X, Y))).kind == "offline"
    assert ivd.recommend(ivd.Objective(model, space, target=0.3)).kind == "target"
    assert ivd.recommend(ivd.Objective(model, space), max_evals=30).kind == "black-box"


def test_a_problem_it_cannot_place_is_refused_by_name():
    space, _, _ = _problem()
    with pytest.raises(ValueError, match="training data .*data=\\(X, Y\\).*or max_evals="):
        ivd.recommend(ivd.Objective(torch.nn.Linear(2, 1), space))
    with pytest.raises(ValueError, match="depends on the budget: pass max_evals="):
        ivd.recommend("black-box")
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        ivd.recommend("nope")
    with pytest.raises(TypeError, match="recommend takes a kind"):
        ivd.recommend(3.0)
    with pytest.raises(ValueError, match="max_evals must be"):
        ivd.recommend("black-box", max_evals=0)


def test_the_offline_configuration_runs_on_a_deep_ensemble_and_reports_trust():
    space, X, Y = _problem()
    small = ivd.models.fit_ensemble(X[:60], Y[:60], n_members=2, hidden=(8,), epochs=5, seed=0, progress=False)[0]
    few = ivd.recommend("offline").minimize(ivd.recommend("offline").objective(small, space), x0=ivd.FromData(X[:60], Y[:60]))
    assert few.X.shape == (60, 2), "a data set smaller than ga's 128 starts gives one start per design"
    rec = ivd.recommend("offline")
    with pytest.raises(TypeError, match="fit_ensemble\\(X, Y, n_members=5\\)"):
        rec.objective(torch.nn.Linear(2, 1), space, data=(X, Y))
    ensemble, _ = ivd.models.fit_ensemble(X, Y, n_members=3, hidden=(16,), epochs=20, seed=0, progress=False)
    with pytest.raises(ValueError, match="searches ensemble='worst'.*recommendation.objective"):
        rec.minimize(ivd.Objective(ensemble, space, data=(X, Y)), x0=ivd.FromData(X, Y))
    objective = rec.objective(ensemble, space, data=(X, Y))
    result = rec.minimize(objective, x0=ivd.FromData(X, Y), seed=0)
    assert result.solver == "ga" and result.X.shape == (128, 2) and space.contains(result.X).all()
    worst = ensemble.members_forward(result.X).amax(dim=0)[:, 0]
    assert torch.allclose(result.F, worst, atol=1e-5)  # the energy searched is the worst member's
    assert result.trust is not None and result.trust.distance.shape == (128,)
    with pytest.raises(ValueError, match="for 'offline' problems, but the objective has target"):
        rec.minimize(rec.objective(ensemble, space, target=0.3), x0=ivd.FromData(X, Y))


def test_the_benchmark_row_is_the_offline_recommendation_on_minimize_tasks_only():
    row, rec = benchmark.CONFIGS["recommended"], ivd.recommend("offline")
    assert (row.method, row.ensemble, row.kinds) == (rec.method, rec.ensemble, ("minimize",))
    assert runner._applies(row, ivd.tasks.get("branin")) and not runner._applies(row, ivd.tasks.get("robot_arm"))
    with pytest.raises(ValueError, match="kinds must hold"):
        benchmark.SolverConfig(name="x", solver=ivd.solvers.make("gd"), kinds=("offline",))
