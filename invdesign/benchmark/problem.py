"""What every solver on one task and seed shares: the offline data, the surrogates, the references."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from invdesign.benchmark.store import digest
from invdesign.models import MLP, VAE, Ensemble, load, save
from invdesign.space import Box
from invdesign.tasks import SELECTION_HOLDOUT, Task, architecture_grid, select_surrogate


@dataclass
class Problem:
    """One task and seed, prepared once for every solver configuration.

    Attributes:
        task: The task.
        seed: Seeds the data, the surrogates and the targets.
        X: Offline training designs, shape ``(n, d)`` (for minimize tasks the best are hidden,
            `Task.make_offline_data`).
        Y: Their oracle values, shape ``(n, k)``.
        surrogate: The task's recommended surrogate, trained on ``(X, Y)``.
        targets: Test targets of a target task, shape ``(n_targets', k)`` (those of invalid
            designs dropped); ``None`` for minimize tasks.
        reference: ``(y_min, y_max)`` of the oracle's reference sample (minimize tasks).
        d_best: Normalised score of the best training design (minimize tasks); NaN otherwise.
        cache: Folder the trained surrogates are cached in, or ``None``.
        epochs: Training epochs of the surrogates (``None``: the task's recommendation).
        device: Where tensors and models live.
    """

    task: Task
    seed: int
    X: Tensor
    Y: Tensor
    surrogate: nn.Module
    targets: Tensor | None
    reference: tuple[float, float] | None
    d_best: float
    cache: Path | None
    epochs: int | None
    device: torch.device | None
    _ensemble: Ensemble | None = field(default=None, repr=False)
    _selected: MLP | None = field(default=None, repr=False)
    _decoder: VAE | None = field(default=None, repr=False)

    @property
    def ensemble(self) -> Ensemble:
        """The task's recommended deep ensemble on ``(X, Y)``, trained (or read from the cache) on first use."""
        if self._ensemble is None:
            model = _cached_fit(self.task, self.X, self.Y, self.seed, "ensemble", self.epochs, self.cache, self.device)
            assert isinstance(model, Ensemble)
            self._ensemble = model
        return self._ensemble

    @property
    def selected(self) -> MLP:
        """The surrogate chosen by extrapolation, trained (or read from the cache) on first use.

        `invdesign.tasks.select_surrogate` compares the recipes of `selection_recipe` on how well
        each predicts the best ``SELECTION_HOLDOUT`` share of ``(X, Y)`` from the rest; the
        winner is then trained on all of ``(X, Y)`` (when it is the task's own recipe, that is
        :attr:`surrogate`). Minimize tasks only.

        Raises:
            ValueError: for a target task (its designs have no single energy to rank).
        """
        if self.task.kind != "minimize":
            raise ValueError(f"task {self.task.name!r}: surrogate selection ranks designs by energy, so minimize tasks only")
        if self._selected is None:
            model = _cached_fit(self.task, self.X, self.Y, self.seed, "selected", self.epochs, self.cache, self.device)
            assert isinstance(model, MLP)
            self._selected = model
        return self._selected

    @property
    def decoder(self) -> VAE:
        """The task's recommended decoder (a VAE) on the designs ``X``, trained (or read from the cache) on first use.

        Raises:
            ValueError: if the task recommends no decoder.
        """
        if self.task.decoder is None:
            raise ValueError(f"task {self.task.name!r} has no decoder for latent-space search")
        if self._decoder is None:
            model = _cached_fit(self.task, self.X, self.Y, self.seed, "decoder", None, self.cache, self.device)
            assert isinstance(model, VAE)
            self._decoder = model
        return self._decoder


def prepare(
    task: Task,
    seed: int,
    *,
    n_targets: int,
    n_train: int | None = None,
    epochs: int | None = None,
    cache: str | os.PathLike[str] | None = None,
    device: torch.device | str | None = None,
) -> Problem:
    """Build the offline data of ``task`` for ``seed``, train (or load) its surrogate, and draw targets.

    Args:
        task: A built-in or registered task.
        seed: The seed.
        n_targets: Test targets for a target task.
        n_train: Offline designs (``None``: the task's ``n_train``).
        epochs: Surrogate training epochs (``None``: the task's recommendation).
        cache: Folder for trained surrogates (safetensors); ``None`` trains every time.
        device: Where tensors and models live.
    """
    device = None if device is None else torch.device(device)
    X, Y = task.make_offline_data(seed=seed, n=n_train, device=device)
    cache_path = None if cache is None else Path(cache)
    surrogate = _cached_fit(task, X, Y, seed, "surrogate", epochs, cache_path, device)
    targets, reference, d_best = None, None, math.nan
    if task.kind == "target":
        targets = task.sample_targets(n_targets, seed=seed, device=device)
        targets = targets[torch.isfinite(targets).all(dim=1)]  # an invalid design has no output to match
        if targets.shape[0] == 0:
            raise ValueError(f"task {task.name!r}: every sampled target is NaN (invalid designs)")
    else:
        reference = task.reference_range()
        d_best = float(task.normalized_score(Y.min().reshape(1))[0])
    return Problem(task, seed, X, Y, surrogate, targets, reference, d_best, cache_path, epochs, device)


def selection_recipe(task: Task) -> dict[str, Any]:
    """What `Problem.selected` compares for ``task``: the held-out share and every candidate recipe (JSON-ready)."""
    return {"holdout": SELECTION_HOLDOUT, "candidates": [asdict(spec) for spec in architecture_grid(task.surrogate)]}


def _cached_fit(
    task: Task,
    X: Tensor,
    Y: Tensor,
    seed: int,
    kind: Literal["surrogate", "ensemble", "selected", "decoder"],
    epochs: int | None,
    cache: Path | None,
    device: torch.device | None,
) -> nn.Module:
    """The task's recommended surrogate, ensemble or decoder, or the selected surrogate, on ``(X, Y)``.

    Read from ``cache`` when it was trained before. ``epochs`` overrides the surrogates' and the
    ensemble's training epochs (the decoder keeps its own).
    """
    spec = task.decoder if kind == "decoder" else task.surrogate
    assert spec is not None
    path = None
    if cache is not None:
        description = {"task": task.name, "seed": seed, "kind": kind, "epochs": epochs, "spec": asdict(spec)}
        if kind == "selected":
            description["selection"] = selection_recipe(task)
        key = digest(description, X.detach().cpu().numpy().tobytes(), Y.detach().cpu().numpy().tobytes(), length=12)
        path = cache / f"{task.name}-seed{seed}-{kind}-{key}.safetensors"
        if path.exists():
            try:
                return load(path, device=device)
            except ValueError:
                path.unlink()  # a damaged cache file: train again
    model: nn.Module
    if kind == "decoder":
        assert task.decoder is not None and isinstance(task.space, Box)  # a Task refuses a decoder on a Space
        model = task.decoder.fit(X, task.space.to(X.dtype, X.device), seed=seed, device=device)
    elif kind == "selected":
        grid = architecture_grid(task.surrogate)
        choice = select_surrogate(grid, X, Y, seed=seed, holdout=SELECTION_HOLDOUT, epochs=epochs, device=device)
        if choice.chosen == task.surrogate:  # the same recipe, data and seed: the task's surrogate
            model = _cached_fit(task, X, Y, seed, "surrogate", epochs, cache, device)
        else:
            model, _ = choice.chosen.fit(X, Y, seed=seed, epochs=epochs, device=device)
    elif kind == "ensemble":
        model, _ = task.surrogate.fit(X, Y, seed=seed, ensemble=True, epochs=epochs, device=device, progress=False)
    else:
        model, _ = task.surrogate.fit(X, Y, seed=seed, epochs=epochs, device=device, progress=False)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save(cast("MLP | Ensemble | VAE", model), path)
    return model
