"""Solver configurations: a row of a benchmark table is a solver plus its options and guards."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from invdesign.benchmark.store import digest
from invdesign.solvers import available

REFERENCE_METHOD = "design_bench_ga"
"""The method name of Design-Bench's gradient-ascent baseline (`invdesign.benchmark.reference`)."""


@dataclass(frozen=True, kw_only=True)
class SolverConfig:
    """One row label of a benchmark table: a solver, its options, and the guards around the surrogate.

    Attributes:
        name: The row label, unique within a run (e.g. ``"gd"``, ``"gd+pessimism"``).
        method: A registered solver name, or ``"design_bench_ga"`` for the reference baseline.
        options: Solver options passed to `invdesign.minimize` (e.g. ``{"lr": 0.1}``,
            ``{"max_evals": 200}``).
        n_restarts: Restarts of a restart solver; ``None`` for the run's ``k``.
        max_iter: Iteration budget; ``None`` for the solver's default.
        starts: ``"data"``: restart solvers start from the best training designs (the offline
            setting, `invdesign.FromData`); ``"sobol"``: from Sobol points of the box.
        surrogate: ``"task"`` searches the task's recommended surrogate; ``"selected"`` the
            recipe of `invdesign.tasks.architecture_grid` that best predicts the best 20% of the
            training designs from the rest (`invdesign.tasks.select_surrogate`), retrained on all
            of them; minimize tasks only (target tasks skip such a configuration).
        ensemble: ``None`` searches a single surrogate; ``"mean"``, ``"pessimistic"`` or
            ``"worst"`` search a deep ensemble of the task's recipe with that rule
            (`invdesign.Objective`'s ``ensemble``).
        beta: The pessimism weight of ``ensemble="pessimistic"``.
        data_weight: Weight of the distance-to-nearest-training-design penalty
            (`invdesign.penalties.DataDistance`), scale-free: in units of the training energies'
            spread per squared data spacing (see `data_radius`), so one weight fits every task;
            0 for none.
        data_radius: Its free radius, in units of the data spacing: the median distance from a
            training design to its nearest neighbour, in unit-cube coordinates of the search box.
        diversity: Trade-off used to pick the ``k`` returned designs (`invdesign.select_designs`);
            0 picks the ``k`` lowest energies.
        latent: Search the latent box of the task's decoder (a VAE trained on the offline designs,
            `invdesign.tasks.DecoderSpec`) instead of the data space; the designs are decoded
            before the oracle sees them. Tasks without a decoder skip latent configurations.
        description: One line for tables and plots.
    """

    name: str
    method: str
    options: dict[str, Any] = field(default_factory=dict)
    n_restarts: int | None = None
    max_iter: int | None = None
    starts: Literal["data", "sobol"] = "data"
    surrogate: Literal["task", "selected"] = "task"
    ensemble: Literal["mean", "pessimistic", "worst"] | None = None
    beta: float = 1.0
    data_weight: float = 0.0
    data_radius: float = 0.0
    diversity: float = 0.0
    latent: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"SolverConfig name must be a non-empty string, got {self.name!r}")
        if self.method == REFERENCE_METHOD and (
            self.latent
            or self.ensemble is not None
            or self.surrogate != "task"
            or self.data_weight > 0
            or self.diversity > 0
            or self.starts != "data"
        ):
            raise ValueError(
                f"SolverConfig {self.name!r}: the Design-Bench baseline is fixed (data space, the task's surrogate, "
                "data starts, no penalties or diversity)"
            )
        if self.method != REFERENCE_METHOD and self.method not in available():
            raise ValueError(
                f"SolverConfig {self.name!r}: unknown method {self.method!r}; "
                f"known: {', '.join(available())}, {REFERENCE_METHOD}"
            )
        if self.starts not in ("data", "sobol"):
            raise ValueError(f"SolverConfig {self.name!r}: starts must be 'data' or 'sobol', got {self.starts!r}")
        if self.surrogate not in ("task", "selected"):
            raise ValueError(f"SolverConfig {self.name!r}: surrogate must be 'task' or 'selected', got {self.surrogate!r}")
        if self.surrogate == "selected" and self.ensemble is not None:
            raise ValueError(
                f"SolverConfig {self.name!r}: the deep ensemble is built from the task's recipe; "
                "surrogate='selected' searches one selected surrogate, so leave ensemble=None"
            )
        if self.ensemble not in (None, "mean", "pessimistic", "worst"):
            raise ValueError(
                f"SolverConfig {self.name!r}: ensemble must be None, 'mean', 'pessimistic' or 'worst', got {self.ensemble!r}"
            )
        for attr in ("beta", "data_weight", "data_radius", "diversity"):
            if getattr(self, attr) < 0:
                raise ValueError(f"SolverConfig {self.name!r}: {attr} must be non-negative, got {getattr(self, attr)}")

    def fingerprint(self) -> str:
        """A short hash of every field: a finished cell is reused only for an identical config."""
        return digest(asdict(self))


