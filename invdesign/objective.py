"""The energy every solver minimizes: a surrogate, optionally behind a decoder, with a target and penalties."""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from invdesign.adapter import ModelAdapter
from invdesign.energies import EnsembleRule, MemberRule, Negated, OutputEnergy, Plain, TargetError, member_rule
from invdesign.space import Box, DesignSpace, Space
from invdesign.trust import PESSIMISM_BETA, TRUST_MODES, TrainingData, Trust

Penalty = Callable[[Tensor], Tensor]
"""A penalty maps search points of shape ``(b, d)`` to non-negative energies of shape ``(b,)``."""


class Objective:
    """The energy to **minimize**, batched: ``(b, d) -> (b,)``.

    Built from a surrogate ``model`` mapping designs ``(b, d_x)`` to ``(b,)``, ``(b, 1)`` or ``(b, k)``.

    - Without ``target``: the energy is the model's single output (negated once, here, if
      ``maximize=True``).
    - With ``target`` (a value or a ``(k,)`` vector): the energy is the mean squared error
      between the model's ``k`` outputs and the target.
    - With ``target`` of shape ``(T, k)`` (or ``T`` scalar targets of a one-output model): a
      batch of ``T`` target problems, solved together by one `invdesign.minimize` call (which
      returns a `invdesign.result.BatchResult`). The objective then maps points ``(T, n, d)``
      to energies ``(T, n)``, row ``t`` judged against target ``t``; ``objective[t]`` is the
      single-target objective of target ``t``.
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
    - With ``data`` (the designs the model was trained on, and their measured outputs): every
      result of `invdesign.minimize` reports, per design, its distance to the data, whether it
      lies inside the data's support, its prediction against the outputs' range and an
      ensemble's spread (`invdesign.trust`); ``trust`` decides what more is done.

    The model is put in eval mode and its weights are never changed: gradients are only ever
    taken with respect to the search point. The objective is a pure function of the search
    point: evaluations are counted by the run (`invdesign.Result.nfev`).

    The pieces are `invdesign.adapter.ModelAdapter` (calls the model, behind the decoder, and
    checks it once at construction) and the energies of `invdesign.energies`.

    Args:
        model: A ``torch.nn.Module`` or a callable on tensors (or returning NumPy arrays).
        space: The search space: a `Box`, or a `Space` of named variables whose encoding (one
            column per real or integer, one-hot columns per categorical, one per composition
            component) is the model's input; or the latent box when ``decoder`` is given.
        target: Target output: a scalar or a ``(k,)`` sequence/tensor; or ``(T, k)`` targets
            (``T`` scalars for a one-output model) for a batch of target problems.
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
        flatten: Flatten decoded designs for the model; ``None`` decides from the model (see
            `invdesign.adapter.ModelAdapter`).
        differentiable: ``False`` for a model gradients cannot pass (it is then called on
            detached inputs); ``None`` finds out by probing.
        data: The training data: ``(X, Y)`` (designs ``(n, d_x)`` as the model sees them, or a
            table of the `Space`, and outputs ``(n,)`` or ``(n, k)``), designs ``X`` alone, or an
            `invdesign.trust.TrainingData`. For a latent objective, designs the decoder makes.
        trust: ``"report"``: each result carries a `invdesign.trust.TrustReport` of its designs
            (``Result.trust``, columns of ``Result.designs``, a sentence in its message);
            ``"region"``: that, and the data trust region added to the energy
            (`invdesign.trust.TrainingData.region_penalty`); ``"ensemble"``: pessimism over an
            ensemble's members (``ensemble="pessimistic"``, ``beta`` =
            `invdesign.trust.PESSIMISM_BETA`), and the report when data are given; ``None``:
            nothing. ``"auto"`` (the default): ``"report"`` with data, else ``None``.

    Raises:
        ValueError: if the model (or decoder) fails on, or returns the wrong shape for, a batch
            drawn from ``space`` (`invdesign.adapter.ModelError`, the model's exception chained), if the target's size does not match the model's outputs, for an
            unknown ``ensemble`` rule, or for a negative, non-finite or misplaced ``beta``; for an
            unknown ``trust`` word, ``"report"`` or ``"region"`` without ``data``, ``"ensemble"``
            beside ``ensemble=``, or data that do not fit the model (`TrainingData.from_objective`;
            a table of designs beside a decoder is a ``TypeError``).
        TypeError: if ``model`` is not callable, or the dtype does not match the model's, or
            ``ensemble`` is given for a model without ``members_forward``.
    """

    def __init__(
        self,
        model: nn.Module | Callable[[Tensor], Any],
        space: DesignSpace,
        *,
        target: float | Sequence[float] | Tensor | None = None,
        decoder: nn.Module | Callable[[Tensor], Tensor] | None = None,
        penalties: Sequence[Penalty] = (),
        maximize: bool = False,
        ensemble: EnsembleRule | None = None,
        beta: float | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        flatten: bool | None = None,
        differentiable: bool | None = None,
        data: Any = None,
        trust: Trust | Literal["auto"] | None = "auto",
    ) -> None:
        if trust not in (None, "auto", *TRUST_MODES):
            raise ValueError(f"trust must be one of {[None, 'auto', *TRUST_MODES]}, got {trust!r}")
        if trust in ("report", "region") and data is None:
            raise ValueError(f"trust={trust!r} needs the training data: pass data=(X, Y)")
        if trust == "ensemble":
            if ensemble is not None or beta is not None:
                raise ValueError(f"trust='ensemble' is ensemble='pessimistic' with beta={PESSIMISM_BETA}: pass one or the other")
            ensemble, beta = "pessimistic", PESSIMISM_BETA
        if not isinstance(space, (Box, Space)):
            raise TypeError(f"space must be an invdesign.Box or invdesign.Space, got {type(space).__name__}")
        if maximize and target is not None:
            raise ValueError("maximize=True and target= cannot be combined: a target is matched, not maximized")
        for i, p in enumerate(penalties):
            if not callable(p):
                raise TypeError(f"penalty {i} is not callable: {p!r}")
        self.ensemble = ensemble
        self.rule: MemberRule | None = None
        if ensemble is None:
            if beta is not None:
                raise ValueError("beta= weighs the member spread of ensemble='pessimistic'; pass ensemble='pessimistic' too")
        else:
            self.rule = member_rule(ensemble, beta)
            if not callable(getattr(model, "members_forward", None)):
                raise TypeError(
                    f"ensemble={ensemble!r} needs a model with a members_forward method (such as "
                    f"invdesign.models.Ensemble) returning (m, b, k) member outputs; {type(model).__name__} has none"
                )
        self.beta = getattr(self.rule, "beta", None)
        self.adapter = ModelAdapter(
            model,
            space,
            decoder=decoder,
            members=ensemble is not None,
            flatten=flatten,
            differentiable=differentiable,
            dtype=dtype,
            device=device,
        )
        self.model = model
        self.decoder = decoder
        self.penalties: tuple[Penalty, ...] = tuple(penalties)
        self.maximize = maximize
        self.dtype, self.device, self.space = self.adapter.dtype, self.adapter.device, self.adapter.space
        self.output_dim = self.adapter.output_dim
        self.differentiable = self.adapter.differentiable
        self.target: Tensor | None = None
        self.targets: Tensor | None = None
        self.output_energy: OutputEnergy = Negated() if maximize else Plain()
        if target is not None:
            self.targets = _targets(target, self.output_dim, self.dtype, self.device)
            if self.targets.shape[0] == 1 and not _is_batch(target, self.output_dim):
                self.target, self.targets = self.targets[0], None
                self.output_energy = TargetError(self.target)
        elif self.output_dim != 1:
            raise ValueError(
                f"the model returns {self.output_dim} outputs per design: pass target= (a ({self.output_dim},) vector) "
                "or wrap the model so it returns one energy"
            )
        self.trust = ("report" if data is not None else None) if trust == "auto" else trust
        self.trust_unset = trust == "auto"
        """Whether ``trust`` was left to decide: `invdesign.minimize` then reports against a `FromData` start too."""
        self.data = None if data is None else TrainingData.from_objective(data, self)
        if self.trust == "region":
            assert self.data is not None
            self.penalties += (_OnDesigns(self.data.region_penalty(self), self.decode),)
        probe = self.space.sample(2, seed=0)
        for i, penalty in enumerate(self.penalties):
            self._penalty(i, penalty, probe)
        self.space.nonlinear_violation(probe)  # a nonlinear constraint of the wrong shape, or NaN, fails here

    @property
    def dim(self) -> int:
        """Dimension of the search space."""
        return self.space.dim

    @property
    def n_targets(self) -> int | None:
        """``T`` for a batch of target problems (a ``(T, k)`` target), else ``None``."""
        return None if self.targets is None else self.targets.shape[0]

    def __getitem__(self, t: int) -> Objective:
        """The single-target objective of target ``t`` of a batch (the same model, space and penalties).

        Raises:
            TypeError: if the objective holds no batch of targets.
            IndexError: for ``t`` outside ``[-T, T)``.
        """
        if self.targets is None:
            raise TypeError("only an objective with a batch of (T, k) targets has one objective per target")
        one = copy.copy(self)
        one.targets, one.target = None, self.targets[operator.index(t)]
        one.output_energy = TargetError(one.target)
        return one

    def __call__(self, z: Tensor) -> Tensor:
        """Energies of a batch of search points.

        Args:
            z: Search points, shape ``(b, d)`` (or ``(d,)`` for one point); for a batch of ``T``
                targets, ``(T, n, d)``: row ``t`` is judged against target ``t``.

        Returns:
            Energies, shape ``(b,)`` (a 0-d tensor for one point; ``(T, n)`` for ``T`` targets).
        """
        if self.targets is not None:
            T = self.targets.shape[0]
            if z.ndim != 3 or z.shape[0] != T:
                raise ValueError(
                    f"this objective holds {T} targets: evaluate points of shape ({T}, n, {self.dim}), row t for "
                    f"target t (got {tuple(z.shape)}), or objective[t] for target t alone"
                )
            which = torch.arange(T, device=z.device).repeat_interleave(z.shape[1])
            return self.rows(z.reshape(-1, z.shape[-1]), which).reshape(T, z.shape[1])
        if z.ndim == 1:
            return self(z.unsqueeze(0))[0]
        return self._energy(z, self.output_energy)

    def rows(self, z: Tensor, which: Tensor) -> Tensor:
        """Energies of search points ``z`` ``(b, d)`` of a batch of targets, row ``i`` judged against
        target ``which[i]`` (``which``: ``(b,)`` integer indices into the targets); shape ``(b,)``.

        Raises:
            TypeError: if the objective holds no batch of targets.
        """
        if self.targets is None:
            raise TypeError("rows(z, which) judges rows against a batch of targets; this objective has none")
        if which.shape != z.shape[:1]:
            raise ValueError(f"rows needs one target index per point: which has shape {tuple(which.shape)} for {z.shape[0]} points")
        return self._energy(z, _RowTargets(self.targets[which]))

    def _energy(self, z: Tensor, output_energy: OutputEnergy) -> Tensor:
        if z.ndim != 2 or z.shape[-1] != self.dim:
            raise ValueError(f"expected search points of shape (b, {self.dim}), got {tuple(z.shape)}")
        if z.dtype != self.dtype:
            raise TypeError(f"search points are {z.dtype} but the objective runs in {self.dtype}")
        if z.device.type != self.device.type:
            raise ValueError(f"search points are on {z.device} but the objective runs on {self.device}")
        energy = output_energy(self.adapter(z))
        if self.rule is not None:
            energy = self.rule(energy)
        for i, penalty in enumerate(self.penalties):
            energy = energy + self._penalty(i, penalty, z)
        return energy

    @staticmethod
    def _penalty(i: int, penalty: Penalty, z: Tensor) -> Tensor:
        """Penalty ``i`` of search points ``z`` ``(b, d)``, shape ``(b,)``, or a ValueError naming the shape it had."""
        p = penalty(z)
        if not isinstance(p, Tensor) or p.shape != (z.shape[0],):
            shape = tuple(p.shape) if isinstance(p, Tensor) else type(p).__name__
            raise ValueError(f"penalty {i} ({penalty!r}) returned {shape} for {z.shape[0]} points; expected ({z.shape[0]},)")
        return p

    def decode(self, z: Tensor) -> Tensor:
        """The designs the model sees: ``decoder(z)``, or ``z`` itself without a decoder.

        Args:
            z: Search points, shape ``(b, d)``.
        """
        return self.adapter.decode(z)

    def predict(self, z: Tensor) -> Tensor:
        """The model's raw outputs for search points, shape ``(b, k)``.

        With ``ensemble`` set, the mean of the members' outputs.
        """
        y = self.adapter(z)
        return y.mean(dim=0) if self.rule is not None else y

    def predict_members(self, z: Tensor) -> Tensor:
        """Every member's outputs for search points, shape ``(m, b, k)``.

        Raises:
            TypeError: if the objective was built without ``ensemble``.
        """
        if self.rule is None:
            raise TypeError("predict_members needs an objective built with ensemble=")
        return self.adapter(z)

    def energy_from_outputs(self, y: Tensor) -> Tensor:
        """The energy of model outputs ``y`` of shape ``(b, k)`` (measured or predicted), shape ``(b,)``;
        for a batch of ``T`` targets, the error of every output row to every target, ``(T, b)``.

        Penalties are not included: they depend on the search point, not on the outputs. Nor is
        an ``ensemble`` rule: one row of outputs has no members to disagree (for measured outputs
        this is the energy the ensemble rules would give if every member were right).
        """
        if y.ndim != 2 or y.shape[1] != self.output_dim:
            raise ValueError(f"expected outputs of shape (b, {self.output_dim}), got {tuple(y.shape)}")
        if self.targets is not None:
            return (y.unsqueeze(0) - self.targets.unsqueeze(1)).square().mean(dim=-1)
        return self.output_energy(y)

    def __repr__(self) -> str:
        parts = [f"model={type(self.model).__name__}", f"space={self.space!r}"]
        if self.decoder is not None:
            parts.append(f"decoder={type(self.decoder).__name__}")
        if self.target is not None:
            parts.append(f"target={self.target.tolist()}")
        if self.targets is not None:
            parts.append(f"targets: {self.targets.shape[0]} of {self.targets.shape[1]} outputs")
        if self.maximize:
            parts.append("maximize=True")
        if self.ensemble is not None:
            parts.append(f"ensemble={self.ensemble!r}")
            if self.ensemble == "pessimistic":
                parts.append(f"beta={self.beta}")
        if self.penalties:
            parts.append(f"penalties={list(self.penalties)}")
        if self.data is not None:
            parts.append(f"data={self.data!r}")
        if self.trust is not None:
            parts.append(f"trust={self.trust!r}")
        if self.adapter.flatten:
            parts.append("flattens decoded designs for the model")
        if not self.differentiable:
            parts.append("not differentiable")
        return f"Objective({', '.join(parts)})"


