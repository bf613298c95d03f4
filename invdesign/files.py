"""invdesign's files: safetensors tensors with a JSON description in the metadata, never pickle."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor


def write(path: str | os.PathLike[str], tensors: dict[str, Tensor], key: str, description: dict[str, Any]) -> None:
    """Write ``tensors`` and a JSON ``description`` (under metadata ``key``) to ``path``, atomically.

    The file is written beside ``path`` (under a name of this process's own, so two processes
    writing one path do not write into each other's file) and moved into place, so a crash
    mid-write leaves the previous file intact.
    """
    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    tensors = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    save_file(tensors, tmp, metadata={key: json.dumps(description)})
    # safetensors writes 0600; a saved model, checkpoint or cache gets the mode of any other new file (the umask's).
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (beside it, flushed to disk, then moved into place)."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def cache_dir() -> Path:
    """The folder for what the toolkit trains once and keeps (pretrained decoders): ``$INVDESIGN_CACHE``,
    else ``$XDG_CACHE_HOME/invdesign``, else ``~/.cache/invdesign``; created if missing."""
    root = os.environ.get("INVDESIGN_CACHE")
    if root:
        path = Path(root)
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "invdesign"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read(path: str | os.PathLike[str], key: str, what: str) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The JSON description under metadata ``key`` and every tensor of a file written by `write`.

    Args:
        path: The file.
        key: The metadata key the description was written under.
        what: What the file should hold, for error messages (e.g. ``"invdesign model"``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if it is not a safetensors file, or has no ``key`` metadata.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    try:
        handle = safe_open(path, framework="pt")
    except SafetensorError as err:
        raise ValueError(f"{path} is not a safetensors file: {err}") from err
    with handle:
        metadata = handle.metadata() or {}
        if key not in metadata:
            raise ValueError(f"{path} is a safetensors file but not an {what} (no {key!r} metadata)")
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    try:
        description = json.loads(metadata[key])
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: its {key!r} metadata is not JSON ({err})") from err
    if not isinstance(description, dict):
        raise ValueError(f"{path}: its {key!r} metadata is not a JSON object")
    return description, tensors
