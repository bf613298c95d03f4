"""Minimization tasks on named, mixed design spaces (`invdesign.Space`), with known optima.

``"composition"``: five fractions of a `Composition` (``Fe, Ni, Co, Cr, Mn``, summing to 1) and a
process temperature. ``"mixed"``: a `Categorical` catalyst of four levels, an `Integer` number of
layers and three `Real` process conditions. Both oracles are synthetic response surfaces shaped like
the data of formulation and catalyst screens, not models of real materials; they are pure torch,
differentiable, and keep the dtype and device of their input. Their optima were found once, in
float64, by :func:`composition_local_minima` (SLSQP on the simplex from many starts) and
:func:`mixed_slice_minima` (every catalyst and layer count enumerated, L-BFGS-B on the reals), and
are stored as constants; the tests run both searches again and check that no dense sample beats them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import minimize as scipy_minimize
from torch import Tensor

from invdesign.space import Categorical, Composition, Integer, Real, Space
from invdesign.tasks.base import Task
from invdesign.tasks.surrogate import SurrogateSpec

# --- "composition" -------------------------------------------------------------------------------------------------

COMPONENTS = ("Fe", "Ni", "Co", "Cr", "Mn")
"""The five components of the ``"composition"`` task, the first five columns of its designs."""

TEMPERATURE_RANGE = (300.0, 900.0)
"""The process temperature's range in K, the sixth column of the ``"composition"`` task's designs."""

_PURE = (0.55, 0.35, 0.80, 0.45, 0.65)
"""Scheffé linear terms: the background value of each pure component."""

_BLEND = (
    (0, 1, -0.40), (0, 2, 0.30), (0, 3, -0.20), (0, 4, 0.25), (1, 2, -0.30),
    (1, 3, 0.35), (1, 4, -0.15), (2, 3, -0.45), (2, 4, 0.20), (3, 4, -0.25),
)
"""Scheffé quadratic terms ``(i, j, beta_ij)``: synergy (negative) or antagonism (positive) of two components."""

_PREFERRED_TEMPERATURE = (0.30, 0.75, 0.55, 0.20, 0.85)
"""Each pure component's preferred temperature, on the unit scale of `TEMPERATURE_RANGE`; a mixture prefers their blend."""

_TEMPERATURE_WEIGHT = 1.2
"""Weight of the squared distance (unit scale) from the mixture's preferred temperature."""

_WELLS = (
    # (depth, width, centre)
    (1.00, 0.10, (0.30, 0.15, 0.20, 0.25, 0.10)),
    (1.36, 0.10, (0.10, -0.05, 0.42, 0.06, 0.47)),
)
"""Gaussian wells in the fractions. The first is centred inside the simplex; the second just outside
it, beyond the face ``Ni = 0``, so its minimum on the simplex lies on that face."""

COMPOSITION_OPTIMUM = -0.47633093654893643
"""The global minimum of :func:`composition_forward` over its space (float64; SLSQP from many starts, then Newton's
method on the four free fractions and the temperature, to a gradient of 1e-14 at a positive definite Hessian)."""

COMPOSITION_MINIMIZER = (0.29983, 0.15261, 0.19754, 0.25175, 0.09826, 568.159)
"""Where it lies, ``(Fe, Ni, Co, Cr, Mn, temperature)`` rounded: inside the simplex (every fraction above 0.09)."""

COMPOSITION_EDGE_OPTIMUM = -0.42888
"""The second local minimum, on the face ``Ni = 0`` of the simplex (rounded to 1e-5)."""

COMPOSITION_EDGE_MINIMIZER = (0.0863, 0.0, 0.4053, 0.0518, 0.4566, 688.37)
"""Where it lies, rounded: ``Ni`` exactly 0."""


def composition_space() -> Space:
    """The ``"composition"`` task's space: `COMPONENTS` summing to 1 and ``temperature`` in `TEMPERATURE_RANGE` K."""
    return Space([Composition(COMPONENTS), Real("temperature", *TEMPERATURE_RANGE)])


