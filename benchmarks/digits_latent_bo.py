"""Latent Bayesian optimization on real handwritten digits, beside latent gradient descent at equal wall time.

For each seed: split scikit-learn's digits in two halves, train the surrogate classifier and a VAE
(latent dimension 8) on half A and the oracle classifier (a conv net) on half B, as
``benchmarks/digits_latent.py`` does. The "looks like a 3" score ``sum_c p(c|x) exp(-2 (c-3)^2)``
of a decoded image is close to 1 for many codes, so the energy is the log of the surrogate's
doubt, ``log(1 - score)`` (computed without cancellation: the same ranking, resolved near the
optimum), searched over the VAE's latent box ``[-3, 3]^8``:

- latent bo: ``method="bo"`` with 100 evaluations (a Sobol initial design of ``2 (d + 1) = 18``
  codes, then one qLogEI point per round);
- latent gd: ``method="gd"`` from the same 18 Sobol codes (``Box.sample(18, seed)``, bo's
  initial design), stopped by a callback when it has run as long as bo did (or when it converges).

The design each run returns (its best by the surrogate) is re-simulated by the oracle, and its
doubt (``1 - score``) by both classifiers is reported, geometric mean over seeds. The reference is
the initial design: its best code by the surrogate (what the run knew before any model-based round)
and its best code by the oracle (the most the initial design holds). The oracle's doubt of bo's
best-so-far design is printed at a few budgets.

Claim: latent bo lowers the oracle's doubt below that of the initial design's best code (by the
oracle) within 100 evaluations, in every seed. The process exits with status 1 if
the claim fails.

Run: ``python benchmarks/digits_latent_bo.py`` (a few minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import invdesign as ivd
from invdesign.solvers.bo import default_n_init
from invdesign.tasks.digits import make_digits

TRACE_AT = (18, 25, 50, 75, 100)
"""Evaluation counts at which bo's best-so-far oracle score is printed."""


def stop_after(seconds: float) -> ivd.solvers.base.Callback:
    """A callback that ends a run once it has taken ``seconds``."""

    def callback(progress: ivd.Progress) -> None:
        if progress.elapsed >= seconds:
            raise StopIteration

    return callback


def run_seed(seed: int, args: argparse.Namespace) -> tuple[dict[str, dict[str, float]], dict[int, float], dict[str, torch.Tensor]]:
    """bo and gd on one seed.

    Returns:
        Per row its oracle doubt, surrogate doubt, nearest-real distance, evaluations and seconds;
        the oracle's doubt of bo's best-so-far design after each evaluation count in ``TRACE_AT``;
        the images of each row's design.
    """
    digits = make_digits(seed)
    vae = ivd.models.VAE((1, 8, 8), latent_dim=args.latent_dim, data_range=(0.0, 16.0))
    ivd.models.fit_vae(vae, digits.images[digits.half_a], epochs=args.vae_epochs, seed=seed, progress=False)
    latent_box = ivd.Box(-args.latent_bound, args.latent_bound, dim=args.latent_dim, dtype=torch.float32)
    objective = ivd.Objective(digits.energy(log_doubt=True), latent_box, decoder=vae)
    n_init = default_n_init(args.latent_dim)

    trace: dict[int, float] = {}

    def record(progress: ivd.Progress) -> None:
        trace[progress.nfev] = float(digits.doubts(progress.x.reshape(1, -1))[1][0])

    bo = ivd.minimize(objective, "bo", seed=seed, max_evals=args.max_evals, callback=record)
    gd = ivd.minimize(
        objective, "gd", n_restarts=n_init, max_iter=10**6, seed=seed, callback=stop_after(bo.runtime)
    )

    with torch.no_grad():
        initial = vae(latent_box.sample(n_init, seed=seed)).flatten(1)
    surrogate_doubt, oracle_doubt = digits.doubts(initial)
    by_surrogate, by_oracle = initial[torch.argmin(surrogate_doubt)], initial[torch.argmin(oracle_doubt)]
    designs = {
        "initial design, best by surrogate": (by_surrogate, n_init, 0.0),
        "initial design, best by oracle": (by_oracle, n_init, 0.0),
        "latent bo": (bo.x, bo.nfev, bo.runtime),
        "latent gd, same starts, bo's time": (gd.x, gd.nfev, gd.runtime),
    }
    table = {}
    for name, (x, nfev, seconds) in designs.items():
        image = x.reshape(1, 1, 8, 8)
        surrogate_doubt, oracle_doubt = digits.doubts(image)
        table[name] = {
            "oracle doubt": float(oracle_doubt[0]),
            "surrogate doubt": float(surrogate_doubt[0]),
            "nearest-real distance": float(digits.nearest_real_distance(image)[0]),
            "evaluations": float(nfev),
            "seconds": seconds,
        }
    bo_trace = {n: trace[max(k for k in trace if k <= n)] for n in TRACE_AT}
    return table, bo_trace, {name: x.reshape(1, 8, 8) for name, (x, _, _) in designs.items()}


