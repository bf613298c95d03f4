"""The one check that the ``[chem]`` extra is installed."""

from __future__ import annotations

import importlib.util

EXTRA = 'pip install -e ".[chem]"'
"""The command that installs the chemistry extra."""


def require() -> None:
    """Raise an `ImportError` naming the extra when RDKit or ``selfies`` is missing."""
    missing = [name for name in ("rdkit", "selfies") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"invdesign.chem needs {' and '.join(missing)}: install the chemistry extra with {EXTRA}")
