"""The amortized solver (a generator trained on the surrogate) and conditional inverse models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import quadratic
from torch import nn

import invdesign as ivd
from invdesign.diversity import count_modes, mean_pairwise_distance
from invdesign.models import ConditionalGenerator, Generator, fit_inverse_model

BRANIN_MINIMA = ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475))


def minima_near(X: torch.Tensor, space: ivd.Box, radius: float = 0.05) -> int:
    """How many of Branin's three minima have a design within ``radius`` (unit-cube distance)."""
    minima = space.to_unit(torch.tensor(BRANIN_MINIMA, dtype=X.dtype))
    return int((torch.cdist(minima, space.to_unit(X)) < radius).any(dim=1).sum())


@pytest.fixture(scope="module")
def arm() -> tuple[ivd.tasks.Task, torch.Tensor]:
    """The robot arm task and the outputs of 512 prior designs (the oracle serves as the model)."""
    task = ivd.tasks.get("robot_arm")
    _, Y = task.make_data(512, seed=0)
    return task, Y


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_generators_stay_inside_the_box_even_when_saturated(dtype):
    box = ivd.Box([-0.3, 1e3, 7.0], [0.1, 1e3 + 1e-3, 9.5], dtype=dtype)
    generator = Generator(box, noise_dim=3)
    assert generator.space == box and generator.sample(2).dtype == dtype
    noise = torch.randn(2000, 3, generator=torch.Generator().manual_seed(0), dtype=dtype) * 1e4
    assert box.contains(generator(noise)).all()
    assert box.contains(generator.sample(500, seed=0)).all()
    conditional = ConditionalGenerator(box, 2, noise_dim=2)
    designs = conditional(noise[:, :2], noise[:, 1:] * 10)
    assert designs.shape == (2000, 3) and box.contains(designs).all()


def test_amortized_designs_are_inside_the_box_in_data_and_latent_space():
    box = ivd.Box(-1.0, 1.0, dim=3)
    corner = ivd.Objective(lambda x: x.sum(-1), box)  # the minimum is the corner (-1, -1, -1)
    res = ivd.minimize(corner, "amortized", batch_size=32, max_iter=200, seed=0)
    assert box.contains(res.X).all() and res.fun < -2.9
    assert box.contains(res.generator.sample(1000, seed=1)).all()

    latent = ivd.Box(-2.0, 2.0, dim=2)
    decoder = nn.Linear(2, 5).double()
    obj = ivd.Objective(lambda x: x.square().sum(-1), latent, decoder=decoder)
    res = ivd.minimize(obj, "amortized", batch_size=16, max_iter=100, seed=0)
    assert res.Z.shape == (16, 2) and res.X.shape == (16, 5)
    assert latent.contains(res.Z).all() and latent.contains(res.generator.sample(1000)).all()
    with torch.no_grad():
        assert torch.equal(res.X, decoder(res.Z))


def test_diversity_bonus_spreads_the_designs_over_several_minima():
    task = ivd.tasks.get("branin")
    objective = task.objective()  # three minima of equal depth
    runs = {w: ivd.minimize(objective, "amortized", batch_size=64, max_iter=300, seed=0, diversity=w) for w in (0.0, 1.0)}
    without, with_ = runs[0.0].X, runs[1.0].X
    assert minima_near(without, task.space) == 1, "without the bonus the generator collapses onto one minimum"
    assert minima_near(with_, task.space) >= 2
    assert mean_pairwise_distance(with_, task.space) > 10 * mean_pairwise_distance(without, task.space)
    assert count_modes(with_, task.space) > count_modes(without, task.space) == 1


def test_the_mode_seeking_schedule_covers_wells_one_batch_bonus_misses():
    """Five narrow wells of nearly equal depth in 4-d: a bonus annealed from high covers more of them than a constant one."""
    task = ivd.tasks.get("narrow_wells4")
    objective = task.objective()

    def wells(**options):
        return [task.describe(ivd.minimize(objective, "amortized", max_iter=300, batch_size=64, seed=s, **options).X)["basins"] for s in range(2)]

    constant, annealed = wells(anneal=1.0, diversity=1.0), wells(diversity=1.0)
    assert all(a > c for a, c in zip(annealed, constant, strict=True)), (constant, annealed)
    assert min(wells()) >= 4 > max(wells(diversity=0.0)), "the defaults cover most wells; without the bonus, one"


