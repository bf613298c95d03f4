"""Sample-based solvers: stateful ask/tell optimizers, and the `minimize` loop over them.

A `SampleSolver` is a frozen dataclass of options, like every solver; ``solver.optimizer(space,
seed=...)`` starts a stateful `AskTell` run. A user who evaluates designs outside Python (a lab, a
cluster queue) asks for designs, measures them, and tells the energies back::

    opt = ivd.solvers.make("bo", q=4).optimizer(box, seed=0)
    x = opt.ask()            # (q, d) designs in the box
    opt.tell(x, measure(x))  # (q,) energies, lower is better; NaN marks a failed evaluation
    opt.save("run.safetensors")  # and later: ivd.solvers.load_optimizer("run.safetensors")
    opt.result()

`minimize` with a sample-based method is exactly that loop, with the objective as the measurement,
and ``checkpoint=`` saves the state after every tell so a crashed run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from invdesign import files
from invdesign.objective import Objective
from invdesign.result import History, Result, Status, sort_designs
from invdesign.solvers.base import Callback, Outcome, Run, Solver, assemble, count, get
from invdesign.space import Box
from invdesign.starts import StartStrategy, initial_points

_METADATA_KEY = "invdesign-optimizer"


class AskTell:
    """The state of one sample-based run.

    Attributes:
        solver: The solver's options.
        space: The search box.
        seed: The run's seed; every ask is a function of the seed and what was told.
        X: Every design told so far, shape ``(n, d)``.
        Y: Their energies, shape ``(n,)``; NaN marks a failed evaluation.
        batches: Sizes of the told batches, in order.
        history: Best energy so far after each tell.
    """

    def __init__(self, solver: SampleSolver, space: Box, seed: int | None = None) -> None:
        self.solver = solver
        self.space = space
        self.seed = int(torch.randint(0, 2**31 - 1, ())) if seed is None else int(seed)
        self.X = torch.empty(0, space.dim, dtype=space.dtype, device=space.device)
        self.Y = torch.empty(0, dtype=space.dtype, device=space.device)
        self.batches: list[int] = []
        self.history = History()
        self._t0 = time.perf_counter()

    @property
    def n_told(self) -> int:
        """Designs told so far."""
        return self.X.shape[0]

    def generator(self) -> torch.Generator:
        """A CPU generator seeded by the run's seed and the number of designs told, for one ask."""
        return torch.Generator().manual_seed(self.seed * 1_000_003 + self.n_told)

    @abstractmethod
    def ask(self, n: int | None = None) -> Tensor:
        """Designs to evaluate next, shape ``(m, d)`` with ``m <= n``, inside the box (``n`` defaults to the solver's batch)."""

    def tell(self, x: Tensor, y: Tensor) -> None:
        """Record the energies ``y`` (shape ``(n,)``, lower is better, NaN for a failure) of designs ``x`` (shape ``(n, d)``).

        Raises:
            ValueError: on shapes that do not match, or designs outside the box.
        """
        x = torch.as_tensor(x, dtype=self.space.dtype, device=self.space.device).detach()
        y = torch.as_tensor(y, dtype=self.space.dtype, device=self.space.device).detach().reshape(-1)
        if x.ndim != 2 or x.shape[1] != self.space.dim:
            raise ValueError(f"tell needs designs of shape (n, {self.space.dim}), got {tuple(x.shape)}")
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"tell got {x.shape[0]} designs but {y.shape[0]} energies")
        if not self.space.contains(x).all():
            raise ValueError("tell got designs outside the box")
        self._update(x, y)
        self.X = torch.cat([self.X, x])
        self.Y = torch.cat([self.Y, y])
        self.batches.append(x.shape[0])
        finite = self.Y[torch.isfinite(self.Y)]
        best = float(finite.min()) if finite.numel() else math.inf
        self.history.record(len(self.batches), best, self.n_told, x.shape[0], self._fit_time())

    def _fit_time(self) -> float:
        """Seconds spent fitting a model since the previous tell; solvers with a model override it."""
        return 0.0

    def _update(self, x: Tensor, y: Tensor) -> None:
        """Hook for solvers that keep state beyond the told data (called before the data is appended)."""

    def best(self) -> tuple[Tensor, float]:
        """The best design told so far, ``(d,)``, and its energy."""
        key = torch.where(torch.isfinite(self.Y), self.Y, torch.full_like(self.Y, math.inf))
        i = int(torch.argmin(key))
        return self.X[i], float(self.Y[i])

    def extra_state(self) -> dict[str, Any]:
        """JSON-ready state beyond the told data; subclasses extend it."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what `extra_state` returned (the told data is already restored)."""

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the run to a safetensors file (no pickle); `load_optimizer` resumes it."""
        meta = {
            "solver": self.solver.name,
            "options": self.solver.options,
            "seed": self.seed,
            "lower": self.space.lower.tolist(),
            "upper": self.space.upper.tolist(),
            "dtype": str(self.space.dtype).removeprefix("torch."),
            "batches": self.batches,
            "history": self.history.to_dict(),
            "extra": self.extra_state(),
        }
        files.write(path, {"X": self.X, "Y": self.Y}, _METADATA_KEY, meta)

    def result(self) -> Result:
        """Every told design, best first, as a `Result`."""
        if self.n_told == 0:
            raise ValueError("nothing has been told yet")
        X, F = sort_designs(self.X, self.Y)
        finite = bool(torch.isfinite(F[0]))
        failed = int((~torch.isfinite(self.Y)).sum())
        return Result(
            x=X[0],
            fun=float(F[0]),
            X=X,
            F=F,
            success=finite,
            status=Status.MAX_ITER if finite else Status.FAILED,
            message=f"{self.n_told} designs told, {failed} failed.",
            nit=len(self.batches),
            nfev=self.n_told,
            runtime=time.perf_counter() - self._t0,
            history=self.history,
            solver=self.solver.name,
            options={**self.solver.options, "seed": self.seed},
        )


def load_optimizer(path: str | os.PathLike[str], *, device: torch.device | str | None = None) -> AskTell:
    """Resume a run written by `AskTell.save`.

    Raises:
        ValueError: if the file is not a saved invdesign optimizer.
    """
    meta, tensors = files.read(path, _METADATA_KEY, "invdesign optimizer")
    X, Y = tensors["X"], tensors["Y"]
    solver = get(meta["solver"])(**meta["options"])
    dtype = getattr(torch, meta["dtype"])
    space = Box(meta["lower"], meta["upper"], dtype=dtype, device=device)
    opt = solver.optimizer(space, seed=meta["seed"])
    opt.X, opt.Y = X.to(dtype=dtype, device=space.device), Y.to(dtype=dtype, device=space.device)
    opt.batches = list(meta["batches"])
    for key, values in meta["history"].items():
        setattr(opt.history, key, list(values))
    opt.load_extra_state(meta["extra"])
    return opt


@dataclass(frozen=True, kw_only=True)
class SampleSolver(Solver):
    """A solver that only evaluates the energy: `minimize` is a loop over its `AskTell` optimizer.

    ``n_restarts`` sizes the ``x0`` start designs only (the returned ``X`` holds every evaluated
    design, best first); ``max_iter`` caps the ask/tell rounds and ``max_evals`` the evaluations.
    ``x0`` designs are evaluated and told first. With ``checkpoint=`` the state is saved after every
    tell, and a run started with an existing checkpoint file resumes from it.

    Attributes:
        max_evals: Evaluation budget, start designs included.
        batch: Designs asked for per round.
    """

    requires_gradients: ClassVar[bool] = False
    default_restarts: ClassVar[int] = 1
    default_max_iter: ClassVar[int] = 10**9

    max_evals: int = 100
    batch: int = 1

    @abstractmethod
    def optimizer(self, space: Box, *, seed: int | None = None) -> AskTell:
        """Start a stateful ask/tell run on ``space``."""

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
        run = Run(objective, callback)
        self.check(objective)
        count("max_evals", self.max_evals, minimum=1)
        max_iter = self.iteration_budget(max_iter)
        opt = self._resume(checkpoint, objective, seed) if checkpoint and os.path.exists(checkpoint) else None
        if opt is None:
            opt = self.optimizer(objective.space, seed=seed)
            if x0 is not None:
                starts = initial_points(objective, n_restarts, x0, seed, default_n=self.default_restarts)
                self._evaluate(objective, opt, starts[: self.max_evals], checkpoint)
        run.history = opt.history
        status, rounds = Status.MAX_ITER, 0
        while opt.n_told < self.max_evals and rounds < max_iter:
            self._evaluate(objective, opt, opt.ask(min(self.batch, self.max_evals - opt.n_told)), checkpoint)
            rounds += 1
            if run.stop_requested(opt.best):
                status = Status.STOPPED
                break
        if opt.n_told == 0:
            raise ValueError("no design was evaluated: max_evals or max_iter is 0")
        failed = int((~torch.isfinite(opt.Y)).sum())
        message = {Status.MAX_ITER: "budget used.", Status.STOPPED: "stopped by the callback."}[status]
        message += f" {opt.n_told} designs evaluated" + (f", {failed} failed (NaN or infinite energy)." if failed else ".")
        options = {**self.options, "max_iter": max_iter, "seed": opt.seed}
        result = assemble(self.name, options, objective, Outcome(opt.X, opt.Y, status, message, len(opt.batches)), run)
        return dataclasses.replace(result, nfev=opt.n_told)  # a resumed run counts what it evaluated before

    def _evaluate(self, objective: Objective, opt: AskTell, x: Tensor, checkpoint: str | os.PathLike[str] | None) -> None:
        with torch.no_grad():
            y = objective(x)
        opt.tell(x, y)
        if checkpoint:
            opt.save(checkpoint)

    def _resume(self, checkpoint: str | os.PathLike[str], objective: Objective, seed: int | None) -> AskTell:
        opt = load_optimizer(checkpoint, device=objective.device)
        same = (
            opt.solver.name == self.name
            and {k: v for k, v in opt.solver.options.items() if k != "max_evals"}
            == {k: v for k, v in self.options.items() if k != "max_evals"}
            and (seed is None or opt.seed == seed)
            and opt.space == objective.space
            and opt.space.dtype == objective.dtype
        )
        if not same:
            raise ValueError(
                f"checkpoint {os.fspath(checkpoint)!r} holds a {opt.solver.name!r} run (seed {opt.seed}, "
                f"{opt.space!r}) that does not match this call; remove it or pass the same method, options "
                "(max_evals may grow), seed and box"
            )
        opt.solver = self
        return opt
