"""Sample-based solvers: stateful ask/tell optimizers, and the engine's loop over them.

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

A solver's optimizer works in search coordinates only: it implements `AskTell.propose` (search
points to evaluate next) and optionally `AskTell.observe` (told search points and energies); the
base class maps them to and from designs.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import time
import types
from abc import abstractmethod
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from invdesign import files
from invdesign.cluster import Jobs, describe, design_energy
from invdesign.engine.capabilities import EVERY_CONSTRAINT, EVERY_VARIABLE, Capabilities
from invdesign.engine.registry import make
from invdesign.engine.run import Outcome, Run, assemble, count
from invdesign.engine.solver import Call, Solver
from invdesign.objective import Objective
from invdesign.result import History, Result, Status, sort_designs
from invdesign.space import Box, DesignSpace, Space, space_from_spec

_METADATA_KEY = "invdesign-optimizer"
_FORMAT = 3
"""Version of the saved ask/tell state; files of another version are refused with a clear error."""

SAMPLE_CAPABILITIES = Capabilities(
    gradients=False,
    ask_tell=True,
    checkpoint=True,
    x0=True,
    budget="evaluations",
    default_budget=100,
    default_restarts=1,
    variables=EVERY_VARIABLE,
    constraints=EVERY_CONSTRAINT,
)
"""What every sample-based solver can do; a solver may declare its own."""


class AskTell:
    """The state of one sample-based run.

    Attributes:
        solver: The solver's options.
        space: The search box.
        view: Its search coordinates.
        seed: The run's seed; every ask is a function of the seed and what was told.
        X: Every design told so far, shape ``(n, d)``.
        U: The same designs in search coordinates, shape ``(n, d)``.
        Y: Their energies, shape ``(n,)``; NaN marks a failed evaluation.
        batches: Sizes of the told batches, in order.
        history: Best energy so far after each tell.
        pending: During an ask, the search points ``(m, d)`` of designs asked for before and still
            being evaluated (``ask(pending=...)``); empty otherwise.
    """

    def __init__(self, solver: SampleSolver, space: DesignSpace, seed: int | None = None) -> None:
        if not isinstance(space, (Box, Space)):
            raise TypeError(f"space must be an invdesign.Box or invdesign.Space, got {type(space).__name__}")
        self.solver = solver
        self.space = space
        self.view = space.coordinates(relax=False)
        self.seed = int(torch.randint(0, 2**31 - 1, ())) if seed is None else int(seed)
        self.X = torch.empty(0, space.dim, dtype=space.dtype, device=space.device)
        self.U = torch.empty(0, self.view.dim, dtype=space.dtype, device=space.device)
        self.Y = torch.empty(0, dtype=space.dtype, device=space.device)
        self.batches: list[int] = []
        self.history = History()
        self.pending = self.U
        self._asked_x = self.X
        self._asked_u = self.U
        self._t0 = time.perf_counter()

    @property
    def dim(self) -> int:
        """Dimension of the search coordinates."""
        return self.view.dim

    @property
    def n_told(self) -> int:
        """Designs told so far."""
        return self.X.shape[0]

    @property
    def n_pending(self) -> int:
        """Designs still being evaluated, during an ask."""
        return self.pending.shape[0]

    def generator(self) -> torch.Generator:
        """A CPU generator seeded by the run's seed and the number of designs told (and pending), for one ask."""
        return torch.Generator().manual_seed((self.seed * 1_000_003 + self.n_told + self.n_pending) % 2**63)

    def ask(self, n: int | None = None, *, pending: Tensor | None = None) -> Tensor:
        """Designs to evaluate next, shape ``(m, d)`` with ``m <= n``, inside the box (``n`` defaults to the solver's batch).

        ``pending``: designs ``(p, d)`` asked for before and still being evaluated (an
        asynchronous loop). A solver that declares ``asynchronous`` takes them into account
        (``bo`` passes them to its acquisition as ``X_pending``); every solver draws its random
        numbers and initial designs past them, so it does not ask for the same points again.
        """
        n = None if n is None else count("n", n, minimum=1)
        if pending is not None:
            pending = torch.as_tensor(pending, dtype=self.space.dtype, device=self.space.device).reshape(-1, self.space.dim)
            self.pending = self.view.to_search(pending)
        try:
            u = self.view.project(self.propose(n).to(self.space.dtype))
        finally:
            self.pending = self.U[:0]
        x = self.view.designs(u)
        self._asked_x, self._asked_u = x, u
        return x.clone()

    @abstractmethod
    def propose(self, n: int | None) -> Tensor:
        """Search points to evaluate next, shape ``(m, d)`` with ``m <= n`` (``None``: the solver's batch)."""

    def observe(self, u: Tensor, y: Tensor) -> None:
        """Hook for solvers that keep state beyond the told data, called with the told search points
        ``(n, d)`` and energies ``(n,)`` before they are appended."""

    def tell(self, x: Tensor, y: Tensor) -> None:
        """Record the energies ``y`` (shape ``(n,)``, lower is better, NaN for a failure) of designs ``x`` (shape ``(n, d)``).

        Raises:
            ValueError: on shapes that do not match, or designs outside the box.
        """
        x = torch.as_tensor(x, dtype=self.space.dtype, device=self.space.device).detach().clone()
        y = torch.as_tensor(y, dtype=self.space.dtype, device=self.space.device).detach().reshape(-1).clone()
        if x.ndim != 2 or x.shape[1] != self.space.dim or x.shape[0] == 0:
            raise ValueError(f"tell needs designs of shape (n, {self.space.dim}) with n >= 1, got {tuple(x.shape)}")
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"tell got {x.shape[0]} designs but {y.shape[0]} energies")
        if not self.space.contains(x).all():
            what = "the box" if isinstance(self.space, Box) else "the space (bounds, fixed values, integrality, one-hot blocks, compositions, linear constraints)"
            raise ValueError(f"tell got designs outside {what}")
        u = self._search_points(x)
        self.observe(u, y)
        self.X = torch.cat([self.X, x])
        self.U = torch.cat([self.U, u])
        self.Y = torch.cat([self.Y, y])
        self.batches.append(x.shape[0])
        finite = self.Y[torch.isfinite(self.Y)]
        best = float(finite.min()) if finite.numel() else math.inf
        self.history.record(len(self.batches), best, self.n_told, x.shape[0], self._fit_time())

    def _search_points(self, x: Tensor) -> Tensor:
        """Search points of told designs ``x`` ``(n, d)``: exactly the asked ones for designs that were asked."""
        asked = self._asked_x
        if asked.shape[0] >= x.shape[0]:
            for start in range(asked.shape[0] - x.shape[0] + 1):
                if torch.equal(asked[start : start + x.shape[0]], x):
                    return self._asked_u[start : start + x.shape[0]].clone()
        return self.view.to_search(x)

    def _fit_time(self) -> float:
        """Seconds spent fitting a model since the previous tell; solvers with a model override it."""
        return 0.0

    def best(self) -> tuple[Tensor, float]:
        """The best design told so far, ``(d,)``, and its energy."""
        key = torch.where(torch.isfinite(self.Y), self.Y, torch.full_like(self.Y, math.inf))
        i = int(torch.argmin(key))
        return self.X[i].clone(), float(self.Y[i])

    def extra_state(self) -> dict[str, Any]:
        """JSON-ready state beyond the told data; subclasses extend it."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what `extra_state` returned (the told data is already restored)."""

    def save(self, path: str | os.PathLike[str], *, fingerprint: str = "") -> None:
        """Write the run to a safetensors file (no pickle); `load_optimizer` resumes it.

        Args:
            path: The file.
            fingerprint: What the designs were evaluated by (`invdesign.minimize` stores the
                objective's), checked when the run is resumed.
        """
        meta = {
            "solver": self.solver.name,
            "options": self.solver.options,
            "seed": self.seed,
            "space": self.space.spec(),
            "dtype": str(self.space.dtype).removeprefix("torch."),
            "batches": self.batches,
            "history": self.history.to_dict(),
            "extra": self.extra_state(),
            "fingerprint": fingerprint,
            "format": _FORMAT,
        }
        files.write(path, {"X": self.X, "U": self.U, "Y": self.Y}, _METADATA_KEY, meta)

    def result(self) -> Result:
        """Every told design, best first, as a `Result`."""
        if self.n_told == 0:
            raise ValueError("nothing has been told yet")
        feasible = self.space.feasible(self.X)
        order = sort_designs(self.Y, feasible)
        X, F, feasible = self.X[order], self.Y[order], feasible[order]
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
            feasible=feasible,
            space=self.space,
        )


