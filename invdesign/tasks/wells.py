"""Narrow wells: a box with several narrow, separated minima of nearly equal depth; the metric is how many a search covers.

A generator trained against a frozen surrogate tends to collapse onto one minimum; a batch of
restarts covers several. These tasks measure that: ``WELLS`` Gaussian wells in ``[0, 1]^d``,

    ``E(x) = - sum_i depth_i * exp(-|x - c_i|^2 / (2 w_d^2))``,

depths from 1.0 down to 0.97 (within 3% of each other), on a flat background. The width ``w_d``
scales with the dimension so that the ball of radius ``3 w_d`` around each centre holds the same
share of the box, `SHARE` (``w_2 = 0.06``: 6% of the box's side in 2-d, 0.13 in 4-d, 0.21 in
8-d); the centres are the farthest-point selection (greedy maximin) among Sobol points of
``[0.15, 0.85]^d``, fixed by ``d``, and lie more than ``4 w_d`` apart (two equal Gaussian wells
stay two minima beyond ``2 w``). A design covers a well when it lies within ``2 w_d`` of its
centre; ``describe`` reports the number of wells covered as the benchmark's ``design_basins``
column. Nothing is hidden from the offline data (``hidden_fraction=0``): in 8-d fewer than 2% of
the box lies within ``2 w_d`` of a centre, and hiding the best half would hide every well.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from invdesign.space import Box
from invdesign.tasks.base import Task
from invdesign.tasks.surrogate import SurrogateSpec

WELLS = 5
"""Number of wells."""
SHARE = 0.1
"""Share of the box inside the ball of radius ``3 w_d`` around one centre."""
DEPTHS = tuple(1.0 - 0.03 * i / (WELLS - 1) for i in range(WELLS))
"""Well depths, 1.0 down to 0.97."""
COVER = 2.0
"""A design covers a well within ``COVER * w_d`` of its centre."""
DIMENSIONS = (2, 4, 8)
"""The dimensions of the built-in tasks ``narrow_wells2``, ``narrow_wells4``, ``narrow_wells8``."""


def well_width(d: int) -> float:
    """``w_d``: the width whose ``3 w_d`` ball holds `SHARE` of ``[0, 1]^d``."""
    ball = math.pi ** (d / 2) / math.gamma(d / 2 + 1)  # volume of the unit ball in d dimensions
    return (SHARE / ball) ** (1 / d) / 3


def well_centres(d: int) -> Tensor:
    """The ``WELLS`` centres in ``[0, 1]^d``, shape ``(WELLS, d)``, float64: greedy maximin among 4,096 Sobol points."""
    engine = torch.quasirandom.SobolEngine(d, scramble=True, seed=d)
    points = 0.15 + 0.7 * engine.draw(4096, dtype=torch.float64)
    chosen = [int(torch.linalg.vector_norm(points - 0.5, dim=-1).argmin())]
    nearest = torch.cdist(points, points[chosen]).min(dim=-1).values
    while len(chosen) < WELLS:
        chosen.append(int(nearest.argmax()))
        nearest = torch.minimum(nearest, torch.cdist(points, points[chosen[-1:]])[:, 0])
    return points[chosen]


class NarrowWells:
    """The oracle: ``E(x)`` above for designs ``(n, d)``, shape ``(n, 1)``, in the input's dtype and device."""

    def __init__(self, d: int) -> None:
        self.d, self.width = d, well_width(d)
        self.centres = well_centres(d)
        self.depths = torch.tensor(DEPTHS, dtype=torch.float64)

    def __call__(self, x: Tensor) -> Tensor:
        centres, depths = self.centres.to(x), self.depths.to(x)
        r2 = torch.cdist(x, centres).square()
        return -(depths * torch.exp(-r2 / (2 * self.width**2))).sum(dim=-1, keepdim=True)

    def covered(self, X: Tensor) -> Tensor:
        """Which wells the designs ``(k, d)`` cover, shape ``(WELLS,)`` bool: a design within ``COVER * w_d`` of the centre."""
        if X.shape[0] == 0:
            return torch.zeros(WELLS, dtype=torch.bool)
        near = torch.cdist(X.to(torch.float64).cpu(), self.centres) <= COVER * self.width
        return near.any(dim=0)

    def describe(self, X: Tensor) -> dict[str, float]:
        """``{"basins": wells covered}`` for the returned designs ``(k, d)``."""
        return {"basins": float(self.covered(X).sum())}


def narrow_wells(d: int) -> Task:
    """The narrow-wells task in ``d`` dimensions (``narrow_wells{d}``): ``1000 d`` offline designs, none hidden."""
    oracle = NarrowWells(d)
    return Task(
        name=f"narrow_wells{d}",
        oracle=oracle,
        space=Box(0.0, 1.0, dim=d, dtype=torch.float64),
        kind="minimize",
        output_dim=1,
        optimum=float(oracle(oracle.centres[:1])[0, 0]),
        reference="invdesign: narrow separated wells of nearly equal depth (amortized-generator coverage)",
        n_train=1000 * d,
        hidden_fraction=0.0,
        surrogate=SurrogateSpec(hidden=(128, 128, 128), activation="silu", epochs=200, batch_size=128, lr=3e-3),
        budget=100,
        describe=oracle.describe,
    )
