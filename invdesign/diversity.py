"""How spread out a set of designs is: any solver's ``k`` designs, compared across solvers.

`basins` counts the minima of the energy the designs lead to (a short descent from each);
`mean_pairwise_distance` and `count_modes` measure the designs themselves. The last two use
Euclidean distances, in the unit-cube coordinates of a box when one is given (every coordinate
scaled to ``[0, 1]``, so every dimension counts alike and the numbers compare across tasks of the
same dimension), in raw coordinates otherwise. Designs of any shape
``(k, ...)`` (images, say) are flattened to ``(k, d)`` when no box is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from torch import Tensor

from invdesign.space import Box, DesignSpace, Space


def mean_pairwise_distance(X: Tensor, space: DesignSpace | None = None) -> float:
    """Mean Euclidean distance over all pairs of designs.

    Args:
        X: Designs, shape ``(k, d)``.
        space: Measure in this box's unit-cube coordinates; ``None`` for raw coordinates.

    Returns:
        The mean over the ``k (k - 1) / 2`` pairs; 0.0 for fewer than two designs (no spread).

    Raises:
        TypeError: if ``X`` is not a floating point tensor, or ``space`` is not a `Box`.
        ValueError: for NaN or infinite designs, or a box of another dimension.

    Example:
        >>> mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]]))
        5.0
    """
    U = _coordinates(X, space)
    if U.shape[0] < 2:
        return 0.0
    return float(torch.pdist(U).mean())


def count_modes(X: Tensor, space: DesignSpace | None = None, *, radius: float = 0.1) -> int:
    """Number of distinct modes among the designs: clusters of single-linkage clustering cut at ``radius``.

    Two designs are in the same mode when a chain of designs joins them with every step shorter
    than ``radius`` (single linkage), so a mode is a connected group of designs, whatever its
    shape, and two groups further than ``radius`` apart are two modes.

    Args:
        X: Designs, shape ``(k, d)``.
        space: Measure in this box's unit-cube coordinates; ``None`` for raw coordinates.
        radius: The distance that separates modes, in the units above. In unit-cube units 0.1
            (the default) is a tenth of the box's width along one axis; the diagonal of the cube
            is ``sqrt(d)``, so a larger radius suits a high dimension.

    Returns:
        The number of modes, between 1 and ``k`` (0 for no designs).

    Raises:
        TypeError: if ``X`` is not a floating point tensor, or ``space`` is not a `Box`.
        ValueError: for NaN or infinite designs, a box of another dimension, or a radius that
            is not positive and finite.

    Example:
        >>> count_modes(torch.tensor([[0.0], [0.05], [1.0]]), radius=0.1)
        2
    """
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be positive and finite, got {radius}")
    U = _coordinates(X, space)
    if U.shape[0] < 2:
        return U.shape[0]
    tree = linkage(U.cpu().numpy(), method="single", metric="euclidean")
    labels = fcluster(tree, t=radius, criterion="distance")
    return int(np.unique(labels).size)


BASIN_STEPS = 100
"""Adam steps of the descent that sends each design to the minimum of its basin (`basins`)."""
BASIN_LR = 0.02
"""Its step size in search coordinates (a box's unit cube), annealed by a cosine to a hundredth."""
BASIN_RADIUS = 0.05
"""End points closer than this (single linkage, search coordinates) belong to one basin."""


def basins(
    energy: Callable[[Tensor], Tensor],
    X: Tensor,
    space: DesignSpace,
    *,
    steps: int = BASIN_STEPS,
    radius: float = BASIN_RADIUS,
) -> Tensor:
    """Which basin of ``energy`` each design lies in: designs that a short descent sends to the same minimum share one.

    Rule: from every design, ``steps`` steps of Adam (step size `BASIN_LR`, cosine-annealed to a
    hundredth) on ``energy`` in the space's search coordinates (a box's unit cube; a `Space`'s
    relaxed coordinates), projected onto the space after each step, all designs in one batch;
    the end points are then grouped by single linkage cut at ``radius`` (`count_modes`), so
    two designs belong to one basin when their descents end within a chain of steps shorter than
    ``radius``. Designs in one broad basin count once however far apart they start; designs in
    two narrow wells count twice however close they start. A design whose energy is NaN or
    infinite along the way keeps its own basin.

    Args:
        energy: Energies of designs ``(b, d)``, shape ``(b,)``, differentiable (an
            `invdesign.Objective`).
        X: Designs inside ``space``, shape ``(k, d)``.
        space: Their space.
        steps: Descent steps; 0 groups the designs themselves.
        radius: Distance between end points that separates basins, in search coordinates.

    Returns:
        Basin labels ``0 .. m-1``, shape ``(k,)``, ``torch.long``, numbered in the order the
        designs first reach them; ``labels.max() + 1`` is the number of basins.
    """
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be positive and finite, got {radius}")
    if X.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long)
    view = space.coordinates(relax=True)
    u = view.to_search(X.detach()).clone()
    stuck = torch.zeros(u.shape[0], dtype=torch.bool, device=u.device)
    if steps > 0:
        with torch.enable_grad():
            _descend(energy, view, u, stuck, steps)
    U = u.detach().to(torch.float64).cpu()
    labels = np.zeros(U.shape[0], dtype=np.int64) if U.shape[0] < 2 else fcluster(
        linkage(U.numpy(), method="single", metric="euclidean"), t=radius, criterion="distance"
    )
    labels[stuck.cpu().numpy()] = -np.arange(1, int(stuck.sum()) + 1)  # each stuck design on its own
    _, first = np.unique(labels, return_index=True)
    order = {int(labels[i]): n for n, i in enumerate(sorted(first))}
    return torch.tensor([order[int(v)] for v in labels], dtype=torch.long)


