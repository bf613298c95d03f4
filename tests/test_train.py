"""The one trainer (`invdesign.models.train`): seeds, optimizer, schedule, epoch- and step-based training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from invdesign.models.train import (
    STREAMS,
    Seeds,
    TrainConfig,
    adam,
    descend,
    lr_scheduler,
    seeded_init,
    split_rows,
    standard_normal,
    train,
)


def line_data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """``x (n, 1)`` on ``[-1, 1]`` and ``y = 3 x - 1``."""
    x = torch.linspace(-1, 1, n)[:, None]
    return x, 3 * x - 1


def regression_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    def step(batch: torch.Tensor):
        loss = (model(x[batch]) - y[batch]).square().mean()
        return loss, {"loss": loss}

    return step


# ---------------------------------------------------------------- seeds


def test_seeds_are_the_children_of_one_seed_sequence() -> None:
    seeds = Seeds(7)
    children = np.random.SeedSequence(7).spawn(len(STREAMS))
    for name, child in zip(STREAMS, children):
        assert seeds.stream(name) == int(child.generate_state(1, np.uint64)[0]) >> 1
    member = np.random.SeedSequence(7).spawn(len(STREAMS) + 1)[-1].spawn(3)[2]
    assert seeds.member(2).stream("init") == int(member.spawn(1)[0].generate_state(1, np.uint64)[0]) >> 1
    values = {seeds.stream(name) for name in STREAMS} | {seeds.member(0).stream(name) for name in STREAMS}
    assert len(values) == 2 * len(STREAMS), "every stream of every member is its own"
    assert Seeds(8).stream("init") != seeds.stream("init")


def test_seeds_from_none_use_torch_global_generator_and_bad_seeds_fail() -> None:
    torch.manual_seed(0)
    a = Seeds.of(None)
    torch.manual_seed(0)
    assert Seeds.of(None) == a and Seeds.of(5) == Seeds(5)
    with pytest.raises(ValueError, match="seed must be at least 0"):
        Seeds(-1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        Seeds(1.5)  # type: ignore[arg-type]


def test_seeded_init_and_noise_leave_the_global_generator_alone() -> None:
    state = torch.random.get_rng_state()
    with seeded_init(3):
        a = nn.Linear(4, 2)
    with seeded_init(Seeds(3)):
        b = nn.Linear(4, 2)
    assert torch.equal(a.weight, b.weight) and torch.equal(torch.random.get_rng_state(), state)
    noise = standard_normal(5, 3, torch.zeros(1, dtype=torch.float64), Seeds(3).generator("noise"))
    assert noise.shape == (5, 3) and noise.dtype == torch.float64


def test_split_rows() -> None:
    train_rows, val_rows = split_rows(10, 0.3, torch.Generator().manual_seed(0))
    assert len(val_rows) == 3 and sorted(torch.cat([train_rows, val_rows]).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="at least 1 and 2"):
        split_rows(2, 0.4, torch.Generator())
    with pytest.raises(ValueError, match=r"val_fraction must lie in \(0, 1\)"):
        split_rows(10, 1.0, torch.Generator())


# ---------------------------------------------------------------- optimizer and schedule


def test_adam_is_fused_on_cpu_and_decays_decoupled() -> None:
    w = nn.Parameter(torch.ones(3))
    optimizer = adam([w], lr=0.1, weight_decay=0.5)
    assert optimizer.defaults["fused"] and optimizer.defaults["decoupled_weight_decay"]
    w.grad = torch.zeros(3)
    optimizer.step()
    torch.testing.assert_close(w.detach(), torch.full((3,), 1 - 0.1 * 0.5))


@pytest.mark.parametrize(("schedule", "last"), [("cosine", 1e-3), ("constant", 1.0)])
def test_lr_scheduler(schedule: str, last: float) -> None:
    w = nn.Parameter(torch.zeros(1))
    optimizer = adam([w], lr=2.0)
    scheduler = lr_scheduler(optimizer, schedule, total_steps=10, floor=1e-3)  # type: ignore[arg-type]
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        w.grad = torch.ones(1)
        optimizer.step()
        scheduler.step()
    assert rates[0] == 2.0 and rates == sorted(rates, reverse=True)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2.0 * last)
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_scheduler(optimizer, "linear", total_steps=10)  # type: ignore[arg-type]


def test_descend_leaves_other_tensors_without_gradients() -> None:
    frozen = nn.Linear(2, 1)
    trained = nn.Parameter(torch.ones(2))
    loss = frozen(trained[None]).sum()
    before = trained.detach().clone()
    descend(torch.optim.SGD([trained], lr=0.1), loss)
    assert frozen.weight.grad is None and not torch.equal(trained.detach(), before)


# ---------------------------------------------------------------- train


def test_epoch_training_validates_stops_early_and_keeps_the_best_epoch() -> None:
    x, y = line_data()
    model = nn.Linear(1, 1)
    scores = iter([3.0, 1.0, math.nan, 2.0, 5.0, 4.0, 0.5])
    states = []

    def validate() -> dict[str, float]:
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"val": next(scores)}

    config = TrainConfig(epochs=7, batch_size=10, lr=1e-2, patience=3, progress=False)
    log = train(model, regression_step(model, x, y), config, seeds=Seeds(0), n_rows=64, validate=validate, monitor="val")
    assert log.periods_run == 5 and log.best == 1, "NaN and the later epochs never beat epoch 1; three stale epochs stop it"
    assert log.val["val"][:2] == [3.0, 1.0] and len(log.train["loss"]) == 5
    assert all(torch.equal(v, states[1][k]) for k, v in model.state_dict().items())
    assert not model.training


def test_step_training_draws_rows_and_logs_every_step() -> None:
    x, y = line_data()
    model = nn.Linear(1, 1)
    seen = []

    def step(batch: torch.Tensor):
        seen.append(batch)
        return regression_step(model, x, y)(batch)

    config = TrainConfig(steps=300, batch_size=8, lr=0.05, schedule="cosine", progress=False)
    log = train(model, step, config, seeds=Seeds(1), n_rows=64)
    assert log.periods_run == 300 == len(log.train["loss"]) and log.best == 299
    assert all(b.shape == (8,) for b in seen) and len(torch.cat(seen).unique()) > 32
    assert log.train["loss"][-1] < 1e-3 * log.train["loss"][0]


def test_a_step_without_a_loss_leaves_the_weights_and_its_metric_nan() -> None:
    x, y = line_data(20)
    model = nn.Linear(1, 1)
    before = [p.detach().clone() for p in model.parameters()]

    def step(batch: torch.Tensor):
        loss = (model(x[batch]) - y[batch]).square().mean()
        return None, {"seen": loss, "never": None}

    log = train(model, step, TrainConfig(epochs=2, batch_size=5, lr=0.1, progress=False), seeds=Seeds(0), n_rows=20)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))
    assert all(math.isnan(v) for v in log.train["never"]) and all(v > 0 for v in log.train["seen"])


def test_training_is_seeded_including_dropout_and_leaves_the_global_generator_alone() -> None:
    x, y = line_data()

    def run(seed: int) -> nn.Module:
        with seeded_init(0):
            model = nn.Sequential(nn.Linear(1, 16), nn.Dropout(0.3), nn.Linear(16, 1))
        config = TrainConfig(epochs=3, batch_size=16, lr=1e-2, progress=False)
        train(model, regression_step(model, x, y), config, seeds=Seeds(seed), n_rows=64)
        return model

    state = torch.random.get_rng_state()
    a, b, c = run(4), run(4), run(5)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[0].weight, c[0].weight)


def test_params_limits_what_the_trainer_steps() -> None:
    x, y = line_data()
    model = nn.Sequential(nn.Linear(1, 4), nn.Linear(4, 1))
    first = model[0].weight.detach().clone()
    config = TrainConfig(epochs=2, batch_size=16, lr=1e-2, progress=False)
    train(model, regression_step(model, x, y), config, seeds=Seeds(0), n_rows=64, params=model[1].parameters())
    assert torch.equal(model[0].weight, first) and model[0].weight.grad is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 8, "lr": 1e-3}, ValueError, "give epochs or steps"),
        ({"epochs": 2, "steps": 2, "batch_size": 8, "lr": 1e-3}, ValueError, "give epochs or steps"),
        ({"epochs": 0, "batch_size": 8, "lr": 1e-3}, ValueError, "epochs must be at least 1"),
        ({"steps": 2.5, "batch_size": 8, "lr": 1e-3}, TypeError, "steps must be an integer"),
        ({"epochs": 1, "batch_size": 8, "lr": math.nan}, ValueError, "lr must be positive"),
        ({"epochs": 1, "batch_size": 8, "lr": 1e-3, "schedule": "step"}, ValueError, "unknown schedule"),
        ({"epochs": 1, "batch_size": 8, "lr": 1e-3, "betas": (0.9, 1.0)}, ValueError, "betas"),
        ({"epochs": 1, "batch_size": 8, "lr": 1e-3, "lr_floor": 0.0}, ValueError, "lr_floor"),
    ],
)
def test_train_config_is_checked(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        TrainConfig(**kwargs)


def test_train_arguments_are_checked() -> None:
    x, y = line_data()
    model = nn.Linear(1, 1)
    step = regression_step(model, x, y)
    config = TrainConfig(epochs=1, batch_size=8, lr=1e-3, progress=False)
    with pytest.raises(ValueError, match="validate and monitor go together"):
        train(model, step, config, seeds=Seeds(0), n_rows=64, validate=lambda: {"val": 0.0})
    with pytest.raises(ValueError, match="patience stops on the validation value"):
        train(model, step, TrainConfig(epochs=1, batch_size=8, lr=1e-3, patience=2), seeds=Seeds(0), n_rows=64)
    with pytest.raises(ValueError, match="no parameters to train"):
        train(nn.Identity(), step, config, seeds=Seeds(0), n_rows=64)
