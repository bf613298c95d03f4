"""One configuration per kind of problem, fixed in advance: `recommend` and `Recommendation`.

A scientist with their own surrogate and data does not run the benchmark before searching; they
need to know which configuration to run. The three kinds and their configurations:

- ``"offline"``: a differentiable surrogate trained on a data set ``(X, Y)``, minimized. Design-Bench's
  gradient ascent (``method="ga"``: 200 small fixed steps from the 128 best training designs) on
  the worst member of a 5-member deep ensemble (``ensemble="worst"``). Chosen on validation seeds
  100 and 101 of the nine Design-Bench-style offline tasks of the full suite (seeds that the reported tables never
  use; see `OFFLINE_EVIDENCE`), before the reported run.
- ``"target"``: match a target output (one, or a ``(T, k)`` batch) with a differentiable surrogate:
  batched ``gd`` with its defaults, started from ``FromData(X, Y)`` where the data are known (the
  designs whose outputs lie nearest each target, then prior points): ``benchmarks/neural_adjoint.py``.
- ``"black-box"``: an energy evaluated at a cost, with a budget of ``max_evals`` evaluations:
  ``bo`` (BoTorch's qLogEI) up to `BO_MAX_EVALS` evaluations, ``turbo`` (TuRBO-1) beyond, where
  one global GP's cost and its over-exploration grow (``benchmarks/bo_branin.py``: bo against
  random at 40 evaluations; ``benchmarks/turbo_ackley.py``: turbo ahead of bo at 400 evaluations in
  20 dimensions; ``benchmarks/molecules.py``: turbo at 500 evaluations).

The benchmark runs the offline configuration as its own row, ``recommended``
(`invdesign.benchmark.CONFIGS`); on target tasks the recommended configuration is the ``gd`` row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from invdesign.energies import EnsembleRule
from invdesign.engine import count

if TYPE_CHECKING:
    from invdesign.engine import Solver
    from invdesign.objective import Objective
    from invdesign.result import BatchResult, Result
    from invdesign.space import DesignSpace

Kind = Literal["offline", "target", "black-box"]
KINDS: tuple[Kind, ...] = ("offline", "target", "black-box")

ENSEMBLE_MEMBERS = 5
"""Members of the deep ensemble the offline configuration searches (the benchmark's ensembles)."""
BO_MAX_EVALS = 100
"""The largest evaluation budget for which ``bo`` is recommended; ``turbo`` beyond it."""

OFFLINE_EVIDENCE = """\
Validation (seeds 100 and 101, never reported; k = 128 designs; `benchmarks/design_bench_offline.py`
protocol) on the nine Design-Bench-style offline tasks of the full suite, 14 candidate configurations: gd+ensemble,
gd+pessimism, gd+worst, gd+diverse; gd on the ensemble mean, worst member and mean + 2 std from 512
training designs with diverse selection; ga on the ensemble mean, mean + 1 std and worst member; ga
from 512 training designs with diverse selection on the single surrogate, the ensemble mean, mean +
1 std and worst member. Rule: the candidate that meets most of the 18 (task, claim) pairs (beats ga's mean normalised
100th-percentile score; has a smaller mean absolute exploitation gap than gd), ties going to more
score wins. ga on the worst member met 13 (score: 6 of 9, all but ackley10, branin and mixed; gap:
7 of 9, all but mixed and rosenbrock10); gd on the worst member also met 13 with 5 score wins; no
candidate met all 18: on ackley10, branin and mixed none beat ga's score on the validation seeds.
Rerun on the same seeds with the code of 2026-12-06 (ga now projects its steps on mixed spaces, which
moved mixed's ga score from 0.886 to 0.702), for the 14 and for three more (ga on mean + 0.5 std, and
ga on the worst member with 400 steps or twice the step): ga on the worst member met the most, 14
(score: all but ackley10 and branin; gap: all but mixed and rosenbrock10); gd on the worst member 13,
the next 11. No candidate beat ga's ackley10 score."""


@dataclass(frozen=True)
class Recommendation:
    """A configuration for one kind of problem: solver, options, budget and guard, with why it was chosen.

    Attributes:
        kind: ``"offline"``, ``"target"`` or ``"black-box"`` (see the module docstring).
        method: The solver's registry name.
        options: The solver's options (`invdesign.solvers.make`).
        settings: Keywords of `invdesign.minimize` (``n_restarts``, ``max_evals``, ...).
        ensemble: The rule over a deep ensemble's members the objective must use (``None``: any model).
        members: Members of that ensemble (0 without one).
        evidence: How the configuration was chosen, and on what.
    """

    kind: Kind
    method: str
    options: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    ensemble: EnsembleRule | None = None
    members: int = 0
    evidence: str = field(default="", repr=False)

    def solver(self) -> Solver:
        """The solver with its options (`invdesign.solvers.make`)."""
        from invdesign.solvers import make

        return make(self.method, **self.options)

    def objective(self, model: Any, space: DesignSpace, **kwargs: Any) -> Objective:
        """``invdesign.Objective(model, space, ensemble=self.ensemble, **kwargs)``: the objective this configuration searches.

        Raises:
            TypeError: where the configuration searches an ensemble and ``model`` has no
                ``members_forward`` (train one with `invdesign.models.fit_ensemble`, or wrap
                independently trained copies in `invdesign.models.Ensemble`).
        """
        from invdesign.objective import Objective

        if self.ensemble is not None and not callable(getattr(model, "members_forward", None)):
            raise TypeError(
                f"the recommended {self.kind} configuration searches ensemble={self.ensemble!r} of a deep ensemble of "
                f"{self.members} members: train one with invdesign.models.fit_ensemble(X, Y, n_members={self.members}), or "
                f"wrap {self.members} copies of your model trained from different seeds in invdesign.models.Ensemble([...]); "
                f"{type(model).__name__} has no members_forward"
            )
        return Objective(model, space, ensemble=self.ensemble, **kwargs)

    def minimize(self, objective: Objective, **kwargs: Any) -> Result | BatchResult:
        """Run this configuration on ``objective``: `invdesign.minimize` with its method, options and settings.

        Keywords (``x0``, ``seed``, ``k``, a budget ...) override the settings. The offline
        configuration needs ``x0=invdesign.FromData(X, Y)``.

        Raises:
            ValueError: where the objective does not use the recommended ensemble rule (build it
                with `objective`), or a target objective meets a configuration for another kind.
        """
        from invdesign.optimize import minimize

        if self.ensemble is not None and objective.ensemble != self.ensemble:
            raise ValueError(
                f"the recommended {self.kind} configuration searches ensemble={self.ensemble!r}, this objective "
                f"ensemble={objective.ensemble!r}: build it with recommendation.objective(model, space, ...)"
            )
        targeted = objective.target is not None or objective.targets is not None
        if targeted != (self.kind == "target") and self.kind != "black-box":
            raise ValueError(
                f"this is the recommendation for {self.kind!r} problems, but the objective "
                f"{'has' if targeted else 'has no'} target: use invdesign.recommend(objective)"
            )
        return minimize(objective, self.method, **{**self.options, **self.settings, **kwargs})


def recommend(problem: Any, *, max_evals: int | None = None) -> Recommendation:
    """The recommended configuration for a problem.

    Args:
        problem: A kind (``"offline"``, ``"target"``, ``"black-box"``), a task or task name
            (minimize tasks are offline problems, target tasks target ones), an `invdesign.Objective`
            (with a target: ``"target"``; with ``data=``: ``"offline"``), or the training data
            (``(X, Y)`` or `invdesign.FromData`: ``"offline"``).
        max_evals: An evaluation budget: the problem is a black box evaluated at a cost (its
            recommendation depends on the budget).

    Returns:
        The `Recommendation`.

    Raises:
        ValueError: for an unknown kind or task name, ``"black-box"`` without ``max_evals``, or an
            objective with neither a target nor data (pass ``data=`` or ``max_evals=``).
        TypeError: for anything else.
    """
    kind = _kind(problem, max_evals)
    if kind == "black-box":
        if max_evals is None:
            raise ValueError("a black-box recommendation depends on the budget: pass max_evals=")
        count("max_evals", max_evals, minimum=1)
        method = "bo" if max_evals <= BO_MAX_EVALS else "turbo"
        return Recommendation(
            kind="black-box",
            method=method,
            settings={"max_evals": max_evals},
            evidence=f"bo up to {BO_MAX_EVALS} evaluations, turbo beyond: benchmarks/bo_branin.py, turbo_ackley.py, molecules.py",
        )
    if kind == "target":
        return Recommendation(
            kind="target",
            method="gd",
            evidence="batched gd from FromData(X, Y) starts: benchmarks/neural_adjoint.py (r_T against the neural-adjoint recipe)",
        )
    return Recommendation(
        kind="offline",
        method="ga",
        ensemble="worst",
        members=ENSEMBLE_MEMBERS,
        evidence=OFFLINE_EVIDENCE,
    )


def _kind(problem: Any, max_evals: int | None) -> Kind:
    from invdesign import tasks
    from invdesign.objective import Objective
    from invdesign.starts import FromData

    if max_evals is not None:
        return "black-box"
    if isinstance(problem, str):
        if problem in KINDS:
            return problem
        problem = tasks.get(problem)
    if isinstance(problem, tasks.Task):
        return "target" if problem.kind == "target" else "offline"
    if isinstance(problem, Objective):
        if problem.target is not None or problem.targets is not None:
            return "target"
        if problem.data is None:
            raise ValueError(
                "recommend needs to know the problem: give the objective its training data (data=(X, Y)) for an "
                "offline problem, or max_evals= for a black box evaluated at a cost"
            )
        return "offline"
    if isinstance(problem, (FromData, tuple)):
        return "offline"
    raise TypeError(
        f"recommend takes a kind {KINDS}, a task or task name, an invdesign.Objective, or training data (X, Y); "
        f"got {type(problem).__name__}"
    )

