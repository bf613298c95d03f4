"""Every notebook under notebooks/ runs top to bottom (code cells executed in one namespace, headless)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

from invdesign.extras import missing

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch, tmp_path):
    notebook = json.loads(path.read_text())
    extra = notebook["metadata"].get("invdesign", {}).get("extra")
    if extra is not None and (absent := missing(extra)):
        pytest.skip(f'{path.name} needs the {extra} extra ({", ".join(absent)} missing): pip install -e ".[{extra}]"')
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INVDESIGN_CACHE", str(tmp_path / "cache"))  # models a notebook trains stay out of the user's cache
    cells = notebook["cells"]
    namespace: dict = {"__name__": "__main__"}
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{path.name}[cell {i}]", "exec"), namespace)
