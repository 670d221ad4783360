"""What an old module name says now that its module has moved (and nothing else)."""
import sys


def moved(old: str, new: str, run: bool) -> None:
    """``python -m old`` (``run``): print the new command to stderr and exit 2. ``import old``:
    raise ImportError naming the new module. Either way nothing runs under the old name."""
    message = f"{old} moved to {new}: run `python -m {new} ...` (the same options) or import from there"
    if run:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    raise ImportError(message)
