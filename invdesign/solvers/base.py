"""The solver contract, the registry of solvers by name, and the run loop every solver shares."""

from __future__ import annotations

import dataclasses
import operator
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor

from invdesign.objective import Objective
from invdesign.result import History, Progress, Result, Status, sort_designs
from invdesign.starts import StartStrategy, initial_points

Callback = Callable[[Progress], None]

_REGISTRY: dict[str, type[Solver]] = {}


class Outcome(NamedTuple):
    """What a solver's search hands back to `Solver.minimize`.

    Attributes:
        Z: Final search point of every kept restart, shape ``(n, d)``, inside the box.
        F: Their energies, shape ``(n,)``.
        status: How the search ended.
        message: What happened, for `Result.message`.
        nit: Iterations done.
    """

    Z: Tensor
    F: Tensor
    status: Status
    message: str
    nit: int


class Run:
    """The state of one `Solver.minimize` call that a search reports into.

    Args:
        objective: The objective being minimized.
        callback: The user's callback, or ``None``.
    """

    def __init__(self, objective: Objective, callback: Callback | None) -> None:
        self.objective = objective
        self.callback = callback
        self.history = History()
        self.t0 = time.perf_counter()
        self._evals0 = objective.n_evals

    @property
    def nfev(self) -> int:
        """Objective evaluations (designs) since the run started, start points included."""
        return self.objective.n_evals - self._evals0

    def record(self, nit: int, best: float, n_active: int) -> None:
        """Add one iteration to the history."""
        self.history.record(nit, best, self.nfev, n_active)

    def stop_requested(self, best: Callable[[], tuple[Tensor, float]]) -> bool:
        """Show the callback the best point so far; True if it raised ``StopIteration``.

        Args:
            best: Returns the best search point ``(d,)`` and its energy; called only when there is
                a callback.
        """
        if self.callback is None:
            return False
        z, fun = best()
        with torch.no_grad():
            x = self.objective.decode(z.unsqueeze(0))[0] if self.objective.decoder is not None else z
        h = self.history
        progress = Progress(
            nit=h.iteration[-1],
            nfev=self.nfev,
            x=x,
            fun=fun,
            elapsed=h.time[-1],
            z=z if self.objective.decoder is not None else None,
        )
        try:
            self.callback(progress)
        except StopIteration:
            return True
        return False


class Solver(ABC):
    """A solver: a frozen, keyword-only dataclass of options with a `minimize` method.

    Subclasses set the class attributes below and register themselves with `register`.
    `RestartSolver` (gradient methods improving a batch of restarts) and
    `invdesign.solvers.ask_tell.SampleSolver` (methods that only evaluate) implement `minimize`.

    Attributes:
        name: Registry name, used as ``invdesign.minimize(..., method=name)``.
        requires_gradients: Whether the objective must be differentiable.
        default_restarts: Restarts when the caller gives none.
        default_max_iter: Iteration budget when the caller gives none.
    """

    name: ClassVar[str]
    requires_gradients: ClassVar[bool]
    default_restarts: ClassVar[int]
    default_max_iter: ClassVar[int]

    @abstractmethod
    def minimize(
        self,
        objective: Objective,
        *,
        n_restarts: int | None = None,
        max_iter: int | None = None,
        seed: int | None = None,
        x0: Tensor | StartStrategy | None = None,
        callback: Callback | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
    ) -> Result:
        """Minimize ``objective``; see `invdesign.minimize` for the arguments."""

    @property
    def options(self) -> dict[str, Any]:
        """The solver's options as a plain dict."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def iteration_budget(self, max_iter: int | None) -> int:
        """``max_iter`` checked (a non-negative integer), or the solver's default when ``None``."""
        return self.default_max_iter if max_iter is None else count("max_iter", max_iter, minimum=0)

    def check(self, objective: Objective) -> None:
        """Raise if this solver cannot run on ``objective``."""
        if self.requires_gradients and not objective.differentiable:
            others = sorted(n for n, cls in _REGISTRY.items() if not cls.requires_gradients)
            hint = f" Use a gradient-free method: {', '.join(others)}." if others else ""
            raise TypeError(
                f"method {self.name!r} needs gradients, but no gradient reaches the search point through "
                f"the objective (a NumPy, detached or no_grad model).{hint}"
            )


