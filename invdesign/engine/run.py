"""The state of one `invdesign.minimize` call: clock, history, evaluation count, callback and the
search coordinates; and the assembly of its `Result`.

Solvers see the space only through `Run`: they search in ``run.view``'s coordinates, ask
``run.energy(u)`` for energies (counted here), record iterations and ask the callback.
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from invdesign.cluster import energies
from invdesign.objective import Objective
from invdesign.result import History, Progress, Result, Status, sort_designs
from invdesign.space import SpaceView, UnitCube

_CONSTRAINT_WEIGHT = 10.0
"""Weight of the nonlinear-constraint penalty at the start of a run."""
_CONSTRAINT_GROWTH = 1.05
"""Factor the weight grows by per recorded iteration."""
_CONSTRAINT_WEIGHT_MAX = 1e6

Callback = Callable[[Progress], None]


class Outcome(NamedTuple):
    """What a solver's search hands back to the engine.

    Attributes:
        U: Final search point of every kept restart (or design), shape ``(n, d)``, within the
            search bounds.
        F: Their energies, shape ``(n,)``.
        status: How the search ended.
        message: What happened, for `Result.message`.
        nit: Iterations done.
        generator: A trained generator to hand back in `Result.generator`, or ``None``.
        stopped_at: For each row of ``U``, the iteration at which its own convergence test stopped
            it, 0 for a row that ran to the end of the budget or stopped otherwise (a NaN energy);
            ``None`` when the solver does not say. Read per target of a batch.
    """

    U: Tensor
    F: Tensor
    status: Status
    message: str
    nit: int
    generator: nn.Module | None = None
    stopped_at: Tensor | None = None


@dataclass
class Data:
    """The offline data set of a solver that declares ``data``: designs inside the space and their energies.

    Attributes:
        X: Designs inside the objective's space (its design coordinates), shape ``(N, dim)``.
        E: Their energies under the objective's output energy (no penalties), shape ``(N,)``.
    """

    X: Tensor
    E: Tensor

    def search_points(self, view: UnitCube | SpaceView) -> Tensor:
        """The designs in ``view``'s search coordinates, shape ``(N, d)`` (a mixed space's polish searches a sub-view)."""
        return view.to_search(self.X)


@dataclass
class Run:
    """One `invdesign.minimize` call as the solver sees it.

    Attributes:
        objective: The objective being minimized.
        view: The search coordinates (`invdesign.space.UnitCube` of a box, `invdesign.space.SpaceView`
            of a space).
        callback: The user's callback, or ``None``.
        data: The offline data set, for solvers that declare ``data``; else ``None``.
        history: The per-iteration trace.
        nfev: Objective evaluations (designs) so far.
        constraint_weight: Weight of the nonlinear-constraint penalty ``sum_j relu(g_j(x))`` added
            to the energy of a space with nonlinear constraints; it grows by 5% per recorded
            iteration (from 10 to at most 1e6), so that late iterations are pushed onto the
            feasible set.
        which: For an objective with a batch of targets searched in one batch: the target of
            each restart row, ``(n,)``; ``None`` otherwise.
        row_evals: With ``which``: evaluations of each restart row so far, ``(n,)``.
        rows_per_pass: The most rows one forward and backward pass may hold
            (`invdesign.engine.chunks.batch_limit`), set by the engine before a restart solver's
            search; ``None`` elsewhere.
        errors: The errors raised by designs evaluated on an executor (`evaluate_on`), one line each.
    """

    objective: Objective
    view: UnitCube | SpaceView
    callback: Callback | None = None
    data: Data | None = None
    history: History = field(default_factory=History)
    nfev: int = 0
    constraint_weight: float = _CONSTRAINT_WEIGHT
    t0: float = field(default_factory=time.perf_counter)
    which: Tensor | None = None
    row_evals: Tensor | None = None
    rows_per_pass: int | None = None
    errors: list[str] = field(default_factory=list)

    def energy(self, u: Tensor, rows: Tensor | None = None, *, align: int = 1) -> Tensor:
        """Energies of search points ``u`` ``(b, d)``, shape ``(b,)``; counted; differentiable when ``u`` is.

        ``rows``: for a batch of targets, which restart rows ``u`` holds (``(b,)`` indices into
        ``which``); ``None`` for all of them, in order. ``align``: see `evaluate`.
        """
        return self.evaluate(self.view.to_design(u), rows, align=align)

    def evaluate(self, x: Tensor, rows: Tensor | None = None, *, align: int = 1) -> Tensor:
        """Energies of points ``x`` ``(b, d)`` of the objective's space, shape ``(b,)``; counted.

        For a space with nonlinear constraints, ``constraint_weight`` times their violation is added.
        ``rows`` as for `energy`. ``align``: the model sees a whole multiple of ``align`` rows (the
        last row repeated; the repeats are neither counted nor returned), so that each row's energy
        does not depend on the size of the batch it came in (`invdesign.engine.chunks`).
        """
        b = x.shape[0]
        self.nfev += b
        if self.which is not None and self.row_evals is not None:
            if rows is None:
                if b != self.which.shape[0]:
                    raise ValueError(f"{b} points of a batch of {self.which.shape[0]} target rows: say which rows")
                rows = torch.arange(b, device=self.which.device)
            self.row_evals.index_add_(0, rows, torch.ones_like(rows))
        pad = -b % align
        seen = torch.cat([x, x[-1:].expand(pad, -1)]) if pad else x
        if self.which is not None and rows is not None:
            energy = self.objective.rows(seen, self.which[torch.cat([rows, rows[-1:].expand(pad)]) if pad else rows])[:b]
        else:
            energy = self.objective(seen)[:b] if pad else self.objective(seen)
        return self.constrained(x, energy)

    def evaluate_on(self, executor: Executor, x: Tensor) -> Tensor:
        """Energies of points ``x`` ``(b, d)`` of the objective's space, each a job on ``executor``,
        shape ``(b,)``; counted. A design whose evaluation raised is NaN, its error kept in `errors`
        (`invdesign.cluster.energies`)."""
        self.nfev += x.shape[0]
        energy, errors = energies(executor, self.objective, x)
        self.errors += errors
        return self.constrained(x, energy)

    def constrained(self, x: Tensor, energy: Tensor) -> Tensor:
        """``energy`` of designs ``x`` plus the weighted violation of a space's nonlinear constraints."""
        if self.objective.space.nonlinear:
            energy = energy + self.constraint_weight * self.objective.space.nonlinear_violation(x)
        return energy

    def record(self, nit: int, best: float, n_active: int, fit_time: float = 0.0) -> None:
        """Add one iteration to the history (and grow the nonlinear-constraint weight)."""
        self.history.record(nit, best, self.nfev, n_active, fit_time)
        self.constraint_weight = min(self.constraint_weight * _CONSTRAINT_GROWTH, _CONSTRAINT_WEIGHT_MAX)

    def stop_requested(self, best: Callable[[], tuple[Tensor, float]], *, search: bool = True) -> bool:
        """Show the callback the best point so far; True if it raised ``StopIteration``.

        Args:
            best: Returns the best point ``(d,)`` and its energy; called only when there is a
                callback.
            search: Whether ``best`` returns a search point (``True``) or a point of the
                objective's space.
        """
        if self.callback is None:
            return False
        u, fun = best()
        with torch.no_grad():
            z = self.view.designs(u.unsqueeze(0))[0] if search else u.detach().clone()
            latent = self.objective.decoder is not None
            x = self.objective.decode(z.unsqueeze(0))[0] if latent else z
        h = self.history
        progress = Progress(
            nit=h.iteration[-1] if h.iteration else 0,
            nfev=h.nfev[-1] if h.nfev else self.nfev,
            x=x.clone(),
            fun=fun,
            elapsed=time.perf_counter() - self.t0,
            z=z.clone() if latent else None,
        )
        try:
            self.callback(progress)
        except StopIteration:
            return True
        return False


