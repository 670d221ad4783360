"""compare_upsampler: a learner's module against the shipped arms — the contract, the pairing, the folder."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from indexnet_edu.experiments.compare import TRAIN_THREADS, _here_key, _pairing_key, compare_upsampler
from indexnet_edu.upsamplers.custom import CustomResampler, UpsamplerContractError, as_resampler, check_upsampler
from indexnet_edu.upsamplers.registry import available_upsamplers, create_upsampler
from indexnet_edu.shipped_files import RESULT_SETS, shipped_root
from indexnet_edu.experiments.results import result_path


class Bilinear(nn.Module):
    """The registry's bilinear arm written again from scratch, as a learner would."""

    def __init__(self, channels, stride):
        super().__init__()
        self.stride = stride

    def forward(self, y):
        return F.interpolate(y, scale_factor=self.stride, mode="bilinear", align_corners=False)


class Refine(nn.Module):
    """Bilinear plus a learned 3×3 correction that also reads the encoder feature."""

    def __init__(self, channels, stride):
        super().__init__()
        self.stride = stride
        self.mix = nn.Conv2d(2 * channels, channels, 3, padding=1)

    def forward(self, y, x):
        up = F.interpolate(y, scale_factor=self.stride, mode="bilinear", align_corners=False)
        return up + self.mix(torch.cat([up, x], 1))


def _module(forward, init=None):
    """A module class whose forward is ``forward(self, y)``; ``init(self, c, s)`` adds layers."""
    def __init__(self, channels, stride):
        nn.Module.__init__(self)
        self.stride = stride
        if init:
            init(self, channels, stride)
    return type("Broken", (nn.Module,), {"__init__": __init__, "forward": forward})


def _up(y, s=2):
    return F.interpolate(y, scale_factor=s, mode="nearest")


def _raise(message):
    raise RuntimeError(message)


BROKEN = {
    "no upsampling": (_module(lambda self, y: y), "expected output B×C×s·h×s·w = 2×16×12×20, got 2×16×6×10"),
    "swapped height and width": (_module(lambda self, y: _up(y).transpose(2, 3)), "got 2×16×20×12"),
    "wrong dtype": (_module(lambda self, y: _up(y).double()), "expected output dtype torch.float32"),
    "not a tensor": (_module(lambda self, y: _up(y).tolist()), "expected a tensor, got list"),
    "empty batch": (_module(lambda self, y: torch.stack([_up(t[None])[0] for t in y])), "batch 0: forward raised"),
    "no gradient": (_module(lambda self, y: _up(y.detach())), "does not depend on the input y"),
    "unused parameter": (_module(lambda self, y: _up(y), lambda self, c, s: setattr(self, "gain", nn.Parameter(
        torch.ones(c)))), "parameters that get no finite gradient (unused, or detached): gain"),
    "NaN output": (_module(lambda self, y: _up(y) * float("nan")), "NaN or infinite"),
    "in place": (_module(lambda self, y, x: (x.zero_(), _up(y))[1]), "changed its input in place"),
    "forward raises": (_module(lambda self, y: _raise("boom")), "forward raised RuntimeError: boom"),
    "three inputs": (_module(lambda self, y, x, z: _up(y)), "must take y (B×C×h×w) or (y, x), got 3"),
    "*args": (_module(lambda self, *inputs: _up(inputs[0])), "takes *args"),
    "constructor raises": (lambda channels, stride: _raise("bad width"), "(16, 2) raised RuntimeError: bad width"),
    "not a module": (lambda channels, stride: F.interpolate, "must return a torch.nn.Module, got function"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_module_gets_the_contracts_clear_error(case):
    factory, message = BROKEN[case]
    with pytest.raises(UpsamplerContractError) as raised:
        check_upsampler(factory)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_a_broken_module_is_refused_before_anything_trains(tmp_path):
    before = available_upsamplers()
    with pytest.raises(UpsamplerContractError, match="does not depend on the input y"):
        compare_upsampler(BROKEN["no gradient"][0], "broken", tasks=["reconstruction"], out=tmp_path / "c")
    assert available_upsamplers() == before
    assert not (tmp_path / "c").exists()


def test_the_package_offers_the_call_at_the_top():
    import indexnet_edu as ie

    assert ie.compare_upsampler is compare_upsampler and ie.check_upsampler is check_upsampler


def test_good_modules_pass_the_contract_and_run_as_a_stage():
    check_upsampler(Bilinear)
    check_upsampler(Refine, channels=(8, 12))
    check_upsampler(lambda c, s: create_upsampler("carafe", c, s))  # a Resampler is taken as it is
    stage = as_resampler(Refine)(8, 2)
    assert isinstance(stage, CustomResampler) and stage.reads_encoder
    x = torch.randn(1, 8, 16, 16)
    pooled, state = stage.down(x)
    assert torch.equal(state, x) and torch.equal(pooled, F.max_pool2d(x, 2))
    assert as_resampler(Bilinear)(8, 2).down(x)[1] is None  # a decoder-only module is given no encoder feature


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(name="bilinear"), ValueError, "already an upsampler of the suite"),
    (dict(name="My Upsampler"), ValueError, "lower-case letters"),
    (dict(tasks=["denoising"]), ValueError, "unknown task 'denoising'"),
    (dict(tasks="reconstruction"), TypeError, "lists of names"),
    (dict(against=["carafee"]), ValueError, "unknown upsampler 'carafee'"),
    (dict(preset="huge"), ValueError, "preset must be one of"),
    (dict(seeds=[-1]), ValueError, "seeds must be ints"),
])
def test_bad_arguments_are_named(tmp_path, kwargs, error, message):
    arguments = dict(name="mine", tasks=["reconstruction"], out=tmp_path / "c") | kwargs
    with pytest.raises(error, match=message):
        compare_upsampler(Bilinear, **arguments)
    with pytest.raises(TypeError, match="called as upsampler"):
        compare_upsampler(3, "mine")


