"""Where the suite is running: quick mode, device, versions (for notebooks and results)."""
from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

import torch

# Where the suite is published: the Colab install cell, the Binder/Colab badges and the README
# are generated from this one constant (tools/notebook_headers.py). A placeholder until the
# project has a public home: change it here, re-run the script, and every link follows.
REPOSITORY_URL = "https://github.com/indexnet-edu/indexnet_edu"

LESSONS = ("00_start_here", "01_upsampling_is_indexing", "02_index_playground", "03_index_networks",
           "04_indexnet_vs_carafe", "05_delivering_spatial_information", "06_deep_image_matting",
           "07_regions_vs_details", "08_cost_of_upsampling", "09_fusing_encoder_and_decoder",
           "10_bring_your_own_upsampler")

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the whole indexnet_edu package


def quick_mode() -> bool:
    """True under CI (``CI=true``) or when ``INDEXNET_QUICK=1``: notebooks shrink their work.

    ``INDEXNET_QUICK=0`` forces the full lesson even under CI.
    """
    forced = os.environ.get("INDEXNET_QUICK")
    if forced is not None:
        return forced.strip().lower() not in ("0", "false", "no", "")
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def environment_report() -> dict:
    """Versions and hardware facts worth printing at the top of a lesson."""
    import einops
    import matplotlib

    report = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "einops": einops.__version__,
        "matplotlib": matplotlib.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu",
        "quick_mode": quick_mode(),
    }
    try:
        import ipywidgets

        report["ipywidgets"] = ipywidgets.__version__
    except ImportError:
        report["ipywidgets"] = None
    return report


def lessons_present(folder=None) -> dict[str, bool] | None:
    """Which lesson notebooks (:data:`LESSONS`) sit in ``folder`` (default: the working directory,
    where a lesson's kernel runs).

    Returns ``{name: present}``, or None when the folder holds at most one of them: the lesson
    then runs on its own, outside a checkout (Colab, Binder's home, a notebook downloaded into
    a folder of its own), and the package alone is what matters.
    """
    folder = Path.cwd() if folder is None else Path(folder)
    if not folder.is_dir():
        raise ValueError(f"expected an existing folder, got {str(folder)!r}")
    present = {name: (folder / f"{name}.ipynb").is_file() for name in LESSONS}
    return present if sum(present.values()) > 1 else None


def package_digest(*extra: str) -> str:
    """A 16-hex-digit digest of the package's Python source (and ``extra`` strings): caches keyed
    by it (lesson runs, the book's executed notebooks) are never reused across code changes."""
    digest = hashlib.sha256("\0".join(extra).encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
