"""A generative adversarial network (Goodfellow et al. 2014) with two defences against mode collapse.

The defences: a minibatch standard deviation feature in the discriminator (Karras et al. 2018) and
a replay buffer of earlier fakes for the discriminator's steps (Shrivastava et al. 2017).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from invdesign.models import checks
from invdesign.models.train import (
    Seeds,
    TrainConfig,
    adam,
    descend,
    first_parameter,
    noise_generator,
    seeded_init,
    standard_normal,
    train,
)

Loss = Literal["nonsaturating", "wgan-gp"]

# Adam betas: Radford et al. 2016 (DCGAN) for the non-saturating loss, Gulrajani et al. 2017 for WGAN-GP.
_ADAM_BETAS: dict[str, tuple[float, float]] = {"nonsaturating": (0.5, 0.999), "wgan-gp": (0.0, 0.9)}
_DEFAULT_N_CRITIC: dict[str, int] = {"nonsaturating": 1, "wgan-gp": 5}
_LEAK = 0.2


class MinibatchStd(nn.Module):
    """Append the minibatch standard deviation as one extra feature (Karras et al. 2018, section 3).

    For features ``h`` of shape ``(b, f)``: the standard deviation of every feature across the ``b``
    rows, averaged over the ``f`` features, is one number that is appended to every row, giving
    ``(b, f + 1)``. A discriminator that sees it can tell a batch of near-identical fakes from a
    varied batch of real designs, which pushes the generator towards variety. (``1e-8`` is added to
    the variances before the square root, so a batch of one row gets ``1e-4``.)

    Example:
        >>> MinibatchStd()(torch.tensor([[0.0, 0.0], [2.0, 4.0]]))  # feature stds 1 and 2
        tensor([[0.0000, 0.0000, 1.5000],
                [2.0000, 4.0000, 1.5000]])
    """

    def forward(self, h: Tensor) -> Tensor:
        """``(b, f) -> (b, f + 1)``."""
        std = torch.sqrt(h.var(dim=0, correction=0) + 1e-8).mean()
        return torch.cat([h, std.expand(h.shape[0], 1)], dim=1)


class Discriminator(nn.Module):
    """Scores flattened designs scaled to ``[0, 1]``: ``(b, D) -> (b,)``, higher meaning "more real".

    Inputs are shifted to ``[-1, 1]``, then pass hidden layers of linear + LeakyReLU(0.2) (+ dropout)
    and a final linear layer. With ``minibatch_std`` the :class:`MinibatchStd` feature is appended
    to the input of the last hidden layer (the penultimate layer), so that a nonlinear layer can
    combine it with the per-design features, as the convolutions after it do in Karras et al.
    (With a single hidden layer that input is the design itself.) On digits, appending it instead
    to the final linear layer's input left the class histogram of the samples about as uneven as
    without the feature.

    Args:
        data_size: ``D``, the number of values in one design.
        hidden: Hidden widths, input side first (at least one).
        minibatch_std: Append the minibatch standard deviation feature.
        dropout: Dropout probability after every hidden activation.
    """

    def __init__(self, data_size: int, hidden: Sequence[int], *, minibatch_std: bool, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        widths = (data_size, *hidden[:-1])
        for i, (w_in, w_out) in enumerate(zip(widths, hidden)):
            if minibatch_std and i == len(hidden) - 1:
                layers.append(MinibatchStd())
                w_in += 1
            layers += [nn.Linear(w_in, w_out), nn.LeakyReLU(_LEAK)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.layers = nn.Sequential(*layers, nn.Linear(hidden[-1], 1))

    def forward(self, unit: Tensor) -> Tensor:
        """Scores ``(b,)`` for designs ``unit (b, D)`` in ``[0, 1]``."""
        return self.layers(2 * unit - 1).squeeze(1)


class GAN(nn.Module):
    """A generator of designs of shape ``data_shape`` in ``data_range``, with its discriminator.

    ``generator`` maps latents ``(b, latent_dim)`` (standard normal prior) through linear +
    LeakyReLU(0.2) layers of widths ``hidden`` and a sigmoid to flattened designs in ``[0, 1]``;
    ``forward(z)`` scales them to ``data_range`` and reshapes them to ``(b, *data_shape)``, so the GAN
    can be the ``decoder`` of an :class:`~invdesign.Objective`. ``discriminator`` (a
    :class:`Discriminator`, used by :func:`fit_gan`) mirrors the widths, data side first.

    Args:
        data_shape: Shape of one design, e.g. ``(64,)`` or ``(1, 8, 8)``.
        latent_dim: Number of latents ``d_z``.
        hidden: The generator's hidden widths, latent side first (at least one); the discriminator
            uses them in reverse.
        data_range: ``(low, high)``, the range of the design values (``(0, 16)`` for sklearn's digits).
        minibatch_std: Give the discriminator the minibatch standard deviation feature.
        dropout: Dropout probability in the discriminator's hidden layers (training only).
        seed: Seeds the initial weights; ``None`` draws them from torch's global RNG.

    Raises:
        ValueError: for a bad shape, latent size, width, range or dropout.
        TypeError: if ``data_shape`` or ``hidden`` is not a sequence.

    Example:
        >>> gan = GAN((1, 8, 8), latent_dim=16, data_range=(0.0, 16.0), seed=0)
        >>> gan.sample(5, seed=0).shape
        torch.Size([5, 1, 8, 8])
    """

    def __init__(
        self,
        data_shape: Sequence[int],
        latent_dim: int = 16,
        *,
        hidden: Sequence[int] = (256, 256),
        data_range: tuple[float, float] = (0.0, 1.0),
        minibatch_std: bool = True,
        dropout: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.data_shape = checks.check_data_shape(data_shape)
        self.latent_dim = checks.check_count(latent_dim, "latent_dim")
        self.hidden = checks.check_hidden(hidden)
        if len(self.hidden) == 0:
            raise ValueError("hidden needs at least one width")
        self.data_range = checks.check_data_range(data_range)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.minibatch_std = bool(minibatch_std)
        self.dropout = float(dropout)
        self.data_size = math.prod(self.data_shape)
        with seeded_init(seed):
            layers: list[nn.Module] = []
            for w_in, w_out in zip((self.latent_dim, *self.hidden[:-1]), self.hidden):
                layers += [nn.Linear(w_in, w_out), nn.LeakyReLU(_LEAK)]
            layers += [nn.Linear(self.hidden[-1], self.data_size), nn.Sigmoid()]
            self.generator = nn.Sequential(*layers)
            self.discriminator = Discriminator(
                self.data_size, self.hidden[::-1], minibatch_std=self.minibatch_std, dropout=self.dropout
            )

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments as a plain (JSON-ready) dict: ``GAN(**gan.config)`` rebuilds it."""
        return {
            "data_shape": list(self.data_shape),
            "latent_dim": self.latent_dim,
            "hidden": list(self.hidden),
            "data_range": list(self.data_range),
            "minibatch_std": self.minibatch_std,
            "dropout": self.dropout,
        }

    def forward(self, z: Tensor) -> Tensor:
        """Generate designs.

        Args:
            z: Latents, shape ``(b, latent_dim)``.

        Returns:
            Designs of shape ``(b, *data_shape)``, inside ``data_range``.

        Raises:
            ValueError: if ``z`` has the wrong shape.
        """
        checks.check_latent(z, self.latent_dim)
        return checks.denormalized(self.generator(z), self.data_range).reshape(z.shape[0], *self.data_shape)

    def sample(self, n: int, *, seed: int | None = None) -> Tensor:
        """Generate ``n`` designs from latents drawn from the standard normal prior (no gradients).

        Args:
            n: Number of samples.
            seed: Seeds the latent draw (its ``noise`` stream, see :class:`~invdesign.models.train.Seeds`);
                ``None`` uses torch's global RNG.

        Returns:
            Designs of shape ``(n, *data_shape)``, in the model's dtype and device.
        """
        n = checks.check_count(n, "n")
        z = standard_normal(n, self.latent_dim, first_parameter(self), noise_generator(seed))
        with torch.no_grad():
            return self(z)

    def discriminate(self, x: Tensor) -> Tensor:
        """The discriminator's scores for a batch of designs (with minibatch std, they depend on the whole batch).

        Args:
            x: Designs in data units, shape ``(b, *data_shape)`` or ``(b, prod(data_shape))``.

        Returns:
            Scores (logits for the non-saturating loss, critic values for WGAN-GP), shape ``(b,)``.
        """
        unit = checks.normalized(checks.flatten_batch(x, self.data_shape), self.data_range)
        return self.discriminator(unit)

    def extra_repr(self) -> str:
        return (
            f"data_shape={self.data_shape}, latent_dim={self.latent_dim}, "
            f"minibatch_std={self.minibatch_std}, dropout={self.dropout}"
        )


@dataclass(repr=False)
class GANReport:
    """What one :func:`fit_gan` run did.

    Attributes:
        d_loss: Per epoch, the discriminator's mean loss over its steps, weighted by batch size (for
            WGAN-GP: the critic loss ``D(fake) - D(real)`` plus the gradient penalty).
        g_loss: Per epoch, the generator's mean loss over its steps, likewise (NaN for an epoch without one,
            possible when ``n_critic`` exceeds the number of batches per epoch).
        epochs_run: Epochs trained.
        seconds: Wall-clock training time.
    """

    d_loss: list[float]
    g_loss: list[float]
    epochs_run: int
    seconds: float

    def __repr__(self) -> str:
        return (
            f"GANReport(d_loss={self.d_loss[-1]:.4g}, g_loss={self.g_loss[-1]:.4g}, "
            f"epochs_run={self.epochs_run}, seconds={self.seconds:.1f})"
        )


class _ReplayBuffer:
    """A fixed-size store of earlier fakes ``(capacity, D)``: filled in order, then random slots overwritten."""

    def __init__(self, capacity: int, like: Tensor) -> None:
        self.items = like.new_empty(capacity, like.shape[1])
        self.size = 0

    def draw(self, n: int, gen: torch.Generator) -> Tensor:
        """Up to ``n`` stored fakes drawn uniformly with replacement (none while the buffer is empty)."""
        if self.size == 0:
            return self.items[:0]
        return self.items[torch.randint(0, self.size, (min(n, self.size),), generator=gen).to(self.items.device)]

    def add(self, fakes: Tensor, gen: torch.Generator) -> None:
        """Store ``fakes (k, D)``: appended while there is room, the rest over distinct random slots."""
        capacity = self.items.shape[0]
        fakes = fakes[:capacity]
        room = min(capacity - self.size, fakes.shape[0])
        self.items[self.size:self.size + room] = fakes[:room]
        self.size += room
        rest = fakes[room:]
        if rest.shape[0]:
            slots = torch.randperm(capacity, generator=gen)[: rest.shape[0]].to(self.items.device)
            self.items[slots] = rest


def fit_gan(
    gan: GAN,
    X: Tensor,
    *,
    epochs: int = 200,
    batch_size: int = 64,
    lr: float = 2e-4,
    loss: Loss = "nonsaturating",
    replay_buffer: int = 0,
    replay_fraction: float = 0.5,
    label_smoothing: float = 0.0,
    n_critic: int | None = None,
    gp_weight: float = 10.0,
    seed: int | None = None,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> GANReport:
    """Train a :class:`GAN` with Adam, alternating discriminator and generator steps.

    Every epoch splits the real designs into equal-sized batches of at most ``batch_size``; each
    real batch drives one discriminator step against as many fresh fakes, and every ``n_critic``-th
    discriminator step is followed by one generator step. Losses:

    - ``"nonsaturating"`` (Goodfellow et al. 2014): the discriminator minimises the binary
      cross-entropy with targets ``1 - label_smoothing`` for real designs (one-sided label
      smoothing, Salimans et al. 2016) and 0 for fakes; the generator minimises ``-log D(G(z))``.
      Adam betas ``(0.5, 0.999)``.
    - ``"wgan-gp"`` (Gulrajani et al. 2017): the critic minimises ``D(fake) - D(real)`` plus
      ``gp_weight * (|grad D(x_hat)| - 1)^2`` on random interpolates ``x_hat`` of real and fake
      designs; the generator minimises ``-D(G(z))``. Adam betas ``(0.0, 0.9)``.

    With ``replay_buffer > 0``, ``max(1, round(replay_fraction * b))`` of each discriminator step's ``b``
    fakes are replaced by fakes drawn from a buffer of earlier generator output (Shrivastava et al.
    2017), so the discriminator keeps penalising modes the generator has left and may return to;
    afterwards that many of the step's fresh fakes are written into the buffer (appended until it
    is full, then overwriting random slots). The GAN is left in eval mode, in ``X``'s dtype, on
    ``device``; the final weights are kept.

    Training runs through :func:`invdesign.models.train.train`, which drives the epochs, the
    batches and the generator's Adam; each batch's step takes the discriminator's Adam step itself.

    ``benchmarks/digits_gan_coverage.py`` measures what the two defences do to class coverage.

    Args:
        gan: The model to train (in place).
        X: Real designs in data units, shape ``(n, *data_shape)`` or ``(n, prod(data_shape))``;
            floating point, finite, inside ``gan.data_range``.
        epochs: Passes over the real designs.
        batch_size: Real (and fake) designs per discriminator step.
        lr: Adam learning rate for both networks.
        loss: ``"nonsaturating"`` or ``"wgan-gp"``.
        replay_buffer: Capacity of the replay buffer in designs; 0 disables it.
        replay_fraction: Share of each fake batch drawn from the buffer, in ``(0, 1]``.
        label_smoothing: One-sided smoothing of the real target, in ``[0, 0.5)``; non-saturating loss only.
        n_critic: Discriminator steps per generator step; ``None`` means 1 for ``"nonsaturating"`` and
            5 for ``"wgan-gp"``.
        gp_weight: Weight of the gradient penalty; used by ``"wgan-gp"`` only.
        seed: Seeds the batch order, latents, buffer draws, interpolation weights and dropout (its
            streams, see :class:`~invdesign.models.train.Seeds`); the same seed, data and initial
            weights give identical trained weights. ``None`` draws one from torch's global RNG.
        progress: Show a tqdm bar with the two losses.
        device: Where to train; ``None`` keeps the model's current device.

    Returns:
        A :class:`GANReport`.

    Raises:
        TypeError: if ``gan`` is not a ``GAN`` or ``X`` is not floating point.
        ValueError: for wrongly shaped, non-finite or out-of-range data, or a bad option value
            (including ``label_smoothing`` with ``"wgan-gp"``).
    """
    if not isinstance(gan, GAN):
        raise TypeError(f"fit_gan trains a GAN, got {type(gan).__name__}")
    unit = checks.as_training_data(X, gan.data_shape, gan.data_range)
    if loss not in _ADAM_BETAS:
        raise ValueError(f"unknown loss {loss!r}; choose 'nonsaturating' or 'wgan-gp'")
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, betas=_ADAM_BETAS[loss], progress=progress, desc="fit_gan")
    replay_buffer = checks.check_count(replay_buffer, "replay_buffer", minimum=0)
    if not 0.0 < replay_fraction <= 1.0:
        raise ValueError(f"replay_fraction must lie in (0, 1], got {replay_fraction}")
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must lie in [0, 0.5), got {label_smoothing}")
    if loss == "wgan-gp" and label_smoothing != 0:
        raise ValueError("label_smoothing applies to the non-saturating loss only; WGAN-GP has no labels")
    n_critic = _DEFAULT_N_CRITIC[loss] if n_critic is None else checks.check_count(n_critic, "n_critic")
    if not (math.isfinite(gp_weight) and gp_weight >= 0):
        raise ValueError(f"gp_weight must be a finite non-negative number, got {gp_weight}")

    seeds = Seeds.of(seed)
    noise = seeds.generator("noise")
    device = first_parameter(gan).device if device is None else torch.device(device)
    gan.to(device=device, dtype=unit.dtype)
    unit = unit.to(device)
    opt_d = adam(gan.discriminator.parameters(), lr=lr, betas=_ADAM_BETAS[loss])
    buffer = _ReplayBuffer(replay_buffer, unit) if replay_buffer > 0 else None
    real_target = 1.0 - label_smoothing
    d_steps = itertools.count(1)

    def latents(n: int) -> Tensor:
        return standard_normal(n, gan.latent_dim, unit, noise)

    def discriminator_loss(real: Tensor) -> Tensor:
        with torch.no_grad():
            fake = gan.generator(latents(real.shape[0]))
        if buffer is not None:
            n_replay = max(1, round(replay_fraction * fake.shape[0]))
            replayed = buffer.draw(n_replay, noise)
            fresh = fake
            fake = torch.cat([fake[: fake.shape[0] - replayed.shape[0]], replayed])
            buffer.add(fresh[:n_replay], noise)
        d_real, d_fake = gan.discriminator(real), gan.discriminator(fake)
        if loss == "nonsaturating":
            return (F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, real_target))
                    + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        return d_fake.mean() - d_real.mean() + gp_weight * _gradient_penalty(gan.discriminator, real, fake, noise)

    def step(batch: Tensor) -> tuple[Tensor | None, dict[str, Tensor | None]]:
        """One discriminator step on the real rows ``batch``; every ``n_critic``-th also returns the generator's loss."""
        d_loss = discriminator_loss(unit[batch])
        descend(opt_d, d_loss)
        if next(d_steps) % n_critic:
            return None, {"d": d_loss, "g": None}
        score = gan.discriminator(gan.generator(latents(batch.numel())))
        g_loss = F.softplus(-score).mean() if loss == "nonsaturating" else -score.mean()
        return g_loss, {"d": d_loss, "g": g_loss}

    log = train(gan, step, config, seeds=seeds, n_rows=unit.shape[0], params=gan.generator.parameters())
    return GANReport(d_loss=log.train["d"], g_loss=log.train["g"], epochs_run=log.periods_run, seconds=log.seconds)


def _gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, gen: torch.Generator) -> Tensor:
    """Gulrajani et al.'s ``mean((|grad critic(x_hat)| - 1)^2)`` on interpolates of ``real`` and ``fake`` ``(b, D)``."""
    alpha = torch.rand(real.shape[0], 1, generator=gen, dtype=real.dtype).to(real.device)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.norm(dim=1) - 1).square().mean()
