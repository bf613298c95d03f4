"""Speed claims of invdesign, each checked against a baseline timed in the same run.

Usage::

    python benchmarks/speed.py                 # every claim, CPU, default sizes
    python benchmarks/speed.py --repeats 7 --device cuda

How the timing is done:

- Every ratio divides by a baseline measured in this process, on this machine, with the same
  model, data type and device. No figure is compared with a number from elsewhere.
- Both sides are run once, untimed, before anything is timed (warm-up).
- The two sides are then timed ``--repeats`` times, interleaved (baseline, invdesign, then
  invdesign, baseline, ...), so that drift in the machine's speed hits both sides alike.
- The median over the repeats is reported, with the fastest and slowest repeat beside it.
- The thread settings are left as they are (``torch.set_num_threads`` is not called); the
  header prints them, since they can change every figure below.

The claims:

1. ``gd``, 1,024 restarts on a 3x256 SiLU MLP: one iteration costs at most 1.1x one bare
   forward plus backward pass (gradient with respect to the input only) of the same batch. An
   iteration is timed from the run's own history (the median gap between iterations); the
   run's whole time over its iteration count, which adds the start points' evaluation and the
   result's assembly, is printed beside it.
2. ``gd`` with 256 restarts is at least 50x faster than a Python loop of 256 single-restart
   ``torch.optim.Adam`` runs of the same number of steps.
3. ``lbfgs`` (exact gradients) is at least 25x faster than SciPy's L-BFGS-B with
   finite-difference gradients on a 100-d problem, reaching the same or better accuracy. Both
   sides stop by SciPy's default rule (``ftol = 1e7 * eps``, ``gtol = 1e-5``; lbfgs's own
   defaults are stricter), so that the one difference is how the gradient is obtained: both
   take the same iterations, and their final errors differ only by the finite differences'
   noise, to either side. Each repeat therefore runs ``--lbfgs-starts`` start points (one
   restart each) and is timed as a whole; accuracy is the geometric mean of the final errors
   over the starts.

4. ``gd`` on a 64-d composition (a `Space` whose one `Composition` of 64 fractions sums to 1,
   projected exactly onto the simplex after every step) costs at most 1.3x ``gd`` on the plain
   64-d box, per iteration, same model and restarts.
5. ``gd`` (1,024 restarts, ``--gd-iters`` steps, the claim 1 MLP) on an objective with training
   data (``--trust-data`` designs and their outputs; ``trust="report"``, the default with data)
   costs at most 1.1x the same run without them, whole ``minimize`` calls timed: the trust
   report's nearest-neighbour search runs once, batched, on the search device. The one-off cost
   of building the objective with data (the support's leave-one-out distances) is printed
   beside it.

The process exits with status 1 if any claim fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy
import scipy.optimize
import torch
from torch import Tensor, nn

import invdesign as ivd

# --------------------------------------------------------------------------------------------
# Timing helpers


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], object], device: torch.device) -> tuple[float, object]:
    """Wall-clock seconds of one call of ``fn`` (device work included), and its return value."""
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - t0, out


def _interleaved(
    baseline: Callable[[], float],
    candidate: Callable[[], float],
    repeats: int,
) -> tuple[list[float], list[float]]:
    """Run each side once untimed, then ``repeats`` times each, alternating which goes first.

    Each callable returns the figure to record for that repeat (seconds, or seconds per step).
    """
    baseline()
    candidate()
    base, cand = [], []
    for r in range(repeats):
        if r % 2 == 0:
            base.append(baseline())
            cand.append(candidate())
        else:
            cand.append(candidate())
            base.append(baseline())
    return base, cand


@dataclass
class Row:
    """One line of the final table."""

    claim: str
    baseline: str
    candidate: str
    base_times: list[float]
    cand_times: list[float]
    ratio: float
    threshold: str
    passed: bool
    note: str = ""


def _fmt_seconds(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1.0:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.3f} s"


def _spread(ts: list[float]) -> str:
    return f"{_fmt_seconds(statistics.median(ts))} [{_fmt_seconds(min(ts))} .. {_fmt_seconds(max(ts))}]"


_NOISY = 1.5
"""Slowest / fastest repeat above which a side's timings are flagged as noisy."""


