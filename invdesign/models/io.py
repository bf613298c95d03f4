"""Saving and loading models (surrogates, VAEs, sequence VAEs, GANs) as safetensors files, with no pickle involved.

The file holds the state dict as tensors and, in its metadata under the key ``"invdesign"``, a JSON
description of the model (class name, constructor config, members for an ensemble, dtype) from which
:func:`load` rebuilds it.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from invdesign import files
from invdesign.models.ensemble import Ensemble
from invdesign.models.gan import GAN
from invdesign.models.mlp import MLP
from invdesign.models.sequence_vae import SequenceVAE
from invdesign.models.vae import VAE

_METADATA_KEY = "invdesign"
_FORMAT_VERSION = 1
# Models rebuilt as ``cls(**config)``.
_CONFIGURED: dict[str, type[MLP | VAE | SequenceVAE | GAN]] = {"MLP": MLP, "VAE": VAE, "SequenceVAE": SequenceVAE, "GAN": GAN}


def save(model: MLP | Ensemble | VAE | SequenceVAE | GAN, path: str | os.PathLike[str]) -> None:
    """Write ``model`` (an ``MLP``, a ``VAE``, a ``SequenceVAE`` with its vocabulary, a ``GAN``, or an
    ``Ensemble`` of ``MLP``s or ensembles) to ``path``.

    Args:
        model: The model; its weights, buffers and config are stored (for a ``GAN``, the
            discriminator too, so training can resume).
        path: Destination file (conventionally ``*.safetensors``); overwritten if it exists.

    Raises:
        TypeError: if the model (or a member) is not an ``MLP``, ``VAE``, ``SequenceVAE``, ``GAN`` or ``Ensemble``.
    """
    description = {
        "format_version": _FORMAT_VERSION,
        "model": _describe(model),
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
    }
    files.write(path, model.state_dict(), _METADATA_KEY, description)


def load(path: str | os.PathLike[str], *, device: torch.device | str | None = None) -> nn.Module:
    """Rebuild a model written by :func:`save`; it gives bit-identical outputs to the saved one.

    Args:
        path: A file written by :func:`save`.
        device: Where to put the model (default CPU).

    Returns:
        The ``MLP``, ``VAE``, ``SequenceVAE``, ``GAN`` or ``Ensemble``, in eval mode, in the saved dtype.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a safetensors file written by :func:`save`, or its weights do
            not fit the architecture its metadata describes.
    """
    description, tensors = files.read(path, _METADATA_KEY, "invdesign model")
    if description.get("format_version") != _FORMAT_VERSION:
        raise ValueError(
            f"{os.fspath(path)} has invdesign format version {description.get('format_version')!r}; "
            f"this version reads {_FORMAT_VERSION}"
        )
    dtype = getattr(torch, str(description.get("dtype")), None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"{path} names an unknown dtype {description.get('dtype')!r}")
    try:
        model = _build(description.get("model")).to(dtype=dtype)
        model.load_state_dict(tensors)
    except (KeyError, TypeError, RuntimeError) as error:
        raise ValueError(
            f"{os.fspath(path)}: its weights do not fit the model it describes ({' '.join(str(error).split())[:300]}); "
            "the file was edited or not written by invdesign.models.save"
        ) from error
    return model.to(device=device).eval()


def _describe(model: nn.Module) -> dict[str, Any]:
    if isinstance(model, Ensemble):
        return {"class": "Ensemble", "members": [_describe(m) for m in model.members]}
    for name, cls in _CONFIGURED.items():
        if isinstance(model, cls):
            return {"class": name, "config": model.config}
    raise TypeError(f"save supports MLP, VAE, SequenceVAE, GAN and Ensemble models, got {type(model).__name__}")


def _build(description: Any) -> nn.Module:
    if description["class"] in _CONFIGURED:
        return _CONFIGURED[description["class"]](**description["config"])
    if description["class"] == "Ensemble":
        return Ensemble([_build(m) for m in description["members"]])
    raise ValueError(f"unknown model class {description['class']!r} in invdesign file")
