"""`Program`: a mixed-integer linear program built up block by block and solved by HiGHS through SciPy.

SciPy's `scipy.optimize.milp` (HiGHS) solves it; its LP relaxation (the same call without
integrality) serves the bound tightening. SciPy is a dependency already, and the encoding needs
neither an incremental model nor callbacks, so ``highspy`` is not needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse
from scipy.optimize import Bounds, LinearConstraint, milp

LP_MARGIN = 1e-7
"""Relative margin by which a bound from an LP is loosened, for HiGHS's optimality tolerance."""


@dataclass(frozen=True)
class Solution:
    """What HiGHS returned.

    Attributes:
        x: The incumbent's values of every variable, ``(n,)``; ``None`` when none was found.
        value: Its objective value (``inf`` without an incumbent).
        bound: HiGHS's lower bound on the optimum (``-inf`` when it has none).
        status: SciPy's status: 0 optimal (within the gap), 1 a time or node limit, 2 infeasible,
            3 unbounded, 4 other.
        message: SciPy's message.
        nodes: Branch-and-bound nodes explored.
    """

    x: np.ndarray | None
    value: float
    bound: float
    status: int
    message: str
    nodes: int


class Program:
    """Variables with bounds (some integer) and rows ``lo <= A v <= hi``, added block by block."""

    def __init__(self) -> None:
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integer: list[bool] = []
        self._entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._lo: list[np.ndarray] = []
        self._hi: list[np.ndarray] = []
        self.n_rows = 0

    @property
    def n(self) -> int:
        """Number of variables."""
        return len(self.lower)

    def variables(self, lower: np.ndarray, upper: np.ndarray, *, integer: bool | np.ndarray = False) -> np.ndarray:
        """Add variables ``lower <= v <= upper`` (shapes ``(k,)``); their indices, ``(k,)``."""
        k = len(lower)
        start = self.n
        self.lower += np.asarray(lower, dtype=float).tolist()
        self.upper += np.asarray(upper, dtype=float).tolist()
        self.integer += np.broadcast_to(np.asarray(integer, dtype=bool), (k,)).tolist()
        return np.arange(start, start + k)

    def rows(self, columns: np.ndarray, A: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float) -> None:
        """Add rows ``lo <= A @ v[columns] <= hi``: ``A`` ``(m, len(columns))``, ``lo`` and ``hi`` ``(m,)`` or scalars."""
        A = np.atleast_2d(np.asarray(A, dtype=float))
        m = A.shape[0]
        if m == 0:
            return
        r, c = np.nonzero(A)
        self._entries.append((r + self.n_rows, np.asarray(columns)[c], A[r, c]))
        self._lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (m,)).copy())
        self._hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (m,)).copy())
        self.n_rows += m

    def matrix(self) -> sparse.csr_array:
        """The rows as a sparse ``(n_rows, n)`` matrix."""
        if not self._entries:
            return sparse.csr_array((0, self.n))
        r, c, v = (np.concatenate(part) for part in zip(*self._entries))
        return sparse.csr_array((v, (r, c)), shape=(self.n_rows, self.n))

    def _constraints(self) -> LinearConstraint | list:
        if not self.n_rows:
            return []
        return LinearConstraint(self.matrix(), np.concatenate(self._lo), np.concatenate(self._hi))

    def relaxation(self) -> Relaxation:
        """The LP relaxation of the program as it stands (integrality dropped)."""
        return Relaxation(self._constraints(), Bounds(np.array(self.lower), np.array(self.upper)), self.n)

    def solve(
        self, c: np.ndarray, *, time_limit: float | None, node_limit: int | None, mip_gap: float
    ) -> Solution:
        """Minimize ``c @ v`` (``c`` ``(n,)``) with HiGHS, within a time (seconds) and node limit and a relative gap."""
        options: dict[str, float | int | bool] = {"mip_rel_gap": mip_gap, "disp": False}
        if time_limit is not None:
            options["time_limit"] = max(time_limit, 1e-3)
        if node_limit is not None:
            options["node_limit"] = node_limit
        result = milp(
            c,
            integrality=np.array(self.integer, dtype=np.uint8),
            bounds=Bounds(np.array(self.lower), np.array(self.upper)),
            constraints=self._constraints(),
            options=options,
        )
        status = int(result.status)
        if status == 4 and "limit reached" in str(result.message).lower():
            status = 1  # HiGHS's node limit, which SciPy passes on as an unrecognised status
        x = None if result.x is None else np.asarray(result.x)
        value = float(result.fun) if x is not None else math.inf
        bound = getattr(result, "mip_dual_bound", None)
        if bound is None or not math.isfinite(float(bound)):
            # An LP (no integer variable) solved to optimality is its own bound.
            bound = value if status == 0 and x is not None else -math.inf
        nodes = int(getattr(result, "mip_node_count", 0) or 0)
        return Solution(x, value, float(bound), status, str(result.message), nodes)


class Relaxation:
    """An LP relaxation: ``min c @ v`` over its rows and bounds, one call per objective."""

    def __init__(self, constraints: LinearConstraint | list, bounds: Bounds, n: int) -> None:
        self.constraints, self.bounds, self.n = constraints, bounds, n

    def minimum(self, c: np.ndarray) -> float:
        """A lower bound on ``c @ v`` over the relaxation (``c`` ``(k,)`` on its first ``k`` variables),
        loosened by `LP_MARGIN`; ``-inf`` when the LP does not solve."""
        full = np.zeros(self.n)
        full[: len(c)] = c
        result = milp(full, bounds=self.bounds, constraints=self.constraints, options={"disp": False})
        if result.status != 0 or result.fun is None:
            return -math.inf
        value = float(result.fun)
        return value - LP_MARGIN * (1.0 + abs(value))
