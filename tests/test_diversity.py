"""Diversity measures of a set of designs, on hand-made points."""

from __future__ import annotations

import math

import pytest
import torch

import invdesign as ivd
from invdesign.diversity import count_modes, mean_pairwise_distance


def test_mean_pairwise_distance_of_known_points():
    X = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]], dtype=torch.float64)
    assert mean_pairwise_distance(X) == pytest.approx((5.0 + 4.0 + 3.0) / 3)
    box = ivd.Box([0.0, 0.0], [6.0, 8.0])  # unit-cube coordinates (0, 0), (0.5, 0.5), (0, 0.5)
    assert mean_pairwise_distance(X, box) == pytest.approx((math.sqrt(0.5) + 0.5 + 0.5) / 3)
    assert mean_pairwise_distance(X[:1]) == 0.0 and mean_pairwise_distance(X[:0]) == 0.0


def test_count_modes_finds_separated_clusters():
    g = torch.Generator().manual_seed(0)
    cluster = torch.randn(20, 2, generator=g, dtype=torch.float64) * 0.01
    two = torch.cat([cluster + 0.2, cluster + 0.8])
    assert count_modes(two) == 2
    assert count_modes(torch.cat([two, cluster + torch.tensor([0.2, 0.8], dtype=torch.float64)])) == 3
    assert count_modes(two, radius=1.0) == 1, "a radius wider than the gap merges the clusters"
    box = ivd.Box(0.0, 100.0, dim=2)
    assert count_modes(two * 100, box) == 2, "the radius is measured in unit-cube coordinates of the box"
    assert count_modes(two[:1]) == 1 and count_modes(two[:0]) == 0


def test_count_modes_joins_chains_single_linkage():
    chain = torch.linspace(0.0, 1.0, 21, dtype=torch.float64).unsqueeze(-1)  # steps of 0.05
    assert count_modes(chain, radius=0.1) == 1
    assert count_modes(chain, radius=0.04) == 21


def test_designs_of_any_shape_are_flattened_without_a_box():
    images = torch.zeros(4, 1, 2, 2)
    images[2:] += 1.0
    assert count_modes(images) == 2
    assert mean_pairwise_distance(images) == pytest.approx(4 * 2.0 / 6)


@pytest.mark.parametrize(
    ("X", "space", "error", "match"),
    [
        (torch.tensor([[0.0, math.nan]]), None, ValueError, r"NaN or infinite values in rows \[0\]"),
        (torch.zeros(3, 2, dtype=torch.long), None, TypeError, "floating point tensor"),
        (torch.zeros(3), None, ValueError, r"shape \(k, d\)"),
        (torch.zeros(3, 2), ivd.Box(0.0, 1.0, dim=3), ValueError, "the box has dimension 3"),
        (torch.zeros(3, 2), [(0.0, 1.0)] * 2, TypeError, "invdesign.Box"),
    ],
)
def test_bad_input_fails_clearly(X, space, error, match):
    for measure in (mean_pairwise_distance, count_modes):
        with pytest.raises(error, match=match):
            measure(X, space)


def test_radius_must_be_positive():
    with pytest.raises(ValueError, match="radius must be positive and finite, got 0.0"):
        count_modes(torch.zeros(3, 2), radius=0.0)


def test_exported_and_works_on_results():
    box = ivd.Box(-1.0, 1.0, dim=2)
    res = ivd.minimize(ivd.Objective(lambda x: x.square().sum(-1), box), "gd", n_restarts=8, seed=0)
    assert ivd.diversity.count_modes(res.X, box) == 1
    assert ivd.diversity.mean_pairwise_distance(res.X, box) < 1e-3
