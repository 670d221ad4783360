"""Mixed precision: bf16 only where the GPU has it natively, else fp16 with a GradScaler, else fp32."""
import math

import pytest
import torch

from indexnet_edu.experiments import train as train_module
from indexnet_edu.checkpoint import load_checkpoint
from indexnet_edu.experiments.train import CHECKPOINT_NAME, train
from indexnet_edu.experiments.config import make_config
from indexnet_edu.experiments.runtime import select_precision

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("capability, expected", [
    ((7, 0), "fp16"),   # V100: bf16 only emulated
    ((7, 5), "fp16"),   # T4 (free Colab)
    ((8, 0), "bf16"),   # A100
    ((8, 6), "bf16"),   # RTX 30xx
    ((9, 0), "bf16"),   # H100 / H200
])
def test_cuda_precision_follows_the_compute_capability(capability, expected):
    assert select_precision(torch.device("cuda"), capability=capability) == expected


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_cpu_trains_in_float32(device):
    assert select_precision(device) == "fp32"
    assert select_precision(device, capability=(9, 0)) == "fp32"


def test_no_amp_means_float32_on_any_gpu():
    assert select_precision("cuda", amp=False, capability=(9, 0)) == "fp32"


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "fp16")])
def test_the_device_is_asked_without_counting_emulated_bf16(monkeypatch, native, expected):
    asked = {}

    def is_bf16_supported(including_emulation=True):
        asked["including_emulation"] = including_emulation
        return native or including_emulation  # an emulating GPU says yes unless asked precisely

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    assert select_precision("cuda") == expected
    assert asked == {"including_emulation": False}


@pytest.mark.parametrize("capability, expected", [((7, 5), "fp16"), ((8, 0), "bf16")])
def test_older_torch_is_answered_from_the_compute_capability(monkeypatch, capability, expected):
    def old_is_bf16_supported():  # torch < 2.5 has no including_emulation argument
        return True

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", old_is_bf16_supported)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert select_precision("cuda") == expected


def test_a_bad_device_is_refused_clearly():
    with pytest.raises(TypeError, match="device must be a torch.device"):
        select_precision(0)


def _tiny(**kw):
    values = dict(steps=6, n_train=32, n_test=4, size=16, widths=(8, 16), batch_size=8, checkpoint_every=2)
    values.update(kw)
    return make_config("reconstruction", "hin", "quick", 0, **values)


def test_results_record_the_precision(tmp_path):
    assert train(_tiny(steps=2), tmp_path, progress=False)["precision"] == "fp32"


def test_fp16_training_uses_a_gradient_scaler_and_resumes_it(tmp_path, monkeypatch):
    """The fp16 path (autocast + GradScaler), forced on the CPU: it trains, records "fp16",
    keeps the scaler's state in the checkpoint and restores it on resume."""
    monkeypatch.setattr(train_module, "select_precision", lambda device, amp=True, capability=None: "fp16")
    with pytest.raises(KeyboardInterrupt):
        train(_tiny(), tmp_path, interrupt_after=3, progress=False)
    saved = load_checkpoint(tmp_path / CHECKPOINT_NAME)["scaler"]
    assert saved["scale"] > 0 and saved["_growth_tracker"] >= 0

    loaded = []
    original = torch.amp.GradScaler.load_state_dict
    monkeypatch.setattr(torch.amp.GradScaler, "load_state_dict",
                        lambda self, state: (loaded.append(state), original(self, state))[1])
    results = train(_tiny(), tmp_path, resume=True, progress=False)
    assert results["precision"] == "fp16" and results["steps"] == 6
    assert loaded and loaded[0]["scale"] == saved["scale"]
    assert math.isfinite(results["metrics"]["psnr"])
