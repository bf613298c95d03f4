"""The digits task: inverse design on real handwritten digits, judged by an independent classifier.

Data: scikit-learn's bundled ``load_digits`` (1,797 real 8x8 images, pixel values 0..16; no
download). The images are split in two seeded halves. The *surrogate* is an MLP classifier trained
on half A; the *oracle* is a convolutional classifier (a different architecture) trained on half B.
The energy follows BoTorch's VAE-MNIST tutorial: the expected "looks like a 3" score
``sum_c p(c | x) * exp(-2 (c - 3)^2)`` (maximum 1), negated so that lower is better.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from invdesign.models.classifier import ClassifierReport, ConvClassifier, fit_classifier
from invdesign.models.mlp import MLP
from invdesign.space import Box

PIXEL_MAX = 16.0
"""Pixel values of ``load_digits`` lie in ``[0, 16]``."""

TARGET_DIGIT = 3


def load_images(*, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """All 1,797 digits.

    Returns:
        ``(images, labels)``: images of shape ``(1797, 1, 8, 8)`` with values in ``[0, 16]``, and
        integer labels of shape ``(1797,)``.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    images = torch.as_tensor(data.images, dtype=dtype, device=device).unsqueeze(1)
    return images, torch.as_tensor(data.target, dtype=torch.long, device=device)


def target_score(logits: Tensor, digit: int = TARGET_DIGIT) -> Tensor:
    """Expected closeness to ``digit``: ``sum_c softmax(logits)_c * exp(-2 (c - digit)^2)``.

    Args:
        logits: Classifier logits, shape ``(b, 10)``.

    Returns:
        Scores in ``[0, 1]``, shape ``(b,)``.
    """
    return logits.softmax(dim=-1) @ _closeness(logits, digit)


def target_doubt(logits: Tensor, digit: int = TARGET_DIGIT) -> Tensor:
    """``1 - target_score(logits, digit)``, computed without cancellation so that tiny doubts stay resolved.

    Args:
        logits: Classifier logits, shape ``(b, 10)``.

    Returns:
        Doubts in ``[0, 1]``, shape ``(b,)``: ``sum_c softmax(logits)_c * (1 - exp(-2 (c - digit)^2))``.
    """
    return logits.softmax(dim=-1) @ (1.0 - _closeness(logits, digit))


def _closeness(logits: Tensor, digit: int) -> Tensor:
    """The weight ``exp(-2 (c - digit)^2)`` of each class ``c``, shape ``(n_classes,)``."""
    classes = torch.arange(logits.shape[-1], dtype=logits.dtype, device=logits.device)
    return torch.exp(-2.0 * (classes - digit) ** 2)


class TargetEnergy(nn.Module):
    """The "not a ``digit``" energy of a classifier, ``(b, 64)`` or ``(b, 1, 8, 8)`` -> ``(b,)``.

    Args:
        classifier: Maps designs to logits ``(b, 10)``.
        digit: The digit the designs should look like.
        log_doubt: ``False`` for ``-target_score`` (the BoTorch tutorial's energy, in
            ``[-1, 0]``); ``True`` for ``log(target_doubt)``, the same ranking on a scale that
            keeps resolving designs once the score rounds to 1 (what a GP or a float32 search needs
            near the optimum).
    """

    def __init__(self, classifier: nn.Module, digit: int = TARGET_DIGIT, *, log_doubt: bool = False) -> None:
        super().__init__()
        self.classifier = classifier
        self.digit = digit
        self.log_doubt = log_doubt

    def forward(self, x: Tensor) -> Tensor:
        logits = self.classifier(x)
        if self.log_doubt:
            return target_doubt(logits, self.digit).log()
        return -target_score(logits, self.digit)


