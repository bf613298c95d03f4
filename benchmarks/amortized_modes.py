"""Does the amortized generator find several minima, or collapse onto one? Branin's three, over seeds.

The energy is Branin itself (``ivd.tasks.get("branin").objective()``: the oracle, which is pure
torch and differentiable, so no surrogate error enters), minimum 0.397887 at (-pi, 12.275),
(pi, 2.275) and (9.42478, 2.475) in ``[-5, 10] x [0, 15]``. Each method returns 128 designs:

- ``gd``: 128 restarts from Sobol points (default options);
- ``amortized``: a generator trained on batches of 128 with the diversity bonus (default options:
  the diversity annealed from high, the designs polished by 100 gd steps);
- ``amortized``, ``diversity=0``: the same without the bonus.

A minimum counts as found when a returned design lies within 0.05 of it in unit-cube distance
(0.75 in Branin's units); the "strict" column also asks that design's energy to be within 0.1
of the minimum. ``count_modes`` (single linkage at 0.1) and the mean pairwise distance
(`invdesign.diversity`, unit-cube coordinates) describe the spread of all 128 designs.

Claim, for every seed: the generator with the diversity bonus finds at least as many minima as
128-restart ``gd``, and without the bonus it finds fewer than with it. The process exits with
status 1 if the claim fails.

Run: ``python benchmarks/amortized_modes.py`` (a few minutes on one CPU core).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch

import invdesign as ivd
from invdesign.diversity import count_modes, mean_pairwise_distance

MINIMA = ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475))
MINIMUM = 0.397887
NEAR = 0.05  # unit-cube distance
STRICT = 0.1  # energy above the minimum
METHODS = {
    "gd": ("gd", {}),
    "amortized": ("amortized", {}),
    "amortized, diversity=0": ("amortized", {"diversity": 0.0}),
}
SIZE = {"gd": "n_restarts", "amortized": "batch_size"}
"""The option that sets how many designs each method returns."""


def minima_found(result: ivd.Result, space: ivd.Box) -> tuple[int, int]:
    """How many of the minima have a design within ``NEAR``; and with energy within ``STRICT`` too."""
    distance = torch.cdist(space.to_unit(torch.tensor(MINIMA, dtype=result.X.dtype)), space.to_unit(result.X))
    near = distance < NEAR
    good = near & (result.F - MINIMUM < STRICT)
    return int(near.any(dim=1).sum()), int(good.any(dim=1).sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. seeds-1")
    parser.add_argument("--designs", type=int, default=128)
    args = parser.parse_args()
    start = time.perf_counter()

    task = ivd.tasks.get("branin")
    objective = task.objective()
    space = task.space
    print(f"Branin (the oracle as the energy), {args.designs} designs per run; torch threads: {torch.get_num_threads()}")
    print("| seed | method | minima found | strict | count_modes | mean pairwise distance | best energy | seconds |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    found: dict[str, list[int]] = {name: [] for name in METHODS}
    for seed in range(args.seeds):
        for name, (method, options) in METHODS.items():
            t0 = time.perf_counter()
            result = ivd.minimize(objective, method, seed=seed, **{SIZE[method]: args.designs}, **options)
            seconds = time.perf_counter() - t0
            near, strict = minima_found(result, space)
            found[name].append(near)
            print(
                f"| {seed} | {name} | {near} of 3 | {strict} of 3 | {count_modes(result.X, space)} | "
                f"{mean_pairwise_distance(result.X, space):.3f} | {result.fun:.4f} | {seconds:.1f} |",
                flush=True,
            )
            if name == "amortized" and seed == 0:
                generator = result.generator

    t0 = time.perf_counter()
    generator.sample(10_000, seed=1)
    serve_ms = (time.perf_counter() - t0) * 1e3
    print(f"\nThe trained generator (seed 0) serves 10,000 more designs in one forward pass in {serve_ms:.1f} ms.")
    at_least_gd = all(a >= g for a, g in zip(found["amortized"], found["gd"]))
    collapses = all(n < a for n, a in zip(found["amortized, diversity=0"], found["amortized"]))
    print(f"{'PASS' if at_least_gd else 'FAIL'}  with the diversity bonus, minima found >= gd's in every seed: "
          f"{found['amortized']} vs {found['gd']}")
    print(f"{'PASS' if collapses else 'FAIL'}  without it, fewer than with it in every seed: "
          f"{found['amortized, diversity=0']} vs {found['amortized']}")
    print(f"total run time {time.perf_counter() - start:.0f} s")
    return 0 if at_least_gd and collapses else 1


if __name__ == "__main__":
    sys.exit(main())