def load_optimizer(
    path: str | os.PathLike[str], *, device: torch.device | str | None = None, space: DesignSpace | None = None
) -> AskTell:
    """Resume a run written by `AskTell.save`.

    Args:
        path: The file.
        device: Where to put the run.
        space: The run's space, needed when it has nonlinear constraints (callables are not
            saved); it must describe the saved space.

    Raises:
        ValueError: if the file is not a saved invdesign optimizer, or ``space`` is not the saved one.
    """
    meta, tensors = files.read(path, _METADATA_KEY, "invdesign optimizer")
    if meta.get("format") != _FORMAT:
        raise ValueError(
            f"{os.fspath(path)!r} holds an ask/tell run saved in format {meta.get('format', 1)} by another version "
            f"of invdesign; this version reads format {_FORMAT}: start the run afresh"
        )
    solver = make(meta["solver"], **meta["options"])
    if not solver.capabilities.ask_tell or not isinstance(solver, SampleSolver):
        raise ValueError(f"{os.fspath(path)!r} names method {meta['solver']!r}, which has no ask/tell optimizer")
    dtype = getattr(torch, meta["dtype"])
    saved = meta["space"]
    if space is not None:
        if space.spec() != saved:
            raise ValueError(f"{os.fspath(path)!r} holds a run on another space than {space!r}")
        space = space.to(dtype=dtype, device=device)
    elif "lower" in saved:
        space = Box(saved["lower"], saved["upper"], dtype=dtype, device=device)
    else:
        if saved["nonlinear"]:
            raise ValueError(
                f"{os.fspath(path)!r} holds a run on a space with nonlinear constraints, which cannot be saved: "
                "pass the space too (load_optimizer(path, space=space))"
            )
        space = space_from_spec(saved, dtype=dtype, device=device)
    opt = solver.optimizer(space, seed=meta["seed"])
    opt.X = tensors["X"].to(dtype=dtype, device=space.device)
    opt.U = tensors["U"].to(dtype=dtype, device=space.device)
    opt.Y = tensors["Y"].to(dtype=dtype, device=space.device)
    opt.batches = list(meta["batches"])
    for key, values in meta["history"].items():
        setattr(opt.history, key, list(values))
    opt.load_extra_state(meta["extra"])
    return opt


