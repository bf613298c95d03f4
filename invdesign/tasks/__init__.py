"""Benchmark problems with true oracles.

Built-in tasks, by name: ``"sine"``, ``"robot_arm"`` and ``"ballistics"`` (target matching,
Ren et al., NeurIPS 2020); ``"branin"``, ``"hartmann6"``, ``"ackley10"``, ``"ackley20"``,
``"rosenbrock10"`` and ``"styblinski_tang10"`` (minimization, BoTorch test functions);
``"digits"`` (minimization on real handwritten digits, with a decoder for latent search);
``"composition"`` (five fractions summing to 1 and a temperature) and ``"mixed"`` (a categorical
catalyst, an integer and three reals), minimization on named, mixed spaces (`invdesign.Space`).
Every task recommends an offline data size, a surrogate (:class:`SurrogateSpec`) and a
black-box query budget; :func:`select_surrogate` picks, among recipes such as
:func:`architecture_grid`, the one that best predicts the best designs from the rest.
`invdesign.tasks.digits` builds the latent-space demonstration on real handwritten digits.

Example:
    >>> from invdesign import tasks
    >>> task = tasks.get("robot_arm")
    >>> X, Y = task.make_offline_data(seed=0, n=100)
    >>> model, report = task.surrogate.fit(X, Y, seed=0, epochs=5)
    >>> y_star = task.sample_targets(10, seed=0)
"""

from invdesign.tasks import digits
from invdesign.tasks.analytic import robot_arm, robot_arm_forward, sine, sine_forward
from invdesign.tasks.ballistics import ballistics, ballistics_forward
from invdesign.tasks.base import Task
from invdesign.tasks.botorch_functions import (
    ackley10,
    ackley20,
    botorch_task,
    branin,
    hartmann6,
    rosenbrock10,
    styblinski_tang10,
)
from invdesign.tasks.formulation import composition, composition_forward, mixed, mixed_forward
from invdesign.tasks.registry import get, names, register
from invdesign.tasks.surrogate import (
    DEFAULT_SURROGATE,
    SELECTION_HOLDOUT,
    DecoderSpec,
    SurrogateSelection,
    SurrogateSpec,
    architecture_grid,
    select_surrogate,
)

__all__ = [
    "DEFAULT_SURROGATE",
    "SELECTION_HOLDOUT",
    "DecoderSpec",
    "SurrogateSelection",
    "SurrogateSpec",
    "Task",
    "ackley10",
    "ackley20",
    "architecture_grid",
    "ballistics",
    "ballistics_forward",
    "botorch_task",
    "branin",
    "composition",
    "composition_forward",
    "digits",
    "get",
    "hartmann6",
    "mixed",
    "mixed_forward",
    "names",
    "register",
    "robot_arm",
    "robot_arm_forward",
    "rosenbrock10",
    "select_surrogate",
    "sine",
    "sine_forward",
    "styblinski_tang10",
]
