"""The digits task: inverse design on real handwritten digits, judged by an independent classifier.

Data: scikit-learn's bundled ``load_digits`` (1,797 real 8x8 images, pixel values 0..16; no
download). The images are split in two seeded halves. The *surrogate* is an MLP classifier trained
on half A; the *oracle* is a convolutional classifier (a different architecture) trained on half B.
The energy follows BoTorch's VAE-MNIST tutorial: the expected "looks like a 3" score
``sum_c p(c | x) * exp(-2 (c - 3)^2)`` (maximum 1), negated so that lower is better.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from invdesign.models.classifier import ClassifierReport, ConvClassifier, fit_classifier
from invdesign.models.mlp import MLP
from invdesign.space import Box
from invdesign.tasks.base import Task
from invdesign.tasks.surrogate import DecoderSpec, SurrogateSpec

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
    half_a, half_b = split_halves(images.shape[0], seed)
    half_a, half_b = half_a.to(images.device), half_b.to(images.device)

    torch.manual_seed(seed)
    surrogate = MLP(64, 10, hidden=(128, 128), activation="relu")
    with torch.no_grad():
        surrogate.x_std.fill_(PIXEL_MAX)
    surrogate_report = fit_classifier(
        surrogate, images[half_a].flatten(1), labels[half_a], epochs=epochs, seed=seed, progress=progress, device=device
    )
    oracle, oracle_report = train_oracle(images[half_b], labels[half_b], seed=seed + 1, epochs=epochs, progress=progress, device=device)
    space = Box(0.0, PIXEL_MAX, dim=64, dtype=dtype, device=device)
    return Digits(images, labels, half_a, half_b, surrogate, oracle, surrogate_report, oracle_report, space)


def split_halves(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """A seeded split of ``n`` image indices into two halves ``(half_a, half_b)``, CPU int64."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[: n // 2], perm[n // 2 :]


def train_oracle(
    images: Tensor,
    labels: Tensor,
    *,
    seed: int,
    epochs: int = 60,
    progress: bool = False,
    device: torch.device | str | None = None,
) -> tuple[ConvClassifier, ClassifierReport]:
    """The digits oracle: a convolutional classifier trained on ``images`` ``(n, 1, 8, 8)`` and ``labels`` ``(n,)``.

    ``seed`` fixes the initial weights as well as the training, whatever torch's global generator
    holds, and training runs with gradients on even when called under ``torch.no_grad()``.
    """
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(seed)
        oracle = ConvClassifier((8, 8), 10, data_range=(0.0, PIXEL_MAX))
        report = fit_classifier(oracle, images, labels, epochs=epochs, seed=seed, progress=progress, device=device)
    return oracle, report


class _DigitsOracle:
    """The oracle of the ``"digits"`` task, trained on first use: ``-target_score`` of a conv classifier.

    The classifier is `train_oracle`'s on half B of split seed 0 (the oracle `make_digits(0)`
    trains); copies for other dtypes and devices are cached.
    """

    def __init__(self) -> None:
        self._models: dict[tuple[torch.dtype, torch.device], TargetEnergy] = {}

    def __call__(self, x: Tensor) -> Tensor:
        """Energies ``(b,)`` of designs ``(b, 64)``: minus the oracle's "looks like a 3" score."""
        key = (x.dtype, x.device)
        if key not in self._models:
            if not self._models:
                images, labels = load_images(dtype=torch.float32)
                half_b = split_halves(images.shape[0], DIGITS_SPLIT_SEED)[1]
                classifier = train_oracle(images[half_b], labels[half_b], seed=DIGITS_SPLIT_SEED + 1)[0]
                classifier.requires_grad_(False)
                self._models[(torch.float32, torch.device("cpu"))] = TargetEnergy(classifier)
            first = next(iter(self._models.values()))
            self._models[key] = copy.deepcopy(first).to(dtype=x.dtype, device=x.device)
        return self._models[key](x.reshape(x.shape[0], 1, 8, 8))


DIGITS_SPLIT_SEED = 0
"""The split of the ``"digits"`` task: its designs come from half A, its oracle learns from half B."""


def _half_a_prior(n: int, generator: torch.Generator) -> Tensor:
    """``n`` real digits of half A, flattened, float64 ``(n, 64)``: without replacement, or with it when ``n`` exceeds half A."""
    images, _ = load_images(dtype=torch.float64)
    half_a = split_halves(images.shape[0], DIGITS_SPLIT_SEED)[0]
    if n <= half_a.numel():
        pick = half_a[torch.randperm(half_a.numel(), generator=generator)[:n]]
    else:
        pick = half_a[torch.randint(half_a.numel(), (n,), generator=generator)]
    return images[pick].flatten(1)


def digits_task() -> Task:
    """The ``"digits"`` task: find an 8x8 image that an independent classifier is sure is a 3.

    A minimize task on 64 pixels in ``[0, 16]``. The oracle is ``-target_score`` (in
    ``[-1, 0]``) of a conv classifier trained on half B of scikit-learn's digits (split seed 0,
    trained on the first oracle call, a few seconds); the prior draws real digits of half A, so
    the offline data are real images and their oracle energies (nothing hidden:
    ``hidden_fraction=0``), and the normalised score 1.0 is the most 3-like digit of half A by the
    oracle. The recommended surrogate is an MLP regressor of the energy, the recommended decoder a
    VAE with 8 latents for latent-space search (`invdesign.tasks.DecoderSpec`). This is a
    regression version of the classifier-surrogate demonstration `make_digits` builds, so that the
    benchmark harness can run it.
    """
    n_half = load_images()[0].shape[0] // 2
    return Task(
        name="digits",
        oracle=_DigitsOracle(),
        space=Box(0.0, PIXEL_MAX, dim=64),
        kind="minimize",
        prior=_half_a_prior,
        reference="scikit-learn digits; energy after BoTorch's VAE-MNIST tutorial",
        n_train=n_half,
        hidden_fraction=0.0,
        surrogate=SurrogateSpec(hidden=(128, 128), activation="silu", epochs=300, batch_size=64, lr=3e-3),
        budget=100,
        n_reference=n_half,
        decoder=DecoderSpec(latent_dim=8, epochs=100, bound=3.0),
    )
