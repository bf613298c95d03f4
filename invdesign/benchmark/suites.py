"""The named benchmark suites behind ``invdesign bench --suite``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from invdesign.solvers import available


@dataclass(frozen=True)
class Suite:
    """A named selection of tasks, solver configurations, seeds and run settings.

    Attributes:
        name: ``"quick"`` or ``"full"``.
        tasks: Task names.
        solvers: Configuration names (`invdesign.benchmark.CONFIGS`): every registered solver's, then guards.
        seeds: Number of seeds.
        settings: Keyword arguments of `invdesign.benchmark.run` (``k``, ``n_targets``, ...).
        description: One line for ``--help``.
    """

    name: str
    tasks: tuple[str, ...]
    solvers: tuple[str, ...]
    seeds: int
    settings: dict[str, Any] = field(default_factory=dict)
    description: str = ""


SUITES: dict[str, Suite] = {
    "quick": Suite(
        name="quick",
        tasks=("branin", "hartmann6", "ackley10", "robot_arm", "mixed"),
        solvers=(*available(), "gd+pessimism", "gd+trust"),
        seeds=3,
        settings={"k": 128, "n_targets": 3, "n_train": 2000, "epochs": 100},
        description="every solver on four boxes and the mixed space, 3 seeds, "
        "2,000 offline designs, 3 targets for robot_arm (minutes on 2 CPU cores)",
    ),
    "full": Suite(
        name="full",
        tasks=(
            "sine", "robot_arm", "ballistics", "branin", "hartmann6",
            "ackley10", "ackley20", "rosenbrock10", "styblinski_tang10", "digits",
            "composition", "mixed", "narrow_wells2", "narrow_wells4", "narrow_wells8",
        ),
        solvers=(
            *available(),
            "gd+ensemble", "gd+pessimism", "gd+worst", "gd+trust", "gd+diverse", "gd+selected", "recommended",
            "gd (latent)", "lbfgs (latent)", "bo (latent)",
        ),
        seeds=5,
        settings={"k": 128, "n_targets": 20},
        description="every configuration on every built-in task (each where its solver handles the space), 5 seeds, "
        "20 targets per target task (hours)",
    ),
}