def _configs() -> dict[str, SolverConfig]:
    rows = [
        SolverConfig(name="gd", method="gd", description="Adam on the surrogate from the best training designs"),
        SolverConfig(name="lbfgs", method="lbfgs", description="L-BFGS-B with exact gradients from the best training designs"),
        SolverConfig(name="cmaes", method="cmaes", options={"max_evals": 2000}, description="CMA-ES, 2,000 surrogate evaluations"),
        SolverConfig(name="random", method="random", options={"max_evals": 2000}, description="Sobol search, 2,000 surrogate evaluations"),
        SolverConfig(
            name="bo",
            method="bo",
            options={"max_evals": 32, "n_init": 8, "num_restarts": 2, "raw_samples": 64},
            description="BoTorch qLogEI, 32 surrogate evaluations",
        ),
        SolverConfig(
            name="turbo",
            method="turbo",
            options={"max_evals": 64, "n_init": 16, "batch": 8, "n_candidates": 500},
            description="TuRBO-1, 64 surrogate evaluations in batches of 8",
        ),
        SolverConfig(
            name="amortized",
            method="amortized",
            max_iter=500,
            description="a generator trained against the surrogate with a diversity bonus, 500 steps "
            "(target tasks: one conditional generator for every target)",
        ),
        SolverConfig(
            name="gd+ensemble",
            method="gd",
            ensemble="mean",
            description="gd on a 5-member deep ensemble, mean of the members",
        ),
        SolverConfig(
            name="gd+pessimism",
            method="gd",
            ensemble="pessimistic",
            beta=2.0,
            description="gd on a 5-member deep ensemble, mean + 2 std",
        ),
        SolverConfig(
            name="gd+worst",
            method="gd",
            ensemble="worst",
            description="gd on a 5-member deep ensemble, worst member",
        ),
        SolverConfig(
            name="gd+trust",
            method="gd",
            data_weight=10.0,
            data_radius=0.5,
            description="gd with a distance-to-nearest-training-design penalty beyond half the data spacing",
        ),
        SolverConfig(
            name="gd+diverse",
            method="gd",
            n_restarts=512,
            diversity=1.0,
            description="gd from 512 training designs, the k returned designs picked for diversity too",
        ),
        SolverConfig(
            name="gd+selected",
            method="gd",
            surrogate="selected",
            description="gd on the surrogate recipe that best predicts the best 20% of the training designs from the rest",
        ),
        SolverConfig(name="gd (latent)", method="gd", latent=True, description="gd in the decoder's latent box from the encoded best designs"),
        SolverConfig(name="lbfgs (latent)", method="lbfgs", latent=True, description="L-BFGS-B in the decoder's latent box"),
        SolverConfig(
            name="bo (latent)",
            method="bo",
            latent=True,
            options={"max_evals": 32, "n_init": 8, "num_restarts": 2, "raw_samples": 64},
            description="BoTorch qLogEI in the decoder's latent box, 32 surrogate evaluations",
        ),
        SolverConfig(
            name="ga (Design-Bench)",
            method=REFERENCE_METHOD,
            description="Design-Bench gradient ascent: best 128 designs, 200 steps of 0.01 sqrt(d) on standardised x",
        ),
    ]
    return {c.name: c for c in rows}


CONFIGS: dict[str, SolverConfig] = _configs()
"""The built-in configurations by name."""


def get_config(name: str | SolverConfig) -> SolverConfig:
    """A built-in configuration by name (a `SolverConfig` is returned as it is).

    Raises:
        ValueError: for an unknown name; the message lists the known ones.
    """
    if isinstance(name, SolverConfig):
        return name
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown solver configuration {name!r}; known: {', '.join(CONFIGS)}") from None
