"""Bounded memory for batched searches: the energy and its gradient of a large batch of restarts,
evaluated in chunks of at most ``max_batch`` rows, one forward and backward pass per chunk.

Every row's energy and gradient depend on that row only, so chunking changes the shapes the model
sees and nothing else. The CPU's matrix kernels give each row the same result whatever the batch
only when the batch is a whole multiple of a few rows (the rows of a ragged tail go through other
kernels), so every batch of `ALIGN` rows or more is padded to a multiple of `ALIGN` (the last
row repeated, `invdesign.engine.run.Run.evaluate`), and chunks are multiples of `ALIGN`: chunked
and unchunked runs give the same designs on the CPU. GPU libraries may choose their kernels by
batch size, so there chunked designs can differ in the last bits.

``max_batch=None`` picks the limit from the device's free memory (`memory_budget`) and the
autograd memory one row costs, measured once on a probe of `ALIGN` rows (the tensors saved for
the backward pass).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from invdesign.engine.run import Run

ALIGN = 8
"""Chunks hold a multiple of this many rows."""
_CPU_SHARE = 0.25
"""Share of the machine's available memory a search may fill on the CPU."""
_CUDA_SHARE = 0.5
"""Share of the GPU's free memory a search may fill."""
_HEADROOM = 8.0
"""The tensors a row saves for the backward pass times this: the forward's temporaries, the
backward's gradients and the allocator's slack (a chunked gd on a 3x256 MLP peaked at about 6x
the saved bytes, `benchmarks/memory.py`)."""


def memory_budget(device: torch.device) -> int:
    """Bytes a batch's forward and backward pass may take on ``device``: half the GPU's free
    memory, or a quarter of the memory the operating system reports available (``MemAvailable``
    of ``/proc/meminfo``: free memory plus the page cache it can drop; free pages elsewhere)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(_CUDA_SHARE * free)
    try:
        with open("/proc/meminfo") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = 8 * 2**30
    return int(_CPU_SHARE * available)


def bytes_per_row(energy: Callable[[Tensor], Tensor], u: Tensor) -> int:
    """Autograd memory of one row: how much the tensors saved for the backward pass of ``energy``
    grow from a probe of `ALIGN` rows of ``u`` ``(n, d)`` to one of twice as many (the model's
    weights, saved once whatever the batch, cancel out), per row, times a headroom factor."""
    probe = u[:1].detach().expand(2 * ALIGN, *u.shape[1:]).clone()
    sizes = [_saved_bytes(energy, probe[:ALIGN]), _saved_bytes(energy, probe)]
    per_row = (sizes[1] - sizes[0]) / ALIGN + probe[0].numel() * probe.element_size()
    return max(1, int(_HEADROOM * per_row))


def _saved_bytes(energy: Callable[[Tensor], Tensor], u: Tensor) -> int:
    """Bytes of the tensors autograd saves for the backward pass of ``energy`` on the points ``u``."""
    u = u.clone().requires_grad_(True)
    saved = 0

    def pack(t: Tensor) -> Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        f = energy(u)
    torch.autograd.grad(f.sum(), u)
    return saved


_PER_ROW: weakref.WeakKeyDictionary[object, dict[tuple, int]] = weakref.WeakKeyDictionary()
"""`bytes_per_row` of each objective, per kind of search coordinates, row shape, dtype and
device, measured at its first run: the chunk size never changes the designs on the CPU, so a
figure gone stale (an objective whose model was swapped) costs memory accuracy, not results."""


def batch_limit(run: Run, u: Tensor, max_batch: int | None) -> int:
    """The most rows evaluated in one pass: ``max_batch`` rounded down to a multiple of `ALIGN`
    (at least `ALIGN`), or, for ``None``, what the memory budget holds (the memory of a row probed
    once per objective, without counting the probe's evaluations)."""
    if max_batch is not None:
        return max(ALIGN, max_batch // ALIGN * ALIGN)
    if u.shape[0] <= ALIGN:
        return ALIGN
    known = _PER_ROW.setdefault(run.objective, {})
    key = (type(run.view).__name__, tuple(u.shape[1:]), u.dtype, u.device, run.which is None)
    if key not in known:
        known[key] = bytes_per_row(lambda p: run.objective(run.view.to_design(p)) if run.which is None else run.objective.rows(
            run.view.to_design(p), run.which[:1].expand(p.shape[0])
        ), u)
    return max(ALIGN, memory_budget(u.device) // known[key] // ALIGN * ALIGN)


def _chunks(u: Tensor, rows: Tensor | None, limit: int) -> Iterator[tuple[Tensor, Tensor | None]]:
    """``u`` ``(b, d)`` and its ``rows`` in chunks of at most ``limit`` rows."""
    for start in range(0, u.shape[0], limit):
        yield u[start : start + limit], None if rows is None else rows[start : start + limit]


def _align(u: Tensor) -> int:
    """The multiple of rows a batch of ``u`` is padded to: `ALIGN`, or none for fewer rows."""
    return ALIGN if u.shape[0] >= ALIGN else 1


def energies(run: Run, u: Tensor, limit: int) -> Tensor:
    """Energies ``(b,)`` of all the search points ``u`` ``(b, d)`` of a run (every restart row, in
    order), without gradients, in chunks of at most ``limit`` rows, padded like `energy_and_grad`."""
    rows = None if run.which is None else torch.arange(u.shape[0], device=u.device)
    with torch.no_grad():
        parts = [run.energy(part, part_rows, align=_align(u)) for part, part_rows in _chunks(u, rows, limit)]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def energy_and_grad(
    run: Run,
    u: Tensor,
    rows: Tensor | None,
    limit: int,
    *,
    transform: Callable[[Tensor], Tensor] | None = None,
    extra: Callable[[Tensor], Tensor] | None = None,
) -> tuple[Tensor, Tensor]:
    """Energies ``(b,)`` of search points ``u`` ``(b, d)`` and the gradient of their sum with respect
    to ``u`` ``(b, d)``, in chunks of at most ``limit`` rows.

    Args:
        run: The run (counts the evaluations).
        u: Search points; only their values are read.
        rows: Which restart rows ``u`` holds, for a batch of targets (`Run.energy`); else ``None``.
        limit: Rows per chunk (`batch_limit`).
        transform: Maps the points before they are evaluated (lbfgs's projection onto simplex
            blocks); the gradient is taken through it.
        extra: A further per-row loss of the points ``(b, d) -> (b,)``, added to the gradient
            but not to the returned energies (gd's boundary loss).
    """
    energies, grads = [], []
    align = _align(u)
    for values, part_rows in _chunks(u, rows, limit):
        part = values.detach().requires_grad_(True)
        f = run.energy(part if transform is None else transform(part), part_rows, align=align)
        loss = f.sum() if extra is None else f.sum() + extra(part).sum()
        (g,) = torch.autograd.grad(loss, part)
        energies.append(f.detach())
        grads.append(g)
    if len(energies) == 1:
        return energies[0], grads[0]
    return torch.cat(energies), torch.cat(grads)
