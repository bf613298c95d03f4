"""``method="lbfgs"``: SciPy's L-BFGS-B with exact autograd gradients, restarts batched.

The restarts run as independent L-BFGS-B problems through BoTorch's batched port of SciPy's
L-BFGS-B (`botorch.optim.batched_lbfgs_b`): each call of the energy evaluates every
still-running restart in one forward and one backward pass, and a restart that has converged
drops out of the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from botorch.optim.batched_lbfgs_b import fmin_l_bfgs_b_batched
from torch import Tensor

from invdesign.engine import Capabilities, Outcome, RestartSolver, Run, chunks, register
from invdesign.engine.capabilities import EVERY_CONSTRAINT, EVERY_VARIABLE
from invdesign.engine.constrained import slsqp
from invdesign.engine.run import best_of, count
from invdesign.result import Status
from invdesign.space import SpaceView, UnitCube


class _Stop(Exception):
    """Raised inside the energy to end the SciPy loop when the callback asks to stop."""


@register
@dataclass(frozen=True, kw_only=True)
class LBFGSB(RestartSolver):
    """L-BFGS-B (Byrd, Lu, Nocedal, Zhu 1995) on the box, with gradients from autograd.

    On a box L-BFGS-B runs in the design's own units (the unit cube's search points times the
    box's widths, a shift of the design), as SciPy's L-BFGS-B on the design would: its first
    step, the projected negative gradient, and hence its iterates are SciPy's with an exact
    gradient (in unit-cube coordinates that first step is the widths squared times longer). On a
    `invdesign.Space` with compositions (or relaxed categoricals) the energy is evaluated at the
    exact projection of each point onto the simplex blocks, so L-BFGS-B minimizes ``E(P(u))`` over
    the coordinates' bounds, with the gradient through the projection. On a space with linear or
    nonlinear constraints each restart runs SciPy's SLSQP instead, with the constraints (and their
    autograd Jacobians) handed to it. Integers and categoricals are relaxed, then rounded and
    searched locally by the engine. Each restart returns the lowest-energy (projected) point it
    evaluated. ``max_iter`` caps L-BFGS-B iterations per
    restart. The history and the callback see every batched energy evaluation (line-search steps
    included) as one iteration; ``Result.nit`` counts L-BFGS-B iterations of the longest restart.
    A NaN or infinite energy is handed to SciPy as a finite value worse than the restart's best
    (``best + 1 + |best|``) with zero gradient, so the line search backs off from it; only finite
    points are returned.

    Attributes:
        ftol: Stop a restart when ``(f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= ftol``.
        gtol: Stop a restart when the largest projected-gradient component is ``<= gtol``.
        maxcor: Number of correction pairs kept for the Hessian approximation.
        maxls: Maximum line-search steps per iteration.
        max_batch: The most restarts evaluated in one forward and backward pass (rounded down to a
            multiple of 8, at least 8); more (restarts times targets) run in chunks, with the same
            designs on the CPU (`invdesign.engine.chunks`). ``None``: as many as a share of the
            device's available memory holds, measured on the model.
    """

    name: ClassVar[str] = "lbfgs"
    capabilities: ClassVar[Capabilities] = Capabilities(
        gradients=True, default_budget=1000, default_restarts=16, batches_targets=True, variables=EVERY_VARIABLE, constraints=EVERY_CONSTRAINT
    )

    ftol: float = 1e-12
    gtol: float = 1e-8
    maxcor: int = 10
    maxls: int = 20
    max_batch: int | None = None

    def __post_init__(self) -> None:
        for name in ("ftol", "gtol"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"lbfgs option {name} must be non-negative, got {getattr(self, name)}")
        for name in ("maxcor", "maxls"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"lbfgs option {name} must be a positive integer, got {getattr(self, name)!r}")
        if self.max_batch is not None:
            count("lbfgs option max_batch", self.max_batch, minimum=1)

    def search(self, run: Run, starts: Tensor, f0: Tensor, *, max_iter: int) -> Outcome:
        view = run.view
        if isinstance(view, SpaceView) and (view.has_constraints or view.space.nonlinear):
            return self._constrained(run, view, starts, max_iter=max_iter)
        best_f = f0.detach().cpu().double().numpy().copy()
        best_u = starts.detach().cpu().double().numpy().copy()
        nonfinite = np.zeros(len(best_f), dtype=bool)
        calls = 0

        def as_tensor(a: np.ndarray) -> Tensor:
            return torch.as_tensor(a, dtype=view.dtype, device=view.device)

        def best() -> tuple[Tensor, float]:
            i = int(np.argmin(best_f))
            return as_tensor(best_u[i]), float(best_f[i])

        batch_of_targets = run.which is not None
        plain = not view.blocks
        limit = run.rows_per_pass or chunks.batch_limit(run, starts, self.max_batch)
        # L-BFGS-B's variables: search points times the box's widths (design units), else search points.
        scale = view.space.width.cpu().double().numpy() if isinstance(view, UnitCube) else np.ones(view.dim)

        def energy_and_grad(y_np: np.ndarray, batch_indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
            # The hot loop: NumPy and torch share memory on the CPU in float64, and nothing is checked twice.
            nonlocal calls
            u_np = y_np / scale
            u = torch.from_numpy(u_np).to(dtype=view.dtype, device=view.device)
            rows = torch.as_tensor(batch_indices, device=view.device) if batch_of_targets else None
            # L-BFGS-B keeps its iterates inside the search bounds: only simplex blocks need the projection.
            f, g = chunks.energy_and_grad(run, u, rows, limit, transform=None if plain else view.project)
            f_np = f.cpu().double().numpy()
            g_np = g.cpu().double().numpy() / scale
            idx = np.asarray(batch_indices)
            finite = np.isfinite(f_np)
            if not finite.all():
                bad = ~finite
                nonfinite[idx[bad]] = True
                # Worse than the restart's best by a margin, with no gradient: the line search backs off.
                f_np[bad] = best_f[idx[bad]] + 1.0 + np.abs(best_f[idx[bad]])
                g_np[bad] = 0.0
            better = f_np < best_f[idx]
            if better.any():
                best_f[idx[better]] = f_np[better]
                best_u[idx[better]] = (u_np if plain else view.project(u).cpu().double().numpy())[better]
            calls += 1
            run.record(calls, float(best_f.min()), len(idx))
            if run.stop_requested(best):
                raise _Stop
            return f_np, g_np

        stopped_at = None
        if max_iter == 0:
            status, message, nit = Status.MAX_ITER, "reached max_iter=0.", 0
        else:
            try:
                _, _, runs = fmin_l_bfgs_b_batched(
                    energy_and_grad,
                    best_u * scale,
                    bounds=(view.bounds.cpu().double().numpy() * scale).T.tolist(),
                    maxcor=self.maxcor,
                    factr=None,
                    ftol=self.ftol,
                    pgtol=self.gtol,
                    maxiter=max_iter,
                    maxls=self.maxls,
                    pass_batch_indices=True,
                )
            except _Stop:
                status, message, nit = Status.STOPPED, "stopped by the callback.", calls
            else:
                nit = max(int(r["nit"]) for r in runs)
                status, message = _summarise(runs, max_iter)
                # A restart SciPy reports converged (status 0) stopped by its own test at its own iteration.
                stopped_at = torch.tensor([max(1, int(r["nit"])) if int(r["status"]) == 0 else 0 for r in runs], device=view.device)
        if nonfinite.any():
            message += (
                f" {int(nonfinite.sum())} restarts met a NaN or infinite energy; the line search backed off "
                "from it (the best finite point is kept)."
            )
        return Outcome(as_tensor(best_u), as_tensor(best_f), status, message, nit, stopped_at=stopped_at)

    def _constrained(self, run: Run, view: SpaceView, starts: Tensor, *, max_iter: int) -> Outcome:
        """SLSQP from each restart in turn, the constraints handed to SciPy (`invdesign.engine.constrained.slsqp`)."""
        U, F = starts.clone(), torch.full((starts.shape[0],), math.inf, dtype=starts.dtype, device=starts.device)
        nit, failed, limited, status = 0, 0, 0, Status.CONVERGED
        for i in range(starts.shape[0]):
            solved = slsqp(run, view, starts[i], max_iter=max_iter, ftol=self.ftol)
            if solved is None:
                failed += 1
                U[i] = view.round(starts[i : i + 1])[0]
            else:
                U[i] = solved.u
                nit = max(nit, solved.nit)
                failed += not solved.success and "Iteration limit" not in solved.message
                limited += "Iteration limit" in solved.message
            with torch.no_grad():
                F[i] = run.evaluate(view.to_design(U[i : i + 1]))[0]
            run.record(i + 1, float(F[: i + 1].min()), starts.shape[0] - i - 1)
            if run.stop_requested(best_of(U[: i + 1], F[: i + 1])):
                return Outcome(U[: i + 1], F[: i + 1], Status.STOPPED, "stopped by the callback.", nit)
        if limited:
            status = Status.MAX_ITER
        elif failed:
            status = Status.STALLED
        message = (
            f"SLSQP from each of {starts.shape[0]} restarts (the space's constraints handed to SciPy): "
            f"{starts.shape[0] - failed - limited} converged, {limited} reached max_iter={max_iter}, {failed} stopped otherwise."
        )
        return Outcome(U, F, status, message, nit)


def _summarise(runs: list[dict], max_iter: int) -> tuple[Status, str]:
    """Status and message from SciPy's per-restart results (status 0 converged, 1 budget, 2 other)."""
    codes = [int(r["status"]) for r in runs]
    messages: dict[str, int] = {}
    for r in runs:
        text = r["message"]
        text = text.decode() if isinstance(text, bytes) else str(text)
        messages[text] = messages.get(text, 0) + 1
    summary = "; ".join(f"{n} restart{'s' if n > 1 else ''}: {m}" for m, n in sorted(messages.items())) + "."
    if 1 in codes:
        return Status.MAX_ITER, f"{codes.count(1)} restarts reached max_iter={max_iter}. {summary}"
    if 2 in codes:
        return Status.STALLED, summary
    return Status.CONVERGED, summary
