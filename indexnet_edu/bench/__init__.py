"""Benchmarks: what each upsampler costs in time, memory, parameters and FLOPs.

Run ``python -m indexnet_edu.bench`` (options ``--device``, ``--quick``, ``--out``); the
naive reassembly baseline the fast operator is measured and tested against lives in
:mod:`indexnet_edu.bench.naive`.
"""