def _noisy(ts: list[float]) -> bool:
    return max(ts) > _NOISY * min(ts)


# --------------------------------------------------------------------------------------------
# Models and problems


def _mlp(d: int, width: int, depth: int, device: torch.device, seed: int) -> nn.Sequential:
    """A plain float32 MLP ``(b, d) -> (b, 1)``: ``depth`` hidden layers of ``width`` SiLU units."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    fan_in = d
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.SiLU()]
        fan_in = width
    layers.append(nn.Linear(fan_in, 1))
    return nn.Sequential(*layers).to(device=device, dtype=torch.float32).eval()


def _styblinski_tang_minimum(fn: nn.Module, d: int, device: torch.device) -> float:
    """The global minimum of Styblinski-Tang in ``d`` dimensions, evaluated by ``fn`` itself.

    Each coordinate minimises ``x^4 - 16 x^2 + 5 x``: the smallest real root of its derivative
    ``4 x^3 - 32 x + 5``. (BoTorch's ``optimal_value`` is rounded to 4 decimals, too coarse to
    judge an error of 1e-6.)
    """
    roots = np.roots([4.0, 0.0, -32.0, 5.0])
    x_star = float(min(r.real for r in roots if abs(r.imag) < 1e-12))
    # One Newton polish in float64.
    x_star -= (4 * x_star**3 - 32 * x_star + 5) / (12 * x_star**2 - 32)
    x = torch.full((1, d), x_star, dtype=torch.float64, device=device)
    with torch.no_grad():
        return float(fn(x)[0])


def _problem(name: str, d: int, device: torch.device, seed: int) -> tuple[nn.Module, Tensor, Tensor, float, Tensor]:
    """A smooth float64 test function with a known minimum, its bounds and one start point.

    Returns:
        ``(function (b, d) -> (b,), lower (d,), upper (d,), known minimum, start (d,))``.
    """
    from botorch.test_functions import Rosenbrock, StyblinskiTang

    g = torch.Generator().manual_seed(seed)
    if name == "styblinski-tang":
        fn = StyblinskiTang(dim=d).to(device=device, dtype=torch.float64)
        lower, upper = fn.bounds[0], fn.bounds[1]
        f_star = _styblinski_tang_minimum(fn, d, device)
        # Start inside the global minimum's basin (every coordinate below the local maximum at
        # x ~ 0.157), so that the known minimum is the one both methods should reach.
        start = -5.0 + 4.5 * torch.rand(d, generator=g, dtype=torch.float64)
    elif name == "rosenbrock":
        fn = Rosenbrock(dim=d).to(device=device, dtype=torch.float64)
        lower, upper = fn.bounds[0], fn.bounds[1]
        f_star = 0.0
        start = lower.cpu() + (upper - lower).cpu() * torch.rand(d, generator=g, dtype=torch.float64)
    else:
        raise ValueError(f"unknown problem {name!r}")
    return fn, lower, upper, f_star, start.to(device)


# --------------------------------------------------------------------------------------------
# Claim 1: one gd iteration vs one bare forward + backward


def claim_gd_iteration(args: argparse.Namespace, device: torch.device) -> list[Row]:
    d, n, steps = args.dim, args.batch, args.gd_iters
    model = _mlp(d, args.width, args.depth, device, seed=0)
    box = ivd.Box(-1.0, 1.0, dim=d, device=device)
    objective = ivd.Objective(model, box, dtype=torch.float32)
    # The very start points gd uses (Sobol, seed 0), so both sides see the same batch.
    x = box.sample(n, seed=0, dtype=torch.float32, device=device).requires_grad_(True)

    def bare() -> float:
        def passes() -> None:
            for _ in range(steps):
                out = model(x)
                torch.autograd.grad(out.sum(), x)

        seconds, _ = _timed(passes, device)
        return seconds / steps

    runs: list[ivd.Result] = []

    def gd() -> float:
        _sync(device)
        result = ivd.minimize(objective, "gd", n_restarts=n, max_iter=steps, seed=0, patience=10**9)
        _sync(device)
        if result.nit != steps or result.history.n_active[-1] != n:
            raise RuntimeError(f"gd ran {result.nit} iterations with {result.history.n_active[-1]} restarts left")
        runs.append(result)
        return result.runtime / result.nit

    base, cand = _interleaved(bare, gd, args.repeats)
    timed_runs = runs[1:]  # runs[0] is the warm-up
    from_history = [statistics.median(np.diff(r.history.time).tolist()) for r in timed_runs]

    base_med = statistics.median(base)
    ratio = statistics.median(from_history) / base_med
    ratio_whole = statistics.median(cand) / base_med
    return [
        Row(
            claim="1. gd iteration / bare fwd+bwd",
            baseline=f"forward + grad wrt input, ({n}, {d}) batch",
            candidate=f"gd, {n} restarts: median iteration ({steps} iterations, from history.time)",
            base_times=base,
            cand_times=from_history,
            ratio=ratio,
            threshold="<= 1.1",
            passed=ratio <= 1.1,
            note=(
                "The run's whole time over its iterations (runtime / nit, which adds the start points' "
                f"evaluation and the result's assembly): {_spread(cand)} -> ratio {ratio_whole:.3f}."
            ),
        )
    ]


# --------------------------------------------------------------------------------------------
# Claim 4: gd with a simplex block vs gd on the plain box


def claim_simplex_projection(args: argparse.Namespace, device: torch.device) -> list[Row]:
    d, n, steps = args.simplex_dim, args.batch, args.gd_iters
    model = _mlp(d, args.width, args.depth, device, seed=0)
    box = ivd.Objective(model, ivd.Box(0.0, 1.0, dim=d, device=device), dtype=torch.float32)
    space = ivd.Space([ivd.Composition([f"c{i}" for i in range(d)])], device=device)
    simplex = ivd.Objective(model, space, dtype=torch.float32)

    def per_iteration(objective: ivd.Objective) -> Callable[[], float]:
        def run() -> float:
            _sync(device)
            result = ivd.minimize(objective, "gd", n_restarts=n, max_iter=steps, seed=0, patience=10**9)
            _sync(device)
            if result.nit != steps:
                raise RuntimeError(f"gd ran {result.nit} iterations, not {steps}")
            return statistics.median(np.diff(result.history.time).tolist())

        return run

    base, cand = _interleaved(per_iteration(box), per_iteration(simplex), args.repeats)
    ratio = statistics.median(cand) / statistics.median(base)
    return [
        Row(
            claim="4. gd on a simplex / gd on a box",
            baseline=f"gd, {n} restarts, {d}-d box [0, 1]^{d}: median iteration",
            candidate=f"gd, {n} restarts, one {d}-part Composition (exact simplex projection): median iteration",
            base_times=base,
            cand_times=cand,
            ratio=ratio,
            threshold="<= 1.3",
            passed=ratio <= 1.3,
            note="Per-iteration medians from history.time differences (start evaluation and assembly excluded on both sides).",
        )
    ]


def claim_trust_report(args: argparse.Namespace, device: torch.device) -> list[Row]:
    d, n, steps = args.dim, args.batch, args.gd_iters
    model = _mlp(d, args.width, args.depth, device, seed=0)
    box = ivd.Box(-1.0, 1.0, dim=d, device=device)
    X = box.sample(args.trust_data, seed=1).to(torch.float32)
    with torch.no_grad():
        Y = model(X)
    plain = ivd.Objective(model, box, dtype=torch.float32)
    t0 = time.perf_counter()
    reported = ivd.Objective(model, box, dtype=torch.float32, data=(X, Y))
    build = time.perf_counter() - t0

    def whole_run(objective: ivd.Objective) -> Callable[[], float]:
        def run() -> float:
            seconds, result = _timed(lambda: ivd.minimize(objective, "gd", n_restarts=n, max_iter=steps, seed=0, patience=10**9), device)
            if (result.trust is None) == (objective.data is not None):
                raise RuntimeError("the trust report is missing or unexpected")
            return seconds

        return run

    base, cand = _interleaved(whole_run(plain), whole_run(reported), args.repeats)
    ratio = statistics.median(cand) / statistics.median(base)
    return [
        Row(
            claim="5. gd with a trust report / gd without",
            baseline=f"gd, {n} restarts, {steps} steps, {d}-d MLP: whole minimize call",
            candidate=f"the same with data=(X, Y) of {args.trust_data} designs (trust='report')",
            base_times=base,
            cand_times=cand,
            ratio=ratio,
            threshold="<= 1.1",
            passed=ratio <= 1.1,
            note=f"Building the objective with the data (support radius, spacing) took {_fmt_seconds(build)} once.",
        )
    ]


# --------------------------------------------------------------------------------------------
# Claim 2: batched gd vs a Python loop of single-restart Adam runs


def claim_gd_vs_loop(args: argparse.Namespace, device: torch.device) -> list[Row]:
    d, n, steps = args.dim, args.loop_restarts, args.loop_iters
    model = _mlp(d, args.width, args.depth, device, seed=0)
    box = ivd.Box(-1.0, 1.0, dim=d, device=device)
    objective = ivd.Objective(model, box, dtype=torch.float32)
    starts = box.sample(n, seed=0, dtype=torch.float32, device=device)
    lower = box.lower.to(torch.float32)
    upper = box.upper.to(torch.float32)
    # gd's default lr is in unit-cube coordinates; the loop works in the box's own coordinates.
    lr = 0.05 * float(box.width[0])

    def one_restart(x0: Tensor) -> float:
        """What a user would write for one start: Adam on the point, clamped to the box."""
        x = x0.clone().unsqueeze(0).requires_grad_(True)
        opt = torch.optim.Adam([x], lr=lr)
        for _ in range(steps):
            f = model(x).sum()
            (x.grad,) = torch.autograd.grad(f, x)
            opt.step()
            with torch.no_grad():
                x.clamp_(lower, upper)
        with torch.no_grad():
            return float(model(x).sum())

    loop_best: list[float] = []
    gd_best: list[float] = []

    def loop() -> float:
        seconds, finals = _timed(lambda: [one_restart(starts[i]) for i in range(n)], device)
        loop_best.append(min(finals))  # type: ignore[arg-type]
        return seconds

    def gd() -> float:
        seconds, result = _timed(
            lambda: ivd.minimize(objective, "gd", n_restarts=n, max_iter=steps, seed=0, patience=10**9),
            device,
        )
        gd_best.append(result.fun)  # type: ignore[attr-defined]
        return seconds

    base, cand = _interleaved(loop, gd, args.repeats_loop)
    ratio = statistics.median(base) / statistics.median(cand)
    return [
        Row(
            claim="2. python loop / gd (speed-up)",
            baseline=f"{n} x torch.optim.Adam on a (1, {d}) point, {steps} steps each",
            candidate=f"gd, {n} restarts, {steps} iterations",
            base_times=base,
            cand_times=cand,
            ratio=ratio,
            threshold=">= 50",
            passed=ratio >= 50,
            note=f"best energy: loop {loop_best[-1]:.6g}, gd {gd_best[-1]:.6g} (a sanity check, not part of the claim).",
        )
    ]


# --------------------------------------------------------------------------------------------
# Claim 3: lbfgs with exact gradients vs SciPy L-BFGS-B with finite differences

_SCIPY_FTOL = 1e7 * float(np.finfo(np.float64).eps)
"""SciPy's default relative-reduction tolerance for L-BFGS-B (``factr = 1e7``)."""
_SCIPY_GTOL = 1e-5
"""SciPy's default projected-gradient tolerance for L-BFGS-B."""


