"""One trainer for every model in `invdesign.models`: :func:`train`, and the pieces it is made of.

A model supplies only a *step*, the loss of one batch; :func:`train` does the rest, the same way
for every model: the epochs (or steps) and their batches, Adam (:func:`adam`) and its learning-rate
schedule (:func:`lr_scheduler`, ``torch.optim.lr_scheduler``), validation after every epoch, early
stopping, keeping the best weights, the per-epoch log and the tqdm progress bar. The surrogate and
ensemble fit (`invdesign.models.fit`), the VAE, the GAN, the classifier and the inverse model all
train through it:

- epoch-based training passes over ``n_rows`` training rows in shuffled batches, and may validate
  after every epoch, stop early and keep the best epoch's weights;
- step-based training takes ``steps`` steps, each on ``batch_size`` rows drawn with replacement
  (the inverse model: rows of the targets), and keeps the final weights.

A step that trains a second set of weights, as a GAN's discriminator, does so itself with its own
:func:`adam` and :func:`descend`; the trainer steps the first set.

Seeding (:class:`Seeds`) is one scheme for every model: a seed spawns, through
``numpy.random.SeedSequence``, one child seed per random stream (initial weights, validation split,
batches, noise, dropout).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from invdesign.models.checks import check_count

Schedule = Literal["cosine", "constant"]
Stream = Literal["init", "split", "batches", "noise", "dropout"]

STREAMS: tuple[Stream, ...] = ("init", "split", "batches", "noise", "dropout")
"""The random streams of a training run, in the order :class:`Seeds` spawns them."""
FUSED_ADAM_DEVICES = ("cpu", "cuda", "mps")
"""Device types on which :func:`adam` uses the fused kernel (one kernel for all parameters; about 15% faster per step on CPU)."""
EVAL_CHUNK = 65536
"""Rows per forward pass when a model is evaluated on a whole data set."""

Step = Callable[[Tensor], tuple[Tensor | None, Mapping[str, Tensor | None]]]
"""A training step: the indices ``(b,)`` of a batch of training rows -> ``(loss, metrics)``.