def test_the_diversity_shares_count_groups_and_reward_going_where_the_store_is_not():
    from invdesign.models import distinct_from, distinct_pairs

    a, b = torch.zeros(2), torch.ones(2)
    batch = torch.stack([a, a, a, b]) + 1e-4 * torch.arange(8.0).reshape(4, 2)
    # Tight groups far apart: the chance that two of the designs lie in different groups, (16 - 3^2 - 1^2) / (4 * 3).
    assert float(distinct_pairs(batch, 0.15)) == pytest.approx(0.5, abs=1e-6)
    store = torch.stack([a] * 6 + [b] * 2)  # where the generator has been: mostly at a
    assert float(distinct_from(batch[:1], store, 0.15)) == pytest.approx(0.25, abs=1e-6)
    assert float(distinct_from(batch[3:], store, 0.15)) == pytest.approx(0.75, abs=1e-6)
    near = (a + 0.1).requires_grad_(True)  # a design at the edge of the store's main group
    distinct_from(near[None], store, 0.15).backward()
    assert near.grad is not None and (near.grad > 0).all(), "the store's term pushes a design away from where it has been"


def test_the_replay_store_covers_wells_a_one_design_batch_cannot_spread_over():
    """With one design per step the batch holds no pair to spread; the store of earlier designs is then the only
    diversity signal, and the generator's designs reach more of the 2-d wells than without it, in every seed."""
    task = ivd.tasks.get("narrow_wells2")
    objective = task.objective()

    def wells(replay: int) -> list[float]:
        runs = [ivd.minimize(objective, "amortized", batch_size=1, max_iter=1000, seed=s, replay=replay, polish=0) for s in range(3)]
        return [task.describe(run.generator.sample(512, seed=123))["basins"] for run in runs]

    without, with_store = wells(0), wells(256)
    assert all(w > o for w, o in zip(with_store, without, strict=True)), (without, with_store)


def test_replay_store_refreshes_slots_at_random():
    from invdesign.solvers.amortized import _Replay

    store = _Replay(32, torch.Generator().manual_seed(0))
    store.add(torch.zeros(8, 2))
    assert store.designs is not None and store.designs.shape == (32, 2) and (store.designs == 0).all()
    store.add(torch.ones(8, 2))
    assert int((store.designs == 1).all(dim=1).sum()) == 32 // _Replay.REFRESH


def test_seeded_runs_repeat_and_seeds_differ(trained_mlp):
    model, task = trained_mlp
    obj = ivd.Objective(model, task.space)
    a, b, c = (ivd.minimize(obj, "amortized", batch_size=16, max_iter=50, seed=s) for s in (3, 3, 4))
    assert torch.equal(a.X, b.X) and torch.equal(a.F, b.F) and a.history.best == b.history.best
    assert all(torch.equal(p, q) for p, q in zip(a.generator.state_dict().values(), b.generator.state_dict().values()))
    assert torch.equal(a.generator.sample(8, seed=1), b.generator.sample(8, seed=1))
    assert not torch.equal(a.generator.sample(8, seed=1), a.generator.sample(8, seed=2))
    assert not torch.equal(a.X, c.X)


def test_history_counts_every_generated_design(box4):
    obj = ivd.Objective(quadratic, box4)
    res = ivd.minimize(obj, "amortized", batch_size=10, max_iter=20, seed=0, polish=0)
    assert res.nit == 20 and res.status is ivd.Status.MAX_ITER
    assert res.history.iteration == list(range(21)), "row 0 is the untrained generator's batch"
    assert res.history.n_active == [10] * 21
    probe = res.nfev - 21 * 10  # the Sobol points that set the energy scale
    assert res.history.nfev == [probe + 10 * (i + 1) for i in range(21)]
    assert res.history.best[-1] == res.fun
    assert res.options["batch_size"] == 10 and res.options["diversity"] == 4.0


def test_the_designs_are_one_batch_of_the_generator(box4):
    obj = ivd.Objective(quadratic, box4)
    res = ivd.minimize(obj, "amortized", batch_size=5, max_iter=0, seed=0, polish=0)
    assert res.nit == 0 and res.status is ivd.Status.MAX_ITER
    batch = res.generator.sample(5, seed=0)  # the noise stream of seed 0 starts with this batch
    assert torch.equal(res.X, batch[torch.argsort(quadratic(batch))])