def claim_lbfgs_vs_scipy(args: argparse.Namespace, device: torch.device) -> list[Row]:
    d, n = args.lbfgs_dim, args.lbfgs_starts
    problems = [_problem(args.problem, d, device, seed=seed) for seed in range(n)]
    fn, lower, upper, f_star, _ = problems[0]
    box = ivd.Box(lower, upper, device=device)
    objective = ivd.Objective(fn, box, dtype=torch.float64)
    bounds = scipy.optimize.Bounds(lower.cpu().numpy(), upper.cpu().numpy())

    def energy(x_np: np.ndarray) -> float:
        # The same torch function the solver calls, one point at a time.
        x = torch.as_tensor(x_np, dtype=torch.float64, device=device).unsqueeze(0)
        with torch.no_grad():
            return float(objective(x)[0])

    scipy_runs: list[scipy.optimize.OptimizeResult] = []
    ivd_runs: list[ivd.Result] = []

    def scipy_fd() -> float:
        scipy_runs.clear()
        options = {"ftol": _SCIPY_FTOL, "gtol": _SCIPY_GTOL}

        def every_start() -> None:
            for *_, start in problems:
                scipy_runs.append(scipy.optimize.minimize(energy, start.cpu().numpy(), method="L-BFGS-B", bounds=bounds, options=options))

        return _timed(every_start, device)[0]

    def lbfgs() -> float:
        ivd_runs.clear()

        def every_start() -> None:
            for *_, start in problems:
                result = ivd.minimize(objective, "lbfgs", n_restarts=1, x0=start, seed=0, ftol=_SCIPY_FTOL, gtol=_SCIPY_GTOL)
                assert isinstance(result, ivd.Result)
                ivd_runs.append(result)

        return _timed(every_start, device)[0]

    base, cand = _interleaved(scipy_fd, lbfgs, args.repeats)
    ratio = statistics.median(base) / statistics.median(cand)
    # Errors floored at float64 round-off of f*, so that a start solved exactly by both counts as a tie.
    floor = 64 * np.finfo(np.float64).eps * max(1.0, abs(f_star))
    err_scipy = np.array([max(float(s.fun) - f_star, floor) for s in scipy_runs])
    err_ivd = np.array([max(r.fun - f_star, floor) for r in ivd_runs])
    geo_scipy, geo_ivd = float(np.exp(np.log(err_scipy).mean())), float(np.exp(np.log(err_ivd).mean()))
    accurate = geo_ivd <= geo_scipy
    per_start = ", ".join(
        f"{e_s:.2g}/{e_i:.2g} ({s.nfev}/{r.nfev})" for e_s, e_i, s, r in zip(err_scipy, err_ivd, scipy_runs, ivd_runs)
    )
    return [
        Row(
            claim="3. scipy FD / lbfgs (speed-up)",
            baseline=f"scipy L-BFGS-B, 2-point FD gradients, {args.problem}-{d}, {n} starts",
            candidate="lbfgs, exact gradients, 1 restart per start, same starts, SciPy's stopping rule",
            base_times=base,
            cand_times=cand,
            ratio=ratio,
            threshold=">= 25 and error <= scipy's",
            passed=ratio >= 25 and accurate,
            note=(
                f"f* = {f_star:.12g}. Final error (geometric mean over starts): scipy {geo_scipy:.3g}, lbfgs {geo_ivd:.3g}; "
                f"accuracy {'same or better' if accurate else 'WORSE'}. Per start, error scipy/lbfgs (evaluations scipy/lbfgs): "
                f"{per_start}."
            ),
        )
    ]


