"""Benchmark figures: convergence, normalised scores, and surrogate against oracle (exploitation)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from invdesign.benchmark.report import summarize
from invdesign.benchmark.store import frame


def save_all(records: Sequence[dict[str, Any]], folder: str | os.PathLike[str]) -> list[Path]:
    """Write ``convergence.png``, ``scores.png`` and ``exploitation.png`` for the cells ``records``.

    Args:
        records: Cell records as stored in ``results.json`` (with their traces and designs).
        folder: Where the PNG files go.

    Returns:
        The paths written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "convergence.png", folder / "scores.png", folder / "exploitation.png"]
    convergence(records, paths[0])
    scores(records, paths[1])
    exploitation(records, paths[2])
    return paths


def _tasks_and_colors(records: Sequence[dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    tasks = list(dict.fromkeys(r["task"] for r in records))
    solvers = list(dict.fromkeys(r["solver"] for r in records))
    cmap = matplotlib.colormaps["tab10" if len(solvers) <= 10 else "tab20"]
    return tasks, {s: cmap(i % cmap.N) for i, s in enumerate(solvers)}


def convergence(records: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """The oracle's energy of the best design so far, against surrogate evaluations (top row) and seconds (bottom row), one column per task.

    Every seed is a thin line; target tasks show the first target's run (true squared error, log scale).
    """
    tasks, colors = _tasks_and_colors(records)
    fig = Figure(figsize=(4.2 * len(tasks), 7))
    axes = fig.subplots(2, len(tasks), squeeze=False)
    for col, task in enumerate(tasks):
        cells = [r for r in records if r["task"] == task]
        for row, x_key in enumerate(("nfev", "seconds")):
            ax = axes[row][col]
            labelled = set()
            for r in cells:
                trace = r.get("trace") or {}
                xs, ys = trace.get(x_key, []), [math.nan if v is None else v for v in trace.get("oracle", [])]
                points = [(x, y) for x, y in zip(xs, ys) if x > 0 and math.isfinite(y)]
                if not points:
                    continue
                label = None if r["solver"] in labelled else r["solver"]
                labelled.add(r["solver"])
                ax.step(*zip(*points), where="post", color=colors[r["solver"]], alpha=0.7, lw=1, label=label)
            ax.set_xscale("log")
            if cells and cells[0]["kind"] == "target":
                ax.set_yscale("log")
            ax.set_xlabel("surrogate evaluations" if x_key == "nfev" else "seconds")
            if col == 0:
                ax.set_ylabel("oracle energy of the best design so far")
            if row == 0:
                ax.set_title(task + (" (first target)" if cells and cells[0]["kind"] == "target" else ""))
        axes[0][col].legend(fontsize=6)
    fig.suptitle("Convergence, judged by the oracle (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def scores(records: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Bars per task: the normalised 100th-percentile score (minimize tasks; dashed line: D(best)) or r_1 (target tasks), mean +- std over seeds."""
    tasks, colors = _tasks_and_colors(records)
    summary = summarize(frame(records))
    fig = Figure(figsize=(4.2 * len(tasks), 4))
    axes = fig.subplots(1, len(tasks), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rows = summary[summary["task"] == task]
        target = rows["kind"].iloc[0] == "target"
        column = "r_1" if target else "score_best"
        ax.bar(
            range(len(rows)),
            rows[f"{column}_mean"].fillna(0.0),
            yerr=rows[f"{column}_std"].fillna(0.0),
            color=[colors[s] for s in rows["solver"]],
            capsize=2,
        )
        ax.set_xticks(range(len(rows)), rows["solver"], rotation=60, ha="right", fontsize=7)
        if target:
            ax.set_yscale("log")
            ax.set_ylabel("r_1 (lower is better)")
        else:
            d_best = rows["d_best_mean"].iloc[0]
            if math.isfinite(d_best):
                ax.axhline(d_best, color="k", ls="--", lw=1, label="D(best)")
                ax.legend(fontsize=7)
            ax.set_ylabel("normalised score, 100th percentile")
        ax.set_title(task)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def exploitation(records: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Scatter per task: the searched model's predicted energy of each returned design against the oracle's.

    Points above the diagonal are designs the model was optimistic about: exploitation.
    """
    tasks, colors = _tasks_and_colors(records)
    fig = Figure(figsize=(4.2 * len(tasks), 4))
    axes = fig.subplots(1, len(tasks), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        lo, hi, labelled = math.inf, -math.inf, set()
        for r in (r for r in records if r["task"] == task):
            designs = r.get("designs") or {}
            pairs = [
                (s, o) for s, o in zip(designs.get("surrogate", []), designs.get("oracle", []))
                if s is not None and o is not None
            ]
            if not pairs:
                continue
            xs, ys = zip(*pairs)
            lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
            label = None if r["solver"] in labelled else r["solver"]
            labelled.add(r["solver"])
            ax.scatter(xs, ys, s=4, alpha=0.4, color=colors[r["solver"]], label=label)
        if math.isfinite(lo):
            ax.plot([lo, hi], [lo, hi], "k--", lw=1)
            if lo > 0 and any(r["kind"] == "target" for r in records if r["task"] == task):
                ax.set_xscale("log")
                ax.set_yscale("log")
        ax.set_xlabel("predicted energy (searched model)")
        ax.set_ylabel("oracle energy")
        ax.set_title(task)
        ax.legend(fontsize=6, markerscale=3)
    fig.suptitle("Exploitation: above the diagonal, the model promised more than the oracle gives")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
