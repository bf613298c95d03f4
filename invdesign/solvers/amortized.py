"""``method="amortized"``: train a generator network against the frozen surrogate; and conditional inverse models.

Instead of optimizing each design separately, a network learns to *produce* low-energy designs,
with the surrogate's energy as its loss; once trained it serves thousands of designs in one
forward pass. Its failure mode is collapse: every noise input mapped onto one design (one basin)
that the loss likes. The defences here are a noise input and a diversity bonus on every batch,
the share of pairs of designs that lie apart, which rewards spreading the batch over several
minima but barely pushes apart designs that share one.

- `Amortized` (``method="amortized"``) trains a `Generator` ``g(noise) -> design`` and returns
  its designs; ``result.generator.sample(n)`` draws more.
- `fit_inverse_model` trains a `ConditionalGenerator` ``g(noise, y*) -> design`` over targets
  ``y*`` drawn from the data's outputs, so that new targets are served in one forward pass
  (with ``noise_dim=0``, the tandem network of Liu et al., ACS Photonics 2018).

Every design is ``lower + sigmoid(network output) * (upper - lower)``: inside the box by
construction, whatever the weights.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from tqdm import tqdm

from invdesign.models.fit import _FUSED_ADAM_DEVICES, _mean_std
from invdesign.models.mlp import ACTIVATIONS, MLP
from invdesign.engine import Capabilities, Outcome, Run, TrainedSolver, count, register
from invdesign.engine.run import best_of
from invdesign.result import Status
from invdesign.space import Box

_SCALE_PROBE = 256
"""Sobol points of the box whose energy spread sets the unit of `Amortized`'s ``diversity``."""
_LR_FLOOR = 0.01
"""The cosine schedules of the generators end at this fraction of ``lr``."""


class _BoxedMLP(nn.Module):
    """An MLP whose outputs are squashed into a box: inputs ``(b, in_dim)`` -> designs ``(b, d)``.

    Built in the box's dtype and on its device.
    """

    lower: Tensor
    upper: Tensor

    def __init__(self, space: Box, in_dim: int, hidden: Sequence[int], activation: str) -> None:
        super().__init__()
        if not isinstance(space, Box):
            raise TypeError(f"space must be an invdesign.Box, got {type(space).__name__}")
        self.net = MLP(in_dim, space.dim, hidden=hidden, activation=activation).to(dtype=space.dtype, device=space.device)
        self.register_buffer("lower", space.lower.clone())
        self.register_buffer("upper", space.upper.clone())

    @property
    def space(self) -> Box:
        """The box every design lies in, in the generator's dtype and on its device."""
        return Box(self.lower, self.upper, dtype=self.lower.dtype, device=self.lower.device)

    def unit(self, inputs: Tensor) -> Tensor:
        """The designs for network inputs ``(b, in_dim)`` in the box's unit cube (its search coordinates), ``(b, d)``."""
        return torch.sigmoid(self.net(inputs))

    def _designs(self, inputs: Tensor) -> Tensor:
        """Designs ``(b, d)`` for network inputs ``(b, in_dim)``."""
        x = self.lower + self.unit(inputs) * (self.upper - self.lower)
        # A saturated sigmoid (exactly 0 or 1) can land one rounding error outside the box.
        return torch.clamp(x, min=self.lower, max=self.upper)

    def _noise(self, n: int, dim: int, seed: int | None) -> Tensor:
        """Standard normal noise ``(n, dim)`` in the generator's dtype and on its device, from ``seed``."""
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        return _standard_normal(n, dim, rng, self.lower)


