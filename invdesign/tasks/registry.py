"""Tasks by name: the built-in benchmarks and any the user registers."""

from __future__ import annotations

from invdesign.tasks.analytic import robot_arm, sine
from invdesign.tasks.ballistics import ballistics
from invdesign.tasks.base import Task
from invdesign.tasks.botorch_functions import (
    ackley10,
    ackley20,
    branin,
    hartmann6,
    rosenbrock10,
    styblinski_tang10,
)
from invdesign.tasks.digits import digits_task
from invdesign.tasks.formulation import composition, mixed
from invdesign.tasks.molecules import FACTORIES
from invdesign.tasks.wells import DIMENSIONS, narrow_wells

_TASKS: dict[str, Task] = {}


def register(task: Task, *, overwrite: bool = False) -> Task:
    """Make ``task`` available as ``get(task.name)``; returns ``task``.

    Raises:
        TypeError: if ``task`` is not a :class:`Task`.
        ValueError: if the name is taken and ``overwrite`` is false.
    """
    if not isinstance(task, Task):
        raise TypeError(f"register expects a Task, got {type(task).__name__}")
    if task.name in _TASKS and not overwrite:
        raise ValueError(f"a task named {task.name!r} is already registered; pass overwrite=True to replace it")
    _TASKS[task.name] = task
    return task


def get(name: str) -> Task:
    """The registered task called ``name``.

    The molecule tasks are built on first request (`invdesign.tasks.molecules.FACTORIES`).

    Raises:
        ValueError: if no task has that name; the message lists the known names.
        ImportError: for a molecule task without the ``[chem]`` extra, naming the install command.
    """
    if isinstance(name, str) and name not in _TASKS and name in FACTORIES:
        register(FACTORIES[name]())
    try:
        return _TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}; known: {', '.join(names())}") from None


def names() -> list[str]:
    """The names of all registered tasks and of the molecule tasks built on request, sorted."""
    return sorted(set(_TASKS) | set(FACTORIES))


for _task in (
    sine(),
    robot_arm(),
    ballistics(),
    branin(),
    hartmann6(),
    ackley10(),
    ackley20(),
    rosenbrock10(),
    styblinski_tang10(),
    digits_task(),
    composition(),
    mixed(),
    *(narrow_wells(d) for d in DIMENSIONS),
):
    register(_task)
