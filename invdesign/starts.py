"""Starting points for the restarts of a solver.

`minimize`'s ``x0`` takes any of:

- ``None``: scrambled Sobol points of the search box (the default);
- a tensor of shape ``(n, d)`` or ``(d,)``: the user's own points;
- a pandas DataFrame with one column per variable of the objective's `invdesign.Space` (or
  ``x0 .. x{d-1}`` of a box): its rows, encoded;
- a start strategy: a callable ``(objective, n, seed) -> Tensor (n, d)``, such as `FromData`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from invdesign.space import Box
from invdesign.space.table import as_tensor

if TYPE_CHECKING:
    import pandas

    from invdesign.objective import Objective

StartStrategy = Callable[["Objective", int, "int | None"], Tensor]

TARGET_SHARE = 1.0
"""The share of a target objective's starts `FromData` takes from the data by default (the designs
whose outputs are nearest the target); Sobol points fill the rest, and fill in for the data when
it holds fewer designs than asked for. Chosen on the neural-adjoint tasks (robot arm, sine,
ballistics; 50 targets x 512 restarts, shares 0, 0.25, 0.5, 0.75 and 1): all starts from the
data gave the lowest r_1 on every task, and beat the neural-adjoint recipe's prior starts.
Checked at the benchmark's size on targets it does not use (seed 1, 50 targets x 2,048
restarts, shares 0.25 to 1): share 1 had the lowest r_1 and r_10 on the robot arm (9.2e-8 and
1.2e-8, against 1.3e-5 and 2.9e-8 at 0.25), all shares tied on ballistics, and on sine the
shares were within their noise (r_1 1.56e-6 to 1.8e-6)."""


class FromData:
    """Start from the best designs of a data set.

    - For a target objective: the designs whose outputs ``Y`` are nearest the target (mean
      squared error), ``share`` of the ``n`` starts (default `TARGET_SHARE`), and Sobol points of
      the space for the rest, for spread; by default Sobol points also fill in when the data set
      holds fewer designs than starts.
    - Otherwise: the ``n`` designs with the lowest ``Y`` (the highest for ``maximize=True``) —
      the Design-Bench start.
    - Without ``Y``: the ``n`` designs of lowest energy under the objective (evaluated once to
      rank them; these evaluations are not part of a run's ``nfev``).

    In data space only designs inside the search space are candidates (a Gaussian prior's data
    set has some outside its box; on a `invdesign.Space`, rows at another value of a fixed
    variable, or breaking a constraint, are not candidates either).

    With ``encode`` the chosen designs are mapped into the latent space of a decoder objective
    (encode-to-start), and clamped to the latent box.

    Args:
        X: Designs, shape ``(N, ...)``, inside the search box (or the decoder's design space).
        Y: Their measured outputs, shape ``(N,)`` or ``(N, k)``; optional.
        encode: Maps designs ``(b, ...)`` to latent codes ``(b, d_z)``; when it returns a tuple
            (as a VAE's ``encode`` returns ``(mean, logvar)``) its first element is used.
        share: The share of the starts taken from the data, in ``[0, 1]``, the rest Sobol points;
            default `TARGET_SHARE` for a target objective, 1 otherwise.

    For an objective with a batch of ``T`` targets, `for_targets` draws each target's starts.
    """

    def __init__(
        self,
        X: Tensor | pandas.DataFrame,
        Y: Tensor | pandas.DataFrame | pandas.Series | None = None,
        *,
        encode: Callable[[Tensor], Tensor | tuple[Tensor, ...]] | None = None,
        share: float | None = None,
    ) -> None:
        if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0):
            raise ValueError(f"FromData share must be a number in [0, 1], got {share!r}")
        self.share = share
        if Y is not None and not isinstance(Y, Tensor):
            Y = as_tensor(Y, "FromData Y")
        if _is_frame(X):
            # A table of designs: encoded by the objective's space when the starts are drawn.
            if Y is not None and Y.shape[0] != len(X):
                raise ValueError(f"FromData needs Y with {len(X)} rows like X, got {tuple(Y.shape)}")
            self.X, self.Y, self.encode = X, None if Y is None else Y.reshape(Y.shape[0], -1), encode
            return
        if X.ndim < 2:
            raise ValueError(f"FromData needs X of shape (N, d), got {tuple(X.shape)}")
        if Y is not None:
            Y = Y.reshape(Y.shape[0], -1) if Y.ndim >= 1 else Y
            if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
                raise ValueError(f"FromData needs Y with {X.shape[0]} rows like X, got {tuple(Y.shape)}")
        if encode is not None and not callable(encode):
            raise TypeError(f"encode must be callable, got {type(encode).__name__}")
        self.X = X
        self.Y = Y
        self.encode = encode

    def available(self, objective: Objective) -> int:
        """How many designs are candidates for ``objective``'s starts (those inside its box, in data space)."""
        return self._candidates(objective)[0].shape[0]

    def search_points(self, objective: Objective) -> tuple[Tensor, Tensor | None]:
        """Every candidate design as a point of ``objective``'s space (encoded for a latent one), ``(N, d)``, and its ``Y``, ``(N, k)``."""
        X, Y = self._candidates(objective)
        return self._to_search_space(objective, X), Y

    def _candidates(self, objective: Objective) -> tuple[Tensor, Tensor | None]:
        X = as_designs(self.X, objective).to(dtype=objective.dtype, device=objective.device)
        Y = None if self.Y is None else self.Y.to(dtype=objective.dtype, device=objective.device)
        if self.encode is None and objective.decoder is None:
            inside = objective.space.contains(X.reshape(X.shape[0], -1))
            X, Y = X[inside], None if Y is None else Y[inside]
        return X, Y

    def default_count(self, objective: Objective, default_n: int) -> int:
        """Starts when the call names no number: ``default_n``, or no more than the data set holds
        when every start must come from it (no Sobol points to fill in)."""
        if self._fills(objective) or self._share(objective) < 1.0:
            return default_n
        return min(default_n, self.available(objective))

    def _fills(self, objective: Objective) -> bool:
        """Whether Sobol points fill in for a data set too small: by default, for a target objective."""
        return self.share is None and _targeted(objective)

    def _share(self, objective: Objective) -> float:
        if self.share is not None:
            return float(self.share)
        return TARGET_SHARE if _targeted(objective) else 1.0

    def _n_data(self, objective: Objective, n: int, X: Tensor) -> int:
        """How many of ``n`` starts come from the candidates ``X``: ``share`` of them, no more than
        there are when Sobol points fill in (`_fills`), else a clear error if there are too few."""
        n_data = round(self._share(objective) * n)
        if self._fills(objective):
            return min(n_data, X.shape[0])
        if n_data > X.shape[0]:
            inside = " inside the box" if isinstance(objective.space, Box) else " inside the space"
            where = inside if self.encode is None and objective.decoder is None else ""
            raise ValueError(f"asked for {n_data} starts from the data but the data set holds only {X.shape[0]} designs{where}")
        return n_data

    def __call__(self, objective: Objective, n: int, seed: int | None = None) -> Tensor:
        if objective.targets is not None:
            raise TypeError("an objective with a batch of targets draws its starts with FromData.for_targets")
        X, Y = self._candidates(objective)
        n_data = self._n_data(objective, n, X)
        if n_data == n:
            return self._nearest(objective, X, Y, n)
        spread = objective.space.sample(n - n_data, seed=seed)
        return torch.cat([self._nearest(objective, X, Y, n_data), spread]) if n_data else spread

    def for_targets(self, objective: Objective, n: int, seed: int | None = None) -> Tensor:
        """Starts for each target of a batch, shape ``(T, n, d)``: the data designs whose outputs are
        nearest each target (``share`` of ``n``), then Sobol points (different for each target).

        Raises:
            ValueError: if the data set holds fewer designs than the starts taken from it.
        """
        if objective.targets is None:
            raise TypeError("for_targets draws the starts of an objective with a batch of (T, k) targets")
        T = objective.targets.shape[0]
        X, Y = self._candidates(objective)
        n_data = self._n_data(objective, n, X)
        parts = []
        if n_data:
            if Y is None:
                with torch.no_grad():
                    Y = objective.predict(self._to_search_space(objective, X))
            score = objective.energy_from_outputs(Y)
            score = torch.where(torch.isnan(score), torch.full_like(score, float("inf")), score)
            nearest = torch.topk(score, n_data, dim=1, largest=False, sorted=True).indices
            parts.append(self._to_search_space(objective, X[nearest.reshape(-1)]).reshape(T, n_data, -1))
        if n_data < n:
            parts.append(objective.space.sample(T * (n - n_data), seed=seed).reshape(T, n - n_data, -1))
        return torch.cat(parts, dim=1)

    def _nearest(self, objective: Objective, X: Tensor, Y: Tensor | None, n: int) -> Tensor:
        """The ``n`` best of the candidates ``X`` (by ``Y``, or by the objective without ``Y``), as search points."""
        if Y is None:
            points = self._to_search_space(objective, X)
            with torch.no_grad():
                return points[_best(objective(points), n)]
        score = objective.energy_from_outputs(Y)
        return self._to_search_space(objective, X[_best(score, n)])

    def _to_search_space(self, objective: Objective, X: Tensor) -> Tensor:
        if self.encode is None:
            return X
        with torch.no_grad():
            Z = self.encode(X)
        Z = Z[0] if isinstance(Z, tuple) else Z
        if Z.ndim != 2 or Z.shape != (X.shape[0], objective.dim):
            raise ValueError(
                f"encode returned shape {tuple(Z.shape)} for {X.shape[0]} designs; the latent box needs "
                f"({X.shape[0]}, {objective.dim})"
            )
        Z = Z.to(dtype=objective.dtype, device=objective.device)
        space = objective.space
        if isinstance(space, Box):
            return space.clamp(Z)
        view = space.coordinates(relax=True)
        return view.designs(view.to_search(Z))


def _targeted(objective: Objective) -> bool:
    """Whether ``objective`` matches a target (one, or a batch)."""
    return objective.target is not None or objective.targets is not None


def _best(score: Tensor, n: int) -> Tensor:
    """Indices of the ``n`` lowest scores (NaN last), shape ``(n,)``."""
    score = torch.where(torch.isnan(score), torch.full_like(score, float("inf")), score)
    return torch.argsort(score, stable=True)[:n]


def initial_points(
    objective: Objective,
    n: int | None,
    x0: Tensor | pandas.DataFrame | StartStrategy | None,
    seed: int | None,
    *,
    default_n: int,
) -> Tensor:
    """Resolve ``x0`` into validated starting points inside the box.

    Args:
        objective: The objective (its box, dtype and device are used).
        n: Requested number of restarts, or ``None``.
        x0: See the module docstring.
        seed: Seed for Sobol points.
        default_n: Restarts when neither ``n`` nor an ``x0`` tensor says how many (for a
            `FromData` holding fewer designs, all of them).

    Returns:
        Starting points, shape ``(n, d)``.

    Raises:
        ValueError: on a wrong shape, NaN/infinite values, points outside the box, or ``n`` that
            disagrees with the rows of ``x0``.
    """
    if n is not None:
        try:
            n = operator.index(n)
        except TypeError:
            raise TypeError(f"n_restarts must be an integer, got {n!r}") from None
        if n < 1:
            raise ValueError(f"n_restarts must be a positive integer, got {n}")
    space = objective.space
    if x0 is None:
        return space.sample(n or default_n, seed=seed)
    if isinstance(x0, FromData) and n is None:
        default_n = x0.default_count(objective, default_n)
    if callable(x0) and not isinstance(x0, Tensor):
        points = x0(objective, n or default_n, seed).detach()
        if points.ndim != 2 or points.shape[0] != (n or default_n):
            raise ValueError(
                f"the start strategy returned shape {tuple(points.shape)}; expected ({n or default_n}, {space.dim})"
            )
    else:
        points = as_designs(x0, objective).detach()
        if not points.dtype.is_floating_point:
            points = points.to(objective.dtype)
        if points.ndim == 1:
            points = points.unsqueeze(0)
        if n is not None and points.shape[0] != n:
            raise ValueError(f"x0 has {points.shape[0]} rows but n_restarts={n}")
    if points.ndim != 2 or points.shape[1] != space.dim:
        raise ValueError(f"x0 must have shape (n, {space.dim}) to match the box, got {tuple(points.shape)}")
    points = points.to(dtype=objective.dtype, device=objective.device)
    if not torch.isfinite(points).all():
        rows = (~torch.isfinite(points)).any(dim=-1).nonzero().flatten().tolist()
        raise ValueError(f"x0 has NaN or infinite values in rows {rows}")
    outside = ~space.contains(points)
    if outside.any():
        rows = outside.nonzero().flatten().tolist()
        where = "outside the box" if isinstance(space, Box) else "outside the space (bounds, fixed values, integrality, one-hot blocks, compositions or linear constraints)"
        raise ValueError(f"x0 rows {rows[:10]} lie {where}: {space!r}")
    return points


def as_designs(x: Any, objective: Objective) -> Tensor:
    """``x`` as a tensor of designs: a pandas DataFrame is encoded by the objective's space (one column per variable)."""
    if _is_frame(x):
        if objective.decoder is not None:
            raise TypeError("a table of designs cannot start a latent search: give latent points as a tensor")
        return objective.space.from_frame(x)
    return torch.as_tensor(x)


def _is_frame(x: Any) -> bool:
    return type(x).__name__ == "DataFrame" and hasattr(x, "columns")
