"""The solver contract and the run engine: one place validates a call, owns the run, and assembles
the `Result`; a solver implements only its search step.

Three families, each a base class here with the loop its solvers share:

- `RestartSolver` (``gd``, ``lbfgs``, ``ga``): improves a batch of restarts; implements `search`.
- `SampleSolver` (``random``, ``bo``, ``turbo``, ``cmaes``): only evaluates; implements
  ``optimizer(space, seed)`` returning an `invdesign.engine.ask_tell.AskTell` (``propose``/
  ``observe`` in search coordinates).
- `TrainedSolver` (``amortized``): trains a generator; implements `train`.

The words of a call mean one thing for every solver:

- ``n_restarts``: how many starting points the search begins from (restarts of a restart
  solver; designs evaluated first by a sample-based one). Drawn from ``x0`` (a start strategy),
  or Sobol points of the space; with an ``x0`` tensor, its rows.
- ``max_iter``: iterations, for solvers whose budget counts iterations of each restart or
  training steps (`Capabilities.budget`).
- ``max_evals``: objective evaluations (designs), for solvers whose budget counts evaluations.
"""

from __future__ import annotations

import dataclasses
import os
import time
from abc import ABC, abstractmethod
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from invdesign.cluster import as_executor, describe
from invdesign.engine import chunks, targets
from invdesign.engine.capabilities import Capabilities
from invdesign.engine.constrained import polish_nonlinear
from invdesign.engine.mixed import settle_discrete
from invdesign.engine.registry import capable
from invdesign.engine.run import Callback, Data, Outcome, Run, assemble, check_seed, count
from invdesign.objective import Objective
from invdesign.result import BatchResult, Result, Status
from invdesign.space import Box
from invdesign.starts import FromData, StartStrategy, initial_points
from invdesign.trust import TrainingData

if TYPE_CHECKING:
    import pandas


@dataclass(frozen=True)
class Call:
    """A validated `invdesign.minimize` call, as the engine hands it to a solver family.

    Attributes:
        n_restarts: Requested starting points, or ``None`` for the solver's default.
        budget: ``max_iter`` or ``max_evals``, whichever the solver's budget counts.
        seed: The seed, or ``None``.
        x0: The starting points as given.
        callback: The callback, or ``None``.
        checkpoint: The checkpoint path, or ``None``.
        executor: Where a sample-based solver's designs are evaluated, or ``None`` (here, in batches).
        asynchronous: Ask for new designs whenever workers are free, one ask for all of them (with an ``executor``).
    """

    n_restarts: int | None
    budget: int
    seed: int | None
    x0: Tensor | pandas.DataFrame | StartStrategy | None
    callback: Callback | None
    checkpoint: str | None
    executor: Executor | None = None
    asynchronous: bool = False


