"""The solver contract, the registry of solvers by name, and what every solver shares."""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor

from invdesign.objective import Objective
from invdesign.result import History, Progress, Result, Status, sort_designs
from invdesign.starts import StartStrategy

Callback = Callable[[Progress], None]

_REGISTRY: dict[str, type[Solver]] = {}


class Solver(ABC):
    """A solver: a frozen, keyword-only dataclass of options with one `minimize` method.

    Subclasses set the class attributes below and register themselves with `register`.

    Attributes:
        name: Registry name, used as ``invdesign.minimize(..., method=name)``.
        requires_gradients: Whether the objective must be differentiable.
        batched: Whether restarts are evaluated together as one batch.
    """

    name: ClassVar[str]
    requires_gradients: ClassVar[bool]
    batched: ClassVar[bool]

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
    ) -> Result:
        """Minimize ``objective``; see `invdesign.minimize` for the arguments."""

    @property
    def options(self) -> dict[str, Any]:
        """The solver's options as a plain dict."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def check(self, objective: Objective) -> None:
        """Raise if this solver cannot run on ``objective``."""
        if self.requires_gradients and not objective.differentiable:
            others = sorted(n for n, cls in _REGISTRY.items() if not cls.requires_gradients)
            hint = f" Use a gradient-free method: {', '.join(others)}." if others else ""
            raise TypeError(
                f"method {self.name!r} needs gradients, but the objective's output carries none "
                f"(a NumPy or no_grad model).{hint}"
            )


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


def drop_failed_starts(objective: Objective, starts: Tensor) -> tuple[Tensor, Tensor, str]:
    """Evaluate the starting points and drop those with a NaN or infinite energy.

    Args:
        objective: The objective.
        starts: Starting points, shape ``(n, d)``.

    Returns:
        ``(kept_starts (m, d), their energies (m,), note)``; ``note`` is empty when none was dropped.

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


def finish(
    solver: Solver,
    objective: Objective,
    Z: Tensor,
    F: Tensor,
    *,
    status: Status,
    message: str,
    nit: int,
    nfev: int,
    t0: float,
    history: History,
) -> Result:
    """Assemble the `Result`: sort restarts best first and decode them.

    Args:
        Z: Final search points of every kept restart, shape ``(n, d)``.
        F: Their energies, shape ``(n,)``.
    """
    Z, F, _ = sort_designs(Z.detach(), F.detach())
    if not torch.isfinite(F[:1]).all():
        status, message = Status.FAILED, (message + " No finite energy was reached.").strip()
    with torch.no_grad():
        X = objective.decode(Z) if objective.decoder is not None else Z
    latent = objective.decoder is not None
    return Result(
        x=X[0],
        fun=float(F[0]),
        X=X,
        F=F,
        success=status is not Status.FAILED,
        status=status,
        message=message,
        nit=nit,
        nfev=nfev,
        runtime=time.perf_counter() - t0,
        history=history,
        solver=solver.name,
        options=solver.options,
        z=Z[0] if latent else None,
        Z=Z if latent else None,
    )
