"""Many targets at once: an objective with ``(T, k)`` targets, solved in one `minimize` call."""

from __future__ import annotations

import pytest
import torch

import invdesign as ivd

BOX = ivd.Box(-1.0, 1.0, dim=2)


def arm(x: torch.Tensor) -> torch.Tensor:
    """A smooth two-output model, ``(b, 2) -> (b, 2)``."""
    return torch.stack([torch.sin(x[:, 0]) + x[:, 1], x[:, 0] * x[:, 1]], dim=-1)


def reachable(T: int, seed: int = 0) -> torch.Tensor:
    """``T`` targets that designs in the box reach: the model at random designs, ``(T, 2)``."""
    with torch.no_grad():
        return arm(BOX.sample(T, seed=seed))


def relu_arm() -> torch.nn.Sequential:
    """A one-output ReLU network ``(b, 2) -> (b, 1)``, for solvers of piecewise-linear models only."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)).double()


@pytest.mark.parametrize("method", ivd.solvers.available())
def test_every_solver_returns_one_result_per_target(method):
    caps = ivd.solvers.get(method).capabilities
    if caps.models == "piecewise_linear":
        model = relu_arm()
        with torch.no_grad():
            objective = ivd.Objective(model, BOX, target=model(BOX.sample(3, seed=0))[:, 0])
    else:
        objective = ivd.Objective(arm, BOX, target=reachable(3))
    options: dict = {caps.budget_keyword: 8 if caps.budget == "evaluations" else 20}
    if caps.data:
        X = BOX.sample(64, seed=1)
        options["x0"] = ivd.FromData(X, arm(X))
    elif caps.x0 and caps.budget != "evaluations":
        options["n_restarts"] = 4
    result = ivd.minimize(objective, method, seed=0, **options)
    assert isinstance(result, ivd.BatchResult) and len(result) == 3
    assert result.X.shape[:1] == (3,) and result.X.shape[2] == 2 and result.F.shape == result.X.shape[:2]
    with torch.no_grad():
        torch.testing.assert_close(result.F, objective(result.X), rtol=0, atol=1e-12)
    for t, one in enumerate(result):
        assert isinstance(one, ivd.Result) and torch.equal(one.X, result.X[t, : one.X.shape[0]])
        assert torch.equal(one.x, result.x[t]) and one.fun == float(result.fun[t])
        with torch.no_grad():
            torch.testing.assert_close(one.F, objective[t](one.X), rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ivd.solvers.capable(lambda c: c.batches_targets and c.x0))
def test_one_batch_gives_each_target_what_its_own_call_gives(method):
    targets = reachable(4)
    objective = ivd.Objective(arm, BOX, target=targets)
    x0 = torch.stack([BOX.sample(6, seed=10 + t) for t in range(4)])
    batch = ivd.minimize(objective, method, x0=x0, max_iter=300, seed=0)
    for t in range(4):
        alone = ivd.minimize(objective[t], method, x0=x0[t], max_iter=300, seed=0)
        torch.testing.assert_close(batch[t].X, alone.X, rtol=0, atol=1e-9)
        torch.testing.assert_close(batch[t].F, alone.F, rtol=0, atol=1e-12)
        assert batch[t].fun < 1e-6, "every reachable target is matched"


def test_scalar_targets_of_a_one_output_model_are_a_batch():
    objective = ivd.Objective(lambda x: x.sum(-1), BOX, target=torch.tensor([0.5, -1.0, 1.5]))
    assert objective.n_targets == 3 and objective.targets.shape == (3, 1)
    result = ivd.minimize(objective, "lbfgs", n_restarts=4, seed=0)
    torch.testing.assert_close(result.x.sum(-1), torch.tensor([0.5, -1.0, 1.5], dtype=torch.float64), rtol=0, atol=1e-6)
    single = ivd.Objective(lambda x: x.sum(-1), BOX, target=0.5)
    assert single.n_targets is None and isinstance(ivd.minimize(single, "gd", max_iter=5), ivd.Result)


def test_an_unreachable_target_does_not_harm_the_others():
    targets = torch.cat([reachable(2), torch.tensor([[50.0, -50.0]], dtype=torch.float64)])
    objective = ivd.Objective(arm, BOX, target=targets)
    x0 = BOX.sample(8, seed=3)
    batch = ivd.minimize(objective, "gd", x0=x0, max_iter=200, seed=0)
    assert batch[2].fun > 100 and batch[2].success, "the unreachable target ends at its best attempt"
    for t in range(2):
        alone = ivd.minimize(objective[t], "gd", x0=x0, max_iter=200, seed=0)
        torch.testing.assert_close(batch[t].X, alone.X, rtol=0, atol=1e-9)
        assert batch[t].fun < 1e-8


def test_convergence_is_tracked_per_target():
    objective = ivd.Objective(lambda x: x[:, :1], ivd.Box(-1.0, 1.0, dim=1), target=[[0.25], [0.9]])
    x0 = torch.tensor([[[-0.5], [0.0]], [[0.85], [0.95]]], dtype=torch.float64)
    batch = ivd.minimize(objective, "gd", x0=x0, max_iter=2000, patience=20, lr_schedule="constant", seed=0)
    assert all(r.status is ivd.Status.CONVERGED for r in batch)
    alone = [ivd.minimize(objective[t], "gd", x0=x0[t], max_iter=2000, patience=20, lr_schedule="constant", seed=0) for t in range(2)]
    assert [r.nit for r in batch] == [r.nit for r in alone] and batch[0].nit != batch[1].nit
    assert [r.nfev for r in batch] == [r.nfev for r in alone]
    assert "2 of 2 restarts stopped by their own test" in batch[0].message


def test_r_t_judges_each_targets_designs_by_the_oracle():
    targets = reachable(5, seed=4)
    objective = ivd.Objective(arm, BOX, target=targets)
    result = ivd.minimize(objective, "lbfgs", n_restarts=12, max_iter=100, seed=0)
    r = result.r_t(arm, ts=(1, 10))
    assert r[1] >= r[10] >= 0 and r[1] < 1e-10
    biased = result.r_t(lambda x: arm(x) + 0.1, ts=(1,))
    assert abs(biased[1] - 0.01) < 1e-3, "a biased oracle's error shows, whatever the model said"


def test_from_data_starts_each_target_nearest_its_data_and_spreads_the_rest():
    X = BOX.sample(200, seed=5)
    Y = arm(X)
    targets = Y[[3, 70, 150]]
    objective = ivd.Objective(arm, BOX, target=targets)
    starts = ivd.FromData(X, Y, share=0.5).for_targets(objective, 6, seed=0)
    assert starts.shape == (3, 6, 2)
    torch.testing.assert_close(starts[:, 0], X[[3, 70, 150]], rtol=0, atol=0)
    assert BOX.contains(starts.reshape(-1, 2)).all()
    assert not torch.equal(starts[0, 3:], starts[1, 3:]), "each target gets its own Sobol points"
    result = ivd.minimize(objective, "gd", x0=ivd.FromData(X, Y), n_restarts=4, max_iter=30, seed=0)
    assert result.X.shape == (3, 4, 2)


@pytest.mark.parametrize(
    ("target", "match"),
    [
        (torch.zeros(3, 3), r"target has shape \(3, 3\) but the model returns 2 outputs"),
        (torch.zeros(2, 2, 2), r"target has shape \(2, 2, 2\)"),
        (torch.zeros(0, 2), r"target has shape \(0, 2\)"),
        (torch.tensor([[0.0, float("nan")], [0.0, 0.0]]), r"rows \[0\] hold NaN"),
    ],
)
def test_targets_of_the_wrong_shape_are_refused(target, match):
    with pytest.raises(ValueError, match=match):
        ivd.Objective(arm, BOX, target=target)


def test_points_and_starts_of_the_wrong_shape_are_refused():
    objective = ivd.Objective(arm, BOX, target=reachable(3))
    with pytest.raises(ValueError, match=r"holds 3 targets: evaluate points of shape \(3, n, 2\)"):
        objective(BOX.sample(4))
    with pytest.raises(ValueError, match="gives starts for 2 targets, but the objective holds 3"):
        ivd.minimize(objective, "gd", x0=BOX.sample(8).reshape(2, 4, 2), max_iter=3)
    with pytest.raises(TypeError, match="only an objective with a batch"):
        ivd.Objective(arm, BOX, target=[0.0, 0.0])[0]


def test_targets_run_one_after_another_keep_a_checkpoint_each(tmp_path):
    objective = ivd.Objective(arm, BOX, target=reachable(2))
    path = tmp_path / "run.safetensors"
    first = ivd.minimize(objective, "random", max_evals=8, seed=0, checkpoint=path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.target0.safetensors", "run.target1.safetensors"]
    again = ivd.minimize(objective, "random", max_evals=8, seed=0, checkpoint=path)
    assert torch.equal(first.X, again.X) and all("Resumed" in r.message for r in again)


@pytest.mark.parametrize("method", ivd.solvers.capable(lambda c: c.batches_targets and c.x0))
def test_chunked_and_unchunked_runs_give_the_same_designs(method):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.SiLU(), torch.nn.Linear(32, 2)).double()
    with torch.no_grad():
        targets = net(BOX.sample(5, seed=8))
    objective = ivd.Objective(net, BOX, target=targets)
    retire = {"patience": 3} if method == "gd" else {}  # restarts retire: the batch shrinks to ragged sizes
    whole = ivd.minimize(objective, method, n_restarts=20, max_iter=40, seed=0, **retire)
    chunked = ivd.minimize(objective, method, n_restarts=20, max_iter=40, seed=0, max_batch=16, **retire)
    assert whole[0].history.n_active[-1] < whole[0].history.n_active[1]
    assert torch.equal(whole.X, chunked.X) and torch.equal(whole.F, chunked.F)
    assert whole.nfev == chunked.nfev


def test_an_automatic_batch_limit_follows_the_memory_a_row_costs():
    from invdesign.engine import chunks

    small = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    large = torch.nn.Sequential(torch.nn.Linear(4, 4096), torch.nn.Tanh(), torch.nn.Linear(4096, 1)).double()
    u = torch.rand(64, 4, dtype=torch.float64)
    per_row = [chunks.bytes_per_row(lambda p, m=m: m(p).squeeze(-1), u) for m in (small, large)]
    assert per_row[1] > 100 * per_row[0] > 0
    with pytest.raises(ValueError, match="max_batch must be at least 1"):
        ivd.solvers.make("gd", max_batch=0)


def test_a_trained_solver_serves_every_target_with_one_conditional_generator():
    targets = reachable(6, seed=2)
    objective = ivd.Objective(arm, BOX, target=targets)
    result = ivd.minimize(objective, "amortized", max_iter=300, batch_size=16, seed=0, polish=0)
    assert result.X.shape == (6, 16, 2) and all(r.generator is result[0].generator for r in result)
    with torch.no_grad():
        torch.testing.assert_close(result.F, objective(result.X), rtol=0, atol=1e-12)
    barely = ivd.minimize(objective, "amortized", max_iter=1, batch_size=16, seed=0, polish=0)
    assert float(result.fun.mean()) < 0.1 * float(barely.fun.mean()), "training brings every target's designs closer"
    polished = ivd.minimize(objective, "amortized", max_iter=300, batch_size=16, seed=0, polish=30)
    assert BOX.contains(polished.X.reshape(-1, 2)).all(), "the polish stays in the box"
    assert (polished.fun <= result.fun).all() and float(polished.fun.mean()) < 0.1 * float(result.fun.mean())
    assert all(r.nfev > p.nfev for r, p in zip(polished, result, strict=True)), "the polish's evaluations are counted"
    assert "polished by up to 30 steps of gd" in polished[0].message
    assert all(r.nit == 300 and r.status is ivd.Status.MAX_ITER for r in polished), "nit counts the training steps"
    assert polished[0].history.iteration[0] == 0 and polished[0].history.n_active[0] == 6 * 16, "row 0: the served designs"
    untrained = ivd.minimize(objective, "amortized", max_iter=0, batch_size=4, seed=0)
    assert untrained.X.shape == (6, 4, 2), "no training steps: each target's own untrained generator"
    one_output = ivd.Objective(lambda x: x.sum(-1), BOX, target=[0.5, -0.3])
    assert ivd.minimize(one_output, "amortized", max_iter=3, batch_size=4, seed=0).X.shape == (2, 4, 2)


def test_serving_polishes_each_targets_best_designs_with_the_boundary_loss():
    targets = reachable(6, seed=2)
    objective = ivd.Objective(arm, BOX, target=targets)
    served = ivd.minimize(objective, "amortized", max_iter=100, batch_size=16, seed=0, polish=0)
    polished = ivd.minimize(objective, "amortized", max_iter=100, batch_size=16, seed=0, polish=30, polish_top=4)
    assert BOX.contains(polished.X.reshape(-1, 2)).all() and "the best 4 of each polished" in polished[0].message
    for before, after in zip(served, polished, strict=True):
        kept = (after.X[:, None] == before.X[None]).all(-1).any(-1)
        assert int(kept.sum()) == 12 and after.fun < before.fun, "the 4 best are polished, the other 12 returned as served"
    solver = ivd.solvers.make("amortized", batch_size=16, polish=30, polish_top=4)
    again = solver.serve(polished[0].generator, objective, seed=0)
    assert torch.equal(again.X, polished.X), "serve gives what the solver returned for the same generator and seed"
    assert all(16 < r.nfev < p.nfev for r, p in zip(again, polished, strict=True)), "serving counts its own evaluations, not training's"
    assert solver.serve(polished[0].generator, objective, 5, seed=1).X.shape == (6, 5, 2)
    single = ivd.Objective(lambda x: arm(x.double()).float(), BOX.to(torch.float32), target=targets.float())
    assert polished[0].generator.lower.dtype == torch.float64
    assert solver.serve(polished[0].generator, single, 5, seed=1).X.dtype == torch.float32, "designs in the objective's dtype"
    assert again[0].modes >= 1 and again[0].message.startswith("target 0: 16 designs per target, the best 4")
    X = BOX.sample(200, seed=1)
    judged = solver.serve(polished[0].generator, ivd.Objective(arm, BOX, target=targets, data=(X, arm(X))), seed=0)
    assert torch.equal(judged.X, again.X) and all(r.trust is not None and r.trust.distance.shape == (16,) for r in judged), (
        "with data, serve's results carry the trust report as minimize's do"
    )
    with pytest.raises(ValueError, match="trained on another box"):
        solver.serve(polished[0].generator, ivd.Objective(arm, ivd.Box(-2.0, 2.0, dim=2), target=targets))
    with pytest.raises(TypeError, match="needs a trained ConditionalGenerator"):
        solver.serve(torch.nn.Linear(2, 2), objective)
    with pytest.raises(ValueError, match="needs an Objective.*batch of targets"):
        solver.serve(polished[0].generator, ivd.Objective(arm, BOX, target=targets[0]))
    with pytest.raises(ValueError, match="targets of width 2, the objective's have width 1"):
        solver.serve(polished[0].generator, ivd.Objective(lambda x: x.sum(-1), BOX, target=[0.5, -0.3]))


def test_from_data_gives_a_batch_the_starts_each_target_gets_alone():
    X = BOX.sample(10, seed=1)
    Y = arm(X)
    objective = ivd.Objective(arm, BOX, target=Y[:3])
    for share, n in ((None, 64), (1.0, 10)):  # by default Sobol points fill in; all from the data: as many as it holds
        batch = ivd.minimize(objective, "gd", x0=ivd.FromData(X, Y, share=share), max_iter=2, seed=0)
        alone = ivd.minimize(objective[0], "gd", x0=ivd.FromData(X, Y, share=share), max_iter=2, seed=0)
        assert batch.X.shape == (3, n, 2) and alone.X.shape == (n, 2)
