"""The :class:`Task`: a benchmark problem with a true oracle, a prior and a design space."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor

from invdesign.objective import Objective
from invdesign.space import Box, DesignSpace, Space
from invdesign.tasks.surrogate import DEFAULT_SURROGATE, RELU_HIDDEN, DecoderSpec, SurrogateSpec

Kind = Literal["target", "minimize"]
OracleFn = Callable[[Tensor], Tensor]
PriorFn = Callable[[int, torch.Generator], Tensor]
DescribeFn = Callable[[Tensor], dict[str, float]]

_KINDS = ("target", "minimize")

DEFAULT_HIDDEN_FRACTION = 0.5
"""The share of the best designs a minimize task hides from its offline data unless told otherwise."""

# The reference sample of reference_range() is drawn from this seed's derived stream.
_REFERENCE_SEED = 0
_REFERENCE_CHUNK = 10_000


class Task:
    """A benchmark problem: a true oracle, a prior to sample designs from, and a design space.

    Surrogates are trained on :meth:`make_offline_data` (prior samples and their oracle
    values, the best of them hidden for minimize tasks; :meth:`make_data` draws them all),
    solvers search inside :attr:`space`, and the designs they return are re-scored with
    :meth:`oracle`. Minimize tasks score them with :meth:`normalized_score`. Each task also
    recommends an offline data size (:attr:`n_train`), a surrogate (:attr:`surrogate`) and a
    black-box query budget (:attr:`budget`).

    Args:
        name: A short identifier, used by the registry (:func:`invdesign.tasks.get`).
        oracle: The true function, pure torch, mapping designs of shape ``(n, d)`` to
            values of shape ``(n, k)`` with the dtype and device of its input. When
            ``output_dim`` is 1 it may also return shape ``(n,)``. On a `Space` the designs
            are encoded (the ``d = space.dim`` columns ``space.columns``: one-hot levels,
            composition fractions, ...).
        space: The search space: a `Box` of dimension ``d``, or a `Space` (named, mixed,
            constrained variables) whose encoding has ``d`` columns; stored as float64.
        kind: ``"target"`` for inverse problems (find ``x`` with ``oracle(x) == y*``) or
            ``"minimize"`` (find ``x`` minimizing the scalar oracle).
        output_dim: ``k``, the number of oracle outputs; must be 1 for ``"minimize"``.
        prior: ``prior(n, generator)`` returning float64 CPU designs of shape ``(n, d)``
            drawn with the given CPU ``torch.Generator``. On a `Space` they must be feasible
            encoded designs (``space.feasible``); on a `Box` they may fall outside it (a
            Gaussian prior). ``None`` means uniform in ``space``: uniform in a box, and for a
            `Space` its own sampler (``space.sample``: uniform over levels, integers and
            simplices, scrambled Sobol over reals) seeded from ``generator``.
        optimum: The known global minimum of the oracle, for ``"minimize"`` tasks only.
        reference: A short citation of the paper or source the task comes from.
        n_train: The recommended size of the offline data set: the number of prior designs
            :meth:`make_offline_data` draws (a minimize task then hides the best of them).
        hidden_fraction: For ``"minimize"`` tasks, the share of the best (lowest) designs that
            :meth:`make_offline_data` hides from the offline data, in ``[0, 1)``, as in
            Design-Bench (Trabucco et al., ICML 2022); ``None`` means 0.5. Target tasks hide
            nothing: it must be 0 or ``None`` for them.
        surrogate: The recommended surrogate and its training recipe; ``None`` means
            ``DEFAULT_SURROGATE`` (an MLP with three hidden layers of 128, 200 epochs).
        budget: The recommended number of oracle evaluations for black-box runs on
            :meth:`objective`.
        n_reference: The size of the prior sample behind :meth:`reference_range` (minimize tasks).
        decoder: For tasks searched in a latent space too: how to train the decoder on the
            offline designs (:class:`~invdesign.tasks.DecoderSpec`, on a `Box` only); ``None`` for
            data space only.
        describe: Measures of a set of returned designs beyond each one's oracle value,
            ``describe(X)`` for designs ``(k, d)`` returning ``{name: value}`` (for molecules:
            validity, uniqueness, novelty and internal diversity); the benchmark reports each as a
            column ``design_<name>``. ``None`` for none.

    Attributes:
        name, space, kind, output_dim, optimum, reference, n_train, hidden_fraction, surrogate,
        budget, n_reference, decoder, describe: As given (``hidden_fraction`` and ``surrogate`` with the defaults
        filled in).

    Raises:
        ValueError: if ``kind`` is unknown, ``name`` is empty, ``output_dim < 1``,
            ``optimum``, ``output_dim`` or ``hidden_fraction`` do not fit ``kind``,
            ``hidden_fraction`` lies outside ``[0, 1)``, ``n_train``, ``budget`` or
            ``n_reference`` is not a positive int, or a ``decoder`` is given with a `Space`.
        TypeError: if ``space`` is not a `Box` or a `Space`, ``oracle`` or ``prior`` is not callable, or
            ``surrogate`` is not a :class:`~invdesign.tasks.SurrogateSpec` (or ``decoder`` not a
            :class:`~invdesign.tasks.DecoderSpec`).

    Example:
        >>> task = Task(
        ...     name="sphere",
        ...     oracle=lambda x: (x**2).sum(-1),
        ...     space=Box(-1.0, 1.0, dim=3),
        ...     kind="minimize",
        ...     optimum=0.0,
        ... )
        >>> X, Y = task.make_data(8, seed=0)
        >>> X.shape, Y.shape
        (torch.Size([8, 3]), torch.Size([8, 1]))
    """

    name: str
    space: DesignSpace
    kind: Kind
    output_dim: int
    optimum: float | None
    reference: str
    n_train: int
    hidden_fraction: float
    surrogate: SurrogateSpec
    budget: int
    n_reference: int
    decoder: DecoderSpec | None
    describe: DescribeFn | None
    _oracle: OracleFn
    _prior: PriorFn | None
    _reference_range: tuple[float, float] | None

    def __init__(
        self,
        *,
        name: str,
        oracle: OracleFn,
        space: DesignSpace,
        kind: Kind,
        output_dim: int = 1,
        prior: PriorFn | None = None,
        optimum: float | None = None,
        reference: str = "",
        n_train: int = 1000,
        hidden_fraction: float | None = None,
        surrogate: SurrogateSpec | None = None,
        budget: int = 100,
        n_reference: int = 100_000,
        decoder: DecoderSpec | None = None,
        describe: DescribeFn | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"Task name must be a non-empty string, got {name!r}")
        if kind not in _KINDS:
            raise ValueError(f"Task {name!r}: kind must be one of {_KINDS}, got {kind!r}")
        if not isinstance(space, (Box, Space)):
            raise TypeError(f"Task {name!r}: space must be a Box or a Space, got {type(space).__name__}")
        if not callable(oracle):
            raise TypeError(f"Task {name!r}: oracle must be callable, got {type(oracle).__name__}")
        if prior is not None and not callable(prior):
            raise TypeError(f"Task {name!r}: prior must be callable or None, got {type(prior).__name__}")
        if output_dim < 1:
            raise ValueError(f"Task {name!r}: output_dim must be at least 1, got {output_dim}")
        if kind == "minimize" and output_dim != 1:
            raise ValueError(f"Task {name!r}: a minimize task has a scalar oracle, got output_dim={output_dim}")
        if kind == "target" and optimum is not None:
            raise ValueError(f"Task {name!r}: optimum is only meaningful for minimize tasks")
        for field, value in (("n_train", n_train), ("budget", budget), ("n_reference", n_reference)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Task {name!r}: {field} must be a positive int, got {value!r}")
        if hidden_fraction is None:
            hidden_fraction = DEFAULT_HIDDEN_FRACTION if kind == "minimize" else 0.0
        if not 0.0 <= hidden_fraction < 1.0:
            raise ValueError(f"Task {name!r}: hidden_fraction must lie in [0, 1), got {hidden_fraction}")
        if kind == "target" and hidden_fraction != 0.0:
            raise ValueError(
                f"Task {name!r}: hidden_fraction is for minimize tasks; a target task hides no designs, "
                f"got {hidden_fraction}"
            )
        if surrogate is None:
            surrogate = DEFAULT_SURROGATE
        if not isinstance(surrogate, SurrogateSpec):
            raise TypeError(f"Task {name!r}: surrogate must be a SurrogateSpec or None, got {type(surrogate).__name__}")
        if decoder is not None and not isinstance(decoder, DecoderSpec):
            raise TypeError(f"Task {name!r}: decoder must be a DecoderSpec or None, got {type(decoder).__name__}")
        if describe is not None and not callable(describe):
            raise TypeError(f"Task {name!r}: describe must be callable or None, got {type(describe).__name__}")
        if decoder is not None and not isinstance(space, Box):
            raise ValueError(f"Task {name!r}: a decoder (latent-space search) needs a Box space, got a Space")
        set_ = object.__setattr__
        set_(self, "name", name)
        set_(self, "space", space.to(dtype=torch.float64))
        set_(self, "kind", kind)
        set_(self, "output_dim", int(output_dim))
        set_(self, "optimum", None if optimum is None else float(optimum))
        set_(self, "reference", reference)
        set_(self, "n_train", n_train)
        set_(self, "hidden_fraction", float(hidden_fraction))
        set_(self, "surrogate", surrogate)
        set_(self, "budget", budget)
        set_(self, "n_reference", n_reference)
        set_(self, "decoder", decoder)
        set_(self, "describe", describe)
        set_(self, "_oracle", oracle)
        set_(self, "_prior", prior)
        set_(self, "_reference_range", None)

    def __setattr__(self, attr: str, value: object) -> None:
        raise AttributeError(f"Task is immutable; cannot set {attr!r}")

    @property
    def relu_surrogate(self) -> SurrogateSpec:
        """A surrogate recipe ``method="milp"`` can encode: the task's own when it uses ReLUs, else
        its schedule with two hidden layers of `RELU_HIDDEN` ReLUs (a size whose exact minimum HiGHS
        proves in seconds to a minute on 2 CPU cores; see ``benchmarks/milp.py``)."""
        if self.surrogate.activation == "relu":
            return self.surrogate
        return self.surrogate.relu(RELU_HIDDEN)

    @property
    def input_dim(self) -> int:
        """``d``, the design dimension (the dimension of :attr:`space`; of a `Space`, its encoding's width)."""
        return self.space.dim

    def oracle(self, x: Tensor) -> Tensor:
        """The true function at designs ``x``.

        Args:
            x: Designs, shape ``(n, input_dim)``, floating point, any device.

        Returns:
            Oracle values, shape ``(n, output_dim)``, same dtype and device as ``x``;
            differentiable with respect to ``x``.

        Raises:
            TypeError: if ``x`` is not a floating point tensor.
            ValueError: if ``x`` does not have shape ``(n, input_dim)``, or the oracle
                function returns the wrong shape.
        """
        if not isinstance(x, Tensor) or not x.is_floating_point():
            got = x.dtype if isinstance(x, Tensor) else type(x).__name__
            raise TypeError(f"Task {self.name!r}: oracle expects a floating point tensor, got {got}")
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(
                f"Task {self.name!r}: oracle expects designs of shape (n, {self.input_dim}), "
                f"got {tuple(x.shape)}"
            )
        n = x.shape[0]
        y = self._oracle(x)
        if self.output_dim == 1 and y.shape == (n,):
            y = y.unsqueeze(-1)
        if y.shape != (n, self.output_dim):
            raise ValueError(
                f"Task {self.name!r}: oracle function returned shape {tuple(y.shape)} for "
                f"{n} designs, expected ({n}, {self.output_dim})"
            )
        return y

    def objective(
        self,
        *,
        target: float | Sequence[float] | Tensor | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> Objective:
        """Black-box mode: the oracle itself as the objective (a run counts its calls in ``Result.nfev``).

        For a ``"minimize"`` task the energy is the oracle's value; for a ``"target"`` task it is
        the mean squared error between the oracle's outputs and ``target``. The oracle is pure
        torch, so gradient solvers run on it too.

        Args:
            target: The outputs to match, a scalar or a ``(output_dim,)`` vector; required for
                target tasks, refused for minimize tasks.
            dtype: Floating dtype of the search.
            device: Device of the search (default: the CPU).

        Raises:
            ValueError: without ``target`` for a target task, or with one for a minimize task.

        Example:
            >>> obj = invdesign.tasks.get("branin").objective()  # doctest: +SKIP
            >>> res = invdesign.minimize(obj, "cmaes", max_evals=200, seed=0)  # doctest: +SKIP
        """
        if self.kind == "minimize":
            if target is not None:
                raise ValueError(
                    f"Task {self.name!r} is a minimize task: its oracle is minimized, target= is for target tasks"
                )

            def oracle(x: Tensor) -> Tensor:
                return self.oracle(x)[:, 0]

            return Objective(oracle, self.space, dtype=dtype, device=device)
        if target is None:
            raise ValueError(
                f"Task {self.name!r} is a target task: pass target= (a ({self.output_dim},) vector of outputs to match)"
            )
        return Objective(self.oracle, self.space, target=target, dtype=dtype, device=device)

    def sample_prior(
        self,
        n: int,
        *,
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """``n`` independent designs from the prior, shape ``(n, input_dim)``.

        Samples are drawn in float64 on the CPU with a ``torch.Generator`` seeded with
        ``seed``, then moved, so the same ``seed`` gives the same designs on every device
        (and, up to rounding, every dtype). ``seed=None`` draws a fresh random seed.
        On a `Box` a prior need not stay inside :attr:`space` (a Gaussian prior does not); on a
        `Space` every design is feasible (in float64; rounding to float32 may move a composition's
        sum by a few ulps).
        """
        return self._sample(n, _generator(seed), dtype, device)

    def make_data(
        self,
        n: int,
        *,
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> tuple[Tensor, Tensor]:
        """A training set: ``X = sample_prior(n, seed=seed)``, shape ``(n, input_dim)``,
        and ``Y = oracle(X)``, shape ``(n, output_dim)``."""
        x = self.sample_prior(n, seed=seed, dtype=dtype, device=device)
        return x, self.oracle(x)

    def make_offline_data(
        self,
        *,
        seed: int,
        n: int | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> tuple[Tensor, Tensor]:
        """The offline data set a surrogate is trained on, following the task's protocol.

        Draws ``n`` designs from the prior with ``seed`` (the designs of ``make_data(n, seed=seed)``)
        and evaluates the oracle. Rows whose oracle value is NaN (invalid designs, such as a
        ballistics shot that never lands) are dropped. A ``"minimize"`` task then hides the best
        designs, as in Design-Bench (Trabucco et al., ICML 2022): the ``floor(hidden_fraction * m)``
        rows with the lowest oracle values among the ``m`` valid ones are removed (ties broken by
        sampling order), so that finding better designs than the data is the task. A ``"target"``
        task keeps every valid row. Rows keep their sampling order.

        Args:
            seed: Seeds the prior sample; the same seed gives the same data.
            n: Designs drawn before dropping and hiding; default :attr:`n_train`.
            dtype: Floating dtype of the data (the oracle is evaluated in it).
            device: Device of the data.

        Returns:
            ``(X, Y)`` of shapes ``(n_kept, input_dim)`` and ``(n_kept, output_dim)``, where
            ``n_kept`` is about ``(1 - hidden_fraction) * n``.

        Raises:
            ValueError: if ``n < 1`` or no row survives.
        """
        X, Y = self.make_data(self.n_train if n is None else n, seed=seed, dtype=dtype, device=device)
        valid = ~torch.isnan(Y).any(dim=-1)
        if not bool(valid.all()):
            X, Y = X[valid], Y[valid]
        if self.kind == "minimize" and self.hidden_fraction > 0:
            n_hidden = math.floor(self.hidden_fraction * Y.shape[0])
            best = torch.argsort(Y[:, 0], stable=True)[:n_hidden]
            keep = torch.ones(Y.shape[0], dtype=torch.bool, device=Y.device)
            keep[best] = False
            X, Y = X[keep], Y[keep]
        if Y.shape[0] == 0:
            raise ValueError(f"Task {self.name!r}: no offline data left (every design invalid, or too few drawn)")
        return X, Y

    def reference_range(self) -> tuple[float, float]:
        """``(y_min_ref, y_max_ref)``: the oracle's smallest and largest value on a reference sample.

        The reference sample is :attr:`n_reference` (100,000 for the built-in tasks) designs from
        the prior, drawn from a fixed seed (a stream of its own, distinct from every ``seed`` of
        :meth:`make_data`) and evaluated in float64 on the CPU; NaN values (invalid designs) are
        ignored. Computed on the first call and cached.

        Raises:
            ValueError: for ``"target"`` tasks, or if every reference value is NaN.
        """
        if self.kind != "minimize":
            raise ValueError(
                f"Task {self.name!r} is a {self.kind} task; reference ranges and normalized scores "
                "are for minimize tasks"
            )
        if self._reference_range is None:
            generator = _generator(_derived_seed(_REFERENCE_SEED, "reference"))
            x = self._sample(self.n_reference, generator, torch.float64, "cpu")
            with torch.no_grad():
                y = torch.cat([self.oracle(chunk)[:, 0] for chunk in x.split(_REFERENCE_CHUNK)])
            y = y[~torch.isnan(y)]
            if y.numel() == 0:
                raise ValueError(f"Task {self.name!r}: every oracle value of the reference sample is NaN")
            object.__setattr__(self, "_reference_range", (float(y.min()), float(y.max())))
        assert self._reference_range is not None
        return self._reference_range

    def normalized_score(self, y: Tensor) -> Tensor:
        """Design-Bench's normalized score for minimization, ``(y_max_ref - y) / (y_max_ref - y_min_ref)``.

        With ``(y_min_ref, y_max_ref) = reference_range()``: 1 is as good as the best reference
        design, above 1 beats it, 0 is as bad as the worst.

        Args:
            y: Oracle values, any shape, floating point.

        Returns:
            Scores of the shape, dtype and device of ``y``.

        Raises:
            ValueError: for ``"target"`` tasks, or if the reference range is a single value.
            TypeError: if ``y`` is not a floating point tensor.
        """
        if not isinstance(y, Tensor) or not y.is_floating_point():
            got = y.dtype if isinstance(y, Tensor) else type(y).__name__
            raise TypeError(f"Task {self.name!r}: normalized_score expects a floating point tensor, got {got}")
        y_min, y_max = self.reference_range()
        if not y_max > y_min:
            raise ValueError(
                f"Task {self.name!r}: the oracle is constant ({y_min}) on the reference sample; "
                "scores cannot be normalized"
            )
        return (y_max - y) / (y_max - y_min)

    def sample_targets(
        self,
        n: int,
        *,
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Test targets ``y* = oracle(x)`` for fresh prior designs ``x``, shape ``(n, output_dim)``.

        The designs come from a seed derived from ``seed`` by hashing, not from ``seed``
        itself, so ``sample_targets(n, seed=s)`` and ``make_data(n, seed=s)`` use different
        designs: the same seed can be used for training data and test targets.

        Raises:
            ValueError: for ``"minimize"`` tasks, which have no targets.
        """
        if self.kind != "target":
            raise ValueError(
                f"Task {self.name!r} is a {self.kind} task; only target tasks have targets"
            )
        generator = _generator(None if seed is None else _derived_seed(seed, "targets"))
        return self.oracle(self._sample(n, generator, dtype, device))

    def _sample(
        self,
        n: int,
        generator: torch.Generator,
        dtype: torch.dtype,
        device: torch.device | str | None,
    ) -> Tensor:
        if n < 1:
            raise ValueError(f"Task {self.name!r}: need n >= 1 samples, got {n}")
        if not dtype.is_floating_point:
            raise TypeError(f"Task {self.name!r}: dtype must be floating point, got {dtype}")
        d = self.input_dim
        space = self.space
        if self._prior is None and isinstance(space, Space):
            # The space's own feasible sampler, its scrambled Sobol sequence seeded from the generator.
            seed = int(torch.randint(0, 2**62, (1,), generator=generator))
            x = space.sample(n, seed=seed)
        elif self._prior is None:
            u = torch.rand(n, d, generator=generator, dtype=torch.float64)
            x = space.coordinates().to_design(u)
        else:
            x = self._prior(n, generator)
            if not isinstance(x, Tensor) or x.shape != (n, d):
                got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
                raise ValueError(f"Task {self.name!r}: prior returned shape {got}, expected ({n}, {d})")
            if isinstance(space, Space):
                bad = ~space.feasible(x.to(space.dtype))
                if bad.any():
                    rows = bad.nonzero().flatten().tolist()
                    raise ValueError(
                        f"Task {self.name!r}: the prior returned designs outside the space (rows {rows[:10]}"
                        f"{' ...' if len(rows) > 10 else ''}); a Space task's prior must return feasible encoded designs"
                    )
        return x.to(dtype=dtype, device=device)

    def __repr__(self) -> str:
        return (
            f"Task(name={self.name!r}, kind={self.kind!r}, input_dim={self.input_dim}, "
            f"output_dim={self.output_dim})"
        )


def _generator(seed: int | None) -> torch.Generator:
    """A CPU generator seeded with ``seed``, or with a fresh random seed when ``None``."""
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


def _derived_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for the named ``stream``, derived from ``seed`` by SHA-256."""
    digest = hashlib.sha256(f"invdesign.tasks:{stream}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)
