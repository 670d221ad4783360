"""The one table of tasks: every record agrees with the data it names and the metrics it is scored by."""
import pytest
import torch

from indexnet_edu.data import TASKS as DATA_SETS
from indexnet_edu.data import make_dataset
from indexnet_edu.experiments.tasks import (HIGHER_IS_BETTER, TASK_TABLE, TASKS, Task, learned_at_all, score,
                                            task_spec, trivial_baseline)


def test_tasks_is_the_tables_names_in_order():
    assert TASKS == tuple(TASK_TABLE) == ("matting", "matting_noskip", "reconstruction", "segmentation",
                                           "texture_regions")
    assert all(task.name == name for name, task in TASK_TABLE.items())


@pytest.mark.parametrize("name", TASKS)
def test_each_task_scores_its_primary_and_gate_metric_on_its_own_data(name):
    task = task_spec(name)
    assert task.data in DATA_SETS and task.kind in ("matting", "reconstruction", "segmentation")
    batch = next(iter(torch.utils.data.DataLoader(make_dataset(task.data, split="test", n=4, size=16), batch_size=4)))
    metrics = score(name, trivial_baseline(name, batch), batch)
    assert task.primary_metric in metrics and task.gate.metric in metrics and task.primary_metric in HIGHER_IS_BETTER
    if task.kind == "segmentation":
        assert task.classes == len(task.class_names) and int(batch["mask"].max()) < task.classes
    else:
        assert task.classes is None and task.class_names == ()


def test_task_spec_takes_a_name_or_a_task_and_refuses_anything_else():
    assert task_spec("texture_regions") is TASK_TABLE["texture_regions"]
    assert task_spec(TASK_TABLE["matting"]) is TASK_TABLE["matting"]
    with pytest.raises(ValueError, match="texture_regions"):
        task_spec("depth")
    with pytest.raises(TypeError):
        task_spec(3)


def test_the_gate_is_read_from_the_task_record():
    baseline = {"sad": 10.0, "psnr": 15.0, "miou": 0.1}
    assert learned_at_all("matting", {"sad": 6.0}, baseline) and not learned_at_all("matting", {"sad": 6.1}, baseline)
    assert learned_at_all("reconstruction", {"psnr": 18.0}, baseline)
    assert not learned_at_all(TASK_TABLE["reconstruction"], {"psnr": 17.9}, baseline)
    assert learned_at_all("texture_regions", {"miou": 0.2}, baseline)
    stricter = Task("strict", "reconstruction", "reconstruction", False, "psnr",
                    TASK_TABLE["reconstruction"].gate._replace(margin=5.0))
    assert not learned_at_all(stricter, {"psnr": 18.0}, baseline)
