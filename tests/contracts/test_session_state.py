"""The package leaves the caller's session as it found it."""
import random

import matplotlib
import numpy as np
import pytest
import torch

from indexnet_edu.experiments import results
from indexnet_edu.experiments import train as train_module

pytestmark = pytest.mark.usefixtures("one_thread")


def rng_fingerprint():
    """The next draw of each global RNG, taken without consuming it."""
    torch_state, numpy_state, python_state = torch.get_rng_state(), np.random.get_state(), random.getstate()
    draws = (torch.rand(1).item(), float(np.random.rand()), random.random())
    torch.set_rng_state(torch_state)
    np.random.set_state(numpy_state)
    random.setstate(python_state)
    return draws


def one_result_table():
    table = results.ResultsTable()
    table.values[("reconstruction", "nearest")] = {"psnr": [20.0, 21.0]}
    table.seeds[("reconstruction", "nearest")] = [0, 1]
    return table


def test_render_report_keeps_the_matplotlib_backend(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    calls = []
    monkeypatch.setattr(matplotlib, "use", lambda *args, **kwargs: calls.append(args))
    backend = matplotlib.get_backend()
    written = results.render_report(one_result_table(), tmp_path)
    assert calls == [] and matplotlib.get_backend() == backend
    assert (tmp_path / "reconstruction_psnr.png").stat().st_size > 0 and len(written) == 2
    assert plt.get_fignums() == []  # no pyplot figure left open either


def test_train_leaves_the_global_rngs_where_they_were(tmp_path):
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    before = rng_fingerprint()
    config = train_module.make_config("reconstruction", "nearest", steps=1, n_train=8, n_test=4, size=16,
                                      batch_size=4, widths=(4, 8))
    train_module.train(config, tmp_path, progress=False)
    assert rng_fingerprint() == before


def test_a_refused_train_also_leaves_the_rngs_alone(tmp_path):
    before = rng_fingerprint()
    (tmp_path / "checkpoint.pt").write_bytes(b"junk")
    config = train_module.make_config("reconstruction", "nearest", steps=1)
    with pytest.raises(ValueError):
        train_module.train(config, tmp_path, resume=True, progress=False)
    assert rng_fingerprint() == before


def test_bench_main_restores_the_thread_count_even_when_the_suite_fails(tmp_path, monkeypatch):
    import indexnet_edu.bench.__main__ as bench_main

    def failing_suite(*args, **kwargs):
        assert torch.get_num_threads() == 2
        raise RuntimeError("suite failed")
    monkeypatch.setattr(bench_main, "run_suite", failing_suite)
    threads = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="suite failed"):
        bench_main.main(["--threads", "2", "--out", str(tmp_path)])
    assert torch.get_num_threads() == threads


def test_building_the_widgets_default_carafe_leaves_the_torch_rng_alone():
    from indexnet_edu.widgets.upsampling import default_carafe

    before = rng_fingerprint()
    first = default_carafe(4, 2, seed=3)
    assert rng_fingerprint() == before
    assert torch.equal(first.encoder.weight, default_carafe(4, 2, seed=3).encoder.weight)


def test_the_benchmark_pairs_are_seeded_without_touching_the_torch_rng():
    from indexnet_edu.bench.suite import _pair_and_input

    before = rng_fingerprint()
    pair, _ = _pair_and_input("carafe", 4, 8, "cpu", seed=1)
    assert rng_fingerprint() == before
    again, _ = _pair_and_input("carafe", 4, 8, "cpu", seed=1)
    assert torch.equal(pair.upsampler.encoder.weight, again.upsampler.encoder.weight)