def test_polish_descends_from_every_design_and_stays_in_the_space():
    space = ivd.Space([ivd.Composition(["a", "b", "c"]), ivd.Real("t", 0.0, 1.0)])
    target = torch.tensor([0.6, 0.3, 0.1, 0.25], dtype=space.dtype)
    objective = ivd.Objective(lambda x: (x - target).square().sum(-1), space)
    raw = ivd.minimize(objective, "amortized", batch_size=16, max_iter=30, seed=0, polish=0)
    polished = ivd.minimize(objective, "amortized", batch_size=16, max_iter=30, seed=0, polish=100)
    assert space.feasible(polished.X).all() and polished.X.shape == raw.X.shape
    assert polished.fun < 1e-6 < raw.fun and "polished by 100 steps of gd" in polished.message
    assert polished.history.iteration[-1] >= 1 and len(polished.history.iteration) > len(raw.history.iteration)
    assert torch.equal(polished.generator.sample(4, seed=1), raw.generator.sample(4, seed=1)), "the generator is not polished"


def test_callback_stop_returns_the_batch_it_saw(box4):
    seen = []

    def stop_at_five(progress: ivd.Progress) -> None:
        seen.append((progress.x, progress.fun))
        if len(seen) == 5:
            raise StopIteration

    res = ivd.minimize(ivd.Objective(quadratic, box4), "amortized", batch_size=8, max_iter=100, seed=0, callback=stop_at_five)
    assert res.status is ivd.Status.STOPPED and res.nit == 4
    assert torch.equal(res.x, seen[-1][0]) and res.fun == seen[-1][1]


def test_nan_energies_are_left_out_of_training_and_ranked_last():
    box = ivd.Box(-1.0, 1.0, dim=2)
    holey = ivd.Objective(lambda x: torch.where(x[:, 0] > 0, torch.nan, (x[:, 0] + 0.5).square() + x[:, 1].square()), box)
    start = ivd.minimize(holey, "amortized", batch_size=32, max_iter=0, seed=0, polish=0)
    n_bad = int(torch.isnan(start.F).sum())
    assert 0 < n_bad < 32 and f"{n_bad} of 32 generated designs have a NaN or infinite energy" in start.message
    assert torch.isnan(start.F[-n_bad:]).all(), "NaN energies come last"
    trained = ivd.minimize(holey, "amortized", batch_size=32, max_iter=200, seed=0, polish=0, anneal=1.0)
    assert trained.success and all(math.isfinite(b) for b in trained.history.best)
    assert trained.fun < 0.01 and trained.fun < start.fun


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"noise_dim": 0}, ValueError, "noise_dim must be at least 1"),
        ({"hidden": (64, 0)}, ValueError, "hidden must be positive integer widths"),
        ({"activation": "swish"}, ValueError, "activation='swish' is not one of"),
        ({"lr": 0.0}, ValueError, "lr must be positive"),
        ({"diversity": -1.0}, ValueError, "diversity must be finite and non-negative"),
        ({"radius": math.inf}, ValueError, "radius must be positive and finite"),
        ({"replay": -1}, ValueError, "replay must be at least 0"),
        ({"anneal": 0.5}, ValueError, "anneal must be a number >= 1"),
        ({"polish": -1}, ValueError, "polish must be at least 0"),
        ({"polish_top": 0}, ValueError, "polish_top must be at least 1"),
        ({"diverstiy": 1.0}, TypeError, "unknown option 'diverstiy' for method 'amortized'"),
    ],
)
def test_bad_options_fail_clearly(box4, options, error, match):
    with pytest.raises(error, match=match):
        ivd.minimize(ivd.Objective(quadratic, box4), "amortized", **options)


def test_bad_run_arguments_fail_clearly(box4, tmp_path):
    obj = ivd.Objective(quadratic, box4)
    with pytest.raises(TypeError, match="method 'amortized' takes no starting points"):
        ivd.minimize(obj, "amortized", x0=torch.zeros(1, 4))
    with pytest.raises(TypeError, match="method 'amortized' cannot save and resume"):
        ivd.minimize(obj, "amortized", checkpoint=tmp_path / "run.safetensors")
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        ivd.minimize(obj, "amortized", batch_size=0)
    with pytest.raises(ValueError, match="max_iter must be at least 0, got -1"):
        ivd.minimize(obj, "amortized", max_iter=-1)


