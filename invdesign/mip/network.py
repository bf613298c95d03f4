"""A torch model read as a piecewise-linear network: affine maps, each followed by a (leaky) ReLU.

`read_network` walks the modules a model applies and folds every affine step between two
activations into one matrix: an `invdesign.models.MLP`'s input and output standardisation, linear
layers, batch normalisation in eval mode (its running statistics and affine weights) and the
identities (``Identity``, ``Flatten`` of a batch of vectors, ``Dropout`` in eval mode). A
``LeakyReLU`` of slope ``a`` is ``a * x + (1 - a) * relu(x)``, so every activation is a ReLU with a
per-neuron slope on the negative side.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from torch import nn

from invdesign.models.ensemble import Ensemble
from invdesign.models.mlp import MLP

SUPPORTED = (
    "torch.nn.Sequential stacks of Linear, ReLU, LeakyReLU (slope >= 0), Identity, Flatten, Dropout and BatchNorm1d "
    "(eval mode), invdesign.models.MLP with activation='relu', and invdesign.models.Ensemble of these"
)
"""What `read_network` reads, for error messages."""


class UnsupportedModel(TypeError):
    """The model is not a piecewise-linear torch network `read_network` can read; the message names what is."""


@dataclass(frozen=True)
class Layer:
    """One step of a piecewise-linear network: ``post = act(weight @ pre + bias)``.

    Attributes:
        weight: Shape ``(n_out, n_in)``, float64.
        bias: Shape ``(n_out,)``, float64.
        slope: The activation's slope for negative inputs per neuron, ``(n_out,)`` (0 for a ReLU,
            ``a`` for a ``LeakyReLU(a)``); ``None`` for the output layer, which has no activation.
    """

    weight: np.ndarray
    bias: np.ndarray
    slope: np.ndarray | None

    def __call__(self, h: np.ndarray) -> np.ndarray:
        """The layer on inputs ``h`` ``(b, n_in)``: ``(b, n_out)``."""
        pre = h @ self.weight.T + self.bias
        if self.slope is None:
            return pre
        return np.where(pre >= 0, pre, self.slope * pre)


Network = list[Layer]
"""Layers, input side first; the last has no activation."""


def read_network(model: nn.Module, in_dim: int) -> Network:
    """The layers of ``model`` on inputs of width ``in_dim``.

    Raises:
        UnsupportedModel: (a TypeError) for any module outside `SUPPORTED`, naming it and where it sits.
    """
    if not isinstance(model, nn.Module):
        raise UnsupportedModel(f"the model is a {type(model).__name__}, not a torch.nn.Module; milp reads {SUPPORTED}")
    layers: Network = []
    weight, bias = np.eye(in_dim), np.zeros(in_dim)
    for step in _steps(model, "model"):
        if isinstance(step, float):
            layers.append(Layer(weight, bias, np.full(weight.shape[0], step)))
            weight, bias = np.eye(weight.shape[0]), np.zeros(weight.shape[0])
            continue
        w, b, where = step
        if w.shape[1] != weight.shape[0]:
            raise UnsupportedModel(f"{where} takes {w.shape[1]} inputs but receives {weight.shape[0]}")
        weight, bias = w @ weight, w @ bias + b
    layers.append(Layer(weight, bias, None))
    return layers


def ensemble_networks(model: nn.Module, in_dim: int) -> list[Network]:
    """One network per member of an `invdesign.models.Ensemble`, or the model's own as the only one."""
    if isinstance(model, Ensemble):
        return [read_network(member, in_dim) for member in model.members]
    return [read_network(model, in_dim)]


Step = tuple[np.ndarray, np.ndarray, str] | float
"""An affine map ``(weight, bias, where)``, or an activation's negative slope."""


def _steps(module: nn.Module, where: str) -> Iterator[Step]:
    """The affine maps and activations ``module`` applies, in order."""
    if isinstance(module, MLP):
        yield np.diag(1.0 / _np(module.x_std)), -_np(module.x_mean) / _np(module.x_std), f"{where} (input scaling)"
        yield from _steps(module.net, f"{where}.net")
        yield np.diag(_np(module.y_std)), _np(module.y_mean), f"{where} (output scaling)"
    elif type(module) is nn.Sequential or (isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward):
        for name, child in module.named_children():
            yield from _steps(child, f"{where}.{name}")
    elif isinstance(module, nn.Linear):
        weight = _np(module.weight)
        yield weight, np.zeros(weight.shape[0]) if module.bias is None else _np(module.bias), where
    elif type(module) is nn.ReLU:
        yield 0.0
    elif type(module) is nn.LeakyReLU:
        if module.negative_slope < 0:
            raise UnsupportedModel(f"{where} is a LeakyReLU of negative slope {module.negative_slope}; milp reads slopes >= 0")
        yield float(module.negative_slope)
    elif type(module) in (nn.Identity, nn.Flatten) or (type(module) is nn.Dropout and not module.training):
        return
    elif type(module) is nn.BatchNorm1d and not module.training and module.running_mean is not None:
        assert module.running_var is not None
        scale = 1.0 / np.sqrt(_np(module.running_var) + module.eps)
        shift = -_np(module.running_mean) * scale
        if module.affine:
            scale, shift = scale * _np(module.weight), shift * _np(module.weight) + _np(module.bias)
        yield np.diag(scale), shift, where
    else:
        state = " in training mode" if module.training and isinstance(module, (nn.Dropout, nn.BatchNorm1d)) else ""
        raise UnsupportedModel(
            f"method 'milp' cannot encode {where}, a {type(module).__name__}{state}: it reads {SUPPORTED}"
        )


def _np(tensor: object) -> np.ndarray:
    """A parameter or buffer as a float64 array."""
    return np.asarray(tensor.detach().cpu().double().numpy())  # type: ignore[attr-defined]
