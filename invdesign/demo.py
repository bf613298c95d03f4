"""The demonstration behind ``invdesign demo``: data, surrogate, search, and re-simulation with the oracle."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

from invdesign import solvers
from invdesign.models import fit_mlp
from invdesign.objective import Objective
from invdesign.optimize import minimize
from invdesign.result import Progress, Result
from invdesign.tasks import Task


@dataclass
class DemoRow:
    """One solver's outcome on one task.

    Attributes:
        task: Task name.
        solver: Solver name.
        surrogate: The surrogate's energy of the best design (what the solver minimized).
        oracle: The oracle's verdict on the same design: its value (minimize tasks) or its squared
            error to the target (target tasks).
        regret: ``oracle - task.optimum`` for minimize tasks with a known optimum, else ``None``.
        nfev: Surrogate evaluations.
        seconds: Wall-clock seconds of the search.
    """

    task: str
    solver: str
    surrogate: float
    oracle: float
    regret: float | None
    nfev: int
    seconds: float


def run_demo(
    task: Task,
    *,
    n_train: int,
    n_restarts: int,
    methods: tuple[str, ...] = ("gd", "lbfgs"),
    seed: int = 0,
    epochs: int = 300,
    progress: bool = True,
) -> list[DemoRow]:
    """Sample data from the task's prior, fit an MLP surrogate, search it, re-simulate the designs.

    For a target task the goal is a random target output ``y* = f(x)`` of a fresh prior sample.

    Args:
        task: A built-in or registered task.
        n_train: Training designs drawn from the prior.
        n_restarts: Restarts per solver (for solvers whose budget counts iterations of restarts).
        methods: Registered solver names to run.
        seed: Seeds the data, the surrogate, the target and the searches.
        epochs: Maximum training epochs of the surrogate.
        progress: Show progress bars.

    Returns:
        One `DemoRow` per solver.
    """
    X, Y = task.make_data(n_train, seed=seed)
    surrogate, report = fit_mlp(X, Y, hidden=(64, 64, 64), epochs=epochs, seed=seed, progress=progress)
    if progress:
        tqdm.write(f"{task.name}: surrogate validation MSE {report.best_val_mse_raw:.3g} ({report.seconds:.1f} s)")
    target = task.sample_targets(1, seed=seed)[0] if task.kind == "target" else None
    objective = Objective(surrogate, task.space, target=target)
    rows = []
    for name in methods:
        with tqdm(desc=f"{task.name}: {name}", unit="it", disable=not progress, leave=False) as bar:

            def tick(p: Progress, bar: tqdm = bar) -> None:
                bar.set_postfix(best=f"{p.fun:.3g}", refresh=False)
                bar.update()

            start = time.perf_counter()
            caps = solvers.get(name).capabilities
            restarts = n_restarts if caps.x0 and caps.budget == "iterations" else None
            result = minimize(objective, name, n_restarts=restarts, seed=seed, callback=tick)
            assert isinstance(result, Result)  # one target per call
            seconds = time.perf_counter() - start
        with torch.no_grad():
            y_true = task.oracle(result.x.unsqueeze(0))[0]
        if target is None:
            oracle = float(y_true[0])
            regret = None if task.optimum is None else oracle - task.optimum
        else:
            oracle, regret = float((y_true - target).square().mean()), None
        rows.append(DemoRow(task.name, name, result.fun, oracle, regret, result.nfev, seconds))
    return rows


def format_table(rows: list[DemoRow]) -> str:
    """A Markdown table of demo rows."""
    lines = [
        "| task | solver | surrogate energy | oracle | regret | evaluations | seconds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        regret = "" if r.regret is None else f"{r.regret:.3g}"
        lines.append(
            f"| {r.task} | {r.solver} | {r.surrogate:.3g} | {r.oracle:.3g} | {regret} | {r.nfev} | {r.seconds:.2f} |"
        )
    return "\n".join(lines)
