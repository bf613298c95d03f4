"""The ballistics inverse task: where does a projectile thrown against linear air drag land?

From Ren, Padilla and Malof, "Benchmarking deep inverse models over time, and the
neural-adjoint method", NeurIPS 2020 (reference code: BDIMNNA); also used by Kruse et al.,
"Benchmarking invertible architectures on inverse problems", 2021.

A ball of mass ``m`` leaves ``(x0, y0)`` with speed ``v0`` at ``angle`` above the horizontal and
feels gravity ``g`` and a drag force ``-k v`` proportional to its velocity. With
``vx = v0 cos(angle)``, ``vy = v0 sin(angle)`` the trajectory is, exactly::

    x(t) = x0 - (vx m / k) (exp(-k t / m) - 1)
    y(t) = y0 - (m / k^2) ((g m + vy k) (exp(-k t / m) - 1) + g t k)

The output is ``x(t*)`` at the landing time ``t*``: the first time after the apex at which the
height ``y`` crosses 0. It is solved for exactly (to float64 rounding) by Newton's method, not read
off a time grid.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from invdesign.space import Box
from invdesign.tasks.base import Task
from invdesign.tasks.surrogate import SurrogateSpec

_REN_2020 = (
    "Ren, Padilla, Malof, 'Benchmarking deep inverse models over time, and the "
    "neural-adjoint method', NeurIPS 2020"
)

GRAVITY = 9.81
"""Gravitational acceleration ``g``."""

DRAG = 0.25
"""Linear drag coefficient ``k`` (drag force ``-k v``)."""

MASS = 0.2
"""Mass ``m`` of the projectile."""

ANGLE_RANGE = (0.1 * math.pi / 2, 0.9 * math.pi / 2)
"""The prior's (uniform) range of launch angles, in radians."""

SPEED_MEAN = 15.0
"""The rate of the prior's Poisson distribution of launch speeds ``v0``."""

BALLISTICS_SPACE = Box([-1.5, 0.0, ANGLE_RANGE[0], 3.0], [1.5, 3.0, ANGLE_RANGE[1], 30.0])
"""The search box of ``(x0, y0, angle, v0)``; see :func:`ballistics`."""

# Newton's method stops once a step moves the landing time by less than this, relative to the
# time scale max(1, t), in every row; it converges quadratically, so this is float64 rounding.
_NEWTON_RTOL = 1e-14
_NEWTON_MAX_ITER = 200


