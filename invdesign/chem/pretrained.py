"""The SELFIES VAE of MOSES molecules: trained once on a seeded subset, kept in the cache folder.

`moses_vae` loads it from `invdesign.files.cache_dir` when a model of the same recipe is there,
and otherwise trains it (a progress bar, then its time, reconstruction accuracy and the validity,
uniqueness and novelty of prior samples are printed) and saves it as safetensors with its
vocabulary.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import selfies as sf
import torch
from torch import Tensor

from invdesign.chem.moses import load_moses
from invdesign.chem.quality import set_quality
from invdesign.chem.tokens import Vocabulary, to_selfies, to_smiles
from invdesign.files import cache_dir, write_text
from invdesign.models.io import load, save
from invdesign.models.sequence_vae import SequenceVAE, SequenceVAEReport, fit_sequence_vae


@dataclass(frozen=True)
class Recipe:
    """How the MOSES VAE is trained; its fields name the cached file.

    Attributes:
        n_molecules: Size of the seeded MOSES subset (molecules longer than ``max_tokens`` SELFIES
            tokens are dropped from it).
        max_tokens: The longest SELFIES string kept.
        latent_dim, embed_dim, hidden, beta: The `SequenceVAE`'s.
        epochs, batch_size, lr, anneal_epochs: `fit_sequence_vae`'s.
        seed: Seeds the subset, the initial weights and training.
    """

    n_molecules: int = 50_000
    max_tokens: int = 72
    latent_dim: int = 32
    embed_dim: int = 64
    hidden: int = 128
    beta: float = 0.1
    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    anneal_epochs: int = 5
    seed: int = 0

    @property
    def file_name(self) -> str:
        return (
            f"moses-selfies-vae-n{self.n_molecules}-t{self.max_tokens}-z{self.latent_dim}-e{self.embed_dim}-h{self.hidden}"
            f"-b{self.beta:g}-ep{self.epochs}-bs{self.batch_size}-lr{self.lr:g}-a{self.anneal_epochs}-s{self.seed}.safetensors"
        )


@dataclass(frozen=True)
class MoleculeModel:
    """A trained SELFIES VAE with its vocabulary and training molecules.

    Attributes:
        vae: The model (eval mode).
        vocabulary: Its tokens.
        smiles: Canonical SMILES of the molecules it was trained on (validation share included).
        report: The training report when it was trained in this call, else ``None``.
    """

    vae: SequenceVAE
    vocabulary: Vocabulary
    smiles: list[str]
    report: SequenceVAEReport | None

    @functools.cached_property
    def training_set(self) -> frozenset[str]:
        """The training molecules as a set, for novelty."""
        return frozenset(self.smiles)

    def encode(self, smiles: list[str], *, batch: int = 4096) -> Tensor:
        """Mean latent codes ``(n, latent_dim)`` of SMILES strings RDKit and the vocabulary can read.

        Raises:
            ValueError: for a molecule that cannot be encoded (unreadable, a token outside the
                vocabulary, or too long).
        """
        selfies = to_selfies(smiles)
        bad = [i for i, s in enumerate(selfies) if s is None]
        if bad:
            raise ValueError(f"molecules {bad[:5]} cannot be read by RDKit or written as SELFIES")
        ids = self.vocabulary.encode([s for s in selfies if s is not None])
        with torch.no_grad():
            return torch.cat([self.vae.encode(chunk)[0] for chunk in ids.split(batch)])

    def decode(self, z: Tensor, *, temperature: float = 0.0, seed: int | None = None, batch: int = 4096) -> list[str | None]:
        """Canonical SMILES decoded from latent codes ``z`` ``(n, latent_dim)`` (greedy unless
        ``temperature > 0``); ``None`` where the decoded molecule is empty."""
        out: list[str | None] = []
        for chunk in z.split(batch):
            out += to_smiles(self.vocabulary.decode(self.vae.generate(chunk, temperature=temperature, seed=seed)))
        return out


def sample_quality(model: MoleculeModel, n: int = 10_000, *, seed: int = 0) -> dict[str, float]:
    """Validity, uniqueness and novelty (`invdesign.chem.quality.set_quality`, MOSES's definitions)
    of ``n`` greedy decodes of prior codes ``z ~ N(0, I)``."""
    z = torch.randn(n, model.vae.latent_dim, generator=torch.Generator().manual_seed(seed))
    return set_quality(model.decode(z), model.training_set, diversity=False)


def moses_vae(recipe: Recipe | None = None, *, progress: bool = True) -> MoleculeModel:
    """The MOSES SELFIES VAE of ``recipe`` (default `Recipe()`): loaded from the cache folder, or
    trained and saved there on first use (its time and quality printed)."""
    recipe = recipe or Recipe()
    path = cache_dir() / recipe.file_name
    selfies, molecules = _training_molecules(recipe, path.with_suffix(".molecules.json"))
    vocabulary = Vocabulary.from_selfies(selfies)
    if path.is_file():
        vae = load(path)
        if not isinstance(vae, SequenceVAE) or vae.tokens != vocabulary.tokens:
            raise ValueError(f"{path} does not hold the SELFIES VAE of this recipe's vocabulary: delete it to retrain")
        return MoleculeModel(vae, vocabulary, molecules, None)
    torch.manual_seed(recipe.seed)
    vae = SequenceVAE(
        vocabulary.tokens, vocabulary.length, latent_dim=recipe.latent_dim, embed_dim=recipe.embed_dim, hidden=recipe.hidden, beta=recipe.beta
    )
    start = time.perf_counter()
    report = fit_sequence_vae(
        vae,
        vocabulary.encode(selfies),
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        anneal_epochs=recipe.anneal_epochs,
        seed=recipe.seed,
        progress=progress,
    )
    save(vae, path)
    model = MoleculeModel(vae, vocabulary, molecules, report)
    quality = sample_quality(model)
    print(
        f"trained the MOSES SELFIES VAE on {len(selfies):,} molecules in {time.perf_counter() - start:.0f} s: "
        f"validation reconstruction {report.sequence_accuracy:.1%} of molecules ({report.token_accuracy:.1%} of tokens); "
        f"10,000 prior samples: validity {quality['validity']:.1%}, uniqueness {quality['uniqueness']:.1%}, "
        f"novelty {quality['novelty']:.1%}; saved to {path}"
    )
    return model


def _training_molecules(recipe: Recipe, path: Path) -> tuple[list[str], list[str]]:
    """The recipe's training molecules as SELFIES and canonical SMILES, kept in ``path`` (JSON)
    beside the weights so that a cached model loads without reading and converting MOSES again."""
    if path.is_file():
        kept = json.loads(path.read_text())
        return kept["selfies"], kept["smiles"]
    converted = to_selfies(load_moses(recipe.n_molecules, seed=recipe.seed))
    selfies = [s for s in converted if s is not None and sf.len_selfies(s) <= recipe.max_tokens]
    molecules = [m or "" for m in to_smiles(selfies)]
    write_text(path, json.dumps({"selfies": selfies, "smiles": molecules}))
    return selfies, molecules