def _matching_shipped_set() -> str | None:
    """The shipped result set made under this machine's pairing conditions, if any."""
    for folder in RESULT_SETS:
        record = json.loads(result_path(shipped_root() / folder, "reconstruction", "bilinear", 0).read_text())
        if _pairing_key(record) == _here_key():
            return folder
    return None


def test_an_identical_arm_reproduces_the_shipped_metrics_exactly(tmp_path):
    """Bilinear written anew, and the registry's CARAFE handed in as a learner's module, train on
    the shipped seed to the shipped numbers bit for bit: same data, batches and initialisation."""
    folder = _matching_shipped_set()
    if folder is None:
        pytest.skip(f"no shipped result set was made on this machine ({_here_key()}); "
                    "test_an_identical_arm_is_paired_with_its_reference covers the pairing")
    threads, rng = torch.get_num_threads(), torch.random.get_rng_state()
    for name, factory, arm in (("bilinear_again", Bilinear, "bilinear"),
                               ("carafe_again", lambda c, s: create_upsampler("carafe", c, s), "carafe")):
        result = compare_upsampler(factory, name, tasks=["reconstruction"], seeds=[0], against=[arm],
                                   out=tmp_path / name, progress=False)
        assert result.reference_sources[("reconstruction", arm)].startswith(f"shipped: {folder}")
        shipped = json.loads(result_path(shipped_root() / folder, "reconstruction", arm, 0).read_text())
        mine = json.loads(result_path(tmp_path / name, "reconstruction", name, 0).read_text())
        assert mine["metrics"] == shipped["metrics"]
        assert mine["parameters"] == shipped["parameters"]
        assert result.contrast("reconstruction", arm).differences == (0.0,)
    assert torch.get_num_threads() == threads and torch.equal(torch.random.get_rng_state(), rng)


