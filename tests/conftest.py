"""Shared test settings: hypothesis profiles and small helpers."""
import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
MMCV_REFERENCE = REPO.parent / "shared" / "reference" / "mmcv_carafe"

# Timing on shared 2-core machines is noisy: no per-example deadline. CI runs fewer examples.
settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(0)


@pytest.fixture
def one_thread():
    """Run a test on one PyTorch thread. Tiny models and exactness checks gain nothing from a
    second thread, and on a busy shared CPU every parallel operator call can wait a whole
    scheduler slice for it (gradcheck makes thousands of calls)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
