"""Minimization tasks whose oracles are BoTorch's synthetic test functions.

The formulas live in :mod:`botorch.test_functions`; this module only adapts them to
:class:`~invdesign.tasks.base.Task`: any float dtype, any device, shape ``(n, 1)`` outputs.
"""

from __future__ import annotations

import copy

import torch
from botorch.test_functions import Branin, Hartmann
from botorch.test_functions.synthetic import SyntheticTestFunction
from torch import Tensor

from invdesign.space import Box
from invdesign.tasks.base import Task


class _BoTorchOracle:
    """Calls a BoTorch test function on designs of any float dtype and device.

    BoTorch test functions hold their constants as buffers, so the function is copied
    and converted once per ``(dtype, device)`` and the copies are cached.
    """

    def __init__(self, function: SyntheticTestFunction, name: str, space: Box) -> None:
        self._function = function
        self._name = name
        self._space = space
        self._cache: dict[tuple[torch.dtype, torch.device], SyntheticTestFunction] = {}

    def __call__(self, x: Tensor) -> Tensor:
        """Noiseless values at ``x`` (shape ``(n, d)``), shape ``(n,)``."""
        outside = ~self._space.contains(x)
        if outside.any():
            rows = outside.nonzero().flatten().tolist()
            raise ValueError(
                f"Task {self._name!r}: BoTorch defines this function on {self._space} only; "
                f"rows {rows[:10]}{' ...' if len(rows) > 10 else ''} lie outside "
                "(project them with task.space.clamp(x) first)"
            )
        key = (x.dtype, x.device)
        if key not in self._cache:
            self._cache[key] = copy.deepcopy(self._function).to(dtype=x.dtype, device=x.device)
        return self._cache[key](x, noise=False)


def botorch_task(function: SyntheticTestFunction, *, name: str, reference: str = "") -> Task:
    """A ``"minimize"`` task whose oracle is a BoTorch synthetic test function.

    The space is the function's ``bounds``, the prior is uniform in it, and the optimum
    is the function's ``optimal_value`` (``None`` where BoTorch gives none). The oracle
    is noiseless (``noise_std`` is ignored) and, like BoTorch, rejects designs outside
    the bounds with a ``ValueError``.

    Args:
        function: A single-objective BoTorch test function, for example
            ``Ackley(dim=20, bounds=[(-5.0, 10.0)] * 20)``; it must be a minimization
            problem (BoTorch's ``is_minimization_problem``; pass ``negate=True`` to
            turn a maximization problem into one).
        name: The task's name.
        reference: A citation; defaults to the BoTorch class name.

    Raises:
        ValueError: if ``function`` is a maximization problem.

    Example:
        >>> from botorch.test_functions import Ackley
        >>> task = botorch_task(Ackley(dim=10), name="ackley10")
        >>> task.oracle(torch.zeros(3, 10)).shape
        torch.Size([3, 1])
    """
    if not function.is_minimization_problem:
        raise ValueError(
            f"{type(function).__name__} is a maximization problem here; every task minimizes, "
            "so construct it with the opposite `negate`"
        )
    space = Box(function.bounds[0], function.bounds[1])
    try:
        optimum = function.optimal_value
    except NotImplementedError:
        optimum = None
    return Task(
        name=name,
        oracle=_BoTorchOracle(function, name, space),
        space=space,
        kind="minimize",
        output_dim=1,
        optimum=optimum,
        reference=reference or f"botorch.test_functions.{type(function).__name__}",
    )


def branin() -> Task:
    """Branin on ``[-5, 10] x [0, 15]``, minimum 0.397887 at three points (BoTorch's ``Branin``)."""
    return botorch_task(
        Branin(), name="branin", reference="Branin function, via botorch.test_functions.Branin"
    )


def hartmann6() -> Task:
    """Hartmann6 on ``[0, 1]^6``, minimum -3.32237 (BoTorch's ``Hartmann(dim=6)``)."""
    return botorch_task(
        Hartmann(dim=6),
        name="hartmann6",
        reference="Hartmann 6-d function, via botorch.test_functions.Hartmann",
    )
