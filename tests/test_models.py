from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import save_file

from invdesign.models import MLP, Ensemble, FitReport, fit, fit_ensemble, fit_mlp, load, save

FAST = dict(epochs=30, batch_size=64, progress=False)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: one thread is faster, and immune to OpenMP oversubscription on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def smooth_data(n: int = 400, seed: int = 0, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` uniform in ``[-1, 1]^2``, two smooth outputs: shapes ``(n, 2)`` and ``(n, 2)``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g, dtype=dtype) * 2 - 1
    y = torch.stack([torch.sin(2 * x[:, 0]) + x[:, 1] ** 2, x[:, 0] * x[:, 1]], dim=1)
    return x, y


# ---------------------------------------------------------------- MLP


@pytest.mark.parametrize("activation", ["relu", "silu", "tanh", "gelu"])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_mlp_shapes_and_config(activation: str, batch_norm: bool) -> None:
    model = MLP(3, 2, hidden=(8, 8), activation=activation, batch_norm=batch_norm, dropout=0.1).eval()
    assert model(torch.randn(5, 3)).shape == (5, 2)
    assert model(torch.randn(4, 5, 3)).shape == (4, 5, 2)
    rebuilt = MLP(**model.config)
    assert rebuilt.config == model.config
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]


def test_mlp_buffers_default_to_identity() -> None:
    model = MLP(3, 2, hidden=(4,))
    assert torch.equal(model.x_mean, torch.zeros(3)) and torch.equal(model.x_std, torch.ones(3))
    assert torch.equal(model.y_mean, torch.zeros(2)) and torch.equal(model.y_std, torch.ones(2))
    assert {name for name, _ in model.named_buffers()} == {"x_mean", "x_std", "y_mean", "y_std"}


def test_mlp_linear_when_no_hidden_layers() -> None:
    model = MLP(3, 1, hidden=())
    assert len(model.net) == 1 and model(torch.zeros(2, 3)).shape == (2, 1)


def test_mlp_rejects_unknown_activation() -> None:
    with pytest.raises(ValueError, match="relu"):
        MLP(3, activation="swish2")


def test_mlp_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="positive integers"):
        MLP(0)
    with pytest.raises(ValueError, match="dropout"):
        MLP(2, dropout=1.0)


def test_mlp_rejects_wrong_input_width() -> None:
    model = MLP(3, hidden=(4,))
    with pytest.raises(ValueError, match=r"\(b, 3\).*\(5, 4\)"):
        model(torch.zeros(5, 4))


# ---------------------------------------------------------------- fit


def test_fit_standardises_raw_units() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 1, generator=g) * 10
    y = 1000 + 50 * x
    model, report = fit_mlp(x, y, hidden=(16, 16), seed=0, epochs=80, batch_size=64, progress=False)
    assert model.y_mean.item() == pytest.approx(1250, rel=0.05)
    assert model.y_std.item() == pytest.approx(50 * 10 / math.sqrt(12), rel=0.1)
    with torch.no_grad():
        pred = model(torch.tensor([[2.0], [5.0], [8.0]]))
    torch.testing.assert_close(pred, torch.tensor([[1100.0], [1250.0], [1400.0]]), atol=5.0, rtol=0)
    assert report.best_val_mse_raw == pytest.approx(report.best_val_mse * model.y_std.item() ** 2, rel=1e-4)


def test_fit_reduces_loss_and_fits_smooth_function() -> None:
    x, y = smooth_data(600)
    x_test, y_test = smooth_data(500, seed=1)
    model, report = fit_mlp(x, y, hidden=(32, 32), seed=0, epochs=80, batch_size=32, progress=False)
    assert isinstance(report, FitReport)
    assert len(report.train_loss) == len(report.val_loss) == report.epochs_run == 80
    assert report.val_loss[-1] < report.val_loss[0] / 50
    assert report.train_loss[-1] < report.train_loss[0] / 50
    assert report.best_val_mse < 5e-3
    assert not model.training and all(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        assert ((model(x_test) - y_test) ** 2).mean() < 2e-3


def test_fit_early_stopping_restores_best_epoch() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 1, generator=g)
    y = x + 0.3 * torch.randn(40, 1, generator=g)
    x_val = torch.rand(40, 1, generator=g)
    y_val = x_val + 0.3 * torch.randn(40, 1, generator=g)
    model = MLP(1, hidden=(64, 64))
    report = fit(model, x, y, val_data=(x_val, y_val), epochs=2000, batch_size=8, lr=1e-2, patience=10,
                 schedule="constant", seed=0, progress=False)
    assert report.epochs_run == report.best_epoch + 11 < 2000
    assert report.best_val_mse == min(report.val_loss) == report.val_loss[report.best_epoch]
    with torch.no_grad():
        raw = ((model(x_val) - y_val) ** 2).mean().item()
    assert raw == pytest.approx(report.best_val_mse_raw, rel=1e-5)
    assert raw / model.y_std.item() ** 2 == pytest.approx(report.best_val_mse, rel=1e-5)


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_fit_schedules_train(schedule: str) -> None:
    x, y = smooth_data(200)
    _, report = fit_mlp(x, y, hidden=(16,), seed=0, schedule=schedule, epochs=30, batch_size=16, progress=False)
    assert report.best_val_mse < report.val_loss[0] / 5


def test_fit_is_reproducible_with_seed() -> None:
    x, y = smooth_data(200)
    a, report_a = fit_mlp(x, y, hidden=(16, 16), dropout=0.1, seed=7, **FAST)
    b, report_b = fit_mlp(x, y, hidden=(16, 16), dropout=0.1, seed=7, **FAST)
    c, _ = fit_mlp(x, y, hidden=(16, 16), dropout=0.1, seed=8, **FAST)
    for (name, ta), tb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(ta, tb), name
    assert report_a.val_loss == report_b.val_loss
    assert not torch.equal(a.net[0].weight, c.net[0].weight)


def test_fit_leaves_global_rng_alone() -> None:
    x, y = smooth_data(100)
    state = torch.random.get_rng_state()
    fit_mlp(x, y, hidden=(8,), dropout=0.2, seed=1, **FAST)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_fit_float64_and_device_argument() -> None:
    x, y = smooth_data(200, dtype=torch.float64)
    model = MLP(2, 2, hidden=(8,))
    report = fit(model, x, y, seed=0, device="cpu", **FAST)
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert model.y_std.dtype == torch.float64 and report.best_val_mse < report.val_loss[0]


def test_fit_accepts_1d_targets() -> None:
    x, y = smooth_data(100)
    model, _ = fit_mlp(x, y[:, 0], hidden=(8,), seed=0, **FAST)
    assert model.out_dim == 1 and model(x).shape == (100, 1)


def test_fit_shows_progress(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = smooth_data(100)
    fit_mlp(x, y, hidden=(8,), seed=0, epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "train=" in err and "val=" in err


def bad_data_cases() -> list[tuple[str, object]]:
    x, y = smooth_data(50)
    nan_x = x.clone()
    nan_x[3, 1] = float("nan")
    inf_y = y.clone()
    inf_y[0, 0] = float("inf")
    return [
        ("x_1d", (x[:, 0], y, ValueError, "2-d")),
        ("y_3d", (x, y[:, :, None], ValueError, "2-d")),
        ("rows", (x[:40], y, ValueError, "40 rows")),
        ("nan", (nan_x, y, ValueError, "NaN")),
        ("inf", (x, inf_y, ValueError, "infinite")),
        ("int_x", (x.long(), y, TypeError, "floating")),
        ("int_y", (x, y.long(), TypeError, "floating")),
        ("width", (torch.cat([x, x], 1), y, ValueError, "in_dim=2")),
        ("outputs", (x, y[:, :1], ValueError, "out_dim=2")),
    ]


@pytest.mark.parametrize("case", bad_data_cases(), ids=lambda c: c[0])
def test_fit_rejects_bad_data(case: tuple[str, tuple]) -> None:
    X, Y, error, message = case[1]
    with pytest.raises(error, match=message):
        fit(MLP(2, 2, hidden=(4,)), X, Y, progress=False)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (dict(val_fraction=0.0), "val_fraction"),
        (dict(val_fraction=0.99), "at least 1 and 2"),
        (dict(schedule="linear"), "schedule"),
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(lr=0.0), "lr"),
        (dict(patience=0), "patience"),
        (dict(val_data=(torch.zeros(5, 3), torch.zeros(5, 2))), "val_data"),
    ],
)
def test_fit_rejects_bad_options(option: dict, message: str) -> None:
    x, y = smooth_data(50)
    with pytest.raises(ValueError, match=message):
        fit(MLP(2, 2, hidden=(4,)), x, y, progress=False, **option)


def test_fit_rejects_model_without_parameters() -> None:
    x, y = smooth_data(50)
    with pytest.raises(ValueError, match="no parameters"):
        fit(torch.nn.Identity(), x, y, progress=False)


# ---------------------------------------------------------------- Ensemble


def test_ensemble_shapes_and_spread() -> None:
    ensemble = Ensemble([MLP(3, 2, hidden=(8,)) for _ in range(4)])
    x = torch.randn(6, 3)
    preds = ensemble.members_forward(x)
    mean, std = ensemble.mean_std(x)
    assert preds.shape == (4, 6, 2) and mean.shape == std.shape == (6, 2)
    assert (std > 0).all()
    torch.testing.assert_close(ensemble(x), preds.mean(0))
    torch.testing.assert_close(mean, preds.mean(0))
    assert len(ensemble) == 4 and ensemble.in_dim == 3 and ensemble.out_dim == 2


def test_ensemble_rejects_bad_members() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])
    with pytest.raises(ValueError, match="in_dim"):
        Ensemble([MLP(3, hidden=(4,)), MLP(2, hidden=(4,))])


@pytest.mark.parametrize("bootstrap", [False, True])
def test_fit_ensemble(bootstrap: bool) -> None:
    x, y = smooth_data(200)
    ensemble, reports = fit_ensemble(x, y, n_members=3, hidden=(16,), seed=0, bootstrap=bootstrap, **FAST)
    assert len(reports) == 3 and all(isinstance(r, FitReport) for r in reports)
    assert all(r.best_val_mse < r.val_loss[0] for r in reports)
    mean, std = ensemble.mean_std(x)
    assert mean.shape == std.shape == (200, 2) and (std > 0).all()
    first = [m.net[0].weight for m in ensemble.members]
    assert not torch.equal(first[0], first[1])
    again, _ = fit_ensemble(x, y, n_members=3, hidden=(16,), seed=0, bootstrap=bootstrap, **FAST)
    assert torch.equal(ensemble(x), again(x))


# ---------------------------------------------------------------- save / load


def test_save_load_mlp_bit_identical(tmp_path) -> None:
    x, y = smooth_data(100, dtype=torch.float64)
    model, _ = fit_mlp(x, y, hidden=(8, 8), activation="tanh", batch_norm=True, seed=0, **FAST)
    path = tmp_path / "mlp.safetensors"
    save(model, path)
    loaded = load(path)
    assert isinstance(loaded, MLP) and loaded.config == model.config and not loaded.training
    assert loaded.x_mean.dtype == torch.float64
    assert torch.equal(loaded(x), model(x))


def test_save_load_ensemble_bit_identical(tmp_path) -> None:
    x, y = smooth_data(100)
    ensemble, _ = fit_ensemble(x, y, n_members=2, hidden=(8,), seed=0, **FAST)
    path = tmp_path / "ens.safetensors"
    save(ensemble, path)
    loaded = load(str(path), device="cpu")
    assert isinstance(loaded, Ensemble) and len(loaded) == 2
    assert torch.equal(loaded.members_forward(x), ensemble.members_forward(x))


def test_load_rejects_foreign_files(tmp_path) -> None:
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(ValueError, match="not an invdesign model"):
        load(plain)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"definitely not a tensor file")
    with pytest.raises(ValueError, match="not a safetensors file"):
        load(junk)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.safetensors")


def test_save_rejects_other_modules(tmp_path) -> None:
    with pytest.raises(TypeError, match="Linear"):
        save(torch.nn.Linear(2, 1), tmp_path / "x.safetensors")
