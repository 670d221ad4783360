"""The CUDA checks, as functions that return records instead of asserting (no pytest needed).

A record is ``{"name", "status", "device", ...}`` with ``status`` one of ``"pass"``,
``"fail"``, ``"skipped"`` (with a ``reason``: no CUDA, no triton, out of time) or ``"error"``
(the check itself raised; the message is kept). Errors are measured as
``max |value − reference| / max(1, max |reference|)``: the worst difference on the scale of
the reference's largest value, so one tolerance serves outputs and gradients alike.

* Reassembly (Wang et al., CARAFE, ICCV 2019) on CUDA — the Triton kernel and the PyTorch
  operator — against the PyTorch operator on the CPU in float64: values and both gradients,
  in float32 for several geometries, float64, float16 and bfloat16 (inputs rounded to the
  dtype first, so the reference sees the same numbers and only the arithmetic differs).
* ``torch.autograd.gradcheck`` of both CUDA implementations in float64.
* mmcv's own CARAFE test vectors, where they ship beside the checkout.
* Every registry upsampler's down/up pair under float16 and bfloat16 autocast: finite outputs
  and gradients, and the output's distance from the float32 one.
* Training's precision option (:func:`indexnet_edu.experiments.runtime.select_precision`): a short run in
  the precision the GPU picks (bf16 on compute capability ≥ 8) and one forced to fp16 with its
  gradient scaler, both finite and recorded as that precision.
"""
from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from ..ops.reassembly import reassemble
from ..upsamplers.registry import available_upsamplers, create_upsampler

#: (kernel size, scale, groups, padding) of the value/gradient comparison; odd sizes so that
#: tiles end mid-block (the kernels' BLOCK_P = 64 pixels, BLOCK_C = 16 channels).
GEOMETRIES = ((5, 2, 1, "zeros"), (3, 2, 4, "replicate"), (1, 3, 1, "zeros"), (3, 4, 2, "zeros"))
#: The tolerance of each dtype (error as defined in the module docstring).
TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}
#: Autocast: the pair's output against its float32 output (reduced-precision convolutions).
AUTOCAST_TOLERANCE = {torch.float16: 2e-2, torch.bfloat16: 1.5e-1}
DTYPE_NAMES = {torch.float64: "float64", torch.float32: "float32", torch.float16: "float16",
               torch.bfloat16: "bfloat16"}
MMCV_REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "mmcv_carafe"


def scaled_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """max |value − reference| / max(1, max |reference|), computed in float64 on the CPU."""
    value, reference = value.detach().double().cpu(), reference.detach().double().cpu()
    if value.shape != reference.shape:
        raise ValueError(f"shapes differ: {tuple(value.shape)} vs {tuple(reference.shape)}")
    if not torch.isfinite(value).all():
        return float("inf")
    scale = max(1.0, float(reference.abs().max())) if reference.numel() else 1.0
    return float((value - reference).abs().max()) / scale if value.numel() else 0.0


def record(name: str, status: str, device, **fields) -> dict:
    return {"name": name, "status": status, "device": str(device), **fields}


def _verdict(errors: dict, tolerance: float) -> str:
    return "pass" if all(error <= tolerance for error in errors.values()) else "fail"


def triton_available() -> tuple[bool, str]:
    from ..ops.kernels import triton_cuda

    if not triton_cuda.triton_available():
        return False, "triton is not importable"
    return True, ""


def _reassembly_inputs(k, s, g, dtype, seed=0, batch=2, channels=8, height=7, width=9):
    generator = torch.Generator().manual_seed(seed)
    y = torch.randn(batch, channels, height, width, generator=generator, dtype=torch.float64)
    logits = torch.randn(batch, g, k * k, s * height, s * width, generator=generator, dtype=torch.float64)
    kernels = torch.softmax(logits, dim=2).reshape(batch, g * k * k, s * height, s * width)
    grad_out = torch.randn(batch, channels, s * height, s * width, generator=generator, dtype=torch.float64)
    # Round to the dtype under test first: the float64 reference then sees the very same numbers.
    return [t.to(dtype) for t in (y, kernels, grad_out)]


def _value_and_gradients(y, kernels, grad_out, k, s, g, padding, implementation):
    y, kernels = y.detach().clone().requires_grad_(), kernels.detach().clone().requires_grad_()
    out = reassemble(y, kernels, k, s, g, padding, implementation=implementation)
    out.backward(grad_out)
    return {"out": out, "grad_y": y.grad, "grad_kernels": kernels.grad}