class _RowTargets:
    """Mean squared error of each output row ``(..., b, k)`` to its own target row of ``(b, k)``."""

    def __init__(self, targets: Tensor) -> None:
        self.targets = targets

    def __call__(self, y: Tensor) -> Tensor:
        return (y - self.targets).square().mean(dim=-1)


def _is_batch(target: Any, k: int) -> bool:
    """Whether ``target`` as given is a batch of targets: 2-d, or (for a one-output model) 1-d with several entries."""
    shape = tuple(torch.as_tensor(target).shape) if not isinstance(target, Tensor) else tuple(target.shape)
    return len(shape) == 2 or (len(shape) == 1 and k == 1 and shape[0] > 1)


def _targets(target: Any, k: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The target(s) as a finite ``(T, k)`` tensor; a clear error for a shape that fits neither one target nor a batch.

    Raises:
        ValueError: for a width other than the model's ``k`` outputs, no targets, or NaN/infinite values.
        TypeError: for a target that is not numbers.
    """
    try:
        t = torch.as_tensor(target, dtype=dtype, device=device) if not isinstance(target, Tensor) else target.to(dtype=dtype, device=device)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"target must be numbers (a scalar, a (k,) vector or (T, k) targets), got {target!r}") from error
    if t.ndim == 0 or (t.ndim == 1 and (t.numel() == k or k == 1)):
        t = t.reshape(-1, k) if t.numel() % k == 0 and t.numel() > 0 else t.reshape(1, -1)
    if t.ndim != 2 or t.shape[1] != k or t.shape[0] == 0:
        shape = tuple(t.shape)
        raise ValueError(
            f"target has shape {shape} but the model returns {k} outputs: give one target of {k} values, "
            f"or (T, {k}) targets"
        )
    if not torch.isfinite(t).all():
        rows = (~torch.isfinite(t)).any(dim=-1).nonzero().flatten().tolist()
        raise ValueError(f"target must be finite; rows {rows[:10]} hold NaN or infinite values")
    return t


class _OnDesigns:
    """A penalty of designs ``(b, d_x)`` as a penalty of search points ``(b, d)``: ``penalty(decode(z))``."""

    def __init__(self, penalty: Penalty, decode: Callable[[Tensor], Tensor]) -> None:
        self.penalty, self.decode = penalty, decode

    def __call__(self, z: Tensor) -> Tensor:
        x = self.decode(z)
        return self.penalty(x.reshape(x.shape[0], -1))

    def __repr__(self) -> str:
        return repr(self.penalty)
