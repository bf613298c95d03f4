"""Decoders plug into the objective; every solver searches the latent box unchanged."""

from __future__ import annotations

import pytest
import torch
from test_solvers import METHODS, call_options, n_designs
from torch import nn

import invdesign as ivd


class ImageDecoder(nn.Module):
    """(b, 3) latent codes -> (b, 1, 8, 8) images in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(3, 64)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(z)).reshape(-1, 1, 8, 8)


def flat_model() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 1))


@pytest.fixture
def latent_box() -> ivd.Box:
    return ivd.Box(-2.0, 2.0, dim=3, dtype=torch.float32)


@pytest.mark.parametrize("method", [m for m in METHODS if ivd.solvers.get(m).capabilities.models == "any"])
def test_every_solver_searches_through_a_decoder(method, latent_box):
    decoder, model = ImageDecoder(), flat_model()
    obj = ivd.Objective(model, latent_box, decoder=decoder)
    res = ivd.minimize(obj, method, seed=0, **call_options(method, latent_box, lambda z: model(decoder(z).flatten(1))))
    assert res.success
    n = n_designs(method)
    assert res.z.shape == (3,) and res.Z.shape == (n, 3)
    assert res.x.shape == (1, 8, 8) and res.X.shape == (n, 1, 8, 8)
    assert latent_box.contains(res.Z).all()
    with torch.no_grad():
        assert torch.equal(res.x, decoder(res.z.unsqueeze(0))[0])
        assert torch.equal(res.X, decoder(res.Z))
        assert torch.allclose(res.F, model(res.X.flatten(1)).squeeze(-1), atol=1e-6)
        start = model(decoder(latent_box.sample(4, seed=123, dtype=torch.float32)).flatten(1)).min()
    assert res.fun < float(start)


def test_image_model_receives_images_unflattened(latent_box):
    seen = []

    def image_model(x: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(x.shape[1:]))
        return x.mean(dim=(1, 2, 3))

    obj = ivd.Objective(image_model, latent_box, decoder=ImageDecoder())
    obj(latent_box.sample(4, seed=0))
    assert set(seen) == {(1, 8, 8)}


@pytest.mark.parametrize(
    ("decoder", "error", "match"),
    [
        (lambda z: ImageDecoder()(z).double(), TypeError, "decoder returned torch.float64 for torch.float32"),
        (lambda z: ImageDecoder()(z)[:1], ValueError, r"decoder returned shape \(1, 1, 8, 8\) for 2 latent points"),
        (lambda z: ImageDecoder()(z).to("meta"), ValueError, "decoder returned a tensor on meta"),
        (lambda z: ImageDecoder()(z)[:, :, :4], ValueError, r"model failed on designs of shape \(2, 1, 4, 8\).*decoder's output"),
        (lambda z: z.sum().item(), TypeError, "must return a torch.Tensor"),
    ],
)
def test_decoder_that_does_not_fit_fails_at_construction(latent_box, decoder, error, match):
    with pytest.raises(error, match=match):
        ivd.Objective(flat_model(), latent_box, decoder=decoder)


def test_latent_box_of_wrong_dimension(latent_box):
    with pytest.raises(ValueError, match="latent box dimension match the decoder's input"):
        ivd.Objective(flat_model(), ivd.Box(-2.0, 2.0, dim=5, dtype=torch.float32), decoder=ImageDecoder())


def test_latent_prior_penalty():
    z = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert torch.allclose(ivd.penalties.LatentPrior(2.0)(z), torch.tensor([0.0, 25.0]))
    assert torch.allclose(ivd.penalties.LatentPrior(1.0, radius=4.0)(z), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="radius"):
        ivd.penalties.LatentPrior(radius=0.0)


def test_latent_prior_pulls_the_search_toward_the_origin(latent_box):
    decoder, model = ImageDecoder(), flat_model()
    free = ivd.minimize(ivd.Objective(model, latent_box, decoder=decoder), "lbfgs", n_restarts=4, seed=0)
    held = ivd.minimize(
        ivd.Objective(model, latent_box, decoder=decoder, penalties=[ivd.penalties.LatentPrior(5.0)]),
        "lbfgs", n_restarts=4, seed=0,
    )
    assert held.z.norm() < free.z.norm()


def test_boundary_and_realism_penalties():
    box = ivd.Box(-1.0, 1.0, dim=2)
    x = torch.tensor([[0.0, 0.5], [2.0, -1.5]], dtype=torch.float64)
    assert torch.allclose(ivd.penalties.BoundaryPenalty(box, 0.1)(x), torch.tensor([0.0, 0.15], dtype=torch.float64))
    realism = ivd.penalties.Realism(lambda img: img.square().sum(dim=(1, 2, 3)), 2.0, shape=(1, 2, 2))
    assert torch.allclose(realism(torch.ones(3, 4)), torch.full((3,), 8.0))


def test_encode_to_start(latent_box):
    decoder = ImageDecoder()
    designs = decoder(latent_box.sample(50, seed=1)).detach()
    scores = designs.mean(dim=(1, 2, 3))
    encode = lambda x: (x.flatten(1)[:, :3] * 10.0, None)  # noqa: E731 - a stand-in encoder
    starts = ivd.FromData(designs, scores, encode=encode)(ivd.Objective(flat_model(), latent_box, decoder=decoder), 5, None)
    best = torch.argsort(scores)[:5]
    assert torch.equal(starts, latent_box.clamp(designs[best].flatten(1)[:, :3] * 10.0))
    with pytest.raises(ValueError, match=r"encode returned shape \(5, 4\)"):
        ivd.FromData(designs, scores, encode=lambda x: x.flatten(1)[:, :4])(
            ivd.Objective(flat_model(), latent_box, decoder=decoder), 5, None
        )


def test_callback_sees_decoded_designs(latent_box):
    seen = []

    def watch(progress: ivd.Progress) -> None:
        seen.append((progress.x.shape, progress.z.shape))

    ivd.minimize(ivd.Objective(flat_model(), latent_box, decoder=ImageDecoder()), "gd", n_restarts=4, max_iter=3, callback=watch)
    assert seen == [(torch.Size([1, 8, 8]), torch.Size([3]))] * 3
