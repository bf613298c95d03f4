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
@pytest.mark.parametrize("method", ivd.solvers.capable(lambda c: c.models == "any"))
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


def test_fit_mlp_reads_pandas_tables_and_names_a_non_numeric_column():
    import pandas as pd

    X = pd.DataFrame({"a": torch.linspace(0, 1, 20).tolist(), "b": torch.linspace(1, 0, 20).square().tolist()})
    model, _ = ivd.models.fit_mlp(X, X["a"] + X["b"], hidden=(4,), epochs=2, seed=0)
    assert model.in_dim == 2
    with pytest.raises(TypeError, match=r"X has non-numeric columns \['c'\]"):
        ivd.models.fit_mlp(X.assign(c=["u", "v"] * 10), X["a"], epochs=1)


def test_bounds_that_collapse_in_the_models_dtype_name_it():
    with pytest.raises(ValueError, match=r"from torch.float64 to torch.float32.*lower < upper"):
        ivd.Objective(nn.Linear(2, 1), ivd.Box(1.0, 1.0 + 1e-9, dim=2))
    with pytest.raises(ValueError, match=r"columns \['a'\] collapse or overflow in torch.float32"):
        ivd.Space([ivd.Real("a", 1.0, 1.0 + 1e-9), ivd.Real("b", 0.0, 1.0)]).to(torch.float32)


def test_a_box_of_float32_tensors_is_searched_in_float32():
    box = ivd.Box(torch.zeros(2), torch.ones(2))
    objective = ivd.Objective(_square, box)
    assert box.dtype == objective.dtype == torch.float32
    assert ivd.minimize(objective, "gd", max_iter=3, seed=0).X.dtype == torch.float32
    assert ivd.Box(torch.zeros(2), torch.ones(2, dtype=torch.float64)).dtype == torch.float64


def test_a_model_computing_in_float32_is_told_how_to_fix_it():
    with pytest.raises(TypeError, match=r"pass dtype=torch.float32 to the objective, or make the model return its input's dtype"):
        ivd.Objective(lambda x: x.float().square().sum(-1), ivd.Box(-1.0, 1.0, dim=2))


def test_weights_that_do_not_fit_the_saved_architecture_are_a_value_error(tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    ivd.models.save(ivd.models.MLP(2, 1, hidden=(4,)), path)
    with safe_open(path, "pt") as handle:
        description = json.loads(handle.metadata()["invdesign"])
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    description["model"]["config"]["hidden"] = [5]
    save_file(tensors, tmp_path / "edited.safetensors", metadata={"invdesign": json.dumps(description)})
    with pytest.raises(ValueError, match="edited.safetensors: its weights do not fit the model it describes"):
        ivd.models.load(tmp_path / "edited.safetensors")


def test_a_results_file_with_a_malformed_cell_is_a_clear_error(tmp_path):
    import json

    (tmp_path / "results.json").write_text(json.dumps({"format": 1, "cells": [{"solver": "gd"}]}))
    with pytest.raises(ValueError, match="cell 0 is not a result record"):
        ivd.benchmark.ResultStore(tmp_path)


@pytest.mark.parametrize(
    ("where", "match"),
    [("folder", "is a folder; give a file path"), ("missing", "does not exist"), ("empty", "non-empty file path")],
)
def test_a_bad_checkpoint_path_is_refused_before_any_evaluation(where, match, tmp_path):
    calls = []
    objective = ivd.Objective(lambda x: (calls.append(x), _square(x))[1], ivd.Box(-1.0, 1.0, dim=2))
    calls.clear()
    path = {"folder": tmp_path, "missing": tmp_path / "nope" / "run.safetensors", "empty": ""}[where]
    with pytest.raises(ValueError, match=match):
        ivd.minimize(objective, "random", max_evals=4, checkpoint=path)
    assert calls == []


def test_a_checkpoint_of_another_objective_on_the_same_box_is_refused(tmp_path):
    box, path = ivd.Box(-1.0, 1.0, dim=2), tmp_path / "run.safetensors"
    ivd.minimize(ivd.Objective(lambda x: x.square().sum(-1), box), "random", max_evals=4, seed=0, checkpoint=path)
    with pytest.raises(ValueError, match="written by a run of another objective"):
        ivd.minimize(ivd.Objective(lambda x: (x - 0.5).square().sum(-1), box), "random", max_evals=8, seed=0, checkpoint=path)
    shift = torch.tensor([0.1, 0.2], dtype=torch.float64)
    other = torch.tensor([0.3, 0.2], dtype=torch.float64)

    def make(centre: torch.Tensor):
        return lambda x: (x - centre).square().sum(-1)

    ivd.minimize(ivd.Objective(make(shift), box), "random", max_evals=4, seed=0, checkpoint=tmp_path / "c.safetensors")
    with pytest.raises(ValueError, match="another objective"):
        ivd.minimize(ivd.Objective(make(other), box), "random", max_evals=8, seed=0, checkpoint=tmp_path / "c.safetensors")
    resumed = ivd.minimize(ivd.Objective(make(shift.clone()), box), "random", max_evals=8, seed=0, checkpoint=tmp_path / "c.safetensors")
    assert resumed.nfev == 8


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["bench", "--seeds", "0"], "seeds must be a positive number"),
        (["bench", "--seeds", "1", "1", "--tasks", "branin", "--solvers", "gd"], "distinct seeds"),
        (["demo", "--n-restarts", "0"], "argument --n-restarts: must be at least 1"),
        (["demo", "--epochs", "x"], "argument --epochs: must be an integer"),
    ],
)
def test_the_command_line_reports_user_errors_in_one_line(argv, match, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "invdesign.cli", *argv, "--quiet"], capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))},
    )
    assert done.returncode == 2
    assert match in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len([line for line in done.stderr.splitlines() if "error:" in line]) == 1


def test_a_checkpoint_of_a_penalty_with_other_data_is_refused(tmp_path):
    box, path = ivd.Box(-1.0, 1.0, dim=2), tmp_path / "run.safetensors"
    data = box.sample(8, seed=0)
    near = ivd.penalties.DataDistance(data, 1.0)
    ivd.minimize(ivd.Objective(_square, box, penalties=[near]), "random", max_evals=4, seed=0, checkpoint=path)
    moved = ivd.penalties.DataDistance(data + 0.01, 1.0)
    with pytest.raises(ValueError, match="another objective"):
        ivd.minimize(ivd.Objective(_square, box, penalties=[moved]), "random", max_evals=8, seed=0, checkpoint=path)