def compare_reassembly(device, implementations) -> list[dict]:
    """Each implementation on ``device`` vs the CPU PyTorch operator in float64 (values, dL/dy,
    dL/dkernels), float32 on :data:`GEOMETRIES`, then float64, float16 and bfloat16 on one each."""
    name = "reassembly on CUDA vs the CPU operator (values, dL/dy, dL/dkernels)"
    records = []
    cases = [(geometry, torch.float32) for geometry in GEOMETRIES]
    cases += [(GEOMETRIES[1], torch.float64), (GEOMETRIES[0], torch.float16), (GEOMETRIES[0], torch.bfloat16)]
    for (k, s, g, padding), dtype in cases:
        y, kernels, grad_out = _reassembly_inputs(k, s, g, dtype)
        reference = _value_and_gradients(y.double(), kernels.double(), grad_out.double(), k, s, g, padding, "torch")
        for implementation in implementations:
            got = _value_and_gradients(y.to(device), kernels.to(device), grad_out.to(device), k, s, g, padding,
                                       implementation)
            errors = {key: scaled_error(got[key], reference[key]) for key in reference}
            records.append(record(name, _verdict(errors, TOLERANCE[dtype]), device, implementation=implementation,
                                  dtype=DTYPE_NAMES[dtype], kernel_size=k, scale=s, groups=g, padding=padding,
                                  max_error=errors, tolerance=TOLERANCE[dtype],
                                  output_dtype=DTYPE_NAMES.get(got["out"].dtype, str(got["out"].dtype))))
    return records


def gradcheck_reassembly(device, implementations) -> list[dict]:
    """``torch.autograd.gradcheck`` of each implementation on ``device`` in float64, both paddings."""
    records = []
    for implementation in implementations:
        for padding in ("zeros", "replicate"):
            y, kernels, _ = _reassembly_inputs(3, 2, 2, torch.float64, seed=1, batch=1, channels=4, height=3, width=4)
            inputs = (y.to(device).requires_grad_(), kernels.to(device).requires_grad_())
            passed = torch.autograd.gradcheck(
                lambda a, b: reassemble(a, b, 3, 2, 2, padding, implementation=implementation), inputs,
                eps=1e-6, atol=1e-7, rtol=1e-5, raise_exception=False)
            records.append(record("gradcheck float64 of reassembly on CUDA", "pass" if passed else "fail", device,
                                  implementation=implementation, padding=padding, kernel_size=3, scale=2, groups=2))
    return records


def _on_cuda_implementations(device, name: str, no_cuda: str, run) -> list[dict]:
    """``run(device, implementations)`` over "torch" and, when importable, "triton" on CUDA: a
    skipped record for Triton when it is missing, and one skipped record (reason ``no_cuda``)
    off CUDA."""
    if torch.device(device).type != "cuda":
        return [record(name, "skipped", device, reason=no_cuda)]
    ok, why = triton_available()
    skipped = [] if ok else [record(name + " [triton]", "skipped", device, reason=why)]
    return skipped + run(device, ["torch"] + (["triton"] if ok else []))


def check_reassembly_against_cpu(device) -> list[dict]:
    """Triton and the PyTorch operator on CUDA vs the CPU PyTorch operator in float64."""
    return _on_cuda_implementations(device, "reassembly on CUDA vs the CPU operator (values, dL/dy, dL/dkernels)",
                                    "no CUDA: the Triton kernel and the CUDA operator need a GPU", compare_reassembly)


def check_gradcheck_float64(device) -> list[dict]:
    """``torch.autograd.gradcheck`` of reassembly on CUDA in float64, both paddings."""
    return _on_cuda_implementations(device, "gradcheck float64 of reassembly on CUDA", "no CUDA",
                                    gradcheck_reassembly)


def check_mmcv_vectors(device) -> list[dict]:
    """mmcv's CARAFE test vectors (k=5, G=4, s=2, loss = sum of outputs) on this device."""
    name = "mmcv CARAFE test vectors"
    if not MMCV_REFERENCE.is_dir():
        return [record(name, "skipped", device, reason=f"reference vectors not found at {MMCV_REFERENCE} "
                                                        "(they ship beside the project, not in the checkout)")]
    shapes = {"feat": (2, 64, 3, 3), "mask": (2, 100, 6, 6), "output": (2, 64, 6, 6), "feat_grad": (2, 64, 3, 3),
              "mask_grad": (2, 100, 6, 6)}
    data = {key: torch.from_numpy(np.fromfile(MMCV_REFERENCE / f"carafe_{key}.bin", dtype="<f4").reshape(shape))
            for key, shape in shapes.items()}
    implementations = ["torch"]
    if torch.device(device).type == "cuda" and triton_available()[0]:
        implementations.append("triton")
    records = []
    for implementation in implementations:
        got = _value_and_gradients(data["feat"].to(device), data["mask"].to(device),
                                   torch.ones(2, 64, 6, 6, device=device), 5, 2, 4, "zeros", implementation)
        errors = {"out": scaled_error(got["out"], data["output"]),
                  "grad_y": scaled_error(got["grad_y"], data["feat_grad"]),
                  "grad_kernels": scaled_error(got["grad_kernels"], data["mask_grad"])}
        records.append(record(name, _verdict(errors, 1e-5), device, implementation=implementation, max_error=errors,
                              tolerance=1e-5))
    return records


def autocast_dtypes(device) -> tuple[list, list[dict]]:
    """The autocast dtypes to try here, and skipped records for the others."""
    if torch.device(device).type == "cuda":
        return [torch.float16, torch.bfloat16], []
    skipped = record("registry upsamplers under autocast [float16]", "skipped", device,
                     reason="no CUDA: float16 autocast is checked on the GPU (the CPU run checks bfloat16)")
    return [torch.bfloat16], [skipped]