def test_an_identical_arm_is_paired_with_its_reference(tmp_path):
    """Off the shipped preset the references train here, on the same seeds: an identical arm
    differs from bilinear by exactly 0 in every seed, and a different one does not."""
    out = tmp_path / "quick"
    result = compare_upsampler(Bilinear, "bilinear_again", tasks=["reconstruction"], preset="quick", seeds=[0, 1],
                               out=out, steps=12, progress=False)
    assert result.reference_sources == {("reconstruction", "bilinear"): "trained here"}
    assert result.contrast("reconstruction").differences == (0.0, 0.0)
    assert "no detectable difference" in result.contrast("reconstruction").verdict or \
        "learned-at-all" in result.contrast("reconstruction").verdict
    for name in ("comparison.md", "reconstruction_psnr.png", "upsamplers.json"):
        assert (out / name).stat().st_size > 0
    assert "bilinear_again − bilinear" in (out / "comparison.md").read_text()
    assert "bilinear_again" not in available_upsamplers()

    # Called again: nothing retrains (the finished runs are read back).
    stamp = result_path(out, "reconstruction", "bilinear_again", 0).stat().st_mtime_ns
    again = compare_upsampler(Bilinear, "bilinear_again", tasks=["reconstruction"], preset="quick", seeds=[0, 1],
                              out=out, steps=12, progress=False)
    assert result_path(out, "reconstruction", "bilinear_again", 0).stat().st_mtime_ns == stamp
    assert again.table.values == result.table.values

    # A run lost (deleted, or never finished): only it trains again, to the same numbers.
    result_path(out, "reconstruction", "bilinear_again", 1).unlink()
    resumed = compare_upsampler(Bilinear, "bilinear_again", tasks=["reconstruction"], preset="quick", seeds=[0, 1],
                                out=out, steps=12, progress=False)
    assert result_path(out, "reconstruction", "bilinear_again", 0).stat().st_mtime_ns == stamp
    assert resumed.table.values == result.table.values

    # Another module under the same name in the same folder is refused, not mixed in.
    with pytest.raises(ValueError, match="holds runs of another module called 'bilinear_again'"):
        compare_upsampler(Refine, "bilinear_again", tasks=["reconstruction"], preset="quick", seeds=[0, 1],
                          out=out, steps=12, progress=False)

    # A module that reads the encoder feature trains and differs from bilinear.
    refined = compare_upsampler(Refine, "refine", tasks=["reconstruction"], preset="quick", seeds=[0, 1],
                                out=out, steps=12, progress=False)
    assert all(d != 0 for d in refined.contrast("reconstruction").differences)
    assert [row.name for row in refined.costs] == ["refine", "bilinear"]
    assert refined.costs[0].parameters == 2 * 64 * 64 * 9 + 64


def test_training_threads_match_the_shipped_runs():
    for folder in RESULT_SETS:
        record = json.loads(result_path(shipped_root() / folder, "reconstruction", "bilinear", 0).read_text())
        assert record["machine"]["torch_threads"] == TRAIN_THREADS


def test_the_explorer_shows_a_learners_upsampler_beside_the_others():
    from indexnet_edu.widgets import UPSAMPLERS, UpsamplingExplorer, explore_upsampling
    from indexnet_edu.widgets.apps import UpsamplingApp

    explorer = UpsamplingExplorer(size=32, extra_upsamplers={"mine": Refine, "again": Bilinear})
    assert explorer.names == UPSAMPLERS + ("mine", "again")
    view = explorer.view
    assert torch.equal(view.outputs["again"], view.outputs["bilinear"])  # the same operator, the same picture
    assert view.outputs["mine"].shape == view.image.shape and view.labels["mine"] == "mine (yours)"
    tables = explorer.kernel_tables()
    assert "no reassembly kernel" in tables["mine"] and "<table" in tables["bilinear"]
    app = UpsamplingApp(explorer)
    assert set(app.titles) == set(explorer.names)
    assert app.images["mine/output"].value  # a picture was drawn
    with pytest.raises(ValueError, match="names of their own"):
        UpsamplingExplorer(size=32, extra_upsamplers={"bilinear": Bilinear})
    with pytest.raises(TypeError, match="callable as factory"):
        UpsamplingExplorer(size=32, extra_upsamplers={"mine": 3})
    image = torch.rand(1, 1, 16, 16)
    with pytest.raises(ValueError, match="returned"):
        explore_upsampling(image, 2, extra={"flat": _Flat()})


class _Flat:
    """A stage whose up forgets to upsample (the explorer's own shape check)."""

    def down(self, x):
        return F.max_pool2d(x, 2), None

    def up(self, y, state):
        return y
