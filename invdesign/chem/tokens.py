"""SMILES <-> SELFIES, and the token vocabulary a sequence model reads and writes.

SELFIES (Krenn et al., 2020) is a string grammar in which every sequence of tokens decodes to a
valid molecule, so a decoder that emits SELFIES tokens never produces an invalid string.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import selfies as sf
import torch
from rdkit import Chem, RDLogger
from torch import Tensor

from invdesign.models.sequence_vae import BOS_ID, EOS_ID, PAD_ID

RDLogger.DisableLog("rdApp.*")

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIAL = (PAD, BOS, EOS)
"""Padding, start and end tokens, the first of every vocabulary: ids `PAD_ID`, `BOS_ID` and `EOS_ID`."""


def molecule(smiles: str | None) -> Chem.Mol | None:
    """The RDKit molecule of a SMILES string; ``None`` where there is none with at least one atom."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return mol if mol is not None and mol.GetNumAtoms() > 0 else None


def to_selfies(smiles: Iterable[str]) -> list[str | None]:
    """SELFIES strings of SMILES strings, canonicalised by RDKit first; ``None`` where RDKit or
    ``selfies`` cannot read one."""
    out: list[str | None] = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s) if s else None
        if mol is None:
            out.append(None)
            continue
        try:
            out.append(sf.encoder(Chem.MolToSmiles(mol)))
        except sf.EncoderError:
            out.append(None)
    return out


def to_smiles(selfies: Iterable[str]) -> list[str | None]:
    """Canonical SMILES of SELFIES strings; ``None`` for an empty molecule or one RDKit cannot read."""
    out: list[str | None] = []
    for s in selfies:
        try:
            mol = molecule(sf.decoder(s))
        except sf.DecoderError:
            mol = None
        out.append(Chem.MolToSmiles(mol) if mol is not None else None)
    return out


class Vocabulary:
    """The SELFIES tokens of a data set, with padding, start and end tokens, and the maps between
    strings and id tensors.

    Args:
        tokens: The SELFIES tokens (``"[C]"``, ``"[=O]"``, ...), without the special ones.
        max_len: The longest sequence in tokens, without start and end; longer ones are refused.
    """

    def __init__(self, tokens: Sequence[str], max_len: int) -> None:
        if not tokens:
            raise ValueError("a vocabulary needs at least one SELFIES token")
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
        special = set(SPECIAL) & set(tokens)
        if special:
            raise ValueError(f"the tokens {sorted(special)} are reserved for padding, start and end")
        self.tokens: list[str] = [*SPECIAL, *sorted(set(tokens))]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.max_len = max_len

    @classmethod
    def from_selfies(cls, selfies: Iterable[str]) -> Vocabulary:
        """The vocabulary of a list of SELFIES strings, ``max_len`` their longest."""
        tokens: set[str] = set()
        longest = 0
        for s in selfies:
            split = list(sf.split_selfies(s))
            tokens.update(split)
            longest = max(longest, len(split))
        return cls(sorted(tokens), max(longest, 1))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def length(self) -> int:
        """Columns of an encoded batch: ``max_len`` plus the start and end tokens."""
        return self.max_len + 2

    def encode(self, selfies: Sequence[str], *, device: torch.device | str | None = None) -> Tensor:
        """Token ids ``(n, max_len + 2)`` (long): start, the tokens, end, then padding.

        Raises:
            ValueError: for a token outside the vocabulary or a string longer than ``max_len``.
        """
        ids = torch.zeros(len(selfies), self.length, dtype=torch.long)
        for i, s in enumerate(selfies):
            split = list(sf.split_selfies(s))
            if len(split) > self.max_len:
                raise ValueError(f"SELFIES string {i} has {len(split)} tokens, more than the vocabulary's max_len={self.max_len}")
            unknown = [t for t in split if t not in self.index]
            if unknown:
                raise ValueError(f"SELFIES string {i} has tokens outside the vocabulary: {sorted(set(unknown))}")
            ids[i, 0] = BOS_ID
            ids[i, 1 : len(split) + 1] = torch.tensor([self.index[t] for t in split], dtype=torch.long)
            ids[i, len(split) + 1] = EOS_ID
        return ids.to(device)

    def decode(self, ids: Tensor) -> list[str]:
        """SELFIES strings of token ids ``(n, L)``: the tokens up to the first end token, special tokens dropped."""
        if ids.ndim != 2:
            raise ValueError(f"token ids must have shape (n, L), got {tuple(ids.shape)}")
        out = []
        for row in ids.tolist():
            parts = []
            for i in row:
                if i == EOS_ID:
                    break
                if i not in (PAD_ID, BOS_ID):
                    parts.append(self.tokens[i])
            out.append("".join(parts))
        return out

    def to_dict(self) -> dict[str, object]:
        """A JSON-able description, for saving beside a model's weights."""
        return {"tokens": self.tokens[len(SPECIAL) :], "max_len": self.max_len}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Vocabulary:
        """The vocabulary `to_dict` described."""
        tokens, max_len = d["tokens"], d["max_len"]
        if not isinstance(tokens, list) or not isinstance(max_len, int):
            raise ValueError("a vocabulary description needs a list of tokens and an integer max_len")
        return cls(tokens, max_len)
