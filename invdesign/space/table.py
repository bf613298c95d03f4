"""Designs as tables: a `Space`'s encoded designs to and from pandas DataFrames, and a space read off lab data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from invdesign.space.constraints import Linear, NonlinearConstraint
from invdesign.space.variables import Categorical, Composition, Integer, Real, Variable

if TYPE_CHECKING:
    import pandas

    from invdesign.space.design_space import Space


def as_tensor(value: Any, name: str) -> Tensor:
    """``value`` as a tensor: a tensor as it is; a pandas DataFrame or Series by its values (columns in
    order, float64); a NumPy array or nested sequence of numbers through NumPy.

    Raises:
        TypeError: for a table with non-numeric columns (naming them) or anything that is not numbers.
    """
    if isinstance(value, Tensor):
        return value
    if hasattr(value, "to_numpy") and hasattr(value, "dtypes"):
        import pandas

        dtypes = value.dtypes.items() if isinstance(value, pandas.DataFrame) else [(value.name, value.dtypes)]
        bad = [column for column, dtype in dtypes if not pandas.api.types.is_numeric_dtype(dtype)]
        if bad:
            raise TypeError(
                f"{name} has non-numeric columns {bad}: encode them as numbers first (for designs, "
                "invdesign.Space.from_data(table) and its from_frame(table) do)"
            )
        return torch.tensor(value.to_numpy(dtype=np.float64))
    try:
        return torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{name} must be a tensor, an array or a table of numbers, got {type(value).__name__}") from error


def to_frame(space: Space, X: Tensor, **columns: Any) -> pandas.DataFrame:
    """One row per design of ``X`` ``(n, dim)``, one column per variable, then ``columns`` (each ``(n,)``)."""
    import pandas

    X = space._check_width(X.detach()).cpu().double()
    data: dict[str, Any] = {}
    for variable in space.variables:
        part = X[:, space.column_slice(variable)]
        if isinstance(variable, Real):
            data[variable.name] = part[:, 0].numpy()
        elif isinstance(variable, Integer):
            data[variable.name] = part[:, 0].round().long().numpy()
        elif isinstance(variable, Categorical):
            data[variable.name] = pandas.Categorical(
                [variable.levels[i] for i in part.argmax(dim=-1).tolist()], categories=list(variable.levels)
            )
        else:
            for i, name in enumerate(variable.names):
                data[name] = part[:, i].numpy()
    for name, values in columns.items():
        data[name] = values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)
    return pandas.DataFrame(data)


def from_frame(space: Space, frame: pandas.DataFrame) -> Tensor:
    """Encoded designs ``(n, dim)`` of a table with a column per variable; fixed variables may be missing (their value is used)."""
    import pandas

    if not isinstance(frame, pandas.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    n = len(frame)
    X = torch.zeros(n, space.dim, dtype=torch.float64)
    for variable in space.variables:
        cols = space.column_slice(variable)
        names = variable.names if isinstance(variable, Composition) else (variable.name,)
        missing = [name for name in names if name not in frame.columns and name not in space.fixed]
        if missing:
            raise ValueError(f"the table has no column {missing[0]!r}; the space needs columns {space.names}")
        if isinstance(variable, Categorical):
            values = frame[variable.name] if variable.name in frame.columns else [space.fixed[variable.name]] * n
            index = [variable.index(value) for value in values]
            X[torch.arange(n), cols.start + torch.tensor(index, dtype=torch.long)] = 1.0
            continue
        for i, name in enumerate(names):
            values = frame[name] if name in frame.columns else [space.fixed[name]] * n
            try:
                X[:, cols.start + i] = torch.as_tensor(np.array(values, dtype=np.float64))
            except (TypeError, ValueError):
                raise ValueError(f"column {name!r} of the table holds values that are not numbers") from None
    return X.to(dtype=space.dtype, device=space.device)


def space_from_data(
    frame: pandas.DataFrame,
    *,
    compositions: Sequence[Sequence[str]] = (),
    integers: Sequence[str] = (),
    categorical: Sequence[str] = (),
    exclude: Sequence[str] = (),
    constraints: Sequence[str | Linear | NonlinearConstraint] = (),
    fixed: Mapping[str, Any] | None = None,
    margin: float = 0.0,
) -> Space:
    """A `Space` read off a table of lab data, its columns in the table's order.

    - Each group of ``compositions`` becomes a `Composition` whose total is the groups' row sum
      (rounded to 6 significant digits; every row must agree to 1e-6), each component bounded by
      the range seen (widened by ``margin`` as for reals, within ``[0, total]``), so that the
      search stays where the lab has made formulations.
    - Columns of text or pandas categorical dtype, and those named in ``categorical``, become a
      `Categorical` of the levels seen.
    - Integer columns, and those named in ``integers``, become an `Integer` from the smallest to
      the largest value seen.
    - Every other numeric column becomes a `Real` over the range seen, widened by ``margin`` times
      the range on each side.
    - Columns named in ``exclude`` (the measured outputs) are left out.

    Raises:
        ValueError: for a column that is constant but not fixed, a composition whose rows do not
            sum to one total, or an unknown column name.
    """
    import pandas

    from invdesign.space.design_space import Space

    if not isinstance(frame, pandas.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    named = [c for group in compositions for c in group] + list(integers) + list(categorical) + list(exclude)
    unknown = [c for c in named if c not in frame.columns]
    if unknown:
        raise ValueError(f"the table has no column {unknown[0]!r}; its columns are {list(frame.columns)}")
    fixed = dict(fixed or {})
    in_group = {c: tuple(group) for group in compositions for c in group}
    variables: list[Variable] = []
    done: set[str] = set()
    for name in frame.columns:
        if name in exclude or name in done:
            continue
        column = frame[name]
        if name in in_group:
            group = in_group[name]
            sums = frame[list(group)].sum(axis=1).to_numpy(dtype=float)
            total = float(f"{np.median(sums):.6g}")
            if np.abs(sums - total).max() > 1e-6 * total:
                raise ValueError(f"the rows of the composition {list(group)} do not all sum to one total ({total:g})")
            low, high = frame[list(group)].min().to_numpy(dtype=float), frame[list(group)].max().to_numpy(dtype=float)
            pad = margin * (high - low)
            variables.append(
                Composition(
                    group,
                    total=total,
                    lower=tuple(np.clip(low - pad, 0.0, total).tolist()),
                    upper=tuple(np.clip(high + pad, 0.0, total).tolist()),
                )
            )
            done.update(group)
        elif name in categorical or not pandas.api.types.is_numeric_dtype(column):
            levels = list(column.cat.categories) if isinstance(column.dtype, pandas.CategoricalDtype) else list(dict.fromkeys(column))
            if fixed.get(name) is not None and fixed[name] not in levels:
                levels.append(fixed[name])
            variables.append(Categorical(name, tuple(levels)))
        else:
            low, high = float(column.min()), float(column.max())
            if name in fixed:
                low, high = min(low, float(fixed[name])), max(high, float(fixed[name]))
            if low == high:
                raise ValueError(f"column {name!r} holds one value ({low:g}); pass it in fixed= or exclude=")
            if name in integers or pandas.api.types.is_integer_dtype(column):
                variables.append(Integer(name, round(low), round(high)))
            else:
                pad = margin * (high - low)
                variables.append(Real(name, low - pad, high + pad))
    return Space(variables, constraints=constraints, fixed=fixed)