class Generator(_BoxedMLP):
    """A generator of designs: noise ``(b, noise_dim)`` -> designs ``(b, d)`` inside ``space``.

    Args:
        space: The box of the designs (the latent box, for an objective with a decoder); the
            generator takes its dtype and device.
        noise_dim: Dimension of the standard normal noise input, at least 1.
        hidden: Widths of the hidden layers.
        activation: Name of the nonlinearity, one of `invdesign.models.mlp.ACTIVATIONS`.

    Example:
        >>> g = Generator(Box(-1.0, 1.0, dim=3), noise_dim=4)
        >>> g.sample(5, seed=0).shape
        torch.Size([5, 3])
    """

    def __init__(
        self, space: Box, *, noise_dim: int = 8, hidden: Sequence[int] = (128, 128), activation: str = "silu"
    ) -> None:
        noise_dim = count("noise_dim", noise_dim, minimum=1)
        super().__init__(space, noise_dim, hidden, activation)
        self.noise_dim = noise_dim

    def forward(self, noise: Tensor) -> Tensor:
        """Designs for noise ``(b, noise_dim)``, shape ``(b, d)``."""
        if noise.ndim != 2 or noise.shape[1] != self.noise_dim:
            raise ValueError(f"Generator expects noise of shape (b, {self.noise_dim}), got {tuple(noise.shape)}")
        return self._designs(noise)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None) -> Tensor:
        """``n`` designs in one forward pass, shape ``(n, d)``; the same ``seed`` gives the same designs."""
        return self(self._noise(count("n", n, minimum=1), self.noise_dim, seed))


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
    """

    def __init__(
        self,
        space: Box,
        target_dim: int,
        *,
        noise_dim: int = 4,
        hidden: Sequence[int] = (128, 128, 128),
        activation: str = "silu",
    ) -> None:
        target_dim = count("target_dim", target_dim, minimum=1)
        noise_dim = count("noise_dim", noise_dim, minimum=0)
        super().__init__(space, noise_dim + target_dim, hidden, activation)
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
            n_per_target: Designs per target, ``n``. Without noise (``noise_dim=0``) they are copies.
            seed: Seeds the noise; the same seed gives the same designs.

        Returns:
            Designs, shape ``(T, n, d)`` (``(n, d)`` for one target of shape ``(k,)``).
        """
        n = count("n_per_target", n_per_target, minimum=1)
        targets = torch.as_tensor(targets)
        one = targets.ndim == 1
        targets = targets.unsqueeze(0) if one else targets
        if targets.ndim != 2 or targets.shape[1] != self.target_dim:
            raise ValueError(f"sample expects targets of shape (T, {self.target_dim}), got {tuple(targets.shape)}")
        targets = targets.to(dtype=self.lower.dtype, device=self.lower.device)
        T = targets.shape[0]
        noise = self._noise(T * n, self.noise_dim, seed)
        designs = self(noise, targets.repeat_interleave(n, dim=0)).reshape(T, n, -1)
        return designs[0] if one else designs