def ballistics_forward(x: Tensor, *, g: float = GRAVITY, k: float = DRAG, m: float = MASS) -> Tensor:
    """Where a projectile launched with linear drag comes down to height 0.

    The landing time ``t*`` is the root of the height ``y(t)`` after the apex (formulas in the
    module docstring). It is found in float64 by Newton's method started to the right of the root:
    after the apex ``y`` is concave and decreasing in ``t`` (for the upward or level launches of
    the prior, indeed whenever ``vy > -g m / k``), so the iterates decrease monotonically to
    ``t*``. Newton runs without autograd until it has converged, then takes one more step with
    autograd enabled, so the gradient with respect to ``x`` is the implicit-function one,
    ``dt*/dx = -(dy/dx) / (dy/dt)`` at ``t*``. (For a launch steeply downwards, ``vy <= -g m / k``,
    ``y`` is convex and decreasing and Newton starts from ``t = 0`` instead, from the left.)

    A shot that never comes down to height 0 after its apex (the apex itself lies below 0,
    possible only for ``y0 < 0``, outside the prior) is an invalid design: its output is NaN,
    not a number one could optimize. Non-finite designs give NaN too.

    Args:
        x: Designs ``(x0, y0, angle, v0)``: launch position, angle above the horizontal in
            radians and speed; shape ``(n, 4)``, floating point.
        g: Gravitational acceleration, positive.
        k: Linear drag coefficient, positive. The formulas stay accurate as ``k -> 0``: a tiny
            ``k`` such as ``1e-9`` gives the no-drag range to about 1e-8 (``k = 0`` itself is
            refused).
        m: Mass, positive.

    Returns:
        The landing position ``x(t*)``, shape ``(n, 1)``, dtype and device of ``x``; NaN for
        shots that never land; differentiable with respect to ``x``.

    Raises:
        TypeError: if ``x`` is not a floating point tensor.
        ValueError: if ``x`` does not have shape ``(n, 4)`` or ``g``, ``k`` or ``m`` is not positive.
        RuntimeError: if Newton's method has not converged after 200 steps (not expected).

    Example:
        >>> ballistics_forward(torch.tensor([[0.0, 1.5, math.pi / 4, 15.0]]))
        tensor([[7.6927]])
    """
    if not isinstance(x, Tensor) or not x.is_floating_point():
        got = x.dtype if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"ballistics_forward expects a floating point tensor, got {got}")
    if x.ndim != 2 or x.shape[1] != 4:
        raise ValueError(f"ballistics_forward expects designs of shape (n, 4), got {tuple(x.shape)}")
    for name, value in (("g", g), ("k", k), ("m", m)):
        if not value > 0:
            raise ValueError(f"ballistics_forward needs a positive {name}, got {value}")

    x0, y0, angle, v0 = x.to(torch.float64).unbind(-1)
    vx, vy = v0 * torch.cos(angle), v0 * torch.sin(angle)
    rate = k / m  # 1 / time constant of the drag

    def height(t: Tensor) -> tuple[Tensor, Tensor]:
        """``y(t)`` and ``dy/dt``, shape ``(n,)`` each, for times ``t`` of shape ``(n,)``.

        Written as ``y = y0 + vy t phi1(k t / m) - g t^2 phi2(k t / m)``, which equals the formula
        of the module docstring but stays accurate as ``k -> 0`` (no cancellation of huge terms).
        """
        a = rate * t
        y = y0 + vy * t * _phi1(a) - g * t**2 * _phi2(a)
        return y, vy * torch.exp(-a) - g * t * _phi1(a)

    with torch.no_grad():
        # The apex: y' = 0 at t = log(1 + vy k / (g m)) m / k for upward launches, at t = 0 otherwise.
        t_apex = torch.log1p(vy.clamp(min=0) * rate / g) / rate
        lands = height(t_apex)[0] >= 0  # a NaN apex (non-finite design) does not land either
        # y'' = -(g + vy k / m) exp(-k t / m): y is concave wherever g + vy k / m > 0. There, as
        # 1 - exp(-k t / m) <= 1, y(t) <= y0 + (vy + g m / k) m / k - g m t / k, which is negative
        # from t_up on: a start to the right of the root. Elsewhere y is convex and decreasing,
        # and Newton starts from the left, at t = 0.
        concave = g + vy * rate > 0
        t_up = y0 * rate / g + vy / g + 1 / rate
        t = torch.where(lands & concave, t_up, torch.zeros_like(t_up))
        direction = torch.where(concave, 1.0, -1.0).to(t)  # the sign of every step y / y'
        for _ in range(_NEWTON_MAX_ITER):
            y, slope = height(t)
            # Steps against the monotone direction are float64 rounding at the root: not taken.
            step = torch.where(lands, (direction * y / slope).clamp(min=0) * direction, torch.zeros_like(y))
            t = t - step
            converged = step.abs() <= _NEWTON_RTOL * t.abs().clamp(min=1.0)
            if bool(converged.all()):
                break
        else:
            rows = (~converged).nonzero().flatten().tolist()
            raise RuntimeError(
                f"ballistics_forward: Newton's method for the landing time did not converge in "
                f"{_NEWTON_MAX_ITER} steps for rows {rows[:10]}"
            )

    # One more Newton step, now tracked by autograd: its value is t* (y(t*) = 0 to rounding) and
    # its gradient with respect to x is the implicit-function gradient -(dy/dx) / (dy/dt).
    y, slope = height(t)
    t_land = t - y / torch.where(lands, slope, torch.ones_like(slope))
    x_land = x0 + vx * t_land * _phi1(rate * t_land)
    x_land = torch.where(lands, x_land, torch.full_like(x_land, math.nan))
    return x_land.to(x.dtype).unsqueeze(-1)


