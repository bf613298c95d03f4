"""Latent-space against data-space search on real handwritten digits, judged by an independent oracle.

For each seed: split scikit-learn's digits in two halves, train the surrogate classifier and a VAE
on half A and the oracle classifier (another architecture) on half B, then minimize the surrogate's
"not a 3" energy (-sum_c p(c|x) exp(-2 (c-3)^2)) from the same 64 real digits of half A:

- data gd: gradient descent on the 64 pixels;
- data gd + realism: the same with the VAE's reconstruction error as a penalty;
- latent gd / latent lbfgs: search over the VAE's latent box, starting from the encoded digits.

The best 16 designs of each run (ranked by the surrogate) are judged by the surrogate, the oracle,
and two realism measures: the RMS pixel distance to the nearest real digit and the VAE's
reconstruction error. Mean and standard deviation over seeds; an image grid is saved.

Run: ``python benchmarks/digits_latent.py`` (about a minute on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import invdesign as ivd
from invdesign.tasks.digits import make_digits

METRICS = ("surrogate energy", "oracle score", "nearest-real distance", "VAE recon error", "seconds")
FORMATS = {"surrogate energy": ".5f", "oracle score": ".5f", "nearest-real distance": ".4f", "VAE recon error": ".4f", "seconds": ".2f"}


def run_seed(
    seed: int, args: argparse.Namespace
) -> tuple[dict[str, dict[str, float]], dict[str, torch.Tensor], float]:
    """All methods on one seed.

    Returns:
        Per method its metric means over the top designs; those designs; the VAE's reconstruction
        error on half B (digits it never saw).
    """
    digits = make_digits(seed)
    vae = ivd.models.VAE((1, 8, 8), latent_dim=args.latent_dim, data_range=(0.0, 16.0))
    ivd.models.fit_vae(vae, digits.images[digits.half_a], epochs=args.vae_epochs, seed=seed, progress=False)
    with torch.no_grad():
        held_out = float(vae.reconstruction_error(digits.images[digits.half_b]).mean())
    pick = torch.randperm(digits.half_a.numel(), generator=torch.Generator().manual_seed(seed))[: args.n_restarts]
    starts = digits.images[digits.half_a[pick]]
    energy = digits.energy()
    latent_box = ivd.Box(-args.latent_bound, args.latent_bound, dim=args.latent_dim, dtype=torch.float32)
    realism = ivd.penalties.Realism(vae.reconstruction_error, args.realism_weight, shape=(1, 8, 8))
    encoded = ivd.FromData(starts, encode=vae.encode)
    runs = {
        "data gd": (ivd.Objective(energy, digits.space), "gd", starts.flatten(1)),
        "data gd + realism": (ivd.Objective(energy, digits.space, penalties=[realism]), "gd", starts.flatten(1)),
        "latent gd": (ivd.Objective(energy, latent_box, decoder=vae), "gd", encoded),
        "latent lbfgs": (ivd.Objective(energy, latent_box, decoder=vae), "lbfgs", encoded),
    }
    table, designs = {}, {}
    for name, (objective, method, x0) in runs.items():
        result = ivd.minimize(objective, method, n_restarts=args.n_restarts, x0=x0, seed=seed)
        top = result.X[: args.top].reshape(-1, 1, 8, 8)
        with torch.no_grad():
            table[name] = {
                "surrogate energy": float(energy(top.flatten(1)).mean()),
                "oracle score": float(digits.oracle_score(top).mean()),
                "nearest-real distance": float(digits.nearest_real_distance(top).mean()),
                "VAE recon error": float(vae.reconstruction_error(top).mean()),
                "seconds": result.runtime,
            }
        designs[name] = top
    designs["some start digits"] = starts[: args.top]
    return table, designs, held_out


def save_grid(designs: dict[str, torch.Tensor], path: Path, n: int = 8) -> None:
    """One row of ``n`` images per method."""
    fig, axes = plt.subplots(len(designs), n, figsize=(n * 0.9, len(designs) * 1.0))
    for row, (name, images) in zip(axes, designs.items()):
        for i, ax in enumerate(row):
            ax.imshow(images[i, 0].detach().cpu().numpy(), cmap="gray_r", vmin=0, vmax=16)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--n-restarts", type=int, default=64)
    parser.add_argument("--top", type=int, default=16, help="best designs (by the surrogate) judged per run")
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--latent-bound", type=float, default=3.0, help="latent box is [-b, b]^d")
    parser.add_argument("--vae-epochs", type=int, default=100)
    parser.add_argument("--realism-weight", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)

    per_seed, held_out = [], []
    for seed in args.seeds:
        table, designs, vae_error = run_seed(seed, args)
        per_seed.append(table)
        held_out.append(vae_error)
        if seed == args.seeds[0]:
            save_grid(designs, args.out / "digits_designs.png")

    methods = list(per_seed[0])
    summary = {
        m: {k: (statistics.mean(t[m][k] for t in per_seed), statistics.pstdev(t[m][k] for t in per_seed)) for k in METRICS}
        for m in methods
    }
    print(f"digits, 'looks like a 3' energy; best {args.top} of {args.n_restarts} restarts per run; "
          f"mean +- std over seeds {args.seeds}")
    print("| method | " + " | ".join(METRICS) + " |")
    print("|---|" + "---:|" * len(METRICS))
    for m in methods:
        print(f"| {m} | " + " | ".join(f"{summary[m][k][0]:{FORMATS[k]}} +- {summary[m][k][1]:.1g}" for k in METRICS) + " |")

    print(f"\nVAE reconstruction error on the held-out half B (MSE, pixels in [0, 1]): "
          f"{statistics.mean(held_out):.4f} +- {statistics.pstdev(held_out):.1g}")

    data, latent = summary["data gd"], summary["latent gd"]
    checks = {
        "data-space gd reaches the lower surrogate energy": data["surrogate energy"][0] < latent["surrogate energy"][0],
        "the oracle scores latent designs at least as 3-like": latent["oracle score"][0] >= data["oracle score"][0],
        "latent designs are nearer real digits": latent["nearest-real distance"][0] < data["nearest-real distance"][0],
        "latent designs have lower VAE reconstruction error": latent["VAE recon error"][0] < data["VAE recon error"][0],
    }
    print()
    for claim, holds in checks.items():
        print(f"{'PASS' if holds else 'FAIL'}  {claim} (latent gd against data gd)")
    print(f"\nimage grid: {args.out / 'digits_designs.png'}")
    print(f"total run time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