@register
@dataclass(frozen=True, kw_only=True)
class Amortized(TrainedSolver):
    """Train a `Generator` ``g(noise) -> design`` on the frozen surrogate's energy, and return its designs.

    Each training step draws ``batch_size`` standard normal noise vectors, generates that batch
    of designs (search points: latent codes for an objective with a decoder), evaluates their
    energies, and takes one Adam step on the generator's weights (never the surrogate's) to lower

        ``mean(energy) / s  -  diversity * distinct``

    where ``s`` is the standard deviation of the energy over 256 Sobol points of the box
    (evaluated once at the start, counted in ``nfev``) and ``distinct``, in ``[0, 1]``, is the
    share of pairs of the batch's designs more than about ``radius`` apart in unit-cube
    coordinates: each pair at distance ``r`` counts ``1 - exp(-(r / radius)^4)``. The loss is
    free of the units of the energy and of the box. ``distinct`` is flat for designs close
    together, so designs may gather tightly at a minimum, but it pays for spreading the batch
    over several minima: for tight groups it is the chance that two designs drawn at random lie
    in different groups (the Gini-Simpson index), so ``diversity=1`` values an even split over
    two minima as much as half a standard deviation of energy. ``diversity=0`` turns the bonus
    off, and the generator then typically collapses onto one basin. The bonus costs
    ``O(batch_size^2)`` per step.

    The batch is what the run returns: the designs of the last batch, drawn by the generator
    after its last step, best first. The history has one row per batch (row 0 is the untrained
    generator's), and its ``best`` column is the lowest energy **in that batch**, not so far:
    the generator is trained for its whole batch, so an earlier batch can hold a lower single
    energy than the final one. The callback sees the best design of each batch; on
    ``StopIteration`` the run returns that batch. ``result.generator`` is the trained
    generator: ``result.generator.sample(n)`` serves ``n`` more designs (search points) in one
    forward pass. Designs with a NaN or infinite energy are left out of the loss.

    ``max_iter`` is the number of training steps; ``x0`` and ``n_restarts`` are refused (there
    are no starting points, only the generator's random initial weights, drawn from ``seed``).

    Attributes:
        batch_size: Designs per training step, and designs returned.
        noise_dim: Dimension of the generator's noise input.
        hidden: Widths of the generator's hidden layers.
        activation: The generator's nonlinearity, one of `invdesign.models.mlp.ACTIVATIONS`.
        lr: Adam's learning rate for the generator's weights, annealed by a cosine schedule to
            ``lr / 100`` at ``max_iter``.
        diversity: Weight of the diversity bonus, in units of the energy's standard deviation
            over the box; 0 turns it off.
        radius: Distance in unit-cube coordinates beyond which two designs count as distinct
            (about half the distance between the minima to be told apart).
        progress: Show a tqdm progress bar over the training steps.
    """

    name: ClassVar[str] = "amortized"
    capabilities: ClassVar[Capabilities] = Capabilities(gradients=True, x0=False, budget="steps", default_budget=2000)

    batch_size: int = 256
    noise_dim: int = 8
    hidden: tuple[int, ...] = (128, 128)
    activation: str = "silu"
    lr: float = 1e-2
    diversity: float = 1.0
    radius: float = 0.15
    progress: bool = False

    def __post_init__(self) -> None:
        count("amortized option batch_size", self.batch_size, minimum=1)
        count("amortized option noise_dim", self.noise_dim, minimum=1)
        hidden = tuple(self.hidden)
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in hidden):
            raise ValueError(f"amortized option hidden must be positive integer widths, got {self.hidden!r}")
        object.__setattr__(self, "hidden", hidden)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"amortized option activation={self.activation!r} is not one of {', '.join(map(repr, ACTIVATIONS))}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"amortized option lr must be positive and finite, got {self.lr}")
        if not (math.isfinite(self.diversity) and self.diversity >= 0):
            raise ValueError(f"amortized option diversity must be finite and non-negative, got {self.diversity}")
        if not (math.isfinite(self.radius) and self.radius > 0):
            raise ValueError(f"amortized option radius must be positive and finite, got {self.radius}")

    def train(self, run: Run, *, max_iter: int, seed: int) -> Outcome:
        """Train a generator for ``max_iter`` steps on batches of ``batch_size``; the last batch is the outcome."""
        objective, k = run.objective, self.batch_size
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            generator = Generator(objective.space, noise_dim=self.noise_dim, hidden=self.hidden, activation=self.activation)
        with torch.no_grad():
            scale = _energy_scale(objective(objective.space.sample(_SCALE_PROBE, seed=seed)))
        rng = torch.Generator().manual_seed(seed)
        params = list(generator.parameters())
        opt = torch.optim.Adam(params, lr=self.lr, fused=objective.device.type in _FUSED_ADAM_DEVICES)
        status, nit = Status.MAX_ITER, 0
        with tqdm(total=max_iter, desc=self.name, disable=not self.progress, leave=False) as bar:
            while True:
                u = generator.unit(_standard_normal(k, self.noise_dim, rng, objective.space.lower))
                f = run.energy(u)
                finite = torch.isfinite(f.detach())
                best_f = float(f.detach()[finite].min()) if finite.any() else math.inf
                run.record(nit, best_f, k)
                bar.set_postfix(best=f"{best_f:.4g}", refresh=False)
                if run.stop_requested(best_of(u.detach(), f.detach())):
                    status = Status.STOPPED
                    break
                if nit == max_iter:
                    break
                if finite.any():
                    loss = f[finite].mean() / scale
                    if self.diversity > 0 and k > 1:
                        loss = loss - self.diversity * _distinct_pairs(u, self.radius)
                    for p, g in zip(params, torch.autograd.grad(loss, params)):
                        p.grad = g
                    for group in opt.param_groups:
                        group["lr"] = self.lr * _cosine(nit, max_iter)
                    opt.step()
                nit += 1
                bar.update()
        message = {Status.MAX_ITER: f"reached max_iter={max_iter}.", Status.STOPPED: "stopped by the callback."}[status]
        n_bad = int((~finite).sum())
        if n_bad:
            message += f" {n_bad} of {k} generated designs have a NaN or infinite energy (ranked last)."
        generator.eval()
        return Outcome(u.detach(), f.detach(), status, message, nit, generator)


