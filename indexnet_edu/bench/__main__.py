"""``python -m indexnet_edu.bench [--device cpu|cuda] [--quick] [--out benchmarks/results/] [--threads 1]``"""
from __future__ import annotations

import argparse
import sys

import torch

from ..checkpoint import OutputDirError, output_dir_argument, prepare_output_dir
from .report import render
from .suite import resolve_device, run_suite, write_json


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexnet_edu.bench",
                                     description="Time, memory, parameters and FLOPs of every upsampler.")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes (about a minute)")
    parser.add_argument("--out", type=output_dir_argument, default="benchmarks/results/",
                        help="folder for the JSON results")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for PyTorch (default 1: on a shared machine a parallel operator "
                             "waits for its slowest thread, so multi-threaded timings measure the neighbours)")
    args = parser.parse_args(argv)
    try:
        resolve_device(args.device)
    except RuntimeError as error:
        parser.error(str(error))
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    try:
        prepare_output_dir(args.out)  # before minutes of timing, not after
    except OutputDirError as error:
        parser.error(str(error))
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        results = run_suite(args.device, quick=args.quick)
    finally:  # main() may be called in-process (tests, notebooks): leave the thread count as found
        torch.set_num_threads(previous_threads)
    print(render(results))
    name = f"{args.device}{'_quick' if args.quick else ''}{'' if args.threads == 1 else f'_{args.threads}threads'}.json"
    path = write_json(results, args.out, name)
    print(f"wrote {path}")
    return 0 if all(target["passed"] for target in results["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
