"""An `invdesign.Objective` read as a piecewise-linear energy, and its cost in a `Program`.

The energies that are piecewise-linear in the networks' outputs ``y_1 .. y_m`` (one output each;
``m = 1`` for a single network):

- plain (``E = y``) and maximize (``E = -y``), of one network, of the mean of an ensemble
  (``ensemble="mean"``, or an ensemble's own forward), or of its worst member
  (``ensemble="worst"``: ``E = max_j s y_j`` with ``s = +1`` or ``-1``, an epigraph variable
  ``e >= s y_j``);
- target matching for one output, ``E = (y - t)^2``: the program minimizes ``|y - t|`` (an
  epigraph ``e >= y - t``, ``e >= t - y``), whose minimizer is the squared error's; with
  ``ensemble="worst"``, ``max_j |y_j - t|``.

``ensemble="mean"`` with a target is the mean of squared errors, not piecewise-linear in the
outputs, and is refused, as are ``"pessimistic"``, penalties and decoders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from invdesign.energies import MemberMean, Negated, Plain, TargetError, Worst
from invdesign.mip.network import Network, UnsupportedModel, ensemble_networks
from invdesign.mip.program import Program
from invdesign.models.ensemble import Ensemble
from invdesign.objective import Objective


@dataclass(frozen=True)
class PiecewiseEnergy:
    """The energy of an objective as the program sees it.

    Attributes:
        networks: One network per member (one for a single model).
        sign: ``+1`` to minimize the output, ``-1`` to maximize it.
        target: The target of one output, or ``None``.
        worst: Take the worst member (else the members' mean output).
    """

    networks: list[Network]
    sign: float
    target: float | None
    worst: bool

    def energy(self, value: float) -> float:
        """The objective's energy for a program value (``value ** 2`` for a target, whose value is ``|y - t|``)."""
        if self.target is None:
            return value
        return max(value, 0.0) ** 2

    def cost(self, program: Program, outputs: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, float]:
        """Add the energy to ``program`` on the members' output variables (indices, lower and upper bounds, each ``(1,)``).

        Returns:
            The cost vector ``(program.n,)`` to minimize, and a lower bound on it from the
            variables' bounds alone.
        """
        m = len(outputs)
        cols = np.array([int(y[0]) for y, _, _ in outputs])
        lo = np.array([float(low[0]) for _, low, _ in outputs])
        hi = np.array([float(high[0]) for _, _, high in outputs])
        if not self.worst:
            # The mean output, (1/m) sum_j y_j, as one row of weights.
            weights, lo, hi = np.full((1, m), 1.0 / m), np.array([lo.mean()]), np.array([hi.mean()])
        else:
            weights = np.eye(m)
        if self.target is None and not self.worst:
            c = np.zeros(program.n)
            c[cols] = self.sign * weights[0]
            return c, float(np.minimum(self.sign * lo, self.sign * hi).sum())
        if self.target is None:
            floor = float(np.max(np.minimum(self.sign * lo, self.sign * hi)))
            e = program.variables(np.array([floor]), np.array([math.inf]))
            # e >= s y_j for every member j.
            program.rows(np.concatenate([e, cols]), np.hstack([np.ones((m, 1)), -self.sign * weights]), 0.0, math.inf)
        else:
            t = self.target
            distance = np.maximum(np.maximum(lo - t, t - hi), 0.0)
            floor = float(distance.max())
            e = program.variables(np.array([floor]), np.array([math.inf]))
            k = weights.shape[0]
            # e >= y - t and e >= t - y, for the mean output or for every member.
            program.rows(np.concatenate([e, cols]), np.hstack([np.ones((k, 1)), -weights]), -t, math.inf)
            program.rows(np.concatenate([e, cols]), np.hstack([np.ones((k, 1)), weights]), t, math.inf)
        c = np.zeros(program.n)
        c[e] = 1.0
        return c, floor


def read_energy(objective: Objective) -> PiecewiseEnergy:
    """The objective's energy, or a clear refusal of what is not piecewise-linear.

    Raises:
        TypeError: for a decoder, penalties, an unsupported ensemble rule or energy, or a model
            `invdesign.mip.network.read_network` cannot read (`UnsupportedModel`, naming the
            supported layers).
    """
    if objective.decoder is not None:
        raise TypeError("method 'milp' encodes the model on the space's own columns; an objective with a decoder is not supported")
    if objective.penalties:
        raise TypeError("method 'milp' encodes the model alone; penalties (arbitrary callables) are not supported")
    rule = objective.rule
    if rule is not None and not isinstance(rule, (MemberMean, Worst)):
        raise TypeError(f"method 'milp' supports ensemble='mean' and 'worst', not {objective.ensemble!r}")
    if rule is not None and not isinstance(objective.model, Ensemble):
        raise UnsupportedModel(
            f"method 'milp' reads the members of an invdesign.models.Ensemble; ensemble={objective.ensemble!r} was given "
            f"for a {type(objective.model).__name__}"
        )
    output = objective.output_energy
    networks = ensemble_networks(objective.model, objective.space.dim)  # type: ignore[arg-type]
    width = networks[0][-1].weight.shape[0]
    if width != objective.output_dim:
        raise UnsupportedModel(f"the network read from the model has {width} outputs, but the model returns {objective.output_dim}")
    target = None
    if isinstance(output, TargetError):
        if objective.output_dim != 1:
            raise TypeError(
                f"method 'milp' matches a target of one output (|f(x) - t|); this model has {objective.output_dim} outputs, "
                "whose squared error is not piecewise-linear"
            )
        target = float(output.target.reshape(-1)[0])
        if isinstance(rule, MemberMean) and len(networks) > 1:
            raise TypeError(
                "method 'milp' cannot encode ensemble='mean' with a target (a mean of squared errors is not "
                "piecewise-linear): use ensemble='worst', or no ensemble rule (the error of the mean output)"
            )
    elif not isinstance(output, (Plain, Negated)):
        raise TypeError(f"method 'milp' supports plain, maximize and one-output target energies, not {output!r}")
    return PiecewiseEnergy(
        networks=networks, sign=-1.0 if isinstance(output, Negated) else 1.0, target=target, worst=isinstance(rule, Worst)
    )
