"""Your own upsampler inside the suite: the contract it must meet, and the adapter that makes it a stage.

A learner's upsampler is a class (or any callable) ``factory(channels, stride)`` that returns an
``nn.Module`` whose ``forward`` takes the decoder's low-resolution feature ``y`` (B×C×h×w) and,
optionally, the encoder's feature ``x`` at the target resolution (B×C×s·h×s·w, what FADE, SAPA
and IndexNet read) and returns B×C×s·h×s·w:

>>> class Bilinear(nn.Module):
...     def __init__(self, channels, stride):
...         super().__init__(); self.stride = stride
...     def forward(self, y):
...         return F.interpolate(y, scale_factor=self.stride, mode="bilinear", align_corners=False)
>>> check_upsampler(Bilinear)            # raises UpsamplerContractError naming what is wrong
>>> stage = as_resampler(Bilinear)(16, 2)  # a Resampler: max-pool down, your module up

A :class:`~indexnet_edu.upsamplers.resamplers.Resampler` subclass (its own ``down`` and ``up``) is taken
as it is. :func:`check_upsampler` is what :func:`~indexnet_edu.experiments.compare.compare_upsampler` runs
before any training.
"""
from __future__ import annotations

import hashlib
import inspect

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_positive_int
from .resamplers import Resampler

#: The feature sizes the contract tries: a non-square map, so swapped height and width show.
PROBE_LOW_RES = (6, 10)


class UpsamplerContractError(ValueError):
    """A module that does not meet the registry's upsampler contract; the message says what was
    expected and what came."""


def _decoder_only(module: nn.Module) -> bool:
    """True when ``module.forward`` takes only ``y``; False when it takes ``(y, x)``."""
    try:
        parameters = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        raise UpsamplerContractError(f"{type(module).__name__}.forward takes *args: name its inputs, "
                                     "forward(self, y) or forward(self, y, x), so the suite knows which to pass")
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if not 1 <= len(required) <= 2:
        raise UpsamplerContractError(f"{type(module).__name__}.forward must take y (B×C×h×w) or (y, x), "
                                     f"got {len(required)} required inputs: {[p.name for p in required]}")
    return len(positional) == 1  # forward(y, x=None) is offered x too


class CustomResampler(Resampler):
    """A learner's upsampling module as one encoder–decoder stage: max pooling down, the module
    up — ``module(y)``, or ``module(y, x)`` with the encoder feature x the pooling saw."""

    def __init__(self, module: nn.Module, channels: int, stride: int = 2):
        super().__init__(channels, stride)
        self.module = module
        self.reads_encoder = not _decoder_only(module)

    def down(self, x: torch.Tensor):
        self._check_down(x)
        return F.max_pool2d(x, self.stride), (x if self.reads_encoder else None)

    def _upsample(self, y, state):
        return self.module(y, state) if self.reads_encoder else self.module(y)


def _build_module(factory, channels: int, stride: int) -> nn.Module:
    name = getattr(factory, "__name__", type(factory).__name__)
    try:
        module = factory(channels, stride)
    except Exception as error:  # a learner's constructor: say which call failed and why
        raise UpsamplerContractError(f"{name}({channels}, {stride}) raised {type(error).__name__}: {error}") from error
    if not isinstance(module, nn.Module):
        raise UpsamplerContractError(f"{name}({channels}, {stride}) must return a torch.nn.Module, "
                                     f"got {type(module).__name__}")
    return module


def as_resampler(factory):
    """``build(channels, stride, shared=None)`` for :func:`~indexnet_edu.upsamplers.registry.register_upsampler`:
    a Resampler that ``factory`` returns is used as it is, any other module is wrapped in
    :class:`CustomResampler`. Raises TypeError when ``factory`` is not callable."""
    if not callable(factory):
        raise TypeError(f"expected a class or function called as factory(channels, stride), got "
                        f"{type(factory).__name__}")

    def build(channels, stride, shared=None, **kwargs):
        module = _build_module(factory, channels, stride)
        return module if isinstance(module, Resampler) else CustomResampler(module, channels, stride)
    return build


def _shape(t) -> str:
    return "×".join(str(d) for d in t.shape) if isinstance(t, torch.Tensor) else type(t).__name__


