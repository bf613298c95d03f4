"""The model adapter: calls a user's model (behind an optional decoder) on search points.

A surrogate comes in many forms: a ``torch.nn.Module``, a function on tensors, a scikit-learn
``predict`` returning NumPy arrays, an ensemble with ``members_forward``, a model of flat vectors
behind an image decoder. `ModelAdapter` turns any of them into one thing, ``(b, d) -> (b, k)``
outputs (or ``(m, b, k)`` member outputs), in the search's dtype and on its device. It is probed
once at construction on two points of the space, so that a shape, dtype, device or decoder
mismatch is a clear error before any search, with the model's own exception chained.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from invdesign.space import Box, DesignSpace

_PROBE_ROWS = 2
_CHECK_ROWS = 3
"""A second batch size the model is called with at construction, to tell the batch axis from the outputs'."""


class ModelError(ValueError):
    """The model (or decoder) raised, or returned something that is not outputs for the batch it was given.

    The model's own exception, when there is one, is chained as ``__cause__``.
    """


class ModelAdapter:
    """A model (behind an optional decoder) as a function of search points: ``(b, d) -> (b, k)``.

    Args:
        model: A ``torch.nn.Module`` or a callable on tensors (NumPy outputs are converted).
        space: The box the search points live in (data space, or the latent box of ``decoder``).
        decoder: Maps search points ``(b, d_z)`` to the designs the model takes.
        members: Call ``model.members_forward`` (an ensemble's member outputs ``(m, b, k)``)
            instead of the model.
        flatten: Flatten decoded designs ``(b, ...)`` to ``(b, n)`` before the model sees them.
            ``None`` decides from the model: flatten exactly when the designs have more than two
            dimensions and the model's first weighted layer is a ``torch.nn.Linear``.
        differentiable: Whether gradients reach the search point through the model. ``None``
            finds out by probing: a model that cannot take inputs that require grad because it
            converts them to NumPy (torch's "Can't call numpy() on Tensor that requires grad")
            is called on detached inputs and is not differentiable; any other failure is the
            model's own, reported with its exception chained. ``False`` always detaches.
        dtype: Floating dtype of the search; defaults to the model's parameter dtype, else the box's.
        device: Device of the search; defaults to the model's parameter device, else the box's.

    Attributes:
        output_dim: Outputs per design, ``k``.
        differentiable: Whether gradients reach the search point.
        why_not_differentiable: For a model that is not, what the probe saw.
        probe_error: The exception the probe saw on inputs that require grad, or ``None``.

    Raises:
        ModelError: (a ValueError) if the model or decoder fails on, or returns the wrong shape
            for, the probe batch; the model's exception is chained.
        TypeError: for a dtype that does not match the model's parameters or outputs.
    """

    def __init__(
        self,
        model: nn.Module | Callable[[Tensor], Any],
        space: DesignSpace,
        *,
        decoder: nn.Module | Callable[[Tensor], Tensor] | None = None,
        members: bool = False,
        flatten: bool | None = None,
        differentiable: bool | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if not callable(model):
            raise TypeError(f"model must be a torch.nn.Module or a callable, got {type(model).__name__}")
        if decoder is not None and not callable(decoder):
            raise TypeError(f"decoder must be a torch.nn.Module or a callable, got {type(decoder).__name__}")
        self.model = model
        self.decoder = decoder
        self.members = members
        self.dtype, self.device = resolve_dtype_device(space, dtype, device, model, decoder)
        self.space = space.to(dtype=self.dtype, device=self.device)
        for m in (model, decoder):
            if isinstance(m, nn.Module):
                m.eval()
        self._fn: Callable[[Tensor], Any] = cast(Any, model).members_forward if members else model
        self.flatten = False
        self.detach = differentiable is False
        self.why_not_differentiable = "declared with differentiable=False" if self.detach else ""
        self.probe_error: Exception | None = None
        self.output_dim, self.differentiable = self._probe(flatten, differentiable)
        self._check_batch_axis()

    def _check_batch_axis(self) -> None:
        """Call the model once more, on a batch of another size: outputs ``(k, b)`` with ``k`` equal to the
        probe's batch size pass the first probe as ``(b, k)``, and fail here."""
        with torch.no_grad():
            try:
                y = self(self.space.sample(_CHECK_ROWS, seed=1))
            except ModelError as exc:
                raise ModelError(
                    f"{exc} (on {_PROBE_ROWS} designs it returned {_PROBE_ROWS} rows: does it put the outputs first, "
                    "(k, b), instead of the batch, (b, k)?)"
                ) from exc.__cause__
        if y.shape[-1] != self.output_dim:
            raise ModelError(
                f"{self.what} returned {self.output_dim} outputs per design for a batch of {_PROBE_ROWS} and "
                f"{y.shape[-1]} for a batch of {_CHECK_ROWS}: its output shape must not depend on the batch size"
            )

    @property
    def what(self) -> str:
        """What is called: ``"the model"`` or ``"the model's members_forward"``."""
        return "the model's members_forward" if self.members else "the model"

    def decode(self, z: Tensor) -> Tensor:
        """The designs the model sees: ``decoder(z)``, or ``z`` itself without a decoder; ``(b, d) -> (b, ...)``."""
        return z if self.decoder is None else self.decoder(z)

    def __call__(self, z: Tensor) -> Tensor:
        """The model's outputs for search points ``z`` ``(b, d)``: ``(b, k)``, or ``(m, b, k)`` with ``members``.

        Raises:
            ModelError: if the model raises (its exception chained) or returns another shape.
        """
        x = self.decode(z)
        if self.flatten:
            x = x.flatten(1)
        if self.detach:
            x = x.detach()
        try:
            y = self._fn(x)
        except torch.OutOfMemoryError:
            raise
        except Exception as exc:
            raise ModelError(
                f"{self.what} raised {type(exc).__name__} on a batch of {z.shape[0]} designs: {exc}"
            ) from exc
        return self._outputs(y, z.shape[0])

    def _outputs(self, y: Any, b: int) -> Tensor:
        """The raw output ``y`` as ``(b, k)`` (``(m, b, k)`` with ``members``), or a ModelError naming its shape."""
        if isinstance(y, (tuple, list, dict)):
            raise ModelError(
                f"{self.what} returned a {type(y).__name__}; it must return one tensor of outputs, ({b},) or ({b}, k): "
                "wrap it to pick the output to design for"
            )
        if not isinstance(y, Tensor):
            try:
                y = torch.as_tensor(np.asarray(y), dtype=self.dtype, device=self.device)
            except (TypeError, ValueError) as exc:
                raise ModelError(f"{self.what} returned {type(y).__name__}, not a tensor or an array of outputs") from exc
        if self.members:
            if y.ndim in (2, 3) and y.shape[0] >= 1 and y.shape[1] == b:
                return y.unsqueeze(-1) if y.ndim == 2 else y
            raise ModelError(
                f"members_forward returned shape {tuple(y.shape)} for a batch of {b} designs; "
                f"expected (m, {b}, k) or (m, {b}) for an ensemble of m members"
            )
        if y.ndim in (1, 2) and y.shape[0] == b:
            return y.unsqueeze(-1) if y.ndim == 1 else y
        raise ModelError(
            f"{self.what} returned shape {tuple(y.shape)} for a batch of {b} designs; expected ({b},), ({b}, 1) or ({b}, k)"
        )

    def _probe(self, flatten: bool | None, differentiable: bool | None) -> tuple[int, bool]:
        """Run the decoder and the model once on two points of the space; check every shape, dtype and device."""
        z = self.space.sample(_PROBE_ROWS, seed=0).requires_grad_(True)
        with torch.enable_grad():
            # A non-leaf input, as during a search: a model may edit it in place.
            x = self._probe_decoder(z) if self.decoder is not None else z * 1
            self.flatten = _expects_flat(self.model, x) if flatten is None else bool(flatten) and x.ndim > 2
            shape = f"{tuple(x.shape)}, flattened to {(x.shape[0], x[0].numel())}" if self.flatten else f"{tuple(x.shape)}"
            if self.flatten:
                x = x.flatten(1)
            y = self._probe_model(x, differentiable, shape)
            reaches = not self.detach and y.requires_grad and torch.autograd.grad(y.sum(), z, allow_unused=True)[0] is not None
        if not reaches and not self.why_not_differentiable:
            self.why_not_differentiable = "its output does not depend on the input through autograd (detached, or no_grad)"
        if y.dtype != self.dtype:
            raise TypeError(
                f"{self.what} returned {y.dtype} for {self.dtype} input; the search runs in {self.dtype}: "
                f"pass dtype={y.dtype} to the objective, or make the model return its input's dtype"
            )
        if y.device.type != self.device.type:
            raise ModelError(f"{self.what} returned a tensor on {y.device} for input on {self.device}")
        return y.shape[-1], reaches

    def _probe_decoder(self, z: Tensor) -> Tensor:
        b = z.shape[0]
        try:
            x = self.decoder(z)  # type: ignore[misc]
        except Exception as exc:
            raise ModelError(
                f"the decoder failed on latent points of shape {tuple(z.shape)} ({z.dtype}) drawn from the "
                f"latent box of dimension {z.shape[1]}: {type(exc).__name__}: {exc}. Does the latent box "
                "dimension match the decoder's input?"
            ) from exc
        if not isinstance(x, Tensor):
            raise TypeError(f"the decoder must return a torch.Tensor, got {type(x).__name__}")
        if x.ndim < 2 or x.shape[0] != b:
            raise ModelError(f"the decoder returned shape {tuple(x.shape)} for {b} latent points; expected ({b}, ...)")
        if x.dtype != self.dtype:
            raise TypeError(f"the decoder returned {x.dtype} for {self.dtype} latent points; it must keep the search's dtype")
        if x.device.type != self.device.type:
            raise ModelError(f"the decoder returned a tensor on {x.device} for latent points on {self.device}")
        return x

    def _probe_model(self, x: Tensor, differentiable: bool | None, shape: str) -> Tensor:
        """Call the model on the probe designs ``x``; a model that cannot take grad-requiring inputs is detached."""
        source = (
            "decoded from the latent box" if self.decoder is not None
            else "drawn from the box" if isinstance(self.space, Box) else "drawn from the space"
        )
        hint = (
            "Does the decoder's output fit the model's input (pass flatten=True for a model of flat vectors)?"
            if self.decoder is not None
            else "Does the box dimension match the model's input?"
            if isinstance(self.space, Box)
            else f"Does the model take the space's {self.space.dim} encoded columns ({', '.join(self.space.columns)})?"
        )
        width = _input_width(self.model)
        if self.decoder is None and not self.members and width is not None and width != x.shape[-1]:
            what = (
                f"box dimension is {x.shape[-1]}"
                if isinstance(self.space, Box)
                else f"space encodes each design as {x.shape[-1]} columns ({', '.join(self.space.columns)})"
            )
            raise ModelError(f"{self.what} takes {width} inputs (its first layer), but the {what}")
        try:
            return self._outputs(self._fn(x.detach() if self.detach else x), _PROBE_ROWS)
        except ModelError:
            raise
        except Exception as exc:
            first = exc
        if differentiable is None and isinstance(first, RuntimeError) and "requires grad" in str(first):
            y = self._outputs(self._fn(x.detach()), _PROBE_ROWS)
            self.detach, self.probe_error = True, first
            self.why_not_differentiable = (
                f"it converts its input to NumPy ({type(first).__name__}: {first}); it is called on detached inputs"
            )
            return y
        raise ModelError(
            f"{self.what} failed on designs of shape {shape} ({x.dtype}) {source}: "
            f"{type(first).__name__}: {first}. {hint} (A model gradients cannot pass: differentiable=False.)"
        ) from first


def _expects_flat(model: Any, x: Tensor) -> bool:
    """Whether designs ``x`` with more than two dimensions go to ``model`` flattened: its first weighted layer is linear."""
    if x.ndim <= 2 or not isinstance(model, nn.Module):
        return False
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Bilinear)):
            return True
        if isinstance(module, (nn.modules.conv._ConvNd, nn.Embedding)):
            return False
    return False


def _input_width(model: Any) -> int | None:
    """The input width of a module whose first weighted layer is a ``torch.nn.Linear``; else ``None``."""
    if not isinstance(model, nn.Module):
        return None
    for module in model.modules():
        if isinstance(module, (nn.Bilinear, nn.modules.conv._ConvNd, nn.Embedding, nn.modules.lazy.LazyModuleMixin)):
            return None
        if isinstance(module, nn.Linear):
            return module.in_features
    return None


def _first_tensor(module: Any) -> Tensor | None:
    if isinstance(module, nn.Module):
        return next(itertools.chain(module.parameters(), module.buffers()), None)
    return None


def resolve_dtype_device(
    space: DesignSpace, dtype: torch.dtype | None, device: torch.device | str | None, *modules: Any
) -> tuple[torch.dtype, torch.device]:
    """The search's dtype and device: the given ones, else the first module's parameters', else the box's.

    Raises:
        TypeError: for a non-floating dtype, or a module whose parameters have another dtype.
        ValueError: for a module on another device.
    """
    found = [(m, t) for m in modules if (t := _first_tensor(m)) is not None]
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating point torch.dtype, got {dtype}")
    if found:
        _, t = found[0]
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
