"""Inverse (target-matching) tasks with analytic simulators.

From Ren, Padilla and Malof, "Benchmarking deep inverse models over time, and the
neural-adjoint method", NeurIPS 2020 (reference code: BDIMNNA); also used by Kruse et al.,
"Benchmarking invertible architectures on inverse problems", 2021.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from invdesign.space import Box
from invdesign.tasks.base import Task
from invdesign.tasks.surrogate import SurrogateSpec

_REN_2020 = (
    "Ren, Padilla, Malof, 'Benchmarking deep inverse models over time, and the "
    "neural-adjoint method', NeurIPS 2020"
)

ROBOT_ARM_LENGTHS = (0.5, 0.5, 1.0)
"""Segment lengths ``(l1, l2, l3)`` of the robot arm."""

ROBOT_ARM_PRIOR_STD = (0.25, 0.5, 0.5, 0.5)
"""Prior standard deviations of ``(x1, x2, x3, x4)``: the prior is
``N(0, diag(1/16, 1/4, 1/4, 1/4))``."""


def sine_forward(x: Tensor) -> Tensor:
    """The sine wave ``y = sin(3 pi x1) + cos(3 pi x2)``.

    Args:
        x: Designs, shape ``(n, 2)``.

    Returns:
        ``y``, shape ``(n, 1)``, dtype and device of ``x``.
    """
    y = torch.sin(3 * math.pi * x[:, 0]) + torch.cos(3 * math.pi * x[:, 1])
    return y.unsqueeze(-1)


def robot_arm_forward(x: Tensor) -> Tensor:
    """End point of a planar robot arm on a vertical rail.

    ``x1`` is the height of the arm's base on the rail and ``x2, x3, x4`` its joint
    variables. The segment angles follow the BDIMNNA reference code of Ren et al.
    (NeurIPS 2020): ``p1 = x2``, ``p2 = x3 - x2``, ``p3 = x4 - x3 - x2``. With segment
    lengths ``l = (0.5, 0.5, 1.0)``::

        y_h = sum_i l_i cos(p_i)
        y_v = x1 + sum_i l_i sin(p_i)

    Args:
        x: Designs ``(x1, x2, x3, x4)``, shape ``(n, 4)``.

    Returns:
        End point ``(y_h, y_v)``, shape ``(n, 2)``, dtype and device of ``x``.
    """
    x1, x2, x3, x4 = x.unbind(-1)
    angles = torch.stack([x2, x3 - x2, x4 - x3 - x2], dim=-1)
    lengths = torch.tensor(ROBOT_ARM_LENGTHS, dtype=x.dtype, device=x.device)
    y_h = (lengths * torch.cos(angles)).sum(-1)
    y_v = x1 + (lengths * torch.sin(angles)).sum(-1)
    return torch.stack([y_h, y_v], dim=-1)


def _robot_arm_prior(n: int, generator: torch.Generator) -> Tensor:
    std = torch.tensor(ROBOT_ARM_PRIOR_STD, dtype=torch.float64)
    return torch.randn(n, 4, generator=generator, dtype=torch.float64) * std


def sine() -> Task:
    """The 2 -> 1 sine wave task of Ren et al. (NeurIPS 2020).

    Prior ``x1, x2 ~ U[-1, 1]``, space ``[-1, 1]^2``, oracle :func:`sine_forward`.
    """
    return Task(
        name="sine",
        oracle=sine_forward,
        space=Box(-1.0, 1.0, dim=2),
        kind="target",
        output_dim=1,
        reference=_REN_2020,
        n_train=10_000,
        surrogate=SurrogateSpec(hidden=(128, 128, 128), activation="silu", epochs=200, batch_size=128, lr=1e-2),
        budget=100,
    )


def robot_arm() -> Task:
    """The 4 -> 2 robot arm task of Ren et al. (NeurIPS 2020), oracle :func:`robot_arm_forward`.

    Prior ``x ~ N(0, diag(1/16, 1/4, 1/4, 1/4))``. The paper states no box; the space here
    is the prior mean plus or minus 3 standard deviations per coordinate
    (``x1`` in ``[-0.75, 0.75]``, ``x2, x3, x4`` in ``[-1.5, 1.5]``). About 1% of prior
    draws fall outside it; they are kept, so training data follow the paper's prior.
    """
    std = torch.tensor(ROBOT_ARM_PRIOR_STD, dtype=torch.float64)
    return Task(
        name="robot_arm",
        oracle=robot_arm_forward,
        space=Box(-3 * std, 3 * std),
        kind="target",
        output_dim=2,
        prior=_robot_arm_prior,
        reference=_REN_2020,
        n_train=10_000,
        surrogate=SurrogateSpec(hidden=(256,), activation="gelu", epochs=200, batch_size=128, lr=3e-2),
        budget=200,
    )
