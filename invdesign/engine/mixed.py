"""The end of a relaxed search on a mixed space: round, search the discrete neighbours, polish the continuous variables.

A restart solver searches a space with integers and categoricals in relaxed coordinates (one-hot
blocks on the simplex, continuous integers). Its final points are then rounded to feasible
designs, improved by a discrete local search (each integer one step up or down, each categorical
at every other level, best neighbour first, until no neighbour is better), and the continuous
variables of the best distinct discrete choices are searched again with those choices fixed, so
that the design returned is a local optimum of both parts.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from invdesign.engine.run import Outcome, Run
from invdesign.result import Status
from invdesign.space import Space

_POLISHED = 4
"""Distinct discrete choices (the best ones) whose continuous variables are searched again."""
_ROUNDS = 50
"""Most rounds of the discrete local search."""

Search = Callable[[Tensor, Tensor], Outcome]
"""A solver's search from starting points ``(n, d)`` with energies ``(n,)`` in ``run.view``'s coordinates."""


def settle_discrete(run: Run, outcome: Outcome, search: Search) -> tuple[Tensor, Outcome]:
    """Round the relaxed outcome, search the discrete neighbours, polish the continuous variables.

    Args:
        run: The run; its view is swapped for each polish and restored.
        outcome: The relaxed search's outcome (search points in ``run.view``'s coordinates).
        search: The solver's search, run again for each polished discrete choice.

    Returns:
        The designs ``(n, dim)`` and the outcome with their energies, nit and message updated.
    """
    space, view = run.objective.space, run.view
    assert isinstance(space, Space)
    with torch.no_grad():
        X = view.designs(outcome.U.detach())
        F = run.evaluate(X)
        X, F, moves = local_search(run, space, X, F)
    nit, polished, status = outcome.nit, 0, outcome.status
    continuous = any(v.kind in ("real", "composition") for v in space.free_variables)
    if continuous:
        key = torch.where(torch.isfinite(F), F, torch.full_like(F, float("inf")))
        choices = [space.assignment(x) for x in X]
        seen: list[dict] = []
        for i in torch.argsort(key).tolist():
            choice = choices[i]
            if choice in seen:
                continue
            seen.append(choice)
            rows = torch.tensor([j for j, other in enumerate(choices) if other == choice], device=X.device)
            sub = space.fix(choice).coordinates(relax=True)
            run.view = sub
            try:
                result = search(sub.to_search(X[rows]), F[rows])
            finally:
                run.view = view
            with torch.no_grad():
                Xp = sub.designs(result.U.detach())
            better = torch.isfinite(result.F) & ~(result.F >= F[rows])
            X[rows] = torch.where(better.unsqueeze(-1), Xp, X[rows])
            F[rows] = torch.where(better, result.F.detach(), F[rows])
            nit, polished = nit + result.nit, polished + 1
            if result.status is Status.STOPPED:
                status = Status.STOPPED
                break
            if polished == _POLISHED:
                break
    message = (
        f"{outcome.message} Discrete variables rounded; {moves} discrete local-search moves"
        + (f"; the continuous variables of the {polished} best discrete choices searched again." if polished else ".")
    )
    return X, outcome._replace(U=view.to_search(X), F=F, nit=nit, message=message, status=status)


def local_search(run: Run, space: Space, X: Tensor, F: Tensor) -> tuple[Tensor, Tensor, int]:
    """Best-improvement local search over the discrete neighbours (`Space.neighbors`) of each design.

    Args:
        run: Evaluates (and counts) the neighbours.
        space: The space.
        X: Feasible designs ``(b, dim)``.
        F: Their energies ``(b,)``.

    Returns:
        The improved designs and energies, and how many moves were made.
    """
    X, F, moves = X.clone(), F.clone(), 0
    for _ in range(_ROUNDS):
        N, owner = space.neighbors(X)
        if N.shape[0] == 0:
            break
        ok = space.contains(N)
        N, owner = N[ok], owner[ok]
        if N.shape[0] == 0:
            break
        fN = run.evaluate(N)
        fN = torch.where(torch.isfinite(fN), fN, torch.full_like(fN, float("inf")))
        best = torch.full_like(F, float("inf")).scatter_reduce(0, owner, fN, reduce="amin")
        current = torch.where(torch.isfinite(F), F, torch.full_like(F, float("inf")))
        improve = best < current - 1e-12 * (1 + current.abs())
        if not improve.any():
            break
        for i in improve.nonzero().flatten().tolist():
            pick = ((owner == i) & (fN == best[i])).nonzero()[0, 0]
            X[i], F[i] = N[pick], fN[pick]
            moves += 1
    return X, F, moves
