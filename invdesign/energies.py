"""Energies of model outputs, small and composable: what `invdesign.Objective` minimizes.

An output energy maps model outputs ``(..., k)`` to energies ``(...)``, lower is better:
`Plain` (the single output), `Negated` (to maximize it), `TargetError` (mean squared error to a
target). A member rule combines the energies of an ensemble's ``m`` members ``(m, b)`` into one
energy per design ``(b,)``: `MemberMean`, `Pessimistic` (mean plus ``beta`` standard deviations)
and `Worst`. Penalties of the search point are added on top by the objective.
"""

from __future__ import annotations

import math
from typing import Literal, Protocol

import torch
from torch import Tensor

EnsembleRule = Literal["mean", "pessimistic", "worst"]
"""How an `invdesign.Objective` combines the energies of an ensemble's members."""

ENSEMBLE_RULES: tuple[EnsembleRule, ...] = ("mean", "pessimistic", "worst")


class OutputEnergy(Protocol):
    """Model outputs ``(..., k)`` -> energies ``(...)``."""

    def __call__(self, y: Tensor) -> Tensor: ...


class MemberRule(Protocol):
    """Member energies ``(m, b)`` -> energies ``(b,)``."""

    def __call__(self, e: Tensor) -> Tensor: ...


class Plain:
    """The model's single output is the energy: ``y[..., 0]``."""

    def __call__(self, y: Tensor) -> Tensor:
        return y[..., 0]

    def __repr__(self) -> str:
        return "Plain()"


class Negated:
    """Maximize the model's single output: the energy is ``-y[..., 0]`` (the one sign flip of ``maximize=True``)."""

    def __call__(self, y: Tensor) -> Tensor:
        return -y[..., 0]

    def __repr__(self) -> str:
        return "Negated()"


class TargetError:
    """Mean squared error between the ``k`` outputs and a target ``(k,)``."""

    def __init__(self, target: Tensor) -> None:
        if not torch.isfinite(target).all():
            raise ValueError(f"target must be finite, got {target.tolist()}")
        self.target = target

    def __call__(self, y: Tensor) -> Tensor:
        return (y - self.target).square().mean(dim=-1)

    def __repr__(self) -> str:
        return f"TargetError({self.target.tolist()})"


class MemberMean:
    """``mean_j e_j``: without a target the energy of the mean output; with one, the squared error of
    the mean output plus the members' spread around it."""

    def __call__(self, e: Tensor) -> Tensor:
        return e.mean(dim=0)


class Pessimistic:
    """``mean_j e_j + beta * std_j e_j`` (population std): a lower confidence bound for minimisation."""

    def __init__(self, beta: float = 1.0) -> None:
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be finite and non-negative, got {beta}")
        self.beta = float(beta)

    def __call__(self, e: Tensor) -> Tensor:
        mean = e.mean(dim=0)
        var = (e - mean).square().mean(dim=0)
        # sqrt has an infinite derivative at 0 (members that agree exactly): give it 0 there instead.
        std = torch.where(var > 0, var.clamp_min(torch.finfo(var.dtype).tiny).sqrt(), torch.zeros_like(var))
        return mean + self.beta * std


class Worst:
    """``max_j e_j``: the member that likes the design least."""

    def __call__(self, e: Tensor) -> Tensor:
        return e.amax(dim=0)


def member_rule(rule: str, beta: float | None) -> MemberRule:
    """The member rule named ``rule`` (``beta`` only for ``"pessimistic"``, default 1.0).

    Raises:
        ValueError: for an unknown rule, or ``beta`` with a rule that has none.
    """
    if rule not in ENSEMBLE_RULES:
        raise ValueError(f"unknown ensemble rule {rule!r}; expected one of {', '.join(map(repr, ENSEMBLE_RULES))}")
    if rule != "pessimistic" and beta is not None:
        raise ValueError(f"beta= only applies to ensemble='pessimistic', not ensemble={rule!r}")
    if rule == "pessimistic":
        return Pessimistic(1.0 if beta is None else float(beta))
    return MemberMean() if rule == "mean" else Worst()
