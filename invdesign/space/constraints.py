"""Constraints of a design space: linear ones over named variables, and nonlinear callables.

A linear constraint is written as a scientist reads it, ``"Fe + Ni <= 0.6"`` or
``"2*w1 - w2 >= 0"`` (parsed by `Linear.parse`, names checked against the space), or built as
``Linear({"Fe": 1, "Ni": 1}, "<=", 0.6)``. A nonlinear constraint is a callable ``g`` on the
model's input batch, ``(b, d) -> (b,)`` or ``(b, m)``, feasible where ``g(x) <= 0``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from torch import Tensor

Op = Literal["<=", ">=", "=="]
_READ: dict[type, Op] = {ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "==", ast.Lt: "<=", ast.Gt: ">="}
"""How each comparison reads: ``<`` and ``>`` as their non-strict forms (a continuous search cannot tell them apart)."""

NonlinearConstraint = Callable[[Tensor], Tensor]
"""``g(x)``: designs ``(b, d)`` (the model's input) -> ``(b,)`` or ``(b, m)``; feasible where every entry is ``<= 0``."""


@dataclass(frozen=True)
class Linear:
    """``sum_i coefficients[name_i] * x[name_i]  op  rhs``, with ``op`` one of ``<=``, ``>=``, ``==``.

    Names are those of `Real`, `Integer` variables and `Composition` components (a categorical
    choice has no value to add up).
    """

    coefficients: Mapping[str, float]
    op: Op
    rhs: float
    text: str = ""

    def __post_init__(self) -> None:
        if self.op not in ("<=", ">=", "=="):
            raise ValueError(f"a linear constraint's op must be '<=', '>=' or '==', got {self.op!r}")
        coefficients = {str(k): float(v) for k, v in dict(self.coefficients).items() if float(v) != 0.0}
        bad = [k for k, v in coefficients.items() if not math.isfinite(v)]
        if bad or not math.isfinite(float(self.rhs)):
            what = f"the coefficient of {bad[0]!r}" if bad else "the right-hand side"
            raise ValueError(f"the linear constraint {self.text or str(dict(self.coefficients))!r}: {what} is NaN or infinite")
        if not coefficients:
            raise ValueError(f"the linear constraint {self.text or self!r} involves no variable")
        object.__setattr__(self, "coefficients", coefficients)
        object.__setattr__(self, "rhs", float(self.rhs))

    @classmethod
    def parse_all(cls, text: str) -> list[Linear]:
        """Every constraint of a string, a chained one included: ``"0.1 <= Fe <= 0.4"`` gives two.

        Raises:
            ValueError: as `parse`.
        """
        tree = _comparison(text)
        if len(tree.ops) == 1:
            return [cls.parse(text)]
        sides = [tree.left, *tree.comparators]
        parts = []
        for left, op, right in zip(sides, tree.ops, sides[1:]):
            if type(op) not in _READ:
                raise ValueError(f"the constraint {text!r} must compare with <=, >=, ==, < or >")
            parts.append(cls.parse(f"{ast.unparse(left)} {_READ[type(op)]} {ast.unparse(right)}"))
        return parts

    @classmethod
    def parse(cls, text: str) -> Linear:
        """A constraint from a string such as ``"Fe + Ni <= 0.6"`` or ``"2*w1 - w2 >= 0"``.

        Both sides may hold numbers, names and products of a number and a name; one comparison
        (``<=``, ``>=`` or ``==``, ``<`` and ``>`` read as their non-strict forms).

        Raises:
            ValueError: for text that is not a linear comparison, saying what was not understood.
        """
        tree = _comparison(text)
        if len(tree.ops) != 1 or type(tree.ops[0]) not in _READ:
            raise ValueError(f"the constraint {text!r} must be one comparison: 'lhs <= rhs', 'lhs >= rhs' or 'lhs == rhs'")
        left, right = _affine(tree.left, text), _affine(tree.comparators[0], text)
        coefficients = dict(left[0])
        for name, c in right[0].items():
            coefficients[name] = coefficients.get(name, 0.0) - c
        return cls(coefficients, _READ[type(tree.ops[0])], right[1] - left[1], text=text.strip())

    def __str__(self) -> str:
        if self.text:
            return self.text
        terms = " + ".join(f"{c:g}*{n}" for n, c in self.coefficients.items())
        return f"{terms} {self.op} {self.rhs:g}"


def _comparison(text: str) -> ast.Compare:
    """The comparison a constraint string holds, or a ValueError saying what is wrong with it."""
    if not isinstance(text, str):
        raise TypeError(f"a constraint string must be a str, got {type(text).__name__}")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"cannot read the constraint {text!r}: {exc.msg}") from None
    if not isinstance(tree, ast.Compare):
        raise ValueError(f"the constraint {text!r} must be one comparison: 'lhs <= rhs', 'lhs >= rhs' or 'lhs == rhs'")
    return tree


def _affine(node: ast.expr, text: str) -> tuple[dict[str, float], float]:
    """``(coefficients, constant)`` of a linear expression node, or a ValueError naming what is not linear."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return {}, float(node.value)
    if isinstance(node, ast.Name):
        return {node.id: 1.0}, 0.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        c, k = _affine(node.operand, text)
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return {n: sign * v for n, v in c.items()}, sign * k
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        (a, ka), (b, kb) = _affine(node.left, text), _affine(node.right, text)
        sign = 1.0 if isinstance(node.op, ast.Add) else -1.0
        out = dict(a)
        for n, v in b.items():
            out[n] = out.get(n, 0.0) + sign * v
        return out, ka + sign * kb
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        (a, ka), (b, kb) = _affine(node.left, text), _affine(node.right, text)
        if isinstance(node.op, ast.Div):
            if b:
                raise ValueError(f"the constraint {text!r} divides by a variable; only linear constraints can be parsed")
            if kb == 0:
                raise ValueError(f"the constraint {text!r} divides by zero")
            return {n: v / kb for n, v in a.items()}, ka / kb
        if a and b:
            raise ValueError(
                f"the constraint {text!r} multiplies two variables; pass a nonlinear constraint as a callable g(x) <= 0"
            )
        coefficients, factor = (a, kb) if a else (b, ka)
        return {n: v * factor for n, v in coefficients.items()}, ka * kb
    raise ValueError(
        f"cannot read {ast.unparse(node)!r} in the constraint {text!r}: use numbers, variable names, +, -, * and /"
    )


def as_linear(constraint: str | Linear) -> list[Linear]:
    """The `Linear` constraints of a string (two for a chained one) or a `Linear`."""
    return Linear.parse_all(constraint) if isinstance(constraint, str) else [constraint]
