"""``method="turbo"``: TuRBO-1, Bayesian optimization in one trust region (Eriksson et al., 2019).

Eriksson, Pearce, Gardner, Turner, Poloczek, "Scalable global optimization via local Bayesian
optimization", NeurIPS 2019; the algorithm as in BoTorch's TuRBO-1 tutorial, with the paper's
restarts. The fitting and the sign convention are `invdesign.solvers.bo`'s; the GP's kernel and
noise bounds are the tutorial's, with a higher noise floor (`_trust_region_gp`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import gpytorch
import torch
from botorch.generation import MaxPosteriorSampling
from botorch.models import SingleTaskGP
from botorch.models.model import Model
from gpytorch.constraints import Interval
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from torch import Tensor

from invdesign.engine import Capabilities, SampleSolver, register
from invdesign.engine.ask_tell import SAMPLE_CAPABILITIES
from invdesign.solvers.bo import ModelAskTell, check_options
from invdesign.space import DesignSpace


@dataclass
class TrustRegion:
    """The state of TuRBO-1's trust region, in the search coordinates of the space (its unit cube).

    The region is a box around the best design of the current region's data, with side lengths
    ``length`` times the GP's ARD lengthscales normalised to geometric mean 1 (clipped to the unit
    cube). A batch that improves on the region's best energy is a success, any other a failure;
    ``success_tolerance`` successes in a row double ``length`` (up to ``length_max``),
    ``failure_tolerance`` failures in a row halve it, and when it drops below ``length_min`` the
    region restarts: ``length_init`` again, counters reset, and only designs told from then on
    (a fresh Sobol design first) belong to the region.

    Attributes:
        success_tolerance: Successful batches in a row that double the region.
        failure_tolerance: Failed batches in a row that halve it.
        length_init: Side length of a new region.
        length_min: A region smaller than this restarts.
        length_max: Largest side length.
        length: Current side length, before scaling by the lengthscales (``length_init`` if not given).
        n_successes: Successful batches in a row.
        n_failures: Failed batches in a row.
        n_restarts: Restarts so far.
        start: Index, in the told data, of the current region's first design.
    """

    success_tolerance: int
    failure_tolerance: int
    length_init: float = 0.8
    length_min: float = 0.5**7
    length_max: float = 1.6
    length: float | None = None
    n_successes: int = 0
    n_failures: int = 0
    n_restarts: int = 0
    start: int = 0

    def __post_init__(self) -> None:
        if self.length is None:
            self.length = self.length_init

    def update(self, improved: bool, n_told: int) -> bool:
        """Count one batch of the region, resize it, and restart it if it collapsed.

        Args:
            improved: Whether the batch beat the region's best energy.
            n_told: Designs told once the batch is recorded: where a restarted region starts.

        Returns:
            True if the region restarted.
        """
        if improved:
            self.n_successes, self.n_failures = self.n_successes + 1, 0
        else:
            self.n_successes, self.n_failures = 0, self.n_failures + 1
        length = self.length_init if self.length is None else self.length
        if self.n_successes >= self.success_tolerance:
            length, self.n_successes = min(2.0 * length, self.length_max), 0
        elif self.n_failures >= self.failure_tolerance:
            length, self.n_failures = length / 2.0, 0
        self.length = length
        if length >= self.length_min:
            return False
        self.length, self.n_successes, self.n_failures = self.length_init, 0, 0
        self.n_restarts += 1
        self.start = n_told
        return True


@register
@dataclass(frozen=True, kw_only=True)
class TuRBO(SampleSolver):
    """TuRBO-1: Thompson sampling from a GP inside one trust region that grows, shrinks and restarts.

    Each region starts with ``n_init`` scrambled Sobol points of the space. Each later ask fits a
    `SingleTaskGP` (inputs in search coordinates, standardised outputs, finite energies only; the paper's
    Matern-5/2 ARD kernel and a noise variance in [1e-4, 1e-3]) to the current region's designs,
    centres the region (`TrustRegion`) on their best, and draws ``n_candidates`` candidates in it: Sobol points, of which each coordinate replaces the
    centre's with probability ``min(1, 20 / d)``. The ``batch`` designs returned are Thompson
    samples, the maxima of joint posterior draws over the candidates (BoTorch's
    `MaxPosteriorSampling`, without replacement).

    A batch succeeds when its best energy is below the region's best by more than
    ``1e-3 |best|``; the region counts ``batch`` told designs as one batch, however they are told
    (the single designs of an asynchronous run, ``minimize(..., asynchronous=True)``, are grouped).
    Designs still being evaluated (``ask(pending=...)``) are believed at the GP's posterior mean
    (the kriging believer: the GP is conditioned on them) before the Thompson draws, so the draws
    move away from them. Restarts keep every design for the result. Every ask is a deterministic
    function of the seed and the told data, and the region's state is saved with the run.

    Attributes:
        n_init: Sobol designs that start each region; ``None`` for ``2 (d + 1)``.
        n_candidates: Thompson-sampling candidates; ``None`` for ``min(5000, max(2000, 200 d))``.
        success_tolerance: Successful batches in a row that double the region (the tutorial's 10;
            the paper uses 3).
        failure_tolerance: Failed batches in a row that halve it; ``None`` for
            ``ceil(max(4 / batch, d / batch))``.
        length_init: Side length of a new region (the unit cube has side 1).
        length_min: A region smaller than this restarts.
        length_max: Largest side length.
    """

    name: ClassVar[str] = "turbo"
    capabilities: ClassVar[Capabilities] = dataclasses.replace(SAMPLE_CAPABILITIES, asynchronous=True)
    batch: int = 4
    n_init: int | None = None
    n_candidates: int | None = None
    success_tolerance: int = 10
    failure_tolerance: int | None = None
    length_init: float = 0.8
    length_min: float = 0.5**7
    length_max: float = 1.6

    def __post_init__(self) -> None:
        check_options(
            self,
            positive=("batch", "success_tolerance"),
            optional=("n_init", "n_candidates", "failure_tolerance"),
        )
        if not 0 < self.length_min <= self.length_init <= self.length_max:
            raise ValueError(
                "turbo needs 0 < length_min <= length_init <= length_max, got "
                f"{self.length_min}, {self.length_init}, {self.length_max}"
            )

    def optimizer(self, space: DesignSpace, *, seed: int | None = None) -> TuRBOAskTell:
        return TuRBOAskTell(self, space, seed)


class TuRBOAskTell(ModelAskTell):
    """Ask/tell state of `TuRBO`: the told data, the trust region and the GP fit times.

    Attributes:
        region: The current trust region.
        group_start: Index, in the told data, of the first design of the batch the region has not
            counted yet (``None`` when every told design of the region is counted).
    """

    solver: TuRBO

    def __init__(self, solver: TuRBO, space: DesignSpace, seed: int | None = None) -> None:
        super().__init__(solver, space, seed)
        q, d = solver.batch, self.dim
        self.region = TrustRegion(
            success_tolerance=solver.success_tolerance,
            failure_tolerance=math.ceil(max(4 / q, d / q)) if solver.failure_tolerance is None else solver.failure_tolerance,
            length_init=solver.length_init,
            length_min=solver.length_min,
            length_max=solver.length_max,
        )
        self.group_start: int | None = None

    @property
    def n_candidates(self) -> int:
        n = self.solver.n_candidates
        return min(5000, max(2000, 200 * self.dim)) if n is None else n

    def propose(self, n: int | None) -> Tensor:
        n = self._batch_size(n)
        in_region = self.n_told - self.region.start
        u, energy = self._training_data(self.region.start)
        if in_region + self.n_pending < self.n_init or energy.numel() < 2:
            return self._sobol(n, index=in_region + self.n_pending, stream=self.region.n_restarts)
        with self._seeded():
            model = self._fit(u, energy, **_trust_region_gp(self.dim, u))
            candidates = self._candidates(model, u[torch.argmin(energy)])
            sampled: Model = model
            if self.n_pending:
                pending = self.pending.to(torch.float64)
                with torch.no_grad():
                    believed = model.posterior(pending).mean
                sampled = model.condition_on_observations(pending, believed)
            with torch.no_grad(), gpytorch.settings.max_cholesky_size(float("inf")):
                chosen = MaxPosteriorSampling(model=sampled, replacement=False)(candidates, num_samples=n)
        return chosen

    def _candidates(self, model: SingleTaskGP, center: Tensor) -> Tensor:
        """Perturbations of ``center`` (shape ``(d,)``, search coordinates) inside the trust region, ``(n_candidates, d)``.

        Uses torch's global generator, seeded by the caller.
        """
        d = self.dim
        kernel = getattr(model.covar_module, "base_kernel", model.covar_module)
        lengthscale = kernel.lengthscale.detach().reshape(-1)
        weights = lengthscale / lengthscale.log().mean().exp()
        half = weights * self.region.length / 2.0
        bounds = self.view.bounds.to(center)
        lower, upper = torch.clamp(center - half, bounds[0], bounds[1]), torch.clamp(center + half, bounds[0], bounds[1])
        engine = torch.quasirandom.SobolEngine(d, scramble=True, seed=int(torch.randint(0, 2**62, ())))
        sobol = engine.draw(self.n_candidates, dtype=torch.float64).to(center.device)
        perturbed = lower + (upper - lower) * sobol
        mask = torch.rand(self.n_candidates, d, dtype=torch.float64, device=center.device) <= min(1.0, 20.0 / d)
        none = ~mask.any(dim=-1)
        mask[none, torch.randint(0, d, (int(none.sum()),), device=center.device)] = True
        # Feasible candidates: on a space, rounded to the grids and projected onto compositions and constraints.
        return self.view.project(torch.where(mask, perturbed, center.expand_as(perturbed)))

    def observe(self, u: Tensor, y: Tensor) -> None:
        in_region = self.n_told - self.region.start
        if in_region < self.n_init:  # still the region's initial design
            return
        if self.group_start is None:
            self.group_start = self.n_told
        if self.n_told + u.shape[0] - self.group_start < self.solver.batch:
            return  # part of a batch told design by design: counted when the batch is complete
        region_y = self.Y[self.region.start : self.group_start]
        group = torch.cat([self.Y[self.group_start :], y])
        self.group_start = None
        finite = region_y[torch.isfinite(region_y)]
        new = group[torch.isfinite(group)]
        if not new.numel():
            improved = False
        elif not finite.numel():
            improved = True
        else:
            best = float(finite.min())
            improved = float(new.min()) < best - 1e-3 * abs(best)
        self.region.update(improved, self.n_told + u.shape[0])

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "region": dataclasses.asdict(self.region), "group_start": self.group_start}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        self.region = TrustRegion(**state["region"])
        self.group_start = state.get("group_start")


def _trust_region_gp(dim: int, like: Tensor) -> dict[str, Any]:
    """TuRBO's GP, as `fit_gp` arguments: the kernel of BoTorch's tutorial, with a noise floor.

    A scaled Matern-5/2 kernel with one lengthscale per dimension in ``[0.005, 4]`` (unit-cube
    inputs) and a noise variance in ``[1e-4, 1e-3]`` (standardised outputs): a nearly
    interpolating model, which TuRBO's small regions need. The tutorial's noise floor is 1e-8 and
    the paper's code's 5e-4; 1e-8 made the kernel matrix lose positive definiteness (every fit
    attempt failing) when a region's designs crowd together on a smooth energy such as a trained
    MLP, and 5e-4 did worse on Ackley 20-d.
    """
    kernel = ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=dim, lengthscale_constraint=Interval(0.005, 4.0)))
    likelihood = GaussianLikelihood(noise_constraint=Interval(1e-4, 1e-3))
    return {
        "covar_module": kernel.to(dtype=like.dtype, device=like.device),
        "likelihood": likelihood.to(dtype=like.dtype, device=like.device),
    }
