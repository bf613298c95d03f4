"""Penalties: extra energies of the search point that keep designs where the surrogate can be trusted.

Each penalty maps search points ``(b, d)`` to non-negative energies ``(b,)`` and is passed to
``Objective(..., penalties=[...])``, so it works with every solver. The search point is the design
itself in data-space search, and the latent code in latent-space search.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from invdesign.space import Box, DesignSpace, Space
from invdesign.space.table import as_tensor


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


class DataDistance:
    """A data trust region: penalise designs farther than ``radius`` from every training design.

    ``weight * relu(dist(x) - radius)^2``, where ``dist(x)`` is the Euclidean distance from ``x``
    to its nearest row of ``X``: zero within ``radius`` of the data, growing quadratically beyond
    it, with a gradient that points straight back to the nearest training design.

    With ``space``, distances are measured in the box's unit-cube coordinates (each coordinate
    divided by the box's width), so every dimension counts alike whatever its units and
    ``radius`` is a fraction of the box's edge (the cube's diagonal is ``sqrt(d)``). With ``scale``
    (a ``(d,)`` tensor), each coordinate is divided by its entry instead (the data's own scale:
    `invdesign.trust.TrainingData`). For a latent search, pass the training designs' latent codes
    (e.g. a VAE's encoded means) as ``X``.

    The nearest training design is found without gradients: for designs on the CPU in at most
    `KD_TREE_MAX_DIM` dimensions by a k-d tree of the training designs (SciPy's ``cKDTree``, built
    once), otherwise by brute force in chunks of at most about four million distances, so memory
    stays bounded for large batches and data sets (``b = 2048`` against ``n = 10,000`` costs a few
    chunks, not an ``(b, n)`` autograd graph); only the distance to that design is differentiated.

    Args:
        X: Training designs (or their latent codes), shape ``(n, d)``.
        weight: Multiplier of the penalty.
        radius: Distance from the data within which designs are free, in unit-cube
            coordinates when ``space`` is given.
        space: Measure distances in this box's unit-cube coordinates; ``None`` for raw ones.
        scale: Measure distances with each coordinate divided by this positive ``(d,)`` tensor
            (not with ``space``).

    Raises:
        ValueError: if ``X`` is not a non-empty ``(n, d)`` array of finite values, if its ``d``
            differs from the box's or the scale's, for a scale that is not positive and finite,
            for both ``space`` and ``scale``, or for a negative weight or radius.
    """

    CHUNK = 4_000_000
    """Most distances computed at once when searching for the nearest training design."""
    KD_TREE_MAX_DIM = 8
    """Most dimensions for which the nearest training design of CPU designs is found by a k-d tree:
    measured on 1,024 designs against 2,000 and 10,000 uniform ones, the tree took 0.1 to 0.3x the
    brute-force time up to 6 dimensions and 1.7 to 2.1x at 10."""

    def __init__(
        self, X: Tensor, weight: float = 1.0, *, radius: float = 0.0, space: DesignSpace | None = None,
        scale: Tensor | None = None,
    ) -> None:
        X = as_tensor(X, "DataDistance X")
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"DataDistance needs training designs X of shape (n, d), got {tuple(X.shape)}")
        if not X.dtype.is_floating_point:
            X = X.to(torch.float64)
        if not torch.isfinite(X).all():
            rows = (~torch.isfinite(X)).any(dim=-1).nonzero().flatten().tolist()
            raise ValueError(f"DataDistance X has NaN or infinite values in rows {rows[:10]}")
        if space is not None:
            if not isinstance(space, (Box, Space)):
                raise TypeError(f"DataDistance space must be an invdesign.Box or invdesign.Space, got {type(space).__name__}")
            if space.dim != X.shape[1]:
                raise ValueError(f"DataDistance X has {X.shape[1]} columns but the box has dimension {space.dim}")
        if scale is not None:
            if space is not None:
                raise ValueError("DataDistance takes space= or scale=, not both")
            scale = as_tensor(scale, "DataDistance scale").to(X.dtype)
            if scale.shape != (X.shape[1],) or not (torch.isfinite(scale).all() and (scale > 0).all()):
                raise ValueError(f"DataDistance scale must be {X.shape[1]} positive finite numbers, got {scale.tolist()}")
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"DataDistance weight must be finite and non-negative, got {weight}")
        if not (math.isfinite(radius) and radius >= 0):
            raise ValueError(f"DataDistance radius must be finite and non-negative, got {radius}")
        self.weight = weight
        self.radius = radius
        self.space = space
        self.scale = scale
        self.X = X.detach()
        self._data = self._to_metric(self.X)
        self._cache: dict[tuple[torch.dtype, torch.device], Tensor] = {}
        self._tree: Any = None  # scipy.spatial.cKDTree, built on first use (SciPy is imported then)

    @property
    def dim(self) -> int:
        """The dimension ``d`` of the designs."""
        return self.X.shape[1]

    def distance(self, x: Tensor) -> Tensor:
        """Distance from each design to its nearest training design, shape ``(b,)``.

        In unit-cube coordinates when the penalty has a ``space``, each coordinate divided by
        ``scale`` when it has one; differentiable in ``x``. A design with a NaN or infinite
        coordinate has a NaN distance.

        Args:
            x: Designs, shape ``(b, d)``.
        """
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"DataDistance expected designs of shape (b, {self.dim}), got {tuple(x.shape)}")
        data = self._data_like(x)
        u = self._to_metric(x)
        sq = (u - data[self._nearest(u.detach().nan_to_num(0.0, 0.0, 0.0), data)]).square().sum(dim=-1)
        # The norm's derivative is undefined on a training design: take 0 there instead of NaN (a NaN design stays NaN).
        return torch.where(sq == 0, torch.zeros_like(sq), sq.clamp_min(torch.finfo(sq.dtype).tiny).sqrt())

    def __call__(self, x: Tensor) -> Tensor:
        """Penalty of designs ``x`` of shape ``(b, d)``, shape ``(b,)``."""
        return self.weight * (self.distance(x) - self.radius).relu().square()

    def _nearest(self, u: Tensor, data: Tensor) -> Tensor:
        """Index of each point's nearest training design, ``(b,)``, for points ``u`` ``(b, d)`` in the metric's coordinates."""
        if u.device.type == "cpu" and self.dim <= self.KD_TREE_MAX_DIM:
            if self._tree is None:
                from scipy.spatial import cKDTree

                self._tree = cKDTree(self._data.detach().cpu().to(torch.float64).numpy())
            _, index = self._tree.query(u.to(torch.float64).numpy(), k=1)
            return torch.as_tensor(index, dtype=torch.long)
        with torch.no_grad():
            rows = max(1, self.CHUNK // data.shape[0])
            return torch.cat([torch.cdist(chunk, data).argmin(dim=1) for chunk in u.split(rows)])

    def _to_metric(self, x: Tensor) -> Tensor:
        if self.scale is not None:
            return x / self.scale.to(dtype=x.dtype, device=x.device)
        return x if self.space is None else self.space.coordinates().to_search(x)

    def _data_like(self, x: Tensor) -> Tensor:
        key = (x.dtype, x.device)
        if key not in self._cache:
            self._cache[key] = self._data.to(dtype=x.dtype, device=x.device)
        return self._cache[key]

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the k-d tree and the per-device copies of the data (rebuilt on first use)."""
        return {**self.__dict__, "_tree": None, "_cache": {}}

    def __repr__(self) -> str:
        space = "" if self.space is None else f", space={self.space!r}"
        scale = "" if self.scale is None else f", scale={[round(v, 6) for v in self.scale.tolist()]}"
        return f"DataDistance(n={self.X.shape[0]}, dim={self.dim}, weight={self.weight}, radius={self.radius}{space}{scale})"