def assemble(
    name: str,
    options: dict[str, Any],
    run: Run,
    outcome: Outcome,
    *,
    X: Tensor | None = None,
    nfev: int | None = None,
    bound: float | None = None,
) -> Result:
    """The `Result`: designs sorted best first, decoded when the objective has a decoder.

    Args:
        name: The solver's registry name.
        options: What the result records of the call.
        run: The run.
        outcome: The search's outcome; its ``U`` are mapped to the objective's space.
        X: The points of the objective's space themselves, when the solver has them exactly
            (told designs of a sample-based run); shape ``(n, d)``.
        nfev: Evaluations to report, when the run counted only part of them (a resumed run).
        bound: A certified lower bound on the energy over the space (`Result.bound`); the
            result's ``gap`` is the best energy minus it.
    """
    points = run.view.designs(outcome.U.detach()) if X is None else X.detach()
    objective = run.objective
    space = objective.space
    F = outcome.F.detach()
    if space.nonlinear:
        # The energies without the penalty, so that F is the objective's; feasibility says the rest.
        with torch.no_grad():
            F = torch.where(torch.isfinite(F), objective(points), F)
    feasible = space.feasible(points) if objective.decoder is None else torch.ones_like(F, dtype=torch.bool)
    order = sort_designs(F, feasible)
    Z, F, feasible = points[order], F[order], feasible[order]
    latent = objective.decoder is not None
    with torch.no_grad():
        designs = objective.decode(Z) if latent else Z
        # The best design decoded on its own, so that ``x == decoder(z)`` holds to the bit (a batch
        # of one can round differently from a larger batch).
        x = objective.decode(Z[:1])[0] if latent else Z[0]
    status = outcome.status if torch.isfinite(F[0]) else Status.FAILED
    message = outcome.message
    n_infeasible = int((~feasible).sum())
    if n_infeasible:
        message += f" {n_infeasible} of {F.shape[0]} designs break a constraint (ranked last; see Result.feasible)."
    return Result(
        x=x,
        fun=float(F[0]),
        X=designs,
        F=F,
        success=status is not Status.FAILED,
        status=status,
        message=message,
        nit=outcome.nit,
        nfev=run.nfev if nfev is None else nfev,
        runtime=time.perf_counter() - run.t0,
        history=run.history,
        solver=name,
        options=options,
        z=Z[0] if latent else None,
        Z=Z if latent else None,
        generator=outcome.generator,
        feasible=feasible,
        space=None if latent else space,
        bound=bound,
        gap=None if bound is None else float(F[0]) - bound,
    )


def count(name: str, value: Any, *, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``, or a clear error naming ``name``.

    Raises:
        TypeError: for a value that is not an integer (``True`` and ``2.0`` included).
        ValueError: for an integer below ``minimum``.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_seed(seed: Any) -> int | None:
    """``seed`` as an int in ``[0, 2**63)``, or ``None``.

    Raises:
        TypeError: for a seed that is not an integer.
        ValueError: for a negative seed or one of 2**63 or more.
    """
    if seed is None:
        return None
    seed = count("seed", seed, minimum=0)
    if seed >= 2**63:
        raise ValueError(f"seed must be below 2**63, got {seed}")
    return seed


def best_of(U: Tensor, F: Tensor) -> Callable[[], tuple[Tensor, float]]:
    """A `Run.stop_requested` argument: the lowest finite energy of ``F`` ``(n,)`` and its point of ``U`` ``(n, d)``."""

    def best() -> tuple[Tensor, float]:
        key = torch.where(torch.isfinite(F), F, torch.full_like(F, math.inf))
        i = int(torch.argmin(key))
        return U[i], float(F[i])

    return best
