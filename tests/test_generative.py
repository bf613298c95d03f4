from __future__ import annotations

import pytest
import torch

import invdesign as ivd
from invdesign.models import GAN, VAE, GANReport, MinibatchStd, VAEReport, fit_gan, fit_vae, load, save
from invdesign.models.gan import _ReplayBuffer

RANGE = (0.0, 16.0)  # the pixel range of sklearn's digits


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: one thread is faster, and immune to OpenMP oversubscription on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def strokes(n: int = 200, seed: int = 0) -> torch.Tensor:
    """Digit-like 8x8 images in ``[0, 16]``, shape ``(n, 1, 8, 8)``: a bright row, column or diagonal, plus noise."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 8, 8, generator=g) * 2
    kind = torch.randint(0, 4, (n,), generator=g)
    where = torch.randint(1, 7, (n,), generator=g)
    diagonal = torch.eye(8, dtype=torch.bool)
    for i in range(n):
        if kind[i] == 0:
            images[i, 0, where[i], :] = 16.0
        elif kind[i] == 1:
            images[i, 0, :, where[i]] = 16.0
        elif kind[i] == 2:
            images[i, 0][diagonal] = 16.0
        else:
            images[i, 0][diagonal.flip(1)] = 16.0
    return images


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return strokes()


def nearest_real_distance(samples: torch.Tensor, real: torch.Tensor) -> float:
    """Mean over samples of the RMS pixel distance (in ``[0, 1]`` units) to the nearest real image."""
    d = torch.cdist(samples.flatten(1) / 16, real.flatten(1) / 16) / 8
    return float(d.min(dim=1).values.mean())


VAE_ARCHS = [("mlp", (64,)), ("mlp", (1, 8, 8)), ("conv", (1, 8, 8))]


# ---------------------------------------------------------------- VAE


@pytest.mark.parametrize(("arch", "shape"), VAE_ARCHS)
def test_vae_shapes_and_range(arch: str, shape: tuple[int, ...], images: torch.Tensor) -> None:
    vae = VAE(shape, latent_dim=3, arch=arch, hidden=(8, 16) if arch == "conv" else (32,), data_range=RANGE, seed=0)
    x = images[:5].reshape(5, *shape)
    for batch in (x, x.flatten(1)):
        mu, logvar = vae.encode(batch)
        assert mu.shape == logvar.shape == (5, 3)
    z = 10 * torch.randn(7, 3)  # far out in the tails, where the sigmoid saturates
    decoded = vae.decode(z)
    assert decoded.shape == (7, *shape)
    assert decoded.min() >= RANGE[0] and decoded.max() <= RANGE[1]
    assert torch.equal(vae(z), decoded)
    samples = vae.sample(4, seed=0)
    assert samples.shape == (4, *shape) and not samples.requires_grad
    assert samples.min() >= RANGE[0] and samples.max() <= RANGE[1]
    errors = vae.reconstruction_error(x)
    assert errors.shape == (5,) and bool((errors >= 0).all())
    rebuilt = VAE(**vae.config)
    assert rebuilt.config == vae.config
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in vae.parameters()]


@pytest.mark.parametrize(("arch", "shape"), [VAE_ARCHS[0], VAE_ARCHS[2]])
def test_fit_vae_improves_reconstruction(arch: str, shape: tuple[int, ...], images: torch.Tensor) -> None:
    data = images if len(shape) == 3 else images.flatten(1)
    vae = VAE(shape, latent_dim=4, arch=arch, data_range=RANGE, seed=0)
    with torch.no_grad():
        untrained = float(vae.reconstruction_error(data).mean())
    report = fit_vae(vae, data, epochs=15, batch_size=32, lr=3e-3, seed=0, progress=False)
    assert isinstance(report, VAEReport) and report.epochs_run == 15 and not vae.training
    assert len(report.train_recon) == len(report.train_kl) == len(report.val_recon) == len(report.val_loss) == 15
    assert report.train_recon[-1] < 0.8 * report.train_recon[0]
    assert report.val_recon[-1] < 0.8 * report.val_recon[0]
    assert report.val_loss[report.best_epoch] == min(report.val_loss)
    assert report.val_mse < 0.5 * untrained
    with torch.no_grad():
        assert float(vae.reconstruction_error(data).mean()) < 0.5 * untrained
    assert "val_mse" in repr(report)


def test_fit_vae_is_seeded_and_leaves_global_rng_alone(images: torch.Tensor) -> None:
    state = torch.random.get_rng_state()
    runs = []
    for _ in range(2):
        vae = VAE((64,), latent_dim=2, hidden=(16,), data_range=RANGE, seed=3)
        report = fit_vae(vae, images.flatten(1), epochs=2, seed=7, progress=False)
        runs.append((vae, report))
    assert torch.equal(torch.random.get_rng_state(), state)
    (a, ra), (b, rb) = runs
    assert ra.train_recon == rb.train_recon and ra.val_loss == rb.val_loss
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert torch.equal(a.sample(5, seed=1), b.sample(5, seed=1))
    assert not torch.equal(a.sample(5, seed=1), a.sample(5, seed=2))


def test_fit_vae_float64_and_progress(images: torch.Tensor, capsys: pytest.CaptureFixture[str]) -> None:
    vae = VAE((1, 8, 8), latent_dim=2, arch="conv", hidden=(4,), data_range=RANGE, seed=0)
    fit_vae(vae, images.double(), epochs=1, device="cpu", seed=0)
    assert next(vae.parameters()).dtype == torch.float64
    assert "fit_vae" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(arch="rnn"), ValueError, "arch"),
        (dict(data_shape=(64,), arch="conv"), ValueError, "channels, height, width"),
        (dict(arch="conv", hidden=(4, 4, 4, 4)), ValueError, "divisible by 16"),
        (dict(latent_dim=0), ValueError, "latent_dim"),
        (dict(hidden=(8, 0)), ValueError, "hidden"),
        (dict(beta=-1.0), ValueError, "beta"),
        (dict(data_range=(1.0, 1.0)), ValueError, "low < high"),
        (dict(data_shape=64), TypeError, "data_shape"),
        (dict(data_shape=(8, 0)), ValueError, "data_shape"),
    ],
)
def test_vae_rejects_bad_arguments(kwargs: dict, error: type[Exception], message: str) -> None:
    kwargs = {"data_shape": (1, 8, 8), **kwargs}
    with pytest.raises(error, match=message):
        VAE(**kwargs)


def test_vae_rejects_bad_shapes() -> None:
    vae = VAE((1, 8, 8), latent_dim=3, hidden=(8,))
    with pytest.raises(ValueError, match=r"\(b, 1, 8, 8\) or \(b, 64\)"):
        vae.encode(torch.zeros(2, 63))
    with pytest.raises(ValueError, match=r"\(b, 3\)"):
        vae.decode(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"\(b, 3\)"):
        vae(torch.zeros(3))
    with pytest.raises(ValueError, match="n must be"):
        vae.sample(0)


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "message"),
    [
        (torch.zeros(20, 64, dtype=torch.long), {}, TypeError, "floating point"),
        (torch.zeros(20, 65), {}, ValueError, "shape"),
        (torch.full((20, 64), float("nan")), {}, ValueError, "NaN"),
        (torch.full((20, 64), 17.0), {}, ValueError, "outside the model's data_range"),
        (torch.full((20, 64), -0.5), {}, ValueError, "outside the model's data_range"),
        (torch.zeros(0, 64), {}, ValueError, "no rows"),
        (torch.zeros(2, 64), {}, ValueError, "val_fraction"),
        (torch.zeros(20, 64), dict(val_fraction=1.0), ValueError, "val_fraction"),
        (torch.zeros(20, 64), dict(epochs=0), ValueError, "epochs"),
        (torch.zeros(20, 64), dict(batch_size=0), ValueError, "batch_size"),
        (torch.zeros(20, 64), dict(lr=-1.0), ValueError, "lr"),
    ],
)
def test_fit_vae_rejects_bad_input(data: torch.Tensor, kwargs: dict, error: type[Exception], message: str) -> None:
    vae = VAE((64,), latent_dim=2, hidden=(8,), data_range=RANGE)
    with pytest.raises(error, match=message):
        fit_vae(vae, data, progress=False, **kwargs)


def test_fit_vae_rejects_other_models() -> None:
    with pytest.raises(TypeError, match="GAN"):
        fit_vae(GAN((64,)), torch.zeros(20, 64), progress=False)


def test_vae_is_a_decoder_for_objective() -> None:
    vae = VAE((1, 8, 8), latent_dim=2, hidden=(8,), data_range=RANGE, seed=0)
    brightness = lambda x: x.flatten(1).mean(dim=1)  # noqa: E731
    objective = ivd.Objective(brightness, ivd.Box(-3.0, 3.0, dim=2), decoder=vae)
    z = torch.zeros(4, 2)
    assert torch.allclose(objective(z), brightness(vae(z)))


# ---------------------------------------------------------------- GAN


@pytest.mark.parametrize("shape", [(64,), (1, 8, 8)])
def test_gan_shapes_and_range(shape: tuple[int, ...], images: torch.Tensor) -> None:
    gan = GAN(shape, latent_dim=3, hidden=(16, 32), data_range=RANGE, seed=0).eval()
    x = images[:4].reshape(4, *shape)
    z = 10 * torch.randn(6, 3)
    out = gan(z)
    assert out.shape == (6, *shape) and out.min() >= RANGE[0] and out.max() <= RANGE[1]
    samples = gan.sample(5, seed=0)
    assert samples.shape == (5, *shape) and not samples.requires_grad
    assert torch.equal(samples, gan.sample(5, seed=0))
    assert gan.discriminate(x).shape == (4,)
    assert gan.discriminate(x.flatten(1)).shape == (4,)
    linear = [(m.in_features, m.out_features) for m in gan.discriminator.layers if isinstance(m, torch.nn.Linear)]
    assert linear == [(64, 32), (33, 16), (16, 1)]  # mirrored widths; the minibatch std enters the last hidden layer
    rebuilt = GAN(**gan.config)
    assert rebuilt.config == gan.config
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in gan.parameters()]


def test_minibatch_std_layer() -> None:
    h = torch.tensor([[0.0, 1.0], [2.0, 1.0]])
    out = MinibatchStd()(h)
    assert out.shape == (2, 3)
    assert torch.equal(out[:, :2], h)
    assert torch.allclose(out[:, 2], torch.full((2,), 0.5), atol=1e-4)  # stds 1 and 0, averaged
    assert MinibatchStd()(h[:1])[0, 2] < 1e-3  # one row: no spread


@pytest.mark.parametrize("minibatch_std", [True, False])
def test_minibatch_std_makes_scores_depend_on_batch_diversity(minibatch_std: bool, images: torch.Tensor) -> None:
    gan = GAN((1, 8, 8), latent_dim=2, hidden=(16,), data_range=RANGE, minibatch_std=minibatch_std, seed=0).eval()
    x = images[:8]
    with torch.no_grad():
        in_varied_batch = gan.discriminate(x)[0]
        in_uniform_batch = gan.discriminate(x[:1].expand(8, -1, -1, -1))[0]
    assert (in_varied_batch != in_uniform_batch) == minibatch_std
    assert any(isinstance(m, MinibatchStd) for m in gan.discriminator.modules()) == minibatch_std


@pytest.mark.parametrize(
    ("loss", "defences"),
    [
        ("nonsaturating", dict(replay_buffer=0)),
        ("nonsaturating", dict(replay_buffer=200, replay_fraction=0.5, label_smoothing=0.1)),
        ("wgan-gp", dict(replay_buffer=200, replay_fraction=0.25)),
    ],
)
def test_fit_gan_learns_the_data(loss: str, defences: dict, images: torch.Tensor) -> None:
    gan = GAN((1, 8, 8), latent_dim=4, hidden=(64, 64), data_range=RANGE, dropout=0.1, seed=0)
    before = nearest_real_distance(gan.sample(200, seed=0), images)
    report = fit_gan(gan, images, epochs=80, batch_size=32, lr=1e-3, loss=loss, seed=0, progress=False, **defences)
    assert isinstance(report, GANReport) and report.epochs_run == 80 and not gan.training
    assert len(report.d_loss) == len(report.g_loss) == 80
    after = nearest_real_distance(gan.sample(200, seed=0), images)
    assert after < 0.55 * before  # from about 0.44 to 0.08-0.21 over seeds; real images are 0.04 apart
    assert "d_loss" in repr(report)


def test_fit_gan_is_seeded_and_replay_changes_training(images: torch.Tensor) -> None:
    def train(replay_buffer: int) -> GAN:
        gan = GAN((64,), latent_dim=2, hidden=(16,), data_range=RANGE, dropout=0.2, seed=1)
        fit_gan(gan, images.flatten(1), epochs=2, batch_size=50, replay_buffer=replay_buffer, seed=5, progress=False)
        return gan

    state = torch.random.get_rng_state()
    a, b, plain = train(30), train(30), train(0)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.generator[0].weight, plain.generator[0].weight)


def test_replay_buffer_fills_then_overwrites() -> None:
    g = torch.Generator().manual_seed(0)
    buffer = _ReplayBuffer(5, torch.zeros(1, 2))
    assert buffer.draw(3, g).shape == (0, 2)
    buffer.add(torch.ones(3, 2), g)
    assert buffer.size == 3 and buffer.draw(10, g).shape == (3, 2)
    assert torch.equal(buffer.draw(3, g), torch.ones(3, 2))  # only filled slots are drawn
    buffer.add(torch.full((4, 2), 2.0), g)  # two appended, two written over random slots
    assert buffer.size == 5 and 2 <= int((buffer.items == 2.0).all(dim=1).sum()) <= 4
    buffer.add(torch.full((9, 2), 3.0), g)
    assert bool((buffer.items == 3.0).all())


def test_fit_gan_n_critic_leaves_epochs_without_generator_steps_nan(images: torch.Tensor) -> None:
    gan = GAN((64,), latent_dim=2, hidden=(8,), data_range=RANGE, seed=0)
    report = fit_gan(gan, images[:40].flatten(1), epochs=2, batch_size=40, loss="wgan-gp", n_critic=2, seed=0,
                     progress=False)
    assert report.g_loss[0] != report.g_loss[0] and report.g_loss[1] == report.g_loss[1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(loss="hinge"), "loss"),
        (dict(replay_buffer=-1), "replay_buffer"),
        (dict(replay_fraction=0.0), "replay_fraction"),
        (dict(label_smoothing=0.5), "label_smoothing"),
        (dict(loss="wgan-gp", label_smoothing=0.1), "non-saturating loss only"),
        (dict(n_critic=0), "n_critic"),
        (dict(gp_weight=-1.0), "gp_weight"),
        (dict(epochs=0), "epochs"),
    ],
)
def test_fit_gan_rejects_bad_options(kwargs: dict, message: str, images: torch.Tensor) -> None:
    with pytest.raises(ValueError, match=message):
        fit_gan(GAN((1, 8, 8), data_range=RANGE), images, progress=False, **kwargs)


def test_gan_rejects_bad_arguments_and_data(images: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="dropout"):
        GAN((64,), dropout=1.0)
    with pytest.raises(ValueError, match="at least one width"):
        GAN((64,), hidden=())
    with pytest.raises(ValueError, match="outside the model's data_range"):
        fit_gan(GAN((1, 8, 8)), images, progress=False)  # digits-scale data, default (0, 1) range
    with pytest.raises(TypeError, match="VAE"):
        fit_gan(VAE((1, 8, 8)), images, progress=False)
    with pytest.raises(ValueError, match=r"\(b, 2\)"):
        GAN((64,), latent_dim=2)(torch.zeros(1, 3))


# ---------------------------------------------------------------- save / load


@pytest.mark.parametrize(
    "model",
    [
        VAE((64,), latent_dim=3, hidden=(16,), beta=0.5, data_range=RANGE, seed=0),
        VAE((1, 8, 8), latent_dim=3, arch="conv", hidden=(4, 8), data_range=RANGE, seed=0).double(),
        GAN((1, 8, 8), latent_dim=3, hidden=(16,), data_range=RANGE, minibatch_std=False, dropout=0.3, seed=0),
    ],
    ids=["vae-mlp", "vae-conv-float64", "gan"],
)
def test_save_load_generative_bit_identical(model: VAE | GAN, images: torch.Tensor, tmp_path) -> None:
    model.eval()
    path = tmp_path / "model.safetensors"
    save(model, path)
    loaded = load(path)
    assert type(loaded) is type(model) and loaded.config == model.config and not loaded.training
    dtype = next(model.parameters()).dtype
    z = torch.randn(6, model.latent_dim, dtype=dtype)
    assert torch.equal(loaded(z), model(z))
    assert torch.equal(loaded.sample(4, seed=0), model.sample(4, seed=0))
    x = images[:6].reshape(6, *model.data_shape).to(dtype)
    if isinstance(model, VAE):
        assert torch.equal(loaded.reconstruction_error(x), model.reconstruction_error(x))
    else:
        assert torch.equal(loaded.discriminate(x), model.discriminate(x))
