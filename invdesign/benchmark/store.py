"""The results file of a benchmark run: finished cells, rewritten atomically after every cell.

``results.json`` holds ``{"format": 1, "cells": [record, ...]}``; each record is one task x solver
x seed cell (its metrics, its convergence trace, and both judges' energies of its designs). It is written beside its final name and
moved into place, so a run killed at any moment leaves either the previous file or the new one,
never a torn one; a rerun with the same output folder reads it and skips every finished cell
whose settings are unchanged. ``results.csv`` is the same table without the traces and designs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas

from invdesign.files import write_text

FORMAT = 1
JSON_ONLY = ("trace", "designs")
"""Record fields left out of the CSV: the convergence trace, and both judges' energies of each returned design."""


def digest(description: Any, *data: bytes, length: int = 16) -> str:
    """The first ``length`` hex digits of a SHA-256 of a JSON-able ``description`` and raw ``data``.

    The fingerprint of a finished cell or of a cached model: equal only for equal inputs.
    """
    sha = hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode())
    for chunk in data:
        sha.update(chunk)
    return sha.hexdigest()[:length]


def cell_key(task: str, solver: str, seed: int) -> str:
    """The identifier of a cell."""
    return f"{task}|{solver}|{seed}"


class ResultStore:
    """Finished cells of one output folder.

    Args:
        folder: The run's output folder; ``results.json`` and ``results.csv`` live there.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"the output folder {str(self.folder)!r} is a file; give a folder")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"cannot create the output folder {str(self.folder)!r}: {err.strerror}") from err
        if not os.access(self.folder, os.W_OK):
            raise ValueError(f"the output folder {str(self.folder)!r} is not writable")
        self.json_path = self.folder / "results.json"
        self.csv_path = self.folder / "results.csv"
        self.records: dict[str, dict[str, Any]] = {}
        if self.json_path.exists():
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.json_path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{self.json_path} is not a readable results file ({err}); move it away to start afresh"
            ) from err
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("cells"), list):
            raise ValueError(f"{self.json_path} is not an invdesign results file (format {FORMAT})")
        for i, record in enumerate(data["cells"]):
            if not isinstance(record, dict) or not {"task", "solver", "seed"} <= record.keys():
                raise ValueError(
                    f"{self.json_path}: cell {i} is not a result record (it needs task, solver and seed); "
                    "move the file away to start afresh"
                )
            self.records[cell_key(record["task"], record["solver"], record["seed"])] = record

    def finished(self, key: str, fingerprint: str) -> dict[str, Any] | None:
        """The record of cell ``key`` if it was finished with the same settings ``fingerprint``
        (a cell recorded as failed, with an ``error``, is not finished)."""
        record = self.records.get(key)
        return record if record is not None and record.get("fingerprint") == fingerprint and "error" not in record else None

    def add(self, record: dict[str, Any]) -> None:
        """Record a finished cell and rewrite both files atomically."""
        self.records[cell_key(record["task"], record["solver"], record["seed"])] = record
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text(self.json_path, json.dumps({"format": FORMAT, "cells": list(self.records.values())}, default=_json_value))
        write_text(self.csv_path, self.table().to_csv(index=False))

    def table(self, keys: list[str] | None = None) -> pandas.DataFrame:
        """The records (those of ``keys``, in that order, if given) as a DataFrame, one row per cell, traces left out."""
        records = self.records.values() if keys is None else [self.records[k] for k in keys if k in self.records]
        return frame(records)


def frame(records: Iterable[dict[str, Any]]) -> pandas.DataFrame:
    """Cell records as a DataFrame, one row per cell: traces and designs left out, null metrics back to NaN."""
    return pandas.DataFrame(
        [{k: math.nan if v is None else v for k, v in r.items() if k not in JSON_ONLY} for r in records]
    )


def _json_value(value: Any) -> Any:
    """JSON fallback for values ``json`` does not know (NumPy scalars)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a results file")


def nan_to_none(value: float) -> float | None:
    """JSON has no NaN or infinity: store them as null (read back as NaN)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
