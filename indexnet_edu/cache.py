"""A private, per-user cache folder (the lessons' training runs live there).

Default ``$XDG_CACHE_HOME/indexnet_edu`` (``~/.cache/indexnet_edu`` without it); the
``INDEXNET_EDU_CACHE`` environment variable overrides the whole path. Every folder from that
root down is created with mode 0700 and checked each time it is used: a folder that is a
symbolic link, belongs to another user, or can be written by group or others is refused,
so on a shared machine (a JupyterHub, say) nobody else can plant results a lesson would
print as its own, redirect its writes, or lock it out.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

CACHE_ENV = "INDEXNET_EDU_CACHE"


class UnsafeCacheError(PermissionError):
    """A cache folder another user could tamper with (a symlink, theirs, or writable by others)."""


def cache_root() -> Path:
    """The cache root (not created): ``$INDEXNET_EDU_CACHE``, else ``$XDG_CACHE_HOME/indexnet_edu``,
    else ``~/.cache/indexnet_edu``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "indexnet_edu"


def ensure_private_dir(path) -> Path:
    """Create ``path`` with mode 0700 if missing (its parents the usual way), then check it.

    Raises:
        UnsafeCacheError: ``path`` is a symlink or not a folder, is owned by another user, or
            is group/world-writable; the message says how to fix it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    cure = f"remove it or set {CACHE_ENV} to a private folder of yours"
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeCacheError(f"the cache folder {path} is a symbolic link; {cure}")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeCacheError(f"the cache path {path} is not a folder; {cure}")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise UnsafeCacheError(f"the cache folder {path} belongs to another user (uid {info.st_uid}); {cure}")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeCacheError(f"the cache folder {path} is writable by other users (mode "
                               f"{stat.S_IMODE(info.st_mode):04o}); run `chmod 700 {path}` or {cure}")
    return path


def user_cache_dir(*parts: str) -> Path:
    """``cache_root()/parts...``, every level created private (0700) and checked."""
    path = ensure_private_dir(cache_root())
    for part in parts:
        path = ensure_private_dir(path / part)
    return path


def display_path(path) -> str:
    """``path`` as a reader should see it in a lesson's output: the home folder written ``~``
    (``/root/.cache/indexnet_edu/...`` → ``~/.cache/indexnet_edu/...``); other paths unchanged."""
    path = Path(path)
    try:
        return str(Path("~") / path.resolve().relative_to(Path.home().resolve()))
    except (ValueError, RuntimeError, OSError):  # outside the home folder, or no home at all
        return str(path)
