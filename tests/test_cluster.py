"""Parallel work: benchmark sweeps and black-box evaluations on executors (Dask, process pools), and their faults."""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

import pandas
import pytest
import torch
from conftest import quadratic

import invdesign as ivd
from invdesign import benchmark, cluster, extras
from invdesign.benchmark.configs import SolverConfig
from invdesign.cli import main
from invdesign.solvers import make

needs_dask = pytest.mark.skipif(
    bool(extras.missing("dask")), reason='the dask extra is not installed (pip install -e ".[dask]")'
)
CONFIGS = [
    SolverConfig(name="gd", solver=make("gd"), max_iter=40),
    SolverConfig(name="cmaes", solver=make("cmaes"), max_evals=300),
    SolverConfig(name="bo", solver=make("bo", batch=4, n_init=4, num_restarts=2, raw_samples=32), max_evals=12),
    SolverConfig(name="gd+trust", solver=make("gd"), max_iter=40, data_weight=10.0, data_radius=0.05),
]
SMALL = {"k": 8, "n_train": 200, "epochs": 10, "n_targets": 2}
TIMES = ["seconds"]
"""The only columns a parallel sweep may change: wall times."""


def same_numbers(a: pandas.DataFrame, b: pandas.DataFrame) -> None:
    """Two result tables hold the same cells with the same numbers, times aside."""
    key = ["task", "solver", "seed"]
    a = a.drop(columns=TIMES).sort_values(key).reset_index(drop=True)
    b = b.drop(columns=TIMES).sort_values(key).reset_index(drop=True)
    pandas.testing.assert_frame_equal(a, b, check_exact=True)


def serial(tasks: list[str], seeds: list[int], out: os.PathLike[str] | None = None) -> pandas.DataFrame:
    return benchmark.run(tasks, CONFIGS, seeds, out=out, progress=False, **SMALL)  # type: ignore[arg-type]


class LosingExecutor(Executor):
    """Runs work in a thread pool, but the first ``lose`` submissions come back as lost (a dead worker)."""

    class KilledWorker(Exception):
        """Named like Dask's error for a task whose workers died."""

    def __init__(self, lose: int) -> None:
        self.pool = ThreadPoolExecutor(2)
        self.lose = lose
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.submitted += 1
        if self.submitted <= self.lose:
            future: Future[object] = Future()
            future.set_exception(self.KilledWorker("worker tcp://127.0.0.1:1 died"))
            return future
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def test_a_sweep_on_a_process_pool_gives_the_serial_results(tmp_path):
    expected = serial(["branin", "robot_arm"], [0])
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        table = benchmark.run(
            ["branin", "robot_arm"], CONFIGS, [0], out=tmp_path, progress=False, executor=pool, threads=1, **SMALL
        )
    same_numbers(table, expected)
    assert (tmp_path / "results.csv").exists() and list((tmp_path / "cache").glob("branin-seed0-surrogate-*"))


def test_a_lost_cell_is_submitted_again_then_recorded_as_failed_and_rerun_later(tmp_path):
    expected = serial(["branin"], [0])
    table = benchmark.run(["branin"], CONFIGS, [0], out=tmp_path, progress=False, executor=LosingExecutor(2), **SMALL)
    same_numbers(table, expected)  # the training job lost twice, then done: nothing lost, nothing doubled

    out = tmp_path / "lost"
    table = benchmark.run(["branin"], CONFIGS, [0], out=out, progress=False, executor=LosingExecutor(3), **SMALL)
    assert table["error"].str.contains("KilledWorker").all() and "oracle_best" not in table.columns
    assert len(table) == len(CONFIGS)
    table = benchmark.run(["branin"], CONFIGS, [0], out=out, progress=False, **SMALL)  # the failed cells run again
    same_numbers(table, expected)


def test_an_error_in_a_cell_is_raised_not_retried(monkeypatch):
    calls = []

    def broken(problem, config, *, k):  # type: ignore[no-untyped-def]
        calls.append(config.name)
        raise ValueError("a bug in the cell")

    monkeypatch.setattr(benchmark.runner, "run_cell", broken)
    with ThreadPoolExecutor(2) as pool, pytest.raises(ValueError, match="a bug in the cell"):
        benchmark.run(["branin"], CONFIGS[:1], [0], progress=False, executor=pool, **SMALL)
    assert calls == ["gd"]


