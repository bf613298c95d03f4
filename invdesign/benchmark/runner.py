"""`run`: every solver configuration on every task over seeds, each design re-simulated by the oracle."""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas
import torch
from torch import Tensor, nn
from tqdm import tqdm

from invdesign.benchmark.configs import SolverConfig, get_config
from invdesign.benchmark.metrics import T_VALUES, exploitation_gap, percentiles, r_t
from invdesign.benchmark.parallel import Settings, sweep
from invdesign.benchmark.problem import Problem, prepare, selection_recipe
from invdesign.benchmark.store import ResultStore, cell_key, digest, frame, nan_to_none
from invdesign.cluster import as_executor
from invdesign.diversity import count_basins, mean_pairwise_distance
from invdesign.engine.run import count
from invdesign.engine.solver import TargetAmortizer
from invdesign.models import MLP, Ensemble
from invdesign.objective import Objective
from invdesign.optimize import minimize
from invdesign.penalties import DataDistance
from invdesign.result import Progress, Result
from invdesign.selection import select_designs
from invdesign.space import Box, DesignSpace
from invdesign.starts import FromData
from invdesign.tasks import Task
from invdesign.tasks import get as get_task
from invdesign.trust import energy_scale, spacing


@dataclass
class Cell:
    """What one configuration returned on one problem, before the metrics.

    Attributes:
        X: The returned designs, best first by the searched energy, shape ``(k, d)`` (of one
            target's search on target tasks).
        nfev: Surrogate evaluations.
        seconds: Search wall time, the tracing oracle calls left out.
        trace: ``{"nfev": [...], "seconds": [...], "oracle": [...]}``: the oracle's verdict on the
            best design so far along the run (the first target's run for target tasks).
        modes: Distinct basins of the searched energy among the returned designs
            (`invdesign.diversity.count_basins`).
    """

    X: Tensor
    nfev: int
    seconds: float
    modes: int
    trace: dict[str, list[float]] = field(default_factory=dict)


class _Tracer:
    """A `minimize` callback that re-simulates the best design so far whenever it changes."""

    def __init__(self, energy_of: Any) -> None:
        self.energy_of = energy_of
        self.nfev: list[float] = []
        self.seconds: list[float] = []
        self.oracle: list[float] = []
        self.overhead = 0.0
        self._last_fun = math.nan

    def __call__(self, progress: Progress) -> None:
        t0 = time.perf_counter()
        if progress.fun != self._last_fun or not self.oracle:
            with torch.no_grad():
                value = float(self.energy_of(progress.x.reshape(1, -1))[0])
            self._last_fun = progress.fun
        else:
            value = self.oracle[-1]
        self.nfev.append(progress.nfev)
        self.seconds.append(progress.elapsed - self.overhead)
        self.oracle.append(value)
        self.overhead += time.perf_counter() - t0

    def as_dict(self) -> dict[str, list[Any]]:
        return {"nfev": self.nfev, "seconds": self.seconds, "oracle": [nan_to_none(v) for v in self.oracle]}


def oracle_energy(task: Task, X: Tensor, target: Tensor | None = None) -> Tensor:
    """The oracle's energy of designs ``X`` ``(k, d)``: its value (minimize tasks) or mean squared error to ``target``, ``(k,)``.

    Invalid designs (a NaN oracle value) get NaN.
    """
    with torch.no_grad():
        y = task.oracle(X.to(torch.float64))
    if target is None:
        return y[:, 0]
    return (y - target.to(y)).square().mean(-1)


def _objective(problem: Problem, config: SolverConfig, target: Tensor | None) -> Objective:
    """The energy ``config`` searches on ``problem``: surrogate or ensemble, in data or latent space, with its guards."""
    space, decoder, data = problem.task.space, None, problem.X
    if config.latent:
        decoder = problem.decoder
        assert problem.task.decoder is not None
        space = problem.task.decoder.latent_box(dtype=problem.X.dtype, device=problem.X.device)
        with torch.no_grad():
            data = space.clamp(decoder.encode(problem.X)[0])
    penalties = []
    if config.data_weight > 0:
        spacing = data_spacing(data, space)
        weight = config.data_weight * energy_scale(problem.Y, target) / spacing**2
        penalties.append(DataDistance(data, weight=weight, radius=config.data_radius * spacing, space=space))
    beta = config.beta if config.ensemble == "pessimistic" else None
    return Objective(
        searched_model(problem, config), space, target=target, decoder=decoder, penalties=penalties,
        ensemble=config.ensemble, beta=beta,
    )


