"""Defects a demanding user found (issue 13), each pinned by a test: corrupted results, shapes that
pass a check they should fail, and dimensions the toolkit could not start in."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import torch
from torch import nn

import invdesign as ivd
from invdesign.adapter import ModelError


def _square(x: torch.Tensor) -> torch.Tensor:
    return x.square().sum(dim=-1)


@pytest.mark.parametrize("method", ivd.solvers.capable(lambda c: c.ask_tell))
def test_a_callback_cannot_corrupt_the_stored_designs(method, tmp_path):
    objective = ivd.Objective(_square, ivd.Box(-1.0, 1.0, dim=2))
    path = tmp_path / "run.safetensors"
    result = ivd.minimize(objective, method, max_evals=12, seed=0, checkpoint=path, callback=lambda p: p.x.mul_(0))
    torch.testing.assert_close(result.F, objective(result.X), rtol=0, atol=0)
    opt = ivd.solvers.load_optimizer(path)
    torch.testing.assert_close(opt.Y, objective(opt.X), rtol=0, atol=0)


def test_transposed_outputs_are_refused_even_when_the_output_width_equals_the_probe_batch():
    with pytest.raises(ModelError, match=r"\(k, b\), instead of the batch, \(b, k\)"):
        ivd.Objective(lambda x: x.square().T, ivd.Box(-1.0, 1.0, dim=2), target=[0.0, 0.0])


def test_a_model_that_edits_its_input_in_place_keeps_its_gradients():
    class Centred(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mu", torch.tensor([0.1, 0.2], dtype=torch.float64))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x -= self.mu
            return x.square().sum(dim=-1)

    objective = ivd.Objective(Centred(), ivd.Box(-1.0, 1.0, dim=2))
    assert objective.differentiable
    result = ivd.minimize(objective, "gd", seed=0)
    torch.testing.assert_close(result.x, torch.tensor([0.1, 0.2], dtype=torch.float64), rtol=0, atol=1e-5)


def test_an_objective_starts_above_the_sobol_dimension_limit():
    dim = torch.quasirandom.SobolEngine.MAXDIM + 99
    box = ivd.Box(-1.0, 1.0, dim=dim)
    objective = ivd.Objective(lambda x: x.sum(dim=-1), box)
    result = ivd.minimize(objective, "gd", n_restarts=2, max_iter=3, seed=0)
    assert result.X.shape == (2, dim) and box.contains(result.X).all()
    assert torch.equal(box.sample(3, seed=5), box.sample(3, seed=5))


def test_the_core_imports_without_botorch_cma_matplotlib_sklearn_or_the_benchmark():
    code = (
        "import sys, invdesign as ivd; ivd.Objective; ivd.minimize; ivd.Box; ivd.Space; ivd.Result; "
        "heavy = {'botorch', 'gpytorch', 'cma', 'matplotlib', 'sklearn', 'pandas', 'scipy'}; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy), 'invdesign.benchmark' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] False", out


def test_the_command_line_help_imports_no_torch():
    code = "import sys; from invdesign import cli; sys.argv = ['invdesign', '--help']\ntry:\n    cli.main()\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out.endswith("False"), out


def test_saved_files_get_the_umask_mode_like_any_other_file(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "model.safetensors"
        model = ivd.models.MLP(2, 1, hidden=(4,))
        ivd.models.save(model, path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        objective = ivd.Objective(_square, ivd.Box(-1.0, 1.0, dim=2))
        checkpoint = tmp_path / "run.safetensors"
        ivd.minimize(objective, "random", max_evals=4, seed=0, checkpoint=checkpoint)
        assert stat.S_IMODE(os.stat(checkpoint).st_mode) == 0o644
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: ivd.solvers.make("gd", lr="0.1"), TypeError, "gd option lr must be a number"),
        (lambda: ivd.solvers.make("gd", lr=0.0), ValueError, "gd option lr must be positive"),
        (lambda: ivd.solvers.make("gd", patience=0), ValueError, "patience must be at least 1"),
        (lambda: ivd.solvers.make("random", batch=0), ValueError, "batch must be at least 1"),
        (lambda: ivd.Box(-1.0, 1.0, dim=2.5), TypeError, "Box dim must be an integer"),
        (lambda: ivd.Box(-1e308, 1e308, dim=2), ValueError, "Box width upper - lower overflows"),
    ],
)
def test_bad_arguments_are_refused_at_the_door(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_a_seed_beyond_63_bits_is_refused():
    with pytest.raises(ValueError, match="seed must be below 2\\*\\*63"):
        ivd.minimize(ivd.Objective(_square, ivd.Box(-1.0, 1.0, dim=2)), "gd", seed=2**70)


def test_a_model_returning_a_tuple_is_named():
    with pytest.raises(ModelError, match="returned a tuple; it must return one tensor of outputs"):
        ivd.Objective(lambda x: (x.sum(-1), x), ivd.Box(-1.0, 1.0, dim=2))


def test_the_benchmark_checks_its_seeds_and_output_folder_before_any_training(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("")
    with pytest.raises(TypeError, match="seeds must be a number n"):
        ivd.benchmark.run(["branin"], ["gd"], "10")
    with pytest.raises(ValueError, match="is a file; give a folder"):
        ivd.benchmark.run(["branin"], ["gd"], 1, out=a_file)


_BOX = ivd.Box([-2.0, -1.0, 0.0], [2.0, 3.0, 1.0])
_MIXED = ivd.Space(
    [ivd.Composition(["p", "q", "r"]), ivd.Real("t", 0.0, 2.0), ivd.Categorical("c", ["a", "b", "c"]), ivd.Integer("n", 0, 6)],
    constraints=["p + q <= 0.8"],
)


@pytest.mark.parametrize("space", [_BOX, _MIXED], ids=["box", "mixed"])
@pytest.mark.parametrize("method", ivd.solvers.available())
def test_the_energies_returned_are_the_objectives_at_the_designs_returned(space, method):
    caps = ivd.solvers.get(method).capabilities
    if not (space.variable_kinds <= caps.variables and space.constraint_kinds <= caps.constraints):
        pytest.skip(f"{method} does not handle this space's kinds")
    weights = torch.linspace(-1.0, 1.0, space.dim, dtype=torch.float64)
    objective = ivd.Objective(lambda x: ((x - 0.3) ** 2 * weights.abs()).sum(-1) + torch.sin(3 * x) @ weights, space)
    options: dict = {"max_evals": 16} if caps.budget == "evaluations" else {"max_iter": 20}
    if caps.data:
        X = space.sample(64, seed=3)
        options["x0"] = ivd.FromData(X, objective(X).unsqueeze(-1))
    result = ivd.minimize(objective, method, seed=0, **options)
    with torch.no_grad():
        torch.testing.assert_close(result.F, objective(result.X), rtol=0, atol=1e-12)
