"""A benchmark sweep on an executor: each task and seed prepared once, then its cells fanned out.

`invdesign.benchmark.run` with ``executor=`` hands its unfinished cells here. For each task and
seed one job draws the offline data and trains every model its cells need (the surrogate, and
the ensemble, selected surrogate or decoder where a configuration searches one) into the
sweep's cache folder, so no two workers train the same model; then each cell is a job of its own,
which reads those models from the cache (`invdesign.benchmark.problem.prepare`, safetensors
files written atomically) and returns its record. Records come back as cells finish; the driver
alone writes the result store.

A job whose worker died (`invdesign.cluster.lost_worker`) is submitted again, up to
`invdesign.cluster.RETRIES` times, and then recorded as failed with the error; an error raised by
the work itself is raised in the driver, as in a serial run (finished cells are already stored).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from invdesign.benchmark.configs import SolverConfig
from invdesign.benchmark.problem import Problem, prepare
from invdesign.cluster import RETRIES, Jobs, describe, lost_worker, worker_threads
from invdesign.tasks import Task
from invdesign.tasks import get as get_task


@dataclass(frozen=True)
class Settings:
    """What every job of a sweep shares.

    Attributes:
        k: Designs per configuration.
        n_targets: Test targets per target task.
        n_train: Offline designs per task, or ``None``.
        epochs: Surrogate training epochs, or ``None``.
        cache: The folder the prepared models are cached in (one every worker can read).
        device: Where the search runs (``None``: the default device).
        threads: Torch threads in each worker (``None``: leave them).
    """

    k: int
    n_targets: int
    n_train: int | None
    epochs: int | None
    cache: str
    device: str | None
    threads: int | None


TaskRef = str | Task
"""A task as sent to a worker: a registered task by its name (rebuilt there), any other as itself."""


def task_ref(task: Task) -> TaskRef:
    """How to send ``task`` to a worker: its name when it is the registered task of that name."""
    try:
        return task.name if get_task(task.name) is task else task
    except ValueError:
        return task


_PROBLEMS: dict[tuple[str, int, Settings], Problem] = {}
"""The problem a worker process prepared last, so its next cell of the same task and seed reuses it."""


def _problem(ref: TaskRef, seed: int, settings: Settings) -> Problem:
    """The prepared problem of ``ref`` and ``seed`` in this process (models read from the cache)."""
    task = get_task(ref) if isinstance(ref, str) else ref
    key = (task.name, seed, settings)
    problem = _PROBLEMS.get(key)
    if problem is None:  # a thread pool's workers share this memo: each keeps the problem it made
        problem = prepare(
            task, seed, n_targets=settings.n_targets, n_train=settings.n_train, epochs=settings.epochs,
            cache=settings.cache, device=settings.device,
        )
        _PROBLEMS.clear()
        _PROBLEMS[key] = problem
    return problem


def train_job(ref: TaskRef, seed: int, configs: Sequence[SolverConfig], settings: Settings) -> None:
    """Prepare ``ref`` and ``seed`` and train every model ``configs`` search into the cache."""
    from invdesign.benchmark.runner import searched_model

    worker_threads(settings.threads)
    problem = _problem(ref, seed, settings)
    for config in configs:
        searched_model(problem, config)
        if config.latent:
            _ = problem.decoder


def cell_job(ref: TaskRef, seed: int, config: SolverConfig, settings: Settings) -> dict[str, Any]:
    """Run one cell (`invdesign.benchmark.runner.run_cell`) on its prepared problem; its record."""
    from invdesign.benchmark.runner import run_cell

    worker_threads(settings.threads)
    return run_cell(_problem(ref, seed, settings), config, k=settings.k)


def sweep(
    executor: Executor,
    cells: Sequence[tuple[Task, int, SolverConfig]],
    settings: Settings,
    *,
    retries: int = RETRIES,
) -> Iterator[tuple[tuple[Task, int, SolverConfig], dict[str, Any]]]:
    """Run ``cells`` on ``executor``; yield ``(cell, record)`` as each finishes.

    A cell whose job was lost ``retries + 1`` times (or whose task and seed could not be
    prepared for that reason) is yielded with a record holding only its identifiers and
    ``error``, the last error's text.
    """
    groups: dict[tuple[str, int], list[tuple[Task, int, SolverConfig]]] = {}
    for cell in cells:
        groups.setdefault((cell[0].name, cell[1]), []).append(cell)
    jobs: Jobs[tuple[bool, Any]] = Jobs(executor, retries)
    for group in groups.values():
        task, seed = group[0][0], group[0][1]
        jobs.submit((True, group), train_job, task_ref(task), seed, [c for _, _, c in group], settings)
    while jobs:
        for (training, what), value, error in jobs.finished():
            if error is not None and not lost_worker(error):
                jobs.cancel()
                raise error
            if error is not None:
                for cell in what if training else [what]:
                    yield cell, failed_record(cell, error)
            elif training:
                for cell in what:
                    task, seed, config = cell
                    jobs.submit((False, cell), cell_job, task_ref(task), seed, config, settings)
            else:
                yield what, value


def failed_record(cell: tuple[Task, int, SolverConfig], error: BaseException) -> dict[str, Any]:
    """The record of a cell whose work was lost for good: its identifiers and the error."""
    task, seed, config = cell
    return {
        "task": task.name, "solver": config.name, "seed": seed, "kind": task.kind, "method": config.method,
        "error": describe(error),
    }
