"""Tests for the ballistics task: the landing point against closed forms, an independent root
search and an ODE integration; NaN for shots that never land; gradients; the prior."""

from __future__ import annotations

import math

import pytest
import torch

from invdesign import tasks
from invdesign.space import Box
from invdesign.tasks import ballistics_forward
from invdesign.tasks.ballistics import ANGLE_RANGE

G, K, M = 9.81, 0.25, 0.2


def no_drag_range(x: torch.Tensor, g: float = G) -> torch.Tensor:
    """Closed-form landing point without drag: x0 + vx (vy + sqrt(vy^2 + 2 g y0)) / g, shape (n,)."""
    x0, y0, angle, v0 = x.unbind(-1)
    vx, vy = v0 * torch.cos(angle), v0 * torch.sin(angle)
    return x0 + vx * (vy + torch.sqrt(vy**2 + 2 * g * y0)) / g


def landing_by_bisection(x: torch.Tensor, g: float = G, k: float = K, m: float = M) -> torch.Tensor:
    """The README's trajectory formulas taken literally, the landing time found by bisection; shape (n,).

    Independent of the Newton solver: brackets [apex, T] with y(apex) >= 0 > y(T), 200 halvings.
    """
    x0, y0, angle, v0 = x.unbind(-1)
    vx, vy = v0 * torch.cos(angle), v0 * torch.sin(angle)

    def y_of(t: torch.Tensor) -> torch.Tensor:
        return y0 - (m / k**2) * ((g * m + vy * k) * (torch.exp(-k * t / m) - 1) + g * t * k)

    lo = torch.log1p(vy.clamp(min=0) * k / (m * g)) * m / k  # the apex
    hi = lo + 1.0
    while bool((y_of(hi) >= 0).any()):
        hi = torch.where(y_of(hi) >= 0, 2 * hi, hi)
    for _ in range(200):
        mid = (lo + hi) / 2
        above = y_of(mid) >= 0
        lo, hi = torch.where(above, mid, lo), torch.where(above, hi, mid)
    t = (lo + hi) / 2
    return x0 - (vx * m / k) * (torch.exp(-k * t / m) - 1)


def landing_by_rk4(x0: float, y0: float, angle: float, v0: float, dt: float = 1e-3) -> float:
    """Integrate m dv/dt = -k v - m g with RK4 and interpolate linearly where y crosses 0 going down."""

    def rate(s: list[float]) -> list[float]:
        return [s[2], s[3], -K / M * s[2], -G - K / M * s[3]]

    s = [x0, y0, v0 * math.cos(angle), v0 * math.sin(angle)]
    while True:
        k1 = rate(s)
        k2 = rate([a + dt / 2 * b for a, b in zip(s, k1)])
        k3 = rate([a + dt / 2 * b for a, b in zip(s, k2)])
        k4 = rate([a + dt * b for a, b in zip(s, k3)])
        new = [a + dt / 6 * (b1 + 2 * b2 + 2 * b3 + b4) for a, b1, b2, b3, b4 in zip(s, k1, k2, k3, k4)]
        if new[3] < 0 and s[1] >= 0 > new[1]:
            return s[0] + s[1] / (s[1] - new[1]) * (new[0] - s[0])
        s = new


DESIGNS = [
    [0.0, 1.5, math.pi / 4, 15.0],  # the prior's typical shot
    [0.3, 0.0, 0.3, 10.0],  # from the ground
    [-1.2, 2.9, 0.1 * math.pi / 2, 3.0],  # slow and flat, from high up
    [1.0, 0.5, 0.9 * math.pi / 2, 30.0],  # fast and steep
    [0.0, -0.5, 1.0, 12.0],  # launched from below the ground, apex above it: lands
    [0.2, 1.0, 0.0, 5.0],  # horizontal
    [0.0, 2.0, 0.7, 0.0],  # dropped
]


def test_no_drag_limit_matches_the_closed_form() -> None:
    x = torch.tensor(DESIGNS, dtype=torch.float64)
    # the drag changes the range by a relative O(k t / m), about 1e-8 here
    y = ballistics_forward(x, k=1e-9)
    assert y.shape == (len(DESIGNS), 1) and y.dtype == torch.float64
    torch.testing.assert_close(y[:, 0], no_drag_range(x), atol=1e-6, rtol=0)
    # and the drag shortens every shot that moves sideways
    assert (ballistics_forward(x)[:, 0] - x[:, 0] <= no_drag_range(x) - x[:, 0] + 1e-12).all()


def test_with_drag_matches_a_bisection_of_the_paper_formulas() -> None:
    x = torch.tensor(DESIGNS + [[0.1, 1.0, -1.5, 20.0]], dtype=torch.float64)  # last: steeply downwards
    torch.testing.assert_close(ballistics_forward(x)[:, 0], landing_by_bisection(x), atol=1e-10, rtol=0)


