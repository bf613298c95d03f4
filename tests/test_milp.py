"""``method="milp"`` and `invdesign.certify`: the certified minimum of ReLU networks over boxes and mixed
spaces, checked against dense samples, lbfgs restarts and grids; what it refuses, and its time-outs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import invdesign as ivd
from invdesign.mip.network import read_network
from invdesign.space import Categorical, Composition, Integer, Real, Space

MIP_GAP = 1e-6


def relu_net(d: int, widths: tuple[int, ...], seed: int, outputs: int = 1) -> nn.Sequential:
    """A random ReLU network ``(b, d) -> (b, outputs)`` in float64."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    w_in = d
    for w in widths:
        layers += [nn.Linear(w_in, w), nn.ReLU()]
        w_in = w
    layers.append(nn.Linear(w_in, outputs))
    return nn.Sequential(*layers).double()


def best_found(objective: ivd.Objective, n_samples: int = 10_000, n_restarts: int = 4) -> float:
    """The best energy of ``n_samples`` designs of the space and of lbfgs from the ``n_restarts`` best of them."""
    X = objective.space.sample(n_samples, seed=1)
    with torch.no_grad():
        F = objective(X)
    polished = ivd.minimize(objective, "lbfgs", x0=ivd.FromData(X, F), n_restarts=n_restarts, max_iter=30, seed=0)
    return min(float(F.min()), polished.fun)


def check_certified(result: ivd.Result, objective: ivd.Objective) -> None:
    """A converged milp result: its energy the objective's, its bound within the gap of it."""
    assert result.status is ivd.Status.CONVERGED, result.message
    assert result.bound is not None and result.gap is not None
    with torch.no_grad():
        assert float(objective(result.X[:1])[0]) == pytest.approx(result.fun, rel=1e-12, abs=1e-12)
    assert result.bound <= result.fun
    assert result.gap == pytest.approx(result.fun - result.bound)
    assert result.gap <= MIP_GAP * abs(result.fun) + 1e-6
    assert "differ by" not in result.message, "the program's value and the model's energy agree"


@pytest.mark.parametrize(("d", "widths"), [(2, (16, 16)), (5, (16, 16)), (10, (16, 16)), (3, (32, 32)), (2, (32, 32, 32))])
def test_optimum_of_random_relu_networks_beats_every_local_search(d, widths):
    objective = ivd.Objective(relu_net(d, widths, seed=d), ivd.Box(-1.0, 1.0, dim=d))
    result = ivd.minimize(objective, "milp", mip_gap=MIP_GAP)
    check_certified(result, objective)
    assert result.fun <= best_found(objective) + 1e-6


def test_optimum_is_at_most_the_best_of_ten_thousand_lbfgs_restarts():
    objective = ivd.Objective(relu_net(2, (16, 16), seed=2), ivd.Box(-1.0, 1.0, dim=2))
    result = ivd.minimize(objective, "milp", mip_gap=MIP_GAP)
    check_certified(result, objective)
    local = ivd.minimize(objective, "lbfgs", n_restarts=10_000, seed=0)
    assert result.fun <= local.fun + 1e-6


