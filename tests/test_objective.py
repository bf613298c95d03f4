from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import quadratic
from torch import nn

import invdesign as ivd


def linear(k: int, d: int = 4, dtype: torch.dtype = torch.float64) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(d, 8), nn.Dropout(0.5), nn.Linear(8, k)).to(dtype)


def test_energy_shapes_and_counting(box4):
    obj = ivd.Objective(quadratic, box4)
    x = box4.sample(5, seed=0)
    e = obj(x)
    assert e.shape == (5,)
    assert torch.allclose(e, quadratic(x))
    assert obj(x[0]).shape == ()
    assert obj.dim == 4 and obj.output_dim == 1 and obj.differentiable


def test_target_is_mean_squared_error_and_maximize_flips_sign(box4):
    model = linear(2)
    x = box4.sample(7, seed=1)
    with torch.no_grad():
        y = model.eval()(x)
        t = torch.tensor([0.5, -1.0], dtype=torch.float64)
        e = ivd.Objective(model, box4, target=t)(x)
    assert torch.allclose(e, (y - t).square().mean(-1))
    scalar = linear(1)
    with torch.no_grad():
        up = ivd.Objective(scalar, box4, maximize=True)(x)
        down = ivd.Objective(scalar, box4)(x)
    assert torch.allclose(up, -down)


def test_model_put_in_eval_mode_and_weights_untouched(box4):
    model = linear(1).train()
    before = [p.detach().clone() for p in model.parameters()]
    obj = ivd.Objective(model, box4)
    assert not model.training
    ivd.minimize(obj, "gd", n_restarts=4, max_iter=20, seed=0)
    ivd.minimize(obj, "lbfgs", n_restarts=2, max_iter=20, seed=0)
    for p, q in zip(model.parameters(), before):
        assert torch.equal(p, q)
        assert p.grad is None


def test_numpy_model_is_not_differentiable(box4):
    obj = ivd.Objective(lambda x: np.sum(np.asarray(x) ** 2, axis=1), box4)
    assert not obj.differentiable
    assert obj(box4.sample(3, seed=0)).shape == (3,)
    with pytest.raises(TypeError, match="needs gradients"):
        ivd.minimize(obj, "gd")
    with pytest.raises(TypeError, match="needs gradients"):
        ivd.minimize(obj, "lbfgs")


def test_penalties_are_added(box4):
    obj = ivd.Objective(quadratic, box4, penalties=[lambda x: 10.0 * x[:, 0].abs()])
    x = box4.sample(3, seed=0)
    assert torch.allclose(obj(x), quadratic(x) + 10.0 * x[:, 0].abs())


def test_decoder_maps_search_points_to_designs():
    latent = ivd.Box(-2.0, 2.0, dim=2)
    decoder = nn.Linear(2, 4).double()
    obj = ivd.Objective(quadratic, latent, decoder=decoder)
    z = latent.sample(3, seed=0)
    with torch.no_grad():
        assert torch.allclose(obj(z), quadratic(decoder(z)))
    res = ivd.minimize(obj, "lbfgs", n_restarts=4, seed=0)
    assert res.z is not None and res.Z.shape == (4, 2)
    with torch.no_grad():
        assert torch.allclose(res.x, decoder(res.z))
    assert latent.contains(res.Z).all()


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda box: ivd.Objective(linear(1, d=3), box), ValueError, "box dimension"),
        (lambda box: ivd.Objective(lambda x: x.sum(), box), ValueError, r"returned shape \(\)"),
        (lambda box: ivd.Objective(lambda x: x[:1, 0], box), ValueError, r"returned shape \(1,\)"),
        (lambda box: ivd.Objective(lambda x: x.unsqueeze(1), box), ValueError, r"returned shape \(2, 1, 4\)"),
        (lambda box: ivd.Objective(linear(2), box), ValueError, "returns 2 outputs"),
        (lambda box: ivd.Objective(linear(2), box, target=[1.0, 2.0, 3.0]), ValueError, r"target has shape \(3,\) but the model returns 2 outputs"),
        (lambda box: ivd.Objective(linear(1), box, target=[float("nan")]), ValueError, "target must be finite"),
        (lambda box: ivd.Objective(linear(1), box, target=1.0, maximize=True), ValueError, "cannot be combined"),
        (lambda box: ivd.Objective(linear(1, dtype=torch.float32), box, dtype=torch.float64), TypeError, "float32 parameters"),
        (lambda box: ivd.Objective(quadratic, box, dtype=torch.int32), TypeError, "floating"),
        (lambda box: ivd.Objective(lambda x: x[:, 0].double(), box, dtype=torch.float32), TypeError, "returned torch.float64"),
        (lambda box: ivd.Objective("not a model", box), TypeError, "callable"),
        (lambda box: ivd.Objective(quadratic, [(-1, 1)] * 4), TypeError, "invdesign.Box"),
    ],
)
def test_bad_objectives_get_clear_errors(box4, make, error, match):
    with pytest.raises(error, match=match):
        make(box4)


def test_wrong_search_point_shape(box4):
    obj = ivd.Objective(quadratic, box4)
    with pytest.raises(ValueError, match=r"shape \(b, 4\)"):
        obj(torch.zeros(3, 5, dtype=torch.float64))


def test_model_that_detaches_its_input_is_not_differentiable(box4):
    linear_model = linear(1)
    obj = ivd.Objective(lambda x: linear_model(x.detach()), box4)
    assert not obj.differentiable
    with pytest.raises(TypeError, match="no gradient reaches the search point"):
        ivd.minimize(obj, "lbfgs")


@pytest.mark.parametrize(
    ("penalty", "match"),
    [
        (lambda x: x[:, :1], r"penalty 0 .* returned \(2, 1\) for 2 points; expected \(2,\)"),
        (lambda x: x.sum(), r"penalty 0 .* returned \(\) for 2 points"),
        (lambda x: 1.0, "returned float"),
    ],
)
def test_penalty_of_the_wrong_shape_fails_at_construction(box4, penalty, match):
    with pytest.raises(ValueError, match=match):
        ivd.Objective(quadratic, box4, penalties=[penalty])


def test_search_points_of_the_wrong_dtype(box4):
    obj = ivd.Objective(quadratic, box4)
    with pytest.raises(TypeError, match="search points are torch.float32 but the objective runs in torch.float64"):
        obj(torch.zeros(2, 4))


def test_probe_evaluations_are_not_counted(box4):
    obj = ivd.Objective(quadratic, box4, penalties=[lambda x: x[:, 0] ** 2])
    assert ivd.minimize(obj, "random", max_evals=8, seed=0).nfev == 8
