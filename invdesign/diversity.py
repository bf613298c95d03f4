"""How spread out a set of designs is: any solver's ``k`` designs, compared across solvers.

Both measures use Euclidean distances, in the unit-cube coordinates of a box when one is given
(every coordinate scaled to ``[0, 1]``, so every dimension counts alike and the numbers compare
across tasks of the same dimension), in raw coordinates otherwise. Designs of any shape
``(k, ...)`` (images, say) are flattened to ``(k, d)`` when no box is given.
"""

from __future__ import annotations

import math

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
