"""The optional extras (``pip install -e ".[name]"``) and the one check that one is installed."""

from __future__ import annotations

import importlib.util

EXTRAS: dict[str, tuple[str, ...]] = {"chem": ("rdkit", "selfies"), "dask": ("dask", "distributed")}
"""Each extra's name and the modules it brings."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that are not installed (empty when it is)."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(extra: str) -> None:
    """Raise an `ImportError` naming the install command when a module of ``extra`` is missing."""
    absent = missing(extra)
    if absent:
        raise ImportError(f"{' and '.join(absent)} missing: install the {extra} extra with pip install -e \".[{extra}]\"")
