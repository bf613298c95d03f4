"""``method="ga"``: Design-Bench's gradient ascent, step for step."""

from __future__ import annotations

import math

import torch

import invdesign as ivd


def test_ga_takes_design_bench_steps_on_standardised_designs():
    space = ivd.Box(-10.0, 10.0, dim=2, dtype=torch.float64)
    X = torch.tensor([[0.0, 0.0], [2.0, 4.0], [4.0, 8.0], [1.0, 1.0]], dtype=torch.float64)
    Y = X.sum(-1, keepdim=True)
    w = torch.tensor([1.0, -1.0], dtype=torch.float64)

    def model(x):
        return (x @ w).unsqueeze(-1)

    out = ivd.minimize(ivd.Objective(model, space), "ga", x0=ivd.FromData(X, Y), n_restarts=2, max_iter=1)
    x_std, y_std = X.std(0), Y[:, 0].std()
    start = X[[0, 3]]  # the two lowest Y
    step = 0.01 * math.sqrt(2)
    expected = start - step * (w * x_std / y_std) * x_std  # one step in standardised units, mapped back
    assert torch.allclose(out.X.sort(0).values, expected.sort(0).values)
    assert out.nfev == 2 * 3 and out.nit == 1


def test_ga_is_the_reference_row_of_the_benchmark(tmp_path):
    task = ivd.tasks.Task(name="bowl", oracle=lambda x: x.square().sum(-1), space=ivd.Box(-1.0, 1.0, dim=3),
                          kind="minimize", n_train=200, surrogate=ivd.tasks.SurrogateSpec(
                              hidden=(16, 16), activation="silu", epochs=30, batch_size=64, lr=3e-3))
    table = ivd.benchmark.run([task], ["ga"], 1, out=tmp_path, k=16, progress=False)
    row = table.iloc[0]
    assert row["solver"] == "ga" and row["n_designs"] == 16 and math.isfinite(row["score_best"])


def test_ga_searches_compositions_and_mixed_spaces_in_their_relaxed_coordinates():
    space = ivd.Space(
        [ivd.Composition(["a", "b", "c"]), ivd.Categorical("kind", ["p", "q", "r"]), ivd.Integer("n", 1, 5), ivd.Real("t", 0.0, 1.0)]
    )
    X = space.sample(64, seed=0)
    weights = torch.linspace(-1.0, 1.0, X.shape[1], dtype=X.dtype)

    def model(x):
        return (x * weights).sum(-1, keepdim=True).sin()

    Y = model(X)
    out = ivd.minimize(ivd.Objective(model, space), "ga", x0=ivd.FromData(X, Y), n_restarts=8, max_iter=20, seed=0)
    assert space.feasible(out.X).all() and out.X.shape == (8, X.shape[1])
    assert out.fun <= float(Y.min()) + 1e-6  # the steps start from the best designs and the ranking keeps the best
