"""``method="amortized"``: train a generator network against the frozen surrogate, and return its designs.

Instead of optimizing each design separately, a network learns to *produce* low-energy designs,
with the surrogate's energy as its loss; once trained it serves thousands of designs in one
forward pass. Its failure mode is collapse: every noise input mapped onto one design (one basin)
that the loss likes. The defences here are a noise input and a diversity bonus on every batch,
the share of pairs of designs that lie apart (`invdesign.models.distinct_pairs`), which rewards
spreading the batch over several minima but barely pushes apart designs that share one.

`Amortized` (``method="amortized"``) trains an `invdesign.models.Generator` ``g(noise) -> design``
and returns its designs; ``result.generator.sample(n)`` draws more. The conditional inverse model
``g(noise, y*) -> design`` is `invdesign.models.fit_inverse_model`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import torch
from torch import Tensor, nn
from tqdm import tqdm

from invdesign.engine import Capabilities, Outcome, Run, TrainedSolver, count, register
from invdesign.engine.capabilities import EVERY_CONSTRAINT, EVERY_VARIABLE
from invdesign.engine.chunks import batch_limit, energies
from invdesign.engine.run import assemble, best_of
from invdesign.engine.solver import Call, deliver, training_data
from invdesign.engine.targets import hold_rows, split
from invdesign.models import (
    ConditionalGenerator,
    Generator,
    InverseModelReport,
    Seeds,
    adam,
    descend,
    distinct_from,
    distinct_pairs,
    fit_inverse_model,
    lr_scheduler,
    standard_normal,
)
from invdesign.models.mlp import ACTIVATIONS
from invdesign.objective import Objective
from invdesign.result import BatchResult, Result, Status
from invdesign.solvers.gd import GradientDescent
from invdesign.space import Box

_SCALE_PROBE = 256
"""Sobol points of the box whose median energy sets the unit of `Amortized`'s ``diversity`` (`_Unit`)."""
_LR_FLOOR = 0.01
"""The cosine schedule of the generator ends at this fraction of ``lr``."""
_TARGET_POLISH = GradientDescent(bounds="penalty")
"""The polish of served designs on a batch of targets: ``gd`` with the neural-adjoint boundary loss."""


