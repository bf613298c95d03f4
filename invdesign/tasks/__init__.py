"""Benchmark problems with true oracles.

Built-in tasks, by name: ``"sine"`` and ``"robot_arm"`` (target matching, Ren et al.,
NeurIPS 2020), ``"branin"`` and ``"hartmann6"`` (minimization, BoTorch test functions).
`invdesign.tasks.digits` builds the latent-space demonstration on real handwritten digits.

Example:
    >>> from invdesign import tasks
    >>> task = tasks.get("robot_arm")
    >>> X, Y = task.make_data(100, seed=0)
    >>> y_star = task.sample_targets(10, seed=0)
"""

from invdesign.tasks import digits
from invdesign.tasks.analytic import robot_arm, robot_arm_forward, sine, sine_forward
from invdesign.tasks.base import Task
from invdesign.tasks.botorch_functions import botorch_task, branin, hartmann6
from invdesign.tasks.registry import get, names, register

__all__ = [
    "Task",
    "botorch_task",
    "branin",
    "digits",
    "get",
    "hartmann6",
    "names",
    "register",
    "robot_arm",
    "robot_arm_forward",
    "sine",
    "sine_forward",
]
