"""Choosing which ``k`` designs to return: the best ones, or good ones that are spread out.

A surrogate's ``k`` lowest energies often sit side by side in one basin (or one exploit of the
surrogate); `select_designs` can trade a little energy for designs that differ from each other.
"""

from __future__ import annotations

import math
import operator

import torch
from torch import Tensor

from invdesign.space import Box, DesignSpace, Space


def select_designs(
    X: Tensor, F: Tensor, k: int, *, diversity: float = 0.0, space: DesignSpace | None = None
) -> Tensor:
    """Indices of ``k`` designs to return, best first.

    - ``diversity=0``: the ``k`` lowest energies, ties in index order, NaN and infinite energies
      (failed evaluations) last.
    - ``diversity > 0``: greedy. The first pick is the lowest energy; each further pick is the
      unpicked candidate maximising ``-energy_n + diversity * distance_n``, where

      - ``energy_n = (F - min F) / (max F - min F)`` over the finite energies, in ``[0, 1]``
        (all 0 when they are equal), and
      - ``distance_n`` is the distance to the nearest design already picked, divided by the
        largest distance from the first pick to any candidate, so the second pick's
        ``distance_n`` spans ``[0, 1]``.

      Both terms are therefore free of the units of ``F`` and ``X``: ``diversity=1`` values one
      full range of energy as much as the full spread of the candidates around the best one.
      Designs with non-finite energies are only picked, in index order, once every finite one
      has been. Ties go to the lowest index. No index is picked twice.

    Args:
        X: Candidate designs, shape ``(n, d)``.
        F: Their energies (lower is better), shape ``(n,)``.
        k: How many to select, ``1 <= k <= n``.
        diversity: Weight of spread against energy, ``>= 0``.
        space: Measure distances in this box's unit-cube coordinates, so that every dimension
            counts alike; ``None`` for raw coordinates.

    Returns:
        Indices into ``X`` and ``F``, shape ``(k,)``, ``torch.long``, in the order picked.

    Raises:
        ValueError: on mismatched shapes, ``k`` out of range, a negative or non-finite
            ``diversity``, or a box of another dimension.
        TypeError: if ``k`` is not an integer or ``space`` is not a `Box`.

    Example:
        >>> X = torch.tensor([[0.0], [0.01], [1.0]])
        >>> F = torch.tensor([0.0, 0.1, 0.2])
        >>> select_designs(X, F, 2).tolist(), select_designs(X, F, 2, diversity=1.0).tolist()
        ([0, 1], [0, 2])
    """
    X, F, k = _check(X, F, k, diversity, space)
    key = torch.where(torch.isfinite(F), F, torch.full_like(F, math.inf))
    order = torch.argsort(key, stable=True)
    if diversity == 0:
        return order[:k]

    finite = torch.isfinite(F)
    n_finite = int(finite.sum())
    n_greedy = min(k, n_finite)
    if n_greedy == 0:
        return order[:k]
    U = X if space is None else space.coordinates().to_search(X)
    U = U.detach().to(torch.float64)
    Ff = F.detach().to(torch.float64)
    lo, hi = Ff[finite].min(), Ff[finite].max()
    energy = (Ff - lo) / (hi - lo) if hi > lo else torch.zeros_like(Ff)

    picked = [int(order[0])]
    nearest = (U - U[picked[0]]).norm(dim=-1)  # distance to the nearest picked design, (n,)
    scale = float(nearest[finite].max())
    scale = scale if scale > 0 else 1.0
    available = finite.clone()
    available[picked[0]] = False
    for _ in range(n_greedy - 1):
        score = -energy + diversity * nearest / scale
        score = torch.where(available, score, torch.full_like(score, -math.inf))
        i = int(torch.argmax(score))  # the first index among ties
        picked.append(i)
        available[i] = False
        nearest = torch.minimum(nearest, (U - U[i]).norm(dim=-1))
    rest = order[n_finite : n_finite + k - n_greedy]  # non-finite energies, in index order
    return torch.cat([torch.tensor(picked, dtype=torch.long, device=X.device), rest])


def _check(X: Tensor, F: Tensor, k: int, diversity: float, space: DesignSpace | None) -> tuple[Tensor, Tensor, int]:
    if not isinstance(X, Tensor) or not isinstance(F, Tensor):
        raise TypeError(f"select_designs needs tensors X and F, got {type(X).__name__} and {type(F).__name__}")
    if X.ndim != 2:
        raise ValueError(f"select_designs needs designs X of shape (n, d), got {tuple(X.shape)}")
    if F.ndim != 1 or F.shape[0] != X.shape[0]:
        raise ValueError(f"select_designs needs energies F of shape ({X.shape[0]},) like X's rows, got {tuple(F.shape)}")
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError(f"k must be an integer, got {k!r}") from None
    if not 1 <= k <= X.shape[0]:
        raise ValueError(f"k must be between 1 and the number of designs ({X.shape[0]}), got {k}")
    if not (math.isfinite(diversity) and diversity >= 0):
        raise ValueError(f"diversity must be finite and non-negative, got {diversity}")
    if space is not None:
        if not isinstance(space, (Box, Space)):
            raise TypeError(f"space must be an invdesign.Box or invdesign.Space, got {type(space).__name__}")
        if space.dim != X.shape[1]:
            raise ValueError(f"the box has dimension {space.dim} but the designs have {X.shape[1]}")
    return X, F, k
