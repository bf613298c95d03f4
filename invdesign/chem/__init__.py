"""Molecules (the optional ``[chem]`` extra): SELFIES tokens, RDKit property oracles and the MOSES data.

Install with ``pip install -e ".[chem]"`` (RDKit and ``selfies``), and the MOSES training set with
``pip install --no-deps molsets==0.3.1`` (its wheel bundles the data; its pinned dependencies are
stale and not needed). Nothing here is imported by ``import invdesign``; importing
``invdesign.chem`` without the extra raises an `ImportError` that names it.
"""

from __future__ import annotations

from invdesign.extras import require

require("chem")

from invdesign.chem.properties import penalized_logp, qed, similarity  # noqa: E402
from invdesign.chem.quality import internal_diversity, set_quality  # noqa: E402
from invdesign.chem.tokens import Vocabulary, molecule, to_selfies, to_smiles  # noqa: E402

__all__ = [
    "Vocabulary", "internal_diversity", "molecule", "penalized_logp", "qed", "set_quality", "similarity", "to_selfies", "to_smiles",
]
