"""Trust in a design: how far it lies from the data the surrogate learned from, and guards that keep it near.

A surrogate is only right near its training data. `TrainingData` holds that data (designs ``X``
and, where known, their measured outputs ``Y``) and measures, for any design:

- its **distance** to the nearest training design, in the data's own scale: each column of the
  designs divided by its standard deviation over the training designs (a column constant in the
  data keeps its own units);
- whether it lies **inside the support**: the rule is that a design is inside when its distance
  is at most the `SUPPORT_QUANTILE` (95%) quantile of the training designs' own leave-one-out
  distances (each training design's distance to its nearest other one), so that about 95 in 100
  designs drawn like the training data would be judged inside;
- whether the model's **prediction** lies outside the range of the training outputs (any output
  below its smallest or above its largest measured value);
- for an ensemble (a model with ``members_forward``), the **spread** of its members: the
  standard deviation of the member outputs, averaged over outputs.

`invdesign.Objective` takes the data (``data=(X, Y)``) and a ``trust=`` word: ``"report"``
(the default with data: every `invdesign.Result` carries a `TrustReport` of its designs),
``"region"`` (also the data trust region: `region_penalty`) or ``"ensemble"`` (also pessimism
over an ensemble's members: `PESSIMISM_BETA`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

import torch
from torch import Tensor

from invdesign.penalties import DataDistance
from invdesign.space.table import as_tensor

if TYPE_CHECKING:
    from invdesign.objective import Objective

Trust = Literal["report", "region", "ensemble"]
TRUST_MODES: tuple[str, ...] = get_args(Trust)
SUPPORT_QUANTILE = 0.95
"""Quantile of the training designs' leave-one-out nearest-neighbour distances that bounds the support."""
PROBE = 1000
"""Training designs (picked with a fixed seed) whose nearest neighbours measure the spacing and the support."""
REGION_WEIGHT = 10.0
REGION_RADIUS = 0.5
"""The data trust region of ``trust="region"``: ``REGION_WEIGHT * energy scale / spacing**2 *
relu(distance - REGION_RADIUS * spacing)**2``, spacing the median nearest-neighbour distance of
the training designs. These are the constants of the benchmark's ``gd+trust`` row, the guard that
shrank the exploitation gap on the built-in tasks' training data; scale-free, since distances are
measured in units of the data's spacing and the penalty in units of the energies' spread."""
PESSIMISM_BETA = 2.0
"""``trust="ensemble"``: the members' mean energy plus ``PESSIMISM_BETA`` standard deviations (the
benchmark's ``gd+pessimism`` row)."""
_CHUNK = 4096
"""Designs per model call when predicting the training designs' energies."""


