"""A variational autoencoder (Kingma & Welling 2014) whose decoder maps a latent box onto realistic designs."""

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
    EVAL_CHUNK,
    Seeds,
    TrainConfig,
    first_parameter,
    noise_generator,
    seeded_init,
    split_rows,
    standard_normal,
    train,
)

Arch = Literal["mlp", "conv"]

_DEFAULT_HIDDEN: dict[str, tuple[int, ...]] = {"mlp": (256, 128), "conv": (32, 64)}


class VAE(nn.Module):
    """A VAE over designs of shape ``data_shape`` with values in ``data_range``.

    Designs are scaled to ``[0, 1]`` inside the model. The encoder maps a design to the mean and
    log-variance of a diagonal Gaussian ``q(z | x)`` over ``latent_dim`` latents; the decoder maps a
    latent to per-value Bernoulli means (a sigmoid), which :meth:`decode` scales back to data units,
    so decoded designs always lie inside ``data_range``. The prior is a standard normal, so a latent
    box such as ``[-3, 3]^latent_dim`` covers almost all of it. ``forward(z)`` is ``decode(z)``, so
    the VAE itself can be the ``decoder`` of an :class:`~invdesign.Objective`.

    The training loss (:func:`fit_vae`) is the beta-weighted negative ELBO per design:
    ``BCE(decoded means, x) + beta * KL(q(z | x) || N(0, I))``, summed over values and latents. The
    binary cross-entropy (a Bernoulli likelihood on the ``[0, 1]``-scaled values, continuous targets
    allowed) needs no noise scale, where a Gaussian likelihood's variance would be one more setting
    that trades reconstruction against the KL term.

    Args:
        data_shape: Shape of one design, e.g. ``(64,)`` or ``(1, 8, 8)`` for an 8x8 image.
        latent_dim: Number of latents ``d_z``.
        arch: ``"mlp"``: fully connected encoder and decoder, for any ``data_shape``. ``"conv"``: for
            images ``(channels, height, width)``: stride-2 4x4 convolutions, each halving height and
            width, then a linear layer to the latent statistics; the decoder mirrors it with
            transposed convolutions. Sized for small images such as 8x8 digits.
        hidden: ``"mlp"``: the encoder's hidden widths, input side first (default ``(256, 128)``);
            ``"conv"``: the channels of the encoder's convolutions (default ``(32, 64)``); height and
            width must be divisible by ``2 ** len(hidden)``. The decoder uses them in reverse.
        beta: Weight of the KL term (``beta = 1`` is the ELBO; Higgins et al. 2017 for ``beta != 1``).
        data_range: ``(low, high)``, the range of the design values (``(0, 16)`` for sklearn's digits).
        seed: Seeds the initial weights; ``None`` draws them from torch's global RNG.

    Raises:
        ValueError: for a bad shape, latent size, width, ``beta``, range or an unknown ``arch``.
        TypeError: if ``data_shape`` or ``hidden`` is not a sequence.

    Example:
        >>> vae = VAE((1, 8, 8), latent_dim=4, arch="conv", data_range=(0.0, 16.0), seed=0)
        >>> vae.decode(torch.zeros(2, 4)).shape
        torch.Size([2, 1, 8, 8])
    """

    def __init__(
        self,
        data_shape: Sequence[int],
        latent_dim: int = 8,
        *,
        arch: Arch = "mlp",
        hidden: Sequence[int] | None = None,
        beta: float = 1.0,
        data_range: tuple[float, float] = (0.0, 1.0),
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if arch not in _DEFAULT_HIDDEN:
            raise ValueError(f"unknown arch {arch!r}; choose 'mlp' or 'conv'")
        self.data_shape = checks.check_data_shape(data_shape)
        self.latent_dim = checks.check_count(latent_dim, "latent_dim")
        self.arch = arch
        self.hidden = checks.check_hidden(_DEFAULT_HIDDEN[arch] if hidden is None else hidden)
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a finite non-negative number, got {beta}")
        self.beta = float(beta)
        self.data_range = checks.check_data_range(data_range)
        self.data_size = math.prod(self.data_shape)
        with seeded_init(seed):
            if arch == "mlp":
                self.encoder, self.decoder = self._mlp_nets()
            else:
                self.encoder, self.decoder = self._conv_nets()

    def _mlp_nets(self) -> tuple[nn.Sequential, nn.Sequential]:
        enc_widths = [self.data_size, *self.hidden]
        dec_widths = [self.latent_dim, *reversed(self.hidden)]
        encoder: list[nn.Module] = []
        for w_in, w_out in itertools.pairwise(enc_widths):
            encoder += [nn.Linear(w_in, w_out), nn.SiLU()]
        encoder.append(nn.Linear(enc_widths[-1], 2 * self.latent_dim))
        decoder: list[nn.Module] = []
        for w_in, w_out in itertools.pairwise(dec_widths):
            decoder += [nn.Linear(w_in, w_out), nn.SiLU()]
        decoder.append(nn.Linear(dec_widths[-1], self.data_size))
        return nn.Sequential(*encoder), nn.Sequential(*decoder)

    def _conv_nets(self) -> tuple[nn.Sequential, nn.Sequential]:
        if len(self.data_shape) != 3:
            raise ValueError(f"arch='conv' needs data_shape (channels, height, width), got {self.data_shape}")
        channels, height, width = self.data_shape
        factor = 2 ** len(self.hidden)
        if len(self.hidden) == 0 or height % factor or width % factor:
            raise ValueError(
                f"arch='conv' with hidden={self.hidden} halves the image {len(self.hidden)} times, so height "
                f"and width must be divisible by {factor}; got {height}x{width}"
            )
        bottleneck = (self.hidden[-1], height // factor, width // factor)
        encoder: list[nn.Module] = [nn.Unflatten(1, self.data_shape)]
        for c_in, c_out in zip((channels, *self.hidden[:-1]), self.hidden):
            encoder += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
        encoder += [nn.Flatten(), nn.Linear(math.prod(bottleneck), 2 * self.latent_dim)]
        decoder: list[nn.Module] = [nn.Linear(self.latent_dim, math.prod(bottleneck)), nn.SiLU(),
                                    nn.Unflatten(1, bottleneck)]
        reversed_channels = (*reversed(self.hidden), channels)
        for i, (c_in, c_out) in enumerate(itertools.pairwise(reversed_channels)):
            decoder.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
            if i < len(self.hidden) - 1:
                decoder.append(nn.SiLU())
        decoder.append(nn.Flatten())
        return nn.Sequential(*encoder), nn.Sequential(*decoder)

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments as a plain (JSON-ready) dict: ``VAE(**vae.config)`` rebuilds it."""
        return {
            "data_shape": list(self.data_shape),
            "latent_dim": self.latent_dim,
            "arch": self.arch,
            "hidden": list(self.hidden),
            "beta": self.beta,
            "data_range": list(self.data_range),
        }

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The Gaussian ``q(z | x)``.

        Args:
            x: Designs in data units, shape ``(b, *data_shape)`` or ``(b, prod(data_shape))``.

        Returns:
            ``(mu, logvar)``, each of shape ``(b, latent_dim)``.

        Raises:
            ValueError: if ``x`` has the wrong shape.
        """
        return self._encode_unit(checks.normalized(checks.flatten_batch(x, self.data_shape), self.data_range))

    def decode(self, z: Tensor) -> Tensor:
        """Designs for latents: the decoder's Bernoulli means, scaled to data units.

        Args:
            z: Latents, shape ``(b, latent_dim)``.

        Returns:
            Designs of shape ``(b, *data_shape)``, inside ``data_range``.

        Raises:
            ValueError: if ``z`` has the wrong shape.
        """
        checks.check_latent(z, self.latent_dim)
        unit = torch.sigmoid(self.decoder(z))
        return checks.denormalized(unit, self.data_range).reshape(z.shape[0], *self.data_shape)

    def forward(self, z: Tensor) -> Tensor:
        """``decode(z)``: latents ``(b, latent_dim)`` -> designs ``(b, *data_shape)``."""
        return self.decode(z)

    def sample(self, n: int, *, seed: int | None = None) -> Tensor:
        """Decode ``n`` latents drawn from the standard normal prior (no gradients).

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
            return self.decode(z)

    def reconstruction_error(self, x: Tensor) -> Tensor:
        """Mean squared error of ``decode(mu(x))`` against ``x``, on the ``[0, 1]``-scaled values.

        A realism measure: designs like the training data reconstruct well, off-manifold designs
        do not. Differentiable in ``x`` (wrap in ``torch.no_grad()`` when only scoring).

        Args:
            x: Designs in data units, shape ``(b, *data_shape)`` or ``(b, prod(data_shape))``.

        Returns:
            Errors, shape ``(b,)``.
        """
        return self._unit_errors(checks.normalized(checks.flatten_batch(x, self.data_shape), self.data_range))

    def _encode_unit(self, unit: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)`` for flattened ``[0, 1]``-scaled designs ``(b, prod(data_shape))``."""
        mu, logvar = self.encoder(unit).chunk(2, dim=1)
        return mu, logvar

    def _unit_errors(self, unit: Tensor) -> Tensor:
        """Reconstruction MSE ``(b,)`` of flattened ``[0, 1]``-scaled designs ``unit (b, D)``, through ``z = mu``."""
        mu, _ = self._encode_unit(unit)
        return (torch.sigmoid(self.decoder(mu)) - unit).square().mean(dim=1)

    def _losses(self, unit: Tensor, eps: Tensor | None) -> tuple[Tensor, Tensor]:
        """Per-design reconstruction BCE and KL, each ``(b,)``, for scaled designs ``unit (b, D)``.

        With ``eps`` (standard normal, ``(b, latent_dim)``) the latent is the reparameterised sample
        ``mu + exp(logvar / 2) * eps``; with ``None`` it is ``mu``.
        """
        mu, logvar = self._encode_unit(unit)
        z = mu if eps is None else mu + torch.exp(0.5 * logvar) * eps
        logits = self.decoder(z)
        recon = F.binary_cross_entropy_with_logits(logits, unit, reduction="none").sum(dim=1)
        kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(dim=1)
        return recon, kl

    def extra_repr(self) -> str:
        return f"data_shape={self.data_shape}, latent_dim={self.latent_dim}, arch={self.arch!r}, beta={self.beta}"


@dataclass(repr=False)
class VAEReport:
    """What one :func:`fit_vae` run did.

    Reconstruction losses are binary cross-entropies in nats per design (summed over its values,
    on the ``[0, 1]``-scaled data; for non-binary data their floor is the data's own entropy, not 0);
    KL terms are in nats per design.

    Attributes:
        train_recon: Per epoch, the mean reconstruction loss over the training batches (sampled latents).
        train_kl: Per epoch, the mean KL term over the training batches.
        val_recon: Per epoch, the validation reconstruction loss with ``z = mu`` (deterministic).
        val_loss: Per epoch, the validation objective ``val_recon + beta * KL``; selects the kept weights.
        best_epoch: Index (0-based) of the epoch with the lowest ``val_loss``; its weights are kept.
        val_mse: Held-out reconstruction error of the kept weights: the mean over validation
            designs of :meth:`VAE.reconstruction_error` (MSE on ``[0, 1]``-scaled values).
        epochs_run: Epochs trained.
        seconds: Wall-clock training time.
    """

    train_recon: list[float]
    train_kl: list[float]
    val_recon: list[float]
    val_loss: list[float]
    best_epoch: int
    val_mse: float
    epochs_run: int
    seconds: float

    def __repr__(self) -> str:
        return (
            f"VAEReport(best_epoch={self.best_epoch}, val_loss={self.val_loss[self.best_epoch]:.4g}, "
            f"val_mse={self.val_mse:.4g}, epochs_run={self.epochs_run}, seconds={self.seconds:.1f})"
        )


def fit_vae(
    vae: VAE,
    X: Tensor,
    *,
    epochs: int = 100,
    batch_size: int = 64,
    lr: float = 1e-3,
    val_fraction: float = 0.1,
    seed: int | None = None,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> VAEReport:
    """Train a :class:`VAE` with Adam on the beta-weighted negative ELBO (see :class:`VAE`).

    A seeded random ``val_fraction`` of the designs is held out. Training runs through
    :func:`invdesign.models.train.train`: after each epoch the validation objective (reconstruction
    from ``z = mu`` plus ``beta`` times the KL term) is measured and the weights of the best epoch
    are kept. The VAE is left in eval mode, in ``X``'s dtype, on ``device``.

    Args:
        vae: The model to train (in place).
        X: Designs in data units, shape ``(n, *data_shape)`` or ``(n, prod(data_shape))``; floating
            point, finite, inside ``vae.data_range``.
        epochs: Passes over the training designs.
        batch_size: Designs per Adam step (the designs are split into equal-sized batches, none larger).
        lr: Adam learning rate (constant).
        val_fraction: Share of the designs held out for validation, in ``(0, 1)``.
        seed: Seeds the split, the batch order and the latent noise (its streams, see
            :class:`~invdesign.models.train.Seeds`); the same seed, data and initial weights give
            identical trained weights. ``None`` draws one from torch's global RNG.
        progress: Show a tqdm bar with the training and validation losses.
        device: Where to train; ``None`` keeps the model's current device.

    Returns:
        A :class:`VAEReport`.

    Raises:
        TypeError: if ``vae`` is not a ``VAE`` or ``X`` is not floating point.
        ValueError: for wrongly shaped, non-finite or out-of-range data, too few designs to split,
            or a bad option value.
    """
    if not isinstance(vae, VAE):
        raise TypeError(f"fit_vae trains a VAE, got {type(vae).__name__}")
    unit = checks.as_training_data(X, vae.data_shape, vae.data_range)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, progress=progress, desc="fit_vae")
    seeds = Seeds.of(seed)
    train_rows, val_rows = split_rows(unit.shape[0], val_fraction, seeds.generator("split"))
    device = first_parameter(vae).device if device is None else torch.device(device)
    vae.to(device=device, dtype=unit.dtype)
    unit = unit.to(device)
    train_set, val = unit[train_rows.to(device)], unit[val_rows.to(device)]
    noise = seeds.generator("noise")

    def step(batch: Tensor) -> tuple[Tensor, dict[str, Tensor | None]]:
        eps = standard_normal(batch.numel(), vae.latent_dim, train_set, noise)
        recon, kl = vae._losses(train_set[batch], eps)
        return (recon + vae.beta * kl).mean(), {"recon": recon.mean(), "kl": kl.mean()}

    def validate() -> dict[str, float]:
        recon, kl = _eval_losses(vae, val)
        return {"val_recon": recon, "val": recon + vae.beta * kl}

    log = train(vae, step, config, seeds=seeds, n_rows=train_set.shape[0], validate=validate, monitor="val")
    with torch.no_grad():
        val_mse = float(torch.cat([vae._unit_errors(chunk) for chunk in val.split(EVAL_CHUNK)]).mean())
    return VAEReport(
        train_recon=log.train["recon"],
        train_kl=log.train["kl"],
        val_recon=log.val["val_recon"],
        val_loss=log.val["val"],
        best_epoch=log.best,
        val_mse=val_mse,
        epochs_run=log.periods_run,
        seconds=log.seconds,
    )


def _eval_losses(vae: VAE, unit: Tensor) -> tuple[float, float]:
    """Mean reconstruction (``z = mu``) and KL per design over scaled designs ``unit (n, D)``, in eval mode."""
    vae.eval()
    with torch.no_grad():
        parts = [vae._losses(chunk, None) for chunk in unit.split(EVAL_CHUNK)]
    recon = torch.cat([r for r, _ in parts]).mean()
    kl = torch.cat([k for _, k in parts]).mean()
    return float(recon), float(kl)