def searched_model(problem: Problem, config: SolverConfig) -> nn.Module:
    """The model ``config`` searches (and whose predictions its gap is measured against): a surrogate or the ensemble."""
    if config.ensemble is not None:
        return problem.ensemble
    return problem.selected if config.surrogate == "selected" else problem.surrogate


def model_label(model: nn.Module) -> str:
    """A short name for the searched model, e.g. ``"MLP 64x64 silu"`` or ``"5 x MLP 64x64x64 silu"`` for an ensemble."""
    if isinstance(model, Ensemble):
        labels = {model_label(member) for member in model.members}
        return f"{len(model.members)} x {labels.pop()}" if len(labels) == 1 else f"ensemble of {len(model.members)}"
    if isinstance(model, MLP):
        return f"MLP {'x'.join(str(w) for w in model.hidden)} {model.activation}"
    return type(model).__name__


def data_spacing(X: Tensor, space: DesignSpace, *, n_probe: int = 1000) -> float:
    """The median distance from a design of ``X`` ``(n, d)`` to its nearest other design, in ``space``'s search coordinates.

    The search coordinates are a box's unit cube, or a `Space`'s relaxed coordinates (each real
    and integer on ``[0, 1]``, a composition's fractions, a categorical's one-hot columns).
    Measured by `invdesign.trust.spacing` on ``n_probe`` designs picked with a fixed seed.
    """
    return spacing(space.coordinates().to_search(X.to(space.dtype)), n_probe)


def _predicted_energy(problem: Problem, config: SolverConfig, X: Tensor, target: Tensor | None) -> Tensor:
    """The prediction of the model ``config`` trusted (the surrogate, or the ensemble's mean), as an energy, ``(k,)``; no guards."""
    with torch.no_grad():
        plain = Objective(searched_model(problem, config), problem.task.space, target=target)
        return plain(X.to(plain.dtype)).to(torch.float64)


def _search(problem: Problem, config: SolverConfig, k: int, seed: int, target: Tensor | None, traced: bool) -> Cell:
    """Run ``config`` once (one target for target tasks) and return its ``k`` designs.

    Dispatches on the solver's capabilities: solvers with starting points and an iteration
    budget start from the best training designs (``starts="data"``), ``k`` of them unless the
    configuration says otherwise; solvers that need the data set get it.
    """
    task, caps = problem.task, config.capabilities
    tracer = _Tracer(lambda x: oracle_energy(task, x, target)) if traced else None
    objective = _objective(problem, config, target)
    starts: dict[str, Any] = {}
    if caps.x0 and caps.budget == "iterations":
        starts["n_restarts"] = config.n_restarts or k
    elif config.n_restarts is not None:
        starts["n_restarts"] = config.n_restarts
    if caps.data or (config.starts == "data" and caps.x0 and caps.budget == "iterations"):
        data = FromData(problem.X, problem.Y, encode=problem.decoder.encode if config.latent else None)
        starts["x0"] = data
        starts["n_restarts"] = min(starts.get("n_restarts") or caps.default_restarts, data.available(objective))
    budget: dict[str, Any] = dict(config.budget)
    result = minimize(objective, config.solver, seed=seed, callback=tracer, **starts, **budget)
    assert isinstance(result, Result)  # one target per call
    pick = select_designs(result.X, result.F, min(k, result.X.shape[0]), diversity=config.diversity, space=task.space)
    X = result.X[pick].to(problem.X.dtype)  # decoded designs for a latent search
    seconds = result.runtime - (tracer.overhead if tracer else 0.0)
    points = (result.Z if result.Z is not None else result.X)[pick]
    modes = count_basins(objective, points, objective.space, F=result.F[pick], differentiable=objective.differentiable)
    return Cell(X, result.nfev, seconds, modes, tracer.as_dict() if tracer else {})


