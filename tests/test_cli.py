from __future__ import annotations

import pytest

from invdesign.cli import main
from invdesign.demo import DemoRow, format_table


def test_demo_prints_surrogate_and_oracle_table(capsys):
    code = main(["demo", "--tasks", "sine", "branin", "--n-train", "300", "--epochs", "5", "--n-restarts", "8", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "| task | solver | surrogate energy | oracle |" in out
    for task in ("sine", "branin"):
        for solver in ("gd", "lbfgs"):
            assert f"| {task} | {solver} |" in out
    assert "total" in out


def test_demo_rejects_unknown_task(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--tasks", "nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_format_table_shows_regret_only_when_known():
    table = format_table([DemoRow("branin", "gd", 0.3, 0.41, 0.012, 100, 1.0), DemoRow("sine", "gd", 1e-6, 2e-4, None, 50, 0.5)])
    assert "| branin | gd | 0.3 | 0.41 | 0.012 | 100 | 1.00 |" in table
    assert "| sine | gd | 1e-06 | 0.0002 |  | 50 | 0.50 |" in table
