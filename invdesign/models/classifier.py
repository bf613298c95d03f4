"""Classifiers: a small convolutional net for images and a cross-entropy trainer for any classifier."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from invdesign.models.train import (
    Seeds,
    TrainConfig,
    first_parameter,
    split_rows,
    train,
)

# The cosine schedule ends at this fraction of the peak learning rate.
_COSINE_FLOOR = 1e-2


class ConvClassifier(nn.Module):
    """A small convolutional classifier for single-channel images, ``(b, 1, h, w) -> (b, n_classes)`` logits.

    Two 3x3 convolutions (16 and 32 channels, ReLU), 2x2 max pooling, a hidden layer of 64 units
    with dropout, and a linear read-out. Inputs in ``data_range`` are scaled to ``[0, 1]`` first.

    Args:
        image_size: ``(h, w)``, both even.
        n_classes: Number of classes.
        data_range: ``(low, high)`` of the pixel values.
        dropout: Dropout before the read-out.
    """

    def __init__(
        self,
        image_size: tuple[int, int] = (8, 8),
        n_classes: int = 10,
        *,
        data_range: tuple[float, float] = (0.0, 1.0),
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        h, w = image_size
        if h % 2 or w % 2:
            raise ValueError(f"ConvClassifier needs an even image size, got {image_size}")
        self.image_size = (h, w)
        self.data_range = (float(data_range[0]), float(data_range[1]))
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Linear(32 * (h // 2) * (w // 2), 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, n_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits for images ``x`` of shape ``(b, 1, h, w)`` or flattened ``(b, h * w)``; shape ``(b, n_classes)``."""
        h, w = self.image_size
        if x.shape[-2:] != (h, w) and not (x.ndim == 2 and x.shape[1] == h * w):
            raise ValueError(f"ConvClassifier expects images of shape (b, 1, {h}, {w}) or (b, {h * w}), got {tuple(x.shape)}")
        low, high = self.data_range
        u = (x.reshape(-1, 1, h, w) - low) / (high - low)
        return self.head(self.features(u))


@dataclass
class ClassifierReport:
    """What one classifier training run did.

    Attributes:
        train_loss: Mean cross-entropy per epoch.
        val_accuracy: Validation accuracy per epoch.
        best_epoch: Epoch (0-based) of the best validation accuracy; its weights are kept.
        best_val_accuracy: ``val_accuracy[best_epoch]``.
        seconds: Wall-clock training time.
    """

    train_loss: list[float]
    val_accuracy: list[float]
    best_epoch: int
    best_val_accuracy: float
    seconds: float


def fit_classifier(
    model: nn.Module,
    X: Tensor,
    labels: Tensor,
    *,
    epochs: int = 60,
    batch_size: int = 64,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    val_fraction: float = 0.15,
    seed: int | None = None,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> ClassifierReport:
    """Train a classifier (logits out) with Adam on cross-entropy; keep the weights of the best validation epoch.

    Training runs through :func:`invdesign.models.train.train`.

    Args:
        model: Maps ``X`` rows to logits ``(b, n_classes)``.
        X: Inputs, shape ``(n, ...)``, floating point, finite.
        labels: Class indices, shape ``(n,)``, integer.
        epochs: Passes over the training rows.
        batch_size: Rows per step.
        lr: Learning rate (cosine-annealed per step to ``lr / 100``).
        weight_decay: Decoupled weight decay.
        val_fraction: Share of rows held out (seeded) to pick the best epoch, in ``(0, 1)``.
        seed: Seeds the split, batch order and dropout (its streams, see :class:`~invdesign.models.train.Seeds`).
        progress: Show a tqdm bar.
        device: Where to train; ``None`` keeps the model's device.

    Raises:
        TypeError: if ``X`` is not floating point or ``labels`` not integer.
        ValueError: on mismatched rows, non-finite inputs, a bad ``val_fraction`` or another bad option.
    """
    if not X.dtype.is_floating_point:
        raise TypeError(f"X must be floating point, got {X.dtype}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f"labels must be integer class indices, got {labels.dtype}")
    if labels.ndim != 1 or labels.shape[0] != X.shape[0]:
        raise ValueError(f"labels must have shape ({X.shape[0]},), got {tuple(labels.shape)}")
    if not bool(torch.isfinite(X).all()):
        raise ValueError("X contains NaN or infinite values")
    config = TrainConfig(
        epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, schedule="cosine",
        lr_floor=_COSINE_FLOOR, progress=progress, desc="fit_classifier",
    )
    seeds = Seeds.of(seed)
    train_rows, val_rows = split_rows(X.shape[0], val_fraction, seeds.generator("split"))
    device = first_parameter(model).device if device is None else torch.device(device)
    model.to(device=device, dtype=X.dtype)
    X, labels = X.to(device), labels.to(device)
    X_train, labels_train = X[train_rows.to(device)], labels[train_rows.to(device)]
    X_val, labels_val = X[val_rows.to(device)], labels[val_rows.to(device)]

    def step(batch: Tensor) -> tuple[Tensor, dict[str, Tensor | None]]:
        loss = nn.functional.cross_entropy(model(X_train[batch]), labels_train[batch])
        return loss, {"loss": loss}

    def validate() -> dict[str, float]:
        return {"val_acc": float((model(X_val).argmax(-1) == labels_val).double().mean())}

    log = train(
        model, step, config, seeds=seeds, n_rows=X_train.shape[0], validate=validate, monitor="val_acc",
        higher_is_better=True,
    )
    accuracy = log.val["val_acc"]
    return ClassifierReport(log.train["loss"], accuracy, log.best, accuracy[log.best], log.seconds)
