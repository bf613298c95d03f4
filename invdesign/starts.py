"""Starting points for the restarts of a solver.

`minimize`'s ``x0`` takes any of:

- ``None``: scrambled Sobol points of the search box (the default);
- a tensor of shape ``(n, d)`` or ``(d,)``: the user's own points;
- a start strategy: a callable ``(objective, n, seed) -> Tensor (n, d)``, such as `FromData`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from invdesign.objective import Objective

StartStrategy = Callable[["Objective", int, "int | None"], Tensor]


class FromData:
    """Start from the best designs of a data set.

    - For a target objective: the ``n`` designs whose outputs ``Y`` are nearest the target
      (mean squared error).
    - Otherwise: the ``n`` designs with the lowest ``Y`` (the highest for ``maximize=True``) —
      the Design-Bench start.
    - Without ``Y``: the ``n`` designs of lowest energy under the objective (these evaluations
      are counted).

    Args:
        X: Designs, shape ``(N, d)``, inside the search box.
        Y: Their measured outputs, shape ``(N,)`` or ``(N, k)``; optional.
    """

    def __init__(self, X: Tensor, Y: Tensor | None = None) -> None:
        if X.ndim != 2:
            raise ValueError(f"FromData needs X of shape (N, d), got {tuple(X.shape)}")
        if Y is not None:
            Y = Y.reshape(Y.shape[0], -1) if Y.ndim >= 1 else Y
            if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
                raise ValueError(f"FromData needs Y with {X.shape[0]} rows like X, got {tuple(Y.shape)}")
        self.X = X
        self.Y = Y

    def __call__(self, objective: Objective, n: int, seed: int | None = None) -> Tensor:
        X = self.X.to(dtype=objective.dtype, device=objective.device)
        if n > X.shape[0]:
            raise ValueError(f"asked for {n} starts but the data set holds only {X.shape[0]} designs")
        if self.Y is None:
            with torch.no_grad():
                score = objective(X)
        else:
            Y = self.Y.to(dtype=objective.dtype, device=objective.device)
            if objective.target is not None:
                if Y.shape[1] != objective.target.numel():
                    raise ValueError(
                        f"Y has {Y.shape[1]} columns but the target has {objective.target.numel()} entries"
                    )
                score = (Y - objective.target).square().mean(dim=-1)
            else:
                if Y.shape[1] != 1:
                    raise ValueError(f"Y must have one column without a target, got {Y.shape[1]}")
                score = -Y[:, 0] if objective.maximize else Y[:, 0]
        score = torch.where(torch.isnan(score), torch.full_like(score, float("inf")), score)
        return X[torch.argsort(score, stable=True)[:n]]


def initial_points(
    objective: Objective,
    n: int | None,
    x0: Tensor | StartStrategy | None,
    seed: int | None,
    *,
    default_n: int,
) -> Tensor:
    """Resolve ``x0`` into validated starting points inside the box.

    Args:
        objective: The objective (its box, dtype and device are used).
        n: Requested number of restarts, or ``None``.
        x0: See the module docstring.
        seed: Seed for Sobol points.
        default_n: Restarts when neither ``n`` nor an ``x0`` tensor says how many.

    Returns:
        Starting points, shape ``(n, d)``.

    Raises:
        ValueError: on a wrong shape, NaN/infinite values, points outside the box, or ``n`` that
            disagrees with the rows of ``x0``.
    """
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"n_restarts must be a positive integer, got {n!r}")
    space = objective.space
    if x0 is None:
        return space.sample(n or default_n, seed=seed)
    if callable(x0) and not isinstance(x0, Tensor):
        points = x0(objective, n or default_n, seed)
    else:
        points = torch.as_tensor(x0)
        if points.ndim == 1:
            points = points.unsqueeze(0)
        if n is not None and points.shape[0] != n:
            raise ValueError(f"x0 has {points.shape[0]} rows but n_restarts={n}")
    if points.ndim != 2 or points.shape[1] != space.dim:
        raise ValueError(f"x0 must have shape (n, {space.dim}) to match the box, got {tuple(points.shape)}")
    if not points.dtype.is_floating_point:
        raise TypeError(f"x0 must be a floating point tensor, got {points.dtype}")
    points = points.to(dtype=objective.dtype, device=objective.device)
    if not torch.isfinite(points).all():
        rows = (~torch.isfinite(points)).any(dim=-1).nonzero().flatten().tolist()
        raise ValueError(f"x0 has NaN or infinite values in rows {rows}")
    outside = ~space.contains(points)
    if outside.any():
        rows = outside.nonzero().flatten().tolist()
        raise ValueError(f"x0 rows {rows[:10]} lie outside the box {space!r}")
    return points