@dataclass(frozen=True, kw_only=True)
class Solver(ABC):
    """A solver: a frozen, keyword-only dataclass of options, a name and its `Capabilities`.

    Subclasses set ``name`` and ``capabilities`` and are registered with
    `invdesign.engine.registry.register`; they subclass one of the families below.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    relaxes: ClassVar[bool] = True
    """Whether the solver searches relaxed coordinates of a mixed space (one-hot categoricals on
    the simplex, continuous integers; `invdesign.space.Space.coordinates`)."""

    def batches(self, objective: Objective, call: dict[str, Any]) -> bool:
        """Whether this solver searches every target of ``objective`` (a batch of targets) in one
        run, for the keywords ``call`` of `invdesign.minimize`: it declares ``batches_targets`` and
        the space has no linear or nonlinear constraints (those are solved target by target)."""
        return self.capabilities.batches_targets and not objective.space.constraint_kinds

    @property
    def options(self) -> dict[str, Any]:
        """The solver's options as a plain dict."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def minimize(self, objective: Objective, **call: Any) -> Result | BatchResult:
        """Minimize ``objective``; the keywords are `invdesign.minimize`'s (checked by `check_call`).

        For an objective with a batch of targets, a `BatchResult` (`invdesign.engine.targets`).
        The designs are then judged against the training data (`invdesign.trust`), every
        target's at once.
        """
        checked = self.check_call(objective, **call)
        data, why_not = training_data(objective, checked.x0)  # before the run: a bad data set fails early
        if objective.targets is not None and not self.batches(objective, call):
            result: Result | BatchResult = targets.one_at_a_time(self, objective, call)
        else:
            result = self.solve(objective, checked)
        return deliver(result, objective, data, why_not)

    def solve(self, objective: Objective, checked: Call) -> Result | BatchResult:
        """One run on a call `check_call` accepted, without the trust report."""
        run = Run(objective, objective.space.coordinates(relax=self.relaxes), checked.callback)
        if self.capabilities.data:
            assert isinstance(checked.x0, FromData)
            run.data = _data(objective, checked.x0)
        return self._execute(run, checked)

    def check_call(
        self,
        objective: Objective,
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
    ) -> Call:
        """Check a call against the solver's capabilities, once, before anything runs.

        Raises:
            TypeError: for a non-objective, or for what the solver cannot do (the message names
                the solvers that can).
            ValueError: for a bad budget, restart count, seed or checkpoint path.
        """
        caps = self.capabilities
        if not isinstance(objective, Objective):
            raise TypeError(f"minimize needs an invdesign.Objective, got {type(objective).__name__}")
        if caps.gradients and not objective.differentiable:
            raise TypeError(
                f"method {self.name!r} needs gradients, but no gradient reaches the search point through the "
                f"objective: {objective.adapter.why_not_differentiable}. "
                f"Use a gradient-free method: {_names(capable(lambda c: not c.gradients and c.models == 'any'))}."
            ) from objective.adapter.probe_error
        kinds = objective.space.variable_kinds
        if not kinds <= caps.variables:
            missing = sorted(kinds - caps.variables)
            raise TypeError(
                f"method {self.name!r} does not handle {', '.join(missing)} variables; methods that do: "
                f"{_names(capable(lambda c: kinds <= c.variables))}"
            )
        constraints = objective.space.constraint_kinds
        if not constraints <= caps.constraints:
            missing = sorted(constraints - caps.constraints)
            raise TypeError(
                f"method {self.name!r} does not handle {' or '.join(missing)} constraints; methods that do: "
                f"{_names(capable(lambda c: constraints <= c.constraints))}"
            )
        if not caps.x0 and (x0 is not None or n_restarts is not None):
            what = "x0=" if x0 is not None else "n_restarts="
            raise TypeError(
                f"method {self.name!r} takes no starting points ({what}); "
                f"methods that do: {_names(capable(lambda c: c.x0))}"
            )
        if checkpoint is not None and not caps.checkpoint:
            raise TypeError(
                f"method {self.name!r} cannot save and resume a run (checkpoint=); "
                f"methods that can: {_names(capable(lambda c: c.checkpoint))}"
            )
        given, other = (max_evals, max_iter) if caps.budget == "evaluations" else (max_iter, max_evals)
        if other is not None:
            wrong = "max_iter" if caps.budget == "evaluations" else "max_evals"
            raise TypeError(
                f"method {self.name!r} counts its budget in {caps.budget}: pass {caps.budget_keyword}=, not {wrong}= "
                f"(methods that take {wrong}: {_names(capable(lambda c: c.budget_keyword == wrong))})"
            )
        minimum = 1 if caps.budget == "evaluations" else 0
        budget = caps.default_budget if given is None else count(caps.budget_keyword, given, minimum=minimum)
        if n_restarts is not None:
            n_restarts = count("n_restarts", n_restarts, minimum=1)
        if caps.data and not (isinstance(x0, FromData) and x0.Y is not None):
            raise TypeError(
                f"method {self.name!r} learns its scales from the offline data set: pass x0=invdesign.FromData(X, Y)"
            )
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        if callback is not None and not caps.callback:
            raise TypeError(
                f"method {self.name!r} calls no callback during its run; methods that do: {_names(capable(lambda c: c.callback))}"
            )
        if checkpoint is not None:
            if not isinstance(checkpoint, (str, os.PathLike)) or not os.fspath(checkpoint):
                raise ValueError(f"checkpoint must be a non-empty file path, got {checkpoint!r}")
            checkpoint = os.fspath(checkpoint)
            if os.path.isdir(checkpoint):
                raise ValueError(f"checkpoint {checkpoint!r} is a folder; give a file path")
            folder = os.path.dirname(checkpoint) or "."
            if not os.path.isdir(folder):
                raise ValueError(f"checkpoint {checkpoint!r}: its folder {folder!r} does not exist")
        if not isinstance(asynchronous, bool):
            raise TypeError(f"asynchronous must be True or False, got {asynchronous!r}")
        if executor is not None:
            if not caps.ask_tell:
                raise TypeError(
                    f"method {self.name!r} evaluates its objective in its own batches (executor= hands designs to "
                    f"workers one by one); methods that take an executor: {_names(capable(lambda c: c.ask_tell))}"
                )
            executor = as_executor(executor)
        if asynchronous:
            if executor is None:
                raise ValueError("asynchronous=True asks for a design whenever a worker is free: pass executor= too")
            if not caps.asynchronous:
                raise TypeError(
                    f"method {self.name!r} cannot ask with designs still being evaluated (asynchronous=True); "
                    f"methods that can: {_names(capable(lambda c: c.asynchronous))}"
                )
        return Call(
            n_restarts=n_restarts, budget=budget, seed=check_seed(seed), x0=x0, callback=callback, checkpoint=checkpoint,
            executor=executor, asynchronous=asynchronous,
        )

    def starts(self, run: Run, call: Call) -> Tensor | None:
        """The call's starting points, points of the objective's space, ``(n, d)``, exactly as given.

        ``None`` when the call gives neither ``x0`` nor ``n_restarts`` to a solver whose budget
        counts evaluations: such a solver starts from its own designs.
        """
        caps = self.capabilities
        if call.x0 is None and call.n_restarts is None and caps.budget == "evaluations":
            return None
        return initial_points(run.objective, call.n_restarts, call.x0, call.seed, default_n=caps.default_restarts)

    def record(self, call: Call, **extra: Any) -> dict[str, Any]:
        """What `Result.options` records: the solver's options, the call's budget and seed, and ``extra``."""
        return {**self.options, **extra, self.capabilities.budget_keyword: call.budget, "seed": call.seed}

    @abstractmethod
    def _execute(self, run: Run, call: Call) -> Result | BatchResult:
        """Run the family's loop; implemented by the families below."""