class RestartSolver(Solver):
    """A solver that improves a batch of restarts; `minimize` is the run loop they share.

    `minimize` checks the objective, resolves and evaluates the starting points (dropping those
    whose energy is NaN), calls `search`, and assembles the `Result`.
    """

    def minimize(
        self,
        objective: Objective,
        *,
        n_restarts: int | None = None,
        max_iter: int | None = None,
        seed: int | None = None,
        x0: Tensor | StartStrategy | None = None,
        callback: Callback | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
    ) -> Result:
        if checkpoint is not None:
            raise ValueError(
                f"checkpoint= is for the sample-based methods; a {self.name!r} run is one batched search"
            )
        run = Run(objective, callback)
        self.check(objective)
        max_iter = self.iteration_budget(max_iter)
        starts = initial_points(objective, n_restarts, x0, seed, default_n=self.default_restarts)
        starts, f0, dropped = _drop_failed_starts(objective, starts)
        run.record(0, float(f0.min()), starts.shape[0])
        outcome = self.search(objective, starts, f0, max_iter=max_iter, run=run)
        message = " ".join(m for m in (outcome.message, dropped) if m)
        options = {**self.options, "n_restarts": starts.shape[0], "max_iter": max_iter, "seed": seed}
        return assemble(self.name, options, objective, outcome._replace(message=message), run)

    @abstractmethod
    def search(self, objective: Objective, starts: Tensor, f0: Tensor, *, max_iter: int, run: Run) -> Outcome:
        """Search from ``starts``.

        Args:
            objective: The objective.
            starts: Starting points with finite energy, shape ``(n, d)``.
            f0: Their energies, shape ``(n,)``.
            max_iter: Iteration budget.
            run: Where to record history and ask the callback.
        """


def register(cls: type[Solver]) -> type[Solver]:
    """Class decorator adding a solver to the registry under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"a solver named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Names of the registered solvers."""
    return sorted(_REGISTRY)


def get(name: str) -> type[Solver]:
    """The solver class registered as ``name``.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(available())}") from None


def make(name: str, **options: Any) -> Solver:
    """Build the solver ``name`` with ``options``.

    Raises:
        TypeError: naming any option the solver does not have.
    """
    cls = get(name)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"for method {name!r}; its options are: {', '.join(sorted(known)) or 'none'}"
        )
    return cls(**options)


def count(name: str, value: Any, *, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``, or a clear error naming ``name``."""
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _drop_failed_starts(objective: Objective, starts: Tensor) -> tuple[Tensor, Tensor, str]:
    """Evaluate the starting points ``(n, d)`` and drop those with a NaN or infinite energy.

    Returns:
        ``(kept starts (m, d), their energies (m,), note)``; the note is empty when none was dropped.

    Raises:
        ValueError: if the energy is NaN or infinite at every starting point.
    """
    with torch.no_grad():
        f = objective(starts)
    ok = torch.isfinite(f)
    n_bad = int((~ok).sum())
    if n_bad == starts.shape[0]:
        raise ValueError(
            f"the objective is NaN or infinite at all {n_bad} starting points; check the model and the box"
        )
    if n_bad == 0:
        return starts, f, ""
    return starts[ok], f[ok], f"{n_bad} of {starts.shape[0]} restarts dropped: energy NaN or infinite at their start."


def assemble(name: str, options: dict[str, Any], objective: Objective, outcome: Outcome, run: Run) -> Result:
    """The `Result`: restarts sorted best first, decoded when the objective has a decoder."""
    Z, F = sort_designs(outcome.Z.detach(), outcome.F.detach())
    latent = objective.decoder is not None
    with torch.no_grad():
        X = objective.decode(Z) if latent else Z
        # The best design decoded on its own, so that ``x == decoder(z)`` holds to the bit (a batch
        # of one can round differently from a larger batch).
        x = objective.decode(Z[:1])[0] if latent else Z[0]
    status = outcome.status if torch.isfinite(F[0]) else Status.FAILED
    return Result(
        x=x,
        fun=float(F[0]),
        X=X,
        F=F,
        success=status is not Status.FAILED,
        status=status,
        message=outcome.message,
        nit=outcome.nit,
        nfev=run.nfev,
        runtime=time.perf_counter() - run.t0,
        history=run.history,
        solver=name,
        options=options,
        z=Z[0] if latent else None,
        Z=Z if latent else None,
    )
