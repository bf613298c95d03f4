"""Parallel work on Dask: a benchmark sweep on 2 workers, and bo with a slow oracle on 8 (the ``[dask]`` extra).

1. **Sweep**: the quick suite of ``invdesign bench`` (its tasks, solvers, seeds and settings),
   run serially and on an embedded Dask cluster of 2 single-threaded workers
   (`invdesign.cluster.local_cluster`, its start-up counted), each into a fresh output folder so
   both train their own surrogates. Printed: both wall times and their ratio; the two tables are
   checked to hold the same numbers (wall times aside).
2. **Slow oracle**: Branin whose evaluation sleeps ``--sleep`` seconds (0.2) per design, searched
   by ``bo`` with ``q=8`` (8 Sobol designs, then 5 rounds of 8; acquisition from 64 raw samples, 2
   restarts of at most 50 L-BFGS-B iterations). Serially each design is evaluated in turn; on
   8 workers each round's 8 designs at once, synchronously (the designs checked to be the serial
   run's) and asynchronously (as soon as some come back, one ask for as many designs as workers
   are free, those still running pending: BoTorch's ``X_pending``). Both sides are warmed up first by an untimed 16-design run. Printed
   beside the speed-up: the driver's own time (GP fits and acquisition optimisation, which no
   worker can take over in a synchronous run) and the speed-up it allows at most (Amdahl).

Claims (exit status 1 if one fails): the sweep on 2 workers takes at most 0.65x the serial wall
time; bo on 8 workers is at least 5x faster than serially. Every figure is measured in this run.

Run: ``python benchmarks/parallel.py`` (about 20 minutes on 2 CPU cores, most of it the serial
sweep); ``--tasks branin --seeds 1`` for a quick look.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import torch

import invdesign as ivd
from invdesign import benchmark, cluster

SWEEP_RATIO = 0.65
BO_SPEEDUP = 5.0
BO = {"q": 8, "n_init": 8, "num_restarts": 2, "raw_samples": 64, "acq_maxiter": 50}
"""The bo run of the slow-oracle comparison (``max_evals`` 48: the Sobol design and 5 rounds)."""
WORKERS = 8
BRANIN = ivd.tasks.get("branin")


def slow_branin(x: torch.Tensor, sleep: float) -> torch.Tensor:
    """Branin of designs ``x`` ``(b, 2)``, shape ``(b,)``, after ``sleep`` seconds per design: a simulator's cost."""
    time.sleep(sleep * x.shape[0])
    return BRANIN.oracle(x).reshape(-1)


def sweep(tasks: list[str], seeds: int) -> bool:
    suite = benchmark.SUITES["quick"]
    solvers = list(suite.solvers)
    print(f"sweep: quick suite, tasks {', '.join(tasks)}; {len(solvers)} solvers; {seeds} seeds", flush=True)
    tables, seconds = {}, {}
    for mode in ("serial", "2 workers"):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            if mode == "serial":
                tables[mode] = benchmark.run(tasks, solvers, seeds, out=out, progress=False, **suite.settings)
            else:
                with cluster.local_cluster(2) as executor:
                    tables[mode] = benchmark.run(
                        tasks, solvers, seeds, out=out, progress=False, executor=executor, threads=1, **suite.settings
                    )
            seconds[mode] = time.perf_counter() - start
        print(f"  {mode}: {len(tables[mode])} cells in {seconds[mode]:.1f} s", flush=True)
    key = ["task", "solver", "seed"]
    a, b = (t.drop(columns="seconds").sort_values(key).reset_index(drop=True) for t in tables.values())
    same = a.equals(b)
    if not same:
        differ = (a.ne(b) & ~(a.isna() & b.isna())).any(axis=1)
        print(f"  cells whose numbers differ: {sorted(set(a.loc[differ, 'solver']))}", flush=True)
    ratio = seconds["2 workers"] / seconds["serial"]
    ok = same and ratio <= SWEEP_RATIO
    print(f"  {'the same table, every number (wall times aside)' if same else 'the tables DIFFER'}; 2 workers take "
          f"{ratio:.2f}x the serial time (claim: at most {SWEEP_RATIO}) {'PASS' if ok else 'FAIL'}", flush=True)
    return ok


def slow_oracle(sleep: float) -> bool:
    objective = ivd.Objective(lambda x: slow_branin(x, sleep), BRANIN.space.to(torch.float64))
    print(f"slow oracle: Branin, {sleep} s per design; bo {BO}, 48 designs", flush=True)
    runs, seconds = {}, {}
    with cluster.local_cluster(WORKERS) as executor:
        for executor_or_none in (None, executor):  # warm-up, untimed: imports and first fits in the driver and workers
            ivd.minimize(objective, "bo", max_evals=16, seed=1, executor=executor_or_none, **BO)
        for mode in ("serial", f"{WORKERS} workers", f"{WORKERS} workers, asynchronous"):
            parallel = mode != "serial"
            start = time.perf_counter()
            runs[mode] = ivd.minimize(
                objective, "bo", max_evals=48, seed=0, executor=executor if parallel else None,
                asynchronous=mode.endswith("asynchronous"), **BO,
            )
            seconds[mode] = time.perf_counter() - start
            print(f"  {mode}: {seconds[mode]:.1f} s, best {runs[mode].fun:.4f} (Branin's minimum 0.3979)", flush=True)
    same = torch.equal(runs["serial"].X, runs[f"{WORKERS} workers"].X)
    speedup = seconds["serial"] / seconds[f"{WORKERS} workers"]
    ok = same and speedup >= BO_SPEEDUP
    asks = seconds["serial"] - 48 * sleep
    rounds = 48 // BO["q"]
    print(f"  synchronous on {WORKERS} workers: the serial designs {'exactly' if same else 'NOT'}; "
          f"{speedup:.1f}x faster (claim: at least {BO_SPEEDUP}x) {'PASS' if ok else 'FAIL'}; "
          f"asynchronous {seconds['serial'] / seconds[f'{WORKERS} workers, asynchronous']:.1f}x", flush=True)
    print(f"  the driver's own work (GP fits and acquisition, serial time less the oracle's {48 * sleep:.1f} s): "
          f"{asks:.1f} s; with free parallel evaluation ({rounds} rounds of {sleep} s) the speed-up could be at most "
          f"{seconds['serial'] / (asks + rounds * sleep):.1f}x", flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(benchmark.SUITES["quick"].tasks))
    parser.add_argument("--seeds", type=int, default=benchmark.SUITES["quick"].seeds)
    parser.add_argument("--sleep", type=float, default=0.2, help="seconds per design of the slow oracle")
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads in the driver", flush=True)
    ok = slow_oracle(args.sleep)
    if not args.skip_sweep:
        ok = sweep(args.tasks, args.seeds) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
