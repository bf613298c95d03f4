"""Constrained and mixed design spaces: invdesign's solvers against peers on the same surrogate, over seeds.

Each task's recommended surrogate is trained once on its offline data (seed 0, float64) and every
method minimizes that same surrogate; the best design of each run is also judged by the task's
oracle (honest evaluation), printed beside the surrogate's energy.

The claims (the process exits with status 1 if one fails):

1. ``composition`` (a composition summing to 1 and a process temperature): ``gd`` and ``lbfgs``
   reach an energy no worse than SciPy's SLSQP run from the same 64 feasible starts with exact
   autograd gradients (to 1e-6 relative, in every seed), in less wall time.
2. ``mixed`` (a categorical, an integer and three reals): ``gd`` and ``lbfgs`` reach within 1e-6
   of the brute-force optimum of the surrogate (every category and integer enumerated, SciPy's
   L-BFGS-B from 8 starts inside each), in every seed.
3. ``mixed``: ``bo`` with 40 evaluations is no worse, on average over the seeds, than a plain
   BoTorch loop at the same budget (the same Sobol initial design size, `MixedSingleTaskGP`,
   `qLogExpectedImprovement`, `optimize_acqf_mixed_alternating`), within the loop's standard
   error over the seeds.

Run: ``python benchmarks/constrained.py`` (about 20 minutes on 2 CPU cores, most of it claim 3);
``--claims 1,2`` for the quick ones, ``--seeds 2`` for a look.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time

import numpy as np
import torch
from botorch.acquisition.logei import qLogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf_mixed_alternating
from gpytorch.mlls import ExactMarginalLogLikelihood
from scipy.optimize import fmin_l_bfgs_b
from scipy.optimize import minimize as scipy_minimize
from torch import Tensor

import invdesign as ivd


def surrogate_objective(task: ivd.tasks.Task) -> ivd.Objective:
    """The task's recommended surrogate, trained on its offline data (seed 0), as a float64 objective."""
    X, Y = task.make_offline_data(seed=0)
    model, report = task.surrogate.fit(X, Y, seed=0)
    print(f"  surrogate for {task.name!r}: {len(X)} offline designs, validation MSE {report.best_val_mse_raw:.4g} (standardised {report.best_val_mse:.3g})")
    return ivd.Objective(model.double(), task.space)


def oracle(task: ivd.tasks.Task, x: Tensor) -> float:
    return float(task.oracle(x.unsqueeze(0).double())[0, 0])


def gradient(objective: ivd.Objective, view: ivd.space.SpaceView):
    """``u -> (energy, gradient)`` in the view's search coordinates, for SciPy; counts calls."""
    calls = [0]

    def energy(u: np.ndarray) -> tuple[float, np.ndarray]:
        z = torch.as_tensor(u, dtype=torch.float64).requires_grad_(True)
        f = objective(view.to_design(z.unsqueeze(0)))[0]
        (g,) = torch.autograd.grad(f, z)
        calls[0] += 1
        return float(f.detach()), g.numpy()

    return energy, calls


# --------------------------------------------------------------------------------------------
# Claim 1: composition, gd and lbfgs vs SLSQP from 64 starts


def slsqp(objective: ivd.Objective, starts: Tensor) -> tuple[float, Tensor]:
    """SciPy's SLSQP from each start (search coordinates of the space), exact gradients; the best energy and design."""
    view = objective.space.coordinates()
    energy, _ = gradient(objective, view)
    A, b, equality = (t.numpy() for t in view.linear_constraints())
    constraints = [
        {"type": "eq" if eq else "ineq", "fun": lambda u, a=a, r=r: r - a @ u, "jac": lambda u, a=a: -a}
        for a, r, eq in zip(A, b, equality)
    ]
    for block in view.blocks:
        ones = np.zeros(view.dim)
        ones[block.numpy()] = 1.0
        constraints.append({"type": "eq", "fun": lambda u, ones=ones: ones @ u - 1.0, "jac": lambda u, ones=ones: ones})
    best, best_x = np.inf, None
    for u0 in view.to_search(starts).numpy():
        res = scipy_minimize(
            energy, u0, jac=True, method="SLSQP", bounds=view.bounds.T.numpy(), constraints=constraints,
            options={"maxiter": 500, "ftol": 1e-12},
        )
        x = view.designs(torch.as_tensor(res.x).unsqueeze(0))
        with torch.no_grad():
            f = float(objective(x)[0])
        if f < best:
            best, best_x = f, x[0]
    assert best_x is not None
    return best, best_x


