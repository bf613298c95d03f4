"""The MOSES training set (Polykovskiy et al., 2020), read from the installed ``molsets`` wheel."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import torch

MOSES_INSTALL = 'pip install --no-deps "molsets==0.3.1"'
"""The command that installs the MOSES data (its wheel's pinned dependencies are stale and unneeded)."""


def moses_path() -> Path:
    """The path of ``train.csv.gz`` in the installed ``molsets`` package.

    Raises:
        FileNotFoundError: naming the install command when the package or its file is missing.
    """
    spec = importlib.util.find_spec("moses")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"the MOSES data come with the molsets package: install it with {MOSES_INSTALL}")
    path = Path(spec.origin).parent / "dataset" / "data" / "train.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"the installed moses package has no {path}: reinstall it with {MOSES_INSTALL}")
    return path


def load_moses(n: int | None = None, *, seed: int = 0) -> list[str]:
    """SMILES of the MOSES training set (1,584,663 molecules), or a seeded random subset of ``n`` of them.

    Args:
        n: How many molecules; ``None`` for all.
        seed: Seed of the subset (the same ``n`` and ``seed`` give the same molecules, in the same order).
    """
    with gzip.open(moses_path(), "rt") as f:
        lines = f.read().splitlines()
    smiles = [line.split(",")[0] for line in lines[1:] if line]
    if n is None:
        return smiles
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= len(smiles):
        raise ValueError(f"n must be an integer in [1, {len(smiles)}], got {n!r}")
    order = torch.randperm(len(smiles), generator=torch.Generator().manual_seed(seed))[:n]
    return [smiles[i] for i in order.tolist()]