# Below this |a|, phi1 and phi2 are summed from their Taylor series (12 terms: truncation error
# below 1e-22); above, their closed forms lose at most a few ulps.
_SERIES_BELOW = 0.1
_SERIES_TERMS = 12


def _phi1(a: Tensor) -> Tensor:
    """``(1 - exp(-a)) / a``, 1 at ``a = 0``; elementwise, any shape, differentiable everywhere."""
    small = a.abs() < _SERIES_BELOW
    safe = torch.where(small, torch.ones_like(a), a)  # no 0 / 0 in the unused branch, nor in its gradient
    return torch.where(small, _exp_series(a, 1), -torch.expm1(-safe) / safe)


def _phi2(a: Tensor) -> Tensor:
    """``(exp(-a) - 1 + a) / a^2``, 1/2 at ``a = 0``; elementwise, any shape, differentiable everywhere."""
    small = a.abs() < _SERIES_BELOW
    safe = torch.where(small, torch.ones_like(a), a)
    return torch.where(small, _exp_series(a, 2), (torch.expm1(-safe) + safe) / safe**2)


def _exp_series(a: Tensor, shift: int) -> Tensor:
    """``sum_{j >= 0} (-a)^j / (j + shift)!`` by Horner's rule, truncated after ``_SERIES_TERMS`` terms."""
    total = torch.zeros_like(a)
    for j in reversed(range(_SERIES_TERMS)):
        total = 1 / math.factorial(j + shift) - a * total
    return total


def _ballistics_prior(n: int, generator: torch.Generator) -> Tensor:
    x0 = 0.5 * torch.randn(n, generator=generator, dtype=torch.float64)
    y0 = (1.5 + 0.5 * torch.randn(n, generator=generator, dtype=torch.float64)).clamp(min=0.0)
    low, high = ANGLE_RANGE
    angle = low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)
    v0 = torch.poisson(torch.full((n,), SPEED_MEAN, dtype=torch.float64), generator=generator)
    return torch.stack([x0, y0, angle, v0], dim=-1)


def ballistics() -> Task:
    """The 4 -> 1 ballistics task of Ren et al. (NeurIPS 2020), oracle :func:`ballistics_forward`.

    Designs ``(x0, y0, angle, v0)``; ``g = 9.81``, ``k = 0.25``, ``m = 0.2``. Prior:
    ``x0 ~ N(0, 0.5^2)``, ``y0 = max(N(1.5, 0.5^2), 0)``, ``angle ~ U(0.1 pi/2, 0.9 pi/2)``,
    ``v0 ~ Poisson(15)``. The paper states no box; the space here is
    ``x0`` in ``[-1.5, 1.5]`` (3 standard deviations), ``y0`` in ``[0, 3]`` (the prior's lower
    bound to 3 standard deviations above the mean), ``angle`` in ``[0.1 pi/2, 0.9 pi/2]`` (the
    prior's support) and ``v0`` in ``[3, 30]`` (99.98% of Poisson(15) draws). About 0.4% of prior
    draws fall outside it; they are kept, so training data follow the paper's prior. Every design
    in the box, and every prior draw, lands (it starts at or above height 0, moving up); designs
    that do not are NaN (see :func:`ballistics_forward`).
    """
    return Task(
        name="ballistics",
        oracle=ballistics_forward,
        space=BALLISTICS_SPACE,
        kind="target",
        output_dim=1,
        prior=_ballistics_prior,
        reference=_REN_2020,
        n_train=10_000,
        budget=200,
        surrogate=SurrogateSpec(hidden=(64, 64, 64), activation="silu", epochs=200, batch_size=128, lr=3e-3),
    )
