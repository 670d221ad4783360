"""Training throughput of the `laptop` preset on this CPU: images/s per job.

    PYTHONPATH=. python benchmarks/laptop_throughput.py            # prints a table, writes the JSON
    PYTHONPATH=. python benchmarks/laptop_throughput.py --quick    # a few steps, to check it runs

Each measurement runs in its own process (so thread settings do not leak): ``--steps`` training
steps of the preset's model, batch and image size, after ``--warmup`` steps, timed with
``time.perf_counter``. Variants:

* threads 1 and 2 (``torch.set_num_threads``), one job alone;
* two 1-thread jobs side by side (what ``sweep --jobs 2`` does): per-job and total images/s;
* channels-last memory format for the model and its inputs;
* the data loader alone (images/s it can feed), to see whether caching the data would help.

Results go to ``benchmarks/results/laptop_throughput.json`` with the machine report.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "results" / "laptop_throughput.json"


def _worker(task: str, upsampler: str, threads: int, channels_last: bool, steps: int, warmup: int,
            loader_only: bool) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from indexnet_edu.experiments.tasks import build_model, loss_fn, model_inputs
    from indexnet_edu.experiments.train import StepBatchSampler, _load_data
    from indexnet_edu.experiments.config import make_config

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = make_config(task, upsampler, "laptop", 0)
    train_set, _ = _load_data(config)
    total = warmup + steps
    loader = DataLoader(train_set, batch_sampler=StepBatchSampler(len(train_set), config.batch_size, 0, total))
    if loader_only:
        batches = iter(loader)
        for _ in range(warmup):
            next(batches)
        start = time.perf_counter()
        for _ in range(steps):
            next(batches)
        return {"images_per_s": steps * config.batch_size / (time.perf_counter() - start)}
    model = build_model(config.task, upsampler, "light", config.widths)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    start = None
    for step, batch in enumerate(loader):
        if step == warmup:
            start = time.perf_counter()
        inputs = model_inputs(config.task, batch).contiguous(memory_format=memory_format)
        loss = loss_fn(config.task, "light", model(inputs), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return {"images_per_s": steps * config.batch_size / (time.perf_counter() - start)}


def _launch(args: dict) -> subprocess.Popen:
    command = [sys.executable, __file__, "--worker", json.dumps(args)]
    env = {"OMP_NUM_THREADS": str(args["threads"]), "MKL_NUM_THREADS": str(args["threads"])}
    return subprocess.Popen(command, env=dict(os.environ, **env), stdout=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"benchmark worker failed (exit {process.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def _one_round(base: dict) -> list[dict]:
    """Every variant of one case once, in a fixed order."""
    rows = []
    for threads in (1, 2):
        args = dict(base, threads=threads)
        rows.append(dict(args, jobs=1, **_result(_launch(args))))
    args = dict(base, threads=1, channels_last=True)
    rows.append(dict(args, jobs=1, **_result(_launch(args))))
    args = dict(base, threads=1)
    pair = [_launch(args), _launch(args)]
    per_job = [_result(p)["images_per_s"] for p in pair]
    rows.append(dict(args, jobs=2, images_per_s=float(np.mean(per_job)), per_job=per_job,
                     total_images_per_s=sum(per_job)))
    args = dict(base, threads=1, loader_only=True)
    rows.append(dict(args, jobs=1, **_result(_launch(args))))
    return rows


def run(steps: int, warmup: int, cases, repeats: int) -> list[dict]:
    """Median over ``repeats`` rounds (the variants of a case interleaved within each round)."""
    rows = []
    for task, upsampler in cases:
        base = dict(task=task, upsampler=upsampler, steps=steps, warmup=warmup, channels_last=False,
                    loader_only=False)
        rounds = [_one_round(base) for _ in range(repeats)]
        for variant in zip(*rounds):
            row = dict(variant[0])
            for key in ("images_per_s", "total_images_per_s"):
                if key in row:
                    row[key] = float(np.median([r[key] for r in variant]))
                    row[key + "_all"] = [r[key] for r in variant]
            row.pop("per_job", None)
            rows.append(row)
        print(f"{task}/{upsampler} done", file=sys.stderr)
    return rows


def table(rows) -> str:
    lines = ["| task | upsampler | threads | jobs | channels-last | loader only | images/s per job | total |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        total = r.get("total_images_per_s", r["images_per_s"])
        lines.append(f"| {r['task']} | {r['upsampler']} | {r['threads']} | {r['jobs']} | {r['channels_last']} | "
                     f"{r['loader_only']} | {r['images_per_s']:.0f} | {total:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--quick", action="store_true", help="3 steps, one case, no JSON written")
    args = parser.parse_args(argv)
    for flag, value, least in (("--steps", args.steps, 1), ("--warmup", args.warmup, 0), ("--repeats", args.repeats, 1)):
        if value < least:
            parser.error(f"{flag} must be >= {least}, got {value}")
    if args.worker:
        print(json.dumps(_worker(**json.loads(args.worker))))
        return 0
    import torch

    from indexnet_edu.bench.machine import machine_report
    from indexnet_edu.checkpoint import atomic_write_json

    cases = [("matting_noskip", "bilinear"), ("matting_noskip", "hin"), ("matting_noskip", "carafe"),
             ("texture_regions", "bilinear")]
    if args.quick:
        cases, args.steps, args.warmup, args.repeats = cases[:1], 3, 1, 1
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = run(args.steps, args.warmup, cases, args.repeats)
    report = {"created_utc": started, "machine": machine_report(torch.device("cpu")),
              "what": "training images/s of the laptop preset (batch 16, 32 px, widths 16/32/64), "
                      f"{args.steps} timed steps after {args.warmup} warm-up steps, each case in its own process; "
                      f"median of {args.repeats} rounds; jobs=2: two 1-thread processes at once, images/s per job "
                      "is their mean and total their sum",
              "rows": rows}
    print(table(rows))
    if not args.quick:
        atomic_write_json(report, OUT)
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
