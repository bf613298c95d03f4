"""Faults: a process killed with SIGKILL mid-run (during a checkpointed search, during a benchmark) and
damaged files. Whatever was finished before the kill is on disk, intact, and a rerun picks it up; a
damaged file is a clear error naming it (or, for a cache, is rebuilt).

The killed runs are real child processes: the objective kills its own process at a chosen
evaluation (deterministic), or the parent kills the child at a random moment while it writes
checkpoints (the write must be atomic).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from test_benchmark import sphere_task

import invdesign as ivd
from invdesign import benchmark
from invdesign.benchmark.configs import SolverConfig
from invdesign.solvers import make

ROOT = Path(__file__).resolve().parents[1]
BOX = ivd.Box(-1.0, 1.0, dim=3)


def budget(method: str) -> int:
    """Evaluations of the killed runs: at least three of the solver's batches, and 12."""
    return max(12, 3 * ivd.solvers.make(method).optimizer(BOX, seed=4).solver.batch)

# The child's objective: counts the rows it evaluates after the objective is built and kills its own
# process in the call that brings them past INVDESIGN_KILL_AT (the code is the same in every process, so the
# checkpoint's fingerprint of it is too).
CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    import numpy as np, torch
    import invdesign as ivd

    method, path, out = sys.argv[1:4]
    state = {"calls": 0, "rows": 0, "started": False}
    kill_at = int(os.environ.get("INVDESIGN_KILL_AT", "0"))

    def energy(x):
        if state["started"]:
            state["calls"] += 1
            state["rows"] += x.shape[0]
            if kill_at and state["rows"] > kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        return ((x - 0.3) ** 2).sum(-1) + 0.1 * torch.sin(5 * x).sum(-1)

    objective = ivd.Objective(energy, ivd.Box(-1.0, 1.0, dim=3))
    state["started"] = True
    result = ivd.minimize(objective, method, seed=4, max_evals=int(os.environ["INVDESIGN_BUDGET"]), checkpoint=path)
    np.save(out + ".X.npy", result.X.numpy())
    np.save(out + ".F.npy", result.F.numpy())
    json.dump({"rows": state["rows"], "nfev": result.nfev}, open(out + ".json", "w"))
    """
)


def _child(script: str, *args: str, **env: str) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env}
    return subprocess.Popen([sys.executable, "-c", script, *args], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _told(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    opt = ivd.solvers.load_optimizer(path)
    return opt.X, opt.Y


def _energy(x: torch.Tensor) -> torch.Tensor:
    return ((x - 0.3) ** 2).sum(-1) + 0.1 * torch.sin(5 * x).sum(-1)


@pytest.mark.parametrize("method", ivd.solvers.capable(lambda c: c.checkpoint))
def test_a_run_killed_mid_way_loses_nothing_and_resumes_exactly(method, tmp_path):
    n = budget(method)
    path, out = tmp_path / "run.safetensors", str(tmp_path / "result")
    killed = _child(CHILD, method, str(path), out, INVDESIGN_KILL_AT=str(n // 2), INVDESIGN_BUDGET=str(n))
    killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL
    X, Y = _told(path)
    assert 0 < X.shape[0] < n, "the batches finished before the kill are on disk"
    torch.testing.assert_close(Y, _energy(X), rtol=0, atol=0)

    resumed = _child(CHILD, method, str(path), out, INVDESIGN_BUDGET=str(n))
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()[-2000:]
    counts = json.loads(Path(out + ".json").read_text())
    assert counts["rows"] == n - X.shape[0], "the resumed run evaluates only what was not finished"
    assert counts["nfev"] == n

    whole = ivd.minimize(ivd.Objective(_energy, BOX), method, seed=4, max_evals=n)
    assert np.array_equal(np.load(out + ".X.npy"), whole.X.numpy()), "killed and resumed = uninterrupted"
    assert np.array_equal(np.load(out + ".F.npy"), whole.F.numpy())


def test_a_kill_at_any_moment_leaves_a_readable_checkpoint(tmp_path):
    """The parent kills the child at random moments while it writes a checkpoint after every design."""
    method = "random"
    rng = np.random.default_rng(0)
    path = tmp_path / "run.safetensors"
    for _ in range(3):
        child = _child(CHILD, method, str(path), str(tmp_path / "result"), INVDESIGN_BUDGET="100000")
        deadline = time.monotonic() + 120
        while not path.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.01)
        time.sleep(float(rng.uniform(0.0, 0.3)))
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
        X, Y = _told(path)
        assert X.shape[0] > 0
        torch.testing.assert_close(Y, _energy(X), rtol=0, atol=0)


BENCH_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import invdesign as ivd
    from invdesign.benchmark import runner
    sys.path.insert(0, os.environ["INVDESIGN_TESTS"])
    from test_benchmark import sphere_task
    from test_faults import CONFIGS

    real = runner.run_cell

    def kill_on_third(problem, config, *, k):
        if config.name == CONFIGS[2].name:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(problem, config, k=k)

    runner.run_cell = kill_on_third
    ivd.benchmark.run([sphere_task()], CONFIGS, 1, out=sys.argv[1], k=8, progress=False)
    """
)

