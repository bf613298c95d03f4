"""`SpaceView`: the search coordinates of a `Space`, its projections, rounding and feasible sampling.

Search coordinates hold the free variables only (fixed ones are constants of the encoding):

- a `Real` or `Integer` ``[low, high]`` is one column in ``[0, 1]`` (an integer's values on the grid
  ``k / (high - low)``);
- a `Composition` is one column per component, ``x_i / total``, on the (bounded) unit simplex;
- a `Categorical` of ``k`` levels is, relaxed, its ``k`` one-hot columns on the unit simplex, or,
  not relaxed, one column of level indices ``j / (k - 1)``.

Linear constraints become ``A u <= b`` rows in these coordinates (unit-norm rows, so that a
violation is a distance). Projection onto the feasible set is exact: a clamp and a sort-based
simplex projection per block, and Dykstra's alternating projection when there are linear
constraints. Discrete variables are rounded at the end, the continuous ones projected again with
the discrete ones pinned, and a row the constraints still refuse is repaired by the nearest
feasible point of a small mixed-integer program (SciPy's HiGHS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from invdesign.space import projection
from invdesign.space.design_space import FEASIBILITY_TOL, Space
from invdesign.space.variables import Categorical, Composition, Integer, Real

_DYKSTRA_TOL = 1e-12
_CHAIN_CHUNK = 256
"""Points a hit-and-run chain is extended by at a time."""


@dataclass(frozen=True)
class _Block:
    """Search columns on a (bounded) unit simplex: a composition, or a relaxed categorical."""

    index: Tensor
    lower: Tensor
    upper: Tensor
    bounded: bool
    categorical: bool


class SpaceView:
    """The search coordinates of a `Space` (see the module docstring), with the methods every
    solver uses: `to_design`, `designs`, `to_search`, `project`, `contains`, `sample`, `bounds`.

    Args:
        space: The space.
        relax: Relaxed coordinates (one-hot categoricals, continuous integers) or not (level
            indices, integers on their grid).
    """

    def __init__(self, space: Space, *, relax: bool) -> None:
        self.space = space
        self.relax = relax
        dtype, device = space.dtype, space.device
        src: list[int] = []
        dst: list[int] = []
        scale: list[float] = []
        offset: list[float] = []
        lower: list[float] = []
        upper: list[float] = []
        blocks: list[tuple[list[int], list[float], list[float], bool, bool]] = []
        self.integers: list[tuple[int, int]] = []
        """``(search column, number of levels)`` of each free integer."""
        self.ordinal: list[tuple[int, int, int]] = []
        """``(search column, first design column, levels)`` of each categorical in level-index coordinates."""
        base = torch.zeros(space.dim, dtype=torch.float64)
        j = 0
        for variable in space.variables:
            cols = space.column_slice(variable)
            if isinstance(variable, Composition):
                assert isinstance(variable.lower, tuple) and isinstance(variable.upper, tuple)
                k = len(variable.names)
                index = list(range(j, j + k))
                src += index
                dst += list(range(cols.start, cols.stop))
                scale += [variable.total] * k
                offset += [0.0] * k
                pinned = [space.fixed.get(name) for name in variable.names]
                lo = [(lo if p is None else p) / variable.total for lo, p in zip(variable.lower, pinned)]
                hi = [(hi if p is None else p) / variable.total for hi, p in zip(variable.upper, pinned)]
                lower += lo
                upper += hi
                blocks.append((index, lo, hi, variable.bounded or any(p is not None for p in pinned), False))
                j += k
            elif variable.name in space.fixed:
                value = space.fixed[variable.name]
                if isinstance(variable, Categorical):
                    base[cols.start + variable.index(value)] = 1.0
                else:
                    base[cols.start] = float(value)
            elif isinstance(variable, (Real, Integer)):
                src.append(j)
                dst.append(cols.start)
                scale.append(float(variable.high - variable.low))
                offset.append(float(variable.low))
                lower.append(0.0)
                upper.append(1.0)
                if isinstance(variable, Integer):
                    self.integers.append((j, variable.n_levels))
                j += 1
            elif relax:
                k = len(variable.levels)
                index = list(range(j, j + k))
                src += index
                dst += list(range(cols.start, cols.stop))
                scale += [1.0] * k
                offset += [0.0] * k
                lower += [0.0] * k
                upper += [1.0] * k
                blocks.append((index, [0.0] * k, [1.0] * k, False, True))
                j += k
            else:
                self.ordinal.append((j, cols.start, len(variable.levels)))
                lower.append(0.0)
                upper.append(1.0)
                j += 1
        self.dim = j
        self.dtype, self.device = dtype, device

        def tensor(values: list[float] | list[int], kind: torch.dtype = dtype) -> Tensor:
            return torch.tensor(values, dtype=kind, device=device)

        self._src, self._dst = tensor(src, torch.long), tensor(dst, torch.long)
        self._scale, self._offset = tensor(scale), tensor(offset)
        self._base = base.to(dtype=dtype, device=device)
        self._identity = not space.fixed and not self.ordinal and src == dst == list(range(space.dim))
        self._lower, self._upper = tensor(lower), tensor(upper)
        self._blocks = [
            _Block(tensor(i, torch.long), tensor(lo), tensor(hi), bounded, categorical)
            for i, lo, hi, bounded, categorical in blocks
        ]
        self._discrete = torch.zeros(self.dim, dtype=torch.bool, device=device)
        for column, _ in self.integers:
            self._discrete[column] = True
        for column, _, _ in self.ordinal:
            self._discrete[column] = True
        for block in self._blocks:
            if block.categorical:
                self._discrete[block.index] = True
        exact = [(space.columns.index(n), float(v)) for n, v in space.fixed.items() if isinstance(space.variable(n), Composition)]
        self._pinned_columns = tensor([c for c, _ in exact], torch.long)
        self._pinned_values = tensor([v for _, v in exact])
        self._integer_designs = tensor([dst[src.index(column)] for column, _ in self.integers], torch.long)
        self._empty = False
        self._A, self._b, self._equality, self._row_scale = self._linear_rows()
        self._chains: dict[int, tuple[Any, Tensor] | None] = {}
        # One unbounded composition and nothing else: the projection is the simplex projection alone.
        self._whole_simplex = (
            len(self._blocks) == 1 and not self._blocks[0].bounded and not self._blocks[0].categorical
            and self._blocks[0].index.numel() == self.dim
        )

    # -- the map between search points and designs ------------------------------------------------------------

    @property
    def bounds(self) -> Tensor:
        """Bounds of the search coordinates stacked BoTorch-style, shape ``(2, n)``."""
        return torch.stack([self._lower, self._upper])

    @property
    def blocks(self) -> list[Tensor]:
        """Search columns of each simplex block (compositions; relaxed categoricals), each summing to 1."""
        return [block.index for block in self._blocks]

    @property
    def discrete(self) -> Tensor:
        """Which search columns are discrete (integers, categoricals), ``(n,)`` bool."""
        return self._discrete

    @property
    def has_constraints(self) -> bool:
        """Whether there are linear constraints beyond bounds and simplex blocks."""
        return self._A.shape[0] > 0

    def linear_constraints(self) -> tuple[Tensor, Tensor, Tensor]:
        """The linear constraints in search coordinates: ``A (m, n)`` (unit rows), ``b (m,)`` and
        ``equality (m,)``; a row reads ``A u <= b`` or, where ``equality``, ``A u == b``."""
        return self._A, self._b, self._equality

    def to_design(self, u: Tensor) -> Tensor:
        """Encoded designs of search points ``u`` ``(..., n)``, differentiable in the relaxed columns.

        Points off the feasible set map to designs off it; `designs` gives feasible ones.
        """
        u = u.to(device=self.device, dtype=torch.promote_types(u.dtype, self.dtype))
        if self._identity:
            return (self._offset.to(u.dtype) + self._scale.to(u.dtype) * u).to(self.dtype)
        values = self._offset.to(u.dtype) + self._scale.to(u.dtype) * u[..., self._src]
        x = self._base.to(u.dtype).expand(*u.shape[:-1], self.space.dim)
        x = x.index_copy(-1, self._dst, values) if u.ndim <= 2 else x.clone().index_copy_(-1, self._dst, values)
        if self.ordinal:
            x = x.clone()
            for column, start, k in self.ordinal:
                level = (u[..., column] * (k - 1)).round().clamp(0, k - 1).long()
                x[..., start : start + k] = torch.nn.functional.one_hot(level, k).to(x.dtype)
        return x.to(self.dtype)

    def designs(self, u: Tensor) -> Tensor:
        """Feasible designs for search points ``u`` ``(b, n)``: projected, discrete variables rounded,
        integers exactly integral, one-hot blocks exactly 0/1, fixed values exact."""
        x = self.to_design(self.round(u.detach()))
        if self.integers:
            x[:, self._integer_designs] = x[:, self._integer_designs].round()
        if self._pinned_columns.numel():
            x[:, self._pinned_columns] = self._pinned_values.to(x)
        # The map to designs can round one last digit past a bound; bounds hold exactly.
        return torch.clamp(x, self.space.lower.to(x), self.space.upper.to(x))

    def to_search(self, x: Tensor) -> Tensor:
        """Search points of encoded designs ``x`` ``(..., dim)``, in ``x``'s dtype."""
        if x.shape[-1] != self.space.dim:
            raise ValueError(f"expected encoded designs with {self.space.dim} columns, got shape {tuple(x.shape)}")
        u = torch.zeros(*x.shape[:-1], self.dim, dtype=x.dtype, device=x.device)
        scale, offset = self._scale.to(x), self._offset.to(x)
        u[..., self._src] = (x[..., self._dst] - offset) / scale
        for column, start, k in self.ordinal:
            u[..., column] = x[..., start : start + k].argmax(dim=-1).to(x.dtype) / (k - 1)
        return u

    # -- projections --------------------------------------------------------------------------------------------

    def project(self, u: Tensor) -> Tensor:
        """The nearest feasible search point to each row of ``u`` ``(..., n)``.

        Relaxed: the Euclidean projection onto the relaxed feasible set (bounds, simplex blocks,
        linear constraints). Not relaxed: that projection with every discrete column rounded to
        its grid first (see `round`).
        """
        if not self.relax:
            return self.round(u)
        shape = u.shape
        flat = u.reshape(-1, self.dim)
        if self.has_constraints:
            out = self._project_constrained(flat)
        else:
            out = self._project_set(flat)
        return out.reshape(shape)

    def _project_constrained(self, u: Tensor, lower: Tensor | None = None, upper: Tensor | None = None) -> Tensor:
        """The projection onto the bounds (per row ``(b, n)`` when given, else the view's), simplex blocks and
        linear constraints: Dykstra, and SLSQP on the quadratic program for the rows Dykstra leaves unfinished
        (differentiable where Dykstra finished)."""
        A, b = self._A.to(u), self._b.to(u)
        project = self._project_set if lower is None else lambda v: self._project_set(v, lower, upper)
        out, done = projection.dykstra(u, project, A, b, self._equality, tol=_DYKSTRA_TOL)
        if not done.all():
            lower = self._lower.to(u).expand_as(u) if lower is None else lower
            upper = self._upper.to(u).expand_as(u) if upper is None else upper
            rest = ~done
            exact = projection.nearest(u[rest], lower[rest], upper[rest], A, b, self._equality, self.blocks)
            exact = self._project_set(exact, lower[rest], upper[rest])
            # Where SLSQP failed too, the nearest feasible point in L1 (an exact MILP) stands in.
            for i in (self.violation(exact) > FEASIBILITY_TOL * 1e-3).nonzero().flatten().tolist():
                point = self._milp(exact[i], lower[rest][i], upper[rest][i])
                if point is not None:
                    exact[i] = self._project_set(torch.as_tensor(point).to(exact).unsqueeze(0), lower[rest][i : i + 1], upper[rest][i : i + 1])[0]
            out = out.clone()
            out[rest] = exact
        return out

    def project_(self, u: Tensor) -> Tensor:
        """`project` in place; returns ``u``."""
        return u.copy_(self.project(u))

    def round(self, u: Tensor) -> Tensor:
        """Feasible search points with every discrete column on its grid, ``(b, n)``.

        Integers are rounded to the nearest grid point, a relaxed categorical block to the one-hot
        of its largest entry; the continuous columns are then projected with the discrete ones
        pinned. A row the linear constraints still refuse (they involve an integer) is repaired by
        the nearest feasible point of a mixed-integer program (L1 distance).
        """
        given = u.reshape(-1, self.dim).to(self.dtype)
        u = self._snap(self._project_set(given))
        if self.has_constraints:
            u = self._project_pinned(u)
            bad = self.violation(u) > FEASIBILITY_TOL
            if bad.any():
                u = u.clone()
                u[bad] = self._project_pinned(self._snap(self._repair(u[bad])))
        # Feasible points on the grid stay exactly as given, so that rounding twice changes nothing.
        keep = self.contains(given) & (given == u).where(self._discrete, torch.ones_like(given, dtype=torch.bool)).all(dim=-1)
        return torch.where(keep.unsqueeze(-1), given, u)

    def _snap(self, u: Tensor) -> Tensor:
        """``u`` ``(b, n)`` with every integer on its grid and every relaxed categorical one-hot at its largest entry."""
        if not self._discrete.any():
            return u
        u = u.clone()
        for column, n in self.integers + [(c, k) for c, _, k in self.ordinal]:
            u[:, column] = (u[:, column] * (n - 1)).round().clamp(0, n - 1) / (n - 1)
        for block in self._blocks:
            if block.categorical:
                part = u[:, block.index]
                u[:, block.index] = torch.nn.functional.one_hot(part.argmax(dim=-1), part.shape[-1]).to(u.dtype)
        return u

    def _project_pinned(self, u: Tensor) -> Tensor:
        """Project with the discrete columns of every row pinned at their values."""
        lower = torch.where(self._discrete, u, self._lower.to(u))
        upper = torch.where(self._discrete, u, self._upper.to(u))
        return self._project_constrained(u, lower, upper)

    def _project_set(self, u: Tensor, lower: Tensor | None = None, upper: Tensor | None = None) -> Tensor:
        """The exact projection onto the bounds and simplex blocks (bounds per row when given)."""
        own = lower is None
        if own and self._whole_simplex:
            return projection.simplex(u)
        lo = self._lower.to(u) if lower is None else lower
        hi = self._upper.to(u) if upper is None else upper
        out = torch.clamp(u, lo, hi)
        if not self._blocks:
            return out
        for block in self._blocks:
            v = u[..., block.index]
            if own and not block.bounded:
                part = projection.simplex(v)
            else:
                part = projection.bounded_simplex(v, lo[..., block.index], hi[..., block.index])
            out = out.index_copy(-1, block.index, part)
        return out

    # -- feasibility ----------------------------------------------------------------------------------------------

    def violation(self, u: Tensor) -> Tensor:
        """How far each search point of ``u`` ``(b, n)`` breaks the linear constraints, in design units, ``(b,)``."""
        A, b = self._A.to(u), self._b.to(u)
        if A.shape[0] == 0:
            return torch.zeros(u.shape[0], dtype=u.dtype, device=u.device)
        gap = (u.unsqueeze(-2) * A).sum(dim=-1) - b
        gap = torch.where(self._equality, gap.abs(), gap.clamp_min(0.0))
        return (gap * self._row_scale.to(u)).amax(dim=-1)

    def design_violation(self, x: Tensor) -> Tensor:
        """How far each encoded design of ``x`` ``(b, dim)`` is from feasible (bounds, fixed values,
        integrality, one-hot blocks, composition sums, linear constraints; relative), ``(b,)``."""
        space = self.space
        scale = torch.maximum(space.upper.abs(), space.lower.abs()).to(x).clamp_min(1.0)
        worst = ((space.lower.to(x) - x).clamp_min(0) + (x - space.upper.to(x)).clamp_min(0)).div(scale).amax(dim=-1)
        for variable in space.variables:
            cols = space.column_slice(variable)
            part = x[:, cols]
            if isinstance(variable, Integer):
                worst = torch.maximum(worst, (part - part.round()).abs()[:, 0])
            elif isinstance(variable, Categorical):
                off = torch.minimum(part.abs(), (part - 1).abs()).amax(dim=-1)
                worst = torch.maximum(worst, torch.maximum(off, (part.sum(dim=-1) - 1).abs()))
            elif isinstance(variable, Composition):
                worst = torch.maximum(worst, (part.sum(dim=-1) - variable.total).abs() / variable.total)
                for i, name in enumerate(variable.names):
                    if name in space.fixed:
                        worst = torch.maximum(worst, (part[:, i] - space.fixed[name]).abs() / variable.total)
            if not isinstance(variable, Composition) and variable.name in space.fixed:
                expected = self._base[cols].to(x)
                worst = torch.maximum(worst, ((part - expected).abs().amax(dim=-1) / scale[cols].amax()))
        if self.has_constraints:
            worst = torch.maximum(worst, self._design_linear_violation(x))
        return torch.where(torch.isnan(x).any(dim=-1), torch.full_like(worst, float("inf")), worst)

    def contains(self, u: Tensor) -> Tensor:
        """Whether each search point of ``u`` ``(b, n)`` is feasible (relaxed: discrete columns need not be on their grid), ``(b,)``."""
        slack = 64 * torch.finfo(u.dtype).eps
        inside = ((u >= self._lower.to(u) - slack) & (u <= self._upper.to(u) + slack)).all(dim=-1)
        for block in self._blocks:
            inside &= (u[:, block.index].sum(dim=-1) - 1).abs() <= 64 * torch.finfo(u.dtype).eps * block.index.numel()
        return inside & (self.violation(u) <= FEASIBILITY_TOL)

    def excess(self, u: Tensor) -> Tensor:
        """How far each search point of ``u`` ``(b, n)`` lies outside the feasible set, ``(b,)``: the distance to its projection."""
        return (u - self.project(u.detach())).norm(dim=-1)

    def check_feasible(self) -> None:
        """Raise a ValueError naming the constraints if no design meets them (an exact MILP feasibility check)."""
        if not self._empty and not self.has_constraints and not self._blocks:
            return
        if self._empty or self._milp(None) is None:
            constraints = "; ".join(str(c) for c in self.space.linear) or "none"
            raise ValueError(
                f"the space has no feasible design: its bounds, compositions and linear constraints ({constraints}) "
                "contradict each other"
            )

    # -- sampling ----------------------------------------------------------------------------------------------------

    def sample(self, n: int, *, seed: int | None = None, start: int = 0, dtype: torch.dtype | None = None) -> Tensor:
        """Feasible search points ``start .. start + n - 1`` of the scrambled Sobol sequence of ``seed``, ``(n, n_dims)``.

        Each real and integer takes one Sobol dimension (integers uniform over their values), each
        categorical one (a uniform level), each composition one per component (uniform on its simplex,
        by normalised exponentials). Where component bounds or linear constraints cut the continuous
        columns, those columns come instead from a hit-and-run chain of ``seed`` on their polytope
        (BoTorch's `HitAndRunPolytopeSampler`: uniform in the limit, after burn-in and thinning);
        if a linear constraint also involves an integer, points that break it are moved to the
        nearest feasible point (`round`).
        """
        if n < 1:
            raise ValueError(f"sample needs n >= 1, got {n}")
        in_block = sum(b.index.numel() for b in self._blocks)
        width = self.dim - in_block + sum(1 if b.categorical else b.index.numel() for b in self._blocks)
        engine = torch.quasirandom.SobolEngine(width, scramble=True, seed=seed)
        if start:
            engine.fast_forward(start)
        s = engine.draw(n, dtype=torch.float64).to(self.device)
        u = torch.zeros(n, self.dim, dtype=torch.float64, device=self.device)
        at = 0
        integer_levels = dict(self.integers)
        ordinal_levels = {c: k for c, _, k in self.ordinal}
        block_of = {int(b.index[0]): b for b in self._blocks}
        column = 0
        while column < self.dim:
            if column in block_of:
                block = block_of[column]
                k = block.index.numel()
                if block.categorical:
                    level = (s[:, at] * k).floor().clamp(max=k - 1).long()
                    u[:, block.index] = torch.nn.functional.one_hot(level, k).double()
                    at += 1
                else:
                    e = -torch.log1p(-s[:, at : at + k].clamp(max=1 - 1e-16))
                    u[:, block.index] = e / e.sum(dim=-1, keepdim=True).clamp_min(1e-300)
                    at += k
                column += k
                continue
            levels = integer_levels.get(column) or ordinal_levels.get(column)
            if levels:
                u[:, column] = (s[:, at] * levels).floor().clamp(max=levels - 1) / (levels - 1)
            else:
                lo, hi = float(self._lower[column]), float(self._upper[column])
                u[:, column] = lo + s[:, at] * (hi - lo)
            at += 1
            column += 1
        if self._polytope_columns is not None:
            chain = self._polytope_chain(seed, start + n)
            if chain is not None:
                u[:, self._polytope_columns] = chain[start:].to(u)
        u = u.to(dtype=self.dtype)
        if self.has_constraints or any(b.bounded for b in self._blocks):
            u = self.round(u)
        return u.to(dtype=dtype or self.dtype)

    @property
    def _polytope_columns(self) -> Tensor | None:
        """The continuous columns, when bounds or constraints cut them and no constraint involves a discrete one."""
        cut = self.has_constraints or any(b.bounded and not b.categorical for b in self._blocks)
        if not cut or bool((self._A[:, self._discrete] != 0).any()):
            return None
        return (~self._discrete).nonzero().flatten()

    def _polytope_chain(self, seed: int | None, n: int) -> Tensor | None:
        """The first ``n`` points of the hit-and-run chain of ``seed`` on the continuous columns, ``(n, n_continuous)``, float64.

        The chain is kept, so that asking for later points continues it rather than starting over.
        ``None`` for a polytope too thin for the sampler (an inequality that holds only as an
        equality): the Sobol points are then moved onto the feasible set instead.
        """
        from botorch.exceptions.errors import BotorchError  # BoTorch loads when a constrained space is first sampled
        from botorch.utils.sampling import HitAndRunPolytopeSampler

        key = int(torch.randint(0, 2**62, ())) if seed is None else seed
        columns = self._polytope_columns
        assert columns is not None
        if key not in self._chains:
            A, b = self._A[:, columns].double().cpu(), self._b.double().cpu()
            eq = self._equality.cpu()
            rows, rhs = [A[eq]], [b[eq]]
            position = {int(c): i for i, c in enumerate(columns.tolist())}
            for block in self._blocks:
                if not block.categorical:
                    row = torch.zeros(columns.numel(), dtype=torch.float64)
                    row[[position[int(i)] for i in block.index.tolist()]] = 1.0
                    rows.append(row.unsqueeze(0))
                    rhs.append(torch.ones(1, dtype=torch.float64))
            C, d = torch.cat(rows), torch.cat(rhs)
            try:
                sampler = HitAndRunPolytopeSampler(
                    inequality_constraints=(A[~eq], b[~eq].unsqueeze(-1)) if bool((~eq).any()) else None,
                    equality_constraints=(C, d.unsqueeze(-1)) if C.shape[0] else None,
                    bounds=torch.stack([self._lower[columns], self._upper[columns]]).double().cpu(),
                    seed=key,
                )
            except (BotorchError, ValueError):
                self._chains[key] = None
            else:
                self._chains[key] = (sampler, torch.empty(0, columns.numel(), dtype=torch.float64))
        chain = self._chains[key]
        if chain is None:
            return None
        sampler, drawn = chain
        try:
            while drawn.shape[0] < n:
                # Always whole chunks: the sampler reseeds at every draw, so the chain is a function of the seed alone.
                drawn = torch.cat([drawn, sampler.draw(_CHAIN_CHUNK)])
                self._chains[key] = (sampler, drawn)
        except (BotorchError, ValueError):
            self._chains[key] = None
            return None
        return drawn[:n].to(self.device)

    # -- internals ----------------------------------------------------------------------------------------------------

    def _linear_rows(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The space's linear constraints as unit rows in search coordinates (see `linear_constraints`)."""
        space = self.space
        rows, rhs, equality, scales = [], [], [], []
        column = {name: i for i, name in enumerate(space.columns)}
        position = {int(d): p for p, d in enumerate(self._dst.tolist())}
        for c in space.linear:
            a = torch.zeros(self.dim, dtype=torch.float64)
            b = c.rhs
            for name, coefficient in c.coefficients.items():
                design = column[name]
                if design in position:
                    p = position[design]
                    a[int(self._src[p])] += coefficient * float(self._scale[p])
                    b -= coefficient * float(self._offset[p])
                else:
                    b -= coefficient * float(self._base[design])
            sign = -1.0 if c.op == ">=" else 1.0
            a, b = sign * a, sign * b
            norm = float(a.norm())
            if norm == 0.0:
                ok = abs(b) <= 1e-12 if c.op == "==" else b >= -1e-12
                if not ok:
                    raise ValueError(f"the space has no feasible design: the fixed values break the constraint {str(c)!r}")
                continue
            single = a.nonzero().flatten()
            if single.numel() == 1 and not bool(self._discrete[int(single)]):
                # A bound on one continuous column: tighten the column's bounds instead (exact, and no projection cost).
                self._tighten(int(single), b / float(a[single]), upper=float(a[single]) > 0, equal=c.op == "==")
                continue
            rows.append(a / norm)
            rhs.append(b / norm)
            equality.append(c.op == "==")
            scales.append(norm / max(1.0, abs(c.rhs)))
        dtype, device = self.dtype, self.device
        if not rows:
            empty = torch.zeros(0, dtype=dtype, device=device)
            return torch.zeros(0, self.dim, dtype=dtype, device=device), empty, torch.zeros(0, dtype=torch.bool, device=device), empty
        return (
            torch.stack(rows).to(dtype=dtype, device=device),
            torch.tensor(rhs, dtype=dtype, device=device),
            torch.tensor(equality, device=device),
            torch.tensor(scales, dtype=dtype, device=device),
        )

    def _tighten(self, column: int, value: float, *, upper: bool, equal: bool) -> None:
        """Fold ``u[column] <= value`` (``upper``), ``>= value``, or ``== value`` (``equal``) into the column's bounds."""
        if equal or upper:
            self._upper[column] = min(float(self._upper[column]), value)
        if equal or not upper:
            self._lower[column] = max(float(self._lower[column]), value)
        self._empty |= float(self._lower[column]) > float(self._upper[column]) + 1e-12
        self._upper[column] = torch.maximum(self._upper[column], self._lower[column])
        for i, block in enumerate(self._blocks):
            if column in block.index.tolist():
                self._blocks[i] = _Block(block.index, self._lower[block.index], self._upper[block.index], True, block.categorical)

    def _design_linear_violation(self, x: Tensor) -> Tensor:
        column = {name: i for i, name in enumerate(self.space.columns)}
        worst = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for c in self.space.linear:
            gap = -c.rhs + sum(coefficient * x[:, column[name]] for name, coefficient in c.coefficients.items())
            assert isinstance(gap, Tensor)
            gap = gap.abs() if c.op == "==" else (gap if c.op == "<=" else -gap).clamp_min(0)
            worst = torch.maximum(worst, gap / max(1.0, abs(c.rhs)))
        return worst

    def _repair(self, u: Tensor) -> Tensor:
        """The nearest feasible point (L1) of each row of ``u`` ``(r, n)``, discrete columns on their grid (a MILP per row)."""
        out = u.clone()
        for i in range(u.shape[0]):
            point = self._milp(u[i])
            if point is not None:
                out[i] = torch.as_tensor(point, dtype=u.dtype, device=u.device)
        return out

    def _milp(self, target: Tensor | None, lower_bound: Tensor | None = None, upper_bound: Tensor | None = None) -> np.ndarray | None:
        """A feasible search point (the nearest to ``target`` in L1, or any), or ``None`` if there is none.

        ``lower_bound``/``upper_bound`` ``(n,)`` replace the view's bounds (pinned columns).
        """
        from scipy.optimize import Bounds, LinearConstraint, milp

        n = self.dim
        grid = np.ones(n)
        integrality = np.zeros(n)
        for column, levels in self.integers + [(c, k) for c, _, k in self.ordinal]:
            grid[column] = levels - 1
            integrality[column] = 1
        for block in self._blocks:
            if block.categorical:
                integrality[block.index.cpu().numpy()] = 1
        # Variables w = u * grid (integers count levels), then t >= |w / grid - target| for the L1 distance.
        lower = (self._lower if lower_bound is None else lower_bound).cpu().double().numpy() * grid
        upper = (self._upper if upper_bound is None else upper_bound).cpu().double().numpy() * grid
        rows, lo, hi = [], [], []
        A = self._A.cpu().double().numpy() / grid
        b = self._b.cpu().double().numpy()
        for a, rhs, eq in zip(A, b, self._equality.cpu().numpy()):
            rows.append(a)
            lo.append(rhs if eq else -np.inf)
            hi.append(rhs)
        for block in self._blocks:
            a = np.zeros(n)
            a[block.index.cpu().numpy()] = 1.0
            rows.append(a)
            lo.append(1.0)
            hi.append(1.0)
        if target is None:
            result = milp(np.zeros(n), integrality=integrality, bounds=Bounds(lower, upper),
                          constraints=LinearConstraint(np.array(rows), lo, hi) if rows else ())
            return None if result.x is None else result.x / grid
        t = target.detach().cpu().double().numpy()
        eye = np.diag(1.0 / grid)
        # |w/grid - t| <= s  <=>  w/grid - s <= t  and  -w/grid - s <= -t
        big = np.block([[np.array(rows) if rows else np.zeros((0, n)), np.zeros((len(rows), n))],
                        [eye, -np.eye(n)], [-eye, -np.eye(n)]])
        lo_all = np.concatenate([lo, np.full(2 * n, -np.inf)])
        hi_all = np.concatenate([hi, t, -t])
        result = milp(
            np.concatenate([np.zeros(n), np.ones(n)]),
            integrality=np.concatenate([integrality, np.zeros(n)]),
            bounds=Bounds(np.concatenate([lower, np.zeros(n)]), np.concatenate([upper, np.full(n, np.inf)])),
            constraints=LinearConstraint(big, lo_all, hi_all),
        )
        return None if result.x is None else result.x[:n] / grid

    def __repr__(self) -> str:
        return f"SpaceView({self.space!r}, relax={self.relax})"