# --------------------------------------------------------------------------------------------
# Report


def _header(device: torch.device) -> str:
    env = {k: os.environ.get(k, "unset") for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    lines = [
        f"invdesign {ivd.__version__}, torch {torch.__version__}, scipy {scipy.__version__}, numpy {np.__version__}, "
        f"python {platform.python_version()}",
        f"device {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f" ({platform.processor() or platform.machine()})")
        + f", {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()} (left as found)",
        "env: " + ", ".join(f"{k}={v}" for k, v in env.items()),
    ]
    try:
        from threadpoolctl import threadpool_info

        pools = [f"{p['internal_api']}:{p['num_threads']}" for p in threadpool_info()]
        lines.append("thread pools: " + ", ".join(pools))
    except ImportError:
        pass
    return "\n".join(lines)


def _print_table(rows: list[Row]) -> None:
    print()
    print(f"{'claim':<34} {'baseline (median [min .. max])':<38} {'invdesign (median [min .. max])':<38} {'ratio':>8}  {'threshold':<26} result")
    print("-" * 160)
    for row in rows:
        noisy = _noisy(row.base_times) or _noisy(row.cand_times)
        print(
            f"{row.claim:<34} {_spread(row.base_times):<38} {_spread(row.cand_times):<38} "
            f"{row.ratio:>8.3f}  {row.threshold:<26} {'PASS' if row.passed else 'FAIL'}{'  (noisy)' if noisy else ''}"
        )
    if any(_noisy(r.base_times) or _noisy(r.cand_times) for r in rows):
        print(
            f"(noisy): the slowest repeat of a side took over {_NOISY}x its fastest, so that ratio is not "
            "trustworthy. On small or shared machines, thread wake-up latency can dominate; compare with "
            "a run under OMP_NUM_THREADS=1."
        )
    print()
    for row in rows:
        print(f"{row.claim}")
        print(f"    baseline:  {row.baseline}")
        print(f"    invdesign: {row.candidate}")
        if row.note:
            print(f"    {row.note}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument("--claims", default="1,2,3,4,5", help="comma-separated claims to run")
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per side for claims 1 and 3")
    p.add_argument("--repeats-loop", type=int, default=3, help="timed repeats per side for claim 2 (its loop is slow)")
    p.add_argument("--dim", type=int, default=16, help="MLP input dimension (claims 1 and 2)")
    p.add_argument("--width", type=int, default=256, help="MLP hidden units per layer")
    p.add_argument("--depth", type=int, default=3, help="MLP hidden layers")
    p.add_argument("--batch", type=int, default=1024, help="restarts (= batch rows) for claim 1")
    p.add_argument("--gd-iters", type=int, default=100, help="gd iterations / bare passes per repeat, claim 1")
    p.add_argument("--loop-restarts", type=int, default=256, help="restarts for claim 2")
    p.add_argument("--loop-iters", type=int, default=100, help="iterations per restart for claim 2")
    p.add_argument("--problem", default="styblinski-tang", choices=["styblinski-tang", "rosenbrock"], help="claim 3 test function")
    p.add_argument("--lbfgs-dim", type=int, default=100, help="dimension of the claim 3 problem")
    p.add_argument("--lbfgs-starts", type=int, default=5, help="start points per repeat of claim 3")
    p.add_argument("--simplex-dim", type=int, default=64, help="components of the claim 4 composition")
    p.add_argument("--trust-data", type=int, default=10_000, help="training designs of the claim 5 objective")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.repeats < 1 or args.repeats_loop < 1:
        raise SystemExit("--repeats and --repeats-loop must be at least 1")
    t_start = time.perf_counter()
    device = torch.device(args.device)
    print(_header(device))

    claims = {"1": claim_gd_iteration, "2": claim_gd_vs_loop, "3": claim_lbfgs_vs_scipy, "4": claim_simplex_projection, "5": claim_trust_report}
    wanted = [c.strip() for c in args.claims.split(",") if c.strip()]
    unknown = sorted(set(wanted) - set(claims))
    if unknown:
        raise SystemExit(f"unknown claims {unknown}; choose from {sorted(claims)}")
    rows: list[Row] = []
    for c in wanted:
        t0 = time.perf_counter()
        rows += claims[c](args, device)
        print(f"claim {c} measured in {time.perf_counter() - t0:.1f} s", flush=True)

    _print_table(rows)
    passed = all(r.passed for r in rows)
    print()
    print(f"{sum(r.passed for r in rows)}/{len(rows)} claims pass. Total run time {time.perf_counter() - t_start:.1f} s.")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