def test_a_model_without_gradients_is_refused(box4):
    obj = ivd.Objective(lambda x: np.square(x.detach().numpy() - 0.3).sum(-1), box4)
    with pytest.raises(TypeError, match="method 'amortized' needs gradients.*random"):
        ivd.minimize(obj, "amortized")


def test_inverse_model_serves_targets_in_the_box_and_learns(arm):
    task, Y = arm
    targets = Y[:20]

    def target_error(generator: ConditionalGenerator) -> float:
        designs = generator.sample(targets, 4, seed=0)
        return float((task.oracle(designs.reshape(-1, 4)).reshape(20, 4, 2) - targets[:, None]).square().mean())

    untrained, _ = fit_inverse_model(task.oracle, task.space, Y, steps=1, seed=0)
    trained, report = fit_inverse_model(task.oracle, task.space, Y, steps=400, seed=0)
    designs = trained.sample(targets, 7, seed=1)
    assert designs.shape == (20, 7, 4) and designs.dtype == Y.dtype
    assert task.space.contains(designs.reshape(-1, 4)).all()
    assert trained.sample(targets[0], 3).shape == (3, 4)
    assert len(report.loss) == 400 and report.loss[-1] < report.loss[0]
    assert target_error(trained) < 0.1 * target_error(untrained)


def test_tandem_and_diversity_variants(arm):
    task, Y = arm
    tandem, _ = fit_inverse_model(task.oracle, task.space, Y, noise_dim=0, steps=50, seed=0)
    copies = tandem.sample(Y[:3], 5, seed=0)
    assert torch.equal(copies, copies[:, :1].expand(-1, 5, -1)), "without noise every design of a target is the same"

    spread = {}
    for w in (0.0, 1.0):
        generator, _ = fit_inverse_model(task.oracle, task.space, Y, steps=300, seed=0, diversity=w)
        designs = generator.sample(Y[:10], 16, seed=0)
        spread[w] = sum(mean_pairwise_distance(d, task.space) for d in designs) / 10
    assert spread[1.0] > 2 * spread[0.0]


def test_inverse_model_is_seeded(arm):
    task, Y = arm
    a, _ = fit_inverse_model(task.oracle, task.space, Y, steps=20, seed=5)
    b, _ = fit_inverse_model(task.oracle, task.space, Y, steps=20, seed=5)
    c, _ = fit_inverse_model(task.oracle, task.space, Y, steps=20, seed=6)
    assert torch.equal(a.sample(Y[:4], 3, seed=0), b.sample(Y[:4], 3, seed=0))
    assert not torch.equal(a.sample(Y[:4], 3, seed=0), c.sample(Y[:4], 3, seed=0))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"noise_dim": 0, "diversity": 1.0}, ValueError, "without noise"),
        ({"noise_dim": 0, "samples_per_target": 4}, ValueError, "without noise"),
        ({"samples_per_target": 1}, ValueError, "needs samples_per_target >= 2"),
        ({"samples_per_target": 8, "batch_size": 4}, ValueError, "batch_size must be at least 8"),
        ({"radius": 0.0}, ValueError, "radius must be positive"),
        ({"steps": 0}, ValueError, "steps must be at least 1"),
    ],
)
def test_inverse_model_options_are_checked(arm, kwargs, error, match):
    task, Y = arm
    with pytest.raises(error, match=match):
        fit_inverse_model(task.oracle, task.space, Y, **kwargs)


def test_inverse_model_data_and_model_are_checked(arm):
    task, Y = arm
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit_inverse_model(task.oracle, task.space, torch.cat([Y, torch.full((1, 2), math.nan, dtype=Y.dtype)]))
    with pytest.raises(ValueError, match=r"Y has 3 outputs, so expected \(2, 3\)"):
        fit_inverse_model(task.oracle, task.space, torch.zeros(10, 3, dtype=Y.dtype))
    with pytest.raises(ValueError, match="no gradient reaches the designs"):
        fit_inverse_model(lambda x: task.oracle(x).detach(), task.space, Y)
    with pytest.raises(TypeError, match="Y must be floating point"):
        fit_inverse_model(task.oracle, task.space, torch.zeros(10, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="space must be an invdesign.Box"):
        fit_inverse_model(task.oracle, [(-1, 1)] * 4, Y)
