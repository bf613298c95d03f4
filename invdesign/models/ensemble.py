"""An ensemble of regressors: the mean is the prediction, the spread across members is the uncertainty."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class Ensemble(nn.Module):
    """Average of ``m`` regressors that each map ``(b, d) -> (b, out_dim)``.

    Members are evaluated one after the other: for the small MLPs used as surrogates, a plain loop
    measured faster on CPU than stacking the weights for ``torch.func.vmap`` or batched matmuls.

    Args:
        members: The member modules, at least one. Where members expose ``in_dim`` / ``out_dim``
            (as :class:`~invdesign.models.MLP` does) these must agree, and the ensemble exposes them too.

    Raises:
        ValueError: if ``members`` is empty or the members disagree on ``in_dim`` or ``out_dim``.

    Example:
        >>> from invdesign.models import MLP
        >>> ens = Ensemble([MLP(3, 2, hidden=(16,)) for _ in range(4)])
        >>> mean, std = ens.mean_std(torch.zeros(5, 3))
        >>> mean.shape, std.shape
        (torch.Size([5, 2]), torch.Size([5, 2]))
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(members) == 0:
            raise ValueError("Ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        for attr in ("in_dim", "out_dim"):
            values = {getattr(m, attr, None) for m in self.members}
            if len(values) > 1:
                raise ValueError(f"Ensemble members disagree on {attr}: {sorted(values, key=str)}")
            setattr(self, attr, values.pop())

    def members_forward(self, x: Tensor) -> Tensor:
        """Every member's prediction.

        Args:
            x: Inputs, shape ``(b, d)``.

        Returns:
            Predictions, shape ``(m, b, out_dim)``.
        """
        return torch.stack([member(x) for member in self.members])

    def mean_std(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation across members (population form, so 0 for one member).

        Args:
            x: Inputs, shape ``(b, d)``.

        Returns:
            ``(mean, std)``, each of shape ``(b, out_dim)``.
        """
        preds = self.members_forward(x)
        std, mean = torch.std_mean(preds, dim=0, correction=0)
        return mean, std

    def forward(self, x: Tensor) -> Tensor:
        """The member mean.

        Args:
            x: Inputs, shape ``(b, d)``.

        Returns:
            Mean prediction, shape ``(b, out_dim)``.
        """
        return self.members_forward(x).mean(dim=0)

    def __len__(self) -> int:
        return len(self.members)
