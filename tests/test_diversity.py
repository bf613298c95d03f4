"""Diversity measures of a set of designs, on hand-made points."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import invdesign as ivd
from invdesign.diversity import basins, count_basins, count_modes, mean_pairwise_distance


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


def _double_well(x):
    """Minima at x0 = -1 and +1 (the second coordinate is a bowl at 0), energy (n,)."""
    return (x[:, 0].square() - 1).square() + x[:, 1].square()


def test_basins_send_designs_down_to_their_minimum_and_group_the_end_points():
    space = ivd.Box(-2.0, 2.0, dim=2, dtype=torch.float64)
    # Two far apart in one basin, two close together across the barrier at x0 = 0, one on the far wall.
    X = torch.tensor([[-1.8, 1.5], [-0.3, -1.2], [0.05, 0.0], [-0.05, 0.0], [1.9, -1.9]], dtype=torch.float64)
    labels = basins(_double_well, X, space)
    assert labels.tolist() == [0, 0, 1, 0, 1]
    assert count_modes(X, space) == 4, "the designs themselves form four clusters"
    assert count_basins(_double_well, X, space) == 2
    assert basins(_double_well, X, space, steps=0).tolist() == [0, 1, 2, 2, 3], "no descent: the designs' own clusters"


def test_basins_keep_a_nan_design_apart_and_count_basins_leaves_it_out():
    space = ivd.Box(-2.0, 2.0, dim=2, dtype=torch.float64)

    def holey(x):
        return torch.where(x[:, 1] > 1.5, torch.nan, _double_well(x))

    X = torch.tensor([[-1.2, 0.0], [-0.8, 0.1], [0.5, 1.8]], dtype=torch.float64)
    assert basins(holey, X, space).tolist() == [0, 0, 1]
    assert count_basins(holey, X, space) == 1
    assert count_basins(holey, X[:0], space) == 0
    with pytest.raises(ValueError, match="radius must be positive"):
        basins(holey, X, space, radius=0.0)


def test_every_result_counts_its_modes_with_the_basin_rule():
    space = ivd.Box(-2.0, 2.0, dim=2, dtype=torch.float64)
    objective = ivd.Objective(_double_well, space)
    for method, budget in (("gd", {"n_restarts": 32}), ("random", {"max_evals": 64}), ("cmaes", {"max_evals": 200})):
        result = ivd.minimize(objective, method, seed=0, **budget)
        assert result.modes == count_basins(objective, result.X, space) <= 2, method
    spread = ivd.minimize(objective, "random", max_evals=64, seed=0)
    assert spread.modes == 2 and count_modes(spread.X, space) > 2
    with pytest.raises(ValueError, match="modes needs the objective searched"):
        _ = dataclasses.replace(spread, objective=None).modes
