"""``method="cmaes"``: CMA-ES from the `cma` package, searching the space's search coordinates (a box's unit cube).

Each round asks cma for one whole population and evaluates it as one batch. cma's state is not
JSON, so a saved run is resumed by replaying it: the strategy is rebuilt from the run's seed and
told the saved populations again, which gives back exactly the state it had.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import cma
import numpy as np
import torch
from torch import Tensor

from invdesign.engine import AskTell, Capabilities, SampleSolver, count, register
from invdesign.engine.ask_tell import SAMPLE_CAPABILITIES
from invdesign.space import DesignSpace


@register
@dataclass(frozen=True, kw_only=True)
class CMAES(SampleSolver):
    """Covariance matrix adaptation evolution strategy (`cma.CMAEvolutionStrategy`).

    The search runs in the space's search coordinates (the unit cube of a box), with cma's own
    bound handling on them, so every asked design lies in the box and ``sigma0`` means the same on every box.
    The search distribution starts at the centre of the box, or at the best of the designs told
    before the first ask (``minimize``'s ``x0``). With ``restarts`` (the default), whenever cma's
    own stopping rules say the strategy has converged or stalled (``tolfun``, ``tolx``,
    ``tolflatfitness``, ...), a new one starts at a random point of the box with the same
    ``sigma0`` and ``popsize``, so the budget is not spent on a collapsed distribution; without,
    the collapsed strategy goes on sampling. Either way the run spends its whole ``max_evals``.

    - One round is one population: ``batch`` is always the population size.
    - A failed evaluation (NaN or infinite energy) stays NaN or infinite in the told data, where
      it counts as failed; cma itself is told ``worst + max(1, |worst|)``, where ``worst`` is the
      worst finite energy told so far (0 if there is none), so a failed design ranks below every
      finite one.
    - Randomness comes from a NumPy generator private to the run, seeded by the run's seed and
      handed to cma as its ``randn`` option. cma's ``seed`` option is not used: it reseeds NumPy's
      global generator, so two runs in one process, or a model drawing random numbers, would
      change each other's designs, and a saved run could not be replayed.

    Attributes:
        sigma0: Initial step size, as a fraction of the box's width, in ``(0, 1]``.
        popsize: Designs per population; ``None`` for cma's default, ``4 + floor(3 ln d)``.
        restarts: Start a new strategy at a random point when cma's stopping rules fire.
        batch: The population size; leave it ``None`` (it is filled in with ``popsize`` once the
            dimension is known).
    """

    name: ClassVar[str] = "cmaes"
    capabilities: ClassVar[Capabilities] = dataclasses.replace(SAMPLE_CAPABILITIES, default_budget=1000)

    batch: int | None = None  # type: ignore[assignment]  # filled in from the dimension (for_dim)
    sigma0: float = 0.3
    popsize: int | None = None
    restarts: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.sigma0, bool) or not (isinstance(self.sigma0, (int, float)) and 0 < self.sigma0 <= 1):
            raise ValueError(
                f"cmaes option sigma0 must be in (0, 1] (a fraction of the box's width), got {self.sigma0!r}"
            )
        if self.popsize is not None:
            count("cmaes option popsize", self.popsize, minimum=3)
        if not isinstance(self.restarts, bool):
            raise TypeError(f"cmaes option restarts must be True or False, got {self.restarts!r}")
        if self.batch is not None and self.batch != self.popsize:
            raise ValueError(
                f"cmaes evaluates one whole population per round, so batch is the population size; "
                f"pass popsize={self.batch} instead of batch={self.batch}"
            )

    def for_dim(self, dim: int) -> CMAES:
        """This solver with ``popsize`` (cma's default when ``None``) and ``batch`` set for dimension ``dim``."""
        popsize = default_popsize(dim) if self.popsize is None else self.popsize
        return dataclasses.replace(self, popsize=popsize, batch=popsize)

    def optimizer(self, space: DesignSpace, *, seed: int | None = None) -> CMAESAskTell:
        return CMAESAskTell(self.for_dim(space.dim), space, seed)


@functools.lru_cache
def default_popsize(dim: int) -> int:
    """cma's default population size in dimension ``dim``, read from its default options."""
    return int(cma.CMAOptions().evalall({"N": dim})["popsize"])


class CMAESAskTell(AskTell):
    """Ask/tell state of `CMAES`: the cma strategy, its current population and what was told of it.

    - ``ask(n)`` hands out the next ``n`` designs of the current population, but never more than
      it has left (``ask()`` hands out all that is left, normally a whole population): cma can
      sample the next population only once the current one is told. A batch that ended inside a
      population (a budget that is not a multiple of ``popsize``) is thus completed first when the
      run goes on, and the designs asked are the same however the run was cut into batches.
    - ``tell`` takes back exactly the designs asked, in the order asked; cma is told a population
      once all of it has been told. Designs told before the first ask are start designs: the search
      starts at the best of them (with a finite energy). Any other design is refused with a
      ValueError; cma's ``inject`` is not used, so every told energy belongs to a design cma drew.

    Attributes:
        es: The `cma.CMAEvolutionStrategy`, ``None`` before the first ask; for inspection only,
            since a saved run is resumed by replaying it, not by restoring ``es``.
        n_start: Designs told before the first ask.
        n_restarts: Strategies started afresh after cma's stopping rules fired.
    """

    solver: CMAES

    def __init__(self, solver: CMAES, space: DesignSpace, seed: int | None = None) -> None:
        super().__init__(solver, space, seed)
        self._reset()

    def _reset(self) -> None:
        """Forget cma's state (the told data is kept by the base class)."""
        self.es: cma.CMAEvolutionStrategy | None = None
        self.n_start = 0
        self.n_restarts = 0
        self._rng = np.random.default_rng(self.seed)  # every random number of the run
        self._start: Tensor | None = None  # best start design, search coordinates, (d,)
        self._start_f = math.inf
        self._worst = -math.inf  # worst finite energy told so far
        self._population: list[np.ndarray] = []  # as cma returned them: tell must give cma these objects back
        self._population_u: Tensor | None = None  # the same points as a tensor in the space's dtype, (popsize, d)
        self._energies: list[float] = []  # told energies of the current population, in order
        self._handed = 0  # designs of the current population handed out by ask

    @property
    def n_pending(self) -> int:
        """Designs asked but not told yet."""
        return self._handed - len(self._energies)

    def propose(self, n: int | None) -> Tensor:
        """The next search points of the current population, shape ``(m, d)`` with ``m = min(n, left)``.

        Raises:
            ValueError: if the whole population was asked but not all of it told.
        """
        if self._population_u is None:
            self._sample_population()
        assert self._population_u is not None
        left = self._population_u.shape[0] - self._handed
        if left == 0:
            raise ValueError(
                f"tell the {self.n_pending} designs asked last first: CMA-ES samples its next population "
                "only once the current one is told"
            )
        m = left if n is None else min(n, left)
        u = self._population_u[self._handed : self._handed + m].clone()
        self._handed += m
        return u

    def _sample_population(self) -> None:
        if self.es is None:
            start = None if self._start is None else self._start.detach().cpu().double().numpy()
            centre = self.view.bounds.mean(dim=0).cpu().double().numpy()
            self.es = self._new_strategy(centre if start is None else start)
        self._population = self.es.ask()
        u = torch.as_tensor(np.stack(self._population)[:, : self.dim] / self._scale, device=self.space.device)
        self._population_u = self.view.project(u.to(self.space.dtype))

    def _new_strategy(self, mean: np.ndarray) -> cma.CMAEvolutionStrategy:
        """A cma strategy centred at ``mean`` (search coordinates, ``(d,)``), drawing from the run's generator."""
        rng = self._rng

        def randn(*shape: int) -> np.ndarray:
            return rng.standard_normal(shape)

        scale = self._scale
        lower, upper = self.view.bounds.cpu().double().numpy() * scale
        # A column pinned by its bounds gets room for cma's sampling; the projection pins it again.
        upper = np.where(upper > lower, upper, lower + scale)
        if self.dim == 1:
            # cma needs two dimensions; the second is a dummy the energy never sees.
            lower, upper, scale, mean = np.append(lower, 0.0), np.append(upper, 1.0), np.append(scale, 1.0), np.append(mean, 0.5)
        options: dict[str, Any] = {
            "bounds": [lower.tolist(), upper.tolist()],
            "popsize": self.solver.popsize,
            "randn": randn,
            "seed": math.nan,  # cma leaves NumPy's global generator alone
            "verbose": -9,
            "verb_disp": 0,
            "verb_log": 0,
        }
        discrete = np.flatnonzero(self.view.discrete.cpu().numpy()).tolist()
        if discrete:
            # cma's integer handling (integer_variables) keeps a discrete column's step from shrinking below one grid step.
            options.update({"integer_variables": discrete, "CMA_stds": scale.tolist()})
        return cma.CMAEvolutionStrategy(mean * scale, self.solver.sigma0, options)

    @property
    def _scale(self) -> np.ndarray:
        """cma's coordinates per search coordinate: discrete columns count their grid steps (cma's
        integer handling works in whole units), the others are the search coordinates, ``(d,)``."""
        scale = np.ones(self.dim)
        for column, levels in self.view.integers + [(c, k) for c, _, k in self.view.ordinal]:
            scale[column] = levels - 1
        return scale

    def observe(self, u: Tensor, y: Tensor) -> None:
        if self.es is None:
            self._tell_start(u, y)
            return
        told, n = len(self._energies), u.shape[0]
        if self.n_pending == 0:
            raise ValueError(
                "cmaes was told designs it did not ask for: only designs told before the first ask "
                "(start designs) or the designs ask returned can be told"
            )
        if told + n > self._handed or not torch.equal(u, self._population_u[told : told + n]):  # type: ignore[index]
            raise ValueError(
                f"cmaes must be told exactly the designs it asked for, in the order asked: "
                f"{self.n_pending} asked designs are waiting, and tell got {n} that are not the next of them"
            )
        self._note_worst(y)
        self._energies.extend(float(v) for v in y.tolist())
        if len(self._energies) == len(self._population):
            fail = self._failure_value()
            self.es.tell(self._population, [f if math.isfinite(f) else fail for f in self._energies])
            self._population, self._population_u, self._energies, self._handed = [], None, [], 0
            if self.solver.restarts and self.es.stop():
                lower, upper = self.view.bounds.cpu().double().numpy()
                self.es = self._new_strategy(self._rng.uniform(lower, upper, size=self.dim))
                self.n_restarts += 1

    def _tell_start(self, u: Tensor, y: Tensor) -> None:
        self._note_worst(y)
        self.n_start += u.shape[0]
        key = torch.where(torch.isfinite(y), y, torch.full_like(y, math.inf))
        i = int(torch.argmin(key))
        if float(key[i]) < self._start_f:
            self._start, self._start_f = self.view.project(u[i]), float(key[i])

    def _note_worst(self, y: Tensor) -> None:
        finite = y[torch.isfinite(y)]
        if finite.numel():
            self._worst = max(self._worst, float(finite.max()))

    def _failure_value(self) -> float:
        """What cma is told for a failed design: worse than every finite energy told so far."""
        if self._worst == -math.inf:
            return 0.0
        fail = self._worst + max(1.0, abs(self._worst))
        return fail if math.isfinite(fail) else sys.float_info.max

    def extra_state(self) -> dict[str, Any]:
        return {"n_start": self.n_start, "pending": self.n_pending, "cma_version": cma.__version__}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Rebuild cma's state by replaying the told batches from the run's seed.

        Raises:
            ValueError: if the replay asks for other designs than the saved ones (a file edited,
                or saved with another version of cma).
        """
        self._reset()
        n_start, start = int(state["n_start"]), 0
        eps = torch.finfo(self.space.dtype).eps
        atol = 4 * eps * float(torch.maximum(self.space.lower.abs(), self.space.upper.abs()).max())
        for n in self.batches:
            x, u, y = self.X[start : start + n], self.U[start : start + n], self.Y[start : start + n]
            if start >= n_start:
                asked = self.ask(n)
                if asked.shape != x.shape or not torch.allclose(asked, x, rtol=0.0, atol=atol):
                    raise ValueError(
                        f"cannot resume this cmaes run: replaying it from seed {self.seed} asks for other "
                        f"designs than the saved ones at told design {start} (saved with cma "
                        f"{state.get('cma_version', '?')}, this is cma {cma.__version__})"
                    )
                u = self._asked_u  # the same points; on another device they may differ in the last bit
            self.observe(u, y)
            start += n
        if state["pending"]:
            self.ask(int(state["pending"]))
