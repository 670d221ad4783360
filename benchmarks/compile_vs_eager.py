"""torch.compile against eager mode for the content-aware upsamplers (CARAFE, FADE, SAPA-B).

    python benchmarks/compile_vs_eager.py [--channels 64] [--size 64] [--repeats 15] [--device cpu]

Each module is one registry stage (``down`` then ``up``) on a 1×C×H×W input. Eager mode runs
the suite's fastest reassembly (the fused numba kernel on the CPU, Triton on CUDA); the
compiled module is ``torch.compile(fullgraph=True)`` with the default Inductor backend, which
records reassembly in its branch-free unfolded form and lets Inductor fuse it. Forward alone
and forward + backward are timed with interleaved repeats (medians, warm-up and compile
excluded; compile time reported separately). Writes benchmarks/results/compile_vs_eager.json.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

from indexnet_edu.bench.measure import median_times
from indexnet_edu.checkpoint import atomic_write_json, output_dir_argument
from indexnet_edu.upsamplers.registry import create_upsampler

MODULES = ("carafe", "fade", "sapa")
OUT = Path(__file__).resolve().parent / "results" / "compile_vs_eager.json"


def stage(name: str, channels: int, device) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_upsampler(name, channels).to(device)


def measure(name: str, channels: int, size: int, repeats: int, device) -> dict:
    model = stage(name, channels, device)
    x = torch.randn(1, channels, size, size, device=device, requires_grad=True)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    start = time.perf_counter()
    compiled(x).sum().backward()  # compiles the forward and backward graphs
    compile_s = time.perf_counter() - start
    torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-4)

    def step(module):
        return lambda: module(x).sum().backward()

    def forward(module):
        def run():
            with torch.no_grad():
                module(x)
        return run

    times = median_times({"eager_forward": forward(model), "compiled_forward": forward(compiled),
                          "eager_train_step": step(model), "compiled_train_step": step(compiled)},
                         repeats=repeats, warmup=2, device=device)
    ms = {key: 1000 * value for key, value in times.items()}
    return {"compile_s": compile_s, **{f"{key}_ms": value for key, value in ms.items()},
            "forward_speedup": ms["eager_forward"] / ms["compiled_forward"],
            "train_step_speedup": ms["eager_train_step"] / ms["compiled_train_step"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--size", type=int, default=64, help="H = W of the encoder feature")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=output_dir_argument, default=OUT)
    args = parser.parse_args(argv)
    if args.channels < 1 or args.size < 2 or args.size % 2 or args.repeats < 1:
        parser.error("need --channels >= 1, an even --size >= 2 and --repeats >= 1")
    device = torch.device(args.device)
    results = {name: measure(name, args.channels, args.size, args.repeats, device) for name in MODULES}
    record = {"input": f"1×{args.channels}×{args.size}×{args.size}", "device": str(device),
              "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "python": sys.version.split()[0], "results": results}
    atomic_write_json(record, args.out)
    for name, row in results.items():
        print(f"{name:7s} forward eager {row['eager_forward_ms']:7.2f} ms, compiled {row['compiled_forward_ms']:7.2f} ms"
              f" ({row['forward_speedup']:.2f}×); fwd+bwd eager {row['eager_train_step_ms']:7.2f} ms, compiled "
              f"{row['compiled_train_step_ms']:7.2f} ms ({row['train_step_speedup']:.2f}×); compile {row['compile_s']:.0f} s")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
