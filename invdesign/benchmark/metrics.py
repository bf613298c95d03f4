"""The numbers a benchmark cell reports: percentiles of the oracle's verdicts, r_T, the exploitation gap."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

T_VALUES = (1, 10, 50)
"""The ``T`` of r_T reported for target tasks (Ren et al., NeurIPS 2020)."""


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


def r_t(true_errors: Tensor, ts: Sequence[int] = T_VALUES) -> dict[int, float]:
    """r_T: mean over targets of the smallest true error among the first ``T`` candidates.

    Args:
        true_errors: Oracle squared error of each target's candidates, ranked by the surrogate
            (best first), shape ``(n_targets, n_candidates)``; NaN for an invalid design.
        ts: The values of ``T``; a ``T`` beyond ``n_candidates`` gives NaN.

    Returns:
        ``{T: r_T}``.
    """
    errors = torch.where(torch.isfinite(true_errors), true_errors, torch.full_like(true_errors, math.inf))
    out = {}
    for t in ts:
        if t > errors.shape[1]:
            out[t] = math.nan
        else:
            out[t] = float(errors[:, :t].min(dim=1).values.mean())
    return out


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
