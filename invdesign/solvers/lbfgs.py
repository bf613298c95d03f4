"""``method="lbfgs"``: SciPy's L-BFGS-B with exact autograd gradients, restarts batched.

The restarts run as independent L-BFGS-B problems through BoTorch's batched port of SciPy's
L-BFGS-B (`botorch.optim.batched_lbfgs_b`): each call of the energy evaluates every
still-running restart in one forward and one backward pass, and a restart that has converged
drops out of the batch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from botorch.optim.batched_lbfgs_b import fmin_l_bfgs_b_batched
from torch import Tensor

from invdesign.objective import Objective
from invdesign.result import History, Progress, Result, Status
from invdesign.solvers.base import Callback, Solver, drop_failed_starts, finish, register
from invdesign.starts import StartStrategy, initial_points


class _Stop(Exception):
    """Raised inside the energy to end the SciPy loop when the callback asks to stop."""


@register
@dataclass(frozen=True, kw_only=True)
class LBFGSB(Solver):
    """L-BFGS-B (Byrd, Lu, Nocedal, Zhu 1995) on the box, with gradients from autograd.

    The search runs in unit-cube coordinates of the box (bounds ``[0, 1]``). Each restart
    returns the lowest-energy point it evaluated. ``max_iter`` caps L-BFGS-B iterations per
    restart.

    Attributes:
        ftol: Stop a restart when ``(f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= ftol``.
        gtol: Stop a restart when the largest projected-gradient component is ``<= gtol``.
        maxcor: Number of correction pairs kept for the Hessian approximation.
        maxls: Maximum line-search steps per iteration.
    """

    name: ClassVar[str] = "lbfgs"
    requires_gradients: ClassVar[bool] = True
    batched: ClassVar[bool] = True
    default_restarts: ClassVar[int] = 16
    default_max_iter: ClassVar[int] = 1000

    ftol: float = 1e-12
    gtol: float = 1e-8
    maxcor: int = 10
    maxls: int = 20

    def minimize(
        self,
        objective: Objective,
        *,
        n_restarts: int | None = None,
        max_iter: int | None = None,
        seed: int | None = None,
        x0: Tensor | StartStrategy | None = None,
        callback: Callback | None = None,
    ) -> Result:
        t0 = time.perf_counter()
        self.check(objective)
        max_iter = self.default_max_iter if max_iter is None else max_iter
        space = objective.space
        starts = initial_points(objective, n_restarts, x0, seed, default_n=self.default_restarts)
        starts, f0, message = drop_failed_starts(objective, starts)
        best_f = f0.detach().cpu().double().numpy().copy()
        best_u = space.to_unit(starts).detach().cpu().double().numpy().copy()
        history = History()
        counts = {"nfev": starts.shape[0], "calls": 0}
        history.record(0, float(best_f.min()), counts["nfev"], len(best_f))

        def energy_and_grad(u_np: np.ndarray, batch_indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
            u = torch.as_tensor(u_np, dtype=objective.dtype, device=objective.device).requires_grad_(True)
            f = objective(space.clamp(space.from_unit(u)))
            (g,) = torch.autograd.grad(f.sum(), u)
            f_np = f.detach().cpu().double().numpy()
            g_np = g.detach().cpu().double().numpy()
            bad = ~np.isfinite(f_np)
            f_np[bad], g_np[bad] = math.inf, 0.0
            idx = np.asarray(batch_indices)
            better = f_np < best_f[idx]
            best_f[idx[better]] = f_np[better]
            best_u[idx[better]] = u_np[better]
            counts["nfev"] += len(idx)
            counts["calls"] += 1
            history.record(counts["calls"], float(best_f.min()), counts["nfev"], len(idx))
            if callback is not None:
                i = int(np.argmin(best_f))
                x = space.from_unit(torch.as_tensor(best_u[i], dtype=objective.dtype, device=objective.device))
                try:
                    callback(Progress(counts["calls"], counts["nfev"], x, float(best_f[i]), history.time[-1]))
                except StopIteration:
                    raise _Stop from None
            return f_np, g_np

        nit = 0
        try:
            _, _, runs = fmin_l_bfgs_b_batched(
                energy_and_grad,
                best_u.copy(),
                bounds=[(0.0, 1.0)] * space.dim,
                maxcor=self.maxcor,
                factr=None,
                ftol=self.ftol,
                pgtol=self.gtol,
                maxiter=max_iter,
                maxls=self.maxls,
                pass_batch_indices=True,
            )
        except _Stop:
            status, summary = Status.STOPPED, "stopped by the callback."
        else:
            nit = max(int(r["nit"]) for r in runs)
            status, summary = _summarise(runs, max_iter)

        U = torch.as_tensor(best_u, dtype=objective.dtype, device=objective.device)
        F = torch.as_tensor(best_f, dtype=objective.dtype, device=objective.device)
        return finish(
            self,
            objective,
            space.clamp(space.from_unit(U)),
            F,
            status=status,
            message=f"{summary} {message}".strip(),
            nit=nit,
            nfev=counts["nfev"],
            t0=t0,
            history=history,
        )


def _summarise(runs: list[dict], max_iter: int) -> tuple[Status, str]:
    """Status and message from SciPy's per-restart results."""
    out_of_budget = sum(int(r["status"]) == 1 for r in runs)
    messages: dict[str, int] = {}
    for r in runs:
        text = r["message"]
        text = text.decode() if isinstance(text, bytes) else str(text)
        messages[text] = messages.get(text, 0) + 1
    summary = "; ".join(f"{n} restart{'s' if n > 1 else ''}: {m}" for m, n in sorted(messages.items()))
    if out_of_budget:
        return Status.MAX_ITER, f"{out_of_budget} restarts reached max_iter={max_iter}. {summary}."
    return Status.CONVERGED, f"{summary}."
