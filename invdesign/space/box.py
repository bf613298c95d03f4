"""`Box`: the all-real, unnamed design space (or latent box), and `UnitCube`, the coordinates solvers search it in."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor

if TYPE_CHECKING:
    import pandas

ArrayLike = Sequence[float] | Tensor | float | int


class Box:
    """An axis-aligned box ``lower <= x <= upper`` of dimension ``d``.

    Args:
        lower: Lower bounds, shape ``(d,)``, or a scalar broadcast to ``dim``.
        upper: Upper bounds, shape ``(d,)``, or a scalar broadcast to ``dim``.
        dim: The dimension; required when both bounds are scalars, checked otherwise.
        dtype: Floating dtype of the stored bounds; default: that of floating-point tensor bounds
            (the wider of the two), else ``torch.float64``.
        device: Device of the stored bounds.

    Raises:
        ValueError: if a bound is NaN or infinite, if ``lower >= upper`` anywhere,
            or if the shapes do not agree with each other or with ``dim``.

    Example:
        >>> box = Box([-1.0, 0.0], [1.0, 2.0])
        >>> box.sample(4, seed=0).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        lower: ArrayLike,
        upper: ArrayLike,
        *,
        dim: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if dtype is None:
            floating = [b.dtype for b in (lower, upper) if isinstance(b, Tensor) and b.dtype.is_floating_point]
            dtype = torch.promote_types(*floating) if len(floating) == 2 else floating[0] if floating else torch.float64
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"Box dtype must be a floating point dtype, got {dtype}")
        lo = torch.as_tensor(lower, dtype=dtype, device=device)
        hi = torch.as_tensor(upper, dtype=dtype, device=device)
        if lo.ndim > 1 or hi.ndim > 1:
            raise ValueError(
                f"Box bounds must be scalars or 1-d, got shapes {tuple(lo.shape)} and {tuple(hi.shape)}"
            )
        sizes = {t.numel() for t in (lo, hi) if t.ndim == 1}
        if len(sizes) > 1:
            raise ValueError(
                f"Box lower has {lo.numel()} entries but upper has {hi.numel()}"
            )
        if dim is None:
            if not sizes:
                raise ValueError("Box bounds are both scalars: pass dim= to set the dimension")
            dim = sizes.pop()
        elif sizes and sizes.pop() != dim:
            raise ValueError(f"Box bounds have {max(lo.numel(), hi.numel())} entries but dim={dim}")
        if isinstance(dim, bool) or not hasattr(dim, "__index__"):
            raise TypeError(f"Box dim must be an integer, got {dim!r}")
        dim = operator.index(dim)
        if dim < 1:
            raise ValueError(f"Box dimension must be at least 1, got {dim}")
        lo = lo.expand(dim).clone()
        hi = hi.expand(dim).clone()
        for name, t in (("lower", lo), ("upper", hi)):
            if not torch.isfinite(t).all():
                bad = (~torch.isfinite(t)).nonzero().flatten().tolist()
                raise ValueError(f"Box {name} bound is NaN or infinite at index {bad}")
        if not (lo < hi).all():
            bad = (lo >= hi).nonzero().flatten().tolist()
            raise ValueError(f"Box needs lower < upper, violated at index {bad}")
        if not torch.isfinite(hi - lo).all():
            bad = (~torch.isfinite(hi - lo)).nonzero().flatten().tolist()
            raise ValueError(f"Box width upper - lower overflows {dtype} at index {bad}: bounds that far apart cannot be searched")
        self.lower: Tensor = lo
        self.upper: Tensor = hi

    @property
    def dim(self) -> int:
        """The dimension ``d``."""
        return self.lower.numel()

    @property
    def dtype(self) -> torch.dtype:
        return self.lower.dtype

    @property
    def device(self) -> torch.device:
        return self.lower.device

    @property
    def variable_kinds(self) -> frozenset[str]:
        """The kinds of variables in the space; a box holds ``"real"`` ones only."""
        return frozenset({"real"})

    @property
    def constraint_kinds(self) -> frozenset[str]:
        """Constraints beyond the bounds: a box has none."""
        return frozenset()

    @property
    def nonlinear(self) -> tuple[()]:
        """Nonlinear constraints: a box has none."""
        return ()

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the columns of a design: ``x0 .. x{d-1}``."""
        return tuple(f"x{i}" for i in range(self.dim))

    def feasible(self, x: Tensor) -> Tensor:
        """Whether each design of ``x`` ``(b, d)`` lies in the box, ``(b,)`` (a box has no other constraint)."""
        return self.contains(x)

    def nonlinear_violation(self, x: Tensor) -> Tensor:
        """Zeros ``(b,)``: a box has no nonlinear constraint."""
        return torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)

    def to_frame(self, X: Tensor, **columns: Any) -> pandas.DataFrame:
        """Designs ``X`` ``(n, d)`` as a table with columns ``x0 .. x{d-1}``, then ``columns`` (each ``(n,)``)."""
        import pandas

        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"expected designs of shape (n, {self.dim}), got {tuple(X.shape)}")
        data: dict[str, Any] = dict(zip(self.columns, X.detach().cpu().double().numpy().T))
        for name, values in columns.items():
            data[name] = values.detach().cpu().numpy() if isinstance(values, Tensor) else values
        return pandas.DataFrame(data)

    def from_frame(self, frame: pandas.DataFrame) -> Tensor:
        """Designs ``(n, d)`` of a table: its columns ``x0 .. x{d-1}``, or all its columns if there are ``d``."""
        names = list(self.columns) if all(c in frame.columns for c in self.columns) else list(frame.columns)
        if len(names) != self.dim:
            raise ValueError(f"the table has {len(frame.columns)} columns; the box needs {self.dim} (or columns {list(self.columns)[:3]}...)")
        try:
            values = frame[names].to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise ValueError("the table holds values that are not numbers") from None
        return torch.as_tensor(values, dtype=self.dtype, device=self.device)

    def spec(self) -> dict[str, Any]:
        """A JSON-ready description: the bounds."""
        return {"lower": self.lower.tolist(), "upper": self.upper.tolist()}

    @property
    def bounds(self) -> Tensor:
        """Bounds stacked BoTorch-style, shape ``(2, d)``."""
        return torch.stack([self.lower, self.upper])

    @property
    def width(self) -> Tensor:
        """``upper - lower``, shape ``(d,)``."""
        return self.upper - self.lower

    @property
    def center(self) -> Tensor:
        """``(lower + upper) / 2``, shape ``(d,)``."""
        return (self.lower + self.upper) / 2

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> Box:
        """The same box with bounds of another dtype or on another device.

        Raises:
            ValueError: if the bounds collapse (``lower == upper``) or their width overflows in ``dtype``.
        """
        try:
            return type(self)(self.lower, self.upper, dtype=dtype or self.dtype, device=device or self.device)
        except ValueError as error:
            raise ValueError(
                f"the box does not survive conversion from {self.dtype} to {dtype}: {error}. Widen it, or "
                f"search in {self.dtype} (a {self.dtype} model, or dtype={self.dtype} to the objective)"
            ) from error

    def sample(
        self,
        n: int,
        *,
        seed: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Scrambled Sobol points in the box, shape ``(n, d)`` (seeded uniform points above Sobol's
        21,201 dimensions: `unit_points`).

        The same ``seed`` gives the same points on every device.
        """
        u = unit_points(self.dim, n, seed=seed)
        return self.from_unit(u.to(self.device)).to(
            dtype=dtype or self.dtype, device=device or self.device
        )

    def contains(self, x: Tensor) -> Tensor:
        """Whether each row of ``x`` (shape ``(b, d)``) lies in the box, shape ``(b,)``."""
        lo, hi = self._like(x)
        return ((x >= lo) & (x <= hi)).all(dim=-1)

    def clamp(self, x: Tensor) -> Tensor:
        """Project ``x`` (shape ``(..., d)``) onto the box."""
        lo, hi = self._like(x)
        return torch.clamp(x, min=lo, max=hi)

    def coordinates(self, *, relax: bool = True) -> UnitCube:
        """The coordinates solvers search this box in (`UnitCube`), in the box's dtype and on its device.

        ``relax`` is accepted for the interface of `invdesign.space.Space.coordinates`: a box has
        no discrete variable, so its coordinates are the same either way.
        """
        return UnitCube(self)

    def to_unit(self, x: Tensor) -> Tensor:
        """Map ``x`` (shape ``(..., d)``) from the box to the unit cube."""
        lo, hi = self._like(x)
        return (x - lo) / (hi - lo)

    def from_unit(self, u: Tensor) -> Tensor:
        """Map ``u`` (shape ``(..., d)``) from the unit cube to the box."""
        lo, hi = self._like(u)
        return lo + u * (hi - lo)

    def _like(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.shape[-1] != self.dim:
            raise ValueError(
                f"expected designs with last dimension {self.dim} (the box's), got shape {tuple(x.shape)}"
            )
        return (
            self.lower.to(dtype=x.dtype, device=x.device),
            self.upper.to(dtype=x.dtype, device=x.device),
        )

    def __repr__(self) -> str:
        if self.dim <= 6:
            return f"Box(lower={self.lower.tolist()}, upper={self.upper.tolist()})"
        return f"Box(dim={self.dim}, lower=[{self.lower.min():g} .. {self.lower.max():g}], upper=[{self.upper.min():g} .. {self.upper.max():g}])"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Box):
            return NotImplemented
        return (
            self.dim == other.dim
            and torch.equal(self.lower.cpu().double(), other.lower.cpu().double())
            and torch.equal(self.upper.cpu().double(), other.upper.cpu().double())
        )

    __hash__ = None  # type: ignore[assignment]