def claim_composition(seeds: int) -> bool:
    task = ivd.tasks.get("composition")
    objective = surrogate_objective(task)
    rows = {m: [] for m in ("gd", "lbfgs", "slsqp")}
    print(f"\nClaim 1: {task.name}, 64 starts per run; energy on the surrogate (oracle) and seconds")
    print(f"{'seed':>4}  {'gd':>28}  {'lbfgs':>28}  {'SLSQP':>28}")
    for seed in range(seeds):
        starts = task.space.sample(64, seed=seed)
        line = []
        for method in rows:
            t0 = time.perf_counter()
            if method == "slsqp":
                fun, x = slsqp(objective, starts)
            else:
                result = ivd.minimize(objective, method, x0=starts, seed=seed)
                fun, x = result.fun, result.x
            seconds = time.perf_counter() - t0
            assert task.space.contains(x.unsqueeze(0)).all()
            rows[method].append((fun, seconds))
            line.append(f"{fun:.8f} ({oracle(task, x):.4f}) {seconds:5.1f}s")
        print(f"{seed:>4}  " + "  ".join(f"{s:>28}" for s in line))
    passed = True
    for method in ("gd", "lbfgs"):
        worse = [i for i, ((f, _), (g, _)) in enumerate(zip(rows[method], rows["slsqp"])) if f > g + 1e-6 * (1 + abs(g))]
        total, base = sum(t for _, t in rows[method]), sum(t for _, t in rows["slsqp"])
        ok = not worse and total < base
        passed &= ok
        print(
            f"  {method}: no worse than SLSQP in {seeds - len(worse)} of {seeds} seeds; "
            f"wall time {total:.1f} s vs SLSQP {base:.1f} s ({base / total:.1f}x faster): {'PASS' if ok else 'FAIL'}"
        )
    return passed


# --------------------------------------------------------------------------------------------
# Claim 2: mixed, gd and lbfgs vs brute force


def brute_force(objective: ivd.Objective) -> tuple[float, Tensor]:
    """Every assignment of the free integers and categoricals, L-BFGS-B (SciPy) from 8 Sobol starts inside each."""
    space = objective.space
    discrete = [v for v in space.free_variables if v.kind in ("integer", "categorical")]
    values = [range(v.low, v.high + 1) if v.kind == "integer" else v.levels for v in discrete]
    best, best_x = np.inf, None
    for choice in itertools.product(*values):
        fixed = space.fix(dict(zip((v.name for v in discrete), choice)))
        view = fixed.coordinates()
        energy, _ = gradient(objective, view)
        for u0 in view.to_search(fixed.sample(8, seed=0)).numpy():
            u, f, _ = fmin_l_bfgs_b(energy, u0, bounds=view.bounds.T.numpy(), factr=10.0, pgtol=1e-10, maxiter=1000)
            if f < best:
                best, best_x = float(f), view.designs(torch.as_tensor(u).unsqueeze(0))[0]
    assert best_x is not None
    return best, best_x


def claim_mixed_restarts(seeds: int) -> bool:
    task = ivd.tasks.get("mixed")
    objective = surrogate_objective(task)
    t0 = time.perf_counter()
    optimum, x_star = brute_force(objective)
    print(f"\nClaim 2: {task.name}; brute-force optimum of the surrogate {optimum:.10f} "
          f"(oracle {oracle(task, x_star):.4f}; {time.perf_counter() - t0:.1f} s); task optimum {task.optimum}")
    print(f"{'seed':>4}  {'gd - optimum':>14}  {'lbfgs - optimum':>16}  {'gd s':>6}  {'lbfgs s':>7}")
    gaps = {"gd": [], "lbfgs": []}
    for seed in range(seeds):
        times = []
        for method in gaps:
            t = time.perf_counter()
            result = ivd.minimize(objective, method, seed=seed)
            times.append(time.perf_counter() - t)
            gaps[method].append(result.fun - optimum)
        print(f"{seed:>4}  {gaps['gd'][-1]:>14.3e}  {gaps['lbfgs'][-1]:>16.3e}  {times[0]:>6.1f}  {times[1]:>7.1f}")
    passed = all(g <= 1e-6 for m in gaps for g in gaps[m])
    print(f"  gd and lbfgs within 1e-6 of the brute-force optimum in every seed: {'PASS' if passed else 'FAIL'}")
    return passed


# --------------------------------------------------------------------------------------------
# Claim 3: mixed, bo vs a plain BoTorch loop


