"""``method="gd"``: batched gradient descent on the search point, every restart in one batch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor
from torch.optim.adam import adam as adam_step
from torch.optim.sgd import sgd as sgd_step

from invdesign.engine import Capabilities, Outcome, RestartSolver, Run, register
from invdesign.engine.capabilities import EVERY_CONSTRAINT, EVERY_VARIABLE
from invdesign.engine.chunks import batch_limit, energy_and_grad
from invdesign.engine.run import best_of, count
from invdesign.models.train import FUSED_ADAM_DEVICES
from invdesign.result import Status


@register
@dataclass(frozen=True, kw_only=True)
class GradientDescent(RestartSolver):
    """Gradient descent on all restarts at once: one forward and one backward per iteration.

    The search runs in the space's search coordinates (the unit cube of a box), so ``lr`` means
    the same on every box.
    Each iteration evaluates the energy of every active restart, takes its gradient with respect
    to the search points only (the model's weights get no gradient), and steps. A restart is
    retired from the batch, and stops costing, once its best energy has not improved by more
    than ``ftol * (1 + |best|)`` for ``patience`` iterations, or once its energy turns NaN. In
    target matching (an objective with ``target=``) the test is relative, ``ftol * |best|``: the
    squared error falls to exactly 0 where a restart matches its target, an absolute floor would
    retire restarts short of that at a level set by the outputs' units, and exact matches rank
    in the order of their starts (with `invdesign.FromData`, nearest the data first).
    Each restart returns the lowest-energy point it visited inside the box.

    On an `invdesign.Space` the step is followed by the exact Euclidean projection onto the
    relaxed feasible set (a clamp, a simplex projection per composition or relaxed categorical,
    Dykstra's alternating projection for linear constraints), so every point the search visits,
    and every design the callback sees, is feasible; integers and categoricals are relaxed, then
    rounded, searched locally and polished by the engine (`invdesign.engine.mixed`).

    Attributes:
        optimizer: ``"auto"`` (default), ``"adam"``, ``"sgd"`` or ``"normalized"``. With
            ``"sgd"`` the step is ``lr * sqrt(d) * gradient``, Design-Bench's scaling. With
            ``"normalized"`` each restart's gradient is divided by its root mean square before
            an SGD step with momentum 0.9: scale-free like Adam, but the same in every direction,
            so that its fixed points under projection are the constrained optimum's KKT points
            (Adam's per-coordinate scaling followed by a Euclidean projection stops short of a
            face's optimum). ``"auto"`` is ``"normalized"`` when the search coordinates couple
            columns (a composition or relaxed categorical on the simplex, linear constraints),
            and ``"adam"`` otherwise (every box).
        lr: Learning rate, in unit-cube coordinates.
        momentum: Momentum for ``"sgd"``.
        lr_schedule: ``"constant"``, ``"cosine"`` (default; decays to ``lr * lr_final`` at
            ``max_iter``) or ``"exponential"`` (the same end point, geometric).
        lr_final: Final learning rate as a fraction of ``lr`` for the decaying schedules.
        bounds: ``"project"`` (default): project onto the space after every step. ``"penalty"``:
            let points leave the box and add the neural-adjoint boundary loss (the weighted
            `invdesign.space.UnitCube.excess`, as `invdesign.penalties.BoundaryPenalty`) to the
            descent; only points inside the box are returned, ranked by their energy without the
            boundary loss.
        boundary_weight: Weight of the boundary loss with ``bounds="penalty"``.
        ftol: Relative improvement below which an iteration counts as stalled (see above).
        patience: Stalled iterations after which a restart is retired.
        max_batch: The most restarts evaluated in one forward and backward pass (rounded down to a
            multiple of 8, at least 8); a larger batch (restarts times targets) runs in chunks,
            with the same designs on the CPU (`invdesign.engine.chunks`). ``None``: as many as a
            share of the device's available memory holds, measured on the model.
    """

    name: ClassVar[str] = "gd"
    capabilities: ClassVar[Capabilities] = Capabilities(
        gradients=True, default_budget=300, default_restarts=64, batches_targets=True, variables=EVERY_VARIABLE, constraints=EVERY_CONSTRAINT
    )

    optimizer: Literal["auto", "adam", "sgd", "normalized"] = "auto"
    lr: float = 0.05
    momentum: float = 0.0
    lr_schedule: Literal["constant", "cosine", "exponential"] = "cosine"
    lr_final: float = 0.01
    bounds: Literal["project", "penalty"] = "project"
    boundary_weight: float = 0.1
    ftol: float = 1e-9
    patience: int = 50
    max_batch: int | None = None

    def __post_init__(self) -> None:
        _choice("optimizer", self.optimizer, ("auto", "adam", "sgd", "normalized"))
        _choice("lr_schedule", self.lr_schedule, ("constant", "cosine", "exponential"))
        _choice("bounds", self.bounds, ("project", "penalty"))
        for name in ("lr", "lr_final", "momentum", "boundary_weight", "ftol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"gd option {name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0 or (name in ("lr", "lr_final") and value == 0):
                raise ValueError(f"gd option {name} must be {'positive' if name.startswith('lr') else 'non-negative'} and finite, got {value}")
        count("gd option patience", self.patience, minimum=1)
        if self.max_batch is not None:
            count("gd option max_batch", self.max_batch, minimum=1)

    def search(self, run: Run, starts: Tensor, f0: Tensor, *, max_iter: int) -> Outcome:
        view = run.view
        if self.bounds == "penalty" and (view.blocks or view.has_constraints):
            raise ValueError(
                "gd option bounds='penalty' lets points leave the box, but this space's compositions or linear "
                "constraints must hold exactly: use bounds='project'"
            )
        # Per-restart state of the restarts still in the batch ("active"); retired ones move to done_*.
        active = torch.arange(starts.shape[0], device=starts.device)
        best_f, best_u = f0.clone(), starts.clone()
        stall = torch.zeros_like(active)
        done_f, done_u = torch.full_like(f0, math.inf), best_u.clone()
        diverged = torch.zeros(starts.shape[0], dtype=torch.bool, device=starts.device)
        stopped_at = torch.zeros(starts.shape[0], dtype=torch.long, device=starts.device)
        u = best_u.clone()
        kind = self.optimizer
        if kind == "auto":
            kind = "normalized" if view.blocks or view.has_constraints else "adam"
        base_lr = self.lr * math.sqrt(view.dim) if kind == "sgd" else self.lr
        step = _Step(kind, u, _NORMALIZED_MOMENTUM if kind == "normalized" else self.momentum)
        limit = run.rows_per_pass or batch_limit(run, starts, self.max_batch)
        boundary = (lambda p: self.boundary_weight * view.excess(p)) if self.bounds == "penalty" else None
        penalty = self.bounds == "penalty"
        floor = 0.0 if run.objective.target is not None or run.objective.targets is not None else 1.0

        status, nit, done_best = Status.MAX_ITER, 0, math.inf
        for it in range(max_iter):
            f, grad = energy_and_grad(run, u, active, limit, extra=boundary)
            if kind == "normalized":
                grad = grad / grad.square().mean(dim=-1, keepdim=True).sqrt().clamp_min(torch.finfo(u.dtype).tiny)
            nit = it + 1

            with torch.no_grad():
                improved = f < best_f  # False where f is NaN
                if penalty:
                    improved &= view.contains(u)
                stall.add_(1).masked_fill_(f < best_f - self.ftol * (floor + best_f.abs()), 0)
                best_f = torch.where(improved, f, best_f)
                best_u = torch.where(improved.unsqueeze(-1), u, best_u)
                step(u, grad, base_lr * self._lr_factor(it, max_iter))
                if not penalty:
                    view.project_(u)
                # A NaN or infinite energy (f - f is NaN) retires its restart at once.
                stall.masked_fill_((f - f).isnan(), self.patience)
                retire = stall >= self.patience
                if retire.any():
                    nonfinite = ~torch.isfinite(f[retire])
                    done_best = min(done_best, float(best_f[retire].min()))
                    gone = active[retire]
                    done_f[gone], done_u[gone], diverged[gone] = best_f[retire], best_u[retire], nonfinite
                    stopped_at[gone] = torch.where(nonfinite, 0, nit)  # a NaN energy is no convergence
                    keep = ~retire
                    active, best_f, best_u, stall = active[keep], best_f[keep], best_u[keep], stall[keep]
                    u = u[keep]
                    step.keep(keep)

            run.record(nit, min(float(best_f.min()) if active.numel() else math.inf, done_best), active.numel())
            if run.callback is not None:
                done_f[active], done_u[active] = best_f, best_u
                if run.stop_requested(best_of(done_u, done_f)):
                    status = Status.STOPPED
                    break
            if active.numel() == 0:
                status = Status.CONVERGED
                break

        done_f[active], done_u[active] = best_f, best_u
        n_diverged = int(diverged.sum())
        message = {
            Status.CONVERGED: "every restart converged.",
            Status.MAX_ITER: f"reached max_iter={max_iter}.",
            Status.STOPPED: "stopped by the callback.",
        }[status]
        if n_diverged:
            status = Status.STALLED if status is Status.CONVERGED else status
            message += f" {n_diverged} restarts stopped early: their energy turned NaN or infinite (best point before kept)."
        return Outcome(done_u, done_f, status, message, nit, stopped_at=stopped_at)

    def _lr_factor(self, it: int, max_iter: int) -> float:
        if self.lr_schedule == "constant" or max_iter <= 1:
            return 1.0
        progress = it / (max_iter - 1)
        if self.lr_schedule == "cosine":
            return self.lr_final + (1 - self.lr_final) * 0.5 * (1 + math.cos(math.pi * progress))
        return self.lr_final**progress


_NORMALIZED_MOMENTUM = 0.9
"""Momentum of the ``"normalized"`` optimizer (Adam's first-moment decay)."""


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"gd option {name}={value!r} is not one of {', '.join(map(repr, choices))}")


class _Step:
    """One update of every active restart by torch's own Adam or SGD with momentum (the functional
    forms of ``torch.optim``, without the optimizer object's per-step bookkeeping), on per-restart
    state that is cut down with the batch when restarts retire.

    Args:
        kind: ``"adam"``, or ``"sgd"`` / ``"normalized"`` (SGD with ``momentum``).
        u: The search points ``(n, d)``, updated in place.
        momentum: SGD's momentum.
    """

    def __init__(self, kind: str, u: Tensor, momentum: float) -> None:
        self.adam, self.momentum = kind == "adam", momentum
        self.fused = u.device.type in FUSED_ADAM_DEVICES
        self.m, self.v = (torch.zeros_like(u), torch.zeros_like(u)) if self.adam else (u[:0], u[:0])
        self.count = torch.zeros((), dtype=torch.float32, device=u.device)
        self.buffer: Tensor | None = None

    def __call__(self, u: Tensor, grad: Tensor, lr: float) -> None:
        if self.adam and self.fused:
            # The kernel `torch.optim.adam.adam(fused=True)` runs, called without its per-step
            # grouping of tensors by device: this sits between two passes of every iteration.
            self.count.add_(1)
            torch._fused_adam_(
                [u], [grad], [self.m], [self.v], [], [self.count],
                amsgrad=False, lr=lr, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8, maximize=False,
            )
            return
        if self.adam:
            adam_step(
                [u], [grad], [self.m], [self.v], [], [self.count], fused=False,
                amsgrad=False, beta1=0.9, beta2=0.999, lr=lr, weight_decay=0.0, eps=1e-8, maximize=False,
            )
            return
        buffers = [self.buffer]
        sgd_step([u], [grad], buffers, weight_decay=0.0, momentum=self.momentum, lr=lr, dampening=0.0, nesterov=False, maximize=False)
        self.buffer = buffers[0]

    def keep(self, keep: Tensor) -> None:
        """Keep the state of the restarts ``keep`` ``(n,)`` bool selects."""
        if self.adam:
            self.m, self.v = self.m[keep], self.v[keep]
        elif self.buffer is not None:
            self.buffer = self.buffer[keep]
