"""Progress bars: tqdm's when it is installed, else a silent stand-in with the same calls.

``INDEXNET_EDU_PROGRESS=0`` silences every bar of the package (the book sets it while it
executes the lessons: a progress widget is noise in a static page).

tqdm is a declared dependency, but the package's training, sweep and benchmark paths must also
run where it is missing (a bare GPU machine with only torch and the scientific stack, which
imports the package from a checkout): there a bar simply shows nothing.
"""
from __future__ import annotations

import os

#: Set to "0" to silence the package's progress bars.
PROGRESS_ENV = "INDEXNET_EDU_PROGRESS"

try:
    from tqdm.auto import tqdm as _bar
except ImportError:  # tqdm not installed: every bar is silent
    class _bar:  # noqa: N801  (stands in for tqdm's class)
        """The calls the package makes on a tqdm bar, doing nothing."""

        def __init__(self, iterable=None, *args, **kwargs):
            self.iterable = iterable

        def __iter__(self):
            return iter(self.iterable if self.iterable is not None else ())

        def update(self, n=1):
            pass

        def set_postfix(self, *args, **kwargs):
            pass

        def set_postfix_str(self, *args, **kwargs):
            pass

        def close(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False



def tqdm(*args, **kwargs):
    """A tqdm bar (same arguments), silent when ``$INDEXNET_EDU_PROGRESS`` is "0"."""
    if os.environ.get(PROGRESS_ENV, "").strip() == "0":
        kwargs["disable"] = True
    return _bar(*args, **kwargs)


__all__ = ["PROGRESS_ENV", "tqdm"]
