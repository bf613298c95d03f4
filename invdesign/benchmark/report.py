"""Benchmark tables: mean +- std over seeds per task and solver, the best of each task in bold."""

from __future__ import annotations

import math

import pandas

# (column, header, higher is better) for each task kind; the first column decides the bold row.
COLUMNS = {
    "minimize": [
        ("score_best", "score 100th", True),
        ("score_median", "score 50th", True),
        ("d_best", "D(best)", True),
        ("gap_normalized", "gap", False),
        ("gap_abs_normalized", "abs gap", False),
        ("distance_to_data", "distance to data", False),
        ("n_modes", "modes", True),
        ("evaluations", "evaluations", False),
        ("seconds", "seconds", False),
    ],
    "target": [
        ("r_1", "r_1", False),
        ("r_10", "r_10", False),
        ("r_50", "r_50", False),
        ("gap", "gap", False),
        ("gap_abs", "abs gap", False),
        ("distance_to_data", "distance to data", False),
        ("n_modes", "modes", True),
        ("evaluations", "evaluations", False),
        ("seconds", "seconds", False),
    ],
}
TITLES = {
    "minimize": "Offline minimization: normalised oracle score of the best (100th) and median (50th) of the k designs",
    "target": "Target matching: r_T, mean over targets of the smallest true squared error among the first T designs",
}


def summarize(table: pandas.DataFrame) -> pandas.DataFrame:
    """Mean and population std over seeds of every numeric column, per task and solver.

    Args:
        table: The per-cell table `invdesign.benchmark.run` returns.

    Returns:
        One row per ``(task, solver)`` in the order they first appear, with ``<column>_mean``,
        ``<column>_std`` and ``n_seeds``.
    """
    numeric = [c for c in table.columns if c not in ("task", "solver", "seed", "kind", "method", "model", "fingerprint")]
    rows = []
    for (task, solver), group in table.groupby(["task", "solver"], sort=False):
        row = {"task": task, "solver": solver, "kind": group["kind"].iloc[0], "n_seeds": len(group)}
        for column in numeric:
            values = pandas.to_numeric(group[column], errors="coerce")
            row[f"{column}_mean"] = values.mean()
            row[f"{column}_std"] = values.std(ddof=0)
        rows.append(row)
    return pandas.DataFrame(rows)


def markdown(table: pandas.DataFrame) -> str:
    """Markdown tables of a benchmark run, one per task kind present, the best mean per task in bold.

    Args:
        table: The per-cell table `invdesign.benchmark.run` returns.
    """
    summary = summarize(table)
    parts = []
    for kind, columns in COLUMNS.items():
        block = summary[summary["kind"] == kind]
        if block.empty:
            continue
        columns = _with_design_columns(columns, block)
        key, _, higher = columns[0]
        lines = [
            f"### {TITLES[kind]}",
            "",
            "| task | solver | seeds | " + " | ".join(header for _, header, _ in columns) + " |",
            "|---|---|---:|" + "---:|" * len(columns),
        ]
        for task, rows in block.groupby("task", sort=False):
            means = rows[f"{key}_mean"]
            best = means.max() if higher else means.min()
            for _, row in rows.iterrows():
                cells = [_cell(row, column) for column, _, _ in columns]
                if math.isfinite(best) and row[f"{key}_mean"] == best:
                    cells[0] = f"**{cells[0]}**"
                lines.append(f"| {task} | {row['solver']} | {row['n_seeds']} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _with_design_columns(columns: list[tuple[str, str, bool]], block: pandas.DataFrame) -> list[tuple[str, str, bool]]:
    """``columns`` with a task's own measures of its designs (``design_<name>``, `invdesign.tasks.Task.describe`)
    inserted before the evaluations, where any row of ``block`` has them."""
    names = [c[: -len("_mean")] for c in block.columns if c.startswith("design_") and c.endswith("_mean") and block[c].notna().any()]
    at = [column for column, _, _ in columns].index("evaluations")
    return [*columns[:at], *((name, name[len("design_"):], True) for name in names), *columns[at:]]


def _cell(row: pandas.Series, column: str) -> str:
    if f"{column}_mean" not in row:
        return "-"
    mean, std = row[f"{column}_mean"], row[f"{column}_std"]
    if not math.isfinite(mean):
        return "-"
    if column == "evaluations":
        return f"{mean:,.0f}"
    if column == "seconds":
        return f"{mean:.2f}"
    if column.startswith("score") or column == "d_best":
        return f"{mean:.3f} +- {std:.3f}"
    return f"{mean:.3g} +- {std:.2g}"
