"""Coverage of narrow separated wells: the amortized generator against 128-restart gd, with and without its diversity term.

The narrow-wells tasks (`invdesign.tasks.wells`: five Gaussian wells of depth 1.0 to 0.97 in
``[0, 1]^d``, width 6% of the box in 2-d, growing with the dimension) in 2, 4 and 8 dimensions,
3 seeds each, in the benchmark's offline protocol: draw the task's data, train its surrogate,
search it, judge the 128 returned designs with the oracle. A well is covered when a returned design
lies within two widths of its centre (the ``design_basins`` column, the oracle's verdict);
``n_modes`` is the basin count of the searched surrogate (`invdesign.diversity.count_basins`).

Rows: ``gd`` (128 restarts from the best training designs), ``amortized`` with its defaults (the
mode-seeking schedule and a 100-step gd polish) but batches of 128, so that it returns all of its
last batch, and the same with ``diversity=0``.

Claims (the process exits with status 1 if one fails):
1. in every seed the amortized solver covers at least 80% of the wells gd covers;
2. in every seed it covers strictly more wells than the same solver with the diversity term off.

Run: ``python benchmarks/amortized_wells.py`` (results go to ``--out``; a killed run resumes).
"""

from __future__ import annotations

import argparse
import sys
import time

from invdesign import benchmark
from invdesign.benchmark import SolverConfig
from invdesign.solvers import make
from invdesign.tasks.wells import DIMENSIONS

ROWS = (
    SolverConfig(name="gd", solver=make("gd"), n_restarts=128, description="gd from the 128 best training designs"),
    SolverConfig(name="amortized", solver=make("amortized", batch_size=128), description="the amortized generator, defaults"),
    SolverConfig(name="amortized, no diversity", solver=make("amortized", batch_size=128, diversity=0.0), description="diversity=0"),
)
SHARE = 0.8
"""The share of gd's wells the amortized solver must cover in every seed."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", nargs="+", type=int, default=list(DIMENSIONS), choices=list(DIMENSIONS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="bench-out/amortized_wells")
    args = parser.parse_args()
    start = time.perf_counter()
    tasks = [f"narrow_wells{d}" for d in args.dims]
    table = benchmark.run(tasks, list(ROWS), args.seeds, out=args.out, k=128)
    wells = table.pivot_table(index=["task", "seed"], columns="solver", values="design_basins")
    modes = table.pivot_table(index=["task", "seed"], columns="solver", values="n_modes")
    seconds = table.pivot_table(index="task", columns="solver", values="seconds")
    names = [r.name for r in ROWS]
    print("| task | seed | " + " | ".join(f"{n}: wells (basins)" for n in names) + " | >= 80% of gd | more than no diversity |")
    print("|---|---:|" + "---:|" * len(names) + "---|---|")
    holds = True
    for (task, seed), row in wells.iterrows():
        enough = row["amortized"] >= SHARE * row["gd"]
        more = row["amortized"] > row["amortized, no diversity"]
        holds &= bool(enough and more)
        cells = " | ".join(f"{row[n]:.0f} ({modes.loc[(task, seed), n]:.0f})" for n in names)
        print(f"| {task} | {seed} | {cells} | {'PASS' if enough else 'FAIL'} | {'PASS' if more else 'FAIL'} |")
    print("\nsearch seconds per cell (mean over seeds):")
    print(seconds[names].round(2).to_string())
    print(f"\n{'PASS' if holds else 'FAIL'}  in every seed the amortized solver covers at least {SHARE:.0%} of the wells gd "
          "covers, and more than with its diversity term off")
    print(f"total run time {time.perf_counter() - start:.0f} s")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
