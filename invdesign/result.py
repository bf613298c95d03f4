"""What every solver returns: `Result`, its `History` and the `Status` vocabulary; `BatchResult`, one
`Result` per target of a batch of target problems, and r_T."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from invdesign.selection import select_designs

if TYPE_CHECKING:
    import pandas

    from invdesign.space import Box, DesignSpace
    from invdesign.trust import TrustReport


class Status(enum.Enum):
    """How a run ended."""

    CONVERGED = "converged"
    """Every restart met the solver's convergence test."""
    MAX_ITER = "max_iter"
    """The iteration or evaluation budget ran out; the best designs so far are returned."""
    STALLED = "stalled"
    """Some restarts stopped without meeting the convergence test (a line search that could not
    make progress, an energy that turned NaN); the best designs so far are returned."""
    STOPPED = "stopped"
    """The callback raised ``StopIteration``; the best designs so far are returned."""
    FAILED = "failed"
    """No usable design was found."""


@dataclass
class History:
    """Per-iteration trace of a run: best energy so far, cumulative evaluations, seconds.

    Attributes:
        iteration: Iteration numbers (solver-defined: an optimizer step, a batch of evaluations).
        best: Lowest energy seen so far over all restarts, after each iteration.
        nfev: Cumulative number of objective evaluations (designs) after each iteration.
        time: Seconds since the run started, after each iteration.
        n_active: Restarts still being optimised after each iteration (for sample-based solvers:
            designs told in the iteration).
        fit_time: Seconds spent fitting a model of the energy in each iteration (the GP of
            ``bo`` and ``turbo``); 0 for solvers without one.
    """

    iteration: list[int] = field(default_factory=list)
    best: list[float] = field(default_factory=list)
    nfev: list[int] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    n_active: list[int] = field(default_factory=list)
    fit_time: list[float] = field(default_factory=list)
    _t0: float = field(default_factory=perf_counter, repr=False)

    def record(self, iteration: int, best: float, nfev: int, n_active: int, fit_time: float = 0.0) -> None:
        """Append one iteration."""
        self.iteration.append(iteration)
        self.best.append(best)
        self.nfev.append(nfev)
        self.time.append(perf_counter() - self._t0)
        self.n_active.append(n_active)
        self.fit_time.append(fit_time)

    def __len__(self) -> int:
        return len(self.iteration)

    def to_dict(self) -> dict[str, list[float] | list[int]]:
        """The trace as plain lists keyed by column name."""
        return {
            "iteration": list(self.iteration),
            "best": list(self.best),
            "nfev": list(self.nfev),
            "time": list(self.time),
            "n_active": list(self.n_active),
            "fit_time": list(self.fit_time),
        }

    def to_pandas(self) -> pandas.DataFrame:
        """The trace as a DataFrame, one row per iteration."""
        import pandas

        return pandas.DataFrame(self.to_dict())


@dataclass
class Progress:
    """What a callback receives after each iteration.

    Attributes:
        nit: Iterations done.
        nfev: Objective evaluations so far.
        x: Best design so far (decoded when the objective has a decoder).
        fun: Its energy.
        elapsed: Seconds since the run started.
        z: Its search point when the objective has a decoder, shape ``(d_z,)``; else ``None``.
    """

    nit: int
    nfev: int
    x: Tensor
    fun: float
    elapsed: float
    z: Tensor | None = None


