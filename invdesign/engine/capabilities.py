"""What a solver can do, declared once: `Capabilities`, and the check of a call against them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Budget = Literal["iterations", "evaluations", "steps", "nodes"]
"""What a solver's budget counts: ``"iterations"`` of each restart (``max_iter``), objective
``"evaluations"`` (``max_evals``), training ``"steps"`` of a generator (``max_iter``), or
branch-and-bound ``"nodes"`` of a mixed-integer program (``max_iter``)."""

Models = Literal["any", "piecewise_linear"]
"""What models a solver takes: ``"any"`` callable, or only ``"piecewise_linear"`` torch networks
(`invdesign.mip.network.SUPPORTED`) whose energy is piecewise-linear in their outputs, with no
penalties or decoder (`invdesign.mip.energy`)."""


EVERY_VARIABLE: frozenset[str] = frozenset({"real", "integer", "categorical", "composition"})
"""Every kind of design variable (`invdesign.space.Space`)."""
EVERY_CONSTRAINT: frozenset[str] = frozenset({"linear", "nonlinear"})
"""Every kind of constraint beyond bounds and compositions."""


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """What a solver supports; `invdesign.minimize` checks every call against it, the benchmark
    runner and the tests dispatch on it.

    Attributes:
        gradients: The solver needs gradients of the energy with respect to the search point.
        ask_tell: ``solver.optimizer(space, seed=)`` starts a stateful ask/tell run.
        checkpoint: ``minimize(..., checkpoint=path)`` saves the run after every batch and
            resumes it from the file.
        x0: The solver takes starting points (``x0=``, ``n_restarts=``).
        budget: What its budget counts (see `Budget`); ``max_evals`` applies to
            ``"evaluations"``, ``max_iter`` to the other two.
        default_budget: The budget when the call gives none.
        default_restarts: Starting points when the call gives no ``n_restarts`` (0: none unless
            ``x0`` is given).
        data: The solver needs the offline data set: ``x0=invdesign.FromData(X, Y)`` with ``Y``.
        amortizes_targets: One trained model serves every target of a target task:
            ``solver.fit_targets(model, space, Y, max_iter=, seed=)`` returns a conditional
            generator ``g(noise, y*)`` (with ``.sample(targets, n)``) and its report, and
            ``solver.serve(generator, objective, n, seed=)`` serves an objective's batch of
            targets from it as the solver itself would.
        batches_targets: For an objective with a batch of ``T`` targets, one search holds every
            target's restarts in each forward and backward pass; a solver without it runs the
            targets one after another (`invdesign.engine.targets`).
        variables: Kinds of design variables it handles: ``"real"``, ``"integer"``,
            ``"categorical"``, ``"composition"`` (`invdesign.space.Space`; a fixed variable needs
            no support, it is not searched).
        constraints: Kinds of constraints it handles beyond bounds and compositions:
            ``"linear"``, ``"nonlinear"``.
        models: The models it takes (see `Models`); ``"piecewise_linear"`` solvers refuse the
            rest with a message naming the supported layers.
        callback: It calls ``callback=`` during the run (and stops when it raises
            ``StopIteration``).
        seeded: The seed changes its search; ``False`` for a deterministic solver (the seed is
            recorded, nothing more).
        asynchronous: Its optimizer asks for designs while others are still being evaluated
            (``ask(n, pending=...)``), so ``minimize(..., executor=..., asynchronous=True)`` keeps
            every worker busy.
    """

    gradients: bool
    ask_tell: bool = False
    checkpoint: bool = False
    x0: bool = True
    budget: Budget = "iterations"
    default_budget: int
    default_restarts: int = 0
    data: bool = False
    amortizes_targets: bool = False
    batches_targets: bool = False
    variables: frozenset[str] = field(default_factory=lambda: frozenset({"real"}))
    constraints: frozenset[str] = frozenset()
    models: Models = "any"
    callback: bool = True
    seeded: bool = True
    asynchronous: bool = False

    @property
    def budget_keyword(self) -> str:
        """The `invdesign.minimize` keyword of the budget: ``"max_evals"`` or ``"max_iter"``."""
        return "max_evals" if self.budget == "evaluations" else "max_iter"
