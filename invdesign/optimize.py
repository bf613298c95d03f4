"""The front door: `minimize` dispatches to a solver by name or takes a solver object."""

from __future__ import annotations

import os
from typing import Any

from torch import Tensor

from invdesign.objective import Objective
from invdesign.result import Result
from invdesign.solvers.base import Callback, Solver, make
from invdesign.starts import StartStrategy


def minimize(
    objective: Objective,
    method: str | Solver = "lbfgs",
    *,
    n_restarts: int | None = None,
    max_iter: int | None = None,
    seed: int | None = None,
    x0: Tensor | StartStrategy | None = None,
    callback: Callback | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    **solver_options: Any,
) -> Result:
    """Minimize an objective's energy over its box.

    Args:
        objective: The energy, an `invdesign.Objective`.
        method: A registered solver name (see `invdesign.solvers.available()`), or a solver
            object such as ``invdesign.solvers.GradientDescent(lr=0.1)``.
        n_restarts: Independent restarts (the solver's default if ``None``).
        max_iter: Iteration budget per restart (the solver's default if ``None``).
        seed: Seed for the starting points and any randomness; the same seed gives the same
            result.
        x0: Starting points: ``None`` for Sobol points of the box, a tensor ``(n, d)`` or
            ``(d,)``, or a start strategy such as `invdesign.starts.FromData`.
        callback: Called after every iteration with a `invdesign.result.Progress`; raising
            ``StopIteration`` ends the run and returns the best designs so far.
        checkpoint: For sample-based methods: a file the run's state is saved to after every
            evaluation batch; if it exists when the run starts, the run resumes from it.
        **solver_options: Options of the named solver (e.g. ``lr=`` for ``"gd"``).

    Returns:
        A `Result`, designs best first.

    Raises:
        ValueError: for an unknown method or bad starting points.
        TypeError: for an option the solver does not have, or a non-objective.
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
        objective, n_restarts=n_restarts, max_iter=max_iter, seed=seed, x0=x0, callback=callback, checkpoint=checkpoint
    )