class RestartSolver(Solver):
    """A solver that improves a batch of restarts, all in one batch.

    The engine evaluates the starting points (dropping those whose energy is NaN or infinite),
    calls `search`, and assembles the `Result`.
    """

    def _execute(self, run: Run, call: Call) -> Result | BatchResult:
        objective = run.objective
        if objective.targets is not None:
            T = objective.targets.shape[0]
            points = targets.starts(objective, call, self.capabilities.default_restarts)
            targets.hold_rows(run, T, points.shape[1], points.device)
            points = points.reshape(-1, points.shape[-1])
        else:
            found = self.starts(run, call)
            if found is None:
                raise TypeError(f"method {self.name!r} declares no starting points, but restart solvers search from them")
            points = found
        starts = run.view.to_search(points)
        # The rows one forward and backward pass may hold (the solver's max_batch, or what memory holds).
        run.rows_per_pass = chunks.batch_limit(run, starts, self.options.get("max_batch"))
        f0 = chunks.energies(run, starts, run.rows_per_pass)
        ok = torch.isfinite(f0)
        n_bad = int((~ok).sum())
        if n_bad == starts.shape[0]:
            raise ValueError(
                f"the objective is NaN or infinite at all {n_bad} starting points; check the model and the box"
            )
        dropped = f"{n_bad} of {starts.shape[0]} restarts dropped: energy NaN or infinite at their start." if n_bad else ""
        starts, f0 = starts[ok], f0[ok]
        dropped_evals = None
        if run.which is not None and run.row_evals is not None and objective.targets is not None:
            targets.check_starts(run.which, ok, objective.targets.shape[0])
            # Each target's evaluations of the starts dropped here still count in its nfev.
            dropped_evals = torch.bincount(run.which[~ok], minlength=objective.targets.shape[0])
            run.which, run.row_evals = run.which[ok], run.row_evals[ok]
        run.record(0, float(f0.min()), starts.shape[0])
        outcome = self.search(run, starts, f0, max_iter=call.budget)
        message = " ".join(m for m in (outcome.message, dropped) if m)
        outcome = outcome._replace(message=message)
        if objective.targets is None:
            return self._finish(run, call, outcome)
        results = [self._finish(own, call, part) for own, part in targets.split(run, outcome, dropped_evals)]
        return BatchResult(results, objective.targets, self.name, time.perf_counter() - run.t0)

    def _finish(self, run: Run, call: Call, outcome: Outcome) -> Result:
        """Round and polish the searched designs as the space needs, and assemble the `Result`."""
        options = self.record(call, n_restarts=outcome.U.shape[0])
        if outcome.status is Status.STOPPED:
            return assemble(self.name, options, run, outcome)
        X = None
        if bool(run.view.discrete.any()):
            X, outcome = settle_discrete(run, outcome, lambda u, f: self.search(run, u, f, max_iter=call.budget))
        if run.objective.space.nonlinear:
            order = torch.argsort(torch.where(torch.isfinite(outcome.F), outcome.F, torch.full_like(outcome.F, torch.inf)))
            X = (run.view.designs(outcome.U.detach()) if X is None else X)[order]
            X, improved = polish_nonlinear(run, X)
            outcome = outcome._replace(
                F=outcome.F[order], message=f"{outcome.message} SLSQP from the best designs improved {improved} of them."
            )
        return assemble(self.name, options, run, outcome, X=X)

    @abstractmethod
    def search(self, run: Run, starts: Tensor, f0: Tensor, *, max_iter: int) -> Outcome:
        """Search from ``starts``.

        Args:
            run: Energies (``run.energy(u)``), the history and the callback.
            starts: Starting points with finite energy, in search coordinates, shape ``(n, d)``.
            f0: Their energies, shape ``(n,)``.
            max_iter: Iterations of each restart.
        """


