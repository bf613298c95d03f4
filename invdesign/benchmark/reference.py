"""Design-Bench's gradient-ascent baseline, re-implemented as the reference row of offline tables.

Trabucco, Geng, Kumar, Levine, "Design-Bench: benchmarks for data-driven offline model-based
optimization", ICML 2022: start from the best 128 training designs, standardise the designs with
the training set's mean and standard deviation (and the scores likewise), and take 200 plain
gradient steps of size ``0.01 * sqrt(d)`` on the standardised designs following the surrogate's
gradient. invdesign minimizes, so the steps go down the surrogate's prediction. Design-Bench does
not bound the designs; the oracles here are defined on the task's box only, so the final designs
are projected onto it (`AscentResult.n_projected` counts those that had left it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from invdesign.space import Box


@dataclass
class AscentResult:
    """What the reference baseline returns.

    Attributes:
        X: Final designs, projected onto the box, ranked by the surrogate (best first), shape ``(k, d)``.
        F: The surrogate's predictions of them, shape ``(k,)``.
        n_projected: Designs that had left the box before the projection.
        nfev: Surrogate evaluations (``k * (steps + 1)``).
        runtime: Seconds.
    """

    X: Tensor
    F: Tensor
    n_projected: int
    nfev: int
    runtime: float


def design_bench_gradient_ascent(
    model: nn.Module,
    X: Tensor,
    Y: Tensor,
    space: Box,
    *,
    n_designs: int = 128,
    steps: int = 200,
    step_scale: float = 0.01,
    callback: Callable[[int, int, Tensor, Tensor], None] | None = None,
) -> AscentResult:
    """Run Design-Bench's gradient ascent (here: descent, invdesign minimizes) on a scalar surrogate.

    Args:
        model: The surrogate, ``(b, d) -> (b, 1)`` or ``(b,)``, lower is better.
        X: Training designs, shape ``(n, d)``.
        Y: Their measured values, shape ``(n,)`` or ``(n, 1)``.
        space: The task's box; final designs are projected onto it.
        n_designs: Designs to start from: the best ``n_designs`` training designs.
        steps: Gradient steps.
        step_scale: The step is ``step_scale * sqrt(d)`` in standardised design units.
        callback: Called after every step with ``(step, nfev, X, F)``: the current designs
            ``(k, d)`` (unprojected) and their predictions ``(k,)``.

    Returns:
        An `AscentResult`.

    Raises:
        ValueError: for ``Y`` with more than one column, or shapes that do not fit.
    """
    Y = Y.reshape(Y.shape[0], -1)
    if Y.shape[1] != 1:
        raise ValueError(f"the Design-Bench baseline needs a scalar objective, got Y of shape {tuple(Y.shape)}")
    if X.ndim != 2 or X.shape[0] != Y.shape[0] or X.shape[1] != space.dim:
        raise ValueError(f"X must have shape (n, {space.dim}) with one row per Y, got {tuple(X.shape)} and {tuple(Y.shape)}")
    start = time.perf_counter()
    y = Y[:, 0]
    k = min(n_designs, X.shape[0])
    x_mean, x_std = X.mean(0), X.std(0).clamp_min(1e-12)
    y_mean, y_std = y.mean(), y.std().clamp_min(1e-12)
    step = step_scale * math.sqrt(X.shape[1])

    def standardised_prediction(s: Tensor) -> Tensor:
        return (model(s * x_std + x_mean).reshape(-1) - y_mean) / y_std

    s = ((X[torch.argsort(y)[:k]] - x_mean) / x_std).detach()
    for i in range(steps):
        s.requires_grad_(True)
        f = standardised_prediction(s)
        (grad,) = torch.autograd.grad(f.sum(), s)
        s = (s - step * grad).detach()
        if callback is not None:
            with torch.no_grad():
                callback(i + 1, k * (i + 1), s * x_std + x_mean, standardised_prediction(s) * y_std + y_mean)
    designs = s * x_std + x_mean
    n_projected = int((~space.contains(designs)).sum())
    designs = space.clamp(designs)
    with torch.no_grad():
        F = model(designs).reshape(-1)
    order = torch.argsort(torch.where(torch.isfinite(F), F, torch.full_like(F, math.inf)))
    return AscentResult(designs[order], F[order], n_projected, k * (steps + 1), time.perf_counter() - start)
