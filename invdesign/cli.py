"""The ``invdesign`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from invdesign import solvers, tasks


def _demo(args: argparse.Namespace) -> int:
    from invdesign.demo import format_table, run_demo

    start = time.perf_counter()
    rows = []
    for name in args.tasks:
        rows += run_demo(
            tasks.get(name),
            n_train=args.n_train,
            n_restarts=args.restarts,
            solvers=tuple(args.solvers),
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="invdesign", description="Inverse design against learned models.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="train a surrogate on each built-in task, search it, re-simulate the designs with the oracle",
    )
    demo.add_argument("--tasks", nargs="+", default=["robot_arm", "sine", "branin", "hartmann6"], choices=tasks.names())
    demo.add_argument("--solvers", nargs="+", default=["gd", "lbfgs"], choices=solvers.available())
    demo.add_argument("--n-train", type=int, default=4000, help="training designs per task")
    demo.add_argument("--restarts", type=int, default=128, help="restarts per solver")
    demo.add_argument("--epochs", type=int, default=300, help="surrogate training epochs")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``invdesign`` command."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
