"""Copy the checkout's shipped results into the package, where lessons find them when installed.

    python tools/refresh_shipped_data.py          # copy what changed, remove what is gone
    python tools/refresh_shipped_data.py --check  # only report differences (exit 1 if any)

Sources (what the tools write in a checkout) → package (``indexnet_edu/_shipped``, see
:mod:`indexnet_edu.shipped_files`):

* ``results/<set>/<task>/<upsampler>/seed<k>.json`` → ``<set>/<task>/<upsampler>/seed<k>.json`` for each
  result set (``laptop``, ``laptop_successors``)
* ``benchmarks/results/<name>`` for each name in ``BENCHMARK_FILES`` → ``benchmarks/<name>``

The shipped checkpoints live only in the package (``tools/ship_checkpoint.py`` writes them there).
"""
from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indexnet_edu.checkpoint import atomic_write_text  # noqa: E402
from indexnet_edu.shipped_files import BENCHMARK_FILES, DATA_FOLDER, RESULT_SETS  # noqa: E402

PACKAGE_DATA = REPO / "indexnet_edu" / DATA_FOLDER


def pairs() -> dict[Path, Path]:
    """{package copy: checkout source} for every file the refresh keeps in step."""
    mapping = {}
    for name in RESULT_SETS:
        folder = REPO / "results" / name
        mapping |= {PACKAGE_DATA / name / source.relative_to(folder): source
                    for source in sorted(folder.glob("*/*/seed*.json"))}
    for name in BENCHMARK_FILES:
        mapping[PACKAGE_DATA / "benchmarks" / name] = REPO / "benchmarks" / "results" / name
    return mapping


def differences() -> list[str]:
    """What the package lacks, holds stale, or holds extra, one line each (empty: in step)."""
    wanted = pairs()
    found = []
    for copy, source in wanted.items():
        if not source.exists():
            found.append(f"missing source {source.relative_to(REPO)}")
        elif not copy.exists():
            found.append(f"not in the package: {copy.relative_to(REPO)}")
        elif not filecmp.cmp(copy, source, shallow=False):
            found.append(f"stale in the package: {copy.relative_to(REPO)}")
    extra = [path for path in PACKAGE_DATA.rglob("*.json") if path not in wanted]
    found += [f"in the package only: {path.relative_to(REPO)}" for path in sorted(extra)]
    return found


def refresh() -> int:
    """Copy every changed file (atomically) and remove package copies whose source is gone."""
    changed = 0
    wanted = pairs()
    for copy, source in wanted.items():
        if source.exists() and not (copy.exists() and filecmp.cmp(copy, source, shallow=False)):
            copy.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(source.read_text(encoding="utf-8"), copy)
            changed += 1
    for stale in [path for path in PACKAGE_DATA.rglob("*.json") if path not in wanted]:
        stale.unlink()
        changed += 1
    for folder in sorted(PACKAGE_DATA.rglob("*"), reverse=True):  # empty folders left by removals
        if folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report differences only; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        found = differences()
        print("\n".join(found) if found else "the package's shipped data matches the checkout")
        return 1 if found else 0
    print(f"refreshed {refresh()} file(s) in {PACKAGE_DATA.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
