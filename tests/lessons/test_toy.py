"""The toy index-block trainer: it learns, it is reproducible, it refuses bad arguments."""
import pytest
import torch

from indexnet_edu import average_index, nearest_index
from indexnet_edu.data.images import load_image
from indexnet_edu.lessons.toy import reconstruct, reconstruction_error, train_index_block

SMALL = dict(steps=30, progress=False)


@pytest.fixture(scope="module")
def image():
    return load_image("camera", size=32)


@pytest.mark.parametrize("kind", ["hin", "o2o", "m2o"])
def test_training_lowers_the_reconstruction_loss(kind, image):
    result = train_index_block(kind, image=image, **SMALL)
    assert len(result.losses) == SMALL["steps"]
    assert result.losses[-1] < 0.5 * result.losses[0]


def test_nonlinear_context_block_trains_and_is_returned_in_eval_mode(image):
    result = train_index_block("m2o", image=image, nonlinear=True, context=True, **SMALL)
    assert result.losses[-1] < result.losses[0]
    assert not result.block.training


def test_same_seed_gives_identical_weights(image):
    first = train_index_block("hin", image=image, seed=3, **SMALL).block.state_dict()
    second = train_index_block("hin", image=image, seed=3, **SMALL).block.state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_different_seeds_give_different_weights(image):
    first = train_index_block("hin", image=image, seed=0, **SMALL).block.state_dict()
    second = train_index_block("hin", image=image, seed=1, **SMALL).block.state_dict()
    assert not all(torch.equal(first[name], second[name]) for name in first)


def test_training_leaves_the_callers_random_state_alone(image):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_index_block("hin", image=image, seed=7, **SMALL)
    assert torch.equal(torch.rand(3), expected)


def test_training_restores_the_callers_thread_count(image):
    before = torch.get_num_threads()
    train_index_block("hin", image=image, **SMALL)
    assert torch.get_num_threads() == before


def test_result_indices_and_reconstruction_have_the_image_shape(image):
    result = train_index_block("o2o", image=image, stride=4, **SMALL)
    enc, dec = result.indices()
    assert enc.shape == dec.shape == image.shape
    assert result.reconstruction().shape == image.shape


def test_default_image_and_name_are_accepted():
    result = train_index_block("hin", image="astronaut", steps=2, progress=False)
    assert result.image.shape == (1, 3, 64, 64)


def test_average_and_nearest_indices_reconstruct_as_window_means(image):
    out = reconstruct(image, average_index(image), nearest_index(image[..., ::2, ::2]))
    expected = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(image, 2), scale_factor=2)
    assert torch.allclose(out, expected, atol=1e-6)
    assert reconstruction_error(image, average_index(image), nearest_index(image[..., ::2, ::2])) > 0


@pytest.mark.parametrize("kwargs, error", [
    (dict(kind="o2m"), ValueError),
    (dict(stride=0), ValueError),
    (dict(stride=3), ValueError),
    (dict(steps=0), ValueError),
    (dict(steps=2.5), TypeError),
    (dict(lr=-1.0), ValueError),
    (dict(seed="zero"), TypeError),
    (dict(image="moon"), ValueError),
    (dict(image=torch.rand(3, 64, 64)), ValueError),
    (dict(image=torch.rand(1, 3, 30, 30), stride=4), ValueError),
])
def test_bad_arguments_raise(kwargs, error):
    with pytest.raises(error):
        train_index_block(**{"steps": 1, "progress": False, **kwargs})


@pytest.mark.parametrize("quick, shown", [("1", False), ("0", True)])
def test_progress_bar_is_off_in_quick_mode_unless_asked(monkeypatch, image, quick, shown):
    import indexnet_edu.lessons.toy as toy
    seen = []
    real = toy.tqdm
    monkeypatch.setattr(toy, "tqdm", lambda *args, **kwargs: seen.append(kwargs["disable"]) or real(*args, **kwargs))
    monkeypatch.setenv("INDEXNET_QUICK", quick)
    train_index_block("hin", image=image, steps=2)
    train_index_block("hin", image=image, steps=2, progress=False)
    assert seen == [not shown, True]
