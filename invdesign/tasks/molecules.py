"""Molecule tasks (the ``[chem]`` extra): latent-space design through the MOSES SELFIES VAE, judged by RDKit.

The design is a latent code ``z`` of `invdesign.chem.pretrained.moses_vae`, in the box
``[-LATENT_BOUND, LATENT_BOUND]^latent_dim``; the oracle decodes it greedily to a molecule and
scores it with RDKit (`invdesign.chem.qed`, `invdesign.chem.penalized_logp`), negated so that
lower is better; a code that decodes to no molecule scores NaN (a failed design). The prior is the
codes (encoder means) of the VAE's training molecules, so the offline data are training molecules
as the VAE sees them, with the oracle's value of their decodes. The VAE is loaded (or trained,
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


def molecule_task(prop: Property, *, recipe: Recipe | None = None, name: str | None = None) -> Task:
    """The task of maximizing ``prop`` (``"qed"`` or ``"plogp"``) over the latent space of the
    MOSES VAE of ``recipe`` (default `invdesign.chem.pretrained.Recipe()`)."""
    from invdesign.extras import require

    require("chem")
    from invdesign.chem.pretrained import Recipe, moses_vae

    if prop not in ("qed", "plogp"):
        raise ValueError(f"prop must be 'qed' or 'plogp', got {prop!r}")
    recipe = recipe or Recipe()

    @functools.cache
    def model() -> MoleculeModel:
        """The task's VAE, loaded (or trained) on first use and kept."""
        return moses_vae(recipe)

    def score(smiles: list[str | None]) -> Tensor:
        from invdesign import chem

        return chem.qed(smiles) if prop == "qed" else chem.penalized_logp(smiles)

    def oracle(z: Tensor) -> Tensor:
        values = -score(model().decode(z.detach().cpu().float()))
        return values.to(dtype=z.dtype, device=z.device)

    def prior(n: int, generator: torch.Generator) -> Tensor:
        m = model()
        rows = torch.randint(len(m.smiles), (n,), generator=generator)
        return m.encode([m.smiles[i] for i in rows.tolist()]).double()

    reference = {
        "qed": "Gómez-Bombarelli et al. 2018 (latent-space design); QED: Bickerton et al. 2012",
        "plogp": "Gómez-Bombarelli et al. 2018; penalized logP as in JT-VAE (Jin et al. 2018)",
    }[prop]
    return Task(
        name=name or f"molecules_{prop}",
        oracle=oracle,
        space=Box(-LATENT_BOUND, LATENT_BOUND, dim=recipe.latent_dim),
        kind="minimize",
        prior=prior,
        optimum=-QED_CEILING if prop == "qed" else None,
        reference=reference,
        n_train=5000,
        budget=BUDGET,
        n_reference=10_000,
    )


FACTORIES: dict[str, Callable[[], Task]] = {
    "molecules_qed": lambda: molecule_task("qed"),
    "molecules_plogp": lambda: molecule_task("plogp"),
}
"""The molecule tasks the registry builds on first request (they need the ``[chem]`` extra)."""
