"""A task's recommended models: the surrogate (an MLP recipe for :func:`invdesign.models.fit_mlp`) and,
for latent-space search, the decoder (a VAE recipe for :func:`invdesign.models.fit_vae`); and the choice
between surrogate recipes by how well they extrapolate to the best designs (:func:`select_surrogate`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import torch
from torch import Tensor

from invdesign.models.ensemble import Ensemble
from invdesign.models.fit import FitReport, fit_ensemble, fit_mlp
from invdesign.models.mlp import ACTIVATIONS, MLP
from invdesign.models.vae import VAE, fit_vae
from invdesign.space import Box


@dataclass(frozen=True, kw_only=True)
class SurrogateSpec:
    """How to train a surrogate for a task: an :class:`~invdesign.models.MLP` and its training schedule.

    Training is :func:`invdesign.models.fit_mlp` (or :func:`~invdesign.models.fit_ensemble`):
    Adam with a cosine learning-rate schedule, inputs and outputs standardised from the training
    rows, a seeded 10% validation split and the weights of the best validation epoch kept.

    Attributes:
        hidden: Widths of the hidden layers, input side first.
        activation: Name of the nonlinearity, a key of ``invdesign.models.mlp.ACTIVATIONS``.
        epochs: Passes over the training rows.
        batch_size: Rows per Adam step.
        lr: Peak learning rate.
        n_members: Members of the ensemble built by ``fit(..., ensemble=True)``.

    Raises:
        ValueError: for an unknown activation or a non-positive width, count or learning rate.

    Example:
        >>> spec = SurrogateSpec(hidden=(64, 64), activation="silu", epochs=100, batch_size=128, lr=3e-3)
        >>> model, report = spec.fit(X, Y, seed=0)  # doctest: +SKIP
    """

    hidden: tuple[int, ...]
    activation: str
    epochs: int
    batch_size: int
    lr: float
    n_members: int = 5

    def __post_init__(self) -> None:
        if not isinstance(self.hidden, Sequence) or not all(
            isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in self.hidden
        ):
            raise ValueError(f"SurrogateSpec hidden must be a sequence of positive ints, got {self.hidden!r}")
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"SurrogateSpec activation {self.activation!r} is unknown; choose one of {sorted(ACTIVATIONS)}"
            )
        for name in ("epochs", "batch_size", "n_members"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SurrogateSpec {name} must be a positive int, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"SurrogateSpec lr must be positive, got {self.lr!r}")

    def relu(self, hidden: Sequence[int] | None = None) -> SurrogateSpec:
        """This recipe with ReLU activations (and ``hidden`` widths, if given): a surrogate that
        ``method="milp"`` encodes exactly."""
        return dataclasses.replace(self, activation="relu", hidden=self.hidden if hidden is None else tuple(hidden))

    @overload
    def fit(
        self,
        X: Tensor,
        Y: Tensor,
        *,
        seed: int,
        ensemble: Literal[False] = False,
        epochs: int | None = None,
        device: torch.device | str | None = None,
        progress: bool = False,
    ) -> tuple[MLP, FitReport]: ...
    @overload
    def fit(
        self,
        X: Tensor,
        Y: Tensor,
        *,
        seed: int,
        ensemble: Literal[True],
        epochs: int | None = None,
        device: torch.device | str | None = None,
        progress: bool = False,
    ) -> tuple[Ensemble, list[FitReport]]: ...

    def fit(
        self,
        X: Tensor,
        Y: Tensor,
        *,
        seed: int,
        ensemble: bool = False,
        epochs: int | None = None,
        device: torch.device | str | None = None,
        progress: bool = False,
    ) -> tuple[MLP, FitReport] | tuple[Ensemble, list[FitReport]]:
        """Build the surrogate and train it on ``(X, Y)``, e.g. a task's ``make_offline_data``.

        Args:
            X: Designs, shape ``(n, d)``, floating point, finite; the model takes X's dtype.
            Y: Oracle values, shape ``(n, k)`` or ``(n,)``, finite.
            seed: Seeds the initial weights, the validation split and the batch order: the same
                seed and data give the same model.
            ensemble: Train an :class:`~invdesign.models.Ensemble` of :attr:`n_members` MLPs
                (one after the other, so ``n_members`` times the time of one) instead of one MLP.
            epochs: Override :attr:`epochs`, e.g. for a quick test.
            device: Where to train (default: the CPU).
            progress: Show a progress bar.

        Returns:
            ``(model, report)`` with an :class:`~invdesign.models.MLP` and its
            :class:`~invdesign.models.FitReport`, or with ``ensemble=True``
            ``(ensemble, reports)`` with one report per member. The model is in eval mode.
        """
        options: dict[str, Any] = dict(
            hidden=self.hidden,
            activation=self.activation,
            epochs=self.epochs if epochs is None else epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=seed,
            device=device,
            progress=progress,
        )
        if ensemble:
            return fit_ensemble(X, Y, n_members=self.n_members, **options)
        return fit_mlp(X, Y, **options)


SELECTION_HOLDOUT = 0.2
"""Default share of the designs, the best ones, that :func:`select_surrogate` holds out."""

_MIN_KEPT = 10
"""Fewest rows :func:`select_surrogate` trains a candidate on (its fit still splits off 10% to validate)."""


@dataclass(frozen=True)
class SurrogateSelection:
    """What :func:`select_surrogate` compared.

    Attributes:
        candidates: The recipes compared, in the order given.
        holdout_mse: Each candidate's mean squared error on the held-out best designs divided by
            the sample variance of the rows it was trained on, shape ``(len(candidates),)``;
            ``inf`` for a candidate whose predictions were not finite.
        chosen: The candidate with the lowest ``holdout_mse`` (the first among ties).
    """

    candidates: tuple[SurrogateSpec, ...]
    holdout_mse: tuple[float, ...]
    chosen: SurrogateSpec


def architecture_grid(
    spec: SurrogateSpec, *, widths: Sequence[int] = (64, 256), depths: Sequence[int] = (2, 3)
) -> tuple[SurrogateSpec, ...]:
    """``spec`` first, then its activation and schedule with every ``depth`` hidden layers of every ``width``.

    Args:
        spec: The recipe whose activation, epochs, batch size, learning rate and ensemble size
            every candidate keeps.
        widths: Widths of the hidden layers, positive.
        depths: Numbers of hidden layers, positive.

    Returns:
        The distinct recipes, ``spec`` first.

    Raises:
        ValueError: for a width or depth below 1.

    Example:
        >>> [s.hidden for s in architecture_grid(SurrogateSpec(hidden=(64, 64, 64), activation="silu",
        ...     epochs=200, batch_size=128, lr=3e-3))]
        [(64, 64, 64), (64, 64), (256, 256), (256, 256, 256)]
    """
    for name, values in (("widths", widths), ("depths", depths)):
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
            raise ValueError(f"architecture_grid {name} must be positive ints, got {values!r}")
    grid = [spec]
    for depth in depths:
        for width in widths:
            candidate = dataclasses.replace(spec, hidden=(width,) * depth)
            if candidate not in grid:
                grid.append(candidate)
    return tuple(grid)


def select_surrogate(
    candidates: Sequence[SurrogateSpec],
    X: Tensor,
    Y: Tensor,
    *,
    seed: int,
    holdout: float = SELECTION_HOLDOUT,
    epochs: int | None = None,
    device: torch.device | str | None = None,
) -> SurrogateSelection:
    """Choose the surrogate recipe that best predicts the best designs from the others (minimization data).

    An offline optimizer needs its surrogate where the data is thin: beyond the best designs.
    Recipes that fit a random validation split equally well can extrapolate very differently
    there, so this holds out the ``holdout`` fraction of rows with the lowest ``Y`` (rounded
    down), trains every candidate on the rest (seeded with ``seed``, keeping the weights of its
    best epoch on its own random validation split, as :meth:`SurrogateSpec.fit` does), and keeps
    the one with the lowest mean squared error on the held-out rows. Refit the chosen recipe on
    all rows to use it.

    Args:
        candidates: Recipes to compare, e.g. :func:`architecture_grid` of a task's surrogate.
        X: Designs, shape ``(n, d)``, floating point, finite.
        Y: Their energies (lower is better), shape ``(n,)`` or ``(n, 1)``, finite.
        seed: Seeds every candidate's training.
        holdout: Fraction of rows held out, the best ones; ``0 < holdout < 1``, holding out at
            least two rows and training on at least ten.
        epochs: Override every candidate's training epochs.
        device: Where to train.

    Returns:
        A :class:`SurrogateSelection`.

    Raises:
        TypeError: for a candidate that is not a :class:`SurrogateSpec`, or data that is not a
            floating-point tensor.
        ValueError: for no candidates, several outputs, non-finite data, mismatched rows, a
            holdout that leaves too few rows on a side, training energies that are all equal, or
            candidates that all predict non-finite values.

    Example:
        >>> task = tasks.get("ackley20")  # doctest: +SKIP
        >>> X, Y = task.make_offline_data(seed=0)  # doctest: +SKIP
        >>> choice = select_surrogate(architecture_grid(task.surrogate), X, Y, seed=0)  # doctest: +SKIP
        >>> model, _ = choice.chosen.fit(X, Y, seed=0)  # doctest: +SKIP
    """
    candidates = tuple(candidates)
    if not candidates:
        raise ValueError("select_surrogate needs at least one candidate recipe")
    for spec in candidates:
        if not isinstance(spec, SurrogateSpec):
            raise TypeError(f"select_surrogate candidates must be SurrogateSpec, got {type(spec).__name__}")
    for T, name in ((X, "X"), (Y, "Y")):
        if not isinstance(T, Tensor) or not T.dtype.is_floating_point:
            raise TypeError(f"select_surrogate needs {name} as a floating-point tensor, got {type(T).__name__}")
    y = Y.reshape(-1) if Y.ndim == 2 and Y.shape[1] == 1 else Y
    if X.ndim != 2 or y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            "select_surrogate ranks designs by one energy: it needs X of shape (n, d) and Y of shape (n,) or (n, 1), "
            f"got {tuple(X.shape)} and {tuple(Y.shape)}"
        )
    if not (torch.isfinite(X).all() and torch.isfinite(y).all()):
        raise ValueError("select_surrogate needs finite X and Y (drop the NaN or infinite rows first)")
    n = X.shape[0]
    n_held = int(holdout * n) if 0 < holdout < 1 else 0
    if n_held < 2 or n - n_held < _MIN_KEPT:
        raise ValueError(
            f"holdout={holdout!r} of {n} rows holds out {n_held} and trains on {n - n_held}: it must lie in (0, 1), "
            f"hold out at least 2 rows and train on at least {_MIN_KEPT}"
        )
    order = torch.argsort(y, stable=True)
    held, kept = order[:n_held], order[n_held:]
    scale = float(y[kept].var())
    if not scale > 0:
        raise ValueError("select_surrogate: the training energies are all equal, so no recipe can be told apart")
    errors = []
    for spec in candidates:
        model, _ = spec.fit(X[kept], y[kept].unsqueeze(1), seed=seed, epochs=epochs, device=device)
        with torch.no_grad():
            predicted = model(X[held].to(device=next(model.parameters()).device)).detach().reshape(-1).to(y)
        error = float((predicted - y[held]).pow(2).mean() / scale)
        errors.append(error if math.isfinite(error) else math.inf)
    if all(e == math.inf for e in errors):
        raise ValueError("select_surrogate: every candidate predicted NaN or infinite values on the held-out designs")
    best = min(range(len(candidates)), key=errors.__getitem__)
    return SurrogateSelection(candidates, tuple(errors), candidates[best])


RELU_HIDDEN = (32, 32)
"""Hidden widths of a task's ReLU recipe (`invdesign.tasks.Task.relu_surrogate`)."""

