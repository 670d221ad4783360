"""Atomic files and exact-resume checkpoints.

Everything a checkpoint holds is a tensor or a plain Python value, so it loads with
``torch.load(..., weights_only=True)``; the RNG states of torch, NumPy and Python's
``random`` are stored that way too, so a resumed run draws the same numbers an
uninterrupted one would.
"""
from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch


def _atomic_write(path: Path, write) -> None:
    """Call ``write(file_object)`` on a temp file next to ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def atomic_save(obj, path) -> None:
    """``torch.save`` to ``path`` atomically: readers see the old file or the new, never half."""
    _atomic_write(Path(path), lambda f: torch.save(obj, f))


def atomic_write_text(text: str, path) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    _atomic_write(Path(path), lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(obj, path) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    _atomic_write(Path(path), lambda f: f.write(json.dumps(obj, indent=2, sort_keys=True).encode() + b"\n"))


def load_checkpoint(path):
    """Load a checkpoint written by :func:`atomic_save` (``weights_only=True``: no pickled code)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def capture_rng_state() -> dict:
    """torch (CPU, and CUDA if present), NumPy and Python RNG states as tensors and plain values."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    version, python_state, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "python": {"version": version, "state": torch.tensor(python_state, dtype=torch.int64),
                   "gauss_next": gauss_next},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state((numpy_state["kind"], numpy_state["keys"].numpy().astype(np.uint32), numpy_state["position"],
                         numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(int(v) for v in python_state["state"].tolist()),
                     python_state["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