@pytest.mark.parametrize(
    "method,options",
    [("bo", {"q": 4, "n_init": 4, "num_restarts": 2, "raw_samples": 32}), ("turbo", {"q": 4, "n_init": 4}), ("cmaes", {}),
     ("random", {"batch": 4})],
)
def test_black_box_designs_on_an_executor_are_the_serial_ones(box4, method, options):
    objective = ivd.Objective(quadratic, box4.to(torch.float64))
    expected = ivd.minimize(objective, method, max_evals=16, seed=3, **options)
    with ThreadPoolExecutor(4) as pool:
        result = ivd.minimize(objective, method, max_evals=16, seed=3, executor=pool, **options)
    assert torch.equal(result.X, expected.X) and result.fun == expected.fun and result.nfev == 16


def test_a_design_whose_oracle_raises_is_failed_and_the_run_goes_on(box4):
    def oracle(x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 1 and x[0, 0] > 0.5:
            raise RuntimeError("the simulation diverged")
        return quadratic(x)

    with ThreadPoolExecutor(3) as pool:
        result = ivd.minimize(ivd.Objective(oracle, box4), "random", max_evals=40, seed=0, executor=pool, batch=8)
    bad = result.X[:, 0] > 0.5
    assert bad.any() and torch.isnan(result.F[bad]).all() and torch.isfinite(result.F[~bad]).all()
    assert result.X.shape[0] == 40 and "the simulation diverged" in result.message
    assert f"{int(bad.sum())} evaluations raised an error" in result.message


def test_a_design_lost_with_its_worker_is_evaluated_again(box4):
    objective = ivd.Objective(quadratic, box4)
    expected = ivd.minimize(objective, "random", max_evals=16, seed=0, batch=8)
    result = ivd.minimize(objective, "random", max_evals=16, seed=0, batch=8, executor=LosingExecutor(2))
    assert torch.equal(result.F, expected.F) and "error" not in result.message


@pytest.mark.parametrize("method", ["bo", "turbo", "random"])
def test_asynchronous_runs_keep_workers_busy_and_ask_for_new_designs(box4, method):
    objective = ivd.Objective(quadratic, box4.to(torch.float64))
    options = {"q": 3, "n_init": 4, "num_restarts": 2, "raw_samples": 32} if method == "bo" else {"q": 3}
    if method == "turbo":
        options["n_init"] = 4
    with ThreadPoolExecutor(3) as pool:
        result = ivd.minimize(objective, method, max_evals=14, seed=0, executor=pool, asynchronous=True, **options)
    assert result.nfev == 14 and result.X.shape[0] == 14
    assert len({tuple(x) for x in result.X.tolist()}) == 14, "a pending design was asked for again"
    assert result.fun < quadratic(torch.zeros(1, 4, dtype=torch.float64)).item()


class ImmediateExecutor(Executor):
    """Runs each job as it is submitted: every worker is free again by the next wait."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        future: Future[object] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_workers_free_together_are_asked_for_in_one_ask(box4, monkeypatch):
    sizes: list[int] = []
    original = ivd.solvers.bo.BOAskTell.propose

    def spy(self, n):  # type: ignore[no-untyped-def]
        sizes.append(n)
        return original(self, n)

    monkeypatch.setattr(ivd.solvers.bo.BOAskTell, "propose", spy)
    objective = ivd.Objective(quadratic, box4.to(torch.float64))
    result = ivd.minimize(
        objective, "bo", max_evals=14, seed=0, executor=ImmediateExecutor(), asynchronous=True,
        q=3, n_init=4, num_restarts=2, raw_samples=16,
    )
    assert result.nfev == 14 and sizes == [3, 3, 3, 3, 2], "one ask per wave of free workers, each as large as the wave"


@pytest.mark.parametrize("method", ["bo", "turbo", "random"])
def test_pending_designs_move_the_next_ask(box4, method):
    opt = make(method, batch=2).optimizer(box4, seed=0)
    x = opt.ask()
    opt.tell(x, quadratic(x))
    first = opt.ask(1)
    assert not torch.equal(opt.ask(1, pending=first), first)
    assert opt.n_pending == 0, "pending designs belong to one ask"


def test_bo_passes_pending_designs_to_its_acquisition(box4, monkeypatch):
    seen = {}
    original = ivd.solvers.bo.qLogExpectedImprovement

    def spy(*args, **kwargs):
        seen["X_pending"] = kwargs.get("X_pending")
        return original(*args, **kwargs)

    monkeypatch.setattr(ivd.solvers.bo, "qLogExpectedImprovement", spy)
    opt = make("bo", batch=4, n_init=4, num_restarts=2, raw_samples=16).optimizer(box4, seed=0)
    x = opt.ask()
    opt.tell(x, quadratic(x))
    pending = opt.ask(2)
    opt.ask(1, pending=pending)
    assert torch.allclose(seen["X_pending"], opt.view.to_search(pending).double())


def test_executor_words_are_checked(box4):
    objective = ivd.Objective(quadratic, box4)
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(TypeError, match="method 'gd' evaluates its objective in its own batches.*bo"):
            ivd.minimize(objective, "gd", executor=pool)
        with pytest.raises(TypeError, match="method 'cmaes' cannot ask with designs still being evaluated.*bo, random, turbo"):
            ivd.minimize(objective, "cmaes", executor=pool, asynchronous=True)
    with pytest.raises(ValueError, match="asynchronous=True .* pass executor="):
        ivd.minimize(objective, "bo", asynchronous=True)
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor or a Dask Client"):
        ivd.minimize(objective, "bo", executor="tcp://127.0.0.1:8786")
    with pytest.raises(TypeError, match="executor must be"):
        benchmark.run(["branin"], ["gd"], 1, executor=4, progress=False)


def test_asking_for_workers_without_the_extra_names_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(extras.EXTRAS, "dask", ("no_such_module_for_dask",))
    assert main(["bench", "--tasks", "branin", "--solvers", "gd", "--workers", "2", "--out", str(tmp_path), "--quiet"]) == 2
    assert 'install the dask extra with pip install -e ".[dask]"' in capsys.readouterr().err
    assert main(["bench", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err


@needs_dask
def test_dask_cli_workers_print_the_serial_table(tmp_path, capsys):
    args = ["bench", "--tasks", "branin", "--solvers", "gd", "cmaes", "gd+trust", "--seeds", "1", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "serial")]) == 0
    assert main([*args, "--out", str(tmp_path / "parallel"), "--workers", "2"]) == 0
    capsys.readouterr()
    a, b = (pandas.read_csv(tmp_path / name / "results.csv") for name in ("serial", "parallel"))
    same_numbers(a, b)


@needs_dask
def test_dask_worker_killed_mid_sweep_loses_nothing(tmp_path):
    from distributed import Client, LocalCluster

    expected = serial(["branin", "robot_arm"], [0, 1])
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as lc, Client(lc) as client:
        pids = list(client.run(os.getpid).values())
        killed: list[int] = []

        def kill_when_cells_run() -> None:  # once some cells are stored, kill a worker in the middle of the next
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not (tmp_path / "results.csv").exists():
                time.sleep(0.05)
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

        killer = threading.Thread(target=kill_when_cells_run)
        killer.start()
        table = benchmark.run(["branin", "robot_arm"], CONFIGS, [0, 1], out=tmp_path, progress=False, executor=client, threads=1, **SMALL)
        killer.join()
    assert killed and "error" not in table.columns
    same_numbers(table, expected)


@needs_dask
def test_dask_embedded_cluster_listens_on_loopback_and_leaves_no_process(box4):
    with cluster.local_cluster(2) as executor:
        client = executor._client  # type: ignore[attr-defined]
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert all(address.startswith("tcp://127.0.0.1:") for address in client.scheduler_info()["workers"])
        pids = list(client.run(os.getpid).values())
        result = ivd.minimize(ivd.Objective(quadratic, box4), "random", max_evals=16, seed=0, batch=8, executor=executor)
        assert math.isfinite(result.fun)
    time.sleep(0.5)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
