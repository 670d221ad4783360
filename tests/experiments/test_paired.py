"""Paired arms: for one seed, changing only the upsampler changes nothing else (init, data, flips)."""
import pytest
import torch

import indexnet_edu.experiments.train as train_module
from indexnet_edu.models import LightEncoderDecoder
from indexnet_edu.experiments.tasks import build_model
from indexnet_edu.experiments.train import train
from indexnet_edu.experiments.config import make_config

pytestmark = pytest.mark.usefixtures("one_thread")

ARMS = ["nearest", "deconv", "pixel_shuffle", "max_unpool", "carafe", "dysample", "hin", "din_o2o", "din_m2o",
        "din_m2o_nl_ctx", "din_o2o_modelwise"]


def shared_state(model):
    return {k: v for k, v in model.state_dict().items() if not k.startswith("resamplers.")}


def build(name, seed=3, skips=True):
    torch.manual_seed(seed)
    model = LightEncoderDecoder(4, 1, name, (8, 16, 32), skips=skips)
    return model, torch.get_rng_state()


@pytest.mark.parametrize("name", ARMS)
@pytest.mark.parametrize("skips", [True, False])
def test_shared_layers_start_identical_whatever_the_upsampler(name, skips):
    reference, reference_rng = build("bilinear", skips=skips)
    model, rng = build(name, skips=skips)
    expected, got = shared_state(reference), shared_state(model)
    assert list(expected) == list(got)
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    # ... and the global RNG ends where it does for bilinear, so the augmentation drawn next is the same.
    assert torch.equal(rng, reference_rng)


def test_resamplers_differ_between_seeds_and_repeat_within_one():
    first, second, other = build("hin", seed=1)[0], build("hin", seed=1)[0], build("hin", seed=2)[0]
    key = next(k for k in first.state_dict() if k.startswith("resamplers.") and k.endswith("weight"))
    assert torch.equal(first.state_dict()[key], second.state_dict()[key])
    assert not torch.equal(first.state_dict()[key], other.state_dict()[key])


def test_shared_layers_differ_between_seeds():
    a, b = shared_state(build("bilinear", seed=1)[0]), shared_state(build("bilinear", seed=2)[0])
    assert not torch.equal(a["encoder.0.0.weight"], b["encoder.0.0.weight"])


@pytest.mark.parametrize("task", ["matting_noskip", "texture_regions", "reconstruction"])
def test_task_models_pair_their_shared_layers(task):
    states = []
    for name in ("bilinear", "carafe"):
        torch.manual_seed(0)
        states.append(shared_state(build_model(task, name, "light", (8, 16, 32))))
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_every_arm_of_a_seed_trains_on_identical_batches(tmp_path, monkeypatch):
    seen = {}

    def recording_inputs(task, batch, _original=train_module.model_inputs):
        seen.setdefault(current, []).append(_original(task, batch).clone())
        return _original(task, batch)

    monkeypatch.setattr(train_module, "model_inputs", recording_inputs)
    for current, seed in (("bilinear", 1), ("carafe", 1), ("din_m2o", 1), ("bilinear-seed2", 2)):
        config = make_config("texture_regions", current.split("-")[0], "quick", seed=seed, steps=4, n_train=32,
                             n_test=16, widths=(8, 16, 32))
        train(config, tmp_path / current, progress=False)
    assert len(seen["bilinear"]) == 4 + 1  # 4 training steps, then the 16 test images in one batch
    for name in ("carafe", "din_m2o"):
        assert len(seen[name]) == len(seen["bilinear"])
        assert all(torch.equal(a, b) for a, b in zip(seen[name], seen["bilinear"]))
    # not vacuous: another seed sees other batches
    assert not all(torch.equal(a, b) for a, b in zip(seen["bilinear-seed2"][:4], seen["bilinear"][:4]))
