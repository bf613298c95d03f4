"""Euclidean projections, batched over rows: onto a simplex, a bounded simplex, and (by Dykstra's
alternating projection) onto the intersection of such a set with halfspaces and hyperplanes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor


def simplex(v: Tensor, total: float = 1.0) -> Tensor:
    """The nearest point of ``{u >= 0, sum u = total}`` to each row of ``v`` ``(b, k)``.

    ``u = relu(v - tau)``, with the threshold ``tau`` found by Michelot's algorithm (1986): start
    from ``tau = (sum v - total) / k``, drop the entries at or below ``tau``, recompute ``tau``
    from the rest, until the kept set no longer changes. ``tau`` only grows, so the loop ends
    after at most ``k`` passes, and the last ``tau`` is exact (the one a sort of the row gives);
    a point near the simplex, as after a small descent step, needs two or three passes, each a
    few elementwise operations, where a sort costs far more on a CPU.
    """
    tau = (v.sum(dim=-1, keepdim=True) - total) / v.shape[-1]
    for _ in range(v.shape[-1]):
        active = v > tau
        new = (torch.where(active, v, torch.zeros_like(v)).sum(dim=-1, keepdim=True) - total) / active.sum(
            dim=-1, keepdim=True
        )
        if torch.equal(new, tau):
            break
        tau = new
    u = (v - tau).clamp_min(0.0)
    return _exact_sum(u, u > 0, total)


def bounded_simplex(v: Tensor, lower: Tensor, upper: Tensor, total: float = 1.0) -> Tensor:
    """The nearest point of ``{lower <= u <= upper, sum u = total}`` to each row of ``v`` ``(b, k)``.

    ``u = clamp(v - tau, lower, upper)`` where ``tau`` solves ``sum u = total``: the sum is a
    piecewise-linear, non-increasing function of ``tau`` with kinks at ``v - upper`` and
    ``v - lower``; the kinks are sorted, the segment holding ``total`` is found, and ``tau`` is
    interpolated on it exactly.

    Args:
        v: Points, ``(b, k)``.
        lower: Lower bounds, ``(k,)`` or ``(b, k)``, with ``sum lower <= total``.
        upper: Upper bounds, ``(k,)`` or ``(b, k)``, with ``sum upper >= total``.
        total: The sum.
    """
    lower, upper = lower.expand_as(v), upper.expand_as(v)
    kinks, _ = torch.sort(torch.cat([v - upper, v - lower], dim=-1), dim=-1)
    sums = (v.unsqueeze(-2) - kinks.unsqueeze(-1)).clamp(lower.unsqueeze(-2), upper.unsqueeze(-2)).sum(dim=-1)
    # sums is non-increasing along the kinks; the first kink where it falls to total or below ends the segment.
    j = (sums > total).sum(dim=-1, keepdim=True).clamp(1, kinks.shape[-1] - 1)
    t0, t1 = kinks.gather(-1, j - 1), kinks.gather(-1, j)
    s0, s1 = sums.gather(-1, j - 1), sums.gather(-1, j)
    drop = s0 - s1
    safe = torch.where(drop > 0, drop, torch.ones_like(drop))
    tau = torch.where(drop > 0, t0 + (s0 - total) / safe * (t1 - t0), t1)
    u = (v - tau).clamp(lower, upper)
    return _exact_sum(u, (u > lower) & (u < upper), total).clamp(lower, upper)


def _exact_sum(u: Tensor, free: Tensor, total: float) -> Tensor:
    """``u`` ``(b, k)`` with the rounding error of its row sums spread over its ``free`` entries (far points lose digits in ``tau``)."""
    count = free.sum(dim=-1, keepdim=True)
    share = (total - u.sum(dim=-1, keepdim=True)) / count.clamp_min(1)
    return torch.where(free, u + share, u)


def dykstra(
    v: Tensor,
    project: Callable[[Tensor], Tensor],
    A: Tensor,
    b: Tensor,
    equality: Tensor,
    *,
    tol: float = 1e-11,
    max_cycles: int = 200,
) -> tuple[Tensor, Tensor]:
    """The nearest point to each row of ``v`` of ``C ∩ {a_i . u <= b_i}`` (``== b_i`` where ``equality[i]``).

    Dykstra's alternating projection (Boyle and Dykstra 1986), which converges to the Euclidean
    projection onto the intersection, not just to a point in it: each cycle projects onto every
    halfspace (or hyperplane) and then onto ``C`` (``project``, exact), carrying each set's
    correction. A row stops once every constraint holds to ``tol`` and a cycle moves it by no
    more than ``tol``; the result always lies in ``C`` exactly. Near a thin sliver of the feasible
    set (constraints at a small angle) the alternation crawls: rows still moving after
    ``max_cycles`` are reported, for an exact solver (`nearest`) to finish.

    Args:
        v: Points, ``(b, n)``.
        project: The exact projection onto the convex set ``C`` (a box with simplex blocks).
        A: Constraint rows, ``(m, n)``, each of unit norm.
        b: Right-hand sides, ``(m,)``.
        equality: Which rows are equalities, ``(m,)`` bool.

    Returns:
        The points ``(b, n)`` and which rows converged ``(b,)``.
    """
    if A.shape[0] == 0:
        return project(v), torch.ones(v.shape[0], dtype=torch.bool, device=v.device)
    x = v
    corrections = torch.zeros((A.shape[0] + 1, *v.shape), dtype=v.dtype, device=v.device)
    done = torch.zeros(v.shape[0], dtype=torch.bool, device=v.device)
    for _ in range(max_cycles):
        start = x
        for i in range(A.shape[0]):
            y = x + corrections[i]
            gap = (y * A[i]).sum(dim=-1) - b[i]
            gap = gap if bool(equality[i]) else gap.clamp_min(0.0)
            new = y - gap.unsqueeze(-1) * A[i]
            corrections[i] = y - new
            x = new
        y = x + corrections[-1]
        x = project(y)
        corrections[-1] = y - x
        # Each row stops on its own test, so that its result does not depend on the other rows of the batch.
        x = torch.where(done.unsqueeze(-1), start, x)
        done = done | ((violation(x, A, b, equality) <= tol) & ((x - start).abs().amax(dim=-1) <= tol))
        if done.all():
            break
    return x, done


def nearest(
    v: Tensor, lower: Tensor, upper: Tensor, A: Tensor, b: Tensor, equality: Tensor, blocks: list[Tensor]
) -> Tensor:
    """The nearest point to each row of ``v`` ``(r, n)`` of ``{lower <= u <= upper, A u <= b (== where equality),
    sum u[block] == 1}``, by SciPy's SLSQP on the quadratic program, one row at a time (the exact fallback of `dykstra`).

    Args:
        v: Points, ``(r, n)``.
        lower, upper: Bounds, ``(r, n)``.
        A, b, equality: The linear constraints, as in `dykstra`.
        blocks: Index tensors of the columns that sum to 1.
    """
    from scipy.optimize import minimize

    A_np, b_np, eq_np = A.detach().cpu().double().numpy(), b.detach().cpu().double().numpy(), equality.cpu().numpy()
    constraints: list[dict] = [
        {"type": "eq" if e else "ineq", "fun": lambda u, a=a, r=r: r - a @ u, "jac": lambda u, a=a: -a}
        for a, r, e in zip(A_np, b_np, eq_np)
    ]
    for block in blocks:
        ones = np.zeros(v.shape[-1])
        ones[block.cpu().numpy()] = 1.0
        constraints.append({"type": "eq", "fun": lambda u, ones=ones: ones @ u - 1.0, "jac": lambda u, ones=ones: ones})
    out = v.detach().clone()
    for i, (target, lo, hi) in enumerate(zip(*(t.detach().cpu().double().numpy() for t in (v, lower, upper)))):
        # The distance to a far target, measured from its clamp: the same minimizer, at a scale SLSQP handles.
        near = np.clip(target, lo, hi)
        scale = 1.0 + float(np.abs(target - near).max())
        result = minimize(
            lambda u, target=target, scale=scale: (0.5 * ((u - target) ** 2).sum() / scale**2, (u - target) / scale**2),
            near,
            jac=True,
            method="SLSQP",
            bounds=np.stack([lo, hi], axis=-1),
            constraints=constraints,
            options={"ftol": 1e-15, "maxiter": 500},
        )
        x = result.x
        for tol in (1e-9, 1e-7, 1e-5):  # a constraint SLSQP left nearly tight counts as active at the looser tolerances
            y = _on_active_set(target, result.x, lo, hi, A_np, b_np, eq_np, blocks, tol)
            if y is not None:
                x = y
                break
        out[i] = torch.as_tensor(x.copy(), dtype=v.dtype, device=v.device)
    return out


def _on_active_set(
    target: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, A: np.ndarray, b: np.ndarray, eq: np.ndarray,
    blocks: list[Tensor], tol: float,
) -> np.ndarray | None:
    """The exact projection of ``target`` onto the affine set of the constraints active at SLSQP's answer ``x``.

    SLSQP meets constraints to about its tolerance; with its active set (bounds it sits on, equalities,
    inequalities with slack below ``tol``, blocks) the projection is a linear solve, exact to
    rounding. ``None`` if that point is not feasible.
    """
    n = x.shape[0]
    at_lo, at_hi = np.abs(x - lo) <= tol, np.abs(x - hi) <= tol
    fixed = at_lo | at_hi
    value = np.where(at_lo, lo, hi)
    rows = [a for a, r, e in zip(A, b, eq) if e or r - a @ x <= tol]
    rhs = [r for a, r, e in zip(A, b, eq) if e or r - a @ x <= tol]
    for block in blocks:
        ones = np.zeros(n)
        ones[block.cpu().numpy()] = 1.0
        rows.append(ones)
        rhs.append(1.0)
    y = np.where(fixed, value, target)
    if rows:
        C, d = np.array(rows), np.array(rhs)
        free = ~fixed
        residual = d - C[:, fixed] @ value[fixed] - C[:, free] @ target[free]
        step, *_ = np.linalg.lstsq(C[:, free], residual, rcond=None)  # the least-norm step onto the active set
        y[free] = target[free] + step
    feasible = (
        np.all(y >= lo - 1e-12) and np.all(y <= hi + 1e-12)
        and all(abs(a @ y - r) <= 1e-12 * (1 + abs(r)) if e else a @ y - r <= 1e-12 * (1 + abs(r)) for a, r, e in zip(A, b, eq))
    )
    return np.clip(y, lo, hi) if feasible else None


def violation(u: Tensor, A: Tensor, b: Tensor, equality: Tensor) -> Tensor:
    """How far each row of ``u`` ``(b, n)`` breaks the constraints ``A u <= b`` (``==`` where ``equality``), ``(b,)``."""
    if A.shape[0] == 0:
        return torch.zeros(u.shape[0], dtype=u.dtype, device=u.device)
    gap = (u.unsqueeze(-2) * A).sum(dim=-1) - b
    return torch.where(equality, gap.abs(), gap.clamp_min(0.0)).amax(dim=-1)
