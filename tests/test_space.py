from __future__ import annotations

import math

import pytest
import torch

import invdesign as ivd


def test_box_from_sequences_and_scalars():
    box = ivd.Box([-1.0, 0.0], [1.0, 2.0])
    assert box.dim == 2
    assert torch.equal(box.width, torch.tensor([2.0, 2.0], dtype=torch.float64))
    assert ivd.Box(0.0, 1.0, dim=3).dim == 3
    assert ivd.Box(0.0, [1.0, 2.0]).dim == 2


@pytest.mark.parametrize(
    ("lower", "upper", "kwargs", "match"),
    [
        ([0.0, 1.0], [1.0, 1.0], {}, "lower < upper"),
        ([0.0, 2.0], [1.0, 1.0], {}, "lower < upper"),
        ([0.0, math.nan], [1.0, 1.0], {}, "NaN or infinite"),
        ([0.0, 0.0], [1.0, math.inf], {}, "NaN or infinite"),
        ([0.0, 0.0], [1.0, 1.0, 1.0], {}, "entries"),
        (0.0, 1.0, {}, "dim="),
        ([0.0, 0.0], [1.0, 1.0], {"dim": 3}, "dim=3"),
        ([[0.0]], [[1.0]], {}, "1-d"),
    ],
)
def test_box_rejects_bad_bounds(lower, upper, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ivd.Box(lower, upper, **kwargs)


def test_box_rejects_integer_dtype():
    with pytest.raises(TypeError, match="floating"):
        ivd.Box(0, 1, dim=2, dtype=torch.int64)


def test_sample_is_seeded_sobol_inside_box():
    box = ivd.Box([-5.0, 0.0], [10.0, 15.0])
    a, b = box.sample(64, seed=3), box.sample(64, seed=3)
    assert torch.equal(a, b)
    assert not torch.equal(a, box.sample(64, seed=4))
    assert box.contains(a).all()
    # A scrambled Sobol sample of 64 points fills each of 8 bins per axis evenly.
    counts = torch.histc(box.to_unit(a)[:, 0], bins=8, min=0, max=1)
    assert torch.equal(counts, torch.full((8,), 8.0, dtype=counts.dtype))


def test_unit_cube_round_trip_and_clamp():
    box = ivd.Box([-5.0, 0.0], [10.0, 15.0])
    x = torch.tensor([[-5.0, 15.0], [2.5, 7.5], [20.0, -1.0]], dtype=torch.float64)
    assert torch.allclose(box.from_unit(box.to_unit(x)), x)
    assert torch.allclose(box.to_unit(x[:2]), torch.tensor([[0.0, 1.0], [0.5, 0.5]], dtype=torch.float64))
    assert torch.equal(box.clamp(x)[2], torch.tensor([10.0, 0.0], dtype=torch.float64))
    assert box.contains(x).tolist() == [True, True, False]
    with pytest.raises(ValueError, match="last dimension 2"):
        box.clamp(torch.zeros(3, 3))


def test_box_to_dtype_keeps_bounds():
    box = ivd.Box([0.0, -1.0], [1.0, 1.0]).to(torch.float32)
    assert box.dtype == torch.float32
    assert box.sample(4, seed=0).dtype == torch.float32
    assert box == ivd.Box([0.0, -1.0], [1.0, 1.0])


def test_clamp_passes_the_full_gradient_at_a_bound():
    box = ivd.Box(0.0, 1.0, dim=2)
    x = torch.tensor([[1.0, 0.5]], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(box.clamp(x).sum(), x)
    assert torch.equal(g, torch.ones_like(x))