def plain_botorch(objective: ivd.Objective, seed: int, budget: int) -> float:
    """A plain BoTorch loop on the mixed space, written from BoTorch's documentation, not invdesign's solver.

    Inputs: each categorical one column of level indices, each integer and real scaled to [0, 1]
    (integers on their grid). Sobol initial design of ``2 (d + 1)`` points, then one
    `optimize_acqf_mixed_alternating` point of `qLogExpectedImprovement` on a `MixedSingleTaskGP`
    per round.
    """
    space = objective.space
    variables = [v for v in space.free_variables]
    d = len(variables)
    cat_dims = {i: list(range(len(v.levels))) for i, v in enumerate(variables) if v.kind == "categorical"}
    discrete = {i: [k / (v.high - v.low) for k in range(v.high - v.low + 1)] for i, v in enumerate(variables) if v.kind == "integer"}
    bounds = torch.tensor([[0.0] * d, [float(len(cat_dims[i]) - 1) if i in cat_dims else 1.0 for i in range(d)]], dtype=torch.float64)

    def encode(z: Tensor) -> Tensor:
        x = space.sample(1, seed=0).repeat(z.shape[0], 1)  # fixed variables keep their values
        for i, v in enumerate(variables):
            cols = space.column_slice(v)
            if v.kind == "categorical":
                x[:, cols] = torch.nn.functional.one_hot(z[:, i].round().long(), len(v.levels)).double()
            elif v.kind == "integer":
                x[:, cols.start] = (v.low + z[:, i] * (v.high - v.low)).round()
            else:
                x[:, cols.start] = v.low + z[:, i] * (v.high - v.low)
        return x

    n_init = 2 * (d + 1)
    s = torch.quasirandom.SobolEngine(d, scramble=True, seed=seed).draw(n_init, dtype=torch.float64)
    for i, v in enumerate(variables):
        if v.kind == "categorical":
            s[:, i] = (s[:, i] * len(v.levels)).floor().clamp(max=len(v.levels) - 1)
        elif v.kind == "integer":
            n = v.high - v.low + 1
            s[:, i] = (s[:, i] * n).floor().clamp(max=n - 1) / (n - 1)
    Z = s
    with torch.no_grad():
        Y = objective(encode(Z))
    torch.manual_seed(seed)
    while Z.shape[0] < budget:
        model = MixedSingleTaskGP(Z, -Y.unsqueeze(-1), cat_dims=list(cat_dims), outcome_transform=Standardize(m=1))
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        acquisition = qLogExpectedImprovement(model, best_f=(-Y).max())
        z, _ = optimize_acqf_mixed_alternating(
            acquisition, bounds=bounds, discrete_dims=discrete, cat_dims=cat_dims, q=1, num_restarts=10, raw_samples=512
        )
        with torch.no_grad():
            Z, Y = torch.cat([Z, z]), torch.cat([Y, objective(encode(z))])
    return float(Y.min())


def claim_mixed_bo(seeds: int, budget: int) -> bool:
    task = ivd.tasks.get("mixed")
    objective = surrogate_objective(task)
    print(f"\nClaim 3: {task.name}, {budget} evaluations of the surrogate per run")
    print(f"{'seed':>4}  {'bo':>12}  {'plain BoTorch':>14}  {'bo s':>6}  {'plain s':>8}")
    ours, plain = [], []
    for seed in range(seeds):
        t0 = time.perf_counter()
        ours.append(ivd.minimize(objective, "bo", max_evals=budget, seed=seed).fun)
        t1 = time.perf_counter()
        plain.append(plain_botorch(objective, seed, budget))
        t2 = time.perf_counter()
        print(f"{seed:>4}  {ours[-1]:>12.6f}  {plain[-1]:>14.6f}  {t1 - t0:>6.1f}  {t2 - t1:>8.1f}")
    se = statistics.stdev(plain) / np.sqrt(seeds) if seeds > 1 else 0.0
    passed = statistics.mean(ours) <= statistics.mean(plain) + se
    print(
        f"  mean best: bo {statistics.mean(ours):.6f}, plain BoTorch {statistics.mean(plain):.6f} "
        f"(standard error {se:.2g}): {'PASS' if passed else 'FAIL'}"
    )
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--claims", default="1,2,3")
    parser.add_argument("--max-evals", type=int, default=40, help="budget of claim 3")
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"torch threads: {torch.get_num_threads()}")
    claims = {"1": lambda: claim_composition(args.seeds), "2": lambda: claim_mixed_restarts(args.seeds),
              "3": lambda: claim_mixed_bo(args.seeds, args.max_evals)}
    results = [claims[c.strip()]() for c in args.claims.split(",") if c.strip()]
    print(f"\n{sum(results)}/{len(results)} claims pass. Total {time.perf_counter() - start:.0f} s.")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
