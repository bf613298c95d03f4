"""The certified optimum of ReLU surrogates (``method="milp"``): how far it scales, and how far the
other solvers' designs are from it.

1. Scaling: random ReLU networks of two hidden layers (16 to 512 ReLUs in all) on ``[-1, 1]^d``;
   for each input dimension, with and without LP bound tightening, the seconds to a certificate
   (``mip_gap=1e-4``) and the gap left when the time limit (60 s) stops HiGHS first. Once a size
   times out, the larger ones of that row are skipped (they would too).
2. Benchmark surrogates: each task's ReLU recipe (`invdesign.tasks.Task.relu_surrogate`) trained
   on its offline data; ``gd``, ``lbfgs`` and ``cmaes`` minimize it, and `invdesign.certify`
   says how far their best designs are from the certified optimum, in surrogate energy.
3. Against local search: random ReLU networks of 2x16, 2x32 and 3x32 ReLUs on ``[-1, 1]^d``
   (d = 2, 5, 10): milp's optimum (``mip_gap=1e-6``) beside the best of 10,000 lbfgs restarts
   (Sobol starts, one batched call); a certified optimum is never above it by more than 1e-6.

Run: ``python benchmarks/milp.py`` (about 20 minutes on 2 CPU cores); ``--quick`` for a short
look (two input dimensions, up to 64 ReLUs, 10 s limits, two tasks with short training, two
networks against local search).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import invdesign as ivd

WIDTHS = (8, 16, 32, 64, 128, 256)
"""Widths of the two hidden layers: 16 to 512 ReLUs."""
DIMS = (2, 5, 10)
TASKS = ("branin", "hartmann6", "mixed", "composition")


NETWORKS = ((16, 16), (32, 32), (32, 32, 32))
"""Hidden layers of the networks compared against 10,000 lbfgs restarts."""
LBFGS_RESTARTS = 10_000


def relu_net(d: int, widths: tuple[int, ...], seed: int) -> nn.Sequential:
    """A random ReLU network ``(b, d) -> (b, 1)`` with hidden layers of ``widths``, in float64."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    w_in = d
    for w in widths:
        layers += [nn.Linear(w_in, w), nn.ReLU()]
        w_in = w
    layers.append(nn.Linear(w_in, 1))
    return nn.Sequential(*layers).double()


def scaling(dims: tuple[int, ...], widths: tuple[int, ...], time_limit: float) -> None:
    """Part 1: print seconds and gaps against ReLUs, input dimension and tightening."""
    print(f"\n## Scaling: two hidden layers of ReLUs on [-1, 1]^d, time limit {time_limit:g} s, mip_gap 1e-4\n")
    print("| d | ReLUs | tightening | binaries | seconds | status | gap |")
    print("|---|---|---|---|---|---|---|")
    for d in dims:
        for tighten in (True, False):
            timed_out = False
            for width in widths:
                relus = 2 * width
                label = "LP" if tighten else "interval"
                if timed_out:
                    print(f"| {d} | {relus} | {label} | | | skipped (a smaller net timed out) | |")
                    continue
                objective = ivd.Objective(relu_net(d, (width, width), seed=d * 1000 + width), ivd.Box(-1.0, 1.0, dim=d))
                t0 = time.perf_counter()
                result = ivd.minimize(objective, "milp", time_limit=time_limit, tighten=tighten)
                seconds = time.perf_counter() - t0
                binaries = result.message.split(" binaries")[0].rsplit(" ", 1)[-1]
                timed_out = result.status is not ivd.Status.CONVERGED
                print(f"| {d} | {relus} | {label} | {binaries} | {seconds:.1f} | {result.status.value} | {result.gap:.3g} |", flush=True)


