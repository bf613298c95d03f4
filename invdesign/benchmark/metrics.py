"""The numbers a benchmark cell reports: percentiles of the oracle's verdicts, r_T, the exploitation gap."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from invdesign.result import T_VALUES, r_t

__all__ = ["T_VALUES", "exploitation_gap", "percentiles", "r_t"]


def percentiles(values: Tensor) -> tuple[float, float]:
    """The 100th and 50th percentile of oracle energies, lower is better: ``(min, median)``.

    Args:
        values: Oracle energies of the returned designs, shape ``(k,)``; NaN marks an invalid
            design, which ranks below every valid one (worst).

    Returns:
        ``(best, median)``; NaN if no design is valid. The median is over all ``k`` designs with
        invalid ones counted as the worst, so invalid designs pull it down as they should.
    """
    if values.numel() == 0 or not torch.isfinite(values).any():
        return math.nan, math.nan
    ranked = torch.where(torch.isfinite(values), values, torch.full_like(values, math.inf)).sort().values
    median = float(ranked[(ranked.numel() - 1) // 2])
    return float(ranked[0]), median if math.isfinite(median) else math.nan


def exploitation_gap(oracle: Tensor, surrogate: Tensor, *, absolute: bool = False) -> float:
    """Mean of ``oracle - surrogate`` over designs both judge finite: how much worse the designs are than the surrogate said.

    Args:
        oracle: The oracle's energies of the designs, shape ``(k,)``.
        surrogate: The surrogate's predicted energies of the same designs, shape ``(k,)``.
        absolute: Average ``|oracle - surrogate|`` instead: how far the prediction is from the
            truth either way (a surrogate trained without the best designs is often pessimistic
            about better ones, which makes the signed gap negative).

    Returns:
        The gap in energy units (signed: positive when the surrogate was optimistic); NaN if no
        design is finite.
    """
    ok = torch.isfinite(oracle) & torch.isfinite(surrogate)
    if not ok.any():
        return math.nan
    difference = oracle[ok] - surrogate[ok]
    return float((difference.abs() if absolute else difference).mean())
