"""Progress bars: tqdm's when it is installed, else a silent stand-in with the same calls.

tqdm is a declared dependency, but the package's training, sweep and benchmark paths must also
run where it is missing (a bare GPU machine with only torch and the scientific stack, which
imports the package from a checkout): there a bar simply shows nothing.
"""
from __future__ import annotations

try:
    from tqdm.auto import tqdm
except ImportError:  # tqdm not installed: every bar is silent
    class tqdm:  # noqa: N801  (named as the class it stands in for)
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

__all__ = ["tqdm"]
