"""Generator networks whose designs lie inside a box, and the diversity measure that keeps them spread.

- `Generator` ``g(noise) -> design``: what the ``"amortized"`` solver trains on a surrogate's energy.
- `ConditionalGenerator` ``g(noise, y*) -> design``: an inverse model, trained by
  `invdesign.models.fit_inverse_model` to serve designs for new targets ``y*``.
- `distinct_pairs`: the share of pairs of designs that lie apart, the diversity bonus of both;
  `distinct_from`: the same between a batch and earlier designs (the amortized solver's replay store).

Every design is ``lower + sigmoid(network output) * (upper - lower)``: inside the box by
construction, whatever the weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from invdesign.models.checks import check_count
from invdesign.models.mlp import MLP
from invdesign.models.train import noise_generator, seeded_init, standard_normal
from invdesign.space import Box


class _BoxedMLP(nn.Module):
    """An MLP whose outputs are squashed into a box: inputs ``(b, in_dim)`` -> designs ``(b, d)``.

    Built in the box's dtype and on its device, its initial weights drawn under ``seed``
    (:func:`~invdesign.models.train.seeded_init`).
    """

    lower: Tensor
    upper: Tensor

    def __init__(self, space: Box, in_dim: int, hidden: Sequence[int], activation: str, seed: int | None) -> None:
        super().__init__()
        if not isinstance(space, Box):
            raise TypeError(f"space must be an invdesign.Box, got {type(space).__name__}")
        with seeded_init(seed):
            net = MLP(in_dim, space.dim, hidden=hidden, activation=activation)
        self.net = net.to(dtype=space.dtype, device=space.device)
        self.register_buffer("lower", space.lower.clone())
        self.register_buffer("upper", space.upper.clone())

    @property
    def space(self) -> Box:
        """The box every design lies in, in the generator's dtype and on its device."""
        return Box(self.lower, self.upper, dtype=self.lower.dtype, device=self.lower.device)

    def unit(self, inputs: Tensor) -> Tensor:
        """The designs for network inputs ``(b, in_dim)`` as points of the box's unit cube (its search coordinates), ``(b, d)``."""
        return torch.sigmoid(self.net(inputs))

    def _designs(self, inputs: Tensor) -> Tensor:
        """Designs ``(b, d)`` for network inputs ``(b, in_dim)``."""
        x = self.lower + self.unit(inputs) * (self.upper - self.lower)
        # A saturated sigmoid (exactly 0 or 1) can land one rounding error outside the box.
        return torch.clamp(x, min=self.lower, max=self.upper)

    def _noise(self, n: int, dim: int, seed: int | None) -> Tensor:
        """Standard normal noise ``(n, dim)`` in the generator's dtype and on its device, from the noise stream of ``seed``."""
        return standard_normal(n, dim, self.lower, noise_generator(seed))


class Generator(_BoxedMLP):
    """A generator of designs: noise ``(b, noise_dim)`` -> designs ``(b, d)`` inside ``space``.

    Args:
        space: The box of the designs (the latent box, for an objective with a decoder); the
            generator takes its dtype and device.
        noise_dim: Dimension of the standard normal noise input, at least 1.
        hidden: Widths of the hidden layers.
        activation: Name of the nonlinearity, one of `invdesign.models.mlp.ACTIVATIONS`.
        seed: Seeds the initial weights; ``None`` draws them from torch's global RNG.

    Example:
        >>> g = Generator(Box(-1.0, 1.0, dim=3), noise_dim=4)
        >>> g.sample(5, seed=0).shape
        torch.Size([5, 3])
    """

    def __init__(
        self,
        space: Box,
        *,
        noise_dim: int = 8,
        hidden: Sequence[int] = (128, 128),
        activation: str = "silu",
        seed: int | None = None,
    ) -> None:
        noise_dim = check_count(noise_dim, "noise_dim", minimum=1)
        super().__init__(space, noise_dim, hidden, activation, seed)
        self.noise_dim = noise_dim

    def forward(self, noise: Tensor) -> Tensor:
        """Designs for noise ``(b, noise_dim)``, shape ``(b, d)``."""
        if noise.ndim != 2 or noise.shape[1] != self.noise_dim:
            raise ValueError(f"Generator expects noise of shape (b, {self.noise_dim}), got {tuple(noise.shape)}")
        return self._designs(noise)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None) -> Tensor:
        """``n`` designs in one forward pass, shape ``(n, d)``; the same ``seed`` gives the same designs."""
        return self(self._noise(check_count(n, "n", minimum=1), self.noise_dim, seed))


