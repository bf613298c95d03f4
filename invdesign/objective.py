"""The energy every solver minimizes: a surrogate, optionally behind a decoder, with a target and penalties."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from invdesign.space import Box

Penalty = Callable[[Tensor], Tensor]
"""A penalty maps search points of shape ``(b, d)`` to non-negative energies of shape ``(b,)``."""

EnsembleRule = Literal["mean", "pessimistic", "worst"]
"""How an `Objective` combines the energies of an ensemble's members (see `Objective`)."""

_PROBE_ROWS = 2
_ENSEMBLE_RULES = ("mean", "pessimistic", "worst")


class Objective:
    """The energy to **minimize**, batched: ``(b, d) -> (b,)``.

    Built from a surrogate ``model`` mapping designs ``(b, d_x)`` to ``(b,)``, ``(b, 1)`` or ``(b, k)``.

    - Without ``target``: the energy is the model's single output (negated once, here, if
      ``maximize=True``).
    - With ``target`` (a value or a ``(k,)`` vector): the energy is the mean squared error
      between the model's ``k`` outputs and the target.
    - With ``decoder``: the search runs over ``space`` (a latent box), and the model sees
      ``decoder(z)``.
    - With ``ensemble`` (for a model with ``members_forward``, such as
      `invdesign.models.Ensemble`): the energy above is computed for each of the ``m`` members
      and the member energies ``e_1 .. e_m`` are combined by a rule, so that designs on which the
      members disagree (off the training data) look worse:

      - ``"mean"``: ``mean_j e_j``. Without a target this equals the energy of the mean output
        (what the plain ``Ensemble`` forward gives). With a target it is the mean of the members'
        squared errors, which is the squared error of the mean output **plus** the spread of the
        members around it (averaged over outputs), so it already penalises disagreement.
      - ``"pessimistic"``: ``mean_j e_j + beta * std_j e_j`` (population std): a lower
        confidence bound for minimisation. With ``maximize=True`` it is minus Design-Bench's
        ``mean - beta * std`` of the outputs.
      - ``"worst"``: ``max_j e_j``, the member that likes the design least (the "min over
        members" of maximisation papers).

      Without ``ensemble`` the model's own forward is used (for ``Ensemble``, the mean output).
    - Each penalty (a callable ``(b, d) -> (b,)`` of the search point) is added to the energy.

    The model is put in eval mode and its weights are never changed: gradients are only ever
    taken with respect to the search point. Every design evaluated is counted in `n_evals`.

    Args:
        model: A ``torch.nn.Module`` or a callable on tensors (or returning NumPy arrays).
        space: The search box (data space, or latent space when ``decoder`` is given).
        target: Target output, a scalar or a ``(k,)`` sequence/tensor.
        decoder: Maps search points ``(b, d_z)`` to designs accepted by ``model``.
        penalties: Extra energies of the search point, each ``(b, d) -> (b,)``.
        maximize: Maximize the model's output instead (cannot be combined with ``target``).
        ensemble: Combine the energies of the model's members with this rule (``"mean"``,
            ``"pessimistic"`` or ``"worst"``); the model must have ``members_forward`` mapping
            designs ``(b, d_x)`` to member outputs ``(m, b, k)`` (or ``(m, b)``).
        beta: Weight of the member spread for ``ensemble="pessimistic"`` (default 1.0); not
            accepted with other rules.
        dtype: Floating dtype of the search; defaults to the model's parameter dtype, else
            the box's.
        device: Device of the search; defaults to the model's parameter device, else the box's.

    Raises:
        ValueError: if the model (or decoder) fails on, or returns the wrong shape for, a batch
            drawn from ``space``, if the target's size does not match the model's outputs, for an
            unknown ``ensemble`` rule, or for a negative, non-finite or misplaced ``beta``.
        TypeError: if ``model`` is not callable, or the dtype does not match the model's, or
            ``ensemble`` is given for a model without ``members_forward``.
    """

    def __init__(
        self,
        model: nn.Module | Callable[[Tensor], Any],
        space: Box,
        *,
        target: float | Sequence[float] | Tensor | None = None,
        decoder: nn.Module | Callable[[Tensor], Tensor] | None = None,
        penalties: Sequence[Penalty] = (),
        maximize: bool = False,
        ensemble: EnsembleRule | None = None,
        beta: float | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if not callable(model):
            raise TypeError(f"model must be a torch.nn.Module or a callable, got {type(model).__name__}")
        if not isinstance(space, Box):
            raise TypeError(f"space must be an invdesign.Box, got {type(space).__name__}")
        if decoder is not None and not callable(decoder):
            raise TypeError(f"decoder must be a torch.nn.Module or a callable, got {type(decoder).__name__}")
        if maximize and target is not None:
            raise ValueError("maximize=True and target= cannot be combined: a target is matched, not maximized")
        for i, p in enumerate(penalties):
            if not callable(p):
                raise TypeError(f"penalty {i} is not callable: {p!r}")
        self.ensemble, self.beta = _check_ensemble(model, ensemble, beta)

        self.model = model
        self.decoder = decoder
        self.penalties: tuple[Penalty, ...] = tuple(penalties)
        self.maximize = maximize
        self.dtype, self.device = _resolve_dtype_device(space, dtype, device, model, decoder)
        self.space = space.to(dtype=self.dtype, device=self.device)
        self.n_evals = 0
        self._flatten = False
        self._detach = False
        for m in (model, decoder):
            if isinstance(m, nn.Module):
                m.eval()
        self.target: Tensor | None = None
        if target is not None:
            t = torch.as_tensor(target, dtype=self.dtype, device=self.device).reshape(-1)
            if not torch.isfinite(t).all():
                raise ValueError(f"target must be finite, got {t.tolist()}")
            self.target = t
        self.output_dim, self.differentiable = self._probe()

    @property
    def dim(self) -> int:
        """Dimension of the search space."""
        return self.space.dim

    def __call__(self, z: Tensor) -> Tensor:
        """Energies of a batch of search points.

        Args:
            z: Search points, shape ``(b, d)`` (or ``(d,)`` for one point).

        Returns:
            Energies, shape ``(b,)`` (or a 0-d tensor for one point).
        """
        if z.ndim == 1:
            return self(z.unsqueeze(0))[0]
        if z.ndim != 2 or z.shape[-1] != self.dim:
            raise ValueError(f"expected search points of shape (b, {self.dim}), got {tuple(z.shape)}")
        if z.dtype != self.dtype:
            raise TypeError(f"search points are {z.dtype} but the objective runs in {self.dtype}")
        if z.device.type != self.device.type:
            raise ValueError(f"search points are on {z.device} but the objective runs on {self.device}")
        energy = self._model_energy(z)
        for i, penalty in enumerate(self.penalties):
            p = penalty(z)
            if not isinstance(p, Tensor) or p.shape != energy.shape:
                shape = tuple(p.shape) if isinstance(p, Tensor) else type(p).__name__
                raise ValueError(f"penalty {i} ({penalty!r}) returned {shape} for {z.shape[0]} points; expected ({z.shape[0]},)")
            energy = energy + p
        self.n_evals += z.shape[0]
        return energy

    def decode(self, z: Tensor) -> Tensor:
        """The designs the model sees: ``decoder(z)``, or ``z`` itself without a decoder.

        Args:
            z: Search points, shape ``(b, d)``.
        """
        if self.decoder is None:
            return z
        return self.decoder(z)

    def predict(self, z: Tensor) -> Tensor:
        """The model's raw outputs for search points, shape ``(b, k)``; not counted as evaluations.

        With ``ensemble`` set, the mean of the members' outputs.
        """
        if self.ensemble is not None:
            return self.predict_members(z).mean(dim=0)
        return self._as_outputs(self._forward(z), z.shape[0])

    def predict_members(self, z: Tensor) -> Tensor:
        """Every member's outputs for search points, shape ``(m, b, k)``; not counted as evaluations.

        Raises:
            TypeError: if the objective was built without ``ensemble``.
        """
        if self.ensemble is None:
            raise TypeError("predict_members needs an objective built with ensemble=")
        return self._as_member_outputs(self._forward(z), z.shape[0])

    def _forward(self, z: Tensor) -> Any:
        """The model (or its ``members_forward`` with ``ensemble``) on the designs of ``z``."""
        x = self.decode(z)
        if self._flatten:
            x = x.flatten(1)
        if self._detach:
            x = x.detach()
        return self._model_fn(x)

    @property
    def _model_fn(self) -> Callable[[Tensor], Any]:
        return self.model if self.ensemble is None else self.model.members_forward  # type: ignore[union-attr]

    def _model_energy(self, z: Tensor) -> Tensor:
        """The energy of the model's outputs (combined over members with ``ensemble``), shape ``(b,)``."""
        if self.ensemble is None:
            return self._energy(self._as_outputs(self._forward(z), z.shape[0]))
        return self._combine(self._energy(self._as_member_outputs(self._forward(z), z.shape[0])))

    def _combine(self, e: Tensor) -> Tensor:
        """Member energies ``(m, b)`` -> energies ``(b,)`` by the ensemble rule."""
        if self.ensemble == "worst":
            return e.amax(dim=0)
        mean = e.mean(dim=0)
        if self.ensemble == "mean":
            return mean
        var = (e - mean).square().mean(dim=0)
        # sqrt has an infinite derivative at 0 (members that agree exactly): give it 0 there instead.
        std = torch.where(var > 0, var.clamp_min(torch.finfo(var.dtype).tiny).sqrt(), torch.zeros_like(var))
        return mean + self.beta * std  # type: ignore[operator]

    def _as_outputs(self, y: Any, b: int) -> Tensor:
        """The model's output as ``(b, k)``, or a ValueError naming the shape it had."""
        if not isinstance(y, Tensor):
            y = torch.as_tensor(np.asarray(y), dtype=self.dtype, device=self.device)
        if y.ndim == 1 and y.shape[0] == b:
            return y.unsqueeze(-1)
        if y.ndim == 2 and y.shape[0] == b:
            return y
        raise ValueError(
            f"model returned shape {tuple(y.shape)} for a batch of {b} designs; "
            f"expected ({b},), ({b}, 1) or ({b}, k)"
        )

    def _as_member_outputs(self, y: Any, b: int) -> Tensor:
        """The members' outputs as ``(m, b, k)``, or a ValueError naming the shape they had."""
        if not isinstance(y, Tensor):
            y = torch.as_tensor(np.asarray(y), dtype=self.dtype, device=self.device)
        if y.ndim == 2 and y.shape[0] >= 1 and y.shape[1] == b:
            return y.unsqueeze(-1)
        if y.ndim == 3 and y.shape[0] >= 1 and y.shape[1] == b:
            return y
        raise ValueError(
            f"members_forward returned shape {tuple(y.shape)} for a batch of {b} designs; "
            f"expected (m, {b}, k) or (m, {b}) for an ensemble of m members"
        )

    def energy_from_outputs(self, y: Tensor) -> Tensor:
        """The energy of model outputs ``y`` of shape ``(b, k)`` (measured or predicted), shape ``(b,)``.

        Penalties are not included: they depend on the search point, not on the outputs. Nor is
        an ``ensemble`` rule: one row of outputs has no members to disagree (for measured outputs
        this is the energy the ensemble rules would give if every member were right).
        """
        if y.ndim != 2 or y.shape[1] != self.output_dim:
            raise ValueError(f"expected outputs of shape (b, {self.output_dim}), got {tuple(y.shape)}")
        return self._energy(y)

    def _energy(self, y: Tensor) -> Tensor:
        """Outputs ``(..., k)`` -> energies ``(...)``."""
        if self.target is not None:
            return (y - self.target).square().mean(dim=-1)
        energy = y[..., 0]
        return -energy if self.maximize else energy

    def _probe(self) -> tuple[int, bool]:
        """Run the decoder and model once on two points of the box; check every shape, dtype and device."""
        z = self.space.sample(_PROBE_ROWS, seed=0).requires_grad_(True)
        with torch.enable_grad():
            x = z if self.decoder is None else self._probe_decoder(z)
            raw = self._probe_model(x)
            if self.ensemble is None:
                y = self._as_outputs(raw, _PROBE_ROWS)
            else:
                y = self._as_member_outputs(raw, _PROBE_ROWS)
            differentiable = y.requires_grad and torch.autograd.grad(y.sum(), z, allow_unused=True)[0] is not None
        k = y.shape[-1]
        if self.target is not None and self.target.numel() != k:
            raise ValueError(f"target has {self.target.numel()} entries but the model returns {k} outputs")
        if self.target is None and k != 1:
            raise ValueError(
                f"the model returns {k} outputs per design: pass target= (a ({k},) vector) "
                "or wrap the model so it returns one energy"
            )
        if y.dtype != self.dtype:
            raise TypeError(f"the model returned {y.dtype} for {self.dtype} input; the search runs in {self.dtype}")
        if y.device.type != self.device.type:
            raise ValueError(f"the model returned a tensor on {y.device} for input on {self.device}")
        with torch.no_grad():
            self(z.detach())
        self.n_evals = 0
        return k, differentiable

    def _probe_decoder(self, z: Tensor) -> Tensor:
        b = z.shape[0]
        try:
            x = self.decoder(z)  # type: ignore[misc]
        except Exception as exc:
            raise ValueError(
                f"the decoder failed on latent points of shape {tuple(z.shape)} ({z.dtype}) drawn from the "
                f"latent box of dimension {self.dim}: {type(exc).__name__}: {exc}. Does the latent box "
                "dimension match the decoder's input?"
            ) from exc
        if not isinstance(x, Tensor):
            raise TypeError(f"the decoder must return a torch.Tensor, got {type(x).__name__}")
        if x.ndim < 2 or x.shape[0] != b:
            raise ValueError(
                f"the decoder returned shape {tuple(x.shape)} for {b} latent points; expected ({b}, ...)"
            )
        if x.dtype != self.dtype:
            raise TypeError(
                f"the decoder returned {x.dtype} for {self.dtype} latent points; it must keep the search's dtype"
            )
        if x.device.type != self.device.type:
            raise ValueError(f"the decoder returned a tensor on {x.device} for latent points on {self.device}")
        return x

    def _probe_model(self, x: Tensor) -> Any:
        """Call the model on probe designs, learning whether it needs them flattened or detached."""
        attempts = [(False, False)]
        if x.ndim > 2:
            attempts.append((True, False))  # an image decoder feeding a model of flat vectors
        attempts += [(flatten, True) for flatten, _ in attempts]  # a NumPy model that cannot take grad
        first: Exception | None = None
        for flatten, detach in attempts:
            design = x.flatten(1) if flatten else x
            try:
                y = self._model_fn(design.detach() if detach else design)
            except Exception as exc:
                first = first or exc
                continue
            self._flatten, self._detach = flatten, detach
            return y
        source = "decoded from the latent box" if self.decoder is not None else "drawn from the box"
        hint = (
            "Does the decoder's output fit the model's input?"
            if self.decoder is not None
            else "Does the box dimension match the model's input?"
        )
        what = "the model" if self.ensemble is None else "the model's members_forward"
        raise ValueError(
            f"{what} failed on designs of shape {tuple(x.shape)} ({x.dtype}) {source}: "
            f"{type(first).__name__}: {first}. {hint}"
        ) from first

    def __repr__(self) -> str:
        parts = [f"model={type(self.model).__name__}", f"space={self.space!r}"]
        if self.decoder is not None:
            parts.append(f"decoder={type(self.decoder).__name__}")
        if self.target is not None:
            parts.append(f"target={self.target.tolist()}")
        if self.maximize:
            parts.append("maximize=True")
        if self.ensemble is not None:
            parts.append(f"ensemble={self.ensemble!r}")
            if self.ensemble == "pessimistic":
                parts.append(f"beta={self.beta}")
        if self.penalties:
            parts.append(f"penalties={list(self.penalties)}")
        if self._flatten:
            parts.append("flattens decoded designs for the model")
        return f"Objective({', '.join(parts)})"


def _check_ensemble(model: Any, ensemble: str | None, beta: float | None) -> tuple[str | None, float | None]:
    """Validate the ensemble rule and ``beta``; return ``(rule, beta)``, ``beta`` defaulted for ``"pessimistic"``."""
    if ensemble is None:
        if beta is not None:
            raise ValueError("beta= weighs the member spread of ensemble='pessimistic'; pass ensemble='pessimistic' too")
        return None, None
    if ensemble not in _ENSEMBLE_RULES:
        raise ValueError(f"unknown ensemble rule {ensemble!r}; expected one of {', '.join(map(repr, _ENSEMBLE_RULES))}")
    if not callable(getattr(model, "members_forward", None)):
        raise TypeError(
            f"ensemble={ensemble!r} needs a model with a members_forward method (such as "
            f"invdesign.models.Ensemble) returning (m, b, k) member outputs; {type(model).__name__} has none"
        )
    if ensemble != "pessimistic":
        if beta is not None:
            raise ValueError(f"beta= only applies to ensemble='pessimistic', not ensemble={ensemble!r}")
        return ensemble, None
    beta = 1.0 if beta is None else float(beta)
    if not (math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be finite and non-negative, got {beta}")
    return ensemble, beta


def _first_tensor(module: Any) -> Tensor | None:
    if isinstance(module, nn.Module):
        for t in module.parameters():
            return t
        for t in module.buffers():
            return t
    return None


def _resolve_dtype_device(
    space: Box,
    dtype: torch.dtype | None,
    device: torch.device | str | None,
    *modules: Any,
) -> tuple[torch.dtype, torch.device]:
    found = [(m, t) for m in modules if (t := _first_tensor(m)) is not None]
    if dtype is not None and not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating point dtype, got {dtype}")
    if found:
        module, t = found[0]
        dtype = dtype or t.dtype
        device = torch.device(device) if device is not None else t.device
    else:
        dtype = dtype or space.dtype
        device = torch.device(device) if device is not None else space.device
    for module, t in found:
        name = type(module).__name__
        if t.dtype != dtype:
            raise TypeError(
                f"{name} has {t.dtype} parameters but the search runs in {dtype}; "
                f"convert it (e.g. .to({dtype})) or pass dtype={t.dtype}"
            )
        if t.device.type != device.type:
            raise ValueError(f"{name} is on {t.device} but the search runs on {device}; move it with .to({device!s})")
    return dtype, device
