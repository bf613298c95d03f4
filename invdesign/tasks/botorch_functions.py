"""Minimization tasks whose oracles are BoTorch's synthetic test functions.

The formulas live in :mod:`botorch.test_functions`; this module only adapts them to
:class:`~invdesign.tasks.base.Task`: any float dtype, any device, shape ``(n, 1)`` outputs.
"""

from __future__ import annotations

import copy
from typing import cast

import torch
from botorch.test_functions import Ackley, Branin, Hartmann, Rosenbrock, StyblinskiTang
from botorch.test_functions.synthetic import SyntheticTestFunction
from torch import Tensor

from invdesign.space import Box
from invdesign.tasks.base import Task
from invdesign.tasks.surrogate import SurrogateSpec


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


def botorch_task(
    function: SyntheticTestFunction,
    *,
    name: str,
    reference: str = "",
    n_train: int = 1000,
    hidden_fraction: float | None = None,
    surrogate: SurrogateSpec | None = None,
    budget: int = 100,
) -> Task:
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
        n_train, hidden_fraction, surrogate, budget: The task's recommendations, as for
            :class:`~invdesign.tasks.Task`.

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
    bounds = cast(Tensor, function.bounds)  # a registered buffer
    space = Box(bounds[0], bounds[1])
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
        n_train=n_train,
        hidden_fraction=hidden_fraction,
        surrogate=surrogate,
        budget=budget,
    )


def branin() -> Task:
    """Branin on ``[-5, 10] x [0, 15]``, minimum 0.397887 at three points (BoTorch's ``Branin``).

    Recommendations: 2,000 offline designs (the best half hidden), 40 oracle queries.
    """
    return botorch_task(
        Branin(),
        name="branin",
        reference="Branin function, via botorch.test_functions.Branin",
        n_train=2000,
        surrogate=SurrogateSpec(hidden=(128, 128, 128), activation="silu", epochs=200, batch_size=128, lr=1e-2),
        budget=40,
    )


def hartmann6() -> Task:
    """Hartmann6 on ``[0, 1]^6``, minimum -3.32237 (BoTorch's ``Hartmann(dim=6)``).

    Recommendations: 10,000 offline designs (the best half hidden, leaving values in about
    ``[-0.1, 0]``: the basins are hidden), 150 oracle queries.
    """
    return botorch_task(
        Hartmann(dim=6),
        name="hartmann6",
        reference="Hartmann 6-d function, via botorch.test_functions.Hartmann",
        n_train=10_000,
        surrogate=SurrogateSpec(hidden=(128, 128, 128), activation="silu", epochs=200, batch_size=128, lr=1e-2),
        budget=150,
    )


def ackley10() -> Task:
    """Ackley in 10-d on ``[-5, 10]^10`` (as in the TuRBO literature), minimum 0 at the origin.

    BoTorch's ``Ackley(dim=10)`` with its bounds widened from the default ``[-32.768, 32.768]``.
    Recommendations: 5,000 offline designs (the best half hidden), 200 oracle queries.
    """
    return _ackley(10, n_train=5000, budget=200)


def ackley20() -> Task:
    """Ackley in 20-d on ``[-5, 10]^20``, minimum 0 at the origin: the task of BoTorch's TuRBO-1 tutorial.

    BoTorch's ``Ackley(dim=20)`` with its bounds widened from the default ``[-32.768, 32.768]``.
    Recommendations: 10,000 offline designs (the best half hidden), 400 oracle queries (the
    tutorial's TuRBO reaches 1.15 after 396).
    """
    return _ackley(20, n_train=10_000, budget=400)


def _ackley(dim: int, *, n_train: int, budget: int) -> Task:
    """BoTorch's ``Ackley(dim)`` on ``[-5, 10]^dim`` with the recommended surrogate of both Ackley tasks."""
    return botorch_task(
        Ackley(dim=dim, bounds=[(-5.0, 10.0)] * dim),
        name=f"ackley{dim}",
        reference=f"Ackley function on [-5, 10]^{dim} (Eriksson et al., 'Scalable global optimization via local "
        "Bayesian optimization', NeurIPS 2019), via botorch.test_functions.Ackley",
        n_train=n_train,
        surrogate=SurrogateSpec(hidden=(64, 64, 64), activation="silu", epochs=200, batch_size=128, lr=3e-3),
        budget=budget,
    )


def rosenbrock10() -> Task:
    """Rosenbrock in 10-d on BoTorch's default ``[-5, 10]^10``, minimum 0 at ``(1, ..., 1)``.

    Recommendations: 10,000 offline designs (the best half hidden), 200 oracle queries.
    """
    return botorch_task(
        Rosenbrock(dim=10),
        name="rosenbrock10",
        reference="Rosenbrock function, via botorch.test_functions.Rosenbrock",
        n_train=10_000,
        surrogate=SurrogateSpec(hidden=(256,), activation="gelu", epochs=200, batch_size=128, lr=3e-2),
        budget=200,
    )


def styblinski_tang10() -> Task:
    """Styblinski-Tang in 10-d on BoTorch's default ``[-5, 5]^10``, minimum ``-39.166166 * 10``
    at ``(-2.903534, ..., -2.903534)``.

    Recommendations: 10,000 offline designs (the best half hidden), 200 oracle queries. The
    surrogate is one wide layer trained at a high learning rate: three layers of 64 or 128 at
    3e-3 to 1e-2 memorised the hidden-best data and left about 60% of the variance unexplained.
    """
    return botorch_task(
        StyblinskiTang(dim=10),
        name="styblinski_tang10",
        reference="Styblinski-Tang function, via botorch.test_functions.StyblinskiTang",
        n_train=10_000,
        surrogate=SurrogateSpec(hidden=(256,), activation="gelu", epochs=200, batch_size=128, lr=3e-2),
        budget=200,
    )
