"""``method="bo"``: Bayesian optimization with BoTorch, a GP of the energy and batch log-EI.

Also the pieces the model-based sample solvers share (`method="turbo"` uses them too):

- `to_utility`, the one place the sign flips: invdesign minimizes energies, BoTorch maximizes,
  so every BoTorch model here is trained on ``-energy``;
- `fit_gp`, a `SingleTaskGP` on search coordinates with standardised outputs, fitted by
  `fit_gpytorch_mll`;
- `ModelAskTell`, the ask/tell state with the Sobol initial design, the seeding that makes every
  ask a function of ``(seed, told data)``, and the per-round GP fit times.

The GP is always fitted in float64 on the box's device, whatever the box's dtype, on the search
coordinates of the space (its unit cube); designs are returned in the box's dtype.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.logei import qLogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf, optimize_acqf_mixed_alternating
from gpytorch.kernels import Kernel
from gpytorch.likelihoods import Likelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from invdesign.engine import AskTell, Capabilities, SampleSolver, register
from invdesign.engine.ask_tell import SAMPLE_CAPABILITIES
from invdesign.result import Result
from invdesign.space import DesignSpace, SpaceView, UnitCube

_SOBOL_STREAM = 104_729
"""Offset between the Sobol sequences of successive initial designs (a prime, so seeds don't collide)."""


def to_utility(energy: Tensor) -> Tensor:
    """What BoTorch maximizes: the negated energy, ``(n,) -> (n, 1)``.

    The only sign flip between invdesign (lower energy is better) and BoTorch (higher is better).
    """
    return -energy.unsqueeze(-1)


def fit_gp(
    u: Tensor,
    energy: Tensor,
    *,
    covar_module: Kernel | None = None,
    likelihood: Likelihood | None = None,
    cat_dims: list[int] | None = None,
) -> tuple[SingleTaskGP, float]:
    """A `SingleTaskGP` of the utility (`to_utility`) of ``energy``, fitted by marginal likelihood.

    Args:
        u: Training inputs in search coordinates, shape ``(n, d)``, float64.
        energy: Their finite energies, shape ``(n,)``, float64.
        covar_module: The kernel; ``None`` for BoTorch's default (RBF with dimension-scaled
            lengthscale priors).
        likelihood: The likelihood; ``None`` for BoTorch's default.
        cat_dims: Columns of ``u`` that hold categorical level indices: the GP is then a
            `MixedSingleTaskGP` (a categorical kernel on those columns, BoTorch's default kernel on
            the rest; ``covar_module`` is not used).

    Returns:
        The fitted model (outputs standardised by a `Standardize` outcome transform; its posterior
        is on the utility scale) and the seconds the fit took.
    """
    model: SingleTaskGP
    if cat_dims:
        model = MixedSingleTaskGP(u, to_utility(energy), cat_dims=cat_dims, likelihood=likelihood, outcome_transform=Standardize(m=1))
    else:
        model = SingleTaskGP(
            u, to_utility(energy), likelihood=likelihood, covar_module=covar_module, outcome_transform=Standardize(m=1)
        )
    t0 = time.perf_counter()
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model, time.perf_counter() - t0


def default_n_init(dim: int) -> int:
    """Sobol points before the first GP when ``n_init`` is not given: ``2 (d + 1)``."""
    return 2 * (dim + 1)


class ModelAskTell(AskTell):
    """Ask/tell state shared by the GP-based solvers.

    Attributes:
        gp_fit_seconds: Seconds each GP fit took, one entry per ask that fitted a GP, in order.
    """

    def __init__(self, solver: SampleSolver, space: DesignSpace, seed: int | None = None) -> None:
        super().__init__(solver, space, seed)
        self.gp_fit_seconds: list[float] = []
        self._fits_in_history = 0

    @property
    def n_init(self) -> int:
        """Sobol points of an initial design."""
        n_init = self.solver.n_init  # type: ignore[attr-defined]
        return default_n_init(self.dim) if n_init is None else n_init

    def _batch_size(self, n: int | None) -> int:
        return self.solver.batch if n is None else n

    def _sobol(self, n: int, *, index: int, stream: int = 0) -> Tensor:
        """Points ``index .. index + n - 1`` of the run's scrambled Sobol sequence ``stream``, search coordinates, ``(n, d)``, float64."""
        return self.view.sample(n, seed=self.seed + _SOBOL_STREAM * stream, start=index, dtype=torch.float64)

    def _training_data(self, start: int = 0) -> tuple[Tensor, Tensor]:
        """Told designs from index ``start`` on with a finite energy: search points ``(m, d)`` and energies ``(m,)``, float64."""
        U, Y = self.U[start:], self.Y[start:]
        ok = torch.isfinite(Y)
        return U[ok].to(torch.float64), Y[ok].to(torch.float64)

    def _fit(self, u: Tensor, energy: Tensor, **options: Any) -> SingleTaskGP:
        """`fit_gp` (``options``: its keywords), recording the fit time."""
        model, seconds = fit_gp(u, energy, **options)
        self.gp_fit_seconds.append(seconds)
        return model

    def _fit_time(self) -> float:
        seconds = sum(self.gp_fit_seconds[self._fits_in_history :])
        self._fits_in_history = len(self.gp_fit_seconds)
        return seconds

    @contextmanager
    def _seeded(self) -> Iterator[None]:
        """Seed torch's global generators from ``(seed, n_told)`` for one ask, restoring them
        afterwards, and compute on one CPU thread.

        BoTorch draws its random numbers (restarts of the acquisition optimizer, posterior samples)
        from the global generators, so this is what makes an ask reproducible on resume. The GP's
        float64 linear algebra rounds differently with another number of threads, which changes
        the designs; on one thread an ask is the same in a serial run, a worker process and on
        another machine (these matrices are small: a second thread gains little).
        """
        seed = int(torch.randint(0, 2**62, (), generator=self.generator()))
        device = self.space.device
        cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
        threads = torch.get_num_threads()
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            torch.set_num_threads(1)
            try:
                yield
            finally:
                torch.set_num_threads(threads)

    def extra_state(self) -> dict[str, Any]:
        return {"gp_fit_seconds": list(self.gp_fit_seconds)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.gp_fit_seconds = [float(s) for s in state["gp_fit_seconds"]]
        self._fits_in_history = len(self.gp_fit_seconds)

    def gp_fit_summary(self) -> str:
        """One sentence on the GP fits so far, e.g. ``"12 GP fits, 3.1 s in all (last 0.4 s)."``."""
        n = len(self.gp_fit_seconds)
        if n == 0:
            return "No GP fitted."
        return f"{n} GP fit{'s' if n > 1 else ''}, {sum(self.gp_fit_seconds):.3g} s in all (last {self.gp_fit_seconds[-1]:.3g} s)."

    def result(self) -> Result:
        result = super().result()
        result.message = f"{result.message} {self.gp_fit_summary()}"
        return result


@register
@dataclass(frozen=True, kw_only=True)
class BayesianOptimization(SampleSolver):
    """Bayesian optimization: a GP of the energy and batch log expected improvement (BoTorch).

    The first ``n_init`` designs are scrambled Sobol points of the space. Each later ask fits a
    `SingleTaskGP` to every told design with a finite energy (inputs in search coordinates,
    outputs standardised; NaN or infinite energies are kept in the run but left out of the GP)
    and returns the ``batch`` points that maximize `qLogExpectedImprovement` over the best energy
    told, found by `optimize_acqf` with ``num_restarts`` L-BFGS-B restarts picked from
    ``raw_samples`` random points. The budget is ``max_evals`` evaluations in all.

    Designs still being evaluated (``ask(pending=...)``, ``minimize(..., asynchronous=True)``)
    are the acquisition's ``X_pending``: it values a batch jointly with them.

    Every ask is a deterministic function of the seed and the told data, so a hand ask/tell loop,
    ``invdesign.minimize`` and a run resumed from a checkpoint return the same designs. The
    seconds each GP fit took are in the optimizer's ``gp_fit_seconds`` (and its saved state).

    Attributes:
        n_init: Sobol designs before the first GP; ``None`` for ``2 (d + 1)``.
        num_restarts: Restarts of the acquisition optimizer.
        raw_samples: Random points the restarts are picked from.
        acq_maxiter: L-BFGS-B iterations of each restart of the acquisition optimizer on
            continuous designs (BoTorch's ``options={"maxiter": ...}``; its default 200). Fewer make
            each ask cheaper, which matters when an evaluation takes less time than an ask.
    """

    name: ClassVar[str] = "bo"
    capabilities: ClassVar[Capabilities] = dataclasses.replace(SAMPLE_CAPABILITIES, asynchronous=True)
    batch: int = 1
    n_init: int | None = None
    num_restarts: int = 10
    raw_samples: int = 512
    acq_maxiter: int = 200

    def __post_init__(self) -> None:
        check_options(self, positive=("batch", "num_restarts", "raw_samples", "acq_maxiter"), optional=("n_init",))
        if self.raw_samples < self.num_restarts:
            raise ValueError(f"bo option raw_samples ({self.raw_samples}) must be at least num_restarts ({self.num_restarts})")

    def optimizer(self, space: DesignSpace, *, seed: int | None = None) -> BOAskTell:
        return BOAskTell(self, space, seed)


class BOAskTell(ModelAskTell):
    """Ask/tell state of `BayesianOptimization`: the told data, and the GP fit times."""

    solver: BayesianOptimization

    def propose(self, n: int | None) -> Tensor:
        n = self._batch_size(n)
        u, energy = self._training_data()
        if self.n_told + self.n_pending < self.n_init or energy.numel() < 2:
            return self._sobol(n, index=self.n_told + self.n_pending)
        with self._seeded():
            model = self._fit(u, energy, cat_dims=[column for column, _, _ in self.view.ordinal])
            pending = self.pending.to(torch.float64) if self.n_pending else None
            acquisition = qLogExpectedImprovement(model, best_f=to_utility(energy).max(), X_pending=pending)
            candidates = maximize_acquisition(
                acquisition, self.view, q=n, num_restarts=self.solver.num_restarts, raw_samples=self.solver.raw_samples,
                maxiter=self.solver.acq_maxiter,
            )
        return candidates.detach()


def maximize_acquisition(
    acquisition: AcquisitionFunction, view: UnitCube | SpaceView, *, q: int, num_restarts: int, raw_samples: int,
    maxiter: int = 200,
) -> Tensor:
    """The ``q`` search points ``(q, n)`` that maximize ``acquisition`` over the view's feasible set.

    A box: BoTorch's `optimize_acqf` on the unit cube. A space: its compositions as equality
    constraints and its linear constraints as inequality (or equality) constraints in BoTorch's
    format; with integers or categoricals, `optimize_acqf_mixed_alternating` (discrete local
    search alternating with L-BFGS-B on the continuous columns), each integer on its grid and each
    categorical a column of level indices. ``maxiter``: L-BFGS-B iterations of each restart of
    `optimize_acqf` (the mixed optimizer keeps its own short continuous steps).
    """
    bounds = view.bounds.to(torch.float64)
    inequalities, equalities = botorch_constraints(view)
    constraints: dict[str, Any] = {
        "inequality_constraints": inequalities or None,
        "equality_constraints": equalities or None,
    }
    if view.integers or view.ordinal:
        # BoTorch's mixed optimizer takes equalities over continuous columns only; one over an integer is left
        # to the projection every asked point goes through (`invdesign.space.SpaceView.round`).
        on_grid = view.discrete.nonzero().flatten().tolist()
        constraints["equality_constraints"] = [c for c in equalities if not set(c[0].tolist()) & set(on_grid)] or None
        discrete = {column: _grid(levels) for column, levels in view.integers}
        categorical = {column: _grid(levels) for column, _, levels in view.ordinal}
        candidates, _ = optimize_acqf_mixed_alternating(
            acquisition,
            bounds=bounds,
            discrete_dims=discrete,
            cat_dims=categorical,
            q=q,
            num_restarts=num_restarts,
            raw_samples=raw_samples,
            **constraints,
        )
        return candidates
    candidates, _ = optimize_acqf(
        acquisition, bounds=bounds, q=q, num_restarts=num_restarts, raw_samples=raw_samples, options={"maxiter": maxiter},
        **constraints,
    )
    return candidates


Constraint = tuple[Tensor, Tensor, float]
"""BoTorch's linear constraint: ``(indices, coefficients, rhs)``."""


def botorch_constraints(view: UnitCube | SpaceView) -> tuple[list[Constraint], list[Constraint]]:
    """The view's linear constraints and simplex blocks as BoTorch's ``(indices, coefficients, rhs)``
    tuples, ``sum coefficients * X[indices] >= rhs`` (inequalities) and ``== rhs`` (equalities)."""
    inequalities: list[Constraint] = []
    equalities: list[Constraint] = []
    A, b, equality = view.linear_constraints()
    for row, rhs, eq in zip(A.to(torch.float64), b.tolist(), equality.tolist()):
        index = row.nonzero().flatten()
        if eq:
            equalities.append((index, row[index], rhs))
        else:
            inequalities.append((index, -row[index], -rhs))  # A u <= b  <=>  -A u >= -b
    for block in view.blocks:
        equalities.append((block, torch.ones(block.numel(), dtype=torch.float64, device=block.device), 1.0))
    return inequalities, equalities


def _grid(levels: int) -> list[float]:
    """The search coordinates of an integer's or a categorical's ``levels`` values: ``k / (levels - 1)``."""
    return [k / (levels - 1) for k in range(levels)]


def check_options(solver: SampleSolver, *, positive: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    """Raise a clear error for an option that is not a positive integer (``None`` allowed for ``optional``)."""
    for name in positive + optional:
        value = getattr(solver, name)
        if value is None and name in optional:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{solver.name} option {name} must be a positive integer, got {value!r}")