def nearest_other(U: Tensor, probe: Tensor, *, duplicates: bool) -> Tensor:
    """Distance from each row ``U[probe]`` to its nearest other row of ``U`` ``(n, d)``, shape ``(len(probe),)``.

    ``duplicates=False`` does not count exact copies of a row as its neighbours (rows with none
    left are dropped from the result); ``True`` leaves out only the row itself.
    """
    parts = []
    with torch.no_grad():
        for rows in probe.split(max(1, DataDistance.CHUNK // U.shape[0])):
            D = torch.cdist(U[rows], U)
            if duplicates:
                D[torch.arange(rows.numel(), device=U.device), rows] = math.inf
            else:
                D[D == 0] = math.inf
            parts.append(D.min(dim=1).values)
    nearest = torch.cat(parts)
    return nearest[torch.isfinite(nearest)]


def spacing(U: Tensor, n_probe: int = PROBE) -> float:
    """The median distance from a row of ``U`` ``(n, d)`` to its nearest other row (exact copies not
    counted), measured on ``n_probe`` rows picked with a fixed seed (all of them if fewer).

    Raises:
        ValueError: if every row is the same.
    """
    nearest = nearest_other(U, _probe(U.shape[0], n_probe, U.device), duplicates=False)
    if nearest.numel() == 0:
        raise ValueError("the training designs are all identical: they have no spacing to scale a trust region by")
    return float(nearest.median())


def energy_scale(Y: Tensor, target: Tensor | None) -> float:
    """The spread of the training energies: the std of ``Y`` ``(n, 1)``, or for a target the mean variance of the outputs ``(n, k)``."""
    return float(Y.var(dim=0).mean()) if target is not None else float(Y.std())


def _probe(n: int, n_probe: int, device: torch.device) -> Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(0))[:n_probe].to(device)


@dataclass
class TrustReport:
    """How far each returned design lies from the training data (`TrainingData.report`), rows as the result's ``X``.

    Attributes:
        distance: Distance to the nearest training design in the data's scale, ``(n,)``.
        inside: Whether it is at most ``radius``: inside the data's support, ``(n,)`` bool.
        radius: The support's radius (`SUPPORT_QUANTILE` of the training designs' own distances).
        prediction: The model's outputs for the designs, ``(n, k)`` (an ensemble's mean).
        outside_range: Whether any output lies outside the training outputs' range, ``(n,)``
            bool; ``None`` without measured outputs.
        spread: The ensemble members' standard deviation, averaged over outputs, ``(n,)``;
            ``None`` for a model that is not an ensemble.
    """

    distance: Tensor
    inside: Tensor
    radius: float
    prediction: Tensor
    outside_range: Tensor | None = None
    spread: Tensor | None = None

    def columns(self) -> dict[str, Any]:
        """The report as table columns (``distance``, ``in_support``, ``prediction`` or ``prediction_j``,
        ``outside_range``, ``spread``), each a list of one value per design."""
        columns: dict[str, Any] = {"distance": self.distance.tolist(), "in_support": self.inside.tolist()}
        k = self.prediction.shape[1]
        for j in range(k):
            columns["prediction" if k == 1 else f"prediction_{j}"] = self.prediction[:, j].tolist()
        if self.outside_range is not None:
            columns["outside_range"] = self.outside_range.tolist()
        if self.spread is not None:
            columns["spread"] = self.spread.tolist()
        return columns

    def summary(self) -> str:
        """One sentence on the designs outside the support and outside the outputs' range."""
        n, out = self.inside.numel(), int((~self.inside).sum())
        text = (
            f"{out} of {n} designs lie outside the training data's support (nearest training design farther than "
            f"{self.radius:.3g}, the {SUPPORT_QUANTILE:.0%} quantile of the training designs' own)"
        )
        if self.outside_range is not None:
            text += f"; {int(self.outside_range.sum())} predicted outside the training outputs' range"
        return text + "."


    def split(self, sizes: list[int]) -> list[TrustReport]:
        """The report cut into consecutive parts of ``sizes`` rows (one per target of a batch)."""
        n = len(sizes)
        distance, inside, prediction = (t.split(sizes) for t in (self.distance, self.inside, self.prediction))
        outside: list[Tensor | None] = [None] * n if self.outside_range is None else list(self.outside_range.split(sizes))
        spread: list[Tensor | None] = [None] * n if self.spread is None else list(self.spread.split(sizes))
        return [TrustReport(distance[i], inside[i], self.radius, prediction[i], outside[i], spread[i]) for i in range(n)]


class TrainingData:
    """The designs a surrogate was trained on, and their measured outputs: what trust is measured against.

    Args:
        X: Training designs as the model sees them, shape ``(n, d_x)`` (``n >= 2``); a table of a
            `invdesign.Space` is encoded by `from_objective`.
        Y: Their measured outputs, ``(n,)`` or ``(n, k)``; optional (then no range check, and
            the trust region scales by the model's predictions on ``X``).

    Raises:
        ValueError: for fewer than two designs, NaN or infinite values, or ``Y`` with another
            number of rows.
    """

    def __init__(self, X: Tensor, Y: Tensor | None = None) -> None:
        X = as_tensor(X, "data X")
        if X.ndim < 2 or X.shape[0] < 2:
            raise ValueError(f"data X must hold at least 2 designs, shape (n, d); got {tuple(X.shape)}")
        X = X.reshape(X.shape[0], -1)
        X = X if X.dtype.is_floating_point else X.to(torch.float64)
        if not torch.isfinite(X).all():
            rows = (~torch.isfinite(X)).any(dim=-1).nonzero().flatten().tolist()
            raise ValueError(f"data X has NaN or infinite values in rows {rows[:10]}")
        if Y is not None:
            Y = as_tensor(Y, "data Y")
            Y = Y.reshape(Y.shape[0], -1) if Y.ndim >= 1 else Y
            if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
                raise ValueError(f"data Y must have {X.shape[0]} rows like X, got shape {tuple(Y.shape)}")
            Y = Y.to(X.dtype)
            if not torch.isfinite(Y).all():
                rows = (~torch.isfinite(Y)).any(dim=-1).nonzero().flatten().tolist()
                raise ValueError(f"data Y has NaN or infinite values in rows {rows[:10]}")
        self.X, self.Y = X.detach(), None if Y is None else Y.detach()
        std = self.X.std(dim=0)
        self.scale = torch.where(std > 0, std, torch.ones_like(std))
        """Per-column divisor of the data's scale, ``(d_x,)``: the std over the training designs (1 where it is 0)."""
        self.distances = DataDistance(self.X, scale=self.scale)
        U = self.X / self.scale
        self.spacing = spacing(U)
        """Median distance from a training design to its nearest other one, in the data's scale."""
        own = nearest_other(U, _probe(U.shape[0], PROBE, U.device), duplicates=True)
        self.radius = float(torch.quantile(own, SUPPORT_QUANTILE))
        """The support's radius: `SUPPORT_QUANTILE` of the training designs' leave-one-out distances."""

    @classmethod
    def from_objective(cls, data: Any, objective: Objective) -> TrainingData:
        """``data`` (a `TrainingData`, an ``(X, Y)`` pair, or designs ``X`` alone; ``X`` a tensor or a
        table of the objective's `invdesign.Space`) checked against the designs ``objective`` makes.

        Raises:
            ValueError: if the designs have another number of columns than the objective's
                designs (decoded ones for a latent objective), or ``Y`` another number of outputs.
            TypeError: for a table of designs beside a latent objective.
        """
        from invdesign.starts import as_designs

        if not isinstance(data, TrainingData):
            X, Y = data if isinstance(data, tuple) else (data, None)
            if type(X).__name__ == "DataFrame" and objective.decoder is not None:
                raise TypeError("data for a latent objective are designs the decoder makes: pass them as a tensor")
            data = cls(as_designs(X, objective) if type(X).__name__ == "DataFrame" else X, Y)
        width = objective.decode(objective.space.sample(1, seed=0)).reshape(1, -1).shape[1]
        if data.X.shape[1] != width:
            raise ValueError(
                f"data X has {data.X.shape[1]} columns but the objective's designs have {width}"
                f"{' (decoded)' if objective.decoder is not None else ''}"
            )
        if data.Y is not None and data.Y.shape[1] != objective.output_dim:
            raise ValueError(f"data Y has {data.Y.shape[1]} outputs per design but the model returns {objective.output_dim}")
        return data

    def distance(self, x: Tensor) -> Tensor:
        """Distance from designs ``x`` ``(b, d_x)`` to their nearest training design, in the data's scale, ``(b,)``."""
        return self.distances.distance(x.reshape(x.shape[0], -1))

    def region_penalty(self, objective: Objective) -> DataDistance:
        """The data trust region of ``trust="region"`` (`REGION_WEIGHT`, `REGION_RADIUS`), a penalty of designs ``(b, d_x)``.

        The energy scale is `energy_scale` of the measured outputs ``Y``, or without them of the
        model's predictions on the training designs (a data-space objective only).

        Raises:
            ValueError: for a latent objective and data without ``Y``.
        """
        Y = self.Y
        if Y is None:
            if objective.decoder is not None:
                raise ValueError("trust='region' on a latent objective needs the designs' measured outputs: data=(X, Y)")
            with torch.no_grad():
                X = self.X.to(dtype=objective.dtype, device=objective.device)
                Y = torch.cat([objective.predict(chunk) for chunk in X.split(_CHUNK)])
        target = objective.target if objective.targets is None else objective.targets
        weight = REGION_WEIGHT * energy_scale(Y, target) / self.spacing**2
        return DataDistance(self.X, weight=weight, radius=REGION_RADIUS * self.spacing, scale=self.scale)

    def report(self, objective: Objective, X: Tensor, Z: Tensor | None = None) -> TrustReport:
        """The `TrustReport` of designs ``X`` ``(n, d_x)`` (search points ``Z`` ``(n, d_z)`` for a latent objective)."""
        z = (X if Z is None else Z).to(dtype=objective.dtype, device=objective.device)
        with torch.no_grad():
            distance = self.distance(X)
            prediction = objective.predict(z)
            members = _members(objective, z)
        outside = None
        if self.Y is not None:
            low, high = self.Y.min(dim=0).values.to(prediction), self.Y.max(dim=0).values.to(prediction)
            outside = ((prediction < low) | (prediction > high)).any(dim=-1)
        spread = None if members is None else members.std(dim=0, correction=0).mean(dim=-1)
        return TrustReport(distance, distance <= self.radius, self.radius, prediction, outside, spread)

    def __repr__(self) -> str:
        k = "" if self.Y is None else f", {self.Y.shape[1]} outputs"
        return f"TrainingData(n={self.X.shape[0]}, d={self.X.shape[1]}{k}, spacing={self.spacing:.3g}, support radius={self.radius:.3g})"


def _members(objective: Objective, z: Tensor) -> Tensor | None:
    """The ensemble members' outputs for search points ``z``, ``(m, b, k)``; ``None`` for a model without members."""
    if objective.rule is not None:
        return objective.predict_members(z)
    if not callable(getattr(objective.model, "members_forward", None)):
        return None
    from invdesign.adapter import ModelAdapter

    adapter = ModelAdapter(
        objective.model, objective.space, decoder=objective.decoder, members=True, dtype=objective.dtype, device=objective.device
    )
    return adapter(z)
