"""Conditional inverse models: :func:`fit_inverse_model` trains a `ConditionalGenerator` ``g(noise, y*)``
against a frozen surrogate, so that new targets ``y*`` are served in one forward pass (with
``noise_dim=0``, the tandem network of Liu et al., ACS Photonics 2018)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from invdesign.models.checks import check_count
from invdesign.models.generators import ConditionalGenerator, distinct_pairs
from invdesign.models.train import Seeds, TrainConfig, mean_std, standard_normal, train
from invdesign.space import Box
from invdesign.space.table import as_tensor

# The cosine schedule ends at this fraction of the peak learning rate.
_COSINE_FLOOR = 0.01


@dataclass(repr=False)
class InverseModelReport:
    """What `fit_inverse_model` did.

    Attributes:
        loss: Per step, the batch's mean squared error between the surrogate's outputs for the
            generated designs and their targets, in standardised units (each output divided by
            its standard deviation in ``Y``).
        seconds: Wall-clock training time.
        evaluations: Surrogate evaluations (designs) over the whole training.
    """

    loss: list[float]
    seconds: float
    evaluations: int = 0

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
    a target's designs more than about ``radius`` apart in unit-cube coordinates
    (`invdesign.models.distinct_pairs`, as for the ``"amortized"`` solver). Designs stay inside
    ``space`` by construction, so no boundary loss is needed. The learning rate follows a cosine
    schedule down to ``lr / 100``. Training is step-based training in
    :func:`invdesign.models.train.train`.

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
        seed: Seeds the initial weights, the targets and the noise (its streams, see
            :class:`~invdesign.models.train.Seeds`); the same seed gives the same generator.
            ``None`` draws one.
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
    noise_dim = check_count(noise_dim, "noise_dim", minimum=0)
    m = check_count((4 if noise_dim else 1) if samples_per_target is None else samples_per_target, "samples_per_target")
    batch_size = check_count(batch_size, "batch_size", minimum=m)
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
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be positive and finite, got {radius}")
    config = TrainConfig(
        steps=steps, batch_size=batch_size // m, lr=lr, schedule="cosine", lr_floor=_COSINE_FLOOR,
        progress=progress, desc="fit_inverse_model",
    )
    seeds = Seeds.of(seed)
    space = space.to(dtype=Y.dtype, device=Y.device)
    if isinstance(model, nn.Module):
        model.eval()
    _check_model(model, space, Y.shape[1])
    generator = ConditionalGenerator(
        space, Y.shape[1], noise_dim=noise_dim, hidden=hidden, activation=activation, seed=seeds.seed
    )
    y_mean, y_std = mean_std(Y)
    generator.set_target_scale(y_mean, y_std)
    noise = seeds.generator("noise")

    def step(rows: Tensor) -> tuple[Tensor, dict[str, Tensor | None]]:
        targets = Y[rows].repeat_interleave(m, dim=0)
        designs = generator(standard_normal(targets.shape[0], noise_dim, Y, noise), targets)
        mse = (((model(designs) - targets) / y_std) ** 2).mean()
        loss = mse
        if diversity > 0:
            loss = mse - diversity * distinct_pairs(space.coordinates().to_search(designs).reshape(-1, m, space.dim), radius).mean()
        return loss, {"loss": mse}

    log = train(generator, step, config, seeds=seeds, n_rows=Y.shape[0])
    steps_done = len(log.train["loss"])
    return generator, InverseModelReport(
        loss=log.train["loss"], seconds=log.seconds, evaluations=steps_done * (batch_size // m) * m
    )


def _as_targets(Y: Tensor) -> Tensor:
    """``Y`` as a finite floating ``(n, k)`` tensor with ``n >= 1``."""
    Y = as_tensor(Y, "Y")
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
