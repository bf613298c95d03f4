"""Penalties: extra energies of the search point that keep designs where the surrogate can be trusted.

Each penalty maps search points ``(b, d)`` to non-negative energies ``(b,)`` and is passed to
``Objective(..., penalties=[...])``, so it works with every solver. The search point is the design
itself in data-space search, and the latent code in latent-space search.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from invdesign.space import Box


class LatentPrior:
    """Keep latent codes where a decoder with a standard normal prior was trained.

    Without ``radius``: ``weight * ||z||^2 / 2``, the negative log density of N(0, I) up to a
    constant. With ``radius``: ``weight * relu(||z|| - radius)^2``, free inside the ball of that
    radius (for a ``d``-dimensional standard normal, ``||z||`` concentrates near ``sqrt(d)``).

    Args:
        weight: Multiplier of the penalty.
        radius: Radius of the penalty-free ball, or ``None``.
    """

    def __init__(self, weight: float = 1.0, *, radius: float | None = None) -> None:
        if weight < 0:
            raise ValueError(f"LatentPrior weight must be non-negative, got {weight}")
        if radius is not None and radius <= 0:
            raise ValueError(f"LatentPrior radius must be positive, got {radius}")
        self.weight = weight
        self.radius = radius

    def __call__(self, z: Tensor) -> Tensor:
        """Penalty of latent codes ``z`` of shape ``(b, d)``, shape ``(b,)``."""
        if self.radius is None:
            return self.weight * z.square().sum(dim=-1) / 2
        return self.weight * (z.norm(dim=-1) - self.radius).relu().square()

    def __repr__(self) -> str:
        return f"LatentPrior(weight={self.weight}, radius={self.radius})"


class BoundaryPenalty:
    """The neural-adjoint boundary loss (Ren, Padilla, Malof, NeurIPS 2020).

    ``weight * sum_i relu(|x_i - center_i| - width_i / 2)``: zero inside the box, growing linearly
    outside it.

    Args:
        space: The box (for data-space search, typically the range of the training data).
        weight: Multiplier; the paper uses 0.1.
    """

    def __init__(self, space: Box, weight: float = 0.1) -> None:
        if weight < 0:
            raise ValueError(f"BoundaryPenalty weight must be non-negative, got {weight}")
        self.space = space
        self.weight = weight

    def __call__(self, x: Tensor) -> Tensor:
        """Penalty of points ``x`` of shape ``(b, d)``, shape ``(b,)``."""
        center = self.space.center.to(dtype=x.dtype, device=x.device)
        half = (self.space.width / 2).to(dtype=x.dtype, device=x.device)
        return self.weight * ((x - center).abs() - half).relu().sum(dim=-1)

    def __repr__(self) -> str:
        return f"BoundaryPenalty(weight={self.weight}, space={self.space!r})"


class Realism:
    """A data-space realism penalty: ``weight * score(x)`` for a learned measure of unrealism.

    Typical scores: a VAE's reconstruction error (``vae.reconstruction_error``), which is small on
    designs like the training data and large off it; or a discriminator's ``-log D(x)``.

    Args:
        score: Maps designs ``(b, d)`` to unrealism ``(b,)``, differentiable for gradient solvers.
        weight: Multiplier.
        shape: Reshape the flat search points to this design shape (without the batch
            dimension) before scoring, e.g. ``(1, 8, 8)`` for images searched as 64 pixels.
    """

    def __init__(
        self, score: Callable[[Tensor], Tensor], weight: float = 1.0, *, shape: tuple[int, ...] | None = None
    ) -> None:
        if not callable(score):
            raise TypeError(f"Realism score must be callable, got {type(score).__name__}")
        if weight < 0:
            raise ValueError(f"Realism weight must be non-negative, got {weight}")
        self.score = score
        self.weight = weight
        self.shape = shape

    def __call__(self, x: Tensor) -> Tensor:
        """Penalty of designs ``x`` of shape ``(b, d)``, shape ``(b,)``."""
        designs = x if self.shape is None else x.reshape(x.shape[0], *self.shape)
        return self.weight * torch.as_tensor(self.score(designs)).reshape(x.shape[0])

    def __repr__(self) -> str:
        return f"Realism(score={getattr(self.score, '__qualname__', self.score)!r}, weight={self.weight})"
