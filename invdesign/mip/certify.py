"""`certify`: how far designs found by any solver are from the certified optimum of a ReLU surrogate."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from invdesign.engine.registry import make
from invdesign.objective import Objective
from invdesign.result import Result, Status


@dataclass(frozen=True)
class Certificate:
    """The optimum of an objective over its space, and each given design's distance from it in energy.

    Attributes:
        optimum: The energy of the best design ``method="milp"`` found.
        bound: A certified lower bound on the energy over the whole space; the true optimum lies
            in ``[bound, optimum]``.
        certified: Whether HiGHS proved ``optimum`` optimal (within ``mip_gap``); ``False`` when
            a limit stopped it first.
        x: The best design, ``(d,)``.
        energies: The given designs' energies, ``(n,)``.
        gaps: ``energies - optimum``, ``(n,)``: how much each design loses to the best design;
            its loss to the true optimum lies in ``[gaps, gaps + optimum - bound]``.
        result: The ``milp`` run.
    """

    optimum: float
    bound: float
    certified: bool
    x: Tensor
    energies: Tensor
    gaps: Tensor
    result: Result

    def __repr__(self) -> str:
        state = "certified" if self.certified else f"not certified, true optimum in [{self.bound:.6g}, {self.optimum:.6g}]"
        gaps = ", ".join(f"{g:.4g}" for g in self.gaps[:6].tolist()) + (" ..." if self.gaps.numel() > 6 else "")
        return f"Certificate(optimum={self.optimum:.6g} ({state}), {self.gaps.numel()} designs, gaps [{gaps}])"


def certify(
    objective: Objective,
    designs: Tensor,
    *,
    time_limit: float | None = 60.0,
    mip_gap: float = 1e-4,
    tighten: bool = True,
) -> Certificate:
    """The certified optimum of ``objective`` over its space, and the gap of each design to it.

    The objective's model must be a ReLU network ``method="milp"`` encodes
    (`invdesign.mip.network.SUPPORTED`).

    Args:
        objective: The objective (one target at most).
        designs: Designs of the objective's space, ``(n, d)`` or one ``(d,)``, e.g. another
            solver's ``Result.X``.
        time_limit: Seconds for the ``milp`` run; ``None``: no limit.
        mip_gap: Its relative optimality gap.
        tighten: Its LP bound tightening.

    Raises:
        ValueError: for designs of the wrong width or outside the space.
        TypeError: for an objective ``milp`` cannot encode (naming what it supports).
    """
    if not isinstance(designs, Tensor):
        raise TypeError(f"designs must be a tensor of shape (n, {objective.dim}), got {type(designs).__name__}")
    X = designs.detach().to(dtype=objective.dtype, device=objective.device)
    X = X.unsqueeze(0) if X.ndim == 1 else X
    if X.ndim != 2 or X.shape[1] != objective.dim:
        raise ValueError(f"designs must have shape (n, {objective.dim}), got {tuple(designs.shape)}")
    outside = (~objective.space.contains(X)).nonzero().flatten().tolist()
    if outside:
        raise ValueError(f"designs {outside[:10]} lie outside the objective's space: no certificate covers them")
    result = make("milp", time_limit=time_limit, mip_gap=mip_gap, tighten=tighten).minimize(objective)
    assert isinstance(result, Result) and result.bound is not None  # one target, and milp proves a bound
    with torch.no_grad():
        energies = objective(X)
    return Certificate(
        optimum=result.fun,
        bound=result.bound,
        certified=result.status is Status.CONVERGED,
        x=result.x,
        energies=energies,
        gaps=energies - result.fun,
        result=result,
    )
