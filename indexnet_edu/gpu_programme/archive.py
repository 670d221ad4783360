"""Pack the programme's results into one archive, atomically, with a small summary beside it.

Only a few files come back from the GPU machine, so everything worth keeping — the checks,
the bench, every job's result, the sweep summaries, the provenance and the log — goes into
``OUT/gpu_programme.tar.gz`` (paths under ``gpu_programme/``), and ``OUT/summary.json`` says
at a glance what happened. Both are written to a temporary file and renamed into place, so a
run killed mid-pack leaves the previous complete archive, never half of one. Checkpoints and
the data cache stay behind in the work folder.
"""
from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from pathlib import Path

from ..checkpoint import atomic_write_json, current_umask

ARCHIVE_NAME = "gpu_programme.tar.gz"
SUMMARY_NAME = "summary.json"
PREFIX = "gpu_programme"
#: What is packed from the work folder (glob patterns, relative to it).
PATTERNS = ("*.json", "log.txt", "sweep/*/summary.md", "sweep/*/*/*/seed*.json")


def files_to_pack(work) -> list[Path]:
    """The work folder's files that go into the archive, sorted (paths relative to ``work``)."""
    work = Path(work)
    found = {path.relative_to(work) for pattern in PATTERNS for path in work.glob(pattern) if path.is_file()}
    return sorted(found)


def write_archive(work, out) -> tuple[Path, str, int]:
    """Write ``out/gpu_programme.tar.gz`` atomically; returns (path, sha256, number of files)."""
    out, work = Path(out), Path(work)
    target = out / ARCHIVE_NAME
    members = files_to_pack(work)
    handle = tempfile.NamedTemporaryFile(dir=out, prefix=f".{ARCHIVE_NAME}.", suffix=".tmp", delete=False)
    try:
        with handle:
            with tarfile.open(fileobj=handle, mode="w:gz") as archive:
                for member in members:
                    archive.add(work / member, arcname=f"{PREFIX}/{member.as_posix()}", recursive=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o666 & ~current_umask())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return target, hashlib.sha256(target.read_bytes()).hexdigest(), len(members)


def write_summary(summary: dict, out) -> Path:
    """``out/summary.json``, atomically."""
    target = Path(out) / SUMMARY_NAME
    atomic_write_json(summary, target)
    return target


def read_archive(path) -> dict[str, bytes]:
    """``{name inside the archive: bytes}`` (for tests and for reading results back)."""
    with tarfile.open(path, "r:gz") as archive:
        return {member.name: archive.extractfile(member).read() for member in archive.getmembers() if member.isfile()}