def check_registry_autocast(device, channels: int = 16, size: int = 16, names=None) -> list[dict]:
    """Every registry upsampler's pair ``up(*down(x))`` in train mode under autocast: output
    and gradients finite, output within :data:`AUTOCAST_TOLERANCE` of the float32 output."""
    device = torch.device(device)
    dtypes, records = autocast_dtypes(device)
    x = torch.randn(2, channels, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    for name in names or available_upsamplers():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            pair = create_upsampler(name, channels).to(device)
        pair.eval()  # batch-norm statistics fixed: the float32 and autocast outputs are comparable
        with torch.no_grad():
            reference = pair(x).float()
        for dtype in dtypes:
            title = f"registry upsamplers under autocast [{DTYPE_NAMES[dtype]}]"
            try:
                pair.zero_grad(set_to_none=True)
                inputs = x.detach().clone().requires_grad_()
                with torch.autocast(device.type, dtype=dtype):
                    out = pair(inputs)
                out.float().square().mean().backward()
                gradients = [inputs.grad] + [p.grad for p in pair.parameters() if p.grad is not None]
                finite = bool(torch.isfinite(out).all()) and all(bool(torch.isfinite(g).all()) for g in gradients)
                error = scaled_error(out.float(), reference)
                passed = finite and error <= AUTOCAST_TOLERANCE[dtype]
                records.append(record(title, "pass" if passed else "fail", device, upsampler=name,
                                      dtype=DTYPE_NAMES[dtype], output_dtype=DTYPE_NAMES.get(out.dtype, str(out.dtype)),
                                      finite=finite, max_error={"out": error}, tolerance=AUTOCAST_TOLERANCE[dtype]))
            except Exception as error:  # one upsampler failing must not hide the others
                records.append(record(title, "error", device, upsampler=name, dtype=DTYPE_NAMES[dtype],
                                      error=f"{type(error).__name__}: {error}"))
    return records


def check_training_precision(device, steps: int = 10) -> list[dict]:
    """A short CARAFE reconstruction run in training's automatic precision, and one forced to fp16."""
    from ..experiments import train as train_module

    name = "training precision option"
    device = torch.device(device)
    if device.type != "cuda":
        return [record(name, "skipped", device, reason="no CUDA: training autocasts only on CUDA (fp32 on the CPU)")]
    chosen = train_module.select_precision(device)
    records = []
    for wanted in dict.fromkeys([chosen, "fp16"]):  # the GPU's own choice, then the fp16 + GradScaler path
        config = train_module.make_config("reconstruction", "carafe", "quick", 0, steps=steps, n_train=64, n_test=16,
                                          checkpoint_every=steps)
        original = train_module.select_precision
        if wanted != chosen:  # the GPU would not pick it: force it, as on a T4/V100
            train_module.select_precision = lambda *args, **kwargs: wanted
        try:
            with tempfile.TemporaryDirectory() as folder:
                results = train_module.train(config, Path(folder) / "run", progress=False)
        finally:
            train_module.select_precision = original
        finite = all(np.isfinite(value) for value in results["metrics"].values())
        ok = finite and results["precision"] == wanted
        records.append(record(name, "pass" if ok else "fail", device, precision=results["precision"],
                              wanted=wanted, chosen_by_gpu=chosen, forced=wanted != chosen, steps=steps,
                              metrics=results["metrics"]))
    return records


#: Every check, in the order they run.
CHECKS = (check_reassembly_against_cpu, check_gradcheck_float64, check_mmcv_vectors, check_registry_autocast,
          check_training_precision)


def run_checks(device, deadline: float | None = None, stopped=lambda: False, log=print) -> dict:
    """Run :data:`CHECKS` on ``device`` until ``deadline`` (``time.monotonic``); a check that
    raises is recorded as ``"error"`` and the rest still run. Returns
    ``{"records": [...], "counts": {status: n}, "passed": bool}``."""
    records = []
    for check in CHECKS:
        title = check.__name__
        if stopped() or (deadline is not None and time.monotonic() >= deadline):
            why = ("the programme was stopped" if stopped()
                   else "out of time: the checks' share of the budget is used up")
            records.append(record(title, "skipped", device, reason=why))
            continue
        started = time.monotonic()
        try:
            found = check(device)
        except Exception as error:
            found = [record(title, "error", device, error=f"{type(error).__name__}: {error}",
                            traceback=traceback.format_exc()[-3000:])]
        seconds = time.monotonic() - started
        for item in found:
            item.setdefault("check", title)
        records += found
        statuses = [item["status"] for item in found]
        log(f"checks: {title}: " + ", ".join(f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses))
            + f" ({seconds:.1f} s)")
    counts = {status: sum(item["status"] == status for item in records)
              for status in ("pass", "fail", "error", "skipped")}
    return {"records": records, "counts": counts, "passed": counts["fail"] == 0 and counts["error"] == 0}