def composition_forward(x: Tensor) -> Tensor:
    """A synthetic property of a five-component mixture processed at a temperature, to minimize.

    With fractions ``c`` (summing to 1) and the temperature on the unit scale ``t = (T - 300) / 600``::

        f(c, T) = sum_i b_i c_i + sum_{i<j} b_ij c_i c_j           (a Scheffé quadratic mixture model)
                  + 1.2 (t - sum_i tau_i c_i)^2                       (the mixture's preferred temperature)
                  - sum_k A_k exp(-|c - m_k|^2 / (2 s_k^2))            (two wells)

    The global minimum, `COMPOSITION_OPTIMUM`, lies inside the simplex near ``m_1`` at about
    568 K; a second minimum, about 0.047 worse, lies on the face ``Ni = 0`` at about 688 K (the
    second well is centred just beyond that face), and the mixing polynomial adds shallow ones on
    edges of the simplex.

    Args:
        x: Designs ``(Fe, Ni, Co, Cr, Mn, temperature)``, shape ``(n, 6)``.

    Returns:
        Values, shape ``(n,)``, dtype and device of ``x``; differentiable in ``x``.
    """
    c, t = x[:, :5], (x[:, 5] - TEMPERATURE_RANGE[0]) / (TEMPERATURE_RANGE[1] - TEMPERATURE_RANGE[0])
    pure = torch.tensor(_PURE, dtype=x.dtype, device=x.device)
    blend = torch.zeros(5, 5, dtype=x.dtype, device=x.device)
    rows, cols, values = zip(*_BLEND)
    blend[list(rows), list(cols)] = torch.tensor(values, dtype=x.dtype, device=x.device)
    preferred = torch.tensor(_PREFERRED_TEMPERATURE, dtype=x.dtype, device=x.device)
    value = c @ pure + ((c @ blend) * c).sum(-1) + _TEMPERATURE_WEIGHT * (t - c @ preferred).square()
    for depth, width, centre in _WELLS:
        m = torch.tensor(centre, dtype=x.dtype, device=x.device)
        value = value - depth * torch.exp(-(c - m).square().sum(-1) / (2 * width**2))
    return value


def composition_local_minima(starts: Tensor) -> tuple[Tensor, Tensor]:
    """Local minima of :func:`composition_forward` by SLSQP from each start (float64, exact gradients).

    The fractions stay in ``[0, 1]`` summing to 1 and the temperature in `TEMPERATURE_RANGE`
    (searched on its unit scale).

    Args:
        starts: Feasible designs, shape ``(n, 6)``.

    Returns:
        ``(values, designs)``, shapes ``(n,)`` and ``(n, 6)``, float64, sorted by value.
    """
    low, high = TEMPERATURE_RANGE

    def value_and_gradient(u: np.ndarray) -> tuple[float, np.ndarray]:
        z = torch.tensor(u, dtype=torch.float64).reshape(1, 6).requires_grad_()
        design = torch.cat([z[:, :5], low + (high - low) * z[:, 5:]], dim=1)
        value = composition_forward(design)[0]
        value.backward()
        assert z.grad is not None
        return float(value.detach()), z.grad[0].numpy()

    total = {"type": "eq", "fun": lambda u: u[:5].sum() - 1.0, "jac": lambda u: np.r_[np.ones(5), 0.0]}
    values, designs = [], []
    for start in starts.to(torch.float64):
        u0 = np.r_[start[:5].numpy(), (float(start[5]) - low) / (high - low)]
        found = scipy_minimize(
            value_and_gradient, u0, jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * 6, constraints=[total],
            options={"ftol": 1e-15, "maxiter": 500},
        )
        u = np.clip(found.x, 0.0, 1.0)
        fractions = u[:5] / u[:5].sum()
        design = torch.tensor(np.r_[fractions, low + (high - low) * u[5]], dtype=torch.float64)
        designs.append(design)
        values.append(composition_forward(design.unsqueeze(0))[0])
    value_tensor, design_tensor = torch.stack(values), torch.stack(designs)
    order = torch.argsort(value_tensor)
    return value_tensor[order], design_tensor[order]


def composition() -> Task:
    """Minimize :func:`composition_forward` over five fractions summing to 1 and a temperature, 300 to 900 K.

    Offline data: 2,000 designs drawn by the space's sampler (fractions uniform on the simplex,
    scrambled Sobol temperatures), the best half hidden, which leaves values above about 0.6: both
    wells are hidden. Optimum `COMPOSITION_OPTIMUM`. Recommendations: 100 oracle queries, and an
    MLP of three layers of 128 (SiLU, 300 epochs at 1e-2): trained on the offline data of seeds 0
    to 2, its mean squared error on fresh offline-distribution designs was 0.2 to 0.3% of their
    variance, and on the hidden best designs 27 to 34% of the training variance (two layers of
    128 at 3e-3: 1.5% and 96%).
    """
    return Task(
        name="composition",
        oracle=composition_forward,
        space=composition_space(),
        kind="minimize",
        optimum=COMPOSITION_OPTIMUM,
        reference="synthetic: a Scheffé quadratic mixture model with two Gaussian wells and a preferred temperature",
        n_train=2000,
        surrogate=SurrogateSpec(hidden=(128, 128, 128), activation="silu", epochs=300, batch_size=128, lr=1e-2),
        budget=100,
    )


# --- "mixed" -------------------------------------------------------------------------------------------------------

CATALYSTS = ("Pt", "Pd", "Ni", "Cu")
"""The levels of the ``"mixed"`` task's categorical catalyst."""

