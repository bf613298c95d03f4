"""Bayesian optimization on Branin in black-box mode: ``bo`` against ``random`` at 40 evaluations.

The objective is Branin itself (``ivd.tasks.get("branin")``'s oracle, minimum 0.397887 at three
points of ``[-5, 10] x [0, 15]``), evaluated as a black box: each method gets the same number of
evaluations, and the best value each seed reaches is compared with the minimum.

Claim: ``bo`` (default options: 6 Sobol points, then one qLogEI point per round) gets within 0.05
of the minimum in at least 4 of 5 seeds, and ``random`` (Sobol search) does not on average.
The process exits with status 1 if the claim fails.

Run: ``python benchmarks/bo_branin.py`` (a few minutes on 2 CPU cores); ``--seeds 2`` for a quick look.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

import invdesign as ivd

OPTIMUM = 0.397887
WITHIN = 0.05


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. seeds-1")
    parser.add_argument("--max-evals", type=int, default=40)
    parser.add_argument("--need", type=int, default=None, help="seeds bo must get within 0.05 (default: all but one)")
    args = parser.parse_args()
    need = max(args.seeds - 1, 1) if args.need is None else args.need
    start = time.perf_counter()

    task = ivd.tasks.get("branin")
    objective = task.objective()  # black-box mode: the oracle itself
    methods = ("bo", "random")
    best: dict[str, list[float]] = {m: [] for m in methods}
    seconds: dict[str, float] = {m: 0.0 for m in methods}
    print(f"Branin, {args.max_evals} evaluations per run, minimum {OPTIMUM}; torch threads: {torch.get_num_threads()}")
    print(f"{'seed':>4}  {'bo best':>10}  {'random best':>12}")
    for seed in range(args.seeds):
        for method in methods:
            t0 = time.perf_counter()
            result = ivd.minimize(objective, method, seed=seed, max_evals=args.max_evals)
            seconds[method] += time.perf_counter() - t0
            best[method].append(result.fun)
        print(f"{seed:>4}  {best['bo'][-1]:>10.5f}  {best['random'][-1]:>12.5f}")

    within = {m: sum(b - OPTIMUM <= WITHIN for b in best[m]) for m in methods}
    mean_gap = {m: statistics.mean(best[m]) - OPTIMUM for m in methods}
    print()
    print(f"{'method':<8} {'mean best':>10} {'mean gap':>10} {'seeds within 0.05':>18} {'seconds':>9}")
    for m in methods:
        print(
            f"{m:<8} {statistics.mean(best[m]):>10.5f} {mean_gap[m]:>10.5f} "
            f"{within[m]:>12} of {args.seeds:<3} {seconds[m]:>9.1f}"
        )
    holds = within["bo"] >= need and mean_gap["random"] > WITHIN
    print()
    print(
        f"{'PASS' if holds else 'FAIL'}  bo within {WITHIN} of the minimum in >= {need} of {args.seeds} seeds "
        f"({within['bo']}), random not on average (mean gap {mean_gap['random']:.3f})"
    )
    print(f"total run time {time.perf_counter() - start:.1f} s")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
