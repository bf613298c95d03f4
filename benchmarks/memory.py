"""Bounded memory: chunked batches give the same designs as one batch, and stay within their budget.

Each search runs in its own child process, so that its peak resident memory (``ru_maxrss``, read
before and after the search) is its own; the figure reported is the growth of the peak during the
search, above what the process held after building the model and the objective.

Claims (exit status 1 if one fails):

1. ``gd`` with 20,000 restarts of a 3x256 MLP, in one batch and in chunks of ``max_batch=2,048``,
   returns bit-identical designs and energies.
2. The chunked run's peak growth stays within its budget: ``max_batch`` rows times the autograd
   memory of a row (`invdesign.engine.chunks.bytes_per_row`, which includes a headroom factor),
   plus the search's own state (points, best points, optimizer moments: 8 copies of the
   restarts' coordinates). The unchunked run's growth is printed beside it.
3. 100,000 restarts of a small MLP and a 3x100x100 image design space (30,000 coordinates, a small
   convolutional model) both run with the automatic limit (``max_batch=None``).

Run: ``python benchmarks/memory.py`` (about 3 minutes on 2 CPU cores).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import torch
    import invdesign as ivd
    from invdesign.engine import chunks

    case, max_batch = sys.argv[1], None if sys.argv[2] == "none" else int(sys.argv[2])
    torch.manual_seed(0)
    if case == "image":
        class Image(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.net = torch.nn.Sequential(
                    torch.nn.Conv2d(3, 8, 5, stride=2), torch.nn.SiLU(), torch.nn.Conv2d(8, 8, 5, stride=2),
                    torch.nn.SiLU(), torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(128, 1),
                )

            def forward(self, x):
                return self.net(x.reshape(-1, 3, 100, 100)).squeeze(-1)

        model, dim, restarts, iters = Image(), 3 * 100 * 100, 16, 20
    else:
        width = 256 if case == "mlp" else 32
        dim, restarts, iters = (16, 20_000, 30) if case == "mlp" else (8, 100_000, 30)
        model = torch.nn.Sequential(
            torch.nn.Linear(dim, width), torch.nn.SiLU(), torch.nn.Linear(width, width), torch.nn.SiLU(),
            torch.nn.Linear(width, width), torch.nn.SiLU(), torch.nn.Linear(width, 1),
        )
    objective = ivd.Objective(model, ivd.Box(-1.0, 1.0, dim=dim), dtype=torch.float32)
    ivd.solvers.available()  # the solvers' modules (BoTorch, SciPy, ...) load before the measurement
    u = objective.space.sample(64, seed=1)
    per_row = chunks.bytes_per_row(objective, u)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    result = ivd.minimize(objective, "gd", n_restarts=restarts, max_iter=iters, seed=0, patience=10**9, max_batch=max_batch)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    torch.save({"X": result.X, "F": result.F}, sys.argv[3])
    print(json.dumps({"growth": after - before, "per_row": per_row, "seconds": seconds, "restarts": restarts,
                      "dim": dim, "best": result.fun}))
    """
)


def run(case: str, max_batch: int | None, out: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, case, "none" if max_batch is None else str(max_batch), out],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{case} (max_batch={max_batch}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    import tempfile

    import torch

    mib = 2**20
    holds = True
    with tempfile.TemporaryDirectory() as tmp:
        whole = run("mlp", 10**9, f"{tmp}/whole.pt")
        chunked = run("mlp", 2048, f"{tmp}/chunked.pt")
        a, b = torch.load(f"{tmp}/whole.pt"), torch.load(f"{tmp}/chunked.pt")
        same = torch.equal(a["X"], b["X"]) and torch.equal(a["F"], b["F"])
        holds &= same
        print(f"1. gd, 20,000 restarts, 3x256 MLP: one batch and chunks of 2,048 give {'identical' if same else 'DIFFERENT'} "
              f"designs and energies: {'PASS' if same else 'FAIL'}")
        state = 8 * chunked["restarts"] * chunked["dim"] * 4
        budget = 2048 * chunked["per_row"] + state
        fits = chunked["growth"] <= budget
        holds &= fits
        print(f"2. peak growth: chunked {chunked['growth'] / mib:.0f} MiB <= budget {budget / mib:.0f} MiB "
              f"(2,048 rows x {chunked['per_row'] / 1024:.1f} KiB + state {state / mib:.1f} MiB): {'PASS' if fits else 'FAIL'}; "
              f"unchunked {whole['growth'] / mib:.0f} MiB; seconds {chunked['seconds']:.1f} vs {whole['seconds']:.1f}")
        for case, what in (("small", "100,000 restarts of an 8-d 3x32 MLP"), ("image", "16 restarts on a 3x100x100 image, conv model")):
            result = run(case, None, f"{tmp}/{case}.pt")
            print(f"3. {what}, automatic limit: ran in {result['seconds']:.1f} s, peak growth {result['growth'] / mib:.0f} MiB, "
                  f"best energy {result['best']:.4g}: PASS")
    print(f"\n{'PASS' if holds else 'FAIL'}")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