@dataclass
class Digits:
    """Everything the digits demonstration needs, built by `make_digits`.

    Attributes:
        images: All images, ``(1797, 1, 8, 8)`` in ``[0, 16]``.
        labels: Their labels, ``(1797,)``.
        half_a: Indices of the surrogate's half (also the data a VAE or GAN may be trained on).
        half_b: Indices of the oracle's half.
        surrogate: MLP classifier on flattened images, trained on half A; logits ``(b, 10)``.
        oracle: Convolutional classifier trained on half B; logits ``(b, 10)``.
        surrogate_report: Training report of the surrogate.
        oracle_report: Training report of the oracle.
        space: The data-space box, 64 pixels in ``[0, 16]``.
    """

    images: Tensor
    labels: Tensor
    half_a: Tensor
    half_b: Tensor
    surrogate: nn.Module
    oracle: nn.Module
    surrogate_report: ClassifierReport
    oracle_report: ClassifierReport
    space: Box

    def energy(self, *, log_doubt: bool = False) -> TargetEnergy:
        """The surrogate energy to minimize, a module on ``(b, 64)`` or ``(b, 1, 8, 8)`` (see `TargetEnergy`)."""
        return TargetEnergy(self.surrogate, log_doubt=log_doubt)

    def surrogate_score(self, x: Tensor) -> Tensor:
        """The surrogate's "looks like a 3" score of designs ``(b, 64)`` or ``(b, 1, 8, 8)``, shape ``(b,)``."""
        with torch.no_grad():
            return target_score(self.surrogate(x.reshape(x.shape[0], -1)))

    def oracle_score(self, x: Tensor) -> Tensor:
        """The independent oracle's score of the same designs, shape ``(b,)``."""
        with torch.no_grad():
            return target_score(self.oracle(x.reshape(x.shape[0], 1, 8, 8)))

    def doubts(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """`target_doubt` of designs ``(b, 64)`` or ``(b, 1, 8, 8)`` by the surrogate and by the oracle, each ``(b,)``.

        Resolves scores too close to 1 for `surrogate_score` and `oracle_score` to tell apart.
        """
        with torch.no_grad():
            return target_doubt(self.surrogate(x.reshape(x.shape[0], -1))), target_doubt(self.oracle(x.reshape(x.shape[0], 1, 8, 8)))

    def nearest_real_distance(self, x: Tensor) -> Tensor:
        """Root-mean-square pixel distance (pixels scaled to ``[0, 1]``) to the nearest real digit, shape ``(b,)``."""
        flat = x.reshape(x.shape[0], -1).to(self.images.dtype) / PIXEL_MAX
        real = self.images.reshape(self.images.shape[0], -1) / PIXEL_MAX
        return torch.cdist(flat, real).min(dim=1).values / flat.shape[1] ** 0.5

    def accuracy(self) -> dict[str, float]:
        """Each classifier's accuracy on the other half (data it never saw)."""
        with torch.no_grad():
            a = (self.surrogate(self.images[self.half_b].flatten(1)).argmax(-1) == self.labels[self.half_b]).double()
            b = (self.oracle(self.images[self.half_a]).argmax(-1) == self.labels[self.half_a]).double()
        return {"surrogate": float(a.mean()), "oracle": float(b.mean())}


def make_digits(
    seed: int = 0,
    *,
    epochs: int = 60,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> Digits:
    """Split the digits in two seeded halves and train the surrogate and the oracle classifiers.

    Args:
        seed: Seeds the split and both classifiers.
        epochs: Training epochs of each classifier.
        dtype: Floating dtype of images and models.
        device: Where the tensors and models live.
        progress: Show training progress bars.
    """
    images, labels = load_images(dtype=dtype, device=device)
    perm = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed)).to(images.device)
    half_a, half_b = perm[: images.shape[0] // 2], perm[images.shape[0] // 2 :]

    torch.manual_seed(seed)
    surrogate = MLP(64, 10, hidden=(128, 128), activation="relu")
    with torch.no_grad():
        surrogate.x_std.fill_(PIXEL_MAX)
    surrogate_report = fit_classifier(
        surrogate, images[half_a].flatten(1), labels[half_a], epochs=epochs, seed=seed, progress=progress, device=device
    )
    oracle = ConvClassifier((8, 8), 10, data_range=(0.0, PIXEL_MAX))
    oracle_report = fit_classifier(
        oracle, images[half_b], labels[half_b], epochs=epochs, seed=seed + 1, progress=progress, device=device
    )
    space = Box(0.0, PIXEL_MAX, dim=64, dtype=dtype, device=device)
    return Digits(images, labels, half_a, half_b, surrogate, oracle, surrogate_report, oracle_report, space)
