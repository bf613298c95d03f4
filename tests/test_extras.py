"""Optional extras: without them the core works, and asking for one names the command that installs it."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from invdesign.extras import require


def test_a_missing_chemistry_extra_is_named(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "rdkit" else real(name, *a))
    monkeypatch.delitem(sys.modules, "invdesign.chem", raising=False)
    message = r"rdkit( and selfies)? missing: install the chem extra with pip install -e \"\.\[chem\]\""
    with pytest.raises(ImportError, match=message):
        require("chem")
    with pytest.raises(ImportError, match=message):
        import invdesign.chem  # noqa: F401


def test_a_molecule_task_without_the_extra_names_it(monkeypatch):
    import invdesign as ivd

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "selfies" else real(name, *a))
    assert "molecules_qed" in ivd.tasks.names()
    with pytest.raises(ImportError, match=r"selfies missing: install the chem extra"):
        ivd.tasks.get("molecules_qed")
