"""The synthetic datasets: content, determinism, the held-out split and seeded loader workers."""

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from indexnet_edu.data import (NUM_SEG_CLASSES, NUM_TEXTURE_CLASSES, TASKS, TEXTURE_CLASSES, default_trimap_radius,
                               make_dataset, make_loader, seed_worker, trimap_from_alpha)
from indexnet_edu.data.drawing import polygon_distance, random_strands, strand_alpha

SIZE = 32


def fresh(task, split="train", n=8, seed=0, **kwargs):
    return make_dataset(task, split=split, n=n, size=SIZE, seed=seed, cache=False, **kwargs)


def assert_same_sample(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# ---------------------------------------------------------------- what a sample holds
def test_tasks_are_the_four_data_sets():
    assert TASKS == ("matting", "reconstruction", "segmentation", "texture_regions")


@pytest.mark.parametrize("task, shapes", [
    ("matting", {"image": (3, SIZE, SIZE), "trimap": (1, SIZE, SIZE), "alpha": (1, SIZE, SIZE),
                 "fg": (3, SIZE, SIZE), "bg": (3, SIZE, SIZE)}),
    ("reconstruction", {"image": (3, SIZE, SIZE)}),
    ("segmentation", {"image": (3, SIZE, SIZE), "mask": (SIZE, SIZE)}),
    ("texture_regions", {"image": (3, SIZE, SIZE), "mask": (SIZE, SIZE)}),
])
def test_samples_have_the_documented_keys_shapes_and_dtypes(task, shapes):
    sample = fresh(task)[0]
    assert {key: tuple(value.shape) for key, value in sample.items()} == shapes
    for key, value in sample.items():
        assert value.dtype == (torch.int64 if key == "mask" else torch.float32), key
        if key != "mask":
            assert 0.0 <= value.min() and value.max() <= 1.0, key


def test_texture_region_classes_are_balanced():
    masks = torch.stack([sample["mask"] for sample in fresh("texture_regions", n=128)])
    shares = torch.bincount(masks.flatten(), minlength=NUM_TEXTURE_CLASSES).float() / masks.numel()
    assert masks.min() >= 0 and masks.max() < NUM_TEXTURE_CLASSES
    assert torch.all(shares > 0.15) and torch.all(shares < 0.35), shares


def test_texture_region_labels_follow_the_fill_texture():
    # "smooth" fills vary slowly; checkerboards and stripes flip colour every few pixels. Compare the
    # mean |horizontal difference| of the pixels each label covers (away from region edges).
    steps = {name: [] for name in TEXTURE_CLASSES}
    for sample in fresh("texture_regions", n=64):
        image, mask = sample["image"], sample["mask"]
        step = (image[:, :, 1:] - image[:, :, :-1]).abs().mean(dim=0)  # H×(W-1)
        inside = mask[:, 1:] == mask[:, :-1]
        for label, name in enumerate(TEXTURE_CLASSES):
            chosen = inside & (mask[:, 1:] == label)
            if chosen.any():
                steps[name].append(float(step[chosen].mean()))
    mean = {name: float(np.mean(values)) for name, values in steps.items()}
    assert mean["smooth"] < 0.5 * min(mean["stripes"], mean["checker"]), mean


def test_matting_image_is_the_composite_of_fg_and_bg_by_alpha():
    for sample in fresh("matting"):
        composite = sample["alpha"] * sample["fg"] + (1 - sample["alpha"]) * sample["bg"]
        assert torch.allclose(sample["image"], composite, atol=1e-6)


def test_matting_trimap_agrees_with_alpha():
    for sample in fresh("matting", n=12):
        alpha, trimap = sample["alpha"], sample["trimap"]
        assert set(torch.unique(trimap).tolist()) <= {0.0, 0.5, 1.0}
        assert torch.all(alpha[trimap == 1.0] == 1.0)
        assert torch.all(alpha[trimap == 0.0] == 0.0)
        assert torch.all(trimap[(alpha > 0) & (alpha < 1)] == 0.5)


def test_matting_alphas_are_8_bit_and_mostly_soft_at_the_boundary():
    soft_share = []
    for sample in fresh("matting", n=12):
        alpha = sample["alpha"].double()
        assert torch.allclose(alpha * 255, torch.round(alpha * 255), atol=1e-4)
        visible = alpha > 0
        soft_share.append(float(((alpha < 1) & visible).sum() / visible.sum()))
    assert np.mean(soft_share) > 0.1  # strands, fur and soft edges: not a binary mask


def test_trimap_dilates_the_band_by_a_euclidean_radius():
    alpha = np.zeros((9, 9))
    alpha[4, 4] = 0.5  # one fractional pixel; a radius-2 disc holds 1 + 4 + 4 + 4 = 13 lattice points
    trimap = trimap_from_alpha(alpha, 2)
    assert (trimap == 128).sum() == 13 and trimap[4, 6] == 128 and trimap[6, 6] == 0


def test_trimap_marks_both_sides_of_a_hard_edge():
    alpha = np.zeros((4, 6))
    alpha[:, 3:] = 1.0
    trimap = trimap_from_alpha(alpha, 0)
    assert (trimap[:, 2:4] == 128).all() and (trimap[:, :2] == 0).all() and (trimap[:, 4:] == 255).all()


def test_default_trimap_radius_is_the_papers_1_to_19_px_at_320():
    assert default_trimap_radius(320) == (1, 19)
    assert default_trimap_radius(64) == (1, 4)


def test_sub_pixel_strand_covers_a_fraction_of_a_pixel():
    line = np.array([[[5.0, 1.0], [5.0, 14.0]]], dtype=np.float32)  # horizontal, on pixel centres
    thin = strand_alpha(16, line, [0.4], [1.0])
    wide = strand_alpha(16, line, [1.0], [1.0])
    assert thin[5, 7] == pytest.approx(0.4) and thin[3, 7] == 0.0
    assert wide[5, 7] == pytest.approx(1.0) and wide[4, 7] == 0.0


@pytest.mark.parametrize("vertices", [[(1, 1), (1, 8), (8, 1)], [(8, 1), (1, 8), (1, 1)]])
def test_polygon_distance_is_positive_inside_whatever_the_vertex_order(vertices):
    distance = polygon_distance(10, vertices)
    assert distance[2, 2] == pytest.approx(1.0)  # one pixel from the edges y = 1 and x = 1
    assert distance[8, 8] < 0
    assert (distance > 0).sum() == 15  # the strict interior of the right triangle


def test_random_strands_have_the_requested_length():
    rng = np.random.default_rng(0)
    paths = random_strands(rng, np.zeros((5, 2)), np.zeros(5), np.full(5, 10.0), points=8)
    lengths = np.linalg.norm(np.diff(paths, axis=1), axis=2).sum(1)
    assert np.allclose(lengths, 10.0, atol=1e-4)


def test_segmentation_masks_use_every_class_with_large_regions():
    masks = torch.stack([sample["mask"] for sample in fresh("segmentation", n=24)])
    assert masks.min() >= 0 and masks.max() < NUM_SEG_CLASSES
    counts = torch.bincount(masks.ravel(), minlength=NUM_SEG_CLASSES)
    assert (counts > 0).all()
    assert (counts[1:].float() / len(masks)).mean() > 0.03 * SIZE * SIZE  # objects are not specks


# ---------------------------------------------------------------- determinism and splits
@pytest.mark.parametrize("task", TASKS)
def test_a_sample_depends_only_on_seed_split_and_index_not_on_access_order(task):
    forward = fresh(task, n=6)
    backward = fresh(task, n=6)
    late = [backward[i] for i in reversed(range(6))][::-1]
    for i in range(6):
        assert_same_sample(forward[i], late[i])


def test_different_seeds_give_different_training_data():
    assert not torch.equal(fresh("reconstruction", seed=0)[0]["image"], fresh("reconstruction", seed=1)[0]["image"])


def test_test_split_is_fixed_whatever_the_seed():
    assert_same_sample(fresh("matting", "test", seed=0)[2], fresh("matting", "test", seed=7)[2])


def test_test_split_differs_from_train_split():
    train, test = fresh("segmentation", "train"), fresh("segmentation", "test")
    assert not any(torch.equal(train[i]["image"], test[i]["image"]) for i in range(8))


def test_sample_i_does_not_depend_on_dataset_length():
    assert_same_sample(fresh("matting", n=4)[3], fresh("matting", n=50)[3])


def test_make_dataset_returns_one_shared_dataset_per_configuration():
    a = make_dataset("reconstruction", n=4, size=SIZE, seed=3)
    assert make_dataset("reconstruction", n=4, size=SIZE, seed=3) is a
    assert make_dataset("reconstruction", n=4, size=SIZE, seed=4) is not a


def test_modifying_a_returned_sample_leaves_the_dataset_intact():
    dataset = fresh("reconstruction", n=2)
    dataset[0]["image"].zero_()
    assert dataset[0]["image"].abs().sum() > 0


@pytest.mark.parametrize("kwargs, error", [
    ({"task": "depth"}, ValueError), ({"task": "matting", "split": "val"}, ValueError),
    ({"task": "matting", "n": 0}, ValueError), ({"task": "matting", "size": 4}, ValueError),
    ({"task": "matting", "seed": 1.5}, TypeError), ({"task": "matting", "seed": -1}, ValueError),
])
def test_bad_dataset_arguments_raise(kwargs, error):
    with pytest.raises(error):
        make_dataset(cache=False, **kwargs)


def test_index_out_of_range_raises_index_error():
    with pytest.raises(IndexError):
        fresh("reconstruction", n=2)[2]


# ---------------------------------------------------------------- the loader and its workers
def test_loader_batches_are_dicts_of_stacked_tensors():
    batch = next(iter(make_loader(fresh("matting"), batch_size=4, seed=0)))
    assert batch["image"].shape == (4, 3, SIZE, SIZE) and batch["trimap"].shape == (4, 1, SIZE, SIZE)


def test_loader_order_follows_its_seed():
    dataset = fresh("reconstruction", n=8)
    first = [b["image"] for b in make_loader(dataset, 2, seed=5)]
    again = [b["image"] for b in make_loader(dataset, 2, seed=5)]
    other = [b["image"] for b in make_loader(dataset, 2, seed=6)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_workers_yield_the_same_batches_as_the_main_process():
    dataset = fresh("segmentation", n=8)
    in_process = list(make_loader(dataset, 2, seed=1, num_workers=0))
    in_workers = list(make_loader(dataset, 2, seed=1, num_workers=2))
    for a, b in zip(in_process, in_workers):
        assert_same_sample(a, b)


class NumpyAugmented(Dataset):
    """Each item is one draw from NumPy's *global* RNG — what a naive augmentation does."""

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return torch.tensor(np.random.random())


def draws(loader):
    return torch.cat([batch for batch in loader]).tolist()


def test_two_workers_do_not_duplicate_global_rng_augmentations():
    epoch = draws(make_loader(NumpyAugmented(), 1, shuffle=False, seed=0, num_workers=2))
    assert len(set(epoch)) == 8  # worker 0 and worker 1 take turns; no draw repeats


def test_global_rng_augmentations_change_between_epochs_and_repeat_with_the_seed():
    loader = make_loader(NumpyAugmented(), 1, shuffle=False, seed=0, num_workers=2)
    first, second = draws(loader), draws(loader)
    assert first != second
    assert draws(make_loader(NumpyAugmented(), 1, shuffle=False, seed=0, num_workers=2)) == first


def test_seed_worker_seeds_numpy_from_the_workers_torch_seed():
    values = []
    for torch_seed in (11, 12, 11):
        torch.manual_seed(torch_seed)
        seed_worker(0)
        values.append(np.random.random())
    assert values[0] == values[2] != values[1]


def test_augmentation_flips_every_map_of_a_sample_together():
    dataset = fresh("matting", n=16, augment=True)
    plain = fresh("matting", n=16)
    torch.manual_seed(0)
    flipped = 0
    for i in range(16):
        sample, reference = dataset[i], plain[i]
        is_flipped = not torch.equal(sample["image"], reference["image"])
        flipped += is_flipped
        for key in sample:
            expected = reference[key].flip(-1) if is_flipped else reference[key]
            assert torch.equal(sample[key], expected), key
    assert 0 < flipped < 16


def test_augmented_batches_from_workers_repeat_with_the_loader_seed():
    dataset = fresh("matting", n=8, augment=True)
    first = list(make_loader(dataset, 2, seed=3, num_workers=2))
    again = list(make_loader(dataset, 2, seed=3, num_workers=2))
    for a, b in zip(first, again):
        assert_same_sample(a, b)


def test_a_sampler_sets_the_order():
    dataset = fresh("reconstruction", n=6)
    order = [4, 1, 5]
    batches = list(make_loader(dataset, 1, shuffle=True, sampler=order))
    for index, batch in zip(order, batches):
        assert torch.equal(batch["image"][0], dataset[index]["image"])


def test_bad_loader_arguments_raise():
    with pytest.raises(ValueError):
        make_loader(fresh("matting", n=2), batch_size=0)
    with pytest.raises(ValueError):
        make_loader(fresh("matting", n=2), batch_size=1, num_workers=-1)
    with pytest.raises(TypeError):
        make_loader([1, 2, 3], batch_size=1)


# ---------------------------------------------------------------- the on-disk cache
def test_materialized_dataset_is_reloaded_from_disk_without_regenerating(tmp_path, monkeypatch):
    first = fresh("matting", n=3, cache_dir=tmp_path).materialize()
    assert first.cache_path().is_dir()
    second = fresh("matting", n=3, cache_dir=tmp_path)

    def refuse(index):
        raise AssertionError("generated although the cache exists")

    monkeypatch.setattr(second, "generate", refuse)
    second.materialize()
    for i in range(3):
        assert_same_sample(second[i], fresh("matting", n=3)[i])
        assert second.arrays(i)["trimap"].dtype == np.uint8


def test_cache_directory_defaults_to_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("INDEXNET_DATA_CACHE", str(tmp_path))
    dataset = fresh("reconstruction", n=2).materialize()
    assert dataset.cache_path().parent == tmp_path and dataset.cache_path().is_dir()


def test_a_cache_with_the_wrong_number_of_samples_is_regenerated_with_a_warning(tmp_path):
    fresh("reconstruction", n=2, cache_dir=tmp_path).materialize()
    wrong = fresh("reconstruction", n=3, cache_dir=tmp_path)
    path = fresh("reconstruction", n=2, cache_dir=tmp_path).cache_path()
    path.rename(wrong.cache_path())
    with pytest.warns(RuntimeWarning, match=r"image\.npy holds float32 \(2, 32, 32, 3\), expected float32 \(3, 32"):
        wrong.materialize()
    assert_same_sample(wrong[2], fresh("reconstruction", n=3)[2])