LAYERS = (1, 12)
"""The range of the ``"mixed"`` task's integer number of layers."""

CONDITIONS = (("temperature", 350.0, 650.0), ("pressure", 1.0, 20.0), ("loading", 0.5, 5.0))
"""The ``"mixed"`` task's real process conditions ``(name, low, high)``: temperature in K, pressure in
bar, metal loading in weight percent."""

# Per catalyst: the baseline, the bowl (centre and weights over the three conditions on their unit
# scales, centre and weight over the layers), and a well (depth, centre over the conditions, layer
# centre, width). Pt has the lowest values on average but the shallowest well; Ni the highest values
# on average but the deepest well.
_BASE = (0.30, 0.35, 0.40, 0.40)
_BOWL_CENTRE = ((0.5, 0.4, 0.5), (0.3, 0.6, 0.4), (0.6, 0.3, 0.7), (0.4, 0.5, 0.3))
_BOWL_WEIGHT = ((1.0, 0.9, 0.9), (0.9, 0.8, 0.8), (1.1, 1.0, 1.1), (1.0, 0.9, 0.9))
_LAYER_CENTRE = (0.40, 0.60, 0.50, 0.30)
_LAYER_WEIGHT = (0.60, 0.60, 0.90, 0.60)
_WELL_DEPTH = (0.35, 0.70, 1.35, 0.90)
_WELL_CENTRE = ((0.55, 0.45, 0.45), (0.25, 0.70, 0.35), (0.68, 0.22, 0.78), (0.35, 0.55, 0.20))
_WELL_LAYER = (4 / 11, 8 / 11, 6 / 11, 2 / 11)
_WELL_WIDTH = (0.25, 0.15, 0.12, 0.12)
_TEMPERATURE_SHIFT = 0.3
"""How far a well's best temperature (unit scale) moves per unit of the layer scale ``(layers - 1) / 11``."""

MIXED_OPTIMUM = -0.9281170859582512
"""The global minimum of :func:`mixed_forward` over its space (Ni, 7 layers; float64, L-BFGS-B on the reals of every
catalyst and layer count, then Newton's method to a gradient of 2e-16 at a positive definite Hessian)."""

MIXED_MINIMIZER = {"catalyst": "Ni", "layers": 7, "temperature": 553.450, "pressure": 5.212, "loading": 4.002}
"""Where it lies (the reals rounded)."""

MIXED_CATALYST_OPTIMA = {"Pt": -0.0440, "Pd": -0.3286, "Ni": -0.9281, "Cu": -0.4783}
"""The best value of each catalyst (rounded to 1e-4): Pt, the best catalyst on average, has the worst optimum."""


def mixed_space() -> Space:
    """The ``"mixed"`` task's space: ``catalyst`` (`CATALYSTS`), ``layers`` (`LAYERS`) and the `CONDITIONS`."""
    return Space([
        Categorical("catalyst", CATALYSTS),
        Integer("layers", *LAYERS),
        *(Real(name, low, high) for name, low, high in CONDITIONS),
    ])


def mixed_forward(x: Tensor) -> Tensor:
    """A synthetic loss of a catalyst screen (catalyst, layers, temperature, pressure, loading), to minimize.

    With the one-hot catalyst ``w``, the layers on the unit scale ``nu = (layers - 1) / 11`` and the
    conditions on their unit scales ``z``, the value is ``sum_k w_k f_k(nu, z)``, one response per
    catalyst::

        f_k = b_k + sum_j q_kj (z_j - a_kj)^2 + p_k (nu - n_k)^2
              - A_k exp(-(|z - c_k(nu)|^2 + (nu - mu_k)^2) / (2 s_k^2))

    a bowl plus a well whose best temperature moves with the layers
    (``c_k(nu) = c_k + (0.3 (nu - mu_k), 0, 0)``). The layers and a relaxed (fractional) one-hot
    enter smoothly, so gradient solvers can search the relaxation. Pt is the best catalyst on
    average over the space but has the worst optimum; Ni is the worst on average and holds the
    global minimum, `MIXED_OPTIMUM`, at 7 layers.

    Args:
        x: Encoded designs ``(catalyst=Pt, catalyst=Pd, catalyst=Ni, catalyst=Cu, layers,
            temperature, pressure, loading)``, shape ``(n, 8)``.

    Returns:
        Values, shape ``(n,)``, dtype and device of ``x``; differentiable in ``x``.
    """

    def constant(values: object) -> Tensor:
        return torch.tensor(values, dtype=x.dtype, device=x.device)

    low, high = constant([c[1] for c in CONDITIONS]), constant([c[2] for c in CONDITIONS])
    w = x[:, :4]
    nu = ((x[:, 4] - LAYERS[0]) / (LAYERS[1] - LAYERS[0])).unsqueeze(1)  # (n, 1)
    z = ((x[:, 5:8] - low) / (high - low)).unsqueeze(1)  # (n, 1, 3)
    bowl = (constant(_BOWL_WEIGHT) * (z - constant(_BOWL_CENTRE)).square()).sum(-1)
    bowl = bowl + constant(_LAYER_WEIGHT) * (nu - constant(_LAYER_CENTRE)).square()  # (n, 4)
    layer_offset = nu - constant(_WELL_LAYER)  # (n, 4)
    shift = torch.zeros(1, 1, 3, dtype=x.dtype, device=x.device)
    shift[..., 0] = _TEMPERATURE_SHIFT
    centre = constant(_WELL_CENTRE) + shift * layer_offset.unsqueeze(-1)  # (n, 4, 3)
    distance = (z - centre).square().sum(-1) + layer_offset.square()
    well = constant(_WELL_DEPTH) * torch.exp(-distance / (2 * constant(_WELL_WIDTH).square()))
    return (w * (constant(_BASE) + bowl - well)).sum(-1)


