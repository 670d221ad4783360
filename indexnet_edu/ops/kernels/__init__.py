"""The reassembly backends, chosen by :func:`indexnet_edu.ops.reassembly.reassemble`.

Each has the same three functions — ``supports(y, kernels)``, ``forward(y, kernels, k, s, G,
padding)`` (pads y itself) and ``backward(grad_out, y, kernels, k, s, G, padding)`` (returns
dL/dy with the padding's gradient folded back):

- :mod:`.torch_blas` — batched matrix products in plain PyTorch: every device and dtype.
- :mod:`.numba_cpu` — a fused CPU forward and backward, compiled by numba (``pip install numba``)
  from the source :mod:`.numba_source` writes out for each (k, s).
- :mod:`.triton_cuda` — forward and backward for CUDA devices in Triton.
- :mod:`.layout` — padding and the channels-last views the CPU paths share.

Without numba or triton the PyTorch backend runs; the results agree to rounding either way.
"""
