"""Training surrogates: :func:`fit` for a given model, :func:`fit_mlp` / :func:`fit_ensemble` to build and fit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

import torch
from torch import Tensor, nn

from invdesign.models.ensemble import Ensemble
from invdesign.models.mlp import MLP
from invdesign.models.train import (
    EVAL_CHUNK,
    Schedule,
    Seeds,
    TrainConfig,
    first_parameter,
    mean_std,
    seeded_init,
    split_rows,
    train,
)
from invdesign.space.table import as_tensor

# The cosine schedule ends at this fraction of the peak learning rate.
_COSINE_FLOOR = 1e-3


@dataclass(repr=False)
class FitReport:
    """What one training run did.

    Losses are mean squared errors in standardised units (each output divided by its training standard
    deviation, then averaged over outputs), so they compare across problems; ``best_val_mse_raw`` is the
    same error in the original units of ``Y``, averaged over outputs.

    Attributes:
        train_loss: Per epoch, the mean training loss over the epoch's batches (model in train mode).
        val_loss: Per epoch, the validation loss after the epoch (model in eval mode).
        best_epoch: Index (0-based) of the epoch with the lowest validation loss; its weights are the ones kept.
        best_val_mse: ``val_loss[best_epoch]``.
        best_val_mse_raw: Validation MSE of the kept weights in raw units of ``Y``, averaged over outputs.
        epochs_run: Epochs trained before stopping (early or at ``epochs``).
        seconds: Wall-clock training time.
    """

    train_loss: list[float]
    val_loss: list[float]
    best_epoch: int
    best_val_mse: float
    best_val_mse_raw: float
    epochs_run: int
    seconds: float

    def __repr__(self) -> str:
        return (
            f"FitReport(best_epoch={self.best_epoch}, best_val_mse={self.best_val_mse:.3g}, "
            f"best_val_mse_raw={self.best_val_mse_raw:.3g}, epochs_run={self.epochs_run}, "
            f"seconds={self.seconds:.1f})"
        )


@overload
def fit(model: Ensemble, X: Tensor, Y: Tensor, **kwargs: Any) -> list[FitReport]: ...
@overload
def fit(model: nn.Module, X: Tensor, Y: Tensor, **kwargs: Any) -> FitReport: ...


# The overloads shorten the keyword-only options to **kwargs, which mypy reads as "any keyword".
def fit(  # type: ignore[misc]
    model: nn.Module,
    X: Tensor,
    Y: Tensor,
    *,
    epochs: int = 1000,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    schedule: Schedule = "cosine",
    val_fraction: float = 0.1,
    val_data: tuple[Tensor, Tensor] | None = None,
    patience: int | None = None,
    bootstrap: bool = False,
    seed: int | None = None,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> FitReport | list[FitReport]:
    """Train a regressor on ``(X, Y)`` with Adam, minimising the MSE in standardised units.

    A seeded random ``val_fraction`` of the rows is held out (unless ``val_data`` is given, in which
    case every row of ``X`` trains). The model's standardisation buffers (``x_mean, x_std, y_mean,
    y_std``, where it has them, as :class:`~invdesign.models.MLP` does) are set from the training rows.
    After each epoch the validation loss is measured; training stops when it has not improved for
    ``patience`` epochs, and the weights of the best epoch are restored. The model is left in eval
    mode, converted to ``X``'s dtype and on ``device``.

    Training runs through :func:`invdesign.models.train.train` (Adam, the schedule per step, the
    best epoch kept). An :class:`~invdesign.models.Ensemble` has each member trained in turn on the
    same training / validation split, each with the seeds of its member (``Seeds(seed).member(i)``:
    its own batch order, dropout and, with ``bootstrap=True``, bootstrap resample of the training
    rows); ``fit`` then returns one report per member.

    Args:
        model: The regressor ``(n, d) -> (n, k)``, or an ``Ensemble`` of them.
        X: Inputs, shape ``(n, d)``, floating point, finite.
        Y: Targets, shape ``(n, k)``, or ``(n,)`` read as ``(n, 1)``; floating point, finite.
        epochs: Maximum number of passes over the training rows.
        batch_size: Rows per Adam step (the rows are split into equal-sized batches, none larger).
        lr: Peak learning rate.
        weight_decay: Decoupled (AdamW-style) weight decay.
        schedule: ``"cosine"``: the learning rate is annealed per step from ``lr`` to ``lr / 1000``
            over ``epochs`` (on the robot-arm task it reached a 5-10x lower error than a constant rate
            or halving on plateaus); ``"constant"``: ``lr`` throughout, e.g. to fine-tune.
        val_fraction: Share of the rows held out for validation, in ``(0, 1)``; unused with ``val_data``.
        val_data: Explicit validation rows ``(X_val, Y_val)``, shapes ``(n_val, d)`` and ``(n_val, k)``.
        patience: Epochs without validation improvement before stopping; ``None`` (the default) runs
            all ``epochs``. The best weights are restored either way, so stopping early only saves
            time; under the cosine schedule it can cost accuracy, because the validation loss
            plateaus while the learning rate is still high (robot arm: stopping after 200 stalled
            epochs gave 4e-6 where running on gave 2e-7).
        bootstrap: Train on a bootstrap resample (rows drawn with replacement) of the training rows.
        seed: Seed for the split, the batch order, the bootstrap and dropout (its streams, see
            :class:`~invdesign.models.train.Seeds`); the same seed, data and initial weights give
            identical trained weights. ``None`` draws one from torch's global RNG. (Initial weights
            are the model's own; :func:`fit_mlp` and :func:`fit_ensemble` seed those too.)
        progress: Show a tqdm bar with the train / validation loss.
        device: Where to train; ``None`` keeps the model's current device.

    Returns:
        A :class:`FitReport`, or for an ``Ensemble`` a list with one per member.

    Raises:
        TypeError: if ``X`` or ``Y`` is not floating point.
        ValueError: for wrongly shaped, mismatched or non-finite data, data whose width does not match
            the model's ``in_dim`` / ``out_dim``, too few rows to split, or a bad option value.
    """
    X, Y = _as_data(X, Y, "X", "Y")
    config = TrainConfig(
        epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, schedule=schedule,
        lr_floor=_COSINE_FLOOR, patience=patience, progress=progress, desc="fit",
    )
    for attr, width, name in (("in_dim", X.shape[1], "X"), ("out_dim", Y.shape[1], "Y")):
        expected = getattr(model, attr, None)
        if expected is not None and expected != width:
            raise ValueError(f"model has {attr}={expected} but {name} has {width} columns")
    seeds = Seeds.of(seed)
    split = seeds.generator("split")
    if val_data is None:
        train_rows, val_rows = (rows.to(X.device) for rows in split_rows(X.shape[0], val_fraction, split))
        X_val, Y_val = X[val_rows], Y[val_rows]
        X_tr, Y_tr = X[train_rows], Y[train_rows]
    else:
        X_val, Y_val = _as_data(*val_data, "val_data X", "val_data Y")
        if X_val.shape[1] != X.shape[1] or Y_val.shape[1] != Y.shape[1]:
            raise ValueError(
                f"val_data has {X_val.shape[1]} input and {Y_val.shape[1]} output columns, "
                f"X and Y have {X.shape[1]} and {Y.shape[1]}"
            )
        X_tr, Y_tr = X, Y

    device = first_parameter(model).device if device is None else torch.device(device)
    model.to(device=device, dtype=X.dtype)
    X_tr, Y_tr, X_val, Y_val = (t.to(device=device, dtype=X.dtype) for t in (X_tr, Y_tr, X_val, Y_val))
    if isinstance(model, Ensemble):
        return [
            _fit_one(
                member, X_tr, Y_tr, X_val, Y_val, dataclasses.replace(config, desc=f"member {i + 1}/{len(model)}"),
                seeds.member(i), seeds.member(i).generator("split") if bootstrap else None,
            )
            for i, member in enumerate(model.members)
        ]
    return _fit_one(model, X_tr, Y_tr, X_val, Y_val, config, seeds, split if bootstrap else None)


def fit_mlp(
    X: Tensor,
    Y: Tensor,
    *,
    hidden: Sequence[int] = (128, 128, 128),
    activation: str = "silu",
    batch_norm: bool = False,
    dropout: float = 0.0,
    seed: int | None = None,
    **fit_kwargs: Any,
) -> tuple[MLP, FitReport]:
    """Build an :class:`~invdesign.models.MLP` sized for ``(X, Y)`` and :func:`fit` it.

    Args:
        X: Inputs, shape ``(n, d)``.
        Y: Targets, shape ``(n, k)`` or ``(n,)``.
        hidden, activation, batch_norm, dropout: As for ``MLP``.
        seed: Seeds the initial weights as well as :func:`fit`; same seed, same trained model.
        **fit_kwargs: Passed to :func:`fit` (``epochs``, ``lr``, ``device``, ...).

    Returns:
        ``(model, report)``, the model in eval mode with ``in_dim = d`` and ``out_dim = k``.
    """
    X, Y = _as_data(X, Y, "X", "Y")
    seeds = Seeds.of(seed)
    with seeded_init(seeds):
        model = MLP(X.shape[1], Y.shape[1], hidden=hidden, activation=activation, batch_norm=batch_norm, dropout=dropout)
    return model, fit(model, X, Y, seed=seeds.seed, **fit_kwargs)


def fit_ensemble(
    X: Tensor,
    Y: Tensor,
    *,
    n_members: int = 5,
    hidden: Sequence[int] = (128, 128, 128),
    activation: str = "silu",
    batch_norm: bool = False,
    dropout: float = 0.0,
    seed: int | None = None,
    **fit_kwargs: Any,
) -> tuple[Ensemble, list[FitReport]]:
    """Build an :class:`~invdesign.models.Ensemble` of ``n_members`` MLPs and :func:`fit` it.

    Members differ by initial weights and batch order (and by resample with ``bootstrap=True``), all
    derived from ``seed``.

    Args:
        X: Inputs, shape ``(n, d)``.
        Y: Targets, shape ``(n, k)`` or ``(n,)``.
        n_members: Number of members ``m``.
        hidden, activation, batch_norm, dropout: As for ``MLP``; the same for every member.
        seed: Seeds the initial weights and :func:`fit`.
        **fit_kwargs: Passed to :func:`fit` (``epochs``, ``bootstrap``, ``device``, ...).

    Returns:
        ``(ensemble, reports)`` with one :class:`FitReport` per member.
    """
    X, Y = _as_data(X, Y, "X", "Y")
    if n_members < 1:
        raise ValueError(f"n_members must be at least 1, got {n_members}")
    seeds = Seeds.of(seed)
    members = []
    for i in range(n_members):
        with seeded_init(seeds.member(i)):
            members.append(MLP(X.shape[1], Y.shape[1], hidden=hidden, activation=activation,
                               batch_norm=batch_norm, dropout=dropout))
    ensemble = Ensemble(members)
    return ensemble, fit(ensemble, X, Y, seed=seeds.seed, **fit_kwargs)


def _fit_one(
    model: nn.Module,
    X: Tensor,
    Y: Tensor,
    X_val: Tensor,
    Y_val: Tensor,
    config: TrainConfig,
    seeds: Seeds,
    resample: torch.Generator | None,
) -> FitReport:
    """Train one model on ``X (n, d), Y (n, k)``, validating on ``X_val, Y_val``; all on one device.

    With ``resample``, the model trains on a bootstrap resample of the rows drawn from it.
    """
    if resample is not None:
        rows = torch.randint(0, X.shape[0], (X.shape[0],), generator=resample).to(X.device)
        X, Y = X[rows], Y[rows]
    x_mean, x_std = mean_std(X)
    y_mean, y_std = mean_std(Y)
    with torch.no_grad():
        for name, value in (("x_mean", x_mean), ("x_std", x_std), ("y_mean", y_mean), ("y_std", y_std)):
            buffer = getattr(model, name, None)
            if isinstance(buffer, Tensor):
                buffer.copy_(value)

    def step(batch: Tensor) -> tuple[Tensor, dict[str, Tensor | None]]:
        loss = (((model(X[batch]) - Y[batch]) / y_std) ** 2).mean()
        return loss, {"train": loss}

    def validate() -> dict[str, float]:
        return {"val": float((_val_errors(model, X_val, Y_val) / y_std**2).mean())}

    log = train(model, step, config, seeds=seeds, n_rows=X.shape[0], validate=validate, monitor="val")
    return FitReport(
        train_loss=log.train["train"],
        val_loss=log.val["val"],
        best_epoch=log.best,
        best_val_mse=log.val["val"][log.best],
        best_val_mse_raw=float(_val_errors(model, X_val, Y_val).mean()),
        epochs_run=log.periods_run,
        seconds=log.seconds,
    )


def _val_errors(model: nn.Module, X: Tensor, Y: Tensor) -> Tensor:
    """Raw-unit MSE per output of ``model`` (in eval mode) on ``X (n, d), Y (n, k)``; shape ``(k,)``."""
    model.eval()
    with torch.no_grad():
        sq = sum(
            ((model(xc) - yc) ** 2).sum(dim=0)
            for xc, yc in zip(X.split(EVAL_CHUNK), Y.split(EVAL_CHUNK))
        )
    return sq / X.shape[0]


def _as_data(X: Tensor, Y: Tensor, x_name: str, y_name: str) -> tuple[Tensor, Tensor]:
    """Check and normalise a data pair: ``X (n, d)``, ``Y (n, k)`` (``(n,)`` becomes ``(n, 1)``), ``Y`` in X's dtype."""
    X, Y = as_tensor(X, x_name), as_tensor(Y, y_name)
    for T, name in ((X, x_name), (Y, y_name)):
        if not T.dtype.is_floating_point:
            raise TypeError(f"{name} must be floating point, got {T.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{x_name} must be 2-d (n, d), got shape {tuple(X.shape)}")
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2:
        raise ValueError(f"{y_name} must be 2-d (n, k) or 1-d (n,), got shape {tuple(Y.shape)}")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"{x_name} has {X.shape[0]} rows but {y_name} has {Y.shape[0]}")
    if X.shape[0] == 0:
        raise ValueError(f"{x_name} and {y_name} have no rows")
    for T, name in ((X, x_name), (Y, y_name)):
        if not bool(torch.isfinite(T).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
    return X, Y.to(device=X.device, dtype=X.dtype)
