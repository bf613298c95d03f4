"""The ``invdesign`` command line."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor


def _demo(args: argparse.Namespace) -> int:
    from invdesign import tasks
    from invdesign.demo import format_table, run_demo

    start = time.perf_counter()
    rows = []
    for name in args.tasks:
        rows += run_demo(
            tasks.get(name),
            n_train=args.n_train,
            n_restarts=args.n_restarts,
            methods=tuple(args.methods),
            seed=args.seed,
            epochs=args.epochs,
            progress=not args.quiet,
        )
    print(format_table(rows))
    print(
        "\nsurrogate energy: what the solver minimized; oracle: the task's true simulator on the same design "
        "(value, or squared error to the target). A gap between them is surrogate error the solver exploited."
    )
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from invdesign import benchmark

    suite = benchmark.SUITES[args.suite]
    chosen_tasks = args.tasks or list(suite.tasks)
    chosen_solvers = args.solvers or list(suite.solvers)
    seeds = args.seeds or [suite.seeds]
    seeds = seeds[0] if len(seeds) == 1 else seeds
    print(f"invdesign bench: suite {suite.name!r}, tasks {', '.join(chosen_tasks)}; solvers {', '.join(chosen_solvers)}; "
          f"seeds {seeds}; output folder {args.out}")
    if args.workers and args.scheduler:
        raise ValueError("give --workers (an embedded Dask cluster) or --scheduler (a running one), not both")
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, _executor(args) as executor:
        warnings.simplefilter("always")
        table = benchmark.run(
            chosen_tasks, chosen_solvers, seeds, out=args.out, progress=not args.quiet, executor=executor,
            threads=1 if args.workers else None, **suite.settings,
        )
    if "error" in table.columns:  # cells whose workers died for good (a rerun with the same --out runs them again)
        failed = table[table["error"].notna()]
        table = table[table["error"].isna()].dropna(axis=1, how="all")
        print(f"\n{len(failed)} cells failed; rerun with the same --out to run them again:")
        for row in failed.itertuples():
            print(f"  {row.task} / {row.solver} / seed {row.seed}: {row.error}")
    print()
    print(benchmark.markdown(table))
    store = benchmark.ResultStore(args.out)
    records = [store.records[f"{r.task}|{r.solver}|{r.seed}"] for r in table.itertuples()]
    paths = benchmark.save_plots(records, args.out)
    print(
        "\nscore: (y_max - y) / (y_max - y_min) over each task's reference sample, 1 = the best reference design; "
        "D(best): the best training design's score; gap: the exploitation gap, mean over the returned designs of the "
        "oracle's energy minus the searched model's prediction (positive: the model was optimistic; normalised like "
        "the score for minimize tasks); abs gap: the mean of its absolute value."
    )
    if caught:
        kinds = Counter(f"{w.category.__name__}: {str(w.message).splitlines()[0][:90]}" for w in caught)
        print(f"\n{len(caught)} warnings were raised during the runs (GP fits and acquisition optimization, mostly), most common:")
        for text, n in kinds.most_common(3):
            print(f"  {n} x {text}")
    print(f"\nresults: {store.csv_path}, {store.json_path}")
    print(f"plots: {', '.join(str(p) for p in paths)}")
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0


def _executor(args: argparse.Namespace) -> contextlib.AbstractContextManager[Executor | None]:
    """Where ``bench`` runs its cells: an embedded Dask cluster (``--workers``), a running one
    (``--scheduler``), or here (neither)."""
    from invdesign import cluster

    if args.workers:
        return cluster.local_cluster(args.workers)
    if args.scheduler:
        return cluster.connect(args.scheduler)
    return contextlib.nullcontext()


_COMMANDS = {
    "demo": "train a surrogate on each built-in task, search it, re-simulate the designs with the oracle",
    "bench": "run a benchmark suite: solvers x tasks x seeds, every design re-simulated by the oracle; tables, CSV, JSON, plots",
}


def _count(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = _natural(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _natural(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _top_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(prog="invdesign", description="Inverse design against learned models.")
    return parser, parser.add_subparsers(dest="command", required=True)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand (it imports the tasks, solvers and benchmark for their names)."""
    from invdesign import solvers, tasks

    parser, sub = _top_parser()
    demo = sub.add_parser("demo", help=_COMMANDS["demo"])
    demo.add_argument("--tasks", nargs="+", default=["robot_arm", "sine", "branin", "hartmann6"], choices=tasks.names())
    demo.add_argument("--methods", nargs="+", default=["gd", "lbfgs"], choices=solvers.available(), help="solvers by name (minimize's method)")
    demo.add_argument("--n-train", type=_count, default=4000, help="training designs per task")
    demo.add_argument("--n-restarts", type=_count, default=128, help="restarts of solvers with restarts (minimize's n_restarts)")
    demo.add_argument("--epochs", type=_count, default=300, help="surrogate training epochs")
    demo.add_argument("--seed", type=_natural, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(run=_demo)

    from invdesign.benchmark import CONFIGS, SUITES

    bench = sub.add_parser("bench", help=_COMMANDS["bench"])
    bench.add_argument(
        "--suite", default="quick", choices=list(SUITES),
        help="; ".join(f"{s.name}: {s.description}" for s in SUITES.values()),
    )
    bench.add_argument("--tasks", nargs="+", choices=tasks.names(), help="tasks (default: the suite's)")
    bench.add_argument(
        "--solvers", nargs="+", choices=list(CONFIGS),
        help="solver configurations, as benchmark.run's solvers (default: the suite's)",
    )
    bench.add_argument(
        "--seeds", nargs="+", type=_natural,
        help="one number n for seeds 0..n-1, or several seeds (default: the suite's number)",
    )
    bench.add_argument("--out", default="bench-out", help="output folder; a rerun with the same folder resumes (default: bench-out)")
    bench.add_argument(
        "--workers", type=_count,
        help="run the cells on an embedded Dask cluster of this many single-threaded worker processes (the [dask] extra)",
    )
    bench.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="run the cells on a running Dask cluster (tcp://host:port); --out must be a folder its workers share",
    )
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.set_defaults(run=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``invdesign`` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        # The top-level help names the commands only: it needs neither torch nor the registries.
        parser, sub = _top_parser()
        for name, text in _COMMANDS.items():
            sub.add_parser(name, help=text)
        parser.parse_args(argv)
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, TypeError, OSError, ImportError) as error:
        # The toolkit's words for a bad input or file: one line, like argparse's own errors.
        if os.environ.get("INVDESIGN_TRACEBACK"):
            raise
        message = " ".join(str(error).split())
        print(f"invdesign {args.command}: error: {message} (INVDESIGN_TRACEBACK=1 shows where)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
