"""Print how long one control move of each playground widget takes (goal: <= 100 ms).

    PYTHONPATH=. python benchmarks/widget_latency.py [--size 256] [--repeats 20]

Median milliseconds per move of the full update the notebook draws (maths + pictures),
measured by :func:`indexnet_edu.widgets.measure_update_latency`.
"""
from __future__ import annotations

import argparse
import os
import platform

import torch

from indexnet_edu.widgets import measure_update_latency

GOAL_MS = 100.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--repeats", type=int, default=20, help="moves per control")
    args = parser.parse_args()
    if args.size < 4 or args.size % 4 or args.repeats < 1:
        parser.error(f"need a --size divisible by 4 (stride 4 must tile it) and --repeats >= 1, "
                     f"got --size {args.size} --repeats {args.repeats}")
    results = measure_update_latency(args.size, args.repeats)
    print(f"widget update latency, {args.size}×{args.size} image, median of {args.repeats} moves "
          f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__})")
    for control, ms in results.items():
        flag = "" if ms <= GOAL_MS else f"   > {GOAL_MS:.0f} ms goal"
        print(f"  {control:<26} {ms:7.1f} ms{flag}")
    print(f"  {'worst':<26} {max(results.values()):7.1f} ms")


if __name__ == "__main__":
    main()
