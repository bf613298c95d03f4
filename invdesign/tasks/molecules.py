"""Molecule tasks (the ``[chem]`` extra): latent-space design through the MOSES SELFIES VAE, judged by RDKit.

The design is a latent code ``z`` of `invdesign.chem.pretrained.moses_vae`, in the box
``[-LATENT_BOUND, LATENT_BOUND]^latent_dim``; the oracle decodes it greedily to a molecule and
scores it with RDKit (`invdesign.chem.qed`, `invdesign.chem.penalized_logp`), negated so that
lower is better; a code that decodes to no molecule scores NaN (a failed design). The prior is the
codes (encoder means, clamped to the box) of the VAE's training molecules, so the offline data are
training molecules as the VAE sees them, with the oracle's value of their decodes. The VAE is loaded (or trained,
once) at the task's first use, not when the registry is imported.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from invdesign.space import Box
from invdesign.tasks.base import Task

if TYPE_CHECKING:
    from invdesign.chem.pretrained import MoleculeModel, Recipe

Property = Literal["qed", "plogp"]
LATENT_BOUND = 3.0
"""Half-width of the latent box: three prior standard deviations."""
QED_CEILING = 0.948
"""The highest QED reported for any molecule (Bickerton et al., 2012; the ceiling the literature's
optimizers reach), the optimum of ``molecules_qed`` (negated)."""
BUDGET = 500
"""Oracle calls of a black-box run (the issue's protocol: 500 per seed)."""


def molecule_task(
    prop: Property,
    *,
    recipe: Recipe | None = None,
    name: str | None = None,
    similar_to: str | None = None,
    min_similarity: float = 0.4,
    n_reference: int = 10_000,
) -> Task:
    """The task of maximizing ``prop`` (``"qed"`` or ``"plogp"``) over the latent space of the
    MOSES VAE of ``recipe`` (default `invdesign.chem.pretrained.Recipe()`).

    With ``similar_to`` (a SMILES string) it is the similarity-constrained variant of JT-VAE's
    benchmark: improve ``prop`` while staying near a start molecule. A decode whose Tanimoto
    similarity (Morgan, radius 2) to ``similar_to`` is below ``min_similarity`` is a failed
    design (NaN), as an empty decode is.

    ``n_reference`` prior codes set the range of the benchmark's normalised score
    (`Task.reference_range`); each is decoded and scored once.

    The task's ``describe`` gives the validity, uniqueness, novelty against the VAE's training
    molecules, and internal diversity of a set of codes' decodes (`invdesign.chem.quality.set_quality`).

    Raises:
        ValueError: for an unknown ``prop``, a ``min_similarity`` outside ``(0, 1]``, or a
            ``similar_to`` RDKit cannot read.
        ImportError: naming the extra when RDKit or ``selfies`` is missing.
    """
    from invdesign.extras import require

    require("chem")
    from invdesign import chem
    from invdesign.chem.pretrained import Recipe, moses_vae
    from invdesign.chem.quality import set_quality

    if prop not in ("qed", "plogp"):
        raise ValueError(f"prop must be 'qed' or 'plogp', got {prop!r}")
    if not (isinstance(min_similarity, (int, float)) and 0 < min_similarity <= 1):
        raise ValueError(f"min_similarity must lie in (0, 1], got {min_similarity!r}")
    if similar_to is not None and chem.molecule(similar_to) is None:
        raise ValueError(f"RDKit cannot read the start molecule {similar_to!r}")
    recipe = recipe or Recipe()

    @functools.cache
    def model() -> MoleculeModel:
        """The task's VAE, loaded (or trained) on first use and kept."""
        return moses_vae(recipe)

    def score(smiles: list[str | None]) -> Tensor:
        values = chem.qed(smiles) if prop == "qed" else chem.penalized_logp(smiles)
        if similar_to is not None:
            values = torch.where(chem.similarity(smiles, similar_to) >= min_similarity, values, torch.nan)
        return values

    def describe(z: Tensor) -> dict[str, float]:
        m = model()
        return set_quality(m.decode(z.detach().cpu().float()), m.training_set)

    def oracle(z: Tensor) -> Tensor:
        values = -score(model().decode(z.detach().cpu().float()))
        return values.to(dtype=z.dtype, device=z.device)

    def prior(n: int, generator: torch.Generator) -> Tensor:
        m = model()
        rows = torch.randint(len(m.smiles), (n,), generator=generator)
        return m.encode([m.smiles[i] for i in rows.tolist()]).double().clamp(-LATENT_BOUND, LATENT_BOUND)

    reference = {
        "qed": "Gómez-Bombarelli et al. 2018 (latent-space design); QED: Bickerton et al. 2012",
        "plogp": "Gómez-Bombarelli et al. 2018; penalized logP as in JT-VAE (Jin et al. 2018)",
    }[prop]
    if similar_to is not None:
        reference += f"; similarity-constrained as in JT-VAE (Tanimoto >= {min_similarity:g} to the start molecule)"
    return Task(
        name=name or (f"molecules_{prop}" if similar_to is None else f"molecules_{prop}_near"),
        oracle=oracle,
        space=Box(-LATENT_BOUND, LATENT_BOUND, dim=recipe.latent_dim),
        kind="minimize",
        prior=prior,
        optimum=-QED_CEILING if prop == "qed" and similar_to is None else None,
        reference=reference,
        n_train=5000,
        budget=BUDGET,
        n_reference=n_reference,
        describe=describe,
    )


FACTORIES: dict[str, Callable[[], Task]] = {
    "molecules_qed": lambda: molecule_task("qed"),
    "molecules_plogp": lambda: molecule_task("plogp"),
}
"""The molecule tasks the registry builds on first request (they need the ``[chem]`` extra)."""
