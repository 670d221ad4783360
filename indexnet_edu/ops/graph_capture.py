"""How the package's modules meet PyTorch's graph capture: ``torch.compile``, ``torch.export``
(and ONNX export, which goes through it) and TorchScript.

Two eager fast paths branch on the data: reassembly and indexed upsampling first check that the
input is finite (a non-finite map takes a careful path that does not read zero-weight
neighbours). A captured graph cannot branch on values, so while a graph is being recorded
(:func:`is_tracing`) they take branch-free forms, exact on finite and non-finite inputs alike:
under ``torch.compile`` reassembly is one custom operator that runs the fast kernels
(:mod:`indexnet_edu.ops.reassembly_op`); for an exported program (:func:`is_exporting`) it is the
unfolded formula in standard operators. TorchScript cannot compile the modules (they check their arguments in plain Python and
call into numba): :class:`NotScriptable` makes ``torch.jit.script`` say so and name the
alternatives, instead of failing deep inside the script compiler.
"""
from __future__ import annotations

import torch


def is_tracing() -> bool:
    """True while ``torch.compile``, ``torch.export`` (strict or not) or ``torch.jit.trace``
    records the code."""
    compiler = getattr(torch, "compiler", None)
    for probe in ("is_compiling", "is_exporting"):
        check = getattr(compiler, probe, None)
        if check is not None and check():
            return True
    return bool(torch.jit.is_tracing())


def is_exporting() -> bool:
    """True while ``torch.export`` (or ``torch.jit.trace``) records a program meant to run
    without this package: it must hold standard operators only. (On a PyTorch without
    ``torch.compiler.is_exporting``, False.)"""
    check = getattr(getattr(torch, "compiler", None), "is_exporting", None)
    return bool(torch.jit.is_tracing()) or (check is not None and check())


class NotScriptable:
    """Mixin for ``nn.Module``\\ s: ``torch.jit.script`` of the module, or of any model holding
    it, raises a ``TypeError`` that names the module and the supported ways to capture it."""

    def __prepare_scriptable__(self):
        raise TypeError(
            f"{type(self).__name__} cannot be compiled by TorchScript (torch.jit.script): indexnet_edu's "
            "modules check their arguments in Python and may call numba kernels. Use torch.compile(model), "
            "torch.export.export(model, args) or torch.onnx.export(model, args, dynamo=True) instead; "
            "all three record the same values as eager mode.")


__all__ = ["is_tracing", "is_exporting", "NotScriptable"]
