"""``python -m indexnet_edu.bench [--device cpu|cuda] [--quick] [--out benchmarks/results/] [--threads 1]``

Exit status: 0 every target met; 1 a target missed; 2 a usage mistake; 75 another benchmark
writes into the same --out.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

from ..checkpoint import (LOCKED_EXIT_CODE, OutputDirError, RunLockedError, exclusive_run_lock, output_dir_argument,
                          prepare_output_dir)
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
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not 1 <= args.threads <= cpus:  # more threads than cores time contention, and torch overflows at 2³¹
        parser.error(f"--threads must be >= 1 and at most the {cpus} CPU cores this process may use, "
                     f"got {args.threads}")
    try:
        prepare_output_dir(args.out)  # before minutes of timing, not after
    except OutputDirError as error:
        parser.error(str(error))
    name = f"{args.device}{'_quick' if args.quick else ''}{'' if args.threads == 1 else f'_{args.threads}threads'}.json"
    previous_threads = torch.get_num_threads()
    try:
        # Two benchmarks writing one folder would also time each other: the second is refused.
        with exclusive_run_lock(args.out, "bench"):
            torch.set_num_threads(args.threads)
            try:
                results = run_suite(args.device, quick=args.quick)
            finally:  # main() may be called in-process (tests, notebooks): leave the thread count as found
                torch.set_num_threads(previous_threads)
            print(render(results))
            path = write_json(results, args.out, name)
    except RunLockedError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return LOCKED_EXIT_CODE
    print(f"wrote {path}")
    return 0 if all(target["passed"] for target in results["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
