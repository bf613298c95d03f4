"""Solver configurations: a row of a benchmark table is a solver plus its options and guards."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from invdesign.benchmark.store import digest
from invdesign.engine import Capabilities, Solver, count
from invdesign.recommendation import recommend
from invdesign.solvers import available, get, make
from invdesign.trust import PESSIMISM_BETA, REGION_RADIUS, REGION_WEIGHT


@dataclass(frozen=True, kw_only=True)
class SolverConfig:
    """One row label of a benchmark table: a validated solver, its budget, and the guards around the surrogate.

    Every field is checked when the configuration is built, against the solver's capabilities,
    so a bad option or budget fails before any surrogate is trained.

    Attributes:
        name: The row label, unique within a run (e.g. ``"gd"``, ``"gd+pessimism"``).
        solver: The solver with its options, e.g. ``invdesign.solvers.make("gd", lr=0.1)``.
        n_restarts: Starting points of a solver whose budget counts iterations (``None``: the
            run's ``k``, or fewer when the data set has fewer designs); refused for solvers
            without starting points.
        max_iter: Iteration budget of a solver whose budget counts iterations or training steps
            (``None``: the solver's default).
        max_evals: Evaluation budget of a solver whose budget counts evaluations (``None``: the
            solver's default).
        starts: ``"data"``: solvers with iteration budgets start from the best training designs
            (the offline setting, `invdesign.FromData`); ``"sobol"``: from Sobol points of the
            box. Solvers that need the data set (`Capabilities.data`) always get it.
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
        kinds: The task kinds it runs on (``"minimize"``, ``"target"``); a task of another kind skips it.
        description: One line for tables and plots.

    Raises:
        TypeError: for a solver that is not a `invdesign.solvers.Solver`, or a budget or start
            the solver cannot take (the message names the capability).
        ValueError: for a bad value.
    """

    name: str
    solver: Solver
    n_restarts: int | None = None
    max_iter: int | None = None
    max_evals: int | None = None
    starts: Literal["data", "sobol"] = "data"
    surrogate: Literal["task", "selected"] = "task"
    ensemble: Literal["mean", "pessimistic", "worst"] | None = None
    beta: float = 1.0
    data_weight: float = 0.0
    data_radius: float = 0.0
    diversity: float = 0.0
    latent: bool = False
    kinds: tuple[str, ...] = ("minimize", "target")
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"SolverConfig name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.solver, Solver):
            raise TypeError(
                f"SolverConfig {self.name!r}: solver must be an invdesign solver object such as "
                f"invdesign.solvers.make('gd'), got {type(self.solver).__name__}"
            )
        caps = self.capabilities
        for field_name in ("n_restarts", "max_iter", "max_evals"):
            value = getattr(self, field_name)
            if value is not None:
                count(f"SolverConfig {self.name!r} {field_name}", value, minimum=1)
        if self.n_restarts is not None and not caps.x0:
            raise TypeError(f"SolverConfig {self.name!r}: method {self.method!r} takes no starting points (n_restarts)")
        wrong = "max_iter" if caps.budget == "evaluations" else "max_evals"
        if getattr(self, wrong) is not None:
            raise TypeError(
                f"SolverConfig {self.name!r}: method {self.method!r} counts its budget in {caps.budget}; "
                f"set {caps.budget_keyword}, not {wrong}"
            )
        if self.starts not in ("data", "sobol"):
            raise ValueError(f"SolverConfig {self.name!r}: starts must be 'data' or 'sobol', got {self.starts!r}")
        if caps.data and self.starts != "data":
            raise ValueError(f"SolverConfig {self.name!r}: method {self.method!r} needs the data set: leave starts='data'")
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
        if not self.kinds or not set(self.kinds) <= {"minimize", "target"}:
            raise ValueError(f"SolverConfig {self.name!r}: kinds must hold 'minimize' and/or 'target', got {self.kinds!r}")
        for attr in ("beta", "data_weight", "data_radius", "diversity"):
            if not getattr(self, attr) >= 0:
                raise ValueError(f"SolverConfig {self.name!r}: {attr} must be non-negative, got {getattr(self, attr)}")

    @property
    def method(self) -> str:
        """The solver's registry name."""
        return self.solver.name

    @property
    def capabilities(self) -> Capabilities:
        """The solver's capabilities."""
        return self.solver.capabilities

    @property
    def budget(self) -> dict[str, int]:
        """The `invdesign.minimize` budget keyword of this configuration, if it sets one."""
        value = self.max_evals if self.capabilities.budget == "evaluations" else self.max_iter
        return {} if value is None else {self.capabilities.budget_keyword: value}

    def fingerprint(self) -> str:
        """A short hash of every field and the solver's options: a finished cell is reused only for an identical config."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "solver"}
        return digest({**fields, "method": self.method, "options": self.solver.options})


def _configs() -> dict[str, SolverConfig]:
    rows = [
        SolverConfig(name="gd", solver=make("gd"), description="Adam on the surrogate from the best training designs"),
        SolverConfig(name="lbfgs", solver=make("lbfgs"), description="L-BFGS-B with exact gradients from the best training designs"),
        SolverConfig(name="cmaes", solver=make("cmaes"), max_evals=2000, description="CMA-ES, 2,000 surrogate evaluations"),
        SolverConfig(name="random", solver=make("random"), max_evals=2000, description="Sobol search, 2,000 surrogate evaluations"),
        SolverConfig(
            name="bo",
            solver=make("bo", n_init=8, num_restarts=2, raw_samples=64),
            max_evals=32,
            description="BoTorch qLogEI, 32 surrogate evaluations",
        ),
        SolverConfig(
            name="turbo",
            solver=make("turbo", n_init=16, batch=8, n_candidates=500),
            max_evals=64,
            description="TuRBO-1, 64 surrogate evaluations in batches of 8",
        ),
        SolverConfig(
            name="amortized",
            solver=make("amortized"),
            max_iter=500,
            description="a generator trained against the surrogate with a diversity bonus, 500 steps "
            "(target tasks: one conditional generator for every target, each target's 20 best designs polished by batched gd "
            "with the boundary loss)",
        ),
        SolverConfig(name="gd+ensemble", solver=make("gd"), ensemble="mean", description="gd on a 5-member deep ensemble, mean of the members"),
        SolverConfig(
            name="gd+pessimism",
            solver=make("gd"),
            ensemble="pessimistic",
            beta=PESSIMISM_BETA,
            description="gd on a 5-member deep ensemble, mean + 2 std",
        ),
        SolverConfig(name="gd+worst", solver=make("gd"), ensemble="worst", description="gd on a 5-member deep ensemble, worst member"),
        SolverConfig(
            name="gd+trust",
            solver=make("gd"),
            data_weight=REGION_WEIGHT,
            data_radius=REGION_RADIUS,
            description="gd with a distance-to-nearest-training-design penalty beyond half the data spacing",
        ),
        SolverConfig(
            name="gd+diverse",
            solver=make("gd"),
            n_restarts=512,
            diversity=1.0,
            description="gd from 512 training designs, the k returned designs picked for diversity too",
        ),
        SolverConfig(
            name="gd+selected",
            solver=make("gd"),
            surrogate="selected",
            description="gd on the surrogate recipe that best predicts the best 20% of the training designs from the rest",
        ),
        _recommended(),
        SolverConfig(name="gd (latent)", solver=make("gd"), latent=True, description="gd in the decoder's latent box from the encoded best designs"),
        SolverConfig(name="lbfgs (latent)", solver=make("lbfgs"), latent=True, description="L-BFGS-B in the decoder's latent box"),
        SolverConfig(
            name="bo (latent)",
            solver=make("bo", n_init=8, num_restarts=2, raw_samples=64),
            max_evals=32,
            latent=True,
            description="BoTorch qLogEI in the decoder's latent box, 32 surrogate evaluations",
        ),
    ]
    configs = {c.name: c for c in rows}
    for method in available():
        if method not in configs:
            configs[method] = SolverConfig(name=method, solver=make(method), description=_summary(method))
    return configs


def _recommended() -> SolverConfig:
    """The row ``recommended``: `invdesign.recommend`'s offline configuration, on minimize tasks (on target tasks it is ``gd``)."""
    rec = recommend("offline")
    return SolverConfig(
        name="recommended",
        solver=rec.solver(),
        n_restarts=rec.settings.get("n_restarts"),
        ensemble=rec.ensemble,
        kinds=("minimize",),
        description=f"invdesign.recommend('offline'), fixed in advance: {rec.method} on the {rec.ensemble} member "
        f"of a {rec.members}-member deep ensemble from the best training designs",
    )


def _summary(method: str) -> str:
    """The first line of the solver class's docstring: the description of its default configuration."""
    doc = (get(method).__doc__ or method).strip().splitlines()
    return doc[0].rstrip(".") if doc else method


CONFIGS: dict[str, SolverConfig] = _configs()
"""The built-in configurations by name: the rows above, and every other registered solver with its defaults."""


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
