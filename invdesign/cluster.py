"""Executors for parallel work: an embedded Dask cluster, a running one, or any `concurrent.futures.Executor`.

Benchmark sweeps (`invdesign.benchmark.run`'s ``executor=``) and the oracle evaluations of
sample-based solvers (`invdesign.minimize`'s ``executor=``) take any `concurrent.futures.Executor`:
a Dask client's ``get_executor(pure=False)``, a ``ProcessPoolExecutor``, or a Dask ``Client``
itself (its ``get_executor(pure=False)`` is used: every job is new work, so Dask need not hash its
arguments to look for an equal one, which cost about 50 ms per batch of 8 designs). Dask is the
optional ``[dask]`` extra (``pip install -e ".[dask]"``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

LOST_WORKER = frozenset({"KilledWorker", "CommClosedError", "FutureCancelledError", "CancelledError"})
"""Names of the errors an executor raises for work it lost (a dead worker, a closed connection),
rather than an error the work itself raised: such work is submitted again."""
Tag = TypeVar("Tag")
RETRIES = 2
"""Resubmissions of work whose worker died, after the executor's own (Dask retries a dead
worker's tasks itself, up to its ``distributed.scheduler.allowed-failures``)."""


def as_executor(executor: Any) -> Executor:
    """A `concurrent.futures.Executor` from ``executor``: itself, or a Dask ``Client``'s ``get_executor(pure=False)``.

    Raises:
        TypeError: for anything else.
    """
    if isinstance(executor, Executor):
        return executor
    get = getattr(executor, "get_executor", None)
    if callable(get):
        try:
            made = get(pure=False)
        except TypeError:  # an executor factory that is not Dask's
            made = get()
        if isinstance(made, Executor):
            return made
    raise TypeError(
        f"executor must be a concurrent.futures.Executor or a Dask Client, got {type(executor).__name__}"
    )


def lost_worker(error: BaseException) -> bool:
    """Whether ``error`` says the executor lost the work (a dead worker) rather than the work failing."""
    return isinstance(error, BrokenProcessPool) or type(error).__name__ in LOST_WORKER


@contextmanager
def local_cluster(workers: int) -> Iterator[Executor]:
    """An embedded Dask cluster of ``workers`` processes on this machine, as an executor.

    Each worker is a process with one thread (its torch threads are set to one by the work it
    runs, `worker_threads`); the scheduler and the workers listen on the loopback interface only,
    with no dashboard. The cluster shuts down, its processes with it, when the block ends.

    Raises:
        ImportError: naming the ``dask`` extra when it is not installed.
    """
    from invdesign.extras import require

    require("dask")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        with Client(cluster) as client:
            yield client.get_executor(pure=False)
    finally:
        cluster.close()


@contextmanager
def connect(address: str) -> Iterator[Executor]:
    """The executor of a running Dask cluster at ``address`` (``tcp://host:port``).

    Raises:
        ImportError: naming the ``dask`` extra when it is not installed.
    """
    from invdesign.extras import require

    require("dask")
    from distributed import Client

    with Client(address) as client:
        yield client.get_executor(pure=False)


def worker_threads(threads: int | None) -> None:
    """Set torch's threads in a worker process (``None``: leave them)."""
    if threads is not None:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def design_energy(objective: Any, x: Any) -> float:
    """The energy of one design ``x`` ``(1, d)`` under ``objective``: the job a worker runs per design."""
    import torch

    with torch.no_grad():
        return float(objective(x)[0])


class Jobs(Generic[Tag]):
    """Jobs running on an executor, each known by a tag; a job whose worker died is submitted again.

    ``submit(tag, function, *args)`` starts a job; `finished` waits for at least one to end and
    yields ``(tag, value, error)`` for each that ended for good: its value and ``None``, or
    ``None`` and the error it raised. A job lost with its worker (`lost_worker`) is submitted
    again, up to ``retries`` times, before its loss is yielded as its error.
    """

    def __init__(self, executor: Executor, retries: int = RETRIES) -> None:
        self.executor = executor
        self.retries = retries
        self._running: dict[Future[Any], tuple[Tag, Callable[..., Any], tuple[Any, ...], int]] = {}

    def __len__(self) -> int:
        return len(self._running)

    def tags(self) -> list[Tag]:
        """The tags of the jobs still running, in the order they were submitted."""
        return [tag for tag, _, _, _ in self._running.values()]

    def submit(self, tag: Tag, function: Callable[..., Any], *args: Any, attempt: int = 0) -> None:
        self._running[self.executor.submit(function, *args)] = (tag, function, args, attempt)

    def finished(self) -> Iterator[tuple[Tag, Any, BaseException | None]]:
        """Wait for a job to end; ``(tag, value, error)`` of each that ended for good."""
        done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
        for future in done:
            tag, function, args, attempt = self._running.pop(future)
            value, error = outcome(future)
            if error is not None and lost_worker(error) and attempt < self.retries:
                self.submit(tag, function, *args, attempt=attempt + 1)
                continue
            yield tag, value, error

    def cancel(self) -> None:
        """Cancel the jobs still running."""
        for future in self._running:
            future.cancel()
        self._running.clear()


def energies(executor: Executor, objective: Any, x: Any) -> tuple[Any, list[str]]:
    """The energies of designs ``x`` ``(b, d)``, each design a job on ``executor``, shape ``(b,)``.

    A design whose evaluation raised is NaN (a failed design); one whose worker died is
    submitted again (`Jobs`). Also returns the errors, one line each.
    """
    import torch

    energy = torch.full((x.shape[0],), math.nan, dtype=x.dtype, device=x.device)
    errors: list[str] = []
    jobs: Jobs[int] = Jobs(executor)
    for i in range(x.shape[0]):
        jobs.submit(i, design_energy, objective, x[i : i + 1])
    while jobs:
        for i, value, error in jobs.finished():
            if error is None:
                energy[i] = value
            else:
                errors.append(describe(error))
    return energy, errors


def outcome(future: Future[Any]) -> tuple[Any, BaseException | None]:
    """A finished future's value and ``None``, or ``None`` and the error it raised (a cancelled one included)."""
    try:
        return future.result(), None
    except BaseException as error:  # an executor's own errors (a lost worker) are not all Exceptions
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        return None, error


def describe(error: BaseException) -> str:
    """One line naming an error: ``"ValueError: the message"``."""
    return f"{type(error).__name__}: {' '.join(str(error).split())}"