def save_grid(rows: list[dict[str, torch.Tensor]], path: Path) -> None:
    """One column per design kind, one row per seed."""
    names = list(rows[0])
    fig, axes = plt.subplots(len(rows), len(names), figsize=(len(names) * 1.6, len(rows) * 1.5), squeeze=False)
    for r, designs in enumerate(rows):
        for c, name in enumerate(names):
            ax = axes[r][c]
            ax.imshow(designs[name][0].detach().cpu().numpy(), cmap="gray_r", vmin=0, vmax=16)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-evals", type=int, default=100)
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--latent-bound", type=float, default=3.0, help="latent box is [-b, b]^d")
    parser.add_argument("--vae-epochs", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)

    tables, traces, grids = [], [], []
    for seed in args.seeds:
        table, trace, designs = run_seed(seed, args)
        tables.append(table)
        traces.append(trace)
        grids.append(designs)
        row = table["latent bo"]
        print(f"seed {seed}: bo oracle doubt {row['oracle doubt']:.2e} in {row['seconds']:.1f} s; "
              f"initial design's best by the oracle {table['initial design, best by oracle']['oracle doubt']:.2e}", flush=True)

    metrics = list(tables[0]["latent bo"])
    print(f"\ndigits, latent box [-{args.latent_bound:g}, {args.latent_bound:g}]^{args.latent_dim}, "
          f"doubt = 1 - 'looks like a 3' score (0 is best), geometric mean over seeds {args.seeds}; "
          f"other columns mean +- std")
    print("| design | " + " | ".join(metrics) + " |")
    print("|---|" + "---:|" * len(metrics))
    for name in tables[0]:
        cells = []
        for k in metrics:
            values = [t[name][k] for t in tables]
            if k.endswith("doubt"):
                cells.append(f"{statistics.geometric_mean(values):.2e}")
            else:
                cells.append(f"{statistics.mean(values):.4g} +- {statistics.pstdev(values):.1g}")
        print(f"| {name} | " + " | ".join(cells) + " |")

    print("\nlatent bo, the oracle's doubt of the best-so-far design (by the surrogate) after n evaluations:")
    print("| n | " + " | ".join(str(n) for n in TRACE_AT) + " |")
    print("|---|" + "---:|" * len(TRACE_AT))
    print("| geometric mean | " + " | ".join(f"{statistics.geometric_mean(t[n] for t in traces):.2e}" for n in TRACE_AT) + " |")

    reference = [t["initial design, best by oracle"]["oracle doubt"] for t in tables]
    achieved = [t["latent bo"]["oracle doubt"] for t in tables]
    holds = all(a < r for a, r in zip(achieved, reference))
    print(f"\n{'PASS' if holds else 'FAIL'}  the oracle doubts latent bo's design less than the initial design's "
          f"best code in every seed ({', '.join(f'{a:.2e} < {r:.2e}' for a, r in zip(achieved, reference))})")
    save_grid(grids, args.out / "digits_latent_bo.png")
    print(f"image grid: {args.out / 'digits_latent_bo.png'}")
    print(f"total run time {time.perf_counter() - start:.0f} s")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
