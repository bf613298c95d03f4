"""The optional extras (``pip install -e ".[name]"``) and the one check that one is installed."""

from __future__ import annotations

import importlib.util

EXTRAS: dict[str, tuple[str, ...]] = {"chem": ("rdkit", "selfies")}
"""Each extra's name and the modules it brings."""


def require(extra: str) -> None:
    """Raise an `ImportError` naming the install command when a module of ``extra`` is missing."""
    missing = [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"{' and '.join(missing)} missing: install the {extra} extra with pip install -e \".[{extra}]\"")