@register
@dataclass(frozen=True, kw_only=True)
class Amortized(TrainedSolver):
    """Train an `invdesign.models.Generator` ``g(noise) -> design`` on the frozen surrogate's energy; return its designs.

    Each training step draws ``batch_size`` standard normal noise vectors, generates that batch
    of designs (search points: latent codes for an objective with a decoder), evaluates their
    energies, and takes one Adam step on the generator's weights (never the surrogate's) to lower

        ``mean(energy) / s  -  w_t * distinct``

    where ``s`` is the depth of the best minimum found so far below a typical design: the median
    energy over 256 Sobol points of the box (evaluated once at the start, counted in ``nfev``)
    less the lowest energy seen (those points and every batch so far), and ``distinct``, in
    ``[0, 1]``, is the share of pairs of the batch's designs more than about ``radius`` apart in
    unit-cube coordinates: each pair at distance ``r`` counts ``1 - exp(-(r / radius)^4)``. The
    loss is free of the units of the energy and of the box. ``distinct`` is flat for designs close
    together, so designs may gather tightly at a minimum, but it pays for spreading the batch
    over several minima: for tight groups it is the chance that two designs drawn at random lie
    in different groups (the Gini-Simpson index), so ``w = 1`` values an even split over two
    minima as much as half the depth ``s``. At the end of training a batch split over ``K``
    minima of depths ``e_i`` (in units of ``s``) is worth most with shares ``1/K + (e_i - mean
    e) / (2 w)``: with the default ``w = 4``, minima up to about ``2 w / K`` times ``s``
    shallower than the deepest keep designs (coverage first), and the polish below takes each
    design to the bottom of its minimum.

    Why this unit: with the standard deviation of the energy over the box as ``s`` (before),
    narrow wells fill so little of a high-dimensional box that the standard deviation is tiny and
    a few percent of depth between wells outweighed the bonus by far: the generator ended in 1 of
    5 wells in every seed of the 8-d task below. The default ``diversity=4`` was the smallest of
    1, 2, 4 and 8 that covered at least 80% of the wells 128-restart ``gd`` covers in every
    validation seed (100-102) of the 2-, 4- and 8-d narrow-wells tasks (8-d: 2, 3, 2 wells at 1;
    5, 3, 4 at 2; 5, 5, 4 at 4; 5, 5, 5 at 8; ``gd`` 5 in every seed).

    Two defences against collapse onto one basin (the lecture's noise input, minibatch
    statistics and repository of earlier samples):

    - a mode-seeking schedule (on by default): the weight ``w_t`` starts at ``anneal *
      diversity`` and falls geometrically to ``diversity`` at ``max_iter``. Early on the bonus
      outweighs the energy, so the generator first spreads its designs over the box; as the
      weight falls each part of the batch settles into the minimum nearest it, so it ends in
      every basin the spread reached, and the polish below takes the designs to the minima.
      (Falling only to half of the run and holding ``diversity`` for the rest, the generator
      collapsed again: one well of five in every seed of the 2-d benchmark below with 2,000
      steps.) On the narrow-wells surrogates (five wells of depth 1.0 to 0.97;
      `invdesign.tasks.wells`; ``benchmarks/amortized_wells.py``, 2,000 steps, batch 128, seeds
      0-2) it covers 5, 5, 5 wells in 2-d, 5, 5, 5 in 4-d and 5, 5, 4 in 8-d (``gd``: 5, 5, 5;
      5, 5, 5; 5, 5, 4), where ``diversity=0`` covers 1 in every seed;
    - a replay store of ``replay`` earlier designs (off by default): filled from the untrained
      generator's batch, after every step ``replay // 16`` slots drawn at random take designs of
      the new batch (a design stays about 16 steps on average), and ``distinct`` becomes the mean
      of the share above and the share of (batch, store) pairs apart
      (`invdesign.models.distinct_from`; the latter alone for a batch of one design), rewarding designs that go where the generator has not
      been lately. It helps where the batch is too small to measure its own spread: with one
      design per step (no pair to spread; 1,000 steps on the 2-d wells' own energy, wells reached
      by 512 served designs, seeds 0-5) the generator reached 4, 3, 4, 3, 1, 2 wells without a
      store and 5 in every seed with ``replay=256``; in 4-d 1 in every seed against 4, 5, 3, 2, 3,
      2. With batches of 4 or more it did not raise coverage: on the 2-d wells surrogates it did
      not change it (batches of 4 to 256, with and without the schedule), with a weaker schedule
      (``anneal=100``) it lowered it (1, 1, 3 wells against 3, 4, 3), and on the 2-d wells' own
      energy without the schedule (400 steps, seeds 0-2) it lowered it too: batch 4,
      ``diversity=1``: 5, 4, 3 with ``replay=256`` against 5, 5, 5 without. In expectation the
      store's term equals the batch's own (both estimate the chance that two designs lie in
      different groups), so beside a batch that measures it, it acts only through the store's
      lag; it is an option, not a default.

    ``diversity=0`` turns the bonus off (store and schedule included), and the generator then
    typically collapses onto one basin. The bonus costs ``O(batch_size * (batch_size + replay))``
    per step.

    The batch is what the run returns: the designs of the last batch, drawn by the generator
    after its last step, each polished by ``polish`` steps of batched ``gd`` (a callback's stop
    skips the polish), best first. The history has one row per batch (row 0 is the untrained
    generator's), then the polish's rows as ``gd`` records them (its iterations counted from 1),
    and its ``best`` column is the lowest energy **in that batch**, not so far:
    the generator is trained for its whole batch, so an earlier batch can hold a lower single
    energy than the final one. The callback sees the best design of each batch; on
    ``StopIteration`` the run returns that batch. ``result.generator`` is the trained
    generator: ``result.generator.sample(n)`` serves ``n`` more designs (search points) in one
    forward pass. Designs with a NaN or infinite energy are left out of the loss.

    On an `invdesign.Space` the generator makes relaxed search points (`Space.coordinates`),
    projected exactly onto the feasible set (compositions, linear constraints) inside the loss;
    the returned designs are rounded (integers, categoricals), and ``result.generator.sample(n)``
    gives search points: ``space.coordinates().designs(...)`` turns them into feasible designs.

    ``max_iter`` is the number of training steps; ``x0`` and ``n_restarts`` are refused (there
    are no starting points, only the generator's random initial weights, drawn from ``seed``).
    On a batch of targets, `fit_targets` trains one conditional generator ``g(noise, y*)`` that
    serves every target ``batch_size`` designs; each target's ``polish_top`` best served designs
    are polished by ``polish`` steps of ``gd`` with the neural-adjoint boundary loss
    (``bounds="penalty"``), every target's in one batch (each design judged against its own
    target), and the rest are returned as served: serving is one forward pass plus a short batched
    descent. `serve` does the same for new targets from a trained conditional generator. Why the
    boundary loss and the best 20 (measured on the robot arm, validation seed 1, and the reported
    seed 0; ``benchmarks/amortized_robot_arm.py``: `fit_inverse_model` with 10,000 steps, 200
    test targets x 50 designs, 2 CPU cores): target matching has many exact solutions, and a
    projected polish pins some at the box's faces, where the surrogate extrapolates; there the
    top-ranked design of a few targets was off by 1e-3 in truth. Polishing every served design
    ranks more such designs first: r_1 / r_10 with the boundary loss, polishing the best 10, 20
    or 50 of 50, were 4.3e-7 / 7.0e-8, 5.8e-7 / 6.0e-8 and 1.4e-5 / 6.6e-8 on seed 1 (projected:
    2.0e-6 / 7.0e-8, 1.8e-6 / 7.4e-8, 3.3e-6 / 1.2e-7); gd with 2,048 restarts per target
    1.0e-4 / 1.1e-7. On the reported seed 0, served: 7.9e-5 / 7.7e-5; with the polish (the best
    20 of 50, 100 steps, boundary loss) 2.1e-6 / 5.5e-8, against 1.9e-6 / 4.0e-8 for ``gd``
    with 2,048 restarts per target; serving takes 16-21 ms, 0.47 s and 0.63 s with the polish
    (slowest of 5, two runs; polishing all 50 took 0.8-1.1 s).

    The weights come
    from the ``init`` stream of ``seed`` and the noise from its ``noise`` stream
    (`invdesign.models.train.Seeds`), so ``result.generator.sample(k, seed=seed)`` is the noise of
    the untrained generator's batch.

    Attributes:
        batch_size: Designs per training step, and designs returned.
        noise_dim: Dimension of the generator's noise input.
        hidden: Widths of the generator's hidden layers.
        activation: The generator's nonlinearity, one of `invdesign.models.mlp.ACTIVATIONS`.
        lr: Adam's learning rate for the generator's weights, annealed by a cosine schedule to
            ``lr / 100`` at ``max_iter``.
        diversity: Weight of the diversity bonus at the end of training, in units of the depth
            ``s`` above; 0 turns it off. On a batch of targets only "on or off" carries over
            to the conditional generator (`fit_targets`).
        radius: Distance in unit-cube coordinates beyond which two designs count as distinct
            (about half the distance between the minima to be told apart).
        replay: Designs in the replay store; 0 (the default) turns it off.
        polish: Steps of batched ``gd`` on the energy from every design of the last batch
            (``gd``'s default options; on a batch of targets: from each target's ``polish_top``
            best served designs of finite energy, with ``bounds="penalty"``) before they are
            returned (0: none). The returned designs are the polished ones;
            ``result.generator.sample(n)`` serves unpolished ones.
        polish_top: On a batch of targets, the served designs per target that are polished
            (the lowest energies; all when fewer are served).
        anneal: The diversity weight starts at ``anneal`` times ``diversity`` (1: no schedule).
        progress: Show a tqdm progress bar over the training steps.
    """

    name: ClassVar[str] = "amortized"
    capabilities: ClassVar[Capabilities] = Capabilities(
        gradients=True,
        x0=False,
        budget="steps",
        default_budget=2000,
        amortizes_targets=True,
        batches_targets=True,
        variables=EVERY_VARIABLE,
        constraints=EVERY_CONSTRAINT,
    )

    batch_size: int = 256
    noise_dim: int = 8
    hidden: tuple[int, ...] = (128, 128)
    activation: str = "silu"
    lr: float = 1e-2
    diversity: float = 4.0
    radius: float = 0.15
    replay: int = 0
    anneal: float = 1000.0
    polish: int = 100
    polish_top: int = 20
    progress: bool = False

    def __post_init__(self) -> None:
        count("amortized option batch_size", self.batch_size, minimum=1)
        count("amortized option noise_dim", self.noise_dim, minimum=1)
        hidden = tuple(self.hidden)
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in hidden):
            raise ValueError(f"amortized option hidden must be positive integer widths, got {self.hidden!r}")
        object.__setattr__(self, "hidden", hidden)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"amortized option activation={self.activation!r} is not one of {', '.join(map(repr, ACTIVATIONS))}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"amortized option lr must be positive and finite, got {self.lr}")
        if not (math.isfinite(self.diversity) and self.diversity >= 0):
            raise ValueError(f"amortized option diversity must be finite and non-negative, got {self.diversity}")
        if not (math.isfinite(self.radius) and self.radius > 0):
            raise ValueError(f"amortized option radius must be positive and finite, got {self.radius}")
        count("amortized option replay", self.replay, minimum=0)
        count("amortized option polish", self.polish, minimum=0)
        count("amortized option polish_top", self.polish_top, minimum=1)
        if not (isinstance(self.anneal, (int, float)) and math.isfinite(self.anneal) and self.anneal >= 1):
            raise ValueError(f"amortized option anneal must be a number >= 1, got {self.anneal!r}")

    def batches(self, objective: Objective, call: dict[str, Any]) -> bool:
        """A batch of targets on a box, searched through the model alone (no decoder, penalties or
        ensemble rule), with training steps to take and no callback to show them to, is served by
        one conditional generator (`fit_targets`); any other runs target by target."""
        plain = objective.decoder is None and not objective.penalties and objective.rule is None
        return isinstance(objective.space, Box) and plain and call.get("callback") is None and call.get("max_iter") != 0

    def _execute(self, run: Run, call: Call) -> Result | BatchResult:
        objective = run.objective
        if objective.targets is None:
            return super()._execute(run, call)
        # One conditional generator g(noise, y*) trained on this batch's targets, then batch_size designs per target.
        seed = self.seed_of(call.seed)
        # The adapter: the model's outputs as (b, k), whatever shape the model itself returns.
        generator, report = self.fit_targets(cast(nn.Module, objective.adapter), cast(Box, objective.space), objective.targets, max_iter=call.budget, seed=seed)
        T = objective.targets.shape[0]
        outcome = self._serve(run, generator, self.batch_size, seed)
        message = f"one conditional generator for all {T} targets, {call.budget} training steps; {outcome.message}"
        options, results = self.record(call), []
        for own, part in split(run, outcome):
            # Each target's share of the training evaluations, beside its own; nit counts training steps.
            own = dataclasses.replace(own, nfev=own.nfev + report.evaluations // T)
            results.append(assemble(self.name, options, own, part._replace(status=Status.MAX_ITER, nit=call.budget, message=message)))
        return BatchResult(results, objective.targets, self.name, time.perf_counter() - run.t0)

    def serve(self, generator: ConditionalGenerator, objective: Objective, n: int | None = None, *, seed: int | None = None) -> BatchResult:
        """Designs for the targets of ``objective`` from a trained conditional generator, polished as on a batch of targets.

        The generator serves ``n`` designs per target in one forward pass, and each target's
        ``polish_top`` best are polished by ``polish`` steps of batched ``gd`` with the boundary
        loss, every target in one batch (as `minimize` does on a batch of targets after training).

        Args:
            generator: A trained `ConditionalGenerator` (`fit_targets`'s, or
                `invdesign.models.fit_inverse_model`'s) on the objective's box.
            objective: ``Objective(model, box, target=Y)`` with ``Y`` of shape ``(T, k)``.
            n: Designs per target; ``None`` for ``batch_size``.
            seed: Seeds the generator's noise; ``None`` for a random one.

        Returns:
            One `Result` per target: ``result[t].X`` its designs ``(n, d)``, best first
            (``result.X``: ``(T, n, d)``); ``nfev`` counts the evaluations of serving, not of
            training. With training data on the objective (``data=``), each result carries the
            trust report of its designs, as `invdesign.minimize`'s do.

        Raises:
            TypeError: for a generator that is not a `ConditionalGenerator`.
            ValueError: for an objective without a batch of targets, on a space that is not a
                `Box`, with a decoder, penalties or an ensemble rule; for a generator trained on
                another box or for targets of another width; for ``n`` below 1.
        """
        if not isinstance(generator, ConditionalGenerator):
            raise TypeError(f"serve needs a trained ConditionalGenerator (fit_targets, fit_inverse_model), got {type(generator).__name__}")
        targets = objective.targets if isinstance(objective, Objective) else None
        if targets is None or not self.batches(objective, {}):
            raise ValueError(
                "serve needs an Objective(model, box, target=Y) with a batch of targets (Y of shape (T, k)) on a Box, "
                "without a decoder, penalties or an ensemble rule"
            )
        if targets.shape[-1] != generator.target_dim:
            raise ValueError(f"the generator serves targets of width {generator.target_dim}, the objective's have width {targets.shape[-1]}")
        box = cast(Box, objective.space)
        if generator.space != box.to(generator.space.dtype):
            raise ValueError(f"the generator was trained on another box than the objective's {box!r}")
        n = self.batch_size if n is None else count("n", n, minimum=1)
        data, why_not = training_data(objective, None)  # before serving: a bad data set fails early
        seed = self.seed_of(seed)
        run = Run(objective, objective.space.coordinates())
        outcome = self._serve(run, generator, n, seed)
        options = {**self.options, "n": n, "seed": seed}
        results = []
        for t, (own, part) in enumerate(split(run, outcome)):
            results.append(assemble(self.name, options, own, part._replace(status=Status.MAX_ITER, message=f"target {t}: {outcome.message}")))
        return cast(BatchResult, deliver(BatchResult(results, targets, self.name, time.perf_counter() - run.t0), objective, data, why_not))

    def _serve(self, run: Run, generator: ConditionalGenerator, n: int, seed: int) -> Outcome:
        """``n`` designs per target of ``run``'s objective from ``generator``, every target's rows in
        one batch (`hold_rows`); each target's ``polish_top`` best of finite energy polished by
        ``polish`` steps of ``gd`` with the boundary loss. ``nit`` is the polish's steps."""
        targets = run.objective.targets
        assert targets is not None
        T = targets.shape[0]
        with torch.no_grad():
            x = generator.sample(targets, n, seed=seed).reshape(T * n, -1)
            u = run.view.to_search(x.to(dtype=run.objective.dtype, device=run.objective.device))
        # Row i judged against target which[i] (as gd's restarts).
        hold_rows(run, T, n, u.device)
        run.rows_per_pass = batch_limit(run, u, None)
        f = energies(run, u, run.rows_per_pass)
        finite = torch.isfinite(f)
        run.record(0, float(f[finite].min()) if finite.any() else math.inf, T * n)
        message = f"{n} designs per target."
        chosen = finite & (_rank_within_targets(f, T, n) < self.polish_top)
        if not (self.polish and chosen.any()):
            return Outcome(u, f, Status.MAX_ITER, message, 0, generator)
        # gd from each target's best served designs, every target's rows in one batch: the generator's reach, gd's precision.
        which, row_evals = run.which, run.row_evals
        assert which is not None and row_evals is not None  # held by hold_rows above
        run.which, run.row_evals = which[chosen], row_evals[chosen]
        polished = _TARGET_POLISH.search(run, u[chosen], f[chosen], max_iter=self.polish)
        row_evals[chosen] = run.row_evals
        run.which, run.row_evals = which, row_evals
        U, F = u.clone(), f.clone()
        U[chosen], F[chosen] = polished.U, polished.F
        message = (
            f"{n} designs per target, the best {min(self.polish_top, n)} of each polished by up to {self.polish} steps of gd "
            f"with the boundary loss: {polished.message}"
        )
        return Outcome(U, F, Status.MAX_ITER, message, polished.nit, generator)

    def train(self, run: Run, *, max_iter: int, seed: int) -> Outcome:
        """Train a generator for ``max_iter`` steps on batches of ``batch_size``; the last batch is the outcome."""
        objective, view, k = run.objective, run.view, self.batch_size
        seeds = Seeds.of(seed)
        # A box's generator makes its designs; a space's makes relaxed search points, projected onto the feasible set.
        lower, upper = view.bounds
        # A column pinned by its bounds gets a unit of room; the projection pins it again.
        box = objective.space if isinstance(objective.space, Box) else Box(lower, torch.where(upper > lower, upper, lower + 1))
        generator = Generator(box, noise_dim=self.noise_dim, hidden=self.hidden, activation=self.activation, seed=seeds.seed)
        with torch.no_grad():
            unit = _Unit(run.evaluate(objective.space.sample(_SCALE_PROBE, seed=seeds.seed)))
        rng = seeds.generator("noise")
        store = _Replay(self.replay, seeds.generator("batches")) if self.diversity > 0 and self.replay > 0 else None
        optimizer = adam(generator.parameters(), lr=self.lr)
        scheduler = lr_scheduler(optimizer, "cosine", total_steps=max_iter, floor=_LR_FLOOR)
        status, nit = Status.MAX_ITER, 0
        with tqdm(total=max_iter, desc=self.name, disable=not self.progress, leave=False) as bar:
            while True:
                u = generator.unit(standard_normal(k, self.noise_dim, objective.space.lower, rng))
                if box is not objective.space:
                    u = view.project(box.coordinates().to_design(u))
                f = run.energy(u)
                finite = torch.isfinite(f.detach())
                best_f = float(f.detach()[finite].min()) if finite.any() else math.inf
                run.record(nit, best_f, k)
                unit.see(best_f)
                bar.set_postfix(best=f"{best_f:.4g}", refresh=False)
                if run.stop_requested(best_of(u.detach(), f.detach())):
                    status = Status.STOPPED
                    break
                if nit == max_iter:
                    break
                if finite.any():
                    loss = f[finite].mean() / unit.value
                    shares = [distinct_pairs(u, self.radius)] if self.diversity > 0 and k > 1 else []
                    if store is not None and store.designs is not None:
                        shares.append(distinct_from(u, store.designs, self.radius))
                    if shares:
                        loss = loss - self._weight(nit, max_iter) * sum(shares) / len(shares)
                    descend(optimizer, loss)
                    scheduler.step()
                if store is not None:
                    store.add(u.detach())
                nit += 1
                bar.update()
        message = {Status.MAX_ITER: f"reached max_iter={max_iter}.", Status.STOPPED: "stopped by the callback."}[status]
        n_bad = int((~finite).sum())
        if n_bad:
            message += f" {n_bad} of {k} generated designs have a NaN or infinite energy (ranked last)."
        generator.eval()
        u, f = u.detach(), f.detach()
        if self.polish and status is not Status.STOPPED:
            # gd from every generated design: the generator's spread, gd's precision.
            polished = GradientDescent().search(run, u, f, max_iter=self.polish)
            u, f = polished.U.detach(), polished.F.detach()
            if polished.status is Status.STOPPED:
                status = Status.STOPPED
                message += f" The polish was stopped by the callback after {polished.nit} of {self.polish} gd steps."
            else:
                message += f" Designs polished by {self.polish} steps of gd."
        return Outcome(u, f, status, message, nit, generator)

    def _weight(self, step: int, max_iter: int) -> float:
        """The diversity weight at ``step``: ``anneal * diversity`` falling geometrically to ``diversity`` at ``max_iter``."""
        return self.diversity * self.anneal ** (1 - step / max(max_iter, 1))

    def fit_targets(
        self, model: nn.Module, space: Box, Y: Tensor, *, max_iter: int | None = None, seed: int | None = None
    ) -> tuple[ConditionalGenerator, InverseModelReport]:
        """One conditional generator ``g(noise, y*)`` for every target of a target task (`invdesign.models.fit_inverse_model`).

        The solver's ``batch_size``, ``radius`` and ``progress`` carry over, and ``diversity=0``
        turns the conditional generator's diversity term off; otherwise the conditional network
        keeps `fit_inverse_model`'s own diversity weight (its loss is a squared error in the
        outputs' standard deviations, not an energy in units of a depth), shape, noise and
        learning rate, which suit a generator that also reads the target. ``max_iter`` is its
        training steps.

        Args:
            model: The surrogate, designs ``(b, d)`` -> outputs ``(b, k)``.
            space: The box of the designs.
            Y: The data's outputs, shape ``(n, k)``: the targets trained on.
            max_iter: Training steps (``None``: `fit_inverse_model`'s default).
            seed: Seeds the generator.
        """
        steps: dict[str, Any] = {} if max_iter is None else {"steps": max_iter}
        return fit_inverse_model(
            model, space, Y, batch_size=self.batch_size, diversity=None if self.diversity > 0 else 0.0, radius=self.radius,
            progress=self.progress, seed=seed, **steps,
        )


def _rank_within_targets(f: Tensor, T: int, n: int) -> Tensor:
    """The rank ``(T n,)`` of each energy of ``f`` ``(T n,)`` among its target's ``n`` (row ``i``: target ``i // n``), lowest 0, NaN last."""
    order = torch.where(torch.isfinite(f), f, math.inf).view(T, n).argsort(dim=1, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(n, device=f.device).expand(T, n))
    return rank.reshape(-1)


class _Replay:
    """`Amortized`'s replay store: ``size`` earlier designs, refreshed at random."""

    REFRESH = 16
    """After each step ``size // REFRESH`` slots (at least one) take designs of the new batch."""

    def __init__(self, size: int, generator: torch.Generator) -> None:
        self.size, self.generator = size, generator
        self.designs: Tensor | None = None

    def add(self, u: Tensor) -> None:
        """Store designs of the batch ``u`` ``(k, d)``: the whole store at first, then ``size // REFRESH`` random slots."""
        k = u.shape[0]
        if self.designs is None:
            self.designs = u[torch.randint(k, (self.size,), generator=self.generator).to(u.device)].clone()
            return
        m = max(1, self.size // self.REFRESH)
        slots = torch.randperm(self.size, generator=self.generator)[:m].to(u.device)
        self.designs[slots] = u[torch.randint(k, (m,), generator=self.generator).to(u.device)]


class _Unit:
    """`Amortized`'s unit of energy: the typical energy of the box (the median over Sobol points)
    less the lowest energy seen so far, so the depth of the best minimum found; 1.0 until that is positive."""

    def __init__(self, probe: Tensor) -> None:
        finite = probe[torch.isfinite(probe)]
        self.typical = float(finite.median()) if finite.numel() else math.nan
        self.lowest = float(finite.min()) if finite.numel() else math.inf

    def see(self, f: float) -> None:
        """Count the energy ``f`` (a batch's lowest) among those seen."""
        self.lowest = min(self.lowest, f)

    @property
    def value(self) -> float:
        depth = self.typical - self.lowest
        return depth if math.isfinite(depth) and depth > 0 else 1.0
