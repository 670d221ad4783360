"""``python -m indexnet_edu.gpu_programme --budget-s 420 --out DIR [--dry-run] [--work DIR] [--workers N]``

Exit status: 0 when every check passed and no job failed (work left out for lack of time is
recorded, not a failure); 1 when a check failed or a job failed; 2 for bad arguments (or no
CUDA without ``--dry-run``); 75 when another programme uses the same --out or --work; 130 when
stopped by a signal (after packing what was finished).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..checkpoint import LOCKED_EXIT_CODE, RunLockedError
from .programme import STAGES, run_programme


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m indexnet_edu.gpu_programme",
                                     description="The GPU checks, bench and sweep in one budgeted run, packed "
                                                 "into DIR/gpu_programme.tar.gz.")
    parser.add_argument("--budget-s", type=float, required=True, help="wall-clock seconds for everything")
    parser.add_argument("--out", required=True, help="folder for gpu_programme.tar.gz and summary.json")
    parser.add_argument("--dry-run", action="store_true", help="rehearse every stage on the CPU at toy sizes")
    parser.add_argument("--work", default=None,
                        help="folder for checkpoints, data and per-job files (default: one under $TMPDIR "
                             "derived from --out, so a re-run into the same --out skips what is done)")
    parser.add_argument("--workers", type=int, default=None, help="training jobs side by side (default: the plan's)")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--stop-after-jobs", type=int, default=None, metavar="K",
                        help="testing aid: act as if the run were cut off once K jobs have finished")
    parser.add_argument("--quiet", action="store_true", help="no progress lines (they are in the archive's log)")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag, folder in (("--out", args.out), ("--work", args.work)):
        if folder is not None and not folder.strip():  # Path("") would be the current folder
            parser.error(f"{flag} must name a folder (got an empty path)")
    try:
        summary = run_programme(Path(args.out), args.budget_s, args.dry_run, args.work, args.workers, args.stages,
                                args.stop_after_jobs, echo=None if args.quiet else print)
    except ValueError as error:  # bad arguments, an unusable folder, no CUDA: before any work
        parser.error(str(error))
    except RunLockedError as error:  # another programme uses --out or --work: nothing was touched
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return LOCKED_EXIT_CODE
    print(f"wrote {Path(args.out) / summary['archive']} ({summary['archive_files']} files) and "
          f"{Path(args.out) / 'summary.json'}")
    if summary["stop_reason"] and summary["stop_reason"].startswith("cut off by signal"):
        return 130
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
