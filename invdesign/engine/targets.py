"""A batch of target problems in one `invdesign.minimize` call: an objective with ``(T, k)`` targets.

A solver that declares `Capabilities.batches_targets` searches every target in one run
(`invdesign.engine.solver.Solver.batches`): the restart solvers (``gd``, ``lbfgs``) hold every
target's restarts in one batch, row ``i`` belonging to target ``Run.which[i]`` and judged against
it (`invdesign.Objective.rows`), so each forward and backward pass serves all targets and each
restart stops by its own test; ``amortized`` trains one conditional generator for all of them.
The others run the targets one after another, each as its own call on ``objective[t]``. Either
way the result is a `invdesign.result.BatchResult`.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from invdesign.engine.run import Outcome, Run
from invdesign.result import BatchResult, Result, Status
from invdesign.starts import FromData

if TYPE_CHECKING:
    from invdesign.engine.solver import Call, Solver
    from invdesign.objective import Objective


def one_at_a_time(solver: Solver, objective: Objective, call: dict[str, Any]) -> BatchResult:
    """Each target's own run (`Solver.solve`, its call checked) on ``objective[t]``, in order.

    ``x0`` of shape ``(T, n, d)`` gives target ``t`` its row ``x0[t]``; a checkpoint path
    ``run.safetensors`` becomes ``run.target{t}.safetensors`` per target, so a killed batch resumes
    target by target.
    """
    assert objective.targets is not None
    t0 = time.perf_counter()
    x0, checkpoint = call.get("x0"), call.get("checkpoint")
    T = objective.targets.shape[0]
    per_target = _per_target(x0, T)
    results = []
    for t in range(T):
        own = dict(call)
        if per_target:
            assert isinstance(x0, Tensor)
            own["x0"] = x0[t]
        if checkpoint is not None:  # a non-empty path: `Solver.check_call` has seen it
            stem, suffix = os.path.splitext(os.fspath(checkpoint))
            own["checkpoint"] = f"{stem}.target{t}{suffix}"
        result = solver.solve(objective[t], solver.check_call(objective[t], **own))
        assert isinstance(result, Result)  # one target's objective
        results.append(result)
    return BatchResult(results, objective.targets, solver.name, time.perf_counter() - t0)


def starts(objective: Objective, call: Call, default_n: int) -> Tensor:
    """Each target's starting points, points of the space, ``(T, n, d)``.

    ``x0``: ``None`` gives Sobol points, different for each target; ``FromData`` the data designs
    nearest each target plus Sobol points (`FromData.for_targets`); a tensor ``(n, d)`` is shared
    by every target, ``(T, n, d)`` gives each its own.

    Raises:
        ValueError: for an ``x0`` whose shape fits neither, or ``n_restarts`` that disagrees with it.
        TypeError: for another start strategy (it draws starts for one target).
    """
    from invdesign.starts import initial_points

    assert objective.targets is not None
    T, x0, n = objective.targets.shape[0], call.x0, call.n_restarts
    if x0 is None:
        return objective.space.sample(T * (n or default_n), seed=call.seed).reshape(T, n or default_n, -1)
    if isinstance(x0, FromData):
        points = x0.for_targets(objective, n or x0.default_count(objective, default_n), call.seed)
        check = initial_points(objective[0], None, points.reshape(-1, points.shape[-1]), None, default_n=default_n)
        return check.reshape(points.shape)
    if _per_target(x0, T):
        assert isinstance(x0, Tensor)
        flat = initial_points(objective[0], None if n is None else n * T, x0.reshape(-1, x0.shape[-1]), None, default_n=default_n)
        return flat.reshape(T, x0.shape[1], -1)
    if callable(x0) and not isinstance(x0, Tensor):
        raise TypeError("a start strategy draws starts for one target: give FromData, or an x0 tensor of shape (T, n, d)")
    shared = initial_points(objective[0], n, x0, call.seed, default_n=default_n)
    return shared.unsqueeze(0).expand(T, *shared.shape).clone()


def hold_rows(run: Run, T: int, n: int, device: torch.device) -> None:
    """Make ``run`` hold ``n`` rows per target of ``T`` in one batch: row ``i`` belongs to target
    ``i // n`` (`Run.which`, judged against it) and its evaluations are counted per row (`Run.row_evals`)."""
    run.which = torch.arange(T, device=device).repeat_interleave(n)
    run.row_evals = torch.zeros_like(run.which)


def split(run: Run, outcome: Outcome, dropped_evals: Tensor | None = None) -> list[tuple[Run, Outcome]]:
    """The run and outcome of one batch, cut into one per target.

    Each target's run holds its own objective (``objective[t]``), its evaluations (plus
    ``dropped_evals[t]``, those of its starts dropped before the search) and a copy of the
    batch's history. A target whose restarts all converged before the budget has status
    ``CONVERGED`` and ``nit`` the last of their stopping iterations; otherwise the batch's.
    """
    assert run.which is not None and run.row_evals is not None and run.objective.targets is not None
    parts = []
    for t in range(run.objective.targets.shape[0]):
        rows = (run.which == t).nonzero().flatten()
        stopped = None if outcome.stopped_at is None else outcome.stopped_at[rows]
        status, nit = outcome.status, outcome.nit
        n_stopped = 0 if stopped is None else int((stopped > 0).sum())
        if stopped is not None and n_stopped == rows.numel() and status is not Status.STOPPED:
            status, nit = Status.CONVERGED, int(stopped.max())
        message = f"target {t}: {n_stopped} of {rows.numel()} restarts stopped by their own test; the batch {_lower(outcome.message)}"
        nfev = int(run.row_evals[rows].sum()) + (0 if dropped_evals is None else int(dropped_evals[t]))
        own = dataclasses.replace(
            run, objective=run.objective[t], which=None, row_evals=None, nfev=nfev, history=copy.deepcopy(run.history)
        )
        parts.append((own, outcome._replace(U=outcome.U[rows], F=outcome.F[rows], status=status, message=message, nit=nit, stopped_at=stopped)))
    return parts


def check_starts(which: Tensor, ok: Tensor, T: int) -> None:
    """Refuse a batch in which some target has no start of finite energy (naming the targets)."""
    alive = torch.zeros(T, dtype=torch.bool, device=which.device)
    alive[which[ok]] = True
    if not bool(alive.all()):
        dead = (~alive).nonzero().flatten().tolist()
        raise ValueError(
            f"the objective is NaN or infinite at every starting point of targets {dead[:10]}; check the model, "
            "the box and those targets"
        )


def _per_target(x0: Any, T: int) -> bool:
    """Whether ``x0`` gives each of ``T`` targets its own starts (a ``(T, n, d)`` tensor).

    Raises:
        ValueError: for a ``(T', n, d)`` tensor with ``T'`` other than ``T``.
    """
    if not (isinstance(x0, Tensor) and x0.ndim == 3):
        return False
    if x0.shape[0] != T:
        raise ValueError(f"x0 of shape {tuple(x0.shape)} gives starts for {x0.shape[0]} targets, but the objective holds {T}")
    return True


def _lower(message: str) -> str:
    return message[:1].lower() + message[1:] if message else message