CONFIGS = [
    SolverConfig(name="gd", solver=make("gd"), max_iter=30),
    SolverConfig(name="random", solver=make("random"), max_evals=100),
    SolverConfig(name="cmaes", solver=make("cmaes"), max_evals=100),
]


def test_a_benchmark_killed_mid_suite_keeps_its_finished_cells(tmp_path, monkeypatch):
    child = _child(BENCH_CHILD, str(tmp_path), INVDESIGN_TESTS=str(Path(__file__).parent))
    _, err = child.communicate(timeout=600)
    assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [c["solver"] for c in saved["cells"]] == ["gd", "random"], "the finished cells are on disk, intact"

    from invdesign.benchmark import runner

    real, ran = runner.run_cell, []
    monkeypatch.setattr(runner, "run_cell", lambda p, c, *, k: (ran.append(c.name), real(p, c, k=k))[1])
    table = benchmark.run([sphere_task()], CONFIGS, 1, out=tmp_path, k=8, progress=False)
    assert ran == ["cmaes"], "only the unfinished cell runs again (the cached surrogate is read)"
    assert table.iloc[0]["oracle_best"] == saved["cells"][0]["oracle_best"]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_damaged_checkpoint_is_a_clear_error(tmp_path):
    objective = ivd.Objective(_energy, BOX)
    path = tmp_path / "run.safetensors"
    ivd.minimize(objective, "random", seed=0, max_evals=8, checkpoint=path)
    _truncate(path)
    with pytest.raises(ValueError, match="run.safetensors"):
        ivd.minimize(objective, "random", seed=0, max_evals=16, checkpoint=path)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="run.safetensors"):
        ivd.minimize(objective, "random", seed=0, max_evals=16, checkpoint=path)


def test_a_damaged_model_file_is_a_clear_error(tmp_path):
    path = tmp_path / "model.safetensors"
    ivd.models.save(ivd.models.MLP(3, 1, hidden=(4,)), path)
    _truncate(path)
    with pytest.raises(ValueError, match="model.safetensors"):
        ivd.models.load(path)


def test_a_damaged_cached_surrogate_is_trained_again(tmp_path):
    benchmark.run([sphere_task()], CONFIGS[:1], 1, out=tmp_path, k=8, progress=False)
    (cached,) = (tmp_path / "cache").glob("*surrogate*.safetensors")
    _truncate(cached)
    (tmp_path / "results.json").unlink()
    table = benchmark.run([sphere_task()], CONFIGS[:1], 1, out=tmp_path, k=8, progress=False)
    assert ivd.models.load(cached) is not None, "the damaged cache file was replaced by a retrained model"
    assert np.isfinite(table.iloc[0]["oracle_best"])