@pytest.mark.parametrize("widths", [(16, 16), (32, 32)])
def test_two_dimensional_optimum_matches_a_dense_grid(widths):
    model = relu_net(2, widths, seed=7)
    objective = ivd.Objective(model, ivd.Box(-1.0, 1.0, dim=2))
    result = ivd.minimize(objective, "milp", mip_gap=MIP_GAP)
    check_certified(result, objective)
    n = 401
    axis = torch.linspace(-1.0, 1.0, n, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        grid_min = float(objective(grid).min())
    # Within half a grid diagonal of the minimizer, the network (Lipschitz constant at most the
    # product of its layers' spectral norms) rises by at most this much.
    lipschitz = math.prod(float(torch.linalg.matrix_norm(m.weight.detach(), ord=2)) for m in model if isinstance(m, nn.Linear))
    resolution = lipschitz * (2.0 / (n - 1)) * math.sqrt(2) / 2
    assert result.fun <= grid_min + 1e-9
    assert grid_min - result.fun <= resolution


def test_tightening_changes_the_encoding_not_the_optimum():
    objective = ivd.Objective(relu_net(3, (16, 16), seed=3), ivd.Box(-1.0, 1.0, dim=3))
    tight = ivd.minimize(objective, "milp", mip_gap=MIP_GAP)
    loose = ivd.minimize(objective, "milp", mip_gap=MIP_GAP, tighten=False)
    assert tight.fun == pytest.approx(loose.fun, abs=1e-6)
    assert "bound-tightening LPs" in tight.message and "interval bounds only" in loose.message


def mixed_space() -> Space:
    return Space(
        [
            Real("a", -1.0, 1.0),
            Real("b", 0.0, 2.0),
            Integer("n", 0, 4),
            Categorical("solvent", ["water", "ethanol", "acetone"]),
            Composition(["Fe", "Ni", "Co"]),
            Real("temperature", 300.0, 900.0),
        ],
        constraints=["a + b <= 1.5", "Fe + 2*Ni >= 0.3"],
        fixed={"temperature": 500.0},
    )


def mixed_model(seed: int, hidden: tuple[int, ...] = (16, 16)) -> nn.Module:
    """A ReLU MLP with standardised inputs over the mixed space's 10 columns."""
    torch.manual_seed(seed)
    model = ivd.models.MLP(10, 1, hidden=hidden, activation="relu").double()
    model.x_mean = torch.tensor([0.0, 1.0, 2.0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 600.0], dtype=torch.float64)
    model.x_std = torch.tensor([0.6, 0.6, 1.4, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 170.0], dtype=torch.float64)
    return model.eval()


def check_mixed(result: ivd.Result, space: Space) -> None:
    """The design is feasible: the fixed value exact, the integer integral, one level chosen, the composition whole."""
    x = result.x
    assert bool(result.feasible[0]) and bool(space.contains(result.X).all())
    assert float(x[9]) == 500.0 and float(x[2]) == round(float(x[2]))
    assert sorted(x[3:6].tolist()) == [0.0, 0.0, 1.0]
    assert float(x[6:9].sum()) == pytest.approx(1.0, abs=1e-9)
    assert float(x[0] + x[1]) <= 1.5 + 1e-9 and float(x[6] + 2 * x[7]) >= 0.3 - 1e-9


def test_mixed_space_fixed_values_linear_constraints_composition_and_categorical():
    space = mixed_space()
    objective = ivd.Objective(mixed_model(0), space)
    result = ivd.minimize(objective, "milp", mip_gap=MIP_GAP)
    check_certified(result, objective)
    check_mixed(result, space)
    assert result.fun <= best_found(objective) + 1e-6


@pytest.mark.parametrize("rule", ["mean", "worst"])
def test_ensemble_under_mean_and_worst(rule):
    space = mixed_space()
    ensemble = ivd.models.Ensemble([mixed_model(seed, hidden=(8, 8)) for seed in range(2)])
    objective = ivd.Objective(ensemble, space, ensemble=rule)
    result = ivd.minimize(objective, "milp", mip_gap=MIP_GAP)
    check_certified(result, objective)
    check_mixed(result, space)
    assert result.fun <= best_found(objective) + 1e-6


def test_maximize_and_target():
    box = ivd.Box(-1.0, 1.0, dim=3)
    model = relu_net(3, (16, 16), seed=11)
    highest = ivd.minimize(ivd.Objective(model, box, maximize=True), "milp", mip_gap=MIP_GAP)
    lowest = ivd.minimize(ivd.Objective(model, box), "milp", mip_gap=MIP_GAP)
    check_certified(highest, ivd.Objective(model, box, maximize=True))
    top, bottom = -highest.fun, lowest.fun
    assert top > bottom
    reachable = ivd.Objective(model, box, target=(top + bottom) / 2)
    matched = ivd.minimize(reachable, "milp", mip_gap=MIP_GAP)
    check_certified(matched, reachable)
    assert matched.fun <= 1e-12
    beyond = ivd.Objective(model, box, target=top + 1.0)
    missed = ivd.minimize(beyond, "milp", mip_gap=MIP_GAP)
    assert missed.fun == pytest.approx(1.0, abs=1e-5), "the squared distance from the target to the highest output"
    assert missed.bound is not None and missed.bound <= missed.fun


def test_a_target_batch_is_solved_target_by_target():
    model = relu_net(2, (8,), seed=2)
    result = ivd.minimize(ivd.Objective(model, ivd.Box(-1.0, 1.0, dim=2), target=torch.tensor([0.0, 0.1])), "milp")
    assert isinstance(result, ivd.BatchResult) and len(result) == 2
    assert all(r.bound is not None and r.bound <= r.fun for r in result)


def test_the_reader_folds_standardisation_batch_norm_leaky_relu_and_dropout():
    torch.manual_seed(0)
    mlp = ivd.models.MLP(3, 2, hidden=(8, 8), activation="relu", batch_norm=True, dropout=0.1).double()
    mlp.x_mean, mlp.x_std = torch.randn(3, dtype=torch.float64), torch.rand(3, dtype=torch.float64) + 0.5
    mlp.y_mean, mlp.y_std = torch.randn(2, dtype=torch.float64), torch.rand(2, dtype=torch.float64) + 0.5
    for module in mlp.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.normal_()
            module.bias.data.normal_()
    leaky = nn.Sequential(nn.Flatten(), nn.Linear(3, 5), nn.LeakyReLU(0.1), nn.Identity(), nn.Linear(5, 1)).double()
    x = torch.randn(64, 3, dtype=torch.float64)
    for model in (mlp.eval(), leaky):
        h = x.numpy()
        for layer in read_network(model, 3):
            h = layer(h)
        with torch.no_grad():
            np.testing.assert_allclose(h, model(x).numpy(), rtol=1e-10, atol=1e-10)
    objective = ivd.Objective(leaky, ivd.Box(-1.0, 1.0, dim=3))
    check_certified(ivd.minimize(objective, "milp", mip_gap=MIP_GAP), objective)


BOX = ivd.Box(-1.0, 1.0, dim=2)
SUPPORTED = "it reads torch.nn.Sequential stacks of Linear, ReLU, LeakyReLU"


@pytest.mark.parametrize(
    ("objective", "match"),
    [
        (lambda: ivd.Objective(nn.Sequential(nn.Linear(2, 4), nn.SiLU(), nn.Linear(4, 1)).double(), BOX), rf"cannot encode model.1, a SiLU: {SUPPORTED}"),
        (lambda: ivd.Objective(nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)).double(), BOX), rf"cannot encode model.1, a Tanh: {SUPPORTED}"),
        (lambda: ivd.Objective(ivd.models.MLP(2, 1, hidden=(4,)).double(), BOX), rf"cannot encode model.net.1, a SiLU: {SUPPORTED}"),
        (lambda: ivd.Objective(lambda x: x.sum(-1), BOX), "not a torch.nn.Module; milp reads torch.nn.Sequential"),
        (lambda: ivd.Objective(relu_net(2, (4,), 0), BOX, decoder=lambda z: z), "an objective with a decoder is not supported"),
        (lambda: ivd.Objective(relu_net(2, (4,), 0), BOX, penalties=[lambda x: x.sum(-1)]), "penalties"),
        (lambda: ivd.Objective(relu_net(2, (4,), 0, outputs=2), BOX, target=[0.0, 0.0]), "a target of one output"),
        (
            lambda: ivd.Objective(ivd.models.Ensemble([relu_net(2, (4,), s) for s in range(2)]), BOX, ensemble="pessimistic"),
            "ensemble='mean' and 'worst', not 'pessimistic'",
        ),
        (
            lambda: ivd.Objective(ivd.models.Ensemble([relu_net(2, (4,), s) for s in range(2)]), BOX, ensemble="mean", target=0.0),
            "ensemble='mean' with a target",
        ),
    ],
)
def test_what_is_not_piecewise_linear_is_refused_by_name(objective, match):
    with pytest.raises(TypeError, match=match):
        ivd.minimize(objective(), "milp")


