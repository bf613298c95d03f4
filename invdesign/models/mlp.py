"""A multilayer-perceptron regressor that standardises its own inputs and outputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
}


class MLP(nn.Module):
    """A fully connected regressor ``(b, in_dim) -> (b, out_dim)`` in raw units.

    The network works in standardised units: ``forward`` computes
    ``y = y_mean + y_std * net((x - x_mean) / x_std)``. The four statistics are registered buffers
    (so they are saved with the weights and follow ``.to()``); they default to 0 and 1 and are set
    from the training data by :func:`invdesign.models.fit`.

    Args:
        in_dim: Number of input features ``d``.
        out_dim: Number of outputs.
        hidden: Widths of the hidden layers, input side first; empty for a linear model.
        activation: Name of the nonlinearity, one of ``ACTIVATIONS``.
        batch_norm: Put a ``BatchNorm1d`` after every hidden linear layer.
        dropout: Dropout probability after every hidden activation (0 disables it).

    Raises:
        ValueError: for an unknown activation, a non-positive dimension or a dropout outside ``[0, 1)``.

    Example:
        >>> model = MLP(4, 2, hidden=(64, 64))
        >>> model(torch.zeros(8, 4)).shape
        torch.Size([8, 2])
    """

    x_mean: Tensor
    x_std: Tensor
    y_mean: Tensor
    y_std: Tensor

    def __init__(
        self,
        in_dim: int,
        out_dim: int = 1,
        *,
        hidden: Sequence[int] = (128, 128, 128),
        activation: str = "silu",
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}"
            )
        widths = [in_dim, *hidden, out_dim]
        if any(int(w) != w or w < 1 for w in widths):
            raise ValueError(
                f"in_dim, hidden widths and out_dim must be positive integers, got {widths}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.in_dim = int(in_dim)
        self.out_dim = int(out_dim)
        self.hidden = tuple(int(w) for w in hidden)
        self.activation = activation
        self.batch_norm = bool(batch_norm)
        self.dropout = float(dropout)

        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-2], widths[1:-1]):
            layers.append(nn.Linear(w_in, w_out))
            if self.batch_norm:
                layers.append(nn.BatchNorm1d(w_out))
            layers.append(ACTIVATIONS[activation]())
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
        layers.append(nn.Linear(widths[-2], widths[-1]))
        self.net = nn.Sequential(*layers)

        self.register_buffer("x_mean", torch.zeros(self.in_dim))
        self.register_buffer("x_std", torch.ones(self.in_dim))
        self.register_buffer("y_mean", torch.zeros(self.out_dim))
        self.register_buffer("y_std", torch.ones(self.out_dim))

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments as a plain (JSON-ready) dict: ``MLP(**model.config)`` rebuilds it."""
        return {
            "in_dim": self.in_dim,
            "out_dim": self.out_dim,
            "hidden": list(self.hidden),
            "activation": self.activation,
            "batch_norm": self.batch_norm,
            "dropout": self.dropout,
        }

    def forward(self, x: Tensor) -> Tensor:
        """Predict raw outputs.

        Args:
            x: Raw inputs, shape ``(b, in_dim)``; more leading dimensions ``(..., in_dim)`` are allowed.

        Returns:
            Raw predictions, shape ``(b, out_dim)`` (or ``(..., out_dim)``).

        Raises:
            ValueError: if the last dimension of ``x`` is not ``in_dim``.
        """
        if x.ndim == 0 or x.shape[-1] != self.in_dim:
            raise ValueError(
                f"MLP expects inputs of shape (b, {self.in_dim}), got {tuple(x.shape)}"
            )
        z = (x.reshape(-1, self.in_dim) - self.x_mean) / self.x_std
        y = self.net(z) * self.y_std + self.y_mean
        return y.reshape(*x.shape[:-1], self.out_dim)

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, out_dim={self.out_dim}"
