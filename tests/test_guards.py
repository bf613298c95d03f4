"""Exploitation guards: ensemble rules on the Objective and the data trust-region penalty."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import CENTER, quadratic
from torch import nn

import invdesign as ivd
from invdesign.models import Ensemble
from invdesign.penalties import DataDistance, LatentPrior


def linear_ensemble(W: torch.Tensor, b: torch.Tensor) -> Ensemble:
    """An Ensemble of nn.Linear members set by hand: member j maps x to ``W[j] @ x + b[j]``.

    Args:
        W: Weights, shape ``(m, k, d)``.
        b: Biases, shape ``(m, k)``.
    """
    members = []
    for Wj, bj in zip(W, b):
        layer = nn.Linear(W.shape[2], W.shape[1]).to(W.dtype)
        with torch.no_grad():
            layer.weight.copy_(Wj)
            layer.bias.copy_(bj)
        members.append(layer)
    return Ensemble(members)


def member_outputs(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """What the members of `linear_ensemble` return, computed by hand, shape ``(m, b, k)``."""
    return torch.einsum("mkd,bd->mbk", W, x) + b[:, None, :]


def weights(m: int = 5, k: int = 1, d: int = 4, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(m, k, d, generator=g, dtype=dtype), torch.randn(m, k, generator=g, dtype=dtype)


TARGET = torch.tensor([0.5, -1.0], dtype=torch.float64)
MODES = {
    # mode: (output dim k, Objective keywords, member energies from member outputs (m, b, k))
    "minimize": (1, {}, lambda y: y[..., 0]),
    "maximize": (1, {"maximize": True}, lambda y: -y[..., 0]),
    "target": (2, {"target": TARGET}, lambda y: (y - TARGET).square().mean(-1)),
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_ensemble_rules_combine_member_energies(box4, mode):
    k, kwargs, member_energy = MODES[mode]
    W, b = weights(k=k)
    ens = linear_ensemble(W, b)
    x = box4.sample(16, seed=1)
    e = member_energy(member_outputs(W, b, x))  # (m, b)
    std, mean = torch.std_mean(e, dim=0, correction=0)
    with torch.no_grad():
        got = {rule: ivd.Objective(ens, box4, ensemble=rule, **kwargs)(x) for rule in ("mean", "pessimistic", "worst")}
        beta2 = ivd.Objective(ens, box4, ensemble="pessimistic", beta=2.5, **kwargs)(x)
    assert torch.allclose(got["mean"], mean)
    assert torch.allclose(got["pessimistic"], mean + std)
    assert torch.allclose(beta2, mean + 2.5 * std)
    assert torch.allclose(got["worst"], e.amax(dim=0))
    assert (got["pessimistic"] >= got["mean"]).all() and (beta2 >= got["pessimistic"]).all()
    assert (got["worst"] >= got["mean"]).all()


def test_maximize_pessimistic_is_minus_mean_minus_beta_std_of_outputs(box4):
    W, b = weights()
    x = box4.sample(8, seed=2)
    std, mean = torch.std_mean(member_outputs(W, b, x)[..., 0], dim=0, correction=0)
    with torch.no_grad():
        e = ivd.Objective(linear_ensemble(W, b), box4, ensemble="pessimistic", beta=2.0, maximize=True)(x)
    assert torch.allclose(e, -(mean - 2.0 * std))


def test_mean_rule_against_the_plain_ensemble_forward(box4):
    x = box4.sample(8, seed=3)
    W, b = weights()
    ens = linear_ensemble(W, b)
    with torch.no_grad():
        # Without a target the mean of member energies is the energy of the mean output...
        assert torch.allclose(ivd.Objective(ens, box4, ensemble="mean")(x), ivd.Objective(ens, box4)(x))
        # ...with one it is the error of the mean output plus the members' spread around it.
        W2, b2 = weights(k=2)
        ens2 = linear_ensemble(W2, b2)
        plain = ivd.Objective(ens2, box4, target=TARGET)(x)
        mean = ivd.Objective(ens2, box4, target=TARGET, ensemble="mean")(x)
    spread = member_outputs(W2, b2, x).var(dim=0, correction=0).mean(-1)
    assert torch.allclose(mean, plain + spread)
    assert (mean > plain).all()


def test_ensemble_objective_predicts_mean_and_members(box4):
    W, b = weights(k=2)
    obj = ivd.Objective(linear_ensemble(W, b), box4, target=TARGET, ensemble="worst")
    x = box4.sample(3, seed=0)
    with torch.no_grad():
        assert torch.allclose(obj.predict_members(x), member_outputs(W, b, x))
        assert torch.allclose(obj.predict(x), member_outputs(W, b, x).mean(0))
        assert torch.allclose(obj.energy_from_outputs(obj.predict(x)), (obj.predict(x) - TARGET).square().mean(-1))
    assert obj.output_dim == 2 and obj.differentiable
    assert "ensemble='worst'" in repr(obj)
    with pytest.raises(TypeError, match="needs an objective built with ensemble="):
        ivd.Objective(quadratic, box4).predict_members(x)


@pytest.mark.parametrize("rule", ["mean", "pessimistic", "worst"])
def test_ensemble_gradients_are_correct(box4, rule):
    W, b = weights(k=2)
    obj = ivd.Objective(linear_ensemble(W, b), box4, target=TARGET, ensemble=rule, beta=0.7 if rule == "pessimistic" else None)
    x = box4.sample(4, seed=5).requires_grad_(True)
    assert torch.autograd.gradcheck(obj, (x,))


def test_members_that_agree_give_finite_gradients(box4):
    W, b = weights(m=1)
    ens = linear_ensemble(W.expand(3, -1, -1), b.expand(3, -1))
    x = box4.sample(4, seed=0).requires_grad_(True)
    e = ivd.Objective(ens, box4, ensemble="pessimistic", beta=3.0)(x)
    (grad,) = torch.autograd.grad(e.sum(), x)
    assert torch.isfinite(grad).all()
    assert torch.allclose(grad, W[0, 0].expand(4, -1))  # no spread: the members' own gradient


def test_ensemble_with_decoder_penalties_and_float32():
    latent = ivd.Box(-2.0, 2.0, dim=2)
    torch.manual_seed(0)
    decoder = nn.Linear(2, 4)
    W, b = weights(dtype=torch.float32)
    ens = linear_ensemble(W, b)
    obj = ivd.Objective(ens, latent, decoder=decoder, ensemble="pessimistic", beta=1.5, penalties=[LatentPrior(0.1)])
    assert obj.dtype == torch.float32
    z = latent.sample(6, seed=0, dtype=torch.float32)
    with torch.no_grad():
        std, mean = torch.std_mean(member_outputs(W, b, decoder(z))[..., 0], dim=0, correction=0)
        assert torch.allclose(obj(z), mean + 1.5 * std + 0.05 * z.square().sum(-1), atol=1e-5)
    res = ivd.minimize(obj, "gd", n_restarts=4, max_iter=30, seed=0)
    assert res.success and res.z is not None and res.x.dtype == torch.float32
    with torch.no_grad():
        assert math.isclose(res.fun, float(obj(res.z)), rel_tol=1e-4, abs_tol=1e-5)


# A toy of exploitation: the training data sit at the origin of [-1, 1]^2, where the linear
# members agree (all zero). Their mean slopes down toward x0 = -1, but away from the origin they
# disagree more and more, so a pessimist finds nothing there worth the risk.
SLOPE = torch.tensor([0.5, 0.0], dtype=torch.float64)
SPREAD = 2.0 * torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], dtype=torch.float64)


def disagreeing_far_from_data() -> Ensemble:
    W = (SLOPE + SPREAD).unsqueeze(1)  # (4, 1, 2)
    return linear_ensemble(W, torch.zeros(4, 1, dtype=torch.float64))


@pytest.mark.parametrize("method", ["gd", "lbfgs"])
def test_pessimism_keeps_gradient_solvers_near_the_data(method):
    box = ivd.Box(-1.0, 1.0, dim=2)
    ens = disagreeing_far_from_data()
    budget = {"n_restarts": 8, "max_iter": 200, "seed": 0}
    greedy = ivd.minimize(ivd.Objective(ens, box, ensemble="mean"), method, **budget)
    careful = ivd.minimize(ivd.Objective(ens, box, ensemble="pessimistic"), method, **budget)
    cautious = ivd.minimize(ivd.Objective(ens, box, ensemble="worst"), method, **budget)
    assert greedy.x[0] == pytest.approx(-1.0)  # exploits the mean: off to the box's edge
    assert careful.x.norm() < 0.05 < 0.9 < greedy.x.norm()
    assert cautious.x.norm() < 0.05
    assert careful.success and cautious.success


SAMPLE_BUDGETS = {
    "random": {"max_evals": 32},
    "cmaes": {"max_evals": 64},
    "bo": {"max_evals": 8, "n_init": 5, "num_restarts": 2, "raw_samples": 32},
    "turbo": {"max_evals": 12, "n_init": 6},
}


@pytest.mark.parametrize("method", sorted(SAMPLE_BUDGETS))
def test_sample_based_solvers_run_on_a_pessimistic_objective(method):
    box = ivd.Box(-1.0, 1.0, dim=2)
    obj = ivd.Objective(disagreeing_far_from_data(), box, ensemble="pessimistic")
    res = ivd.minimize(obj, method, seed=0, **SAMPLE_BUDGETS[method])
    assert res.success
    with torch.no_grad():
        assert torch.allclose(res.F, obj(res.X))


class NoMembers(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(-1)


class BadMembers(NoMembers):
    def __init__(self, shape: str) -> None:
        super().__init__()
        self.shape = shape

    def members_forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.stack([x.sum(-1), x.prod(-1)])  # (2, b)
        return {"flat": y.flatten(), "4d": y[..., None, None]}[self.shape]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda box: ivd.Objective(NoMembers(), box, ensemble="mean"), TypeError, "needs a model with a members_forward"),
        (lambda box: ivd.Objective(quadratic, box, ensemble="worst"), TypeError, "function has none"),
        (lambda box: ivd.Objective(disagreeing_4d(), box, ensemble="median"), ValueError, "unknown ensemble rule 'median'"),
        (lambda box: ivd.Objective(disagreeing_4d(), box, ensemble="pessimistic", beta=-1.0), ValueError, "non-negative, got -1.0"),
        (lambda box: ivd.Objective(disagreeing_4d(), box, ensemble="pessimistic", beta=math.nan), ValueError, "beta must be finite"),
        (lambda box: ivd.Objective(disagreeing_4d(), box, ensemble="mean", beta=2.0), ValueError, "only applies to ensemble='pessimistic'"),
        (lambda box: ivd.Objective(disagreeing_4d(), box, beta=2.0), ValueError, "pass ensemble='pessimistic' too"),
        (lambda box: ivd.Objective(BadMembers("flat"), box, ensemble="mean"), ValueError, r"members_forward returned shape \(4,\)"),
        (lambda box: ivd.Objective(BadMembers("4d"), box, ensemble="mean"), ValueError, r"returned shape \(2, 2, 1, 1\)"),
        (lambda box: ivd.Objective(linear_ensemble(*weights(k=2)), box, ensemble="mean"), ValueError, "returns 2 outputs"),
        (lambda box: ivd.Objective(linear_ensemble(*weights(k=2)), box, ensemble="mean", target=[1.0, 2.0, 3.0]), ValueError, r"target has shape \(3,\) but the model returns 2 outputs"),
        (lambda box: ivd.Objective(linear_ensemble(*weights(d=3)), box, ensemble="mean"), ValueError, "members_forward failed"),
    ],
)
def test_bad_ensemble_objectives_get_clear_errors(box4, make, error, match):
    with pytest.raises(error, match=match):
        make(box4)


def disagreeing_4d() -> Ensemble:
    return linear_ensemble(*weights())


def test_members_forward_of_the_wrong_batch_is_caught(box4):
    # Swapping (m, b) for (b, m) goes unnoticed when m == b; with 3 members it cannot.
    class Swapped(NoMembers):
        def members_forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.stack([x.sum(-1), x.prod(-1), x.amax(-1)]).T  # (b, 3) instead of (3, b)

    with pytest.raises(ValueError, match=r"members_forward returned shape \(2, 3\) for a batch of 2 designs"):
        ivd.Objective(Swapped(), box4, ensemble="mean")


# --- DataDistance -------------------------------------------------------------------------

DATA = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)


def test_data_distance_is_zero_inside_the_radius_and_grows_outside():
    penalty = DataDistance(DATA, weight=3.0, radius=0.2)
    direction = torch.tensor([-0.6, -0.8], dtype=torch.float64)  # away from every other point
    t = torch.linspace(0.0, 1.0, 21, dtype=torch.float64)
    x = DATA[0] + t[:, None] * direction
    p = penalty(x)
    assert (p[t <= 0.2] == 0).all()
    assert (p[t > 0.2 + 1e-9] > 0).all() and (p.diff() >= 0).all()
    assert torch.allclose(p, 3.0 * (t - 0.2).clamp_min(0).square())
    assert torch.allclose(penalty.distance(x), t)
    assert (penalty(DATA) == 0).all()


def test_data_distance_gradient_points_back_to_the_nearest_design():
    penalty = DataDistance(DATA, radius=0.1)
    x = torch.tensor([[-1.0, -1.0], [2.0, 0.5], [0.3, 3.0], [0.5, 0.0]], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(penalty(x).sum(), x)
    nearest = DATA[[0, 1, 2, 0]]
    toward = nearest - x.detach()
    cosine = torch.nn.functional.cosine_similarity(-grad, toward, dim=-1)
    assert torch.allclose(cosine, torch.ones(4, dtype=torch.float64))
    # On a training design (distance 0) the gradient is 0, not NaN.
    on_data = DATA.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(DataDistance(DATA)(on_data).sum(), on_data)
    assert torch.equal(grad, torch.zeros_like(grad))


def test_data_distance_in_unit_cube_coordinates():
    box = ivd.Box([0.0, 0.0], [1.0, 100.0])
    data = torch.zeros(1, 2, dtype=torch.float64)
    x = torch.tensor([[0.5, 0.0], [0.0, 50.0]], dtype=torch.float64)
    assert torch.allclose(DataDistance(data, space=box).distance(x), torch.tensor([0.5, 0.5], dtype=torch.float64))
    assert torch.allclose(DataDistance(data).distance(x), torch.tensor([0.5, 50.0], dtype=torch.float64))


def test_data_distance_on_a_large_batch_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(10_000, 6, generator=g, dtype=torch.float32)
    x = torch.rand(2048, 6, generator=g, dtype=torch.float32, requires_grad=True)
    penalty = DataDistance(X, weight=2.0, radius=0.05)
    p = penalty(x)
    p.sum().backward()
    assert p.shape == (2048,) and torch.isfinite(x.grad).all()
    rows = torch.arange(0, 2048, 97)
    brute = torch.cdist(x.detach()[rows].double(), X.double()).amin(dim=1)
    assert torch.allclose(penalty.distance(x.detach()[rows]).double(), brute, atol=1e-5)


def test_data_distance_keeps_the_search_near_the_data(box4):
    data = 0.02 * box4.sample(8, seed=0)  # training designs around the origin; the optimum is not
    far = ivd.minimize(ivd.Objective(quadratic, box4), "lbfgs", n_restarts=4, seed=0)
    near = ivd.minimize(
        ivd.Objective(quadratic, box4, penalties=[DataDistance(data, weight=1e3, radius=0.1, space=box4)]),
        "lbfgs", n_restarts=4, seed=0,
    )
    to_data = DataDistance(data, space=box4).distance
    assert to_data(far.x[None]).item() > 0.25
    assert to_data(near.x[None]).item() < 0.11
    assert quadratic(near.x[None]).item() > quadratic(far.x[None]).item()
    assert torch.allclose(far.x, torch.tensor(CENTER, dtype=torch.float64), atol=1e-5)


def test_data_distance_works_with_float32_search(box4):
    obj = ivd.Objective(quadratic, box4, dtype=torch.float32, penalties=[DataDistance(DATA.new_zeros(1, 4), radius=0.1)])
    x = box4.sample(5, seed=0, dtype=torch.float32)
    assert obj(x).dtype == torch.float32
    assert torch.allclose(obj(x), quadratic(x) + (x.norm(dim=-1) - 0.1).clamp_min(0).square())


def test_data_distance_repr():
    box = ivd.Box(-1.0, 1.0, dim=2)
    text = repr(DataDistance(DATA, weight=2.0, radius=0.3, space=box))
    assert text.startswith("DataDistance(n=3, dim=2, weight=2.0, radius=0.3, space=Box(")


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: DataDistance(torch.zeros(3)), ValueError, r"shape \(n, d\), got \(3,\)"),
        (lambda: DataDistance(torch.zeros(0, 2)), ValueError, r"got \(0, 2\)"),
        (lambda: DataDistance(torch.tensor([[0.0, math.nan]])), ValueError, r"NaN or infinite values in rows \[0\]"),
        (lambda: DataDistance(DATA, space=ivd.Box(-1.0, 1.0, dim=3)), ValueError, "2 columns but the box has dimension 3"),
        (lambda: DataDistance(DATA, space=[(-1, 1)] * 2), TypeError, "invdesign.Box"),
        (lambda: DataDistance(DATA, weight=-1.0), ValueError, "weight must be finite and non-negative"),
        (lambda: DataDistance(DATA, radius=-0.1), ValueError, "radius must be finite and non-negative"),
        (lambda: DataDistance(DATA)(torch.zeros(2, 3, dtype=torch.float64)), ValueError, r"shape \(b, 2\), got \(2, 3\)"),
    ],
)
def test_bad_data_distances_get_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()
