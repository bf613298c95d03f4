"""`SequenceVAE`: a variational autoencoder of token sequences (SELFIES molecules), GRU encoder and
autoregressive GRU decoder, trained with teacher forcing and KL annealing by `fit_sequence_vae`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional

from invdesign.models.checks import check_count, check_latent
from invdesign.models.train import Seeds, TrainConfig, first_parameter, noise_generator, split_rows, standard_normal, train

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
"""Ids of the padding, start and end tokens in every vocabulary (`invdesign.chem.Vocabulary`)."""
EVAL_CHUNK = 2048
"""Sequences per forward pass when evaluating."""


class SequenceVAE(nn.Module):
    """A VAE of token sequences ``(n, L)`` (start token, tokens, end token, padding) with a Gaussian
    latent code ``(n, latent_dim)``, in the manner of Gómez-Bombarelli et al. (2018) with SELFIES.

    The encoder embeds the tokens and runs a bidirectional GRU over them (padding packed away);
    its two final states give the mean and log-variance of ``q(z | s)``. The decoder starts its GRU
    from ``tanh(W z)`` and feeds ``z`` beside each previous token's embedding; a linear layer gives
    the next token's logits. Training reads the true previous tokens (teacher forcing); `generate`
    feeds back its own.

    Args:
        tokens: The vocabulary, ids in order, the first three padding, start and end (as
            `invdesign.chem.Vocabulary.tokens`); kept so that a saved model decodes on its own.
        length: Columns of an encoded batch (``max_len + 2``).
        latent_dim: Dimension of ``z``.
        embed_dim: Token embedding size.
        hidden: GRU state size (encoder per direction, and decoder).
        beta: Final weight of the KL term (reached by annealing in `fit_sequence_vae`).
    """

    def __init__(
        self, tokens: list[str], length: int, *, latent_dim: int = 32, embed_dim: int = 64, hidden: int = 256, beta: float = 0.1
    ) -> None:
        super().__init__()
        if len(tokens) < 4:
            raise ValueError(f"a vocabulary needs padding, start and end tokens and at least one more, got {len(tokens)} tokens")
        self.tokens = list(tokens)
        self.length = check_count(length, "length", minimum=3)
        self.latent_dim = check_count(latent_dim, "latent_dim")
        self.embed_dim = check_count(embed_dim, "embed_dim")
        self.hidden = check_count(hidden, "hidden")
        if not (isinstance(beta, (int, float)) and beta >= 0):
            raise ValueError(f"beta must be a non-negative number, got {beta!r}")
        self.beta = float(beta)
        v = len(tokens)
        self.embedding = nn.Embedding(v, embed_dim, padding_idx=PAD_ID)
        self.encoder = nn.GRU(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.to_moments = nn.Linear(2 * hidden, 2 * latent_dim)
        self.to_state = nn.Linear(latent_dim, hidden)
        self.decoder = nn.GRU(embed_dim + latent_dim, hidden, batch_first=True)
        self.to_logits = nn.Linear(hidden, v)

    @property
    def config(self) -> dict[str, Any]:
        """The constructor's arguments, for saving (`invdesign.models.save`)."""
        return {
            "tokens": self.tokens,
            "length": self.length,
            "latent_dim": self.latent_dim,
            "embed_dim": self.embed_dim,
            "hidden": self.hidden,
            "beta": self.beta,
        }

    def _check_ids(self, ids: Tensor) -> None:
        if ids.dtype != torch.long or ids.ndim != 2 or ids.shape[1] != self.length:
            raise ValueError(f"token ids must be a long tensor of shape (n, {self.length}), got {ids.dtype} {tuple(ids.shape)}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= len(self.tokens)):
            raise ValueError(f"token ids must lie in [0, {len(self.tokens)}), the vocabulary's size")

    def encode(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of ``q(z | ids)``, each ``(n, latent_dim)``, for token ids ``(n, length)``."""
        self._check_ids(ids)
        lengths = (ids != PAD_ID).sum(dim=1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        _, h = self.encoder(packed)
        mu, logvar = self.to_moments(torch.cat([h[0], h[1]], dim=-1)).chunk(2, dim=-1)
        return mu, logvar

    def _logits(self, z: Tensor, ids: Tensor) -> Tensor:
        """Next-token logits ``(n, length - 1, V)`` for every prefix of ``ids`` (teacher forcing)."""
        inputs = self.embedding(ids[:, :-1])
        inputs = torch.cat([inputs, z.unsqueeze(1).expand(-1, inputs.shape[1], -1)], dim=-1)
        out, _ = self.decoder(inputs, torch.tanh(self.to_state(z)).unsqueeze(0))
        return self.to_logits(out)

    def losses(self, ids: Tensor, eps: Tensor | None) -> tuple[Tensor, Tensor]:
        """Per-sequence reconstruction (summed cross-entropy of the tokens after the start, padding
        excluded) and KL, each ``(n,)``; ``eps`` ``(n, latent_dim)`` draws ``z``, ``None`` takes ``z = mu``."""
        mu, logvar = self.encode(ids)
        z = mu if eps is None else mu + eps * (0.5 * logvar).exp()
        logits = self._logits(z, ids)
        target = ids[:, 1:]
        ce = functional.cross_entropy(logits.transpose(1, 2), target, ignore_index=PAD_ID, reduction="none").sum(dim=1)
        kl = 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(dim=1)
        return ce, kl

    @torch.no_grad()
    def generate(self, z: Tensor, *, temperature: float = 0.0, seed: int | None = None) -> Tensor:
        """Token ids ``(n, length)`` decoded from latent codes ``z`` ``(n, latent_dim)``, all rows at once.

        Args:
            z: Latent codes.
            temperature: 0 for greedy decoding (the most likely token each step), else sampling
                from the softmax of the logits over ``temperature``.
            seed: Seeds the sampling.
        """
        check_latent(z, self.latent_dim)
        if not (isinstance(temperature, (int, float)) and temperature >= 0):
            raise ValueError(f"temperature must be a non-negative number, got {temperature!r}")
        param = first_parameter(self)
        z = z.to(device=param.device, dtype=param.dtype)
        n = z.shape[0]
        generator = noise_generator(seed) if temperature > 0 else None
        ids = torch.full((n, self.length), PAD_ID, dtype=torch.long, device=z.device)
        ids[:, 0] = BOS_ID
        h = torch.tanh(self.to_state(z)).unsqueeze(0)
        done = torch.zeros(n, dtype=torch.bool, device=z.device)
        token = ids[:, :1]
        for t in range(1, self.length):
            out, h = self.decoder(torch.cat([self.embedding(token), z.unsqueeze(1)], dim=-1), h)
            logits = self.to_logits(out[:, 0])
            logits[:, PAD_ID] = -torch.inf
            logits[:, BOS_ID] = -torch.inf
            if t == self.length - 1:
                nxt = torch.full((n,), EOS_ID, dtype=torch.long, device=z.device)
            elif temperature == 0:
                nxt = logits.argmax(dim=-1)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(z.device)
            ids[:, t] = torch.where(done, PAD_ID, nxt)
            done |= nxt == EOS_ID
            if bool(done.all()):
                break
            token = nxt.unsqueeze(1)
        return ids

    def forward(self, ids: Tensor) -> Tensor:
        """The mean latent codes ``(n, latent_dim)`` of token ids ``(n, length)`` (the encoder's mean)."""
        return self.encode(ids)[0]

    def extra_repr(self) -> str:
        return f"vocabulary={len(self.tokens)}, length={self.length}, latent_dim={self.latent_dim}, beta={self.beta}"


@dataclass(frozen=True)
class SequenceVAEReport:
    """What `fit_sequence_vae` did.

    Attributes:
        train_recon, train_kl: Per-epoch mean training reconstruction and KL per sequence.
        val_loss: Per-epoch validation loss (reconstruction at ``z = mu`` plus ``beta`` KL).
        token_accuracy: Share of the validation tokens that free-running greedy decoding of ``z = mu``
            reproduces, position by position, at the best epoch (`reconstruction_accuracy`).
        sequence_accuracy: Share of validation sequences reconstructed exactly by the same decoding.
        best_epoch, epochs_run, seconds: As the trainer reports them.
    """

    train_recon: list[float]
    train_kl: list[float]
    val_loss: list[float]
    token_accuracy: float
    sequence_accuracy: float
    best_epoch: int
    epochs_run: int
    seconds: float


def fit_sequence_vae(
    vae: SequenceVAE,
    ids: Tensor,
    *,
    epochs: int = 20,
    batch_size: int = 256,
    lr: float = 1e-3,
    anneal_epochs: int = 5,
    val_fraction: float = 0.05,
    seed: int | None = None,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> SequenceVAEReport:
    """Train a `SequenceVAE` with Adam on the negative ELBO, the KL weight rising linearly from 0
    to ``vae.beta`` over the first ``anneal_epochs`` (KL annealing, Bowman et al., 2016).

    Training runs through `invdesign.models.train.train`; the weights of the epoch with the lowest
    validation loss are kept.

    Args:
        vae: The model to train (in place).
        ids: Token ids ``(n, vae.length)`` (`invdesign.chem.Vocabulary.encode`).
        epochs: Passes over the training sequences.
        batch_size: Sequences per Adam step.
        lr: Adam's learning rate.
        anneal_epochs: Epochs over which the KL weight rises to ``vae.beta`` (0: from the start).
        val_fraction: Share of the sequences held out for validation, in ``(0, 1)``.
        seed: Seeds the split, the batch order and the latent noise.
        progress: Show a tqdm bar.
        device: Where to train; ``None`` keeps the model's device.

    Returns:
        A `SequenceVAEReport`.
    """
    if not isinstance(vae, SequenceVAE):
        raise TypeError(f"fit_sequence_vae trains a SequenceVAE, got {type(vae).__name__}")
    vae._check_ids(ids)
    anneal_epochs = check_count(anneal_epochs, "anneal_epochs", minimum=0)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, progress=progress, desc="fit_sequence_vae")
    seeds = Seeds.of(seed)
    train_rows, val_rows = split_rows(ids.shape[0], val_fraction, seeds.generator("split"))
    device = first_parameter(vae).device if device is None else torch.device(device)
    vae.to(device)
    ids = ids.to(device)
    train_set, val = ids[train_rows.to(device)], ids[val_rows.to(device)]
    noise = seeds.generator("noise")
    steps_per_epoch = max(1, -(-train_set.shape[0] // batch_size))
    step_count = [0]
    reference = first_parameter(vae)

    def step(batch: Tensor) -> tuple[Tensor, dict[str, Tensor | None]]:
        warm = 1.0 if anneal_epochs == 0 else min(1.0, step_count[0] / (anneal_epochs * steps_per_epoch))
        step_count[0] += 1
        eps = standard_normal(batch.numel(), vae.latent_dim, reference, noise)
        recon, kl = vae.losses(train_set[batch], eps)
        return (recon + warm * vae.beta * kl).mean(), {"recon": recon.mean(), "kl": kl.mean()}

    def validate() -> dict[str, float]:
        recon, kl = [], []
        for chunk in val.split(EVAL_CHUNK):
            r, k = vae.losses(chunk, None)
            recon.append(r)
            kl.append(k)
        return {"val": float((torch.cat(recon) + vae.beta * torch.cat(kl)).mean())}

    log = train(vae, step, config, seeds=seeds, n_rows=train_set.shape[0], validate=validate, monitor="val")
    token_accuracy, sequence_accuracy = reconstruction_accuracy(vae, val)
    return SequenceVAEReport(
        train_recon=log.train["recon"],
        train_kl=log.train["kl"],
        val_loss=log.val["val"],
        token_accuracy=token_accuracy,
        sequence_accuracy=sequence_accuracy,
        best_epoch=log.best,
        epochs_run=log.periods_run,
        seconds=log.seconds,
    )


def reconstruction_accuracy(vae: SequenceVAE, ids: Tensor) -> tuple[float, float]:
    """Shares of tokens and of whole sequences ``ids`` ``(n, length)`` that greedy decoding of their
    mean codes reproduces (tokens compared up to each sequence's own end token)."""
    vae.eval()
    right_tokens, total_tokens, right_sequences = 0, 0, 0
    with torch.no_grad():
        for chunk in ids.split(EVAL_CHUNK):
            out = vae.generate(vae.encode(chunk)[0])
            real = chunk != PAD_ID
            real[:, 0] = False
            same = (out == chunk) | ~real
            right_tokens += int(((out == chunk) & real).sum())
            total_tokens += int(real.sum())
            right_sequences += int(same.all(dim=1).sum())
    return right_tokens / max(total_tokens, 1), right_sequences / max(ids.shape[0], 1)