def _check_output(out, expected: tuple, dtype: torch.dtype, what: str) -> None:
    if not isinstance(out, torch.Tensor):
        raise UpsamplerContractError(f"{what}: expected a tensor, got {type(out).__name__}")
    if tuple(out.shape) != expected:
        raise UpsamplerContractError(f"{what}: expected output B×C×s·h×s·w = {'×'.join(map(str, expected))}, "
                                     f"got {_shape(out)}")
    if out.dtype != dtype:
        raise UpsamplerContractError(f"{what}: expected output dtype {dtype} (the input's), got {out.dtype}")


def check_upsampler(factory, channels=(16, 32, 64), stride: int = 2) -> None:
    """Check that ``factory(c, stride)`` builds an upsampler the suite can train, for each width ``c``.

    Tried on a 2×c×6×10 decoder feature (and its 2×c×12×20 encoder feature): the output is a
    tensor of shape 2×c×12×20 and the input's dtype, finite, the inputs untouched; an empty
    batch (0×c×6×10) gives 0×c×12×20; after a backward pass the input and every parameter that
    requires grad receive a finite gradient, and the output depends on the input.

    Raises:
        TypeError: ``factory`` is not callable.
        UpsamplerContractError (a ValueError): the first rule broken, saying what was expected
            and what came (a constructor or forward that raises is reported with its call).
    """
    build = as_resampler(factory)  # TypeError when factory is not callable
    stride = check_positive_int(stride, "stride")
    widths = [channels] if isinstance(channels, int) else list(channels)
    with torch.random.fork_rng(devices=[]):  # building the module draws its initial weights: not from the caller's RNG
        _check_widths(build, widths, stride)


def _check_widths(build, widths, stride: int) -> None:
    h, w = PROBE_LOW_RES
    generator = torch.Generator().manual_seed(0)
    for c in widths:
        c = check_positive_int(c, "channels")
        stage = build(c, stride)
        name = type(stage.module).__name__ if isinstance(stage, CustomResampler) else type(stage).__name__
        x = torch.randn(2, c, h * stride, w * stride, generator=generator)
        y = F.max_pool2d(x, stride)
        expected = (2, c, h * stride, w * stride)
        for batch in (2, 0):
            xb, yb = x[:batch].clone(), y[:batch].clone().requires_grad_(batch > 0)
            _, state = stage.down(xb)
            what = f"{name} at channels={c}, stride={stride}, batch {batch}"
            try:
                out = stage.up(yb, state)
            except UpsamplerContractError:
                raise
            except Exception as error:
                raise UpsamplerContractError(f"{what}: forward raised {type(error).__name__}: {error}") from error
            _check_output(out, (batch,) + expected[1:], yb.dtype, what)
            if not torch.equal(xb, x[:batch]) or not torch.equal(yb.detach(), y[:batch]):
                raise UpsamplerContractError(f"{what}: the module changed its input in place; return a new tensor")
            if batch == 0:
                continue
            if not torch.isfinite(out).all():
                raise UpsamplerContractError(f"{what}: the output has NaN or infinite values")
            stage.zero_grad(set_to_none=True)
            if not out.requires_grad:
                raise UpsamplerContractError(f"{what}: the output does not depend on the input y "
                                             "(it carries no gradient: detached, or computed without autograd)")
            out.square().sum().backward()
            if yb.grad is None or not torch.isfinite(yb.grad).all() or not yb.grad.abs().sum() > 0:
                raise UpsamplerContractError(f"{what}: the output does not depend on the input y "
                                             "(no gradient reaches it)")
            owner = stage.module if isinstance(stage, CustomResampler) else stage
            missing = [n for n, p in owner.named_parameters() if p.requires_grad and
                       (p.grad is None or not torch.isfinite(p.grad).all())]
            if missing:
                raise UpsamplerContractError(f"{what}: parameters that get no finite gradient (unused, or "
                                             f"detached): {', '.join(missing)}")


def module_fingerprint(factory, channels: int = 16, stride: int = 2) -> str:
    """A 16-hex-digit digest of what ``factory`` builds: parameter names and shapes, and the
    output of the module made under seed 0 on a fixed input. Two factories that build the same
    operator agree; a changed module does not (used to refuse resuming another module's runs)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        stage = as_resampler(factory)(channels, stride)
        x = torch.randn(1, channels, 4 * stride, 4 * stride, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            out = stage.up(*stage.down(x))
    digest = hashlib.sha256()
    for name, tensor in stage.state_dict().items():
        digest.update(f"{name}:{tuple(tensor.shape)}".encode())
    digest.update(out.detach().to(torch.float64).numpy().round(6).tobytes())
    return digest.hexdigest()[:16]
