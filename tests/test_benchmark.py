"""The benchmark harness: metrics, the Design-Bench reference, resume after a crash, the command line."""

from __future__ import annotations

import dataclasses
import json
import math

import pandas
import pytest
import torch

import invdesign as ivd
from invdesign import benchmark
from invdesign.benchmark import runner
from invdesign.benchmark.configs import SolverConfig
from invdesign.cli import main
from invdesign.solvers import make
from invdesign.tasks import SurrogateSpec, Task
from invdesign.trust import energy_scale

SMALL = SurrogateSpec(hidden=(32, 32), activation="silu", epochs=30, batch_size=64, lr=3e-3, n_members=2)


def sphere_task() -> Task:
    """A 3-d minimize task, min 0 at the centre; small data and surrogate so cells take a second."""
    return Task(
        name="sphere3",
        oracle=lambda x: (x - 0.2).square().sum(-1),
        space=ivd.Box(-1.0, 1.0, dim=3),
        kind="minimize",
        optimum=0.0,
        n_train=300,
        surrogate=SMALL,
        n_reference=5_000,
    )


def arm_task() -> Task:
    """The robot arm with a small surrogate, for the target-task path."""
    arm = ivd.tasks.get("robot_arm")
    return Task(
        name="arm_small",
        oracle=arm.oracle,
        space=arm.space,
        kind="target",
        output_dim=2,
        n_train=500,
        surrogate=SMALL,
    )


CONFIGS = [
    SolverConfig(name="gd", solver=make("gd"), max_iter=60),
    SolverConfig(name="random", solver=make("random"), max_evals=200),
    SolverConfig(name="gd+pessimism", solver=make("gd"), max_iter=60, ensemble="pessimistic", beta=2.0),
    SolverConfig(name="gd+trust", solver=make("gd"), max_iter=60, data_weight=10.0, data_radius=0.05),
]


def test_percentiles_rank_invalid_designs_last():
    assert benchmark.percentiles(torch.tensor([3.0, 1.0, 2.0])) == (1.0, 2.0)
    best, median = benchmark.percentiles(torch.tensor([math.nan, 1.0, 2.0, math.nan, 0.5]))
    assert best == 0.5 and median == 2.0, "the median counts invalid designs as the worst"
    assert all(math.isnan(v) for v in benchmark.percentiles(torch.tensor([math.nan, math.nan])))


def test_r_t_by_hand():
    errors = torch.tensor([[0.5, 0.1, 0.3, 0.01], [0.2, math.nan, 0.05, 0.4]])
    r = benchmark.r_t(errors, ts=(1, 2, 3, 5))
    assert r[1] == pytest.approx((0.5 + 0.2) / 2)
    assert r[2] == pytest.approx((0.1 + 0.2) / 2), "an invalid design never counts as the smallest error"
    assert r[3] == pytest.approx((0.1 + 0.05) / 2)
    assert math.isnan(r[5]), "T beyond the candidates is not defined"


def test_exploitation_gap_is_oracle_minus_prediction():
    oracle = torch.tensor([1.0, 2.0, math.nan])
    predicted = torch.tensor([0.5, 1.0, 0.0])
    assert benchmark.exploitation_gap(oracle, predicted) == pytest.approx(0.75)
    pessimistic = torch.tensor([1.0, 3.0])
    assert benchmark.exploitation_gap(torch.tensor([2.0, 2.0]), pessimistic) == pytest.approx(0.0)
    assert benchmark.exploitation_gap(torch.tensor([2.0, 2.0]), pessimistic, absolute=True) == pytest.approx(1.0)


def test_run_minimize_task_reports_oracle_and_surrogate_side_by_side(tmp_path):
    task = sphere_task()
    table = benchmark.run([task], CONFIGS[:3], 1, out=tmp_path, k=16, progress=False)
    assert len(table) == 3 and set(table["solver"]) == {"gd", "random", "gd+pessimism"}
    y_min, y_max = task.reference_range()
    for row in table.itertuples():
        assert row.oracle_best <= row.oracle_median
        assert row.score_best == pytest.approx((y_max - row.oracle_best) / (y_max - y_min))
        assert row.n_designs == 16 and row.evaluations > 0 and row.seconds > 0
        assert math.isfinite(row.gap) and math.isfinite(row.d_best)
        assert 0.0 < row.d_best < 1.0
        assert 1 <= row.n_modes <= 16 and row.pairwise_distance >= 0.0
    record = json.loads((tmp_path / "results.json").read_text())["cells"][0]
    assert len(record["designs"]["oracle"]) == 16 and len(record["trace"]["oracle"]) > 0
    # The oracle re-simulates: its verdict on the designs equals the task's function.
    csv = pandas.read_csv(tmp_path / "results.csv")
    assert list(csv["solver"]) == list(table["solver"]) and "trace" not in csv.columns
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 2, "one surrogate and one ensemble cached"