class TrainedSolver(Solver):
    """A solver that trains a generator of designs against the energy; implements `train`."""

    @staticmethod
    def seed_of(seed: int | None) -> int:
        """The seed training (or serving) starts from: ``seed``, or a fresh random one where it is ``None``."""
        return int(torch.randint(0, 2**62, ())) if seed is None else seed

    def _execute(self, run: Run, call: Call) -> Result | BatchResult:
        outcome = self.train(run, max_iter=call.budget, seed=self.seed_of(call.seed))
        if bool(run.view.discrete.any()):
            # The generator's designs are relaxed: the energies returned are those of the rounded designs.
            with torch.no_grad():
                X = run.view.designs(outcome.U.detach())
                return assemble(self.name, self.record(call), run, outcome._replace(F=run.evaluate(X)), X=X)
        return assemble(self.name, self.record(call), run, outcome)

    @abstractmethod
    def train(self, run: Run, *, max_iter: int, seed: int) -> Outcome:
        """Train for ``max_iter`` steps from ``seed``; the outcome's ``U`` is the last batch, in search coordinates."""


@runtime_checkable
class TargetAmortizer(Protocol):
    """A solver that declares `Capabilities.amortizes_targets`: one trained model serves every target."""

    def fit_targets(
        self, model: nn.Module, space: Box, Y: Tensor, *, max_iter: int | None = None, seed: int | None = None
    ) -> tuple[Any, Any]:
        """A conditional generator of designs for targets (``.sample(targets (T, k), n)`` -> ``(T, n, d)``) and its report."""
        ...

    def serve(self, generator: Any, objective: Objective, n: int | None = None, *, seed: int | None = None) -> BatchResult:
        """``n`` designs for each target of ``objective`` from ``generator``, as the solver serves a batch of targets."""
        ...


def _data(objective: Objective, x0: FromData) -> Data:
    """The offline data set of ``x0`` (a `FromData` with ``Y``): its designs inside the space, and their energies."""
    Z, Y = x0.search_points(objective)
    if Y is None or Z.shape[0] < 2:
        raise ValueError(f"the data set needs at least 2 designs with outputs inside the space, got {Z.shape[0]}")
    return Data(X=Z, E=objective.energy_from_outputs(Y))


def _names(names: list[str]) -> str:
    return ", ".join(names) or "none registered"


def training_data(objective: Objective, x0: Any) -> tuple[TrainingData | None, str]:
    """What a run's designs are judged against (`invdesign.trust`): the objective's training data,
    or where ``trust`` was left to decide, a `FromData` start's designs as the model sees them;
    and, where those cannot serve (too few, all equal), why not."""
    if objective.trust is not None:
        return objective.data, ""
    if not (objective.trust_unset and isinstance(x0, FromData) and (objective.decoder is None or x0.encode is not None)):
        return None, ""
    try:
        return TrainingData.from_objective((x0.X, x0.Y), objective), ""
    except (ValueError, TypeError) as error:
        return None, f"No trust report: {error}."


def deliver(result: Result | BatchResult, objective: Objective, data: TrainingData | None, why_not: str) -> Result | BatchResult:
    """``result`` as `invdesign.minimize` returns it: each result with its objective (on a batch of
    targets, its own target's) and the trust report of its designs against ``data`` (every
    target's at once), or ``why_not`` in its message (``data`` and ``why_not`` from `training_data`)."""
    results = result.results if isinstance(result, BatchResult) else [result]
    for t, one in enumerate(results):
        one.objective = objective[t] if isinstance(result, BatchResult) else objective
    if data is None:
        for one in results if why_not else []:
            one.message = f"{one.message} {why_not}"
        return result
    Z = None if results[0].Z is None else torch.cat([one.Z for one in results if one.Z is not None])
    try:
        report = data.report(objective, torch.cat([one.X for one in results]), Z)
    except Exception as error:  # the model failing on its own designs must not cost the finished run
        for one in results:
            one.message = f"{one.message} No trust report: {describe(error)}."
        return result
    for one, part in zip(results, report.split([one.X.shape[0] for one in results])):
        one.trust = part
        one.message = f"{one.message} {part.summary()}"
    return result
