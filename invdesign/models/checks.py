"""Checks the models share (counts, widths, design shapes and ranges, training data), and the scaling
of designs between a model's ``data_range`` and ``[0, 1]`` that goes with them."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from invdesign.space.table import as_tensor


def check_count(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum``.

    Accepts integers (NumPy's too) and integral floats such as ``3.0``.

    Raises:
        TypeError: for anything else, a bool included.
        ValueError: below ``minimum``.
    """
    integral = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral:
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return int(value)


def check_data_shape(data_shape: Sequence[int]) -> tuple[int, ...]:
    """``data_shape`` as a tuple of positive ints; raises ``TypeError`` / ``ValueError`` otherwise."""
    if isinstance(data_shape, int) or not isinstance(data_shape, Sequence):
        raise TypeError(f"data_shape must be a tuple of ints such as (64,) or (1, 8, 8), got {data_shape!r}")
    if len(data_shape) == 0 or any(int(s) != s or s < 1 for s in data_shape):
        raise ValueError(f"data_shape must be a non-empty tuple of positive ints, got {tuple(data_shape)}")
    return tuple(int(s) for s in data_shape)


def check_data_range(data_range: Sequence[float]) -> tuple[float, float]:
    """``data_range`` as ``(low, high)`` floats with ``low < high``, both finite."""
    if len(data_range) != 2:
        raise ValueError(f"data_range must be (low, high), got {data_range!r}")
    low, high = float(data_range[0]), float(data_range[1])
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"data_range must be finite with low < high, got ({low}, {high})")
    return low, high


def check_hidden(hidden: Sequence[int]) -> tuple[int, ...]:
    """Hidden-layer widths as a tuple of positive ints (possibly empty)."""
    if isinstance(hidden, int) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of ints, got {hidden!r}")
    if any(isinstance(w, bool) or int(w) != w or w < 1 for w in hidden):
        raise ValueError(f"hidden must hold positive integers, got {tuple(hidden)}")
    return tuple(int(w) for w in hidden)


def check_latent(z: Tensor, latent_dim: int) -> None:
    """Raise ``ValueError`` unless ``z`` has shape ``(b, latent_dim)``."""
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"z must have shape (b, {latent_dim}), got {tuple(z.shape)}")


def normalized(x: Tensor, data_range: tuple[float, float]) -> Tensor:
    """Data units -> ``[0, 1]``: ``(x - low) / (high - low)``, any shape."""
    low, high = data_range
    return (x - low) / (high - low)


def denormalized(u: Tensor, data_range: tuple[float, float]) -> Tensor:
    """``[0, 1]`` -> data units, any shape, clamped so rounding can never leave ``data_range``."""
    low, high = data_range
    return (low + (high - low) * u).clamp(low, high)


def flatten_batch(x: Tensor, data_shape: tuple[int, ...], name: str = "x") -> Tensor:
    """``x`` of shape ``(b, *data_shape)`` or ``(b, prod(data_shape))`` as ``(b, prod(data_shape))``."""
    size = math.prod(data_shape)
    if tuple(x.shape[1:]) == data_shape or (x.ndim == 2 and x.shape[1] == size):
        return x.reshape(x.shape[0], size)
    raise ValueError(
        f"{name} must have shape (b, {', '.join(map(str, data_shape))}) or (b, {size}), got {tuple(x.shape)}"
    )


def as_training_data(
    X: Tensor, data_shape: tuple[int, ...], data_range: tuple[float, float]
) -> Tensor:
    """Check training data ``(n, *data_shape)`` and return it flattened to ``(n, prod(data_shape))``, scaled to ``[0, 1]``.

    Raises:
        TypeError: if ``X`` is not floating point.
        ValueError: for a wrong shape, no rows, non-finite values or values outside ``data_range``.
    """
    X = as_tensor(X, "X")
    if not X.dtype.is_floating_point:
        raise TypeError(f"X must be floating point, got {X.dtype}")
    X = flatten_batch(X, data_shape, "X")
    if X.shape[0] == 0:
        raise ValueError("X has no rows")
    if not bool(torch.isfinite(X).all()):
        raise ValueError("X contains NaN or infinite values")
    low, high = data_range
    x_min, x_max = float(X.min()), float(X.max())
    if x_min < low or x_max > high:
        raise ValueError(
            f"X has values in [{x_min:g}, {x_max:g}], outside the model's data_range ({low:g}, {high:g})"
        )
    return normalized(X, data_range)