def surrogates(tasks: tuple[str, ...], time_limit: float, epochs: int | None) -> None:
    """Part 2: gd, lbfgs, cmaes and milp on each task's ReLU surrogate, their gaps to the certified optimum."""
    print(f"\n## Benchmark surrogates (ReLU recipe), milp and certify time limit {time_limit:g} s\n")
    print("| task | solver | best energy | certified optimum | gap | seconds |")
    print("|---|---|---|---|---|---|")
    for name in tasks:
        task = ivd.tasks.get(name)
        X, Y = task.make_offline_data(seed=0)
        model, _ = task.relu_surrogate.fit(X, Y, seed=0, epochs=epochs)
        objective = ivd.Objective(model.double(), task.space)
        runs = {
            "gd": dict(n_restarts=64, max_iter=500, seed=0),
            "lbfgs": dict(n_restarts=64, max_iter=200, seed=0),
            "cmaes": dict(max_evals=4000, seed=0),
        }
        results = {solver: ivd.minimize(objective, solver, **options) for solver, options in runs.items()}
        designs = torch.stack([r.x for r in results.values()])
        certificate = ivd.certify(objective, designs, time_limit=time_limit)
        milp = certificate.result
        optimum = f"{certificate.optimum:.6g}" + ("" if certificate.certified else f" (bound {certificate.bound:.6g})")
        for (solver, result), gap in zip(results.items(), certificate.gaps.tolist()):
            print(f"| {name} | {solver} | {result.fun:.6g} | {optimum} | {gap:.3g} | {result.runtime:.1f} |")
        print(f"| {name} | milp | {milp.fun:.6g} | {optimum} | {milp.gap:.3g} (to its bound) | {milp.runtime:.1f} |", flush=True)


def against_local_search(dims: tuple[int, ...], networks: tuple[tuple[int, ...], ...], time_limit: float) -> None:
    """Part 3: milp's optimum and bound beside the best of 10,000 lbfgs restarts on random ReLU networks.

    A certified optimum must be at most the best local design + 1e-6; a run stopped by the time
    limit certifies only its bound, which must be at most the best local design.
    """
    print(f"\n## Against {LBFGS_RESTARTS:,} lbfgs restarts, milp time limit {time_limit:g} s, mip_gap 1e-6\n")
    print("| d | hidden | milp design | milp bound | status | milp s | best lbfgs | lbfgs s | holds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d in dims:
        for widths in networks:
            objective = ivd.Objective(relu_net(d, widths, seed=d + 7 * len(widths) + widths[0]), ivd.Box(-1.0, 1.0, dim=d))
            milp = ivd.minimize(objective, "milp", time_limit=time_limit, mip_gap=1e-6)
            lbfgs = ivd.minimize(objective, "lbfgs", n_restarts=LBFGS_RESTARTS, seed=0)
            assert milp.bound is not None
            if milp.status is ivd.Status.CONVERGED:
                verdict = "yes (optimum <= lbfgs + 1e-6)" if milp.fun <= lbfgs.fun + 1e-6 else "NO"
            else:
                verdict = "yes (bound <= lbfgs; not certified)" if milp.bound <= lbfgs.fun else "NO"
            hidden = "x".join(map(str, widths))
            print(
                f"| {d} | {hidden} | {milp.fun:.10g} | {milp.bound:.10g} | {milp.status.value} | {milp.runtime:.1f} "
                f"| {lbfgs.fun:.10g} | {lbfgs.runtime:.1f} | {verdict} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run: fewer sizes, 10 s limits, two tasks")
    args = parser.parse_args()
    ivd.solvers.available()
    if args.quick:
        scaling((2, 5), WIDTHS[:3], time_limit=10.0)
        surrogates(("branin", "mixed"), time_limit=10.0, epochs=40)
        against_local_search((2,), NETWORKS[:2], time_limit=10.0)
    else:
        scaling(DIMS, WIDTHS, time_limit=60.0)
        surrogates(TASKS, time_limit=60.0, epochs=None)
        against_local_search(DIMS, NETWORKS, time_limit=60.0)


if __name__ == "__main__":
    main()
