"""The front door: `minimize` dispatches to a solver by name or takes a solver object."""

from __future__ import annotations

import os
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from torch import Tensor

from invdesign.engine import Callback, Solver, make
from invdesign.objective import Objective
from invdesign.result import BatchResult, Result
from invdesign.starts import StartStrategy

if TYPE_CHECKING:
    import pandas


def minimize(
    objective: Objective,
    method: str | Solver = "lbfgs",
    *,
    n_restarts: int | None = None,
    max_iter: int | None = None,
    max_evals: int | None = None,
    seed: int | None = None,
    x0: Tensor | pandas.DataFrame | StartStrategy | None = None,
    callback: Callback | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    executor: Executor | Any | None = None,
    asynchronous: bool = False,
    **solver_options: Any,
) -> Result | BatchResult:
    """Minimize an objective's energy over its space (a `Box`, or a named, mixed, constrained `Space`).

    Args:
        objective: The energy, an `invdesign.Objective`.
        method: A registered solver name (see `invdesign.solvers.available()`), or a solver
            object such as ``invdesign.solvers.GradientDescent(lr=0.1)``.
        n_restarts: How many starting points the search begins from: the restarts of a
            restart solver (``gd``, ``lbfgs``, ``ga``), the designs a sample-based solver
            evaluates first. ``None``: the rows of an ``x0`` tensor, else the solver's default.
            Refused by solvers without starting points (``amortized``).
        max_iter: The iteration budget of a solver whose budget counts iterations: steps of
            each restart (``gd``, ``ga``), L-BFGS-B iterations of each restart (``lbfgs``),
            training steps (``amortized``); ``0`` returns the evaluated starting points (one
            batch of the untrained generator). ``None``: the solver's default.
        max_evals: The evaluation budget (designs evaluated, starting points included) of a
            solver whose budget counts evaluations (``random``, ``bo``, ``turbo``, ``cmaes``).
            ``None``: the solver's default.
        seed: Seed for the starting points and any randomness; the same seed gives the same
            result.
        x0: Starting points: ``None`` for Sobol points of the space, a tensor ``(n, d)`` or
            ``(d,)``, a pandas DataFrame of designs (one column per variable of a `Space`), or a start strategy such as `invdesign.starts.FromData`.
        callback: Called after every iteration with a `invdesign.result.Progress` (holding
            copies: editing them changes nothing); raising ``StopIteration`` ends the run and
            returns the best designs so far.
        checkpoint: For solvers that can resume (``ivd.solvers.capable(lambda c:
            c.checkpoint)``): a file the run's state is saved to after every evaluation batch;
            if it exists when the run starts, the run resumes from it.
        executor: For the sample-based solvers (``random``, ``bo``, ``turbo``, ``cmaes``): a
            `concurrent.futures.Executor` or a Dask ``Client`` (`invdesign.cluster`) that
            evaluates each design of a batch as a job of its own, in parallel. A design whose
            evaluation raises is a failed design (NaN energy; the errors are in the result's
            message) and the run goes on; one whose worker died is submitted again
            (`invdesign.cluster.RETRIES` times). The designs are the same as without it.
        asynchronous: With an ``executor``, for solvers that declare ``asynchronous`` (``bo``,
            ``turbo``, ``random``): keep ``batch`` designs in flight and, as soon as some come back,
            ask for as many new ones in one ask as workers are free, those still running passed to
            the solver as pending (BoTorch's ``X_pending``). Faster when evaluation times vary; the designs then depend on the
            order the workers finish in.
        **solver_options: Options of the named solver (e.g. ``lr=`` for ``"gd"``).

    Returns:
        A `Result`, designs best first; for an objective with a batch of ``(T, k)`` targets, a
        `BatchResult` holding one per target (``result[t]``; ``result.X`` is ``(T, n, d)``), all
        targets searched in one run by solvers that declare ``batches_targets`` (``gd`` and
        ``lbfgs`` hold every target's restarts in one batch, ``amortized`` trains one
        conditional generator for them) and one after another by the others. ``n_restarts``
        then counts restarts per target, ``x0`` may be ``(T, n, d)`` (each target its own
        starts) or ``(n, d)`` (shared), and the callback sees the best design over all targets,
        each judged against its own target.

    Every call is checked against the solver's `invdesign.engine.Capabilities` first: what a
    solver cannot do (gradients of a NumPy model, starting points, a checkpoint, the other
    budget, a kind of variable or constraint of the space) is a ``TypeError`` naming the solvers
    that can.

    On a `Space`, every returned design is feasible (bounds, fixed values, integers, one-hot
    categoricals, compositions, linear constraints); designs that break a nonlinear constraint
    are ranked after the feasible ones and marked in ``Result.feasible``. ``Result.designs`` is
    the table of designs, one column per variable.

    Raises:
        ValueError: for an unknown method, bad starting points, budgets or seed.
        TypeError: for an option the solver does not have, a non-objective, or what the solver
            cannot do.
    """
    if not isinstance(objective, Objective):
        raise TypeError(f"minimize needs an invdesign.Objective, got {type(objective).__name__}")
    if isinstance(method, Solver):
        if solver_options:
            raise TypeError(
                f"options {sorted(solver_options)} were given beside a solver object; "
                "set them on the solver instead"
            )
        solver = method
    elif isinstance(method, str):
        solver = make(method, **solver_options)
    else:
        raise TypeError(f"method must be a solver name or a Solver object, got {type(method).__name__}")
    return solver.minimize(
        objective,
        n_restarts=n_restarts,
        max_iter=max_iter,
        max_evals=max_evals,
        seed=seed,
        x0=x0,
        callback=callback,
        checkpoint=checkpoint,
        executor=executor,
        asynchronous=asynchronous,
    )