def test_run_target_task_reports_r_t(tmp_path):
    table = benchmark.run([arm_task()], CONFIGS[:2], [0], out=tmp_path, k=50, n_targets=2, progress=False)
    for row in table.itertuples():
        assert row.r_1 >= row.r_10 >= row.r_50 > 0
        assert math.isnan(row.score_best)
        assert row.oracle_best <= row.oracle_top1


def test_killed_run_resumes_without_recomputing_finished_cells(tmp_path, monkeypatch):
    task = sphere_task()
    calls = []
    real = runner.run_cell

    def crash_on_third(problem, config, *, k):
        calls.append(config.name)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user's Ctrl-C, mid-suite
        return real(problem, config, k=k)

    monkeypatch.setattr(runner, "run_cell", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        benchmark.run([task], CONFIGS, 1, out=tmp_path, k=8, progress=False)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [c["solver"] for c in saved["cells"]] == ["gd", "random"], "finished cells are on disk, the file intact"

    calls.clear()
    monkeypatch.setattr(runner, "run_cell", lambda p, c, *, k: (calls.append(c.name), real(p, c, k=k))[1])
    resumed = benchmark.run([task], CONFIGS, 1, out=tmp_path, k=8, progress=False)
    assert calls == ["gd+pessimism", "gd+trust"], "only the unfinished cells run"
    assert resumed.iloc[0]["oracle_best"] == saved["cells"][0]["oracle_best"]

    calls.clear()
    benchmark.run([task], CONFIGS, 1, out=tmp_path, k=8, progress=False)
    assert calls == [], "a finished suite recomputes nothing"
    benchmark.run([task], CONFIGS[:1], 1, out=tmp_path, k=9, progress=False)
    assert calls == ["gd"], "changed settings recompute the cell"


def test_cached_surrogates_are_reused(tmp_path, monkeypatch):
    task = sphere_task()
    benchmark.run([task], CONFIGS[:1], 1, out=tmp_path, k=8, progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("the cached surrogate should be read, not trained")

    monkeypatch.setattr(SurrogateSpec, "fit", no_training)
    benchmark.run([task], [SolverConfig(name="gd2", solver=make("gd"), max_iter=10)], 1, out=tmp_path, k=8, progress=False)


def test_a_corrupt_results_file_is_a_clear_error(tmp_path):
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a readable results file"):
        benchmark.run([sphere_task()], CONFIGS[:1], 1, out=tmp_path, progress=False)


def test_bad_requests_are_clear_errors():
    with pytest.raises(ValueError, match="unknown task"):
        benchmark.run(["no_such_task"], ["gd"], 1, progress=False)
    with pytest.raises(ValueError, match="unknown solver configuration"):
        benchmark.run(["branin"], ["no_such_solver"], 1, progress=False)
    with pytest.raises(ValueError, match="distinct names"):
        benchmark.run(["branin"], ["gd", "gd"], 1, progress=False)
    with pytest.raises(ValueError, match="seeds must be"):
        benchmark.run(["branin"], ["gd"], 0, progress=False)
    with pytest.raises(ValueError, match="unknown method"):
        SolverConfig(name="x", solver=make("newton"))


def test_markdown_bolds_the_best_per_task():
    table = pandas.DataFrame(
        [
            {"task": "t", "solver": "a", "seed": 0, "kind": "minimize", "score_best": 0.5, "evaluations": 10, "seconds": 1.0},
            {"task": "t", "solver": "b", "seed": 0, "kind": "minimize", "score_best": 0.9, "evaluations": 10, "seconds": 1.0},
        ]
    )
    text = benchmark.markdown(table)
    assert "| t | b | 1 | **0.900 +- 0.000** |" in text and "**0.500" not in text


def test_cli_bench_writes_tables_csv_json_and_plots(tmp_path, monkeypatch, capsys):
    ivd.tasks.register(sphere_task(), overwrite=True)
    suite = benchmark.Suite(name="quick", tasks=("sphere3",), solvers=("gd", "random"), seeds=1, settings={"k": 8})
    monkeypatch.setitem(benchmark.SUITES, "quick", suite)
    assert main(["bench", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| sphere3 | gd | 1 |" in out and "| sphere3 | random | 1 |" in out
    for name in ("results.csv", "results.json", "convergence.png", "scores.png", "exploitation.png"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_latent_configurations_run_through_the_task_decoder_and_skip_tasks_without_one(tmp_path):
    configs = [SolverConfig(name="gd (latent)", solver=make("gd"), latent=True, max_iter=30), CONFIGS[0]]
    table = benchmark.run([sphere_task()], configs, 1, out=tmp_path / "sphere", k=8, progress=False)
    assert list(table["solver"]) == ["gd"], "a task without a decoder skips latent configurations"

    digits = ivd.tasks.get("digits")
    table = benchmark.run([digits], configs, 1, out=tmp_path / "digits", k=8, epochs=20, progress=False)
    assert list(table["solver"]) == ["gd (latent)", "gd"]
    latent = table.iloc[0]
    assert latent["n_designs"] == 8 and math.isfinite(latent["oracle_best"]) and latent["distance_to_data"] > 0
    assert any((tmp_path / "digits" / "cache").glob("digits-seed0-decoder-*.safetensors")), "the decoder is cached"


def test_digits_task_oracle_prior_and_decoder():
    task = ivd.tasks.get("digits")
    X, Y = task.make_offline_data(seed=0)
    images, labels = ivd.tasks.digits.load_images(dtype=torch.float64)
    assert X.shape == (898, 64) and task.space.contains(X).all()
    threes = images[labels == 3][:20].flatten(1)
    others = images[labels == 7][:20].flatten(1)
    assert task.oracle(threes).mean() < -0.8 < -0.2 < task.oracle(others).mean()
    assert float(task.normalized_score(Y.min().reshape(1))[0]) == pytest.approx(1.0), "score 1 is half A's most 3-like digit"
    with pytest.raises(ValueError, match="same bounds in every dimension"):
        task.decoder.fit(X[:, :2], ivd.Box([0.0, 0.0], [1.0, 2.0]), seed=0)


def test_a_crash_while_writing_leaves_the_previous_results_file_whole(tmp_path, monkeypatch):
    store = benchmark.ResultStore(tmp_path)
    store.add({"task": "t", "solver": "a", "seed": 0, "kind": "minimize", "score_best": 0.5})
    before = (tmp_path / "results.json").read_text()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies between writing the new file and moving it into place

    monkeypatch.setattr(benchmark.store.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.add({"task": "t", "solver": "b", "seed": 0, "kind": "minimize", "score_best": 0.7})
    monkeypatch.undo()
    assert (tmp_path / "results.json").read_text() == before
    assert list(benchmark.ResultStore(tmp_path).records) == ["t|a|0"]


def test_data_spacing_and_energy_scale_make_the_trust_region_scale_free():
    box = ivd.Box(0.0, 10.0, dim=1, dtype=torch.float64)
    X = torch.tensor([[0.0], [1.0], [3.0], [6.0]], dtype=torch.float64)
    assert runner.data_spacing(X, box) == pytest.approx(sorted([0.1, 0.1, 0.2, 0.3])[1])
    Y = torch.tensor([[1.0], [3.0]], dtype=torch.float64)
    assert energy_scale(Y, None) == pytest.approx(2**0.5)
    assert energy_scale(torch.tensor([[0.0, 1.0], [2.0, 1.0]]), torch.zeros(2)) == pytest.approx(1.0)


def test_amortized_serves_every_target_from_one_conditional_generator(tmp_path, monkeypatch):
    from invdesign.solvers import amortized

    calls = []
    real = amortized.fit_inverse_model
    monkeypatch.setattr(amortized, "fit_inverse_model", lambda *a, **kw: (calls.append(kw), real(*a, **kw))[1])
    config = SolverConfig(name="amortized", solver=make("amortized", diversity=0.0), max_iter=50)
    table = benchmark.run([arm_task(), sphere_task()], [config], 1, out=tmp_path, k=50, n_targets=3, progress=False)
    assert len(calls) == 1 and calls[0]["steps"] == 50, "trained once for the three targets"
    assert calls[0]["diversity"] == 0.0, "diversity=0 turns the conditional generator's term off too"
    calls.clear()
    configs = [SolverConfig(name=f"polish {n}", solver=make("amortized", polish=n), max_iter=20) for n in (0, 5)]
    served, polished = benchmark.run([arm_task()], configs, 1, out=tmp_path / "default", k=50, n_targets=3, progress=False).iloc
    assert calls[0]["diversity"] is None, "otherwise the conditional generator keeps its own weight"
    assert polished["evaluations"] > served["evaluations"], "the polish's evaluations are counted"
    arm, sphere = table.iloc[0], table.iloc[1]
    assert arm["r_1"] >= arm["r_10"] >= arm["r_50"] > 0 and arm["n_designs"] == 50
    assert sphere["n_designs"] == 50 and math.isfinite(sphere["score_best"])


def test_a_target_task_on_a_space_searches_each_target_and_skips_configurations_of_other_kinds(tmp_path):
    space = ivd.Space([ivd.Categorical("c", ["a", "b"]), ivd.Integer("n", 1, 4), ivd.Real("r", 0.0, 1.0)])
    task = Task(
        name="mixed_target", oracle=lambda x: torch.stack([x[:, 1] * x[:, 2] + x[:, 3], x[:, 0] - x[:, 3]], dim=-1),
        space=space, kind="target", output_dim=2, n_train=200, surrogate=SMALL,
    )
    configs = [
        SolverConfig(name="amortized", solver=make("amortized"), max_iter=20),
        SolverConfig(name="ga", solver=make("ga"), kinds=("minimize",)),
    ]
    table = benchmark.run([task], configs, 1, out=tmp_path, k=8, n_targets=2, progress=False)
    assert list(table["solver"]) == ["amortized"], "a configuration for minimize tasks only is skipped"
    row = table.iloc[0]
    assert row["n_designs"] == 8 and row["n_invalid"] == 0 and math.isfinite(row["r_1"])


def test_a_solver_skips_tasks_whose_variables_it_does_not_declare():
    from invdesign.solvers.gd import GradientDescent

    class RealsOnly(GradientDescent):
        capabilities = dataclasses.replace(GradientDescent.capabilities, variables=frozenset({"real"}))

    config = SolverConfig(name="reals only", solver=RealsOnly())
    assert runner._applies(config, ivd.tasks.get("branin")) and not runner._applies(config, ivd.tasks.get("mixed"))
    with pytest.raises(ValueError, match="no cell to run"):
        benchmark.run(["mixed"], [config], 1, progress=False)


def test_target_tasks_count_their_real_candidates_and_drop_invalid_targets(tmp_path):
    arm = arm_task()

    def holey(x):  # designs with x1 > 0.5 are invalid (NaN), as a shot that never lands
        y = arm.oracle(x)
        return torch.where((x[:, :1] > 0.5), torch.full_like(y, math.nan), y)

    task = Task(name="holey_arm", oracle=holey, space=arm.space, kind="target", output_dim=2, n_train=500, surrogate=SMALL)
    # Seed 5: some target's top design is invalid, and every target has a valid one among its 10.
    table = benchmark.run([task], [SolverConfig(name="gd", solver=make("gd"), max_iter=30)], [5], k=10, n_targets=20, progress=False)
    row = table.iloc[0]
    assert row["n_designs"] == 10 and math.isnan(row["r_50"]), "r_50 is undefined with 10 candidates"
    assert row["r_10"] > 0 and not row["r_1"] < row["r_10"], "an invalid top design counts as an infinite error"


def test_few_offline_designs_mean_fewer_data_starts_not_a_crash(tmp_path):
    task = sphere_task()
    table = benchmark.run([task], CONFIGS[:1], 1, k=128, n_train=40, progress=False)
    assert table.iloc[0]["n_designs"] == 20, "40 drawn, the best half hidden: 20 starts"


def test_a_changed_task_recipe_recomputes_its_cells(tmp_path):
    benchmark.run([sphere_task()], CONFIGS[:1], 1, out=tmp_path, k=8, progress=False)
    calls = []
    real = runner.run_cell
    try:
        runner.run_cell = lambda p, c, *, k: (calls.append(c.name), real(p, c, k=k))[1]
        benchmark.run([sphere_task()], CONFIGS[:1], 1, out=tmp_path, k=8, progress=False)
        assert calls == []
        changed = Task(name="sphere3", oracle=lambda x: (x - 0.2).square().sum(-1), space=ivd.Box(-1.0, 1.0, dim=3),
                       kind="minimize", n_train=200, surrogate=SMALL, n_reference=5_000)
        benchmark.run([changed], CONFIGS[:1], 1, out=tmp_path, k=8, progress=False)
        assert calls == ["gd"], "another n_train is another cell"
    finally:
        runner.run_cell = real


def test_no_applicable_cell_is_a_clear_error():
    with pytest.raises(ValueError, match="no cell to run"):
        benchmark.run([arm_task()], ["gd+selected"], 1, progress=False)


def test_configurations_are_checked_against_the_solver_before_any_training():
    with pytest.raises(TypeError, match="counts its budget in evaluations; set max_evals, not max_iter"):
        SolverConfig(name="bo", solver=make("bo"), max_iter=5)
    with pytest.raises(TypeError, match="takes no starting points"):
        SolverConfig(name="amortized", solver=make("amortized"), n_restarts=8)
    with pytest.raises(TypeError, match="solver must be an invdesign solver object"):
        SolverConfig(name="gd", solver="gd")
    for method in ivd.solvers.capable(lambda c: c.data):
        with pytest.raises(ValueError, match="needs the data set"):
            SolverConfig(name=method, solver=make(method), starts="sobol")
    with pytest.raises(TypeError, match="unknown option 'lr' for method 'lbfgs'"):
        SolverConfig(name="lbfgs", solver=make("lbfgs", lr=0.1))


def test_every_registered_solver_has_a_configuration():
    assert set(ivd.solvers.available()) <= set(benchmark.CONFIGS)
    assert set(ivd.solvers.available()) <= set(benchmark.SUITES["quick"].solvers)


def test_selected_surrogate_rows_search_the_chosen_recipe_on_minimize_tasks_only(tmp_path, monkeypatch):
    from invdesign.benchmark import problem as problem_module
    from invdesign.tasks import SurrogateSelection

    compared = []

    def pick_wide(candidates, X, Y, *, seed, holdout, epochs, device):
        compared.append([c.hidden for c in candidates])
        wide = next(c for c in candidates if c.hidden == (64, 64, 64))
        return SurrogateSelection(tuple(candidates), (0.0,) * len(candidates), wide)

    monkeypatch.setattr(problem_module, "select_surrogate", pick_wide)
    selected = SolverConfig(name="gd+selected", solver=make("gd"), max_iter=60, surrogate="selected")
    table = benchmark.run([sphere_task()], [CONFIGS[0], selected], 1, out=tmp_path, k=8, progress=False)
    rows = table.set_index("solver")
    assert rows.loc["gd", "model"] == "MLP 32x32 silu"
    assert rows.loc["gd+selected", "model"] == "MLP 64x64x64 silu", "the row searched the chosen recipe"
    assert compared == [[(32, 32), (64, 64), (256, 256), (64, 64, 64), (256, 256, 256)]]
    assert rows.loc["gd+selected", "oracle_best"] != rows.loc["gd", "oracle_best"]
    assert any((tmp_path / "cache").glob("sphere3-seed0-selected-*.safetensors")), "the selected surrogate is cached"
    benchmark.run([sphere_task()], [CONFIGS[0], selected], 1, out=tmp_path / "again", k=8, progress=False)
    assert len(compared) == 2
    benchmark.run([sphere_task()], [CONFIGS[0], selected], 1, out=tmp_path, k=8, progress=False)
    assert len(compared) == 2, "a finished cell with the same selection recipe is not recomputed"

    def pick_own(candidates, X, Y, *, seed, holdout, epochs, device):
        compared.append("own")
        return SurrogateSelection(tuple(candidates), (0.0,) * len(candidates), candidates[0])

    monkeypatch.setattr(problem_module, "select_surrogate", pick_own)
    own = benchmark.run([sphere_task()], [CONFIGS[0], selected], 1, out=tmp_path / "own", k=8, progress=False)
    assert own.loc[0, "oracle_best"] == own.loc[1, "oracle_best"], "the task's own recipe is the task's surrogate"
    assert any((tmp_path / "own" / "cache").glob("sphere3-seed0-selected-*.safetensors"))

    table = benchmark.run([arm_task()], [CONFIGS[0], selected], [0], k=50, n_targets=1, progress=False)
    assert list(table["solver"]) == ["gd"], "target tasks skip surrogate selection"
    with pytest.raises(ValueError, match="leave ensemble=None"):
        SolverConfig(name="x", solver=make("gd"), surrogate="selected", ensemble="mean")
    with pytest.raises(ValueError, match="surrogate must be"):
        SolverConfig(name="x", solver=make("gd"), surrogate="best")


def test_ensemble_rows_name_their_members():
    members = [ivd.models.MLP(2, hidden=(8, 8)) for _ in range(3)]
    assert runner.model_label(ivd.models.Ensemble(members)) == "3 x MLP 8x8 silu"


def test_gd_diverse_picks_its_k_designs_from_more_restarts():
    config = benchmark.get_config("gd+diverse")
    assert config.diversity > 0 and config.n_restarts > 128, "picking 128 of 128 restarts would change nothing"


def test_importing_invdesign_leaves_the_matplotlib_backend_alone():
    import subprocess
    import sys

    code = "import matplotlib; matplotlib.use('svg'); import invdesign; print(matplotlib.get_backend())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "svg"
