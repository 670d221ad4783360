"""Compiled reassembly kernels, each optional, chosen by :func:`indexnet_edu.reassembly.reassemble`.

- :mod:`.numba_cpu` — a fused CPU forward and backward, compiled by numba (``pip install numba``).
- :mod:`.triton_cuda` — forward and backward for CUDA devices in Triton.
- :mod:`.layout` — the channels-last views the CPU paths share.

Without numba or triton the package falls back to the PyTorch operator in
:mod:`indexnet_edu.reassembly`; the results agree to rounding either way.
"""