def test_with_drag_matches_an_ode_integration() -> None:
    x0, y0, angle, v0 = 0.0, 1.5, math.pi / 4, 15.0
    expected = landing_by_rk4(x0, y0, angle, v0)
    y = ballistics_forward(torch.tensor([[x0, y0, angle, v0]], dtype=torch.float64))
    assert float(y) == pytest.approx(expected, abs=1e-6)
    assert float(y) == pytest.approx(7.6927, abs=1e-4)  # the docstring's example


def test_hand_worked_cases() -> None:
    x = torch.tensor([[0.4, 2.0, 0.7, 0.0], [-0.3, 0.0, 0.5, 0.0]], dtype=torch.float64)
    # dropped from rest, or at rest on the ground: lands where it started
    torch.testing.assert_close(ballistics_forward(x)[:, 0], x[:, 0], atol=1e-12, rtol=0)
    # With drag the horizontal speed decays: however long the flight, x stays below
    # x0 + vx m / k; a high launch gets close to that limit.
    high = torch.tensor([[0.0, 2000.0, 0.2, 10.0]], dtype=torch.float64)
    limit = 10.0 * math.cos(0.2) * M / K
    assert float(ballistics_forward(high)) == pytest.approx(limit, rel=1e-12)


def test_shots_that_never_land_are_nan() -> None:
    x = torch.tensor(
        [
            [0.0, 1.5, math.pi / 4, 15.0],  # valid, to check it is unaffected by its neighbours
            [0.0, -5.0, 0.2, 3.0],  # starts below ground, far too slow to rise above it
            [0.0, -1.0, 0.5, 10.0],  # apex above 0 without drag (0.17) but not with it
            [0.0, -0.01, 0.0, 5.0],  # horizontal launch just below ground
            [math.nan, 1.0, 0.5, 10.0],  # not a design
        ],
        dtype=torch.float64,
        requires_grad=True,
    )
    y = ballistics_forward(x)
    assert torch.isfinite(y[0]).all() and torch.isnan(y[1:]).all()
    assert torch.equal(y[:1].detach(), ballistics_forward(x[:1].detach()))
    assert torch.isfinite(ballistics_forward(x[2:3].detach(), k=1e-9)).all()  # the no-drag shot lands
    y[0].sum().backward()  # gradients of the valid row are finite; invalid rows get none
    assert torch.isfinite(x.grad[0]).all() and (x.grad[1:4] == 0).all()


def test_gradients_are_the_implicit_function_ones() -> None:
    x = torch.tensor(DESIGNS[:6] + [[0.1, 1.0, -1.5, 20.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ballistics_forward, (x,))
    assert torch.autograd.gradcheck(lambda z: ballistics_forward(z, k=1e-7), (x,))


def test_dtype_and_device_follow_the_input() -> None:
    x = torch.tensor(DESIGNS, dtype=torch.float32)
    y = ballistics_forward(x)
    assert y.dtype == torch.float32 and y.shape == (len(DESIGNS), 1)
    torch.testing.assert_close(y, ballistics_forward(x.double()).float())


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 4\), got \(3, 3\)"):
        ballistics_forward(torch.zeros(3, 3))
    with pytest.raises(TypeError, match="floating point"):
        ballistics_forward(torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="positive k"):
        ballistics_forward(torch.zeros(3, 4), k=0.0)


def test_task_prior_space_and_oracle() -> None:
    task = tasks.get("ballistics")
    assert task.kind == "target" and task.input_dim == 4 and task.output_dim == 1
    assert task.space == Box([-1.5, 0.0, ANGLE_RANGE[0], 3.0], [1.5, 3.0, ANGLE_RANGE[1], 30.0])
    x = task.sample_prior(40_000, seed=0)
    x0, y0, angle, v0 = x.unbind(-1)
    assert float(x0.mean()) == pytest.approx(0.0, abs=0.01) and float(x0.std()) == pytest.approx(0.5, rel=0.02)
    assert (y0 >= 0).all() and float(y0.median()) == pytest.approx(1.5, abs=0.01)
    assert 0 < int((y0 == 0).sum()) < 200  # P(N(1.5, 0.5^2) < 0) = 0.00135
    assert (angle >= ANGLE_RANGE[0]).all() and (angle <= ANGLE_RANGE[1]).all()
    assert float(angle.mean()) == pytest.approx(math.pi / 4, abs=0.01)
    assert torch.equal(v0, v0.round()) and float(v0.mean()) == pytest.approx(15.0, abs=0.1)
    assert float(v0.var()) == pytest.approx(15.0, rel=0.05)
    outside = (~task.space.contains(x)).double().mean().item()
    assert outside < 0.01
    y = task.oracle(x)
    assert torch.isfinite(y).all()  # every prior draw lands
    # and so does every design in the box (y0 >= 0, launched upwards)
    assert torch.isfinite(task.oracle(task.space.sample(1000, seed=0))).all()