def _saved_space(path: str) -> Any:
    meta, _ = files.read(path, _METADATA_KEY, "invdesign optimizer")
    return meta.get("space")


def _saved_fingerprint(path: str) -> str:
    meta, _ = files.read(path, _METADATA_KEY, "invdesign optimizer")
    return str(meta.get("fingerprint", ""))


@dataclass(frozen=True, kw_only=True)
class SampleSolver(Solver):
    """A solver that only evaluates the energy: the engine loops over its `AskTell` optimizer.

    Start designs (``x0`` or ``n_restarts``) are evaluated and told first; then each round asks
    for ``batch`` designs until ``max_evals`` designs have been evaluated. With ``checkpoint=``
    the state is saved after every tell, and a run started with an existing checkpoint file
    resumes from it. The returned ``X`` holds every evaluated design, best first.

    Attributes:
        batch: Designs asked for per round.
    """

    capabilities = SAMPLE_CAPABILITIES
    relaxes = False

    batch: int = 1

    @abstractmethod
    def optimizer(self, space: DesignSpace, *, seed: int | None = None) -> AskTell:
        """Start a stateful ask/tell run on ``space``."""

    def _execute(self, run: Run, call: Call) -> Result:
        objective, max_evals, checkpoint = run.objective, call.budget, call.checkpoint
        fingerprint = _objective_fingerprint(objective) if checkpoint else ""
        resumed = checkpoint is not None and os.path.exists(checkpoint)
        opt = self._resume(checkpoint, run, call.seed, fingerprint) if resumed else None  # type: ignore[arg-type]
        if opt is None:
            opt = self.optimizer(objective.space, seed=call.seed)
            starts = self.starts(run, call)
            if starts is not None:
                self._evaluate(run, opt, starts[:max_evals], checkpoint, fingerprint, call.executor)
        told_before = opt.n_told - run.nfev
        run.history = opt.history
        status = Status.MAX_ITER
        if call.asynchronous:
            assert call.executor is not None
            status = self._asynchronously(run, opt, max_evals, call.executor, checkpoint, fingerprint)
        while opt.n_told < max_evals and status == Status.MAX_ITER:
            x = opt.ask(min(opt.solver.batch, max_evals - opt.n_told))
            self._evaluate(run, opt, x, checkpoint, fingerprint, call.executor)
            if run.stop_requested(opt.best, search=False):
                status = Status.STOPPED
        failed = int((~torch.isfinite(opt.Y)).sum())
        message = {Status.MAX_ITER: "budget used.", Status.STOPPED: "stopped by the callback."}[status]
        message += f" {opt.n_told} designs evaluated" + (f", {failed} failed (NaN or infinite energy)." if failed else ".")
        if run.errors:
            message += f" {len(run.errors)} evaluations raised an error (the first: {run.errors[0]})."
        if told_before:
            message += f" Resumed from {checkpoint!r} after {told_before} designs."
        outcome = Outcome(opt.U, opt.Y, status, message, len(opt.batches))
        options = {**opt.solver.options, "n_restarts": call.n_restarts, "max_evals": max_evals, "seed": opt.seed}
        return assemble(self.name, options, run, outcome, X=opt.X, nfev=opt.n_told)

    def _evaluate(
        self, run: Run, opt: AskTell, x: Tensor, checkpoint: str | None, fingerprint: str, executor: Executor | None
    ) -> None:
        if executor is not None:
            y = run.evaluate_on(executor, x)
        else:
            with torch.no_grad():
                y = run.evaluate(x.clone())  # a model that edits its input in place leaves the told design alone
        opt.tell(x, y)
        if checkpoint:
            opt.save(checkpoint, fingerprint=fingerprint)

    def _asynchronously(
        self, run: Run, opt: AskTell, max_evals: int, executor: Executor, checkpoint: str | None, fingerprint: str
    ) -> Status:
        """Keep ``batch`` designs in flight on ``executor`` until ``max_evals`` are told: each design
        that comes back is told at once, and the free workers' next designs are asked for together
        (one ask of as many designs as workers are free), with those still in flight pending."""
        jobs: Jobs[Tensor] = Jobs(executor)
        while opt.n_told < max_evals:
            free = min(opt.solver.batch - len(jobs), max_evals - opt.n_told - len(jobs))
            if free > 0:
                for x in opt.ask(free, pending=torch.cat(jobs.tags()) if jobs else None).split(1):
                    jobs.submit(x, design_energy, run.objective, x)
                    run.nfev += 1
            for x, value, error in jobs.finished():
                if error is not None:
                    run.errors.append(describe(error))
                energy = torch.tensor([math.nan if error is not None else value], dtype=x.dtype, device=x.device)
                opt.tell(x, run.constrained(x, energy))
                if checkpoint:
                    opt.save(checkpoint, fingerprint=fingerprint)
                if run.stop_requested(opt.best, search=False):
                    jobs.cancel()
                    return Status.STOPPED
        return Status.MAX_ITER

    def _resume(self, checkpoint: str, run: Run, seed: int | None, fingerprint: str) -> AskTell:
        objective = run.objective
        space = objective.space if objective.space.nonlinear and _saved_space(checkpoint) == objective.space.spec() else None
        opt = load_optimizer(checkpoint, device=objective.device, space=space)
        same = (
            opt.solver.name == self.name
            and opt.solver.options == self.optimizer(objective.space, seed=opt.seed).solver.options
            and (seed is None or opt.seed == seed)
            and opt.space == objective.space
            and opt.space.dtype == objective.dtype
        )
        if not same:
            raise ValueError(
                f"checkpoint {checkpoint!r} holds a {opt.solver.name!r} run (seed {opt.seed}, "
                f"{opt.space!r}) that does not match this call; remove it or pass the same method, options, "
                "seed and box (max_evals may grow)"
            )
        if _saved_fingerprint(checkpoint) not in ("", fingerprint):
            raise ValueError(
                f"checkpoint {checkpoint!r} was written by a run of another objective (another model, weights, space, "
                "target or penalties); remove it or resume with the same objective"
            )
        return opt