def count_basins(
    energy: Callable[[Tensor], Tensor],
    X: Tensor,
    space: DesignSpace,
    *,
    F: Tensor | None = None,
    differentiable: bool = True,
) -> int:
    """The number of distinct basins among designs ``X`` ``(k, d)`` (`basins`; 0 for none).

    Designs with a NaN or infinite energy are left out: ``F`` ``(k,)`` gives the energies where
    they are known (else ``energy(X)`` is evaluated once). With ``differentiable=False`` the
    designs themselves are grouped (no descent, so ``energy`` is not called when ``F`` is given).
    """
    if F is None:
        with torch.no_grad():
            F = energy(X) if X.shape[0] else torch.zeros(0, dtype=X.dtype, device=X.device)
    finite = torch.isfinite(F).to(X.device)
    labels = basins(energy, X[finite], space, steps=BASIN_STEPS if differentiable else 0)
    return int(labels.max()) + 1 if labels.numel() else 0


def _descend(energy: Callable[[Tensor], Tensor], view: Any, u: Tensor, stuck: Tensor, steps: int) -> None:
    """`basins`' descent: ``steps`` projected Adam steps on search points ``u`` ``(k, d)`` in place; ``stuck`` marks NaN energies."""
    u.requires_grad_(True)
    optimizer = torch.optim.Adam([u], lr=BASIN_LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps, eta_min=BASIN_LR / 100)
    for _ in range(steps):
        f = energy(view.to_design(u))
        stuck |= ~torch.isfinite(f.detach())
        grad = torch.autograd.grad(torch.where(stuck, 0.0, f).sum(), u, allow_unused=True)[0] if f.requires_grad else None
        if grad is None:
            raise ValueError("basins needs an energy differentiable in the designs (or steps=0)")
        u.grad = grad.masked_fill(stuck.unsqueeze(-1), 0.0)
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            view.project_(u)
    u.requires_grad_(False)


def _coordinates(X: Tensor, space: DesignSpace | None) -> Tensor:
    """``X`` as float64 rows ``(k, d)``, in unit-cube coordinates of ``space`` when given."""
    if not isinstance(X, Tensor) or not X.is_floating_point():
        got = X.dtype if isinstance(X, Tensor) else type(X).__name__
        raise TypeError(f"designs X must be a floating point tensor, got {got}")
    if X.ndim < 2:
        raise ValueError(f"designs X must have shape (k, d), got {tuple(X.shape)}")
    U = X.detach().flatten(1).to(torch.float64)
    if space is not None:
        if not isinstance(space, (Box, Space)):
            raise TypeError(f"space must be an invdesign.Box or invdesign.Space, got {type(space).__name__}")
        if X.ndim != 2 or space.dim != X.shape[1]:
            raise ValueError(f"the box has dimension {space.dim} but the designs have shape {tuple(X.shape)}")
        U = space.coordinates().to_search(U)
    if not torch.isfinite(U).all():
        rows = (~torch.isfinite(U)).any(dim=-1).nonzero().flatten().tolist()
        raise ValueError(f"designs X have NaN or infinite values in rows {rows[:10]}")
    return U
