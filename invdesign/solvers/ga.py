"""``method="ga"``: Design-Bench's gradient ascent, the reference row of offline tables.

Trabucco, Geng, Kumar, Levine, "Design-Bench: benchmarks for data-driven offline model-based
optimization", ICML 2022: start from the best designs of the training set, standardise the
designs with the training set's mean and standard deviation (and the scores likewise), and take
plain gradient steps of size ``0.01 * sqrt(d)`` on the standardised designs following the
surrogate's gradient (here down the energy: invdesign minimizes). Design-Bench does not bound the
designs during the steps; its oracles are defined on the task's box only, so the final designs
are projected onto the space. Design-Bench runs its discrete tasks on a relaxation of their one-hot
designs; here a space with compositions, integers and categoricals is searched in its relaxed
search coordinates (`invdesign.space.Space.coordinates`), and the final designs are rounded and
improved by the discrete local search every restart solver ends with (`invdesign.engine.mixed`).
On a space with compositions, categoricals or linear constraints every step is projected onto the
(relaxed) feasible set, as for every projection solver: the model is only evaluated where those
hold. A box keeps Design-Bench's unbounded steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from invdesign.engine import Capabilities, Outcome, RestartSolver, Run, register
from invdesign.engine.capabilities import EVERY_CONSTRAINT, EVERY_VARIABLE
from invdesign.engine.run import best_of
from invdesign.result import Status


@register
@dataclass(frozen=True, kw_only=True)
class GradientAscent(RestartSolver):
    """Design-Bench's gradient ascent (descent on the energy) from the data set's best designs.

    Needs the offline data set, ``x0=invdesign.FromData(X, Y)``: its designs inside the space set
    the standardisation of the designs (mean and standard deviation per coordinate), its energies
    the standardisation of the energy. Each of ``max_iter`` steps moves every restart by
    ``step_scale * sqrt(d)`` times the gradient of the standardised energy with respect to the
    standardised design, unbounded; the final designs are projected onto the space and ranked by
    their energy there. A restart whose energy turns NaN or infinite goes back to its last finite
    point and stops there. In search coordinates ``u`` this is ``u -= step * s_u**2 * grad_u E / s_E``
    with ``s_u`` the data's standard deviation per coordinate and ``s_E`` the energies'.

    Attributes:
        step_scale: The step is ``step_scale * sqrt(d)`` in standardised design units.
    """

    name: ClassVar[str] = "ga"
    capabilities: ClassVar[Capabilities] = Capabilities(
        gradients=True, default_budget=200, default_restarts=128, data=True, variables=EVERY_VARIABLE, constraints=EVERY_CONSTRAINT
    )

    step_scale: float = 0.01

    def __post_init__(self) -> None:
        if not (isinstance(self.step_scale, (int, float)) and math.isfinite(self.step_scale) and self.step_scale > 0):
            raise ValueError(f"ga option step_scale must be positive and finite, got {self.step_scale!r}")

    def search(self, run: Run, starts: Tensor, f0: Tensor, *, max_iter: int) -> Outcome:
        assert run.data is not None
        tiny = 1e-12
        u_scale = run.data.search_points(run.view).std(dim=0).clamp_min(tiny).square()
        e_scale = run.data.E.std().clamp_min(tiny)
        step = self.step_scale * math.sqrt(run.view.dim) * u_scale / e_scale
        u, last, status, nit = starts.clone(), starts.clone(), Status.MAX_ITER, 0
        # Compositions, one-hot blocks and linear constraints must hold wherever the model is evaluated.
        bounded = bool(run.view.blocks) or run.view.has_constraints
        frozen = torch.zeros(u.shape[0], dtype=torch.bool, device=u.device)
        for it in range(max_iter):
            nit = it + 1
            u.requires_grad_(True)
            f = run.energy(u)
            (grad,) = torch.autograd.grad(f.sum(), u)
            with torch.no_grad():
                # A restart whose energy turned NaN or infinite goes back to its last finite point and stops.
                frozen |= ~torch.isfinite(f)
                last = torch.where(frozen.unsqueeze(-1), last, u)
                u = torch.where(frozen.unsqueeze(-1), last, u - step * torch.nan_to_num(grad))
                if bounded:
                    run.view.project_(u)
            finite = f.detach()[~frozen]
            run.record(nit, float(finite.min()) if finite.numel() else math.inf, int((~frozen).sum()))
            if run.stop_requested(best_of(last, torch.where(frozen, math.inf, f.detach()))):
                status = Status.STOPPED
                break
        u = run.view.project(u)
        with torch.no_grad():
            f = run.energy(u)
        run.record(nit, float(f.min()), u.shape[0])
        message = {Status.MAX_ITER: f"took max_iter={max_iter} steps.", Status.STOPPED: "stopped by the callback."}[status]
        if frozen.any():
            message += f" {int(frozen.sum())} restarts stopped early: their energy turned NaN or infinite (last finite point kept)."
        return Outcome(u, f, status, message, nit)
