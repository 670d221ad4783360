"""Where the suite is running: quick mode, device, versions (for notebooks and results)."""
from __future__ import annotations

import os
import platform

import torch


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
