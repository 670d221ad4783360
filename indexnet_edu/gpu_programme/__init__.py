"""The GPU half of the mission as one prepared command.

From the repository root on the GPU machine (the package imported from the checkout)::

    PYTHONPATH=. python -m indexnet_edu.gpu_programme --budget-s 420 --out $OUT

Within the budget it runs, in order: the CUDA checks (:mod:`.checks`: the Triton reassembly
kernel and the CUDA operator against the CPU operator, gradcheck in float64, mmcv's vectors,
autocast through every registry upsampler, training's precision option); the bench
(:mod:`.bench_stage`: reassembly bandwidth as a fraction of the GPU's peak, IndexNet matting
images/s at 320×320, batch 16, float32 / bf16 / channels-last / torch.compile); and the
paired sweep (:mod:`.sweep_stage`: the ``full`` preset, four light-model tasks × ten
upsamplers plus the full IndexNet with max-unpool / HIN / DIN M2O, five seeds, several jobs
side by side). Everything is packed into ``OUT/gpu_programme.tar.gz`` with ``OUT/summary.json``
beside it (:mod:`.archive`); checkpoints and data stay in a work folder outside ``OUT``.

Rehearse it on a CPU with ``--dry-run`` (tiny sizes; CUDA-only checks are recorded as skipped,
with the reason). It needs torch, NumPy, einops, SciPy (a scikit-image dependency) and
matplotlib; tqdm, pytest and the notebook stack are not needed.

Why a package of its own (layer 6, beside :mod:`indexnet_edu.bench` and
:mod:`indexnet_edu.experiments.sweep`): it is neither a benchmark nor a sweep but runs both, plus checks
that belong to neither, under one clock; each stage lives in its own small module.
"""
from .programme import PLANS, STAGES, run_programme

__all__ = ["PLANS", "STAGES", "run_programme"]