class UnitCube:
    """The search coordinates of a `Box`: its unit cube, and the maps between it and the box.

    Every solver searches in these coordinates and sees nothing else of the space: the run engine
    maps each search point ``u`` to the design ``x`` the objective evaluates, so a step size, a GP
    lengthscale or a CMA-ES step means the same on every box. Spaces with fixed features, simplex
    blocks or categorical choices give their own coordinates with the same methods.

    Args:
        space: The box.
    """

    relax: ClassVar[bool] = True
    integers: ClassVar[list[tuple[int, int]]] = []
    ordinal: ClassVar[list[tuple[int, int, int]]] = []
    blocks: ClassVar[list[Tensor]] = []
    has_constraints: ClassVar[bool] = False

    def __init__(self, space: Box) -> None:
        self.space = space
        self._lower, self._width = space.lower, space.width

    @property
    def dim(self) -> int:
        """Dimension of the search coordinates."""
        return self.space.dim

    @property
    def dtype(self) -> torch.dtype:
        return self.space.dtype

    @property
    def device(self) -> torch.device:
        return self.space.device

    @property
    def bounds(self) -> Tensor:
        """Bounds of the search coordinates stacked BoTorch-style, shape ``(2, d)``: zeros and ones."""
        return torch.stack([torch.zeros_like(self.space.lower), torch.ones_like(self.space.upper)])

    @property
    def discrete(self) -> Tensor:
        """Which search columns are discrete: none, ``(d,)`` bool."""
        return torch.zeros(self.dim, dtype=torch.bool, device=self.device)

    def linear_constraints(self) -> tuple[Tensor, Tensor, Tensor]:
        """No linear constraints: ``A (0, d)``, ``b (0,)``, ``equality (0,)``."""
        zeros = torch.zeros(0, self.dim, dtype=self.dtype, device=self.device)
        return zeros, zeros[:, 0], torch.zeros(0, dtype=torch.bool, device=self.device)

    def round(self, u: Tensor) -> Tensor:
        """`project`: a box has no discrete variable to round."""
        return self.project(u)

    def to_design(self, u: Tensor) -> Tensor:
        """Designs for search points ``u`` (shape ``(..., d)``, any float dtype), in the box's dtype.

        Points outside the search bounds map outside the box; `project` them first to stay inside.
        """
        if u.dtype == self.dtype and u.device == self.device and u.shape[-1] == self.dim:
            return self._lower + u * self._width  # the hot path of every solver: no conversion, no check
        return self.space.from_unit(u.to(device=self.device, dtype=torch.promote_types(u.dtype, self.dtype))).to(self.dtype)

    def designs(self, u: Tensor) -> Tensor:
        """The designs of search points ``u`` (shape ``(..., d)``), projected first and exactly inside the box."""
        return self.space.clamp(self.to_design(self.project(u)))

    def to_search(self, x: Tensor) -> Tensor:
        """Search points of designs ``x`` (shape ``(..., d)``), in ``x``'s dtype."""
        return self.space.to_unit(x)

    def project(self, u: Tensor) -> Tensor:
        """The nearest point of the search bounds to each of ``u`` (shape ``(..., d)``): a clamp to ``[0, 1]``."""
        return u.clamp(0.0, 1.0)

    def project_(self, u: Tensor) -> Tensor:
        """`project` in place; returns ``u``."""
        return u.clamp_(0.0, 1.0)

    def excess(self, u: Tensor) -> Tensor:
        """How far each search point of ``u`` (shape ``(b, d)``) lies outside the box, in design units, shape ``(b,)``.

        ``sum_i relu(|x_i - center_i| - width_i / 2)`` for the design ``x`` of ``u``: the
        neural-adjoint boundary loss (`invdesign.penalties.BoundaryPenalty`) without its weight.
        """
        return ((u - 0.5).abs() - 0.5).relu().mul(self.space.width.to(u)).sum(dim=-1)

    def contains(self, u: Tensor) -> Tensor:
        """Whether each search point of ``u`` (shape ``(b, d)``) lies within the bounds, shape ``(b,)``."""
        return ((u >= 0) & (u <= 1)).all(dim=-1)

    def sample(self, n: int, *, seed: int | None = None, start: int = 0, dtype: torch.dtype | None = None) -> Tensor:
        """Points ``start .. start + n - 1`` of the scrambled Sobol sequence of ``seed`` in the search coordinates, shape ``(n, d)`` (`unit_points`)."""
        return unit_points(self.dim, n, seed=seed, start=start).to(device=self.device, dtype=dtype or self.dtype)

    def __repr__(self) -> str:
        return f"UnitCube({self.space!r})"


def unit_points(dim: int, n: int, *, seed: int | None = None, start: int = 0) -> Tensor:
    """Points ``start .. start + n - 1`` of the scrambled Sobol sequence of ``seed`` in ``[0, 1]^dim``, ``(n, dim)``, float64, CPU.

    Above the dimension torch's Sobol engine supports (`SobolEngine.MAXDIM`, 21,201; an image-sized
    design), independent uniform points from a generator seeded by ``seed`` and ``start`` instead.

    Raises:
        ValueError: for ``n < 1``.
    """
    if n < 1:
        raise ValueError(f"sample needs n >= 1, got {n}")
    if dim > torch.quasirandom.SobolEngine.MAXDIM:
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed((seed * 1_000_003 + start) % 2**63)
        return torch.rand(n, dim, dtype=torch.float64, generator=generator)
    engine = torch.quasirandom.SobolEngine(dim, scramble=True, seed=seed)
    if start:
        engine.fast_forward(start)
    return engine.draw(n, dtype=torch.float64)