@dataclass(repr=False)
class InverseModelReport:
    """What `fit_inverse_model` did.

    Attributes:
        loss: Per step, the batch's mean squared error between the surrogate's outputs for the
            generated designs and their targets, in standardised units (each output divided by
            its standard deviation in ``Y``).
        seconds: Wall-clock training time.
    """

    loss: list[float]
    seconds: float

    def __repr__(self) -> str:
        return f"InverseModelReport(steps={len(self.loss)}, final_loss={self.loss[-1]:.3g}, seconds={self.seconds:.1f})"


def fit_inverse_model(
    model: nn.Module | Callable[[Tensor], Tensor],
    space: Box,
    Y: Tensor,
    *,
    noise_dim: int = 4,
    hidden: Sequence[int] = (128, 128, 128),
    activation: str = "silu",
    steps: int = 5000,
    batch_size: int = 256,
    samples_per_target: int | None = None,
    diversity: float | None = None,
    radius: float = 0.15,
    lr: float = 1e-3,
    seed: int | None = None,
    progress: bool = False,
) -> tuple[ConditionalGenerator, InverseModelReport]:
    """Train a `ConditionalGenerator` ``g(noise, y*)`` so that the frozen ``model`` maps its designs to ``y*``.

    Each step draws ``batch_size // samples_per_target`` targets from the rows of ``Y`` (with
    replacement), generates ``samples_per_target`` designs for each from fresh standard normal
    noise, and takes one Adam step on the generator's weights (never the model's) to lower

        ``mse  -  diversity * mean over targets of distinct(designs of the target)``

    where ``mse`` is the mean squared error between ``model(g(noise, y*))`` and ``y*``, each
    output divided by its standard deviation in ``Y``, and ``distinct`` is the share of pairs of
    a target's designs more than about ``radius`` apart in unit-cube coordinates (as for
    `Amortized`). Designs stay inside ``space`` by construction, so no boundary loss is needed.
    The learning rate follows a cosine schedule down to ``lr / 100``.

    With ``noise_dim=0`` this is the tandem network (Liu et al., ACS Photonics 2018): one design
    per target. With noise and no diversity term the generator tends to ignore the noise; the
    term makes it use the noise to reach different designs for one target, which on the robot
    arm also makes the designs more accurate (one branch of the many-valued inverse per noise,
    instead of an average of branches).

    Args:
        model: The trained surrogate, designs ``(b, d)`` -> outputs ``(b, k)``, differentiable
            in torch; put in eval mode and left unchanged.
        space: The box of the designs.
        Y: The data's outputs, shape ``(n, k)`` (``(n,)`` for ``k = 1``): the targets trained on.
        noise_dim: Dimension of the noise input; 0 for a deterministic (tandem) inverse model.
        hidden: Widths of the generator's hidden layers.
        activation: The generator's nonlinearity.
        steps: Adam steps.
        batch_size: Designs per step.
        samples_per_target: Designs per target in a step; default 4 with noise, 1 without.
        diversity: Weight of the diversity term; default 1.0 with noise, 0 without (the term needs
            noise and ``samples_per_target >= 2``).
        radius: Distance in unit-cube coordinates beyond which two designs count as distinct.
        lr: Peak learning rate.
        seed: Seeds the initial weights, the targets and the noise; the same seed gives the same
            generator. ``None`` draws one.
        progress: Show a tqdm bar with the loss.

    Returns:
        ``(generator, report)``: the generator in eval mode, in ``Y``'s dtype and on its device;
        ``generator.sample(targets (T, k), n)`` serves ``(T, n, d)`` designs in one forward pass.

    Raises:
        TypeError: if ``model`` is not callable, ``space`` is not a `Box`, or ``Y`` is not
            floating point.
        ValueError: for ``Y`` that is empty, not finite or of the wrong width for the model, a
            model that returns the wrong shape or no gradient, or a bad option.
    """
    if not callable(model):
        raise TypeError(f"model must be a torch.nn.Module or a callable, got {type(model).__name__}")
    if not isinstance(space, Box):
        raise TypeError(f"space must be an invdesign.Box, got {type(space).__name__}")
    Y = _as_targets(Y)
    steps = count("steps", steps, minimum=1)
    noise_dim = count("noise_dim", noise_dim, minimum=0)
    m = count("samples_per_target", (4 if noise_dim else 1) if samples_per_target is None else samples_per_target, minimum=1)
    batch_size = count("batch_size", batch_size, minimum=m)
    diversity = (1.0 if noise_dim else 0.0) if diversity is None else float(diversity)
    if not (math.isfinite(diversity) and diversity >= 0):
        raise ValueError(f"diversity must be finite and non-negative, got {diversity}")
    if noise_dim == 0 and (diversity > 0 or m > 1):
        raise ValueError(
            "without noise (noise_dim=0) every design for a target is the same: "
            "pass diversity=0 and samples_per_target=1, or noise_dim >= 1"
        )
    if diversity > 0 and m < 2:
        raise ValueError(f"the diversity term compares designs of one target: it needs samples_per_target >= 2, got {m}")
    for name, value in (("radius", radius), ("lr", lr)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive and finite, got {value}")
    start = time.perf_counter()
    seed = int(torch.randint(0, 2**62, ())) if seed is None else int(seed)
    space = space.to(dtype=Y.dtype, device=Y.device)
    if isinstance(model, nn.Module):
        model.eval()
    _check_model(model, space, Y.shape[1])
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        generator = ConditionalGenerator(space, Y.shape[1], noise_dim=noise_dim, hidden=hidden, activation=activation)
    y_mean, y_std = _mean_std(Y)
    generator.set_target_scale(y_mean, y_std)

    params = list(generator.parameters())
    opt = torch.optim.Adam(params, lr=lr, fused=Y.device.type in _FUSED_ADAM_DEVICES)
    rng = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    with tqdm(range(steps), desc="fit_inverse_model", disable=not progress) as bar:
        for step in bar:
            rows = torch.randint(0, Y.shape[0], (batch_size // m,), generator=rng).to(Y.device)
            targets = Y[rows].repeat_interleave(m, dim=0)
            designs = generator(_standard_normal(targets.shape[0], noise_dim, rng, Y), targets)
            mse = (((model(designs) - targets) / y_std) ** 2).mean()
            loss = mse
            if diversity > 0:
                loss = mse - diversity * _distinct_pairs(space.to_unit(designs).reshape(-1, m, space.dim), radius).mean()
            for p, g in zip(params, torch.autograd.grad(loss, params)):
                p.grad = g
            for group in opt.param_groups:
                group["lr"] = lr * _cosine(step, steps)
            opt.step()
            losses.append(float(mse.detach()))
            bar.set_postfix(loss=f"{losses[-1]:.3g}", refresh=False)
    generator.eval()
    return generator, InverseModelReport(loss=losses, seconds=time.perf_counter() - start)


def _standard_normal(n: int, dim: int, rng: torch.Generator | None, like: Tensor) -> Tensor:
    """Standard normal noise ``(n, dim)`` in the dtype and on the device of ``like``.

    Drawn on the CPU from ``rng`` (torch's global generator for ``None``), so that a seed gives the
    same noise on every device.
    """
    return torch.randn(n, dim, generator=rng, dtype=like.dtype).to(like.device)


def _distinct_pairs(u: Tensor, radius: float) -> Tensor:
    """The share of pairs of samples more than about ``radius`` apart, smoothly, for each group of samples.

    Each pair at distance ``r`` counts ``1 - exp(-(r / radius)^4)``: about 0 below ``radius / 2``,
    about 1 beyond ``2 * radius``, so samples close together are barely pushed apart. When the
    samples gather in tight groups further apart than ``2 * radius``, this is the Gini-Simpson
    index of the groups: the chance that two samples drawn at random lie in different groups.

    Args:
        u: Samples, shape ``(..., n, d)`` with ``n >= 2``.
        radius: The distance scale.

    Returns:
        The share for each group, shape ``(...)``.
    """
    n = u.shape[-2]
    distance = torch.cdist(u, u, compute_mode="donot_use_mm_for_euclid_dist")
    # The diagonal (each sample with itself) counts 0, so the sum is over the n (n - 1) pairs.
    return -torch.expm1(-(distance / radius).pow(4)).sum(dim=(-2, -1)) / (n * (n - 1))


def _energy_scale(f: Tensor) -> float:
    """The standard deviation of the finite energies ``f`` ``(n,)``; 1.0 when it is 0 or undefined."""
    f = f[torch.isfinite(f)]
    scale = float(f.std(correction=0)) if f.numel() > 1 else 0.0
    return scale if math.isfinite(scale) and scale > 0 else 1.0


def _cosine(step: int, total: int) -> float:
    """The learning-rate factor at ``step`` of ``total``: a cosine from 1 down to ``_LR_FLOOR``."""
    if total <= 1:
        return 1.0
    return _LR_FLOOR + (1 - _LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * step / (total - 1)))


def _as_targets(Y: Tensor) -> Tensor:
    """``Y`` as a finite floating ``(n, k)`` tensor with ``n >= 1``."""
    Y = torch.as_tensor(Y)
    if not Y.dtype.is_floating_point:
        raise TypeError(f"Y must be floating point, got {Y.dtype}")
    Y = Y.unsqueeze(-1) if Y.ndim == 1 else Y
    if Y.ndim != 2 or Y.shape[0] < 1:
        raise ValueError(f"Y must have shape (n, k) with n >= 1, got {tuple(Y.shape)}")
    if not torch.isfinite(Y).all():
        raise ValueError("Y has NaN or infinite values; drop those rows (invalid designs) first")
    return Y


def _check_model(model: nn.Module | Callable[[Tensor], Tensor], space: Box, k: int) -> None:
    """Raise unless ``model`` maps designs of ``space`` to ``(b, k)`` outputs with a gradient."""
    x = space.sample(2, seed=0).requires_grad_(True)
    try:
        y = model(x)
    except Exception as exc:
        raise ValueError(
            f"the model failed on 2 designs of shape {tuple(x.shape)} ({x.dtype}) drawn from the box: "
            f"{type(exc).__name__}: {exc}. Do the box and Y (whose dtype the designs take) match the model?"
        ) from exc
    if not isinstance(y, Tensor) or y.shape != (2, k):
        shape = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise ValueError(f"the model returned {shape} for 2 designs; Y has {k} outputs, so expected (2, {k})")
    if not y.requires_grad or torch.autograd.grad(y.sum(), x, allow_unused=True)[0] is None:
        raise ValueError("no gradient reaches the designs through the model (a NumPy, detached or no_grad model)")