def _objective_fingerprint(objective: Objective) -> str:
    """What a checkpoint's designs were evaluated by, without evaluating anything: the objective's
    description (space, target, rule), and its model's, decoder's and penalties' code, weights and
    captured values (`_digest`)."""
    digest = hashlib.sha256(re.sub(r" at 0x[0-9a-fA-F]+", "", repr(objective)).encode())
    for part in (objective.model, objective.decoder, *objective.penalties):
        _digest(digest, part, depth=0)
    return digest.hexdigest()[:16]


def _digest(digest: Any, value: Any, *, depth: int) -> None:
    """Feed ``value`` to ``digest``: a tensor by its bytes, a module by its class, ``forward`` code,
    state dict and public attributes, a function by its code, defaults and closure values, a
    partial by its function and arguments, another callable by its ``__call__`` code and public
    attributes, a number, string or tuple by its value, anything else (a list or dict a function
    keeps its state in, say) by its type only (a few levels deep)."""
    if depth > 4:
        return
    digest.update(type(value).__qualname__.encode())
    if isinstance(value, Tensor):
        digest.update(f"{value.dtype} {tuple(value.shape)}".encode())
        digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, (bool, int, float, complex, str, bytes, type(None))):
        digest.update(repr(value).encode())
    elif isinstance(value, tuple):
        for item in value:
            _digest(digest, item, depth=depth + 1)
    elif isinstance(value, nn.Module):
        _code(digest, type(value).forward)
        for name, tensor in value.state_dict().items():
            digest.update(name.encode())
            _digest(digest, tensor, depth=depth + 1)
        _attributes(digest, value, depth=depth)
    elif isinstance(value, functools.partial):
        _digest(digest, value.func, depth=depth + 1)
        _digest(digest, (*value.args, *sorted(value.keywords.items())), depth=depth + 1)
    elif isinstance(value, types.FunctionType):
        _code(digest, value)
        _digest(digest, value.__defaults__ or (), depth=depth + 1)
        for cell in value.__closure__ or ():
            try:
                _digest(digest, cell.cell_contents, depth=depth + 1)
            except ValueError:
                digest.update(b"<empty cell>")
    elif isinstance(value, types.MethodType):
        _code(digest, value.__func__)
        _digest(digest, value.__self__, depth=depth + 1)
    elif callable(value):
        _code(digest, type(value).__call__)
        _attributes(digest, value, depth=depth)


def _attributes(digest: Any, value: Any, *, depth: int) -> None:
    """Feed an object's own public attributes (a penalty's data, a module's settings) to ``digest``."""
    for name, attribute in sorted(getattr(value, "__dict__", {}).items()):
        if not name.startswith("_"):
            digest.update(name.encode())
            _digest(digest, attribute, depth=depth + 1)


def _code(digest: Any, function: Any) -> None:
    """Feed a function's byte code, names and constants (nested functions' too) to ``digest``."""
    stack = [getattr(function, "__code__", None)]
    while stack:
        code = stack.pop()
        if code is None:
            continue
        digest.update(code.co_code + repr(code.co_names).encode())
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                stack.append(const)
            else:
                digest.update(repr(const).encode())