def _serve_inverse_model(problem: Problem, config: SolverConfig, k: int) -> list[Cell]:
    """A solver that amortizes targets (`Capabilities.amortizes_targets`) on a target task: one conditional generator for every target.

    The solver's ``fit_targets`` trains it once on the offline outputs (``max_iter`` steps), then
    its ``serve`` gives ``k`` designs per test target (one forward pass and the solver's polish,
    every target in one batch), ranked by the surrogate's error.
    The training time is shared out over the targets. The generator is trained on a `Box`; on a
    target task with a `Space` the solver searches each target on its own instead.
    """
    task, targets = problem.task, problem.targets
    assert targets is not None and isinstance(task.space, Box)
    if config.latent or config.data_weight > 0:
        raise ValueError(
            f"{config.name!r}: the conditional generator of a target task runs in data space without penalties; "
            "drop latent= and data_weight= for target tasks"
        )
    t0 = time.perf_counter()
    model = searched_model(problem, config)
    solver = config.solver
    if not isinstance(solver, TargetAmortizer):
        raise TypeError(f"{config.name!r}: method {config.method!r} declares amortizes_targets but has no fit_targets and serve")
    generator, report = solver.fit_targets(model, task.space, problem.Y, max_iter=config.max_iter, seed=problem.seed)
    # Each target's designs ranked by the surrogate's error, best first, with that target's objective.
    served = solver.serve(generator, Objective(model, task.space, target=targets.to(problem.Y)), k, seed=problem.seed)
    seconds = (time.perf_counter() - t0) / len(targets)
    return [
        Cell(r.X, report.evaluations // len(targets) + r.nfev, seconds, count_basins(r.objective, r.X, r.objective.space))
        for r in served
    ]


def run_cell(problem: Problem, config: SolverConfig, *, k: int) -> dict[str, Any]:
    """Run one configuration on one prepared problem and measure its designs with the oracle.

    Returns:
        The cell's record: identifiers, metrics (see `run`) and the convergence trace.
    """
    task, seed = problem.task, problem.seed
    record: dict[str, Any] = {
        "task": task.name,
        "solver": config.name,
        "seed": seed,
        "kind": task.kind,
        "method": config.method,
        "model": model_label(searched_model(problem, config)),
    }
    if task.kind == "minimize":
        cell = _search(problem, config, k, seed, None, traced=True)
        oracle = oracle_energy(task, cell.X)
        predicted = _predicted_energy(problem, config, cell.X, None)
        best, median = percentiles(oracle)
        assert problem.reference is not None
        y_min, y_max = problem.reference
        i_best = int(torch.argmin(torch.where(torch.isfinite(oracle), oracle, torch.full_like(oracle, math.inf))))
        record.update(
            oracle_best=best,
            oracle_median=median,
            score_best=(y_max - best) / (y_max - y_min),
            score_median=(y_max - median) / (y_max - y_min),
            d_best=problem.d_best,
            surrogate_best=float(predicted[i_best]),
            oracle_top1=float(oracle[0]),
            surrogate_top1=float(predicted[0]),
            gap=exploitation_gap(oracle, predicted),
            gap_abs=exploitation_gap(oracle, predicted, absolute=True),
            gap_normalized=exploitation_gap(oracle, predicted) / (y_max - y_min),
            gap_abs_normalized=exploitation_gap(oracle, predicted, absolute=True) / (y_max - y_min),
            **{f"r_{t}": math.nan for t in T_VALUES},
            distance_to_data=_distance_to_data(problem, cell.X),
            pairwise_distance=mean_pairwise_distance(cell.X, task.space),
            n_modes=cell.modes,
            n_designs=int(cell.X.shape[0]),
            n_invalid=int((~torch.isfinite(oracle)).sum()),
            evaluations=cell.nfev,
            seconds=cell.seconds,
        )
        record.update(_described(task, cell.X))
        trace = cell.trace
        designs = _both_judges(oracle, predicted)
    else:
        assert problem.targets is not None
        errors, predicted_top, bests, medians, gaps, gaps_abs, distances, spreads, modes = [], [], [], [], [], [], [], [], []
        nfev, seconds, trace, invalid = 0, 0.0, {}, 0
        # The conditional generator is trained on a box; on a Space each target gets its own search.
        amortized = config.capabilities.amortizes_targets and isinstance(task.space, Box)
        served = _serve_inverse_model(problem, config, k) if amortized else None
        for i, target in enumerate(problem.targets):
            cell = served[i] if served is not None else _search(problem, config, k, seed * 100_003 + i, target, traced=i == 0)
            oracle = oracle_energy(task, cell.X, target)
            predicted = _predicted_energy(problem, config, cell.X, target)
            if i == 0:
                designs = _both_judges(oracle, predicted)
            errors.append(oracle)
            best, median = percentiles(oracle)
            bests.append(best)
            medians.append(median)
            predicted_top.append(float(predicted[0]))
            gaps.append(exploitation_gap(oracle, predicted))
            gaps_abs.append(exploitation_gap(oracle, predicted, absolute=True))
            invalid += int((~torch.isfinite(oracle)).sum())
            distances.append(_distance_to_data(problem, cell.X))
            spreads.append(mean_pairwise_distance(cell.X, task.space))
            modes.append(cell.modes)
            nfev += cell.nfev
            seconds += cell.seconds
            trace = trace or cell.trace
        n_candidates = min(e.numel() for e in errors)
        r = r_t(torch.stack([e[:n_candidates] for e in errors]))
        record.update(
            oracle_best=_mean(bests),
            oracle_median=_mean(medians),
            score_best=math.nan,
            score_median=math.nan,
            d_best=math.nan,
            surrogate_best=math.nan,
            oracle_top1=float(torch.stack([e[0] for e in errors]).mean()),
            surrogate_top1=_mean(predicted_top),
            gap=_mean(gaps),
            gap_abs=_mean(gaps_abs),
            gap_normalized=math.nan,
            gap_abs_normalized=math.nan,
            **{f"r_{t}": r[t] for t in T_VALUES},
            distance_to_data=_mean(distances),
            pairwise_distance=_mean(spreads),
            n_modes=_mean(modes),
            n_designs=n_candidates,
            n_invalid=invalid,
            evaluations=nfev,
            seconds=seconds,
        )
    record = {key: nan_to_none(value) for key, value in record.items()}
    record["trace"], record["designs"] = trace, designs
    return record


def _described(task: Task, X: Tensor) -> dict[str, float]:
    """The task's own measures of the returned designs ``X`` ``(k, d)`` (`Task.describe`), as ``design_<name>`` columns."""
    if task.describe is None:
        return {}
    return {f"design_{name}": float(value) for name, value in task.describe(X).items()}


def _both_judges(oracle: Tensor, predicted: Tensor) -> dict[str, list[float | None]]:
    """Each returned design's oracle energy and predicted energy (both ``(k,)``), as stored in ``results.json``."""
    return {"oracle": [nan_to_none(float(v)) for v in oracle], "surrogate": [nan_to_none(float(v)) for v in predicted]}


def _distance_to_data(problem: Problem, X: Tensor) -> float:
    """Mean distance from designs ``X`` ``(k, d)`` to their nearest training design, in the space's search coordinates."""
    with torch.no_grad():
        return float(DataDistance(problem.X, space=problem.task.space).distance(X.to(problem.X.dtype)).mean())


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def run(
    tasks: Sequence[str | Task],
    solvers: Sequence[str | SolverConfig],
    seeds: int | Sequence[int] = 3,
    *,
    out: str | os.PathLike[str] | None = None,
    k: int = 128,
    n_targets: int = 20,
    n_train: int | None = None,
    epochs: int | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    executor: Executor | Any | None = None,
    threads: int | None = None,
) -> pandas.DataFrame:
    """Run every solver configuration on every task for every seed; judge every design with the oracle.

    For each task and seed the offline data set is drawn (`Task.make_offline_data`: for minimize
    tasks the best designs are hidden) and the task's recommended surrogate is trained on it, once,
    and cached under ``out/cache`` (safetensors), as are the deep ensemble, the selected surrogate
    and the decoder when a configuration needs them. Latent configurations run only on tasks with a
    decoder, selected-surrogate configurations only on minimize tasks, a configuration only on the
    task kinds it names (`SolverConfig.kinds`), and a solver only on tasks whose space holds kinds of
    variables and constraints it declares (`invdesign.engine.Capabilities` ``variables`` and
    ``constraints`` against ``task.space.variable_kinds`` and ``constraint_kinds``). Each
    configuration then searches its model (minimize tasks: once; target tasks: once per test target)
    and returns ``k`` designs, which the oracle re-simulates. With ``out``, every finished cell is written to ``out/results.json``
    and ``out/results.csv`` at once (atomically), and a rerun with the same ``out`` skips the cells
    already finished with the same settings, so a killed run resumes where it stopped.

    With ``executor`` (any `concurrent.futures.Executor`, such as a Dask client's
    ``get_executor()`` or a ``ProcessPoolExecutor``; or a Dask ``Client``) the unfinished cells run
    in parallel (`invdesign.benchmark.parallel`): each task and seed is prepared once, its models
    trained into the cache by one job, then its cells fan out, and each record is stored as it
    comes back. The results are the same as a serial run's, every number but the times (bo and
    turbo compute each ask on one thread, so a worker's thread count does not change their
    designs). A cell whose worker
    died is submitted again (`invdesign.cluster.RETRIES` times), then recorded as failed: its row
    has an ``error`` and no metrics, and a rerun with the same ``out`` runs it again.

    Args:
        tasks: Task names (`invdesign.tasks.names()`) or `Task` objects (registered or not).
        solvers: Configuration names (`invdesign.benchmark.CONFIGS`) or `SolverConfig` objects.
        seeds: A number ``n`` for seeds ``0 .. n-1``, or the seeds themselves.
        out: Output folder for the results and the surrogate cache; ``None`` keeps nothing.
        k: Designs each configuration returns (the 128 of Design-Bench; at least 50 for r_50).
        n_targets: Test targets per target task and seed.
        n_train: Offline designs per task (``None``: each task's ``n_train``).
        epochs: Surrogate training epochs (``None``: each task's recommendation).
        device: Where the search runs.
        progress: Show a progress bar over the cells.
        executor: Where the cells run; ``None`` runs them here, one after another.
        threads: Torch threads of each worker's work (``None``: the workers' own setting); the
            embedded Dask cluster of ``invdesign bench --workers`` uses 1.

    Returns:
        A DataFrame with one row per task x solver x seed: ``task, solver, seed, kind, method``,
        ``model`` (the searched model, `model_label`);
        ``oracle_best`` and ``oracle_median`` (the oracle's energy of the best and the median of
        the ``k`` designs, 100th and 50th percentile; for target tasks the true squared error to
        the target, averaged over targets); ``score_best``, ``score_median`` (normalised scores,
        ``(y_max - y) / (y_max - y_min)`` over the task's reference sample; minimize tasks) and
        ``d_best`` (the same for the best training design); ``surrogate_best`` (the searched
        model's prediction for the ``oracle_best`` design), ``oracle_top1`` and ``surrogate_top1``
        (both judges on the design the solver ranks first), ``gap`` (mean of oracle minus
        prediction over the ``k`` designs: the exploitation gap, positive when the model was
        optimistic), ``gap_abs`` (mean of its absolute value: prediction error either way) and
        ``gap_normalized``, ``gap_abs_normalized`` (divided by ``y_max - y_min``); ``r_1, r_10, r_50``
        (target tasks); ``distance_to_data`` (mean distance from a returned design to its nearest
        training design, unit-cube coordinates: how far the search left the data);
        ``pairwise_distance`` and ``n_modes`` (`invdesign.diversity`: the designs' mean pairwise
        distance, and the number of distinct basins of the searched energy among them by
        `invdesign.diversity.count_basins`: a short descent from each design, end points
        grouped; per target averaged on target tasks); ``n_designs,
        n_invalid, evaluations`` (surrogate evaluations) and
        ``seconds`` (search wall time); ``design_<name>`` for each measure of a minimize task's
        ``describe`` (molecules: validity, uniqueness, novelty, diversity); ``fingerprint``. ``out/results.json`` also holds, per cell,
        the convergence trace (the oracle's energy of the best design so far against surrogate
        evaluations and seconds) and both judges' energies of every returned design (for target
        tasks: of the first target's run).

    Raises:
        ValueError: for an unknown task or configuration, duplicate configuration names, no
            seeds (or repeated ones), or a ``k`` below 1.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    task_list = [t if isinstance(t, Task) else get_task(t) for t in tasks]
    if len({t.name for t in task_list}) != len(task_list):
        raise ValueError(f"tasks must have distinct names, got {[t.name for t in task_list]}")
    configs = [get_config(s) for s in solvers]
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"solver configurations must have distinct names, got {names}")
    if isinstance(seeds, (str, bytes, float)) or isinstance(seeds, bool):
        raise TypeError(f"seeds must be a number n (seeds 0 .. n-1) or a sequence of integer seeds, got {seeds!r}")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [count("seed", s, minimum=0) for s in seeds]
    if not seed_list or len(set(seed_list)) != len(seed_list):
        raise ValueError(f"seeds must be a positive number or distinct seeds, got {seeds!r}")
    if not task_list or not configs:
        raise ValueError("run needs at least one task and one solver configuration")
    store = ResultStore(out) if out is not None else None
    settings = {"k": k, "n_targets": n_targets, "n_train": n_train, "epochs": epochs}

    cells = [(task, seed, config) for task in task_list for seed in seed_list for config in configs if _applies(config, task)]
    if not cells:
        raise ValueError(
            "no cell to run: a configuration runs on the task kinds it names, selected-surrogate "
            "configurations on minimize tasks only, latent configurations on tasks with a decoder, and a solver only on "
            "tasks whose variables and constraints it handles "
            f"(tasks {[t.name for t in task_list]}, solvers {names})"
        )
    records: dict[str, dict[str, Any] | None] = {}
    todo = []
    for task, seed, config in cells:
        key = cell_key(task.name, config.name, seed)
        records[key] = store.finished(key, _fingerprint(task, config, settings)) if store is not None else None
        if records[key] is None:
            todo.append((task, seed, config))
    cache = None if out is None else os.path.join(out, "cache")
    with tqdm(total=len(cells), initial=len(cells) - len(todo), desc="benchmark cells", unit="cell", disable=not progress) as bar:

        def finished(cell: tuple[Task, int, SolverConfig], record: dict[str, Any]) -> None:
            task, seed, config = cell
            record["fingerprint"] = _fingerprint(task, config, settings)
            if store is not None:
                store.add(record)
            records[cell_key(task.name, config.name, seed)] = record
            bar.update()

        if executor is None:
            problems: dict[tuple[str, int], Problem] = {}
            for task, seed, config in todo:
                bar.set_postfix_str(f"{task.name} / {config.name} / seed {seed}")
                if (task.name, seed) not in problems:
                    problems = {(task.name, seed): prepare(
                        task, seed, n_targets=n_targets, n_train=n_train, epochs=epochs, cache=cache, device=device,
                    )}
                finished((task, seed, config), run_cell(problems[(task.name, seed)], config, k=k))
        else:
            with contextlib.ExitStack() as stack:
                if cache is None:  # the workers need a cache folder to share the prepared models
                    cache = stack.enter_context(tempfile.TemporaryDirectory(prefix="invdesign-cache-"))
                shared = Settings(k, n_targets, n_train, epochs, cache, None if device is None else str(device), threads)
                for cell, record in sweep(as_executor(executor), todo, shared):
                    finished(cell, record)
    return frame(r for r in records.values() if r is not None)


def _applies(config: SolverConfig, task: Task) -> bool:
    """Whether ``config`` runs on ``task``: the task's kind must be one of the config's ``kinds``, surrogate
    selection needs a minimize task, latent search a decoder, and the solver must handle the kinds of variables and constraints of the task's space
    (`invdesign.engine.Capabilities`; a latent search runs in a box of reals) and the task's
    surrogate (a solver of piecewise-linear models needs a ReLU recipe and one output)."""
    if task.kind not in config.kinds or (task.kind != "minimize" and config.surrogate == "selected"):
        return False
    if config.latent:
        return task.decoder is not None
    caps = config.capabilities
    if caps.models == "piecewise_linear" and (task.surrogate.activation != "relu" or task.output_dim != 1 or config.surrogate != "task"):
        return False
    return task.space.variable_kinds <= caps.variables and task.space.constraint_kinds <= caps.constraints


HARNESS_VERSION = 5
"""Bumped when the harness measures cells differently, so older finished cells are recomputed."""


def _fingerprint(task: Task, config: SolverConfig, settings: dict[str, Any]) -> str:
    """A cell's settings: the config's fields, the run settings and the task's recipe (data, surrogate, decoder,
    and for a selected-surrogate configuration the recipes it chooses between).

    The oracle itself cannot be hashed: after changing a task's oracle, use a fresh output folder.
    """
    recipe = {
        "version": HARNESS_VERSION,
        "task": [task.name, task.kind, task.input_dim, task.n_train, task.hidden_fraction, task.n_reference],
        "surrogate": asdict(task.surrogate),
        "decoder": None if task.decoder is None else asdict(task.decoder),
        "settings": settings,
    }
    if config.surrogate == "selected":
        recipe["selection"] = selection_recipe(task)
    return f"{config.fingerprint()}-{digest(recipe)}"
