"""``method="milp"``: the exact minimum of a ReLU network over the space, with a certified bound.

The model and the space become one mixed-integer linear program (`invdesign.mip`): the space's
columns, bounds, integers, categoricals, compositions and linear constraints; every member's
layers with big-M ReLUs on bounds from interval arithmetic and LP bound tightening; the energy as
a piecewise-linear cost. HiGHS (SciPy's `scipy.optimize.milp`) solves it by branch and bound, and
its dual bound is a certified lower bound on the energy over the whole space. A short local
search runs first, and its design is returned where HiGHS's incumbent is worse (at a limit).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from invdesign.engine import Capabilities, Outcome, Run, Solver, register
from invdesign.engine.capabilities import EVERY_VARIABLE
from invdesign.engine.run import assemble
from invdesign.engine.solver import Call
from invdesign.mip.encode import TIGHTEN_SHARE, Encoding, encode_network, encode_space
from invdesign.mip.energy import PiecewiseEnergy, read_energy
from invdesign.mip.program import Program, Solution
from invdesign.models.ensemble import Ensemble
from invdesign.objective import Objective
from invdesign.result import Result, Status, sort_designs

AGREEMENT = 1e-6
"""How closely the program's value and the torch model's energy of the incumbent must agree
(relative, with a floor of 1 on the scale); a larger difference is reported in the message."""
N_SAMPLES = 1024
"""Designs of the space evaluated before the solve (the history's first entry); lbfgs runs from
the best `N_LOCAL` of them."""
N_LOCAL = 8
"""Restarts of the local search before the solve."""
LOCAL_ITER = 200
"""L-BFGS-B iterations of each local restart."""

NO_NODE_LIMIT = 10**9
"""The default ``max_iter``: branch-and-bound nodes without a practical limit."""


@register
@dataclass(frozen=True, kw_only=True)
class MILP(Solver):
    """The certified minimum of a piecewise-linear (ReLU) network by mixed-integer programming.

    Supported: `invdesign.mip.network.SUPPORTED` models, ensembles under ``"mean"`` and
    ``"worst"``, plain, maximize and one-output target energies (`invdesign.mip.energy`); every
    kind of variable and linear constraints. ``max_iter`` caps the branch-and-bound nodes.

    `Result.bound` is HiGHS's lower bound on the energy over the whole space, `Result.gap` the
    energy of the returned design minus it. The status is ``CONVERGED`` only when HiGHS proved
    the design optimal within ``mip_gap``; at a time or node limit it is ``MAX_ITER``, with the
    best design found and the remaining gap. Before the solve, lbfgs runs from the best
    `N_LOCAL` of `N_SAMPLES` designs of the space; its design is returned where HiGHS has none or
    a worse one, so a limit never returns less than that local search finds. The design is
    re-evaluated by the torch model (in float64): the result's energy is the model's, and the
    message says if the program's value differs from it by more than `AGREEMENT`.

    Attributes:
        time_limit: Seconds for the whole call (bound tightening takes at most half); ``None``:
            no limit.
        mip_gap: Stop when ``(value - bound) <= mip_gap * |value|`` (HiGHS's relative gap; HiGHS
            also stops at an absolute gap of 1e-6).
        tighten: Tighten the neurons' bounds by LP (two small LPs per neuron not yet known to
            be always on or off), where interval arithmetic is not already exact; fewer
            binaries and a tighter relaxation, at the price of the LPs.
    """

    name: ClassVar[str] = "milp"
    capabilities: ClassVar[Capabilities] = Capabilities(
        gradients=False,
        x0=False,
        budget="nodes",
        default_budget=NO_NODE_LIMIT,
        variables=EVERY_VARIABLE,
        constraints=frozenset({"linear"}),
        models="piecewise_linear",
        callback=False,
        seeded=False,
    )

    time_limit: float | None = None
    mip_gap: float = 1e-4
    tighten: bool = True

    def __post_init__(self) -> None:
        if self.time_limit is not None and not (
            isinstance(self.time_limit, (int, float)) and math.isfinite(self.time_limit) and self.time_limit > 0
        ):
            raise ValueError(f"milp option time_limit must be a positive number of seconds or None, got {self.time_limit!r}")
        if not (isinstance(self.mip_gap, (int, float)) and 0 <= self.mip_gap < 1):
            raise ValueError(f"milp option mip_gap must lie in [0, 1), got {self.mip_gap!r}")
        if not isinstance(self.tighten, bool):
            raise TypeError(f"milp option tighten must be True or False, got {self.tighten!r}")

    def _execute(self, run: Run, call: Call) -> Result:
        objective = run.objective
        energy = read_energy(objective)
        start = time.perf_counter()
        fallback, F0 = self._local(run)
        program = Program()
        inputs = encode_space(program, objective.space)
        encoding = Encoding()
        deadline = math.inf if self.time_limit is None else start + TIGHTEN_SHARE * self.time_limit
        outputs = [
            encode_network(program, network, inputs, tighten=self.tighten, deadline=deadline, encoding=encoding)
            for network in energy.networks
        ]
        cost, floor = energy.cost(program, outputs)
        left = None if self.time_limit is None else self.time_limit - (time.perf_counter() - start)
        solution = program.solve(cost, time_limit=left, node_limit=call.budget, mip_gap=self.mip_gap)
        X, F, notes = self._incumbent(run, energy, solution, inputs[0], fallback, F0)
        bound = min(energy.energy(max(solution.bound, floor)), float(F[0]))
        status = Status.CONVERGED if solution.status == 0 else Status.MAX_ITER if solution.status == 1 else Status.STALLED
        nit = max(1, solution.nodes)
        run.record(nit, float(F[0]), 0)
        message = " ".join([_summary(solution, encoding, self.tighten, float(F[0]) - bound), *notes])
        outcome = Outcome(run.view.to_search(X), F, status, message, nit)
        return assemble(self.name, self.record(call), run, outcome, X=X, bound=bound)

    def _local(self, run: Run) -> tuple[Tensor, Tensor]:
        """The local search before the solve: the best design ``(1, d)`` and its energy ``(1,)``.

        lbfgs (every kind of space: rounding, SLSQP under linear constraints) from the best
        `N_LOCAL` of `N_SAMPLES` designs of the space.
        """
        from invdesign.optimize import minimize

        objective = run.objective
        X = objective.space.sample(N_SAMPLES, seed=0)
        F = run.evaluate(X).detach()
        run.record(0, float(F.min()), N_SAMPLES)
        order = sort_designs(F)
        local = minimize(objective, "lbfgs", x0=X[order[:N_LOCAL]], n_restarts=N_LOCAL, max_iter=LOCAL_ITER, seed=0)
        assert isinstance(local, Result)  # one target: milp runs a batch target by target
        run.nfev += local.nfev
        best = int(order[0])
        if local.fun <= float(F[best]):
            return local.X[:1], local.F[:1].to(F)
        return X[best : best + 1], F[best : best + 1]

    def _incumbent(
        self, run: Run, energy: PiecewiseEnergy, solution: Solution, columns: np.ndarray, fallback: Tensor, F0: Tensor
    ) -> tuple[Tensor, Tensor, list[str]]:
        """The design to return, ``(1, d)``, its energy ``(1,)``, and notes for the message.

        HiGHS's incumbent, made exactly feasible (integers integral, one-hot blocks exact) and
        re-evaluated by the model; the local search's design where there is no incumbent or it is worse.
        """
        objective, notes = run.objective, []
        if solution.x is None:
            notes.append("HiGHS found no design better than the local search's, which is returned.")
            return fallback, F0, notes
        x = torch.as_tensor(solution.x[columns], dtype=objective.dtype, device=objective.device).unsqueeze(0)
        X = run.view.designs(run.view.to_search(x))
        F = run.evaluate(X).detach()
        exact = _energy64(objective, X)
        claimed = energy.energy(solution.value)
        if abs(claimed - exact) > AGREEMENT * max(1.0, abs(exact)):
            notes.append(
                f"The program's value {claimed:.10g} and the model's energy {exact:.10g} of the design differ by "
                f"{abs(claimed - exact):.3g} (more than {AGREEMENT:g} relative): HiGHS's tolerances against the model's scale."
            )
        if float(F0[0]) < float(F[0]):
            notes.append("The local search's design beat HiGHS's incumbent and is returned.")
            return fallback, F0, notes
        return X, F, notes


def _energy64(objective: Objective, X: Tensor) -> float:
    """The energy of one design ``X`` ``(1, d)`` by the objective's model in float64."""
    model = objective.model
    assert isinstance(model, nn.Module)  # read_energy read it as a network
    model = model if objective.dtype == torch.float64 else copy.deepcopy(model).double()
    x = X.detach().double()
    with torch.no_grad():
        y = model.members_forward(x) if isinstance(model, Ensemble) and objective.rule is not None else model(x)
        y = y.reshape(*y.shape[: (2 if objective.rule is not None else 1)], -1)
        e = objective.output_energy(y)
        if objective.rule is not None:
            e = objective.rule(e)
    return float(e.reshape(-1)[0])


def _summary(solution: Solution, encoding: Encoding, tighten: bool, gap: float) -> str:
    """What the solve did, for the result's message."""
    if solution.status == 0:
        head = f"Certified: optimal within HiGHS's gap tolerance (gap {gap:.3g})."
    elif solution.status == 1:
        head = f"Not certified: HiGHS stopped at a limit ({solution.message.rstrip('.')}); remaining gap {gap:.3g}."
    else:
        head = f"Not certified: HiGHS ended with status {solution.status} ({solution.message.rstrip('.')}); remaining gap {gap:.3g}."
    stable = encoding.neurons - encoding.binaries
    tightening = (
        f"{encoding.lps} bound-tightening LPs{'' if encoding.tightened else ' (cut short by the time limit)'}"
        if tighten
        else "interval bounds only"
    )
    return (
        f"{head} {encoding.neurons} ReLUs, {encoding.binaries} binaries ({stable} always on or off), {tightening}, "
        f"{solution.nodes} branch-and-bound nodes."
    )
