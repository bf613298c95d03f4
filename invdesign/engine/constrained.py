"""SciPy's SLSQP on a constrained space: the constrained solve of `lbfgs`, and the end of a penalty search.

SLSQP (Kraft 1988) solves the constrained problem itself, in the search coordinates of a space
(discrete variables held at their values): the energy with its autograd gradient, the bounds,
the compositions and linear constraints, and every nonlinear constraint ``g(x) <= 0`` with its
exact autograd Jacobian.

- `lbfgs` on a space with linear or nonlinear constraints runs it from every restart.
- A restart solver that meets nonlinear constraints through a penalty whose weight grows
  (`invdesign.engine.Run.constraint_weight`), as ``gd`` does, ends near, not on, the constraint's
  boundary; `polish_nonlinear` runs SLSQP from its best designs, and a design is replaced only by
  a feasible one of lower energy.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from invdesign.engine.run import Run
from invdesign.space import FEASIBILITY_TOL, Space, SpaceView

_POLISHED = 8
"""Best designs SLSQP starts from."""
_MAX_ITER = 200
"""Most SLSQP iterations from one design of a polish."""


def polish_nonlinear(run: Run, X: Tensor) -> tuple[Tensor, int]:
    """SLSQP from the best designs of ``X`` ``(n, dim)`` (best first); returns the designs and how many improved."""
    space = run.objective.space
    assert isinstance(space, Space)
    X = X.clone()
    improved = 0
    for i in range(min(_POLISHED, X.shape[0])):
        choice = space.assignment(X[i])
        view = space.fix(choice).coordinates(relax=True) if choice else space.coordinates(relax=True)
        solved = slsqp(run, view, view.to_search(X[i : i + 1])[0])
        if solved is None or not bool(space.nonlinear_violation(solved.x.unsqueeze(0))[0] <= FEASIBILITY_TOL):
            continue
        x = view.designs(solved.u.unsqueeze(0))[0]
        with torch.no_grad():
            pair = torch.stack([X[i], x])
            feasible = space.feasible(pair)
            energy = run.objective(pair)
            run.nfev += 2
        if feasible[1] and (not feasible[0] or energy[1] < energy[0]):
            X[i] = x
            improved += 1
    return X, improved


class Solved(NamedTuple):
    """Where SLSQP ended from one start."""

    x: Tensor
    """The design, feasible for the linear part (projected), ``(dim,)``."""
    u: Tensor
    """Its search point, ``(n,)``."""
    nit: int
    success: bool
    message: str


def slsqp(run: Run, view: SpaceView, u0: Tensor, *, max_iter: int = _MAX_ITER, ftol: float = 1e-12) -> Solved | None:
    """SLSQP from search point ``u0`` ``(n,)`` of ``view``; ``None`` if SciPy failed outright. Evaluations are counted by ``run``."""
    from scipy.optimize import minimize as scipy_minimize  # SciPy loads when a constrained search first needs it

    objective, space = run.objective, run.objective.space
    assert isinstance(space, Space)

    def design(u: np.ndarray) -> Tensor:
        return view.to_design(torch.as_tensor(u, dtype=view.dtype, device=view.device).unsqueeze(0))

    def energy(u: np.ndarray) -> tuple[float, np.ndarray]:
        # SLSQP's iterates meet the linear constraints only to its tolerance: the model is evaluated at the
        # projection (the same point once feasible), and the gradient there is SLSQP's.
        with torch.no_grad():
            z = view.project(torch.as_tensor(u, dtype=view.dtype, device=view.device).unsqueeze(0))[0]
        z.requires_grad_(True)
        f = objective(view.to_design(z.unsqueeze(0)))[0]
        run.nfev += 1
        (g,) = torch.autograd.grad(f, z)
        return float(f.detach()), g.detach().cpu().double().numpy()

    def nonlinear(u: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return -_constraint_values(space, design(u)).cpu().double().numpy()

    def nonlinear_jacobian(u: np.ndarray) -> np.ndarray:
        z = torch.as_tensor(u, dtype=view.dtype, device=view.device)
        jac = torch.autograd.functional.jacobian(lambda w: _constraint_values(space, view.to_design(w.unsqueeze(0))), z)
        return -jac.detach().cpu().double().numpy()

    A, b, equality = (t.cpu().double().numpy() for t in view.linear_constraints())
    constraints: list[dict] = [{"type": "ineq", "fun": nonlinear, "jac": nonlinear_jacobian}] if space.nonlinear else []
    for row, rhs, eq in zip(A, b, equality):
        constraints.append({"type": "eq" if eq else "ineq", "fun": lambda u, row=row, rhs=rhs: rhs - row @ u, "jac": lambda u, row=row: -row})
    for block in view.blocks:
        index = block.cpu().numpy()
        ones = np.zeros(view.dim)
        ones[index] = 1.0
        constraints.append({"type": "eq", "fun": lambda u, index=index: u[index].sum() - 1.0, "jac": lambda u, ones=ones: ones})
    try:
        result = scipy_minimize(
            energy, u0.detach().cpu().double().numpy(), jac=True, method="SLSQP",
            bounds=view.bounds.T.cpu().double().numpy(), constraints=constraints,
            options={"maxiter": max(max_iter, 1), "ftol": ftol},
        )
    except (ValueError, RuntimeError):
        return None
    if not np.all(np.isfinite(result.x)):
        return None
    with torch.no_grad():
        u = view.round(torch.as_tensor(result.x, dtype=view.dtype, device=view.device).unsqueeze(0))
        x = view.to_design(u)[0]
    message = result.message if isinstance(result.message, str) else str(result.message)
    return Solved(x, u[0], int(result.nit), bool(result.success), message)


def _constraint_values(space: Space, x: Tensor) -> Tensor:
    """Every nonlinear constraint's outputs for one design ``x`` ``(1, dim)``, concatenated, ``(m,)``."""
    return torch.cat([g(x).reshape(-1) for g in space.nonlinear])
