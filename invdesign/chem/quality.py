"""How good a set of generated molecules is as a set: validity, uniqueness, novelty, internal diversity.

The definitions follow MOSES (Polykovskiy et al., 2020): validity is the share of the molecules
that exist (a SELFIES decode is always a valid molecule unless it is empty), uniqueness the share
of distinct molecules among the valid ones, novelty the share of the distinct ones that are not in
the training set, and internal diversity the mean Tanimoto distance between the Morgan
fingerprints of two different distinct molecules.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rdkit import DataStructs

from invdesign.chem.properties import fingerprints


def internal_diversity(smiles: Sequence[str]) -> float:
    """Mean Tanimoto distance ``1 - T(a, b)`` of Morgan fingerprints (radius 2, 2,048 bits) over
    the pairs of distinct molecules among ``smiles``; NaN for fewer than two distinct molecules."""
    fps = [fp for fp in fingerprints(sorted(set(smiles))) if fp is not None]
    if len(fps) < 2:
        return float("nan")
    total = 0.0
    for i in range(1, len(fps)):
        total += sum(1.0 - s for s in DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i]))
    return total / (len(fps) * (len(fps) - 1) / 2)


def set_quality(smiles: Sequence[str | None], training: Collection[str], *, diversity: bool = True) -> dict[str, float]:
    """Validity, uniqueness, novelty and internal diversity of generated molecules.

    Args:
        smiles: Canonical SMILES of the generated molecules, ``None`` for an empty decode.
        training: Canonical SMILES of the training molecules (a set is fastest).
        diversity: Measure internal diversity too (quadratic in the number of distinct molecules).

    Returns:
        ``{"validity", "uniqueness", "novelty", "diversity"}``, each in ``[0, 1]`` (NaN where
        there is nothing to measure: uniqueness and novelty with no valid molecule, diversity
        with fewer than two distinct ones); without ``diversity`` its key is left out.
    """
    valid = [s for s in smiles if s]
    unique = set(valid)
    quality = {
        "validity": len(valid) / len(smiles) if smiles else float("nan"),
        "uniqueness": len(unique) / len(valid) if valid else float("nan"),
        "novelty": len([s for s in unique if s not in training]) / len(unique) if unique else float("nan"),
    }
    if diversity:
        quality["diversity"] = internal_diversity(valid)
    return quality