DEFAULT_SURROGATE = SurrogateSpec(hidden=(128, 128, 128), activation="silu", epochs=200, batch_size=128, lr=3e-3)
"""The surrogate of a :class:`~invdesign.tasks.Task` built without one: three hidden layers of 128."""


@dataclass(frozen=True, kw_only=True)
class DecoderSpec:
    """How to train a decoder for latent-space search on a task: a VAE over the offline designs.

    Attributes:
        latent_dim: Latent dimension ``d_z``.
        epochs: Training epochs (:func:`invdesign.models.fit_vae`, best validation epoch kept).
        bound: The latent box is ``[-bound, bound]^d_z`` (the VAE's prior is a standard normal).
        beta: Weight of the VAE's KL term.

    Raises:
        ValueError: for a non-positive size, epoch count or bound, or a negative ``beta``.
    """

    latent_dim: int = 8
    epochs: int = 100
    bound: float = 3.0
    beta: float = 1.0

    def __post_init__(self) -> None:
        for name in ("latent_dim", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"DecoderSpec {name} must be a positive int, got {value!r}")
        if not self.bound > 0:
            raise ValueError(f"DecoderSpec bound must be positive, got {self.bound!r}")
        if not self.beta >= 0:
            raise ValueError(f"DecoderSpec beta must be non-negative, got {self.beta!r}")

    def latent_box(self, *, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> Box:
        """The latent search box ``[-bound, bound]^latent_dim``."""
        return Box(-self.bound, self.bound, dim=self.latent_dim, dtype=dtype, device=device)

    def fit(
        self,
        X: Tensor,
        space: Box,
        *,
        seed: int,
        epochs: int | None = None,
        device: torch.device | str | None = None,
        progress: bool = False,
    ) -> VAE:
        """Train the VAE on designs ``X`` ``(n, d)`` of a box with the same bounds in every dimension.

        Decoded designs lie in the box, since the VAE's outputs lie in its data range.

        Raises:
            ValueError: if the box's bounds differ between dimensions (one data range per VAE).
        """
        low, high = float(space.lower.min()), float(space.upper.max())
        if float(space.lower.max()) != low or float(space.upper.min()) != high:
            raise ValueError(
                f"DecoderSpec.fit needs a box with the same bounds in every dimension (one VAE data range), got {space!r}"
            )
        vae = VAE((X.shape[1],), self.latent_dim, beta=self.beta, data_range=(low, high), seed=seed)
        fit_vae(vae, X, epochs=self.epochs if epochs is None else epochs, seed=seed, progress=progress, device=device)
        return vae
