"""Ship a finished run's weights with the package, for the lessons to load without training.

    python tools/ship_checkpoint.py RUN_DIR [--into indexnet_edu/_shipped/laptop/checkpoints]

Copies the model weights, config and step of ``RUN_DIR/checkpoint.pt`` (no optimizer or RNG
state: about a third of the size) to ``<into>/<task>/<upsampler>/seed<k>/checkpoint.pt``,
atomically; the task, upsampler and seed come from the checkpoint's own config. A maintainer's
tool: the package reads these files (:func:`indexnet_edu.lessons.shipped.model_or_train`) but
never writes them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indexnet_edu.checkpoint import CheckpointError, atomic_save, load_checkpoint  # noqa: E402
from indexnet_edu.experiments.results import job_dir  # noqa: E402
from indexnet_edu.experiments.train import CHECKPOINT_NAME  # noqa: E402
from indexnet_edu.shipped_files import laptop_checkpoints_dir  # noqa: E402


def ship_checkpoint(run_dir, into=None) -> Path:
    """Write the weights of ``run_dir/checkpoint.pt`` under ``into`` (default: the package's
    shipped laptop checkpoints); returns the written file. Raises FileNotFoundError for a missing
    checkpoint, CheckpointError for an unreadable one."""
    state = load_checkpoint(Path(run_dir) / CHECKPOINT_NAME, ("config", "step", "model"))
    config = state["config"]
    target = job_dir(into or laptop_checkpoints_dir(), config["task"], config["upsampler"], config["seed"]) / CHECKPOINT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_save({"config": config, "step": state["step"], "model": state["model"]}, target)
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a finished run's folder (holding checkpoint.pt)")
    parser.add_argument("--into", type=Path, default=None, help="default: the package's shipped laptop checkpoints")
    args = parser.parse_args(argv)
    try:
        print(ship_checkpoint(args.run_dir, args.into))
    except (CheckpointError, FileNotFoundError) as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
