"""The named variables of a design space: `Real`, `Integer`, `Categorical` and `Composition`.

Each variable occupies one or more columns of the model's input (its *encoding*): a real or an
integer one column, a categorical one column per level (one-hot), a composition one column per
component (fractions summing to the composition's total).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["real", "integer", "categorical", "composition"]
KINDS: tuple[Kind, ...] = ("real", "integer", "categorical", "composition")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_name(name: Any, what: str) -> str:
    """``name`` if it can be written in a constraint string (a Python identifier), else a clear error."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{what} name {name!r} must be an identifier (letters, digits and underscores, not starting with a digit) "
            "so that constraint strings can name it"
        )
    return name


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Real:
    """A continuous variable ``low <= x <= high``; one column of the encoding."""

    name: str
    low: float
    high: float
    kind: Kind = "real"

    def __post_init__(self) -> None:
        check_name(self.name, "Real")
        low, high = _finite(self.low, f"Real {self.name!r} low"), _finite(self.high, f"Real {self.name!r} high")
        if not low < high:
            raise ValueError(f"Real {self.name!r} needs low < high, got low={low} and high={high} (use fixed= to pin it)")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.name,)

    def check_value(self, value: Any) -> float:
        """``value`` as a float inside the bounds, or a clear error."""
        v = _finite(value, f"the value of Real {self.name!r}")
        if not self.low <= v <= self.high:
            raise ValueError(f"the value {v} of {self.name!r} lies outside its bounds [{self.low}, {self.high}]")
        return v


@dataclass(frozen=True)
class Integer:
    """An integer variable ``low <= x <= high``; one column of the encoding, holding integral values."""

    name: str
    low: int
    high: int
    kind: Kind = "integer"

    def __post_init__(self) -> None:
        check_name(self.name, "Integer")
        for end in ("low", "high"):
            value = getattr(self, end)
            if isinstance(value, bool) or not float(value).is_integer():
                raise ValueError(f"Integer {self.name!r} {end} must be an integer, got {value!r}")
            object.__setattr__(self, end, int(value))
        if not self.low < self.high:
            raise ValueError(f"Integer {self.name!r} needs low < high, got {self.low} and {self.high} (use fixed= to pin it)")

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.name,)

    @property
    def n_levels(self) -> int:
        return self.high - self.low + 1

    def check_value(self, value: Any) -> int:
        """``value`` as an int inside the bounds, or a clear error."""
        v = _finite(value, f"the value of Integer {self.name!r}")
        if not v.is_integer():
            raise ValueError(f"the value {value!r} of Integer {self.name!r} is not an integer")
        if not self.low <= v <= self.high:
            raise ValueError(f"the value {int(v)} of {self.name!r} lies outside its bounds [{self.low}, {self.high}]")
        return int(v)


@dataclass(frozen=True)
class Categorical:
    """A choice among ``levels``; the model sees one column per level, exactly one of them 1."""

    name: str
    levels: tuple[Any, ...]
    kind: Kind = "categorical"

    def __post_init__(self) -> None:
        check_name(self.name, "Categorical")
        if isinstance(self.levels, (str, bytes)) or not isinstance(self.levels, Sequence):
            raise TypeError(f"Categorical {self.name!r} levels must be a sequence, got {self.levels!r}")
        levels = tuple(self.levels)
        if len(levels) < 2:
            raise ValueError(f"Categorical {self.name!r} needs at least 2 levels, got {list(levels)}")
        if len(set(map(str, levels))) != len(levels):
            raise ValueError(f"Categorical {self.name!r} has repeated levels: {list(levels)}")
        object.__setattr__(self, "levels", levels)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f"{self.name}={level}" for level in self.levels)

    def index(self, value: Any) -> int:
        """The position of level ``value``, or a clear error naming the levels."""
        for i, level in enumerate(self.levels):
            if value == level or str(value) == str(level):
                return i
        raise ValueError(f"{value!r} is not a level of Categorical {self.name!r}; its levels are {list(self.levels)}")

    def check_value(self, value: Any) -> Any:
        return self.levels[self.index(value)]


@dataclass(frozen=True)
class Composition:
    """Non-negative fractions ``x_1 .. x_k`` with ``sum x_i == total``; one column per component.

    Args:
        names: The components' names (``k >= 2``).
        total: What the components sum to (1 for fractions, 100 for percentages).
        lower: Lower bounds of the components, one number for all or one per component (default 0).
        upper: Upper bounds, likewise (default ``total``).
    """

    names: tuple[str, ...]
    total: float = 1.0
    lower: float | tuple[float, ...] | None = None
    upper: float | tuple[float, ...] | None = None
    kind: Kind = "composition"

    def __post_init__(self) -> None:
        if isinstance(self.names, str) or not isinstance(self.names, Sequence):
            raise TypeError(f"Composition names must be a sequence of names, got {self.names!r}")
        names = tuple(check_name(n, "Composition component") for n in self.names)
        if len(names) < 2:
            raise ValueError(f"a Composition needs at least 2 components, got {list(names)}")
        if len(set(names)) != len(names):
            raise ValueError(f"Composition components repeat a name: {list(names)}")
        total = _finite(self.total, "Composition total")
        if total <= 0:
            raise ValueError(f"Composition total must be positive, got {total}")
        lower = self._bounds(self.lower, 0.0, len(names), "lower")
        upper = self._bounds(self.upper, total, len(names), "upper")
        for name, lo, hi in zip(names, lower, upper):
            if not 0 <= lo <= hi <= total:
                raise ValueError(
                    f"Composition component {name!r} needs 0 <= lower <= upper <= total ({total}), got [{lo}, {hi}]"
                )
        if sum(lower) > total * (1 + 1e-12) or sum(upper) < total * (1 - 1e-12):
            raise ValueError(
                f"Composition {list(names)} cannot sum to {total:g}: its lower bounds sum to {sum(lower):g} and its "
                f"upper bounds to {sum(upper):g}"
            )
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    @staticmethod
    def _bounds(value: Any, default: float, k: int, end: str) -> tuple[float, ...]:
        if value is None:
            return (default,) * k
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (_finite(value, f"Composition {end}"),) * k
        values = tuple(_finite(v, f"Composition {end} bound") for v in value)
        if len(values) != k:
            raise ValueError(f"Composition {end} has {len(values)} entries for {k} components")
        return values

    @property
    def name(self) -> str:
        """The components' names joined by ``+``."""
        return "+".join(self.names)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.names

    @property
    def bounded(self) -> bool:
        """Whether a component bound is tighter than ``[0, total]``."""
        assert isinstance(self.lower, tuple) and isinstance(self.upper, tuple)
        return any(lo > 0 for lo in self.lower) or any(hi < self.total for hi in self.upper)


Variable = Real | Integer | Categorical | Composition
