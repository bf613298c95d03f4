"""The design space and the network as blocks of a `Program`.

**The space.** One variable per encoded column, the columns the model takes: a real its bounds, an
integer its bounds and integrality, a categorical one binary per level with the levels summing to
1, a composition one variable per component with the components summing to the total. A fixed
variable's columns have equal lower and upper bounds. Linear constraints are rows over the
columns they name.

**The network.** Layer by layer, each neuron's pre-activation ``p = w @ h + b`` gets bounds
``[low, up]`` by interval arithmetic from the previous layer's, then (``tighten``) by LP-based bound
tightening: the minimum and maximum of ``w @ h`` over the LP relaxation of everything encoded so
far, the space's rows included. A neuron with ``low >= 0`` is always active (``post = p``), one with
``up <= 0`` always inactive (``post = a p`` for a slope ``a``): neither needs a binary. Every other
neuron gets the big-M encoding of ``r = relu(p)`` with a binary ``z`` (Tjeng, Xiao, Tedrake, ICLR
2019)::

    r >= p,   r <= p - low (1 - z),   r <= up z,   0 <= r <= up,

and ``post = a p + (1 - a) r`` (``post = r`` for a ReLU).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from invdesign.mip.network import Network
from invdesign.mip.program import Program
from invdesign.space import Box, Categorical, Composition, Integer, Space

TIGHTEN_SHARE = 0.5
"""The most of the time limit bound tightening may spend; the solve gets the rest."""
LARGEST_BOUND = 1e8
"""The widest pre-activation bound big-M can be trusted with (in the model's units)."""


@dataclass
class Encoding:
    """Counts of what the network encoding holds, for the result's message.

    Attributes:
        neurons: Hidden neurons over every member.
        binaries: Those that needed a binary (neither always active nor always inactive).
        lps: LPs solved by the bound tightening.
        tightened: Whether tightening ran to the end (``False``: the time share ran out first).
        seconds: Time spent encoding, tightening included.
    """

    neurons: int = 0
    binaries: int = 0
    lps: int = 0
    tightened: bool = True
    seconds: float = 0.0


def encode_space(program: Program, space: Box | Space) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add the design variables of ``space`` and its rows to ``program``.

    Returns:
        The variables' indices ``(dim,)`` (in the order of the model's input columns) and their
        lower and upper bounds ``(dim,)``.
    """
    lower = space.lower.detach().cpu().double().numpy().copy()
    upper = space.upper.detach().cpu().double().numpy().copy()
    if not (np.isfinite(lower).all() and np.isfinite(upper).all()):
        raise ValueError("method 'milp' needs a bounded space: every column needs finite lower and upper bounds")
    if isinstance(space, Box):
        return program.variables(lower, upper), lower, upper
    integer = np.zeros(space.dim, dtype=bool)
    for variable in space.variables:
        cols = space.column_slice(variable)
        if isinstance(variable, Composition):
            for i, name in enumerate(variable.names):
                if name in space.fixed:
                    lower[cols.start + i] = upper[cols.start + i] = float(space.fixed[name])
        elif variable.name in space.fixed:
            value = space.fixed[variable.name]
            if isinstance(variable, Categorical):
                lower[cols] = upper[cols] = 0.0
                lower[cols.start + variable.index(value)] = upper[cols.start + variable.index(value)] = 1.0
            else:
                lower[cols.start] = upper[cols.start] = float(value)
        else:
            integer[cols] = isinstance(variable, (Integer, Categorical))
    x = program.variables(lower, upper, integer=integer)
    for variable in space.variables:
        cols = space.column_slice(variable)
        if isinstance(variable, Categorical):
            program.rows(x[cols], np.ones((1, len(variable.levels))), 1.0, 1.0)
        elif isinstance(variable, Composition):
            program.rows(x[cols], np.ones((1, len(variable.names))), variable.total, variable.total)
    column = {name: i for i, name in enumerate(space.columns)}
    for constraint in space.linear:
        names = list(constraint.coefficients)
        a = np.array([[constraint.coefficients[n] for n in names]])
        lo = -math.inf if constraint.op == "<=" else constraint.rhs
        hi = math.inf if constraint.op == ">=" else constraint.rhs
        program.rows(x[[column[n] for n in names]], a, lo, hi)
    return x, lower, upper


def encode_network(
    program: Program,
    network: Network,
    inputs: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    tighten: bool,
    deadline: float,
    encoding: Encoding,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add ``network`` on the variables ``inputs`` (indices, lower and upper bounds) to ``program``.

    Args:
        program: The program so far.
        network: The layers.
        inputs: The input variables' indices, lower and upper bounds, each ``(n_in,)``.
        tighten: Tighten the pre-activation bounds by LP (where the interval bounds are not
            already exact: every layer after the first, and the first when the space has rows).
        deadline: `time.perf_counter` time after which no more LPs are solved.
        encoding: Counts, updated in place.

    Returns:
        The output variables' indices, lower and upper bounds, each ``(n_out,)``.

    Raises:
        ValueError: when a bound exceeds `LARGEST_BOUND` (a space too wide for big-M).
    """
    t0 = time.perf_counter()
    h, lo, hi = inputs
    for depth, layer in enumerate(network):
        W, b = layer.weight, layer.bias
        pos, neg = np.clip(W, 0, None), np.clip(W, None, 0)
        low, up = pos @ lo + neg @ hi + b, pos @ hi + neg @ lo + b
        slope = np.ones(len(b)) if layer.slope is None else layer.slope
        if tighten and layer.slope is not None and (depth > 0 or program.n_rows > 0):
            low, up = _tighten(program, h, W, b, low, up, slope, deadline, encoding)
        widest = float(np.max(np.abs(np.concatenate([low, up])))) if len(low) else 0.0
        if widest > LARGEST_BOUND:
            raise ValueError(
                f"method 'milp' needs a bounded space: over this space a pre-activation of layer {depth} reaches "
                f"{widest:.3g} (limit {LARGEST_BOUND:.0e}), too wide for a big-M encoding to be trusted; narrow the "
                "space's bounds"
            )
        if layer.slope is not None:
            encoding.neurons += len(b)
        h, lo, hi = _layer(program, h, W, b, low, up, slope, encoding)
    encoding.seconds += time.perf_counter() - t0
    return h, lo, hi


