"""The maintainer's tool that ships a run's weights: weights, config and step only, atomically,
at the path the lessons read."""
import pytest
import torch

from conftest import load_tool
from indexnet_edu.checkpoint import load_checkpoint
from indexnet_edu.experiments.config import make_config
from indexnet_edu.experiments.train import CHECKPOINT_NAME, load_trained_model, train


def test_a_shipped_checkpoint_holds_only_the_weights_and_loads_as_the_trained_model(tmp_path):
    tool = load_tool("ship_checkpoint")
    config = make_config("reconstruction", "nearest", steps=2, n_train=8, n_test=4, size=16, batch_size=4,
                         widths=(4, 8), seed=3)
    train(config, tmp_path / "run", progress=False)
    written = tool.ship_checkpoint(tmp_path / "run", tmp_path / "shipped")
    assert written == tmp_path / "shipped" / "reconstruction" / "nearest" / "seed3" / CHECKPOINT_NAME
    assert set(load_checkpoint(written)) == {"config", "step", "model"}
    assert not list(written.parent.glob(".*.tmp"))
    shipped, shipped_config = load_trained_model(written.parent)
    trained, _ = load_trained_model(tmp_path / "run")
    assert shipped_config == config
    for a, b in zip(shipped.state_dict().values(), trained.state_dict().values()):
        assert torch.equal(a, b)


def test_the_tool_answers_a_folder_without_a_checkpoint_in_one_line(tmp_path, capsys):
    tool = load_tool("ship_checkpoint")
    with pytest.raises(SystemExit) as exit_info:
        tool.main([str(tmp_path)])
    assert exit_info.value.code == 2 and "checkpoint.pt" in capsys.readouterr().err
