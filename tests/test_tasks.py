"""Tests for invdesign.tasks: oracles against hand-computed values, priors, registry."""

from __future__ import annotations

import math

import pytest
import torch

from invdesign import tasks
from invdesign.models import MLP, Ensemble, FitReport
from invdesign.space import Box, Categorical, Composition, Integer, Real, Space
from invdesign.tasks import DEFAULT_SURROGATE, DecoderSpec, SurrogateSpec, Task, registry

TARGET_TASKS = ["ballistics", "robot_arm", "sine"]
MINIMIZE_TASKS = ["ackley10", "ackley20", "branin", "hartmann6", "rosenbrock10", "styblinski_tang10"]
SPACE_TASKS = ["composition", "mixed"]  # minimize tasks on an invdesign.Space (tests/test_formulation_tasks.py)
BUILTINS = sorted(TARGET_TASKS + MINIMIZE_TASKS + SPACE_TASKS)
DTYPES = [torch.float32, torch.float64]


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made in a test do not leak into other tests."""
    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))


# --- oracles at hand-computed points ---------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_sine_at_known_points(dtype: torch.dtype) -> None:
    x = torch.tensor([[0.0, 0.0], [1 / 6, 0.0], [0.0, 1 / 3], [-1 / 6, 1 / 3], [0.5, 1 / 6]], dtype=dtype)
    # sin(0)+cos(0); sin(pi/2)+cos(0); sin(0)+cos(pi); sin(-pi/2)+cos(pi); sin(3pi/2)+cos(pi/2)
    expected = torch.tensor([[1.0], [2.0], [-1.0], [-2.0], [-1.0]], dtype=dtype)
    y = tasks.get("sine").oracle(x)
    assert y.dtype == dtype and y.shape == (5, 1)
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_robot_arm_at_known_angles(dtype: torch.dtype) -> None:
    half_pi = math.pi / 2
    x = torch.tensor(
        [
            [0.0, 0.0, 0.0, 0.0],  # all segments along +h: y_h = 0.5 + 0.5 + 1
            [0.1, half_pi, half_pi, half_pi],  # p = (pi/2, 0, -pi/2)
            [0.0, 0.0, half_pi, math.pi],  # p = (0, pi/2, pi/2)
            [-0.3, half_pi, math.pi, 0.0],  # p = (pi/2, pi/2, -3pi/2)
        ],
        dtype=dtype,
    )
    expected = torch.tensor(
        [
            [2.0, 0.0],
            [0.5 * 0 + 0.5 * 1 + 1.0 * 0, 0.1 + 0.5 * 1 + 0.5 * 0 + 1.0 * -1],
            [0.5 * 1 + 0.5 * 0 + 1.0 * 0, 0.0 + 0.5 * 0 + 0.5 * 1 + 1.0 * 1],
            [0.5 * 0 + 0.5 * 0 + 1.0 * 0, -0.3 + 0.5 * 1 + 0.5 * 1 + 1.0 * 1],
        ],
        dtype=dtype,
    )
    y = tasks.get("robot_arm").oracle(x)
    assert y.dtype == dtype and y.shape == (4, 2)
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_branin_at_its_three_minimizers(dtype: torch.dtype) -> None:
    x = torch.tensor([[-math.pi, 12.275], [math.pi, 2.275], [9.42478, 2.475]], dtype=dtype)
    task = tasks.get("branin")
    y = task.oracle(x)
    assert y.dtype == dtype and y.shape == (3, 1)
    torch.testing.assert_close(y, torch.full((3, 1), 0.397887, dtype=dtype), atol=1e-5, rtol=0)
    assert task.optimum == pytest.approx(0.397887)


@pytest.mark.parametrize("dtype", DTYPES)
def test_hartmann6_at_its_minimizer(dtype: torch.dtype) -> None:
    x = torch.tensor([[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]], dtype=dtype)
    task = tasks.get("hartmann6")
    y = task.oracle(x)
    assert y.dtype == dtype and y.shape == (1, 1)
    torch.testing.assert_close(y, torch.tensor([[-3.32237]], dtype=dtype), atol=1e-4, rtol=0)
    assert task.optimum == pytest.approx(-3.32237)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("name", "dim", "minimizer", "bounds"),
    [
        ("ackley10", 10, 0.0, (-5.0, 10.0)),
        ("ackley20", 20, 0.0, (-5.0, 10.0)),
        ("rosenbrock10", 10, 1.0, (-5.0, 10.0)),
        ("styblinski_tang10", 10, -2.903534, (-5.0, 5.0)),
    ],
)
def test_new_botorch_tasks_at_their_minimizers(
    name: str, dim: int, minimizer: float, bounds: tuple[float, float], dtype: torch.dtype
) -> None:
    task = tasks.get(name)
    assert task.kind == "minimize" and task.input_dim == dim
    assert task.space == Box(*bounds, dim=dim)
    y = task.oracle(torch.full((2, dim), minimizer, dtype=dtype))
    assert y.dtype == dtype and y.shape == (2, 1)
    torch.testing.assert_close(y, torch.full((2, 1), task.optimum, dtype=dtype), atol=1e-4, rtol=1e-6)
    # away from the minimizer the value is higher
    assert (task.oracle(task.sample_prior(64, seed=0, dtype=dtype)) > task.optimum).all()


def test_known_optimal_values() -> None:
    assert tasks.get("ackley10").optimum == 0.0 and tasks.get("ackley20").optimum == 0.0
    assert tasks.get("rosenbrock10").optimum == 0.0
    assert tasks.get("styblinski_tang10").optimum == pytest.approx(-391.66166)


def test_botorch_oracle_rejects_designs_outside_the_box() -> None:
    task = tasks.get("hartmann6")
    x = torch.full((3, 6), 0.5)
    x[1, 2] = 1.5
    with pytest.raises(ValueError, match=r"rows \[1\] lie outside"):
        task.oracle(x)
    assert task.oracle(task.space.clamp(x)).shape == (3, 1)


@pytest.mark.parametrize("name", BUILTINS)
def test_oracle_is_differentiable(name: str) -> None:
    task = tasks.get(name)
    x = task.sample_prior(4, seed=0).clamp(task.space.lower, task.space.upper).requires_grad_()
    task.oracle(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", BUILTINS)
def test_oracle_rejects_wrong_shapes(name: str) -> None:
    task = tasks.get(name)
    d = task.input_dim
    for bad in (torch.zeros(3, d + 1), torch.zeros(d), torch.zeros(2, 3, d)):
        with pytest.raises(ValueError, match=rf"shape \(n, {d}\), got {_shape_pattern(bad)}"):
            task.oracle(bad)
    with pytest.raises(TypeError, match="floating point"):
        task.oracle(torch.zeros(3, d, dtype=torch.long))


def _shape_pattern(t: torch.Tensor) -> str:
    return r"\(" + r", ".join(str(s) for s in t.shape) + (r",\)" if t.ndim == 1 else r"\)")


# --- priors and data ---------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_make_data_shapes_and_dtypes(name: str, dtype: torch.dtype) -> None:
    task = tasks.get(name)
    x, y = task.make_data(7, seed=1, dtype=dtype)
    assert x.shape == (7, task.input_dim) and y.shape == (7, task.output_dim)
    assert x.dtype == y.dtype == dtype
    torch.testing.assert_close(y, task.oracle(x))


@pytest.mark.parametrize("name", BUILTINS)
def test_prior_is_reproducible_by_seed(name: str) -> None:
    task = tasks.get(name)
    a = task.sample_prior(16, seed=3)
    assert torch.equal(a, task.sample_prior(16, seed=3))
    assert not torch.equal(a, task.sample_prior(16, seed=4))
    assert not torch.equal(task.sample_prior(16), task.sample_prior(16))  # seed=None is fresh
    torch.testing.assert_close(task.sample_prior(16, seed=3, dtype=torch.float32), a.float())


@pytest.mark.parametrize("name", ["sine", *MINIMIZE_TASKS])
def test_uniform_priors_fill_the_space(name: str) -> None:
    task = tasks.get(name)
    x = task.sample_prior(4000, seed=0)
    assert task.space.contains(x).all()
    u = task.space.to_unit(x)
    torch.testing.assert_close(u.mean(0), torch.full((task.input_dim,), 0.5, dtype=u.dtype), atol=0.03, rtol=0)
    torch.testing.assert_close(u.var(0), torch.full((task.input_dim,), 1 / 12, dtype=u.dtype), atol=0.01, rtol=0)


def test_robot_arm_prior_moments_and_space() -> None:
    task = tasks.get("robot_arm")
    x = task.sample_prior(40_000, seed=0)
    torch.testing.assert_close(x.mean(0), torch.zeros(4, dtype=x.dtype), atol=0.015, rtol=0)
    torch.testing.assert_close(x.var(0), torch.tensor([1 / 16, 1 / 4, 1 / 4, 1 / 4], dtype=x.dtype), atol=0, rtol=0.03)
    assert task.space == Box([-0.75, -1.5, -1.5, -1.5], [0.75, 1.5, 1.5, 1.5])
    # +-3 standard deviations: about 1% of draws (1 - 0.9973^4) fall outside the box
    outside = (~task.space.contains(x)).double().mean().item()
    assert 0.005 < outside < 0.02


def test_sample_targets_is_seeded_and_differs_from_training_data() -> None:
    task = tasks.get("robot_arm")
    targets = task.sample_targets(50, seed=0)
    assert targets.shape == (50, 2)
    assert torch.equal(targets, task.sample_targets(50, seed=0))
    _, y_train = task.make_data(50, seed=0)
    assert not torch.isclose(targets[:, None, :], y_train[None, :, :]).all(-1).any()


def test_minimize_tasks_have_no_targets() -> None:
    with pytest.raises(ValueError, match="only target tasks"):
        tasks.get("branin").sample_targets(3, seed=0)


def test_sample_rejects_bad_n_and_dtype() -> None:
    task = tasks.get("sine")
    with pytest.raises(ValueError, match="n >= 1"):
        task.sample_prior(0)
    with pytest.raises(TypeError, match="floating point"):
        task.sample_prior(2, dtype=torch.int64)


# --- offline data, reference range, normalized score ------------------------------------


@pytest.mark.parametrize("name", MINIMIZE_TASKS + SPACE_TASKS)
def test_make_offline_data_hides_the_best(name: str) -> None:
    task = tasks.get(name)
    assert task.hidden_fraction == 0.5
    X, Y = task.make_offline_data(seed=3, n=200)
    assert X.shape == (100, task.input_dim) and Y.shape == (100, 1) and X.dtype == torch.float64
    X_all, Y_all = task.make_data(200, seed=3)
    kept = (X_all[:, None, :] == X[None, :, :]).all(-1).any(-1)
    assert int(kept.sum()) == 100
    assert torch.equal(X_all[kept], X) and torch.equal(Y_all[kept], Y)  # sampling order kept
    assert Y.min() >= Y_all[~kept].max()  # every hidden design beats every kept one


def test_make_offline_data_sizes_determinism_and_dtype() -> None:
    task = tasks.get("branin")
    X, Y = task.make_offline_data(seed=0)
    assert X.shape == (task.n_train // 2, 2) and Y.shape == (task.n_train // 2, 1)
    assert task.make_offline_data(seed=0, n=7)[0].shape == (4, 2)  # floor(0.5 * 7) = 3 hidden
    a, b = task.make_offline_data(seed=1, n=50), task.make_offline_data(seed=1, n=50)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], task.make_offline_data(seed=2, n=50)[0])
    X32, Y32 = task.make_offline_data(seed=1, n=50, dtype=torch.float32)
    assert X32.dtype == Y32.dtype == torch.float32
    torch.testing.assert_close(X32, a[0].float())


@pytest.mark.parametrize("name", TARGET_TASKS)
def test_make_offline_data_of_target_tasks_is_make_data(name: str) -> None:
    task = tasks.get(name)
    assert task.hidden_fraction == 0.0 and task.n_train == 10_000
    X, Y = task.make_offline_data(seed=5, n=64)
    X_all, Y_all = task.make_data(64, seed=5)
    assert torch.equal(X, X_all) and torch.equal(Y, Y_all)


@pytest.mark.parametrize("kind", ["target", "minimize"])
def test_make_offline_data_drops_invalid_designs(kind: str) -> None:
    def oracle(x: torch.Tensor) -> torch.Tensor:  # NaN (invalid) for x0 < 0
        return torch.where(x[:, 0] < 0, torch.nan, x.sum(-1))

    task = Task(name="half_valid", oracle=oracle, space=Box(-1.0, 1.0, dim=2), kind=kind)  # type: ignore[arg-type]
    X_all, _ = task.make_data(400, seed=0)
    n_valid = int((X_all[:, 0] >= 0).sum())
    X, Y = task.make_offline_data(seed=0, n=400)
    assert not torch.isnan(Y).any() and (X[:, 0] >= 0).all()
    assert X.shape[0] == (n_valid if kind == "target" else n_valid - n_valid // 2)


def test_hidden_fraction_zero_keeps_everything() -> None:
    task = Task(name="t", oracle=lambda x: x.sum(-1), space=Box(0.0, 1.0, dim=2), kind="minimize", hidden_fraction=0.0)
    X, _ = task.make_offline_data(seed=0, n=30)
    assert torch.equal(X, task.make_data(30, seed=0)[0])


def test_reference_range_is_cached_and_normalizes_scores() -> None:
    calls = []

    def oracle(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        return x.sum(-1)

    task = Task(name="line", oracle=oracle, space=Box(0.0, 1.0, dim=1), kind="minimize", n_reference=1000)
    y_min, y_max = task.reference_range()
    assert sum(calls) == 1000
    assert 0.0 <= y_min < 0.01 and 0.99 < y_max <= 1.0
    assert task.reference_range() == (y_min, y_max) and sum(calls) == 1000  # cached
    y = torch.tensor([[y_min], [y_max], [(y_min + y_max) / 2], [y_min - (y_max - y_min)]])
    score = task.normalized_score(y)
    assert score.shape == (4, 1) and score.dtype == torch.float32
    torch.testing.assert_close(score[:, 0], torch.tensor([1.0, 0.0, 0.5, 2.0]))


@pytest.mark.parametrize("name", MINIMIZE_TASKS + SPACE_TASKS)
def test_reference_range_of_builtins(name: str) -> None:
    task = tasks.get(name)
    assert task.n_reference == 100_000
    y_min, y_max = task.reference_range()
    assert task.optimum < y_min < y_max
    score = task.normalized_score(torch.tensor([y_min, y_max, task.optimum], dtype=torch.float64))
    torch.testing.assert_close(score[:2], torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert score[2] > 1.0  # the optimum beats the best reference design
    # the best offline design scores below 1: the best designs are hidden
    _, Y = task.make_offline_data(seed=0, n=2000)
    assert 0.0 < task.normalized_score(Y.min()) < 1.0


def test_target_tasks_have_no_reference_range() -> None:
    task = tasks.get("robot_arm")
    with pytest.raises(ValueError, match="target task; reference ranges"):
        task.reference_range()
    with pytest.raises(ValueError, match="target task; reference ranges"):
        task.normalized_score(torch.zeros(3))
    with pytest.raises(TypeError, match="floating point tensor"):
        tasks.get("branin").normalized_score([1.0])  # type: ignore[arg-type]


def test_constant_oracle_cannot_be_normalized() -> None:
    task = Task(name="flat", oracle=lambda x: 0 * x.sum(-1), space=Box(0.0, 1.0, dim=2), kind="minimize", n_reference=10)
    with pytest.raises(ValueError, match="constant"):
        task.normalized_score(torch.zeros(2))


# --- recommendations and surrogate specs --------------------------------------------------


@pytest.mark.parametrize("name", BUILTINS)
def test_builtins_recommend_data_surrogate_and_budget(name: str) -> None:
    task = tasks.get(name)
    assert isinstance(task.surrogate, SurrogateSpec) and task.surrogate is not DEFAULT_SURROGATE
    assert task.n_train >= 1000 and task.budget >= 40
    assert task.hidden_fraction == (0.5 if task.kind == "minimize" else 0.0)


def test_budgets() -> None:
    assert tasks.get("branin").budget == 40 and tasks.get("ackley20").budget == 400
    assert 100 <= tasks.get("hartmann6").budget <= 200


def test_surrogate_spec_fits_an_mlp_and_an_ensemble() -> None:
    task = tasks.get("branin")
    X, Y = task.make_offline_data(seed=0, n=200, dtype=torch.float32)
    spec = SurrogateSpec(hidden=[16, 16], activation="silu", epochs=50, batch_size=32, lr=1e-2, n_members=3)
    assert spec.hidden == (16, 16)
    model, report = spec.fit(X, Y, seed=0, epochs=3)
    assert isinstance(model, MLP) and isinstance(report, FitReport)
    assert model.hidden == (16, 16) and model.activation == "silu" and report.epochs_run == 3
    assert model(X).dtype == torch.float32 and not model.training
    again, _ = spec.fit(X, Y, seed=0, epochs=3)
    torch.testing.assert_close(again(X), model(X))  # deterministic in seed
    ensemble, reports = spec.fit(X, Y, seed=0, ensemble=True, epochs=2)
    assert isinstance(ensemble, Ensemble) and len(ensemble) == 3
    assert len(reports) == 3 and all(r.epochs_run == 2 for r in reports)


def test_task_surrogate_learns_its_task() -> None:
    task = tasks.get("branin")
    X, Y = task.make_offline_data(seed=0, n=600)
    _, report = task.surrogate.fit(X, Y, seed=0, epochs=60)
    assert report.best_val_mse < 0.05  # standardised units: most of the variance explained


def test_surrogate_spec_validates_its_fields() -> None:
    good = dict(hidden=(8,), activation="silu", epochs=1, batch_size=1, lr=1e-3)
    with pytest.raises(ValueError, match="activation 'swish' is unknown"):
        SurrogateSpec(**{**good, "activation": "swish"})
    with pytest.raises(ValueError, match="hidden must be a sequence of positive ints"):
        SurrogateSpec(**{**good, "hidden": (8, 0)})
    for field in ("epochs", "batch_size", "n_members"):
        with pytest.raises(ValueError, match=f"{field} must be a positive int"):
            SurrogateSpec(**{**good, field: 0})
    with pytest.raises(ValueError, match="lr must be positive"):
        SurrogateSpec(**{**good, "lr": 0.0})
    with pytest.raises(TypeError):
        SurrogateSpec((8,), "silu", 1, 1, 1e-3)  # type: ignore[misc]  # keyword-only
    spec = SurrogateSpec(**good)
    with pytest.raises(AttributeError):
        spec.lr = 1.0  # type: ignore[misc]


# --- user tasks and registry -------------------------------------------------------------


def test_architecture_grid_keeps_the_recipe_first_and_varies_only_the_layers() -> None:
    spec = SurrogateSpec(hidden=(64, 64), activation="tanh", epochs=7, batch_size=16, lr=1e-2, n_members=3)
    grid = tasks.architecture_grid(spec, widths=(64, 8), depths=(2, 1))
    assert [s.hidden for s in grid] == [(64, 64), (8, 8), (64,), (8,)], "the recipe's own layers are not repeated"
    assert all(s.activation == "tanh" and s.epochs == 7 and s.lr == 1e-2 and s.n_members == 3 for s in grid)


class _Constant(torch.nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = torch.nn.Parameter(torch.tensor(value, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value.expand(x.shape[0], 1)


def _constant_fits(monkeypatch, *values: float) -> tuple[list[SurrogateSpec], list]:
    """Recipes that 'train' into models predicting ``values[i]`` everywhere; and a record of what each was trained on."""
    seen = []

    def fit(self, X_fit, Y_fit, *, seed, epochs=None, device=None, **_):
        seen.append((X_fit.clone(), Y_fit.clone(), seed, epochs))
        return _Constant(values[self.batch_size - 1]), None

    monkeypatch.setattr(SurrogateSpec, "fit", fit)
    recipes = [SurrogateSpec(hidden=(4,), activation="silu", epochs=5, batch_size=i + 1, lr=1e-2) for i in range(len(values))]
    return recipes, seen


def test_select_surrogate_holds_out_the_best_designs_and_keeps_the_lowest_error(monkeypatch) -> None:
    candidates, seen = _constant_fits(monkeypatch, 3.0, 0.4, 1.0)
    Y = torch.randperm(15, generator=torch.Generator().manual_seed(0)).to(torch.float64)
    X = torch.linspace(0, 1, 15, dtype=torch.float64).unsqueeze(1)
    choice = tasks.select_surrogate(candidates, X, Y, seed=11, holdout=0.2, epochs=2)

    held = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)  # the three lowest of fifteen energies
    kept_var = Y[Y > 2.0].var()
    expected = [float((value - held).pow(2).mean() / kept_var) for value in (3.0, 0.4, 1.0)]
    assert choice.holdout_mse == pytest.approx(expected)
    assert choice.chosen is candidates[2] and choice.candidates == tuple(candidates)
    for X_fit, Y_fit, seed, epochs in seen:
        assert sorted(Y_fit.flatten().tolist()) == [float(v) for v in range(3, 15)], "trained without the best"
        assert Y_fit.shape == (12, 1) and X_fit.shape == (12, 1) and seed == 11 and epochs == 2


def test_select_surrogate_ranks_a_diverged_candidate_last(monkeypatch) -> None:
    X, Y = torch.rand(20, 2, dtype=torch.float64), torch.rand(20, dtype=torch.float64)
    candidates, _ = _constant_fits(monkeypatch, math.nan, 0.5)
    choice = tasks.select_surrogate(candidates, X, Y, seed=0)
    assert choice.holdout_mse[0] == math.inf and choice.chosen is candidates[1]
    candidates, _ = _constant_fits(monkeypatch, math.nan, math.inf)
    with pytest.raises(ValueError, match="every candidate predicted NaN"):
        tasks.select_surrogate(candidates, X, Y, seed=0)


def test_select_surrogate_trains_real_candidates() -> None:
    X = torch.rand(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    Y = X.sum(-1, keepdim=True)
    spec = SurrogateSpec(hidden=(16,), activation="silu", epochs=20, batch_size=32, lr=1e-2)
    choice = tasks.select_surrogate(tasks.architecture_grid(spec, widths=(16,), depths=(1, 2)), X, Y, seed=0)
    assert len(choice.holdout_mse) == 2 and all(math.isfinite(e) and e >= 0 for e in choice.holdout_mse)
    assert choice.chosen in choice.candidates


def test_select_surrogate_rejects_bad_input() -> None:
    X, Y = torch.rand(20, 2), torch.rand(20, 1)
    spec = SurrogateSpec(hidden=(4,), activation="silu", epochs=1, batch_size=4, lr=1e-2)
    with pytest.raises(ValueError, match="at least one candidate"):
        tasks.select_surrogate([], X, Y, seed=0)
    with pytest.raises(TypeError, match="must be SurrogateSpec"):
        tasks.select_surrogate([(4,)], X, Y, seed=0)
    with pytest.raises(ValueError, match="one energy"):
        tasks.select_surrogate([spec], X, torch.rand(20, 2), seed=0)
    with pytest.raises(ValueError, match="one energy"):
        tasks.select_surrogate([spec], X, torch.rand(19, 1), seed=0)
    with pytest.raises(ValueError, match="finite"):
        tasks.select_surrogate([spec], X, torch.cat([Y[:-1], torch.tensor([[math.nan]])]), seed=0)
    with pytest.raises(TypeError, match="Y as a floating-point tensor"):
        tasks.select_surrogate([spec], X, Y.tolist(), seed=0)
    with pytest.raises(TypeError, match="X as a floating-point tensor"):
        tasks.select_surrogate([spec], torch.ones(20, 2, dtype=torch.long), Y, seed=0)
    with pytest.raises(ValueError, match="all equal"):
        tasks.select_surrogate([spec], X, torch.ones(20, 1), seed=0)
    for holdout in (0.0, 1.0, 0.05, 0.6):
        with pytest.raises(ValueError, match=f"holdout={holdout}"):
            tasks.select_surrogate([spec], X, Y, seed=0, holdout=holdout)
    with pytest.raises(ValueError, match="depths must be positive"):
        tasks.architecture_grid(spec, depths=(0,))


def test_registry_lists_the_builtins() -> None:
    assert set(BUILTINS) <= set(tasks.names())
    assert tasks.names() == sorted(tasks.names())
    for name in BUILTINS:
        assert tasks.get(name).name == name


def test_unknown_task_name_lists_known_names() -> None:
    with pytest.raises(ValueError, match="unknown task 'nope'.*robot_arm"):
        tasks.get("nope")


def test_user_task_in_a_few_lines(isolated_registry: None) -> None:
    task = Task(
        name="sphere",
        oracle=lambda x: (x**2).sum(-1),  # shape (n,) is accepted when output_dim == 1
        space=Box(-2.0, 2.0, dim=3),
        kind="minimize",
        optimum=0.0,
    )
    assert tasks.register(task) is task
    assert tasks.get("sphere") is task and "sphere" in tasks.names()
    x, y = task.make_data(5, seed=0, dtype=torch.float32)
    assert x.shape == (5, 3) and y.shape == (5, 1) and y.dtype == torch.float32
    assert task.space.contains(x).all()
    torch.testing.assert_close(y[:, 0], (x**2).sum(-1))

    with pytest.raises(ValueError, match="already registered"):
        tasks.register(Task(name="sphere", oracle=task.oracle, space=task.space, kind="minimize"))
    replacement = Task(name="sphere", oracle=task.oracle, space=task.space, kind="minimize")
    tasks.register(replacement, overwrite=True)
    assert tasks.get("sphere") is replacement


def test_user_task_with_a_custom_prior() -> None:
    def prior(n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, 2, generator=generator, dtype=torch.float64) * 0.1

    task = Task(
        name="linear",
        oracle=lambda x: torch.stack([x.sum(-1), x[:, 0] - x[:, 1]], dim=-1),
        space=Box(-1.0, 1.0, dim=2),
        kind="target",
        output_dim=2,
        prior=prior,
    )
    x = task.sample_prior(2000, seed=0)
    assert x.std().item() == pytest.approx(0.1, rel=0.05)
    assert task.sample_targets(4, seed=0).shape == (4, 2)


def test_task_validates_its_fields() -> None:
    space = Box(0.0, 1.0, dim=2)
    fn = lambda x: x.sum(-1)  # noqa: E731
    with pytest.raises(ValueError, match="kind"):
        Task(name="t", oracle=fn, space=space, kind="maximize")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="optimum"):
        Task(name="t", oracle=fn, space=space, kind="target", optimum=0.0)
    with pytest.raises(ValueError, match="output_dim"):
        Task(name="t", oracle=fn, space=space, kind="minimize", output_dim=2)
    with pytest.raises(ValueError, match="returned shape"):
        Task(name="t", oracle=lambda x: x, space=space, kind="minimize").oracle(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="prior returned shape"):
        Task(name="t", oracle=fn, space=space, kind="minimize", prior=lambda n, g: torch.zeros(n, 3)).sample_prior(2)
    with pytest.raises(AttributeError, match="immutable"):
        tasks.get("sine").name = "other"  # type: ignore[misc]
    for bad in (-0.1, 1.0, math.nan):
        with pytest.raises(ValueError, match=r"hidden_fraction must lie in \[0, 1\)"):
            Task(name="t", oracle=fn, space=space, kind="minimize", hidden_fraction=bad)
    with pytest.raises(ValueError, match="a target task hides no designs"):
        Task(name="t", oracle=fn, space=space, kind="target", hidden_fraction=0.2)
    for field in ("n_train", "budget", "n_reference"):
        with pytest.raises(ValueError, match=f"{field} must be a positive int"):
            Task(name="t", oracle=fn, space=space, kind="minimize", **{field: 0})
    with pytest.raises(TypeError, match="surrogate must be a SurrogateSpec"):
        Task(name="t", oracle=fn, space=space, kind="minimize", surrogate={"hidden": (8,)})  # type: ignore[arg-type]


# --- tasks on a Space ---------------------------------------------------------------------


def _mixed_space() -> Space:
    return Space(
        [Composition(["Fe", "Ni", "Co"]), Real("T", 300.0, 900.0), Categorical("solvent", ["water", "ethanol"]), Integer("layers", 1, 5)],
        constraints=["Fe + Ni <= 0.6"],
    )


def _space_oracle(x: torch.Tensor) -> torch.Tensor:
    return x[:, 0] - x[:, 2] + x[:, 3] / 900 + x[:, 4] + 0.1 * x[:, 6]


def test_space_task_uniform_prior_is_feasible_and_seeded() -> None:
    space = _mixed_space()
    task = Task(name="t", oracle=_space_oracle, space=space, kind="minimize", n_reference=512)
    assert task.space == space and task.space.dtype == torch.float64 and task.input_dim == space.dim == 7
    x = task.sample_prior(256, seed=3)
    assert x.shape == (256, 7) and x.dtype == torch.float64 and space.feasible(x).all()
    assert torch.equal(x, task.sample_prior(256, seed=3)) and not torch.equal(x, task.sample_prior(256, seed=4))
    assert not torch.equal(task.sample_prior(16), task.sample_prior(16))  # seed=None is fresh
    torch.testing.assert_close(task.sample_prior(256, seed=3, dtype=torch.float32), x.float())
    # every level and integer value turns up, and the fractions fill the simplex
    assert set(x[:, 6].tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0} and bool((x[:, 4:6].sum(dim=0) > 50).all())
    X, Y = task.make_offline_data(seed=0, n=100)
    assert X.shape == (50, 7) and space.feasible(X).all() and Y.shape == (50, 1)
    y_min, y_max = task.reference_range()
    assert y_min < y_max
    obj = task.objective()
    assert isinstance(obj.space, Space) and obj(x[:4]).shape == (4,)


def test_space_task_prior_must_return_feasible_designs() -> None:
    space = _mixed_space()

    def prior(n: int, generator: torch.Generator) -> torch.Tensor:
        x = space.sample(n, seed=int(torch.randint(0, 2**62, (1,), generator=generator)))
        x[0, 0] += 0.5  # the fractions of the first design no longer sum to 1
        return x

    task = Task(name="t", oracle=_space_oracle, space=space, kind="minimize", prior=prior)
    with pytest.raises(ValueError, match=r"prior returned designs outside the space \(rows \[0\]\)"):
        task.sample_prior(8, seed=0)
    with pytest.raises(ValueError, match="a decoder .* needs a Box space"):
        Task(name="t", oracle=_space_oracle, space=space, kind="minimize", decoder=DecoderSpec())
    with pytest.raises(TypeError, match="space must be a Box or a Space"):
        Task(name="t", oracle=_space_oracle, space=[(0.0, 1.0)], kind="minimize")  # type: ignore[arg-type]


def test_task_defaults_for_user_tasks() -> None:
    space = Box(0.0, 1.0, dim=2)
    fn = lambda x: x.sum(-1)  # noqa: E731
    task = Task(name="t", oracle=fn, space=space, kind="minimize")
    assert task.hidden_fraction == 0.5 and task.surrogate == DEFAULT_SURROGATE
    assert task.n_train == 1000 and task.budget == 100 and task.n_reference == 100_000
    target = Task(name="t", oracle=fn, space=space, kind="target", hidden_fraction=0.0)
    assert target.hidden_fraction == 0.0


def test_botorch_task_wraps_other_test_functions() -> None:
    from botorch.test_functions import Ackley

    task = tasks.botorch_task(Ackley(dim=10, bounds=[(-5.0, 10.0)] * 10), name="ackley10")
    assert task.input_dim == 10 and task.optimum == 0.0
    assert task.space == Box(-5.0, 10.0, dim=10)
    torch.testing.assert_close(task.oracle(torch.zeros(2, 10)), torch.zeros(2, 1), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="maximization"):
        tasks.botorch_task(Ackley(dim=2, negate=True), name="neg")


@pytest.mark.parametrize("d", [2, 4, 8])
def test_narrow_wells_have_five_separate_wells_of_nearly_equal_depth(d):
    from invdesign.tasks.wells import COVER, WELLS, NarrowWells, well_width

    task, oracle = tasks.get(f"narrow_wells{d}"), NarrowWells(d)
    centres = oracle.centres
    apart = torch.cdist(centres, centres) + torch.eye(WELLS) * 10
    assert apart.min() > 4 * well_width(d), "the wells are separate minima"
    depths = task.oracle(centres)[:, 0]
    assert depths.max() - depths.min() < 0.035 and task.optimum == pytest.approx(float(depths.min()))
    # A design covers the well whose centre lies within COVER widths; the describe column counts wells.
    near = centres[[0, 0, 3]] + COVER * well_width(d) * 0.9 / math.sqrt(d)
    assert task.describe(near) == {"basins": 2.0} and task.describe(torch.full((3, d), 0.001, dtype=torch.float64)) == {"basins": 0.0}
    X, _ = task.make_offline_data(seed=0, n=200)
    assert X.shape == (200, d) and task.space.contains(X).all()