def mixed_slice_minima(*, n_random: int = 2, seed: int = 0) -> list[tuple[float, str, int, Tensor]]:
    """The minimum of :func:`mixed_forward` for every catalyst and number of layers, by enumeration.

    For each of the 4 x 12 pairs, L-BFGS-B (float64, exact gradients) searches the three
    conditions from the bowl's centre, the well's centre, the middle of the box and ``n_random``
    uniform points, and keeps the best.

    Returns:
        ``(value, catalyst, layers, design)`` per pair, best first; ``design`` is the encoded
        design ``(8,)``.
    """
    generator = torch.Generator().manual_seed(seed)
    low = torch.tensor([c[1] for c in CONDITIONS], dtype=torch.float64)
    width = torch.tensor([c[2] - c[1] for c in CONDITIONS], dtype=torch.float64)
    out = []
    for k, catalyst in enumerate(CATALYSTS):
        starts = [torch.tensor(_BOWL_CENTRE[k], dtype=torch.float64), torch.tensor(_WELL_CENTRE[k], dtype=torch.float64)]
        starts.append(torch.full((3,), 0.5, dtype=torch.float64))
        starts += list(torch.rand(n_random, 3, generator=generator, dtype=torch.float64))
        for layers in range(LAYERS[0], LAYERS[1] + 1):
            prefix = torch.zeros(5, dtype=torch.float64)
            prefix[k], prefix[4] = 1.0, float(layers)

            def value_and_gradient(u: np.ndarray, prefix: Tensor = prefix) -> tuple[float, np.ndarray]:
                z = torch.tensor(u, dtype=torch.float64).requires_grad_()
                value = mixed_forward(torch.cat([prefix, low + width * z]).unsqueeze(0))[0]
                value.backward()
                assert z.grad is not None
                return float(value.detach()), z.grad.numpy()

            best: tuple[float, np.ndarray] = (math.inf, np.zeros(3))
            for start in starts:
                found = scipy_minimize(
                    value_and_gradient, start.numpy(), jac=True, method="L-BFGS-B",
                    bounds=[(0.0, 1.0)] * 3, options={"ftol": 1e-15, "gtol": 1e-12},
                )
                if found.fun < best[0]:
                    best = (float(found.fun), found.x)
            design = torch.cat([prefix, low + width * torch.tensor(best[1], dtype=torch.float64)])
            out.append((float(mixed_forward(design.unsqueeze(0))[0]), catalyst, layers, design))
    return sorted(out, key=lambda row: row[0])


def mixed() -> Task:
    """Minimize :func:`mixed_forward` over a catalyst (4 levels), a number of layers (1 to 12) and three conditions.

    Offline data: 2,000 designs drawn by the space's sampler (uniform catalysts and layers,
    scrambled Sobol conditions), the best half hidden, which keeps about a quarter of the Pt designs
    and two thirds of the Ni ones. Optimum `MIXED_OPTIMUM` (Ni, 7 layers). Recommendations: 150
    oracle queries, and an MLP of three layers of 64 (SiLU, 200 epochs at 1e-2): trained on the
    offline data of seeds 0 to 2, its mean squared error on fresh offline-distribution designs was
    0.02 to 0.03% of their variance, and on the hidden best designs 21 to 23% of the training variance.
    """
    return Task(
        name="mixed",
        oracle=mixed_forward,
        space=mixed_space(),
        kind="minimize",
        optimum=MIXED_OPTIMUM,
        reference="synthetic: one bowl and one well per catalyst; the best catalyst on average is not the best one",
        n_train=2000,
        surrogate=SurrogateSpec(hidden=(64, 64, 64), activation="silu", epochs=200, batch_size=128, lr=1e-2),
        budget=150,
    )
