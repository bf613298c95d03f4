"""Precision after the polish: the amortized solver's best surrogate energy against ``gd``'s on Hartmann6 and Ackley-10.

The benchmark's offline protocol (`invdesign.benchmark.run`): per task and seed, draw the task's
data, train its surrogate, search it. Rows: ``gd`` (the benchmark's row: 128 restarts from the
best training designs, 300 steps) and ``amortized`` with its defaults (2,000 training steps, a
batch of 256, the mode-seeking schedule, the 100-step ``gd`` polish) and the same without the
polish (``polish=0``) to show what the polish does. Each returns its 128 best designs; the
figure compared is the surrogate's energy of the design each ranks first (``surrogate_top1``).

Claim (the process exits with status 1 if it fails): in every seed the polished amortized
solver's best surrogate energy is at most gd's plus ``1e-4 * |gd's|``.

Run: ``python benchmarks/amortized_polish.py`` (results go to ``--out``; a killed run resumes).
"""

from __future__ import annotations

import argparse
import sys
import time

from invdesign import benchmark
from invdesign.benchmark import CONFIGS, SolverConfig
from invdesign.solvers import make

ROWS = (
    CONFIGS["gd"],
    SolverConfig(name="amortized", solver=make("amortized"), description="the amortized generator with its defaults"),
    SolverConfig(name="amortized, polish=0", solver=make("amortized", polish=0), description="the same without the polish"),
)
TOLERANCE = 1e-4
"""The relative margin by which the amortized solver's best energy may exceed gd's."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["hartmann6", "ackley10"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="bench-out/amortized_polish")
    args = parser.parse_args()
    start = time.perf_counter()
    table = benchmark.run(args.tasks, list(ROWS), args.seeds, out=args.out, k=128)
    best = table.pivot_table(index=["task", "seed"], columns="solver", values="surrogate_top1")
    seconds = table.pivot_table(index="task", columns="solver", values="seconds")
    names = [r.name for r in ROWS]
    print("best surrogate energy of the returned designs (the design each ranks first)")
    print("| task | seed | " + " | ".join(names) + " | amortized - gd, relative to gd | within 1e-4 |")
    print("|---|---:|" + "---:|" * len(names) + "---:|---|")
    holds = True
    for (task, seed), row in best.iterrows():
        relative = (row["amortized"] - row["gd"]) / abs(row["gd"])
        ok = bool(relative <= TOLERANCE)
        holds &= ok
        cells = " | ".join(f"{row[n]:.8g}" for n in names)
        print(f"| {task} | {seed} | {cells} | {relative:+.2e} | {'PASS' if ok else 'FAIL'} |")
    print("\nsearch seconds per cell (mean over seeds):")
    print(seconds[names].round(2).to_string())
    print(f"\n{'PASS' if holds else 'FAIL'}  in every seed the polished amortized solver's best surrogate energy is within "
          f"{TOLERANCE:g} (relative) of gd's, or lower")
    print(f"total run time {time.perf_counter() - start:.0f} s")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
