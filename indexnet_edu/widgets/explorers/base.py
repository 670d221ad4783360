"""What the three explorers share: controls checked whenever they are set, all-or-nothing
redraws, cached images, the zoom levels and the error colour scale."""
from __future__ import annotations

from functools import lru_cache
from numbers import Integral

import torch

from ..._checks import check_choice, check_positive_int
from ...data.images import load_image
from ..pooling import STRIDES

ZOOMS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
ERROR_VMAX = 0.5


@lru_cache(maxsize=32)
def cached_image(name: str, size: int, gray: bool = False) -> torch.Tensor:
    """:func:`indexnet_edu.data.images.load_image`, loaded once per (name, size, gray)."""
    return load_image(name, size, gray=gray)


class _Explorer:
    """Shared control handling: ``draw(**changes)`` validates, stores, redraws.

    A control is checked whenever it is set — by ``draw``, the constructor, or a plain
    ``explorer.temperature = ...`` — so a refused value is never stored. ``size`` is fixed
    once the explorer is made (the positions, paintings and caches depend on it).
    """

    controls: tuple[str, ...] = ()

    def __init__(self, size: int = 256):
        size = check_positive_int(size, "size")
        if size % 4:
            raise ValueError(f"size must be divisible by 4 (stride 4 must tile it), got {size}")
        self.size = size

    def __setattr__(self, name, value):
        if name in type(self).controls:
            value = self._checked(name, value)
        elif name == "size" and "size" in self.__dict__:
            raise AttributeError(f"size is fixed at {self.size} when the explorer is made; make a new explorer "
                                 "for another size")
        super().__setattr__(name, value)

    def draw(self, **changes) -> dict[str, bytes]:
        """Apply ``changes`` (control name → value) and return the pictures. All or nothing: a
        value that is refused (by its check, or by the maths it feeds) leaves every control as
        it was, so the explorer keeps drawing its last good state."""
        unknown = set(changes) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; expected some of {list(self.controls)}")
        previous = {name: getattr(self, name) for name in changes}
        try:
            for name, value in changes.items():
                setattr(self, name, self._checked(name, value))
            # Torch's own thread count (both cores of a laptop): measured on the 2-core VM, a move of
            # the upsampling explorer's image takes 70 ms with 2 threads and 94 ms with one.
            return self._pictures()
        except Exception:
            for name, value in previous.items():
                setattr(self, name, value)
            raise

    def _checked(self, name, value):
        return value

    def _pictures(self) -> dict[str, bytes]:
        raise NotImplementedError

    def _checked_position(self, name, value) -> int:
        """A pixel row or column: an int in [0, size) (NumPy ints too; never a float, whose
        fraction would be dropped silently, nor a bool)."""
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be an int pixel position in [0, {self.size - 1}], "
                            f"got {type(value).__name__} {value!r}")
        if not 0 <= value < self.size:
            raise ValueError(f"{name} must lie in [0, {self.size - 1}], got {value}")
        return int(value)


def _per_stride(value, name: str, callable_values: bool = True) -> dict:
    """A ``{stride: module}`` argument, checked when the explorer is made (not at the first draw
    that needs it): strides among :data:`STRIDES`, modules callable."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict {{stride: module}}, got {type(value).__name__}")
    for stride, module in value.items():
        check_choice(stride, f"a stride of {name}", STRIDES)
        if callable_values and not callable(module):
            raise TypeError(f"{name}[{stride}] must be a callable module, got {type(module).__name__}")
    return dict(value)