``loss`` is a scalar that :func:`train` descends by one optimizer step, or ``None`` for a batch that
leaves the trainer's weights alone. ``metrics`` are scalars the log averages per epoch (``None``
for one this batch does not report).
"""


@dataclass(frozen=True)
class Seeds:
    """The seeds of one training run, one per random stream, all derived from ``seed``.

    The scheme: ``numpy.random.SeedSequence(seed).spawn(5)`` gives one child per stream, in the order
    of `STREAMS`; each child's first 64-bit word, halved to 63 bits, seeds a torch generator. Member
    ``i`` of an ensemble (:meth:`member`) derives its streams in the same way from the ``i``-th child of
    the sixth child, ``SeedSequence(seed).spawn(6)[5].spawn(i + 1)[i]``. The streams are independent:
    drawing more from one (say, a larger batch of noise) leaves every other unchanged.

    - ``init``: the initial weights (torch's global CPU generator while a model is built, :func:`seeded_init`);
    - ``split``: the train / validation split (:func:`split_rows`) and a bootstrap resample;
    - ``batches``: each epoch's batch order, or the rows each step draws;
    - ``noise``: what a step draws (latents, the VAE's reparameterisation noise, the GAN's replay
      buffer and interpolates, an inverse model's noise), and the noise of ``sample(..., seed=seed)``;
    - ``dropout``: torch's global generator on the training device while training (dropout masks).

    Attributes:
        seed: The root seed, a non-negative integer.
        key: The spawn key of the root's own ``SeedSequence``: ``()``, or ``(5, i)`` for member ``i``.
    """

    seed: int
    key: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        seed = check_count(self.seed, "seed", minimum=0)
        object.__setattr__(self, "seed", seed)

    @classmethod
    def of(cls, seed: int | None) -> Seeds:
        """The seeds of ``seed``; ``None`` draws a root seed from torch's global generator."""
        return cls(int(torch.randint(0, 2**62, ())) if seed is None else seed)

    def member(self, i: int) -> Seeds:
        """The seeds of member ``i`` (0-based) of an ensemble."""
        return Seeds(self.seed, (*self.key, len(STREAMS), check_count(i, "member", minimum=0)))

    def stream(self, name: Stream) -> int:
        """The seed of stream ``name``, in ``[0, 2**63)``."""
        child = np.random.SeedSequence(self.seed, spawn_key=(*self.key, STREAMS.index(name)))
        return int(child.generate_state(1, np.uint64)[0]) >> 1

    def generator(self, name: Stream) -> torch.Generator:
        """A CPU ``torch.Generator`` seeded with stream ``name`` (draw on the CPU, then move: the same numbers on every device)."""
        return torch.Generator().manual_seed(self.stream(name))


@contextmanager
def seeded_global_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global generator for ``device`` inside the block, and restore it after.

    That is the generator dropout and weight initialisation draw from. On an accelerator every
    device's generator is seeded, but only ``device``'s and the CPU's are restored.
    """
    if device.type == "cpu":
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            yield
        return
    index = device.index if device.index is not None else torch.get_device_module(device.type).current_device()
    with torch.random.fork_rng(devices=[index], device_type=device.type):
        torch.manual_seed(seed)
        yield


@contextmanager
def seeded_init(seed: int | Seeds | None) -> Iterator[None]:
    """Build a model inside this block to draw its initial weights from the ``init`` stream of ``seed``.

    ``seed`` is a seed, or the :class:`Seeds` of an ensemble member; ``None`` leaves torch's global
    generator as it is, so the weights are drawn from it.
    """
    if seed is None:
        yield
        return
    seeds = seed if isinstance(seed, Seeds) else Seeds(seed)
    with seeded_global_rng(seeds.stream("init"), torch.device("cpu")):
        yield


def noise_generator(seed: int | None) -> torch.Generator | None:
    """The generator of the ``noise`` stream of ``seed`` (``None`` for ``None``: torch's global one)."""
    return None if seed is None else Seeds(seed).generator("noise")


def standard_normal(n: int, dim: int, like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal noise, shape ``(n, dim)``, in the dtype and on the device of ``like``.

    Drawn on the CPU from ``generator`` (torch's global CPU generator for ``None``) and then moved,
    so that a seeded generator gives the same noise on every device.
    """
    return torch.randn(n, dim, generator=generator, dtype=like.dtype).to(like.device)


def split_rows(n: int, val_fraction: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """A random split of ``n`` rows into training and validation rows.

    Args:
        n: Number of rows.
        val_fraction: Share of the rows held out for validation, in ``(0, 1)``; ``round(val_fraction * n)`` rows.
        generator: Draws the permutation (the ``split`` stream).

    Returns:
        ``(train, val)``: row indices, CPU int64, shapes ``(n - n_val,)`` and ``(n_val,)``.

    Raises:
        ValueError: for ``val_fraction`` outside ``(0, 1)``, or a split leaving fewer than 1
            validation or 2 training rows.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    n_val = round(val_fraction * n)
    if n_val < 1 or n_val > n - 2:
        raise ValueError(
            f"val_fraction={val_fraction} of {n} rows leaves {n_val} for validation "
            f"and {n - n_val} for training; need at least 1 and 2"
        )
    perm = torch.randperm(n, generator=generator)
    return perm[n_val:], perm[:n_val]


def mean_std(T: Tensor) -> tuple[Tensor, Tensor]:
    """Column means and standard deviations of ``T (n, k)``, each ``(k,)``; the std floored at ``1e-6 * (1 + |mean|)``."""
    std, mean = torch.std_mean(T, dim=0, correction=0)
    return mean, torch.maximum(std, 1e-6 * (1 + mean.abs()))


def first_parameter(module: nn.Module) -> Tensor:
    """The first parameter of ``module``, whose dtype and device stand for the module's.

    Raises:
        ValueError: if the module has no parameters.
    """
    for parameter in module.parameters():
        return parameter
    raise ValueError(f"{type(module).__name__} has no parameters to train")


def adam(
    params: Iterable[Tensor],
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    weight_decay: float = 0.0,
) -> torch.optim.Adam:
    """Adam over ``params``, fused into one kernel where their device has one (`FUSED_ADAM_DEVICES`).

    Args:
        params: The tensors to optimize, all on one device.
        lr: Learning rate.
        betas: Adam's decay rates of the gradient's first and second moments.
        weight_decay: Decoupled (AdamW-style) weight decay.
    """
    params = list(params)
    fused = bool(params) and params[0].device.type in FUSED_ADAM_DEVICES
    return torch.optim.Adam(
        params, lr=lr, betas=betas, weight_decay=weight_decay, decoupled_weight_decay=True, fused=fused
    )


def lr_scheduler(
    optimizer: torch.optim.Optimizer, schedule: Schedule, *, total_steps: int, floor: float = 1e-3
) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning rate of ``optimizer`` per step (call ``.step()`` after each optimizer step).

    Args:
        optimizer: One learning rate for all its parameter groups.
        schedule: ``"cosine"``: annealed from the optimizer's ``lr`` to ``floor * lr`` over
            ``total_steps`` steps (``CosineAnnealingLR``); ``"constant"``: ``lr`` throughout.
        total_steps: Steps of the whole run.
        floor: Where the cosine ends, as a fraction of ``lr``.

    Raises:
        ValueError: for an unknown ``schedule``.
    """
    if schedule == "cosine":
        eta_min = floor * optimizer.param_groups[0]["lr"]
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps), eta_min=eta_min)
    if schedule == "constant":
        return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    raise ValueError(f"unknown schedule {schedule!r}; choose 'cosine' or 'constant'")


def descend(optimizer: torch.optim.Optimizer, loss: Tensor) -> None:
    """One step of ``optimizer`` down the scalar ``loss``; the gradient reaches only its parameters.

    Other tensors the loss depends on (a frozen surrogate's weights, the other player of a GAN) get
    no ``.grad``, unlike with ``loss.backward()``; parameters the loss does not reach are skipped.
    """
    params = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
    for p, grad in zip(params, torch.autograd.grad(loss, params, allow_unused=True)):
        p.grad = grad
    optimizer.step()


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How :func:`train` trains; checked on construction.

    Give ``epochs`` (epoch-based training) or ``steps`` (step-based), not both.

    Attributes:
        epochs: Passes over the training rows, each split into equal-sized batches of at most ``batch_size``.
        steps: Optimizer steps, each on ``batch_size`` rows drawn with replacement.
        batch_size: Rows per step.
        lr: Adam's (peak) learning rate.
        betas: Adam's betas.
        weight_decay: Decoupled (AdamW-style) weight decay.
        schedule: The learning rate per step, see :func:`lr_scheduler`.
        lr_floor: Where the cosine schedule ends, as a fraction of ``lr``.
        patience: Epochs without an improvement of the monitored validation value before training
            stops; ``None`` runs them all.
        progress: Show a tqdm progress bar with the latest metrics.
        desc: The progress bar's label.

    Raises:
        TypeError / ValueError: for a bad value.
    """

    epochs: int | None = None
    steps: int | None = None
    batch_size: int
    lr: float
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    schedule: Schedule = "constant"
    lr_floor: float = 1e-3
    patience: int | None = None
    progress: bool = True
    desc: str = "train"

    def __post_init__(self) -> None:
        if (self.epochs is None) == (self.steps is None):
            raise ValueError(f"give epochs or steps, not both or neither; got epochs={self.epochs}, steps={self.steps}")
        for name in ("epochs", "steps", "batch_size", "patience"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_count(value, name))
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be positive and finite, got {self.lr!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be finite and non-negative, got {self.weight_decay}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"unknown schedule {self.schedule!r}; choose 'cosine' or 'constant'")
        if not 0.0 < self.lr_floor <= 1.0:
            raise ValueError(f"lr_floor must lie in (0, 1], got {self.lr_floor}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")


@dataclass(repr=False)
class TrainLog:
    """What one :func:`train` run did, per *period*: an epoch, or a step in step-based training.

    Attributes:
        train: For each metric the step reports, its mean over each period's rows (batches weighted
            by their size); NaN for a period in which no batch reported it.
        val: For each value the validation returns, its value after each period; empty without validation.
        best: Index (0-based) of the period whose weights were kept: the best monitored validation
            value, or the last period without validation.
        periods_run: Periods trained (fewer than asked after an early stop).
        seconds: Wall-clock training time.
    """

    train: dict[str, list[float]] = field(default_factory=dict)
    val: dict[str, list[float]] = field(default_factory=dict)
    best: int = 0
    periods_run: int = 0
    seconds: float = 0.0

    def __repr__(self) -> str:
        return f"TrainLog(metrics={[*self.train, *self.val]}, best={self.best}, periods_run={self.periods_run}, seconds={self.seconds:.1f})"


def train(
    model: nn.Module,
    step: Step,
    config: TrainConfig,
    *,
    seeds: Seeds,
    n_rows: int,
    params: Iterable[Tensor] | None = None,
    validate: Callable[[], Mapping[str, float]] | None = None,
    monitor: str | None = None,
    higher_is_better: bool = False,
) -> TrainLog:
    """Train ``model`` by calling ``step`` on batches of its ``n_rows`` training rows.

    Every period (an epoch, or one step in step-based training) puts the model in train mode and
    calls ``step(batch)`` for each batch of row indices (on the model's device); each returned loss
    is descended by one :func:`adam` step (:func:`descend`: no other tensor gets a gradient), and the
    :func:`lr_scheduler` advances with every optimizer step. With ``validate``, the model is then put
    in eval mode and ``validate()`` runs without gradients; the weights of the period with the best
    ``monitor`` value are kept and restored at the end, and training stops after ``config.patience``
    periods without an improvement (a NaN value never counts as one). The model is left in eval
    mode. Torch's global generator on the model's device draws from the ``dropout`` stream of
    ``seeds`` while training, and is restored afterwards.

    Args:
        model: The module trained; it sets the device, and its state is what "the best weights" keeps.
        step: The loss of one batch, see `Step`.
        config: Epochs or steps, batch size, optimizer, schedule and stopping.
        seeds: The run's seeds; ``batches`` orders (or draws) the rows, ``dropout`` seeds dropout.
        n_rows: Number of training rows the batches index, at least 1.
        params: The tensors the trainer optimizes; default all of ``model``'s parameters.
        validate: Measures the model after each period: named floats.
        monitor: The name, among ``validate``'s values, that picks the best period.
        higher_is_better: Whether a higher ``monitor`` value is better (an accuracy) or a lower one (a loss).

    Returns:
        A :class:`TrainLog`.

    Raises:
        ValueError: for a model without parameters, no rows, ``monitor`` without ``validate`` (or
            the other way round), or ``patience`` without validation.
    """
    start = time.perf_counter()
    n_rows = check_count(n_rows, "n_rows")
    if (validate is None) != (monitor is None):
        raise ValueError("validate and monitor go together: pass both or neither")
    if config.patience is not None and validate is None:
        raise ValueError("patience stops on the validation value: pass validate and monitor too")
    device = first_parameter(model).device
    optimizer = adam(
        model.parameters() if params is None else params,
        lr=config.lr, betas=config.betas, weight_decay=config.weight_decay,
    )
    order = seeds.generator("batches")
    if config.epochs is not None:
        n_periods, n_batches = config.epochs, math.ceil(n_rows / config.batch_size)

        def batches() -> tuple[Tensor, ...]:
            return torch.randperm(n_rows, generator=order).to(device).tensor_split(n_batches)
    else:
        assert config.steps is not None
        n_periods, n_batches = config.steps, 1

        def batches() -> tuple[Tensor, ...]:
            return (torch.randint(0, n_rows, (config.batch_size,), generator=order).to(device),)

    scheduler = lr_scheduler(optimizer, config.schedule, total_steps=n_periods * n_batches, floor=config.lr_floor)
    log = TrainLog()
    best_value, best_state = math.nan, None
    with (
        seeded_global_rng(seeds.stream("dropout"), device),
        tqdm(range(n_periods), desc=config.desc, disable=not config.progress) as bar,
    ):
        for period in bar:
            model.train()
            sums: dict[str, Tensor] = {}
            rows: dict[str, int] = {}
            for batch in batches():
                loss, metrics = step(batch)
                if loss is not None:
                    descend(optimizer, loss)
                    scheduler.step()
                for name, value in metrics.items():
                    rows.setdefault(name, 0)
                    if value is not None:
                        weighted = value.detach() * batch.numel()
                        sums[name] = sums[name] + weighted if name in sums else weighted
                        rows[name] += batch.numel()
            _append(log.train, {name: float(sums[name]) / n if n else math.nan for name, n in rows.items()}, period)
            postfix = {name: f"{values[-1]:.4g}" for name, values in log.train.items()}
            if validate is not None and monitor is not None:
                model.eval()
                with torch.no_grad():
                    measured = dict(validate())
                _append(log.val, measured, period)
                score = measured[monitor]
                if best_state is None or _improves(score, best_value, higher_is_better):
                    log.best, best_value, best_state = period, score, _copy_state(model)
                postfix |= {name: f"{v:.4g}" for name, v in measured.items()} | {"best": f"{best_value:.4g}"}
            else:
                log.best = period
            log.periods_run = period + 1
            bar.set_postfix(postfix, refresh=False)
            if config.patience is not None and period - log.best >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    log.seconds = time.perf_counter() - start
    return log


def _append(columns: dict[str, list[float]], values: Mapping[str, float], period: int) -> None:
    """Add one period's ``values`` to ``columns``, NaN-padding a name that is new or missing."""
    for name in values:
        columns.setdefault(name, [math.nan] * period)
    for name, column in columns.items():
        column.append(values.get(name, math.nan))


def _improves(value: float, best: float, higher_is_better: bool) -> bool:
    """Whether ``value`` beats ``best``; NaN never does, and anything else beats a NaN ``best``."""
    if math.isnan(value):
        return False
    return math.isnan(best) or (value > best if higher_is_better else value < best)


def _copy_state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
