"""Import cost of invdesign against torch's, and the command line's ``--help``, measured side by side in one run.

Claims (the process exits with status 1 if one fails):

1. Loading the core (``import invdesign`` and touching ``Box``, ``Space``, ``Objective``, ``minimize``,
   ``Result``) costs at most 1.3x ``import torch``: torch plus a light layer, without BoTorch, cma,
   matplotlib, scikit-learn or the benchmark.
2. ``invdesign --help`` returns in at most 1 s (it imports neither torch nor the registries).

Each side runs in a fresh interpreter, ``--repeats`` times, interleaved; medians are reported.

Run: ``python benchmarks/import_time.py`` (under a minute).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CORE = "import invdesign as ivd; ivd.Box; ivd.Space; ivd.Objective; ivd.minimize; ivd.Result"


def seconds(command: list[str]) -> float:
    """Wall time of one run of ``command`` in a fresh process."""
    t0 = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    cli = str(Path(sys.executable).with_name("invdesign"))
    sides = {
        "import torch": [sys.executable, "-c", "import torch"],
        "invdesign core": [sys.executable, "-c", CORE],
        "invdesign --help": [cli, "--help"] if os.path.exists(cli) else [sys.executable, "-m", "invdesign.cli", "--help"],
        "python alone": [sys.executable, "-c", "pass"],
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, command in sides.items():
            times[name].append(seconds(command))
    median = {name: statistics.median(ts) for name, ts in times.items()}
    for name, ts in times.items():
        print(f"{name:<18} median {median[name]:.3f} s  [{min(ts):.3f} .. {max(ts):.3f}]")
    ratio = median["invdesign core"] / median["import torch"]
    claims = [
        (f"1. core / import torch = {ratio:.2f} (<= 1.3)", ratio <= 1.3),
        (f"2. invdesign --help = {median['invdesign --help']:.3f} s (<= 1 s)", median["invdesign --help"] <= 1.0),
    ]
    for text, ok in claims:
        print(f"{text}: {'PASS' if ok else 'FAIL'}")
    return 0 if all(ok for _, ok in claims) else 1


if __name__ == "__main__":
    sys.exit(main())