@dataclass
class Result:
    """The outcome of `invdesign.minimize`.

    Attributes:
        x: Best design, shape ``(d_x,)`` (decoded through the objective's decoder if it has one).
        fun: Its energy (lower is better).
        X: All final designs, best first, shape ``(n, d_x)``.
        F: Their energies, shape ``(n,)``, ascending.
        success: Whether the run produced a usable design.
        status: How the run ended.
        message: A human-readable account, including dropped restarts.
        nit: Iterations done.
        nfev: Objective evaluations (designs evaluated), including start points.
        runtime: Wall-clock seconds.
        history: Per-iteration trace.
        solver: The solver's registry name.
        options: The solver's options.
        z: Best point in the search space when the objective has a decoder
            (then ``x == decoder(z)``), shape ``(d_z,)``; else ``None``.
        Z: All final search points, best first, shape ``(n, d_z)``; else ``None``.
        generator: For ``method="amortized"``, the trained generator: ``generator.sample(n)``
            draws ``n`` more search points in one forward pass, shape ``(n, d)`` (latent codes for
            an objective with a decoder: decode them with ``objective.decode``); else ``None``.
        feasible: Whether each design of ``X`` meets every constraint of the space (bounds,
            fixed values, integrality, compositions, linear and nonlinear constraints), ``(n,)``;
            feasible designs come first.
        space: The space of the designs (``None`` for a latent search, whose designs are decoded).
        bound: A certified lower bound on the energy over the whole space, for a solver that
            proves one (``method="milp"``); else ``None``.
        gap: ``fun - bound``, how far ``x`` may at most be from the optimum in energy, with
            ``bound``; else ``None``.
        trust: Where the objective has training data (or the starts were `invdesign.starts.FromData`):
            each design's distance to the data, whether it lies in the data's support, its
            prediction against the training outputs' range and an ensemble's spread
            (`invdesign.trust.TrustReport`, rows as ``X``); else ``None``.
        objective: The objective searched (for a batch of targets, this target's); its energy
            gives `modes`. ``None`` for a result not made by `invdesign.minimize`.
    """

    x: Tensor
    fun: float
    X: Tensor
    F: Tensor
    success: bool
    status: Status
    message: str
    nit: int
    nfev: int
    runtime: float
    history: History
    solver: str
    options: dict[str, Any]
    z: Tensor | None = None
    Z: Tensor | None = None
    generator: nn.Module | None = None
    feasible: Tensor | None = None
    space: DesignSpace | None = None
    bound: float | None = None
    gap: float | None = None
    trust: TrustReport | None = None
    objective: Any = field(default=None, repr=False, compare=False)
    _modes: int | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def modes(self) -> int:
        """The number of distinct basins among the returned designs (computed once, on first use).

        Rule (`invdesign.diversity.basins`): a short batched descent (100 Adam steps, step size 0.02
        cosine-annealed, in the unit cube of a box) on the
        objective's energy from every design, in the space's search coordinates (a latent
        search's latent codes); designs whose descents end within 0.05 of each other (single
        linkage) share a basin: about 100 batched evaluations of the objective's gradient. For an
        objective that is not differentiable the designs themselves are grouped (no descent, no
        evaluation). Designs with a NaN energy are left out. A pickled result keeps the count
        if it was computed, not the objective.

        Raises:
            ValueError: for a result that does not carry its objective.
        """
        if self._modes is None:
            if self.objective is None:
                raise ValueError("modes needs the objective searched: results of invdesign.minimize carry it (Result.objective)")
            from invdesign.diversity import count_basins

            points = self.Z if self.Z is not None else self.X
            self._modes = count_basins(
                self.objective, points, self.objective.space, F=self.F, differentiable=self.objective.differentiable
            )
        return self._modes

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its objective (the model may be a closure, and the result should not keep it alive elsewhere)."""
        state = dict(self.__dict__)
        state["objective"] = None
        return state

    @property
    def designs(self) -> pandas.DataFrame:
        """The designs as a table, best first: one column per variable (categorical levels as their
        labels, integers as ints, ``x0 ..`` for a box), then ``energy`` (what was minimized:
        minus the model's output for an objective built with ``maximize=True``) and ``feasible``;
        with a trust report, its columns (`invdesign.trust.TrustReport.columns`: ``distance``,
        ``in_support``, ``prediction``, ``outside_range``, ``spread``; ``trust_`` before a name a
        variable already has).

        Raises:
            ValueError: for a latent search (its designs have no named variables; see ``X``).
        """
        if self.space is None:
            raise ValueError("the designs of a latent search have no named variables: use Result.X (and Result.Z)")
        feasible = torch.ones_like(self.F, dtype=torch.bool) if self.feasible is None else self.feasible
        table = self.space.to_frame(self.X, energy=self.F, feasible=feasible)
        if self.trust is not None:
            for name, column in self.trust.columns().items():
                table[f"trust_{name}" if name in table.columns else name] = column
        return table

    def top(self, k: int, *, diversity: float = 0.0, space: Box | None = None) -> tuple[Tensor, Tensor]:
        """The ``k`` designs to keep, chosen by `invdesign.selection.select_designs`.

        ``diversity=0`` gives the first ``k`` rows of ``X`` and ``F``; ``diversity > 0`` trades
        energy for designs that differ from each other. Selection runs on the designs ``X``
        (decoded ones for a decoder objective; for their search points, call
        ``select_designs(result.X, result.F, k)`` and index ``Z``).

        Args:
            k: How many designs, ``1 <= k <= len(X)``.
            diversity: Weight of spread against energy, ``>= 0`` (see `select_designs`).
            space: Measure distances in this box's unit-cube coordinates.

        Returns:
            ``(X_k, F_k)``, shapes ``(k, d_x)`` and ``(k,)``, in the order picked (best first).
        """
        index = select_designs(self.X, self.F, k, diversity=diversity, space=space)
        return self.X[index], self.F[index]

    def __repr__(self) -> str:
        x = self.x.tolist() if self.x.numel() <= 6 else f"tensor of shape {tuple(self.x.shape)}"
        lines = [
            f"Result(solver={self.solver!r}, status={self.status.value}, success={self.success})",
            f"  message: {self.message}",
            f"  fun:     {self.fun:.6g}",
            f"  x:       {x}",
            f"  X, F:    {self.X.shape[0]} designs, energies {_span(self.F)}",
            f"  nit: {self.nit}   nfev: {self.nfev}   runtime: {self.runtime:.3f} s",
        ]
        if self.z is not None:
            lines.insert(4, f"  z:       tensor of shape {tuple(self.z.shape)}")
        if self.bound is not None and self.gap is not None:
            lines.insert(3, f"  bound:   {self.bound:.6g}   gap: {self.gap:.3g}")
        if self.trust is not None:
            out = int((~self.trust.inside).sum())
            lines.insert(3, f"  trust:   {out} of {self.trust.inside.numel()} designs outside the data's support")
        return "\n".join(lines)


def _span(f: Tensor) -> str:
    if f.numel() == 0:
        return "[]"
    return f"[{f.min().item():.4g} .. {f.max().item():.4g}]"


def sort_designs(F: Tensor, feasible: Tensor | None = None) -> Tensor:
    """The order of designs best first: feasible ones first, then by energy (NaN and infinite
    energies, failed evaluations, last), ``(n,)``.

    Args:
        F: Energies, shape ``(n,)``.
        feasible: Which designs meet every constraint, ``(n,)`` bool; ``None``: all.
    """
    key = torch.where(torch.isfinite(F), F, torch.full_like(F, float("inf")))
    order = torch.argsort(key, stable=True)
    if feasible is not None:
        order = order[torch.argsort((~feasible[order]).to(torch.uint8), stable=True)]
    return order


T_VALUES = (1, 10, 50)
"""The ``T`` of r_T reported for target problems (Ren et al., NeurIPS 2020)."""


def r_t(true_errors: Tensor, ts: Sequence[int] = T_VALUES) -> dict[int, float]:
    """r_T: mean over targets of the smallest true error among the first ``T`` candidates.

    Args:
        true_errors: Oracle squared error of each target's candidates, ranked by the surrogate
            (best first), shape ``(n_targets, n_candidates)``; NaN for an invalid design.
        ts: The values of ``T``; a ``T`` beyond ``n_candidates`` gives NaN.

    Returns:
        ``{T: r_T}``.
    """
    errors = torch.where(torch.isfinite(true_errors), true_errors, torch.full_like(true_errors, math.inf))
    out = {}
    for t in ts:
        if t > errors.shape[1]:
            out[t] = math.nan
        else:
            out[t] = float(errors[:, :t].min(dim=1).values.mean())
    return out


@dataclass
class BatchResult:
    """The results of a batch of ``T`` target problems (an `invdesign.Objective` with ``(T, k)``
    targets), solved by one `invdesign.minimize` call.

    ``result[t]`` is target ``t``'s `Result`, its designs best first; iterating gives them in
    order. The properties below stack them.

    Attributes:
        results: One `Result` per target.
        targets: The targets, shape ``(T, k)``.
        solver: The solver's registry name.
        runtime: Wall-clock seconds of the whole call.
    """

    results: list[Result]
    targets: Tensor
    solver: str
    runtime: float

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, t: int) -> Result:
        return self.results[t]

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)

    @property
    def X(self) -> Tensor:
        """Every target's designs, best first, shape ``(T, n, d_x)``; a target with fewer designs
        (starts dropped for a NaN energy) is padded with NaN rows at the end."""
        return _stack([r.X for r in self.results])

    @property
    def F(self) -> Tensor:
        """Their energies, shape ``(T, n)`` (NaN in padded rows)."""
        return _stack([r.F for r in self.results])

    @property
    def x(self) -> Tensor:
        """Each target's best design, shape ``(T, d_x)``."""
        return torch.stack([r.x for r in self.results])

    @property
    def fun(self) -> Tensor:
        """Each target's best energy, shape ``(T,)``."""
        return torch.tensor([r.fun for r in self.results], dtype=self.targets.dtype)

    @property
    def success(self) -> bool:
        """Whether every target's run produced a usable design."""
        return all(r.success for r in self.results)

    @property
    def nfev(self) -> int:
        """Objective evaluations (designs) over all targets."""
        return sum(r.nfev for r in self.results)

    def r_t(self, oracle: Callable[[Tensor], Tensor], ts: Sequence[int] = T_VALUES) -> dict[int, float]:
        """r_T of the designs judged by the true ``oracle``: for each target its first ``T`` designs
        (ranked by the searched model) are re-simulated, the smallest mean squared error to the
        target is kept, and these are averaged over targets (Ren et al., NeurIPS 2020).

        Args:
            oracle: The true forward model, designs ``(b, d_x)`` -> outputs ``(b, k)`` (or
                ``(b,)`` for one output); a NaN output marks an invalid design (counted as no
                candidate).
            ts: The values of ``T``.

        Returns:
            ``{T: r_T}``.
        """
        errors = []
        for result, target in zip(self.results, self.targets):
            n = min(max(ts), result.X.shape[0])
            with torch.no_grad():
                y = oracle(result.X[:n])
            y = y.reshape(n, -1).to(target)
            error = (y - target).square().mean(dim=-1)
            errors.append(torch.cat([error, torch.full((max(ts) - n,), math.nan, dtype=error.dtype, device=error.device)]))
        return r_t(torch.stack(errors), ts)

    def __repr__(self) -> str:
        statuses: dict[str, int] = {}
        for r in self.results:
            statuses[r.status.value] = statuses.get(r.status.value, 0) + 1
        funs = self.fun
        return "\n".join(
            [
                f"BatchResult(solver={self.solver!r}, {len(self.results)} targets, success={self.success})",
                f"  status:  {', '.join(f'{n} {s}' for s, n in statuses.items())}",
                f"  fun:     per target {_span(funs)}, median {funs.median().item():.4g}",
                f"  X, F:    {tuple(self.X.shape)}, {tuple(self.F.shape)}",
                f"  nfev: {self.nfev}   runtime: {self.runtime:.3f} s",
            ]
        )


def _stack(parts: list[Tensor]) -> Tensor:
    """Tensors ``(n_t, ...)`` stacked to ``(T, max n_t, ...)``, shorter ones padded with NaN rows."""
    n = max(p.shape[0] for p in parts)
    return torch.stack(
        [torch.cat([p, torch.full((n - p.shape[0], *p.shape[1:]), math.nan, dtype=p.dtype, device=p.device)]) for p in parts]
    )