def test_a_space_too_wide_for_big_m_is_refused():
    with pytest.raises(ValueError, match="needs a bounded space: .* too wide for a big-M encoding"):
        ivd.minimize(ivd.Objective(relu_net(2, (4,), 0), ivd.Box(-1e20, 1e20, dim=2)), "milp")


def test_nonlinear_constraints_and_callbacks_are_refused():
    space = Space([Real("a", 0, 1), Real("b", 0, 1)], constraints=[lambda x: x[:, 0] - 0.5])
    with pytest.raises(TypeError, match="method 'milp' does not handle nonlinear constraints"):
        ivd.minimize(ivd.Objective(relu_net(2, (4,), 0), space), "milp")
    with pytest.raises(TypeError, match="method 'milp' calls no callback"):
        ivd.minimize(ivd.Objective(relu_net(2, (4,), 0), BOX), "milp", callback=print)
    with pytest.raises(ValueError, match="time_limit must be a positive number"):
        ivd.minimize(ivd.Objective(relu_net(2, (4,), 0), BOX), "milp", time_limit=0)


@pytest.mark.parametrize("limit", [{"time_limit": 0.2}, {"max_iter": 1}])
def test_a_limit_returns_the_incumbent_and_the_remaining_gap_never_converged(limit):
    objective = ivd.Objective(relu_net(8, (48, 48), seed=5), ivd.Box(-1.0, 1.0, dim=8))
    result = ivd.minimize(objective, "milp", tighten=False, **limit)
    assert result.status is ivd.Status.MAX_ITER, result.message
    assert "Not certified: HiGHS stopped at a limit" in result.message and "remaining gap" in result.message
    assert result.bound is not None and result.gap is not None and result.gap > 0
    assert math.isfinite(result.bound) and result.bound <= result.fun
    with torch.no_grad():
        assert float(objective(result.X[:1])[0]) == pytest.approx(result.fun, rel=1e-12)


def test_other_solvers_prove_no_bound():
    result = ivd.minimize(ivd.Objective(relu_net(2, (4,), 0), BOX), "lbfgs", n_restarts=2, max_iter=5)
    assert result.bound is None and result.gap is None


def test_certify_gives_each_design_its_gap():
    objective = ivd.Objective(relu_net(3, (16, 16), seed=4), ivd.Box(-1.0, 1.0, dim=3))
    found = ivd.minimize(objective, "gd", n_restarts=4, max_iter=50, seed=0)
    certificate = ivd.certify(objective, found.X, time_limit=30)
    assert certificate.certified and certificate.bound <= certificate.optimum
    assert certificate.energies.shape == certificate.gaps.shape == (4,)
    torch.testing.assert_close(certificate.gaps, found.F - certificate.optimum)
    assert bool((certificate.gaps >= -1e-9).all()), "no design beats the certified optimum"
    assert "certified" in repr(certificate)
    with pytest.raises(ValueError, match="outside the objective's space"):
        ivd.certify(objective, torch.full((1, 3), 2.0, dtype=torch.float64))
