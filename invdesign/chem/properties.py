"""Property oracles of molecules from RDKit: QED, penalized logP, Tanimoto similarity.

Each takes SMILES strings (``None`` or an unreadable string for a failed decode) and returns a
float64 tensor ``(n,)`` with NaN where the molecule is missing: a failed design scores as
failed, it never raises.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

import torch
from rdkit import Chem, DataStructs, RDConfig
from rdkit.Chem import QED, Crippen, rdFingerprintGenerator
from torch import Tensor

from invdesign.chem.tokens import molecule

# Standardisation of penalized logP over ZINC250k, as in JT-VAE (Jin et al., 2018) and weighted
# retraining (Tripp et al., 2020): means and standard deviations of logP, -SA and -cycle.
LOGP_MEAN, LOGP_STD = 2.4570953396190123, 1.434324401111988
SA_MEAN, SA_STD = -3.0525811293166134, 0.8335207024513095
CYCLE_MEAN, CYCLE_STD = -0.0485696876403053, 0.2860212110245455

_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def _sascorer() -> ModuleType:
    """RDKit's contributed synthetic-accessibility scorer (Ertl and Schuffenhauer, 2009), shipped in the wheel."""
    path = os.path.join(RDConfig.RDContribDir, "SA_Score")
    if path not in sys.path:
        sys.path.append(path)
    return importlib.import_module("sascorer")


def molecules(smiles: Sequence[str | None]) -> list[Chem.Mol | None]:
    """RDKit molecules of SMILES strings (`invdesign.chem.tokens.molecule` of each)."""
    return [molecule(s) for s in smiles]


def qed(smiles: Sequence[str | None]) -> Tensor:
    """Quantitative estimate of drug-likeness (Bickerton et al., 2012), in ``[0, 1]``, ``(n,)``."""
    return torch.tensor([QED.qed(m) if m is not None else float("nan") for m in molecules(smiles)], dtype=torch.float64)


def penalized_logp(smiles: Sequence[str | None]) -> Tensor:
    """Penalized logP, standardised as in JT-VAE and weighted retraining, ``(n,)``.

    ``(logP - 2.457) / 1.434 + (-SA + 3.053) / 0.834 + (-cycle + 0.0486) / 0.286``, where logP is
    Crippen's octanol-water partition coefficient, SA the synthetic-accessibility score (1 easy to
    10 hard) and cycle the size of the largest ring beyond six atoms (``max(0, largest - 6)``);
    the constants are those papers' means and standard deviations over ZINC250k. Higher is better.
    """
    scorer = _sascorer()
    out = []
    for mol in molecules(smiles):
        if mol is None:
            out.append(float("nan"))
            continue
        rings = [len(ring) for ring in mol.GetRingInfo().AtomRings()]
        cycle = max(0, max(rings, default=0) - 6)
        out.append(
            (Crippen.MolLogP(mol) - LOGP_MEAN) / LOGP_STD
            + (-scorer.calculateScore(mol) - SA_MEAN) / SA_STD
            + (-cycle - CYCLE_MEAN) / CYCLE_STD
        )
    return torch.tensor(out, dtype=torch.float64)


def fingerprints(smiles: Sequence[str | None]) -> list[DataStructs.ExplicitBitVect | None]:
    """Morgan fingerprints (radius 2, 2,048 bits) of SMILES strings; ``None`` for a missing molecule."""
    return [_MORGAN.GetFingerprint(m) if m is not None else None for m in molecules(smiles)]


def similarity(smiles: Sequence[str | None], reference: str) -> Tensor:
    """Tanimoto similarity of Morgan fingerprints (radius 2, 2,048 bits) to ``reference``, ``(n,)``.

    Raises:
        ValueError: if RDKit cannot read ``reference``.
    """
    (ref,) = fingerprints([reference])
    if ref is None:
        raise ValueError(f"RDKit cannot read the reference molecule {reference!r}")
    return torch.tensor(
        [DataStructs.TanimotoSimilarity(fp, ref) if fp is not None else float("nan") for fp in fingerprints(smiles)],
        dtype=torch.float64,
    )