def _tighten(
    program: Program,
    h: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    low: np.ndarray,
    up: np.ndarray,
    slope: np.ndarray,
    deadline: float,
    encoding: Encoding,
) -> tuple[np.ndarray, np.ndarray]:
    """Pre-activation bounds ``[low, up]`` of the neurons that are not yet stable, tightened by LP."""
    relaxation = program.relaxation()
    low, up = low.copy(), up.copy()
    for j in np.flatnonzero((low < 0) & (up > 0) & (slope != 1)):
        if time.perf_counter() > deadline:
            encoding.tightened = False
            break
        c = np.zeros(program.n)
        c[h] = W[j]
        low[j] = max(low[j], relaxation.minimum(c) + b[j])
        encoding.lps += 1
        if low[j] >= 0:
            continue
        up[j] = min(up[j], -relaxation.minimum(-c) + b[j])
        encoding.lps += 1
    return low, up


def _layer(
    program: Program,
    h: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    low: np.ndarray,
    up: np.ndarray,
    slope: np.ndarray,
    encoding: Encoding,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One layer's neurons on the previous layer's variables ``h``; the post-activation variables and bounds."""
    active = (low >= 0) | (slope == 1)
    inactive = ~active & (up <= 0)
    unstable = ~active & ~inactive
    post_lo = np.where(active, low, slope * low)
    post_hi = np.where(active | unstable, up, slope * up)
    post = program.variables(post_lo, post_hi)
    # Always active: post = p. Always inactive: post = a p (a constant 0 for a ReLU, held by its bounds).
    linear = active | (inactive & (slope != 0))
    scale = np.where(active, 1.0, slope)[linear]
    program.rows(
        np.concatenate([h, post[linear]]),
        np.hstack([-scale[:, None] * W[linear], np.eye(int(linear.sum()))]),
        scale * b[linear],
        scale * b[linear],
    )
    k = int(unstable.sum())
    if k:
        encoding.binaries += k
        Wu, bu, lu, uu, su = W[unstable], b[unstable], low[unstable], up[unstable], slope[unstable]
        plain = su == 0
        r = post[unstable].copy()
        extra = program.variables(np.zeros(int((~plain).sum())), uu[~plain])
        r[~plain] = extra
        z = program.variables(np.zeros(k), np.ones(k), integer=True)
        eye = np.eye(k)
        program.rows(np.concatenate([h, r]), np.hstack([-Wu, eye]), bu, math.inf)
        program.rows(np.concatenate([h, r, z]), np.hstack([-Wu, eye, -np.diag(lu)]), -math.inf, bu - lu)
        program.rows(np.concatenate([r, z]), np.hstack([eye, -np.diag(uu)]), -math.inf, 0.0)
        if (~plain).any():
            s = su[~plain]
            n = int((~plain).sum())
            program.rows(
                np.concatenate([h, post[unstable][~plain], extra]),
                np.hstack([-s[:, None] * Wu[~plain], np.eye(n), -np.diag(1 - s)]),
                s * bu[~plain],
                s * bu[~plain],
            )
    return post, post_lo, post_hi
