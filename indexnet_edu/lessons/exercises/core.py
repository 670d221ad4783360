"""The contract every exercise check follows (the shared machinery of the lessons' exercises).

A check ``check_…(your_function)`` calls your function on a few cases, compares it with the
package's own answer, and

* returns ``True`` (and prints "all cases passed") when every case agrees;
* raises ``AssertionError`` naming the case, what was expected, what came, and a hint;
* returns ``False`` after printing "not attempted yet" while your function is still a stub:
  it raises ``NotImplementedError``, or its body is only ``...``/``pass`` (it returns
  ``None`` or ``Ellipsis``) — so a lesson with untouched exercises still runs top to bottom.

Numbers in the messages are printed with ``repr`` (every significant digit), so a difference
the check objects to is always visible.
"""
from __future__ import annotations

import math
from typing import Callable

import torch


class NotAttempted(Exception):
    """Raised inside a check when the learner's function is still a stub."""


def show(value) -> str:
    """A number as the check compares it: ``repr`` of the float, every significant digit."""
    return repr(float(value))


def _call(your_function: Callable, *args, case: str):
    """Call the learner's function; a stub becomes :class:`NotAttempted`, a crash a readable
    AssertionError naming the case."""
    if not callable(your_function):
        raise TypeError(f"pass your function itself (without calling it), got {type(your_function).__name__}")
    try:
        result = your_function(*args)
    except NotImplementedError as stub:
        raise NotAttempted from stub
    except Exception as error:  # the learner's bug, reported with the inputs that caused it
        raise AssertionError(f"{case}: your function raised {type(error).__name__}: {error}") from error
    if result is None or result is Ellipsis:  # a body of `...` or `pass`, or a missing `return`
        raise NotAttempted
    return result


def _compare_tensors(got, expected: torch.Tensor, case: str, hint: str, atol: float = 1e-9) -> None:
    """Assert ``got`` is a tensor with ``expected``'s shape and values (within ``atol``)."""
    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"{case}: expected a torch.Tensor of shape {tuple(expected.shape)}, "
                             f"got {type(got).__name__}. Hint: {hint}")
    if got.shape != expected.shape:
        raise AssertionError(f"{case}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}. "
                             f"Hint: {hint}")
    got = got.detach().to(expected.dtype)
    error = (got - expected).abs()
    if not torch.isfinite(got).all() or error.max() > atol:
        where = tuple(int(i) for i in torch.unravel_index(torch.nan_to_num(error, nan=math.inf).argmax(),
                                                          error.shape))
        raise AssertionError(
            f"{case}: values differ (max |error| = {float(error.max()):.3g}, tolerance {atol:g}). "
            f"At position {where} expected {show(expected[where])}, got {show(got[where])}. "
            f"Hint: {hint}")


def _run_check(name: str, cases: Callable[[], None]) -> bool:
    """Run a check body; a stub gives a reminder and False, success prints a line and True."""
    try:
        cases()
    except NotAttempted:
        print(f"{name}: not attempted yet — replace `raise NotImplementedError` with your code, "
              "then run this cell again.")
        return False
    print(f"{name}: all cases passed.")
    return True


def _random(shape, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


_POOL_CASES = [((1, 1, 4, 4), 2), ((2, 3, 6, 8), 2), ((1, 2, 8, 12), 4), ((3, 1, 9, 6), 3)]
