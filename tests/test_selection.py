"""Choosing the k designs to return: best first, optionally spread out."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import quadratic

import invdesign as ivd
from invdesign import select_designs


def candidates(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Designs in [-1, 1]^2 whose energy is lowest in one small basin, so the best crowd together."""
    X = ivd.Box(-1.0, 1.0, dim=2).sample(n, seed=seed)
    F = (X - torch.tensor([0.5, 0.5], dtype=X.dtype)).norm(dim=-1)
    return X, F


def mean_pairwise_distance(X: torch.Tensor) -> float:
    d = torch.cdist(X, X)
    n = X.shape[0]
    return float(d.sum() / (n * (n - 1)))


def test_no_diversity_is_the_k_lowest_energies():
    X, F = candidates()
    for k in (1, 7, 200):
        assert torch.equal(select_designs(X, F, k), torch.argsort(F, stable=True)[:k])


def test_ties_are_stable_and_failed_evaluations_come_last():
    F = torch.tensor([2.0, math.nan, 1.0, math.inf, 1.0, -math.inf, 0.5])
    X = torch.arange(7.0).unsqueeze(1)
    assert select_designs(X, F, 7).tolist() == [6, 2, 4, 0, 1, 3, 5]
    assert select_designs(X, F, 7, diversity=0.5)[-3:].tolist() == [1, 3, 5]


@pytest.mark.parametrize("diversity", [1.0, 2.0, 10.0])
def test_diversity_spreads_the_selection_without_duplicates(diversity):
    X, F = candidates()
    k = 10
    best = select_designs(X, F, k)
    spread = select_designs(X, F, k, diversity=diversity)
    assert spread.shape == (k,) and spread.dtype == torch.long
    assert len(set(spread.tolist())) == k
    assert spread[0] == best[0]  # always starts from the best design
    assert mean_pairwise_distance(X[spread]) > mean_pairwise_distance(X[best])
    assert F[spread].mean() >= F[best].mean()  # spread is paid for in energy


def test_more_diversity_spreads_more():
    X, F = candidates()
    spreads = [mean_pairwise_distance(X[select_designs(X, F, 10, diversity=w)]) for w in (0.0, 0.2, 1.0, 5.0)]
    assert spreads == sorted(spreads)
    assert spreads[-1] > 2 * spreads[0]


def test_duplicates_are_not_picked_while_other_designs_remain():
    X = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    F = torch.tensor([0.0, 0.0, 0.0, 0.3])
    assert select_designs(X, F, 2).tolist() == [0, 1]
    assert select_designs(X, F, 2, diversity=1.5).tolist() == [0, 3]
    assert sorted(select_designs(X, F, 4, diversity=1.5).tolist()) == [0, 1, 2, 3]


def test_diversity_is_free_of_units():
    X, F = candidates()
    chosen = select_designs(X, F, 12, diversity=0.7)
    assert torch.equal(select_designs(1e3 * X + 5.0, 1e-4 * F - 3.0, 12, diversity=0.7), chosen)


def test_space_measures_distance_in_unit_cube_coordinates():
    # In raw units only the second coordinate matters; in the box's units both count alike.
    box = ivd.Box([0.0, 0.0], [1.0, 100.0])
    X = torch.tensor([[0.0, 0.0], [0.9, 0.0], [0.0, 10.0]], dtype=torch.float64)
    F = torch.tensor([0.0, 0.1, 0.1], dtype=torch.float64)
    assert select_designs(X, F, 2, diversity=1.0).tolist() == [0, 2]
    assert select_designs(X, F, 2, diversity=1.0, space=box).tolist() == [0, 1]


def test_result_top():
    box = ivd.Box(-1.0, 1.0, dim=4)
    res = ivd.minimize(ivd.Objective(quadratic, box), "random", max_evals=64, seed=0)
    X, F = res.top(5)
    assert torch.equal(X, res.X[:5]) and torch.equal(F, res.F[:5])
    X, F = res.top(5, diversity=1.0, space=box)
    assert X.shape == (5, 4) and F.shape == (5,)
    assert torch.equal(X[0], res.x) and F[0] == res.fun
    assert mean_pairwise_distance(X) > mean_pairwise_distance(res.X[:5])
    assert torch.allclose(F, quadratic(X))
    with pytest.raises(ValueError, match="between 1 and the number of designs"):
        res.top(65)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((torch.zeros(4), torch.zeros(4), 2), {}, ValueError, r"X of shape \(n, d\), got \(4,\)"),
        ((torch.zeros(4, 2), torch.zeros(3), 2), {}, ValueError, r"F of shape \(4,\) like X's rows, got \(3,\)"),
        ((torch.zeros(4, 2), torch.zeros(4), 0), {}, ValueError, r"between 1 and the number of designs \(4\), got 0"),
        ((torch.zeros(4, 2), torch.zeros(4), 5), {}, ValueError, "got 5"),
        ((torch.zeros(4, 2), torch.zeros(4), 2.0), {}, TypeError, "k must be an integer"),
        ((torch.zeros(4, 2), torch.zeros(4), 2), {"diversity": -0.1}, ValueError, "diversity must be finite and non-negative"),
        ((torch.zeros(4, 2), torch.zeros(4), 2), {"space": ivd.Box(0.0, 1.0, dim=3)}, ValueError, "dimension 3 but the designs have 2"),
        (([[0.0]], [0.0], 1), {}, TypeError, "needs tensors"),
    ],
)
def test_bad_selections_get_clear_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        select_designs(*args, **kwargs)
