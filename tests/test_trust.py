"""Trust by default: every result reports how far its designs are from the training data, and guards are one word."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_solvers import BUDGETS

import invdesign as ivd
from invdesign.penalties import DataDistance
from invdesign.trust import SUPPORT_QUANTILE, TrainingData

BOX = ivd.Box(-1.0, 2.0, dim=3, dtype=torch.float64)
SMALL = {
    "gd": {"n_restarts": 4, "max_iter": 50},
    "lbfgs": {"n_restarts": 2, "max_iter": 30},
    "random": {"max_evals": 32},
    "cmaes": {"max_evals": 40},
    "bo": {"max_evals": 10, "n_init": 6, "num_restarts": 2, "raw_samples": 32},
    "turbo": {"max_evals": 12, "n_init": 8},
    "amortized": {"batch_size": 8, "max_iter": 30},
    "milp": {"max_iter": 10_000},
}


def data(n: int = 60, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Training designs in [0, 1]^3 (the box is wider) and their outputs, ``(n, 3)`` and ``(n,)``."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    return X, (X - 0.3).square().sum(dim=-1)


def relu_net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)).double()


def by_hand(X: torch.Tensor, Y: torch.Tensor, designs: torch.Tensor, predictions: np.ndarray) -> dict[str, np.ndarray]:
    """Distances, support and range by brute force in NumPy."""
    x, d, y = X.numpy(), designs.numpy(), Y.numpy()
    std = x.std(axis=0, ddof=1)
    u, v = x / std, d / std
    own = np.sqrt(((u[:, None, :] - u[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(own, np.inf)
    radius = np.quantile(own.min(axis=1), SUPPORT_QUANTILE)
    distance = np.sqrt(((v[:, None, :] - u[None, :, :]) ** 2).sum(-1)).min(axis=1)
    return {
        "distance": distance, "in_support": distance <= radius, "radius": radius,
        "outside_range": (predictions < y.min()) | (predictions > y.max()),
    }


@pytest.mark.parametrize("method", ivd.solvers.available())
def test_every_solver_reports_trust_columns_that_match_a_hand_computation(method):
    X, Y = data()
    model = relu_net()
    objective = ivd.Objective(model, BOX, data=(X, Y))
    options = dict(SMALL.get(method, BUDGETS.get(method, {})))
    if ivd.solvers.make(method).capabilities.data:
        options["x0"] = ivd.FromData(X, Y)
    result = ivd.minimize(objective, method, seed=0, **options)
    assert result.trust is not None
    with torch.no_grad():
        predictions = model(result.X).squeeze(-1).numpy()
    expected = by_hand(X, Y, result.X, predictions)
    table = result.designs
    np.testing.assert_allclose(table["distance"], expected["distance"], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(table["in_support"], expected["in_support"])
    np.testing.assert_allclose(table["prediction"], predictions, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(table["outside_range"], expected["outside_range"])
    assert result.trust.radius == pytest.approx(expected["radius"], rel=1e-9)
    out = int((~expected["in_support"]).sum())
    assert f"{out} of {len(table)} designs lie outside the training data's support" in result.message
    assert f"{out} of {len(table)} designs outside the data's support" in repr(result)
    assert "spread" not in table.columns


def test_an_ensemble_reports_the_spread_of_its_members():
    X, Y = data()
    members = [relu_net(seed) for seed in range(3)]
    model = ivd.models.Ensemble(members)
    result = ivd.minimize(ivd.Objective(model, BOX, data=(X, Y)), "gd", n_restarts=4, max_iter=20, seed=0)
    with torch.no_grad():
        outputs = torch.stack([m(result.X).squeeze(-1) for m in members])
    np.testing.assert_allclose(result.designs["spread"], outputs.std(dim=0, unbiased=False).numpy(), rtol=1e-9)
    np.testing.assert_allclose(result.designs["prediction"], outputs.mean(dim=0).numpy(), rtol=1e-9)


def test_an_unguarded_search_leaves_the_support_and_trust_region_keeps_it_inside():
    X, Y = data(n=200)
    model = torch.nn.Linear(3, 1).double()  # a linear surrogate: unguarded, it runs to the box's corner
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 1.0, 1.0]]))
        model.bias.zero_()
    plain = ivd.minimize(ivd.Objective(model, BOX, data=(X, Y)), "gd", n_restarts=8, seed=0)
    guarded = ivd.minimize(ivd.Objective(model, BOX, data=(X, Y), trust="region"), "gd", n_restarts=8, seed=0)
    assert plain.trust is not None and guarded.trust is not None
    assert not plain.trust.inside.any() and plain.trust.outside_range is not None and plain.trust.outside_range.all()
    assert guarded.trust.inside.all()
    assert guarded.fun > plain.fun  # the guard costs predicted energy: it is what keeps the design believable


def test_from_data_starts_report_too_unless_trust_is_off():
    X, Y = data()
    model = relu_net()
    started = ivd.minimize(ivd.Objective(model, BOX), "gd", x0=ivd.FromData(X, Y), n_restarts=4, max_iter=20, seed=0)
    assert started.trust is not None and "support" in started.message
    off = ivd.minimize(ivd.Objective(model, BOX, data=(X, Y), trust=None), "gd", n_restarts=4, max_iter=20, seed=0)
    assert off.trust is None and "support" not in off.message


def test_a_latent_search_is_judged_on_its_decoded_designs():
    X, Y = data()
    decoder = torch.nn.Linear(2, 3).double()
    model = relu_net()
    latent = ivd.Box(-1.0, 1.0, dim=2, dtype=torch.float64)
    result = ivd.minimize(ivd.Objective(model, latent, decoder=decoder, data=(X, Y)), "gd", n_restarts=4, max_iter=20, seed=0)
    assert result.trust is not None and result.Z is not None
    with torch.no_grad():
        decoded = decoder(result.Z)
        predictions = model(decoded).squeeze(-1).numpy()
    np.testing.assert_allclose(result.trust.distance.numpy(), by_hand(X, Y, decoded, predictions)["distance"], rtol=1e-9)


@pytest.mark.parametrize("method", ["gd", "random"])  # one batch of targets; one target after another
def test_a_target_batch_reports_per_target(method):
    X, _ = data()
    model = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        Y = model(X)
    targets = torch.tensor([[0.0, 0.1], [5.0, 5.0]], dtype=torch.float64)
    budget = {"n_restarts": 4, "max_iter": 30} if method == "gd" else {"n_restarts": 4, "max_evals": 8}
    result = ivd.minimize(ivd.Objective(model, BOX, target=targets, data=(X, Y)), method, seed=0, **budget)
    for one in result:
        assert one.trust is not None and one.trust.prediction.shape == (one.X.shape[0], 2)
        assert {"prediction_0", "prediction_1", "outside_range"} <= set(one.designs.columns)
        assert one.message.count("support") == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trust": "region"}, "needs the training data"),
        ({"trust": "report"}, "needs the training data"),
        ({"trust": "sometimes", "data": data()}, "trust must be one of"),
        ({"trust": "ensemble", "ensemble": "mean"}, "trust='ensemble' is ensemble='pessimistic'"),
        ({"data": (data()[0][:, :2], data()[1])}, "data X has 2 columns but the objective's designs have 3"),
        ({"data": (data()[0], data()[1][:10])}, "data Y must have 60 rows like X"),
        ({"data": (data()[0][:1], data()[1][:1])}, "at least 2 designs"),
        ({"data": (data()[0], torch.stack([data()[1]] * 2, dim=1))}, "data Y has 2 outputs per design but the model returns 1"),
    ],
)
def test_bad_data_and_trust_words_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ivd.Objective(relu_net(), BOX, **kwargs)


def test_nan_in_the_data_is_named():
    X, Y = data()
    X[5, 1] = float("nan")
    with pytest.raises(ValueError, match=r"data X has NaN or infinite values in rows \[5\]"):
        TrainingData(X, Y)


def test_trust_ensemble_is_pessimism_over_the_members():
    model = ivd.models.Ensemble([relu_net(seed) for seed in range(3)])
    objective = ivd.Objective(model, BOX, trust="ensemble")
    assert objective.ensemble == "pessimistic" and objective.beta == 2.0 and objective.data is None
    with pytest.raises(TypeError, match="members_forward"):
        ivd.Objective(relu_net(), BOX, trust="ensemble")


@pytest.mark.parametrize("d", [3, 12])  # a k-d tree finds the nearest design up to 8 dimensions, brute force above
def test_nearest_training_design_is_found_either_way(d):
    g = torch.Generator().manual_seed(d)
    X, x = torch.rand(500, d, generator=g, dtype=torch.float64), torch.rand(300, d, generator=g, dtype=torch.float64) * 2
    expected = torch.cdist(x, X).min(dim=1).values
    torch.testing.assert_close(DataDistance(X).distance(x), expected, rtol=1e-12, atol=1e-12)


def test_a_data_set_that_cannot_measure_trust_does_not_cost_the_run():
    X = torch.full((6, 3), 0.5, dtype=torch.float64)  # one design six times: no spacing to measure
    result = ivd.minimize(ivd.Objective(relu_net(), BOX), "gd", x0=ivd.FromData(X, torch.zeros(6)), n_restarts=2, max_iter=5, seed=0)
    assert result.trust is None and "No trust report: the training designs are all identical" in result.message
    with pytest.raises(ValueError, match="all identical"):
        ivd.Objective(relu_net(), BOX, data=(X, torch.zeros(6)))


@pytest.mark.parametrize("d", [3, 12])
def test_a_design_with_nan_has_a_nan_distance_and_lies_outside(d):
    X = torch.rand(50, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = X[:3].clone()
    x[1, 0] = float("nan")
    distance = DataDistance(X).distance(x)
    assert distance[0] == 0 and torch.isnan(distance[1]) and distance[2] == 0
    assert not bool(distance[1] <= 1.0)  # so the report counts it outside the support


def test_a_variable_named_like_a_trust_column_keeps_its_column():
    space = ivd.Space([ivd.Real("distance", 0.0, 1.0), ivd.Real("b", 0.0, 1.0)])
    X = torch.rand(40, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = torch.nn.Linear(2, 1).double()
    result = ivd.minimize(ivd.Objective(model, space, data=(X, X.sum(dim=-1))), "gd", n_restarts=3, max_iter=5, seed=0)
    table = result.designs
    assert result.trust is not None
    np.testing.assert_array_equal(table["distance"], result.X[:, 0].numpy())
    np.testing.assert_array_equal(table["trust_distance"], result.trust.distance.numpy())


def test_a_model_that_fails_on_the_report_does_not_cost_the_run(monkeypatch):
    X, Y = data()
    objective = ivd.Objective(relu_net(), BOX, data=(X, Y))

    def broken(*args, **kwargs):
        raise RuntimeError("the model server went away")

    monkeypatch.setattr(objective.data, "report", broken)
    result = ivd.minimize(objective, "gd", n_restarts=2, max_iter=5, seed=0)
    assert result.trust is None and "No trust report: RuntimeError: the model server went away" in result.message