class ConditionalGenerator(_BoxedMLP):
    """An inverse model: noise ``(b, noise_dim)`` and targets ``(b, k)`` -> designs ``(b, d)`` inside ``space``.

    The targets are standardised inside the network (see `set_target_scale`; `fit_inverse_model`
    sets the scale from the data's outputs).

    Args:
        space: The box of the designs; the generator takes its dtype and device.
        target_dim: Number of outputs ``k`` of a target.
        noise_dim: Dimension of the standard normal noise input; 0 gives a deterministic
            inverse model (a tandem network).
        hidden: Widths of the hidden layers.
        activation: Name of the nonlinearity, one of `invdesign.models.mlp.ACTIVATIONS`.
        seed: Seeds the initial weights; ``None`` draws them from torch's global RNG.
    """

    def __init__(
        self,
        space: Box,
        target_dim: int,
        *,
        noise_dim: int = 4,
        hidden: Sequence[int] = (128, 128, 128),
        activation: str = "silu",
        seed: int | None = None,
    ) -> None:
        target_dim = check_count(target_dim, "target_dim", minimum=1)
        noise_dim = check_count(noise_dim, "noise_dim", minimum=0)
        super().__init__(space, noise_dim + target_dim, hidden, activation, seed)
        self.noise_dim = noise_dim
        self.target_dim = target_dim

    def set_target_scale(self, mean: Tensor, std: Tensor) -> None:
        """Standardise targets by ``(y - mean) / std`` inside the network; ``mean`` and ``std`` of shape ``(k,)``."""
        with torch.no_grad():
            self.net.x_mean[self.noise_dim :] = mean
            self.net.x_std[self.noise_dim :] = std

    def forward(self, noise: Tensor, targets: Tensor) -> Tensor:
        """Designs for noise ``(b, noise_dim)`` and targets ``(b, k)``, shape ``(b, d)``."""
        b = targets.shape[0]
        if targets.ndim != 2 or targets.shape[1] != self.target_dim:
            raise ValueError(f"ConditionalGenerator expects targets of shape (b, {self.target_dim}), got {tuple(targets.shape)}")
        if noise.shape != (b, self.noise_dim):
            raise ValueError(f"ConditionalGenerator expects noise of shape ({b}, {self.noise_dim}), got {tuple(noise.shape)}")
        return self._designs(torch.cat([noise, targets], dim=1))

    @torch.no_grad()
    def sample(self, targets: Tensor, n_per_target: int, *, seed: int | None = None) -> Tensor:
        """``n_per_target`` designs for each target, all in one forward pass.

        Args:
            targets: Targets, shape ``(T, k)`` (or ``(k,)`` for one).
            n_per_target: Designs per target, ``n``. Without noise (``noise_dim=0``) they are copies
                of one design per target.
            seed: Seeds the noise; the same seed gives the same designs.

        Returns:
            Designs, shape ``(T, n, d)`` (``(n, d)`` for one target of shape ``(k,)``).
        """
        n = check_count(n_per_target, "n_per_target", minimum=1)
        targets = torch.as_tensor(targets)
        one = targets.ndim == 1
        targets = targets.unsqueeze(0) if one else targets
        if targets.ndim != 2 or targets.shape[1] != self.target_dim:
            raise ValueError(f"sample expects targets of shape (T, {self.target_dim}), got {tuple(targets.shape)}")
        targets = targets.to(dtype=self.lower.dtype, device=self.lower.device)
        T = targets.shape[0]
        m = n if self.noise_dim else 1  # without noise, one design per target, copied n times
        noise = self._noise(T * m, self.noise_dim, seed)
        designs = self(noise, targets.repeat_interleave(m, dim=0)).reshape(T, m, -1).expand(T, n, -1).contiguous()
        return designs[0] if one else designs


def distinct_pairs(u: Tensor, radius: float) -> Tensor:
    """The share of pairs of samples more than about ``radius`` apart, smoothly, for each group of samples.

    Each pair at distance ``r`` counts ``1 - exp(-(r / radius)^4)``: about 0 below ``radius / 2``,
    about 1 beyond ``2 * radius``, so samples close together are barely pushed apart. When the
    samples gather in tight groups further apart than ``2 * radius``, this is the Gini-Simpson
    index of the groups: the chance that two samples drawn at random lie in different groups.
    Differentiable in ``u``.

    Args:
        u: Samples, shape ``(..., n, d)`` with ``n >= 2`` (unit-cube coordinates, for designs).
        radius: The distance scale.

    Returns:
        The share for each group, shape ``(...)``.
    """
    n = u.shape[-2]
    distance = torch.cdist(u, u, compute_mode="donot_use_mm_for_euclid_dist")
    # The diagonal (each sample with itself) counts 0, so the sum is over the n (n - 1) pairs.
    return -torch.expm1(-(distance / radius).pow(4)).sum(dim=(-2, -1)) / (n * (n - 1))


def distinct_from(u: Tensor, others: Tensor, radius: float) -> Tensor:
    """The share of pairs (one sample of ``u``, one of ``others``) more than about ``radius`` apart, smoothly.

    Each pair counts as in `distinct_pairs`. When both sets gather in tight groups further apart
    than ``2 * radius``, this is ``1 - sum_g p_g q_g`` with ``p`` and ``q`` the shares of ``u`` and
    ``others`` in each group: it is highest for samples in the groups ``others`` holds least.
    Differentiable in ``u`` (``others`` is taken as constant).

    Args:
        u: Samples, shape ``(n, d)``.
        others: Earlier samples, shape ``(m, d)``, ``m >= 1``.
        radius: The distance scale.

    Returns:
        The share, a scalar tensor.
    """
    distance = torch.cdist(u, others.detach(), compute_mode="donot_use_mm_for_euclid_dist")
    return -torch.expm1(-(distance / radius).pow(4)).mean()
