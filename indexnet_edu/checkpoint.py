"""Atomic files and exact-resume checkpoints.

Everything a checkpoint holds is a tensor or a plain Python value, so it loads with
``torch.load(..., weights_only=True)``; the RNG states of torch, NumPy and Python's
``random`` are stored that way too, so a resumed run draws the same numbers an
uninterrupted one would.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch


class CheckpointError(ValueError):
    """A checkpoint that cannot be read (truncated, corrupt, not a checkpoint)."""


class OutputDirError(ValueError):
    """An output folder that cannot be used (a file in the way, not writable, no name)."""


class RunLockedError(RuntimeError):
    """Another process is writing into the same run or results folder."""


#: The command-line tools' exit status for :class:`RunLockedError` (sysexits' EX_TEMPFAIL: try later).
LOCKED_EXIT_CODE = 75


def output_dir_argument(text: str) -> Path:
    """argparse ``type=`` for an output folder: an empty or blank name is refused, instead of
    becoming ``Path("")`` — the current folder."""
    import argparse

    if not str(text).strip():
        raise argparse.ArgumentTypeError(f"must name a folder, got {text!r}")
    return Path(text)


@contextlib.contextmanager
def exclusive_run_lock(directory, owner: str):
    """Hold an exclusive lock on ``directory`` for the ``with`` block (``owner`` names the kind of
    run, e.g. "train", for the message), so two processes never write one run folder.

    The lock is the operating system's ``flock`` on the folder itself: nothing is written into
    it, and the lock goes when the block ends or the process dies, so a killed run never leaves
    the folder locked. (Where ``fcntl`` does not exist, Windows, there is no lock.)

    Raises:
        OutputDirError: the folder cannot be created or written (:func:`prepare_output_dir`).
        RunLockedError: another process holds the lock; the message names the folder (and the
            holder's process id where the OS tells it).
    """
    directory = prepare_output_dir(directory)
    try:
        import fcntl
    except ImportError:
        yield directory
        return
    handle = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock_holder(directory)
            by = f"another {owner} run" + (f" (process {holder})" if holder is not None else "")
            raise RunLockedError(f"{directory} is in use by {by}; wait for it to finish, "
                                 "or choose another --out") from None
        yield directory
    finally:
        os.close(handle)  # releases the lock


def lock_holder(directory) -> int | None:
    """The id of the process holding a ``flock`` on ``directory``, where the OS says (Linux:
    ``/proc/locks``); None when nobody holds one or it cannot be told."""
    try:
        status = os.stat(directory)
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    device = (os.major(status.st_dev), os.minor(status.st_dev))
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:2170951 0 EOF"; waiting requests carry "->" and are skipped
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        try:
            major, minor, inode = fields[5].split(":")
            if int(inode) == status.st_ino and (int(major, 16), int(minor, 16)) == device:
                pid = int(fields[4])
                return pid if pid > 0 else None
        except ValueError:
            continue
    return None


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic read-by-setting, restored at once
    os.umask(mask)
    return mask


def stale_temporaries(path) -> list[Path]:
    """Temp files ``.NAME.*.tmp`` beside ``path`` left by saves that were killed mid-write."""
    path = Path(path)
    return sorted(path.parent.glob(f".{path.name}.*.tmp")) if path.parent.is_dir() else []


def remove_stale_temporaries(path) -> list[Path]:
    """Delete :func:`stale_temporaries` of ``path`` (call it when no save of ``path`` is running)."""
    removed = stale_temporaries(path)
    for stale in removed:
        stale.unlink(missing_ok=True)
    return removed


def prepare_output_dir(directory) -> Path:
    """Create ``directory`` (and parents) and prove it writable with a probe file, before any work.

    Raises:
        OutputDirError: a file is in the way, or the folder cannot be created or written.
    """
    if not str(directory).strip():
        raise OutputDirError(f"the output folder must be named, got {str(directory)!r}")
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputDirError(f"{directory} exists and is not a directory; choose another output folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory, prefix=".write-probe."):
            pass
    except OSError as error:
        raise OutputDirError(f"cannot write to {directory} ({error.strerror or error}); "
                             "choose a writable output folder") from error
    return directory


def _atomic_write(path: Path, write) -> None:
    """Call ``write(file_object)`` on a temp file next to ``path``, then rename it into place.

    The file gets the permissions a plain ``open()`` would give (0o666 minus the umask), not
    the temp file's private 0o600. A failing write (a full disk, say) removes the temp file
    and raises an ``OSError`` naming ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            try:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            except (OSError, RuntimeError) as error:  # torch.save reports a full disk as RuntimeError
                raise OSError(f"could not write {path}: {str(error).splitlines()[0] if str(error) else error!r} "
                              "(is the disk full?); free space or choose another output folder") from error
        os.chmod(handle.name, 0o666 & ~current_umask())
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


def load_checkpoint(path, required=()):
    """Load a checkpoint written by :func:`atomic_save` (``weights_only=True``: no pickled code).

    Raises:
        CheckpointError: the file is truncated, corrupt, not a checkpoint dict, or lacks one
            of the ``required`` keys — the message names the file and the cure.
    """
    cure = "delete it to start that run over, or use a fresh output folder"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # EOFError, zip errors (RuntimeError), UnpicklingError, ...
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"the checkpoint {path} is corrupt or truncated ({first_line}); {cure}") from error
    missing = [key for key in required if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(f"the checkpoint {path} is not a complete checkpoint (missing {missing}); {cure}")
    return state


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
