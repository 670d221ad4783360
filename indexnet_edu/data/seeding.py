"""Random numbers you can reproduce: one generator per sample, seeded DataLoader workers.

Two separate sources of randomness, kept apart on purpose:

* **Content** — what sample ``i`` looks like — comes from :func:`sample_rng`, a NumPy
  ``Generator`` built from ``SeedSequence([task, split, seed, i])``. It never touches global
  RNG state, so sample ``i`` is the same whichever worker builds it, in whatever order.
* **Augmentation** — a random flip drawn each time a sample is *loaded* — uses the global
  RNGs of the process that loads it. In DataLoader workers those must differ per worker and
  per epoch: the known reproduction trap is NumPy's global state copied verbatim
  into every forked worker, so all workers draw the same "random" augmentations.
  :func:`make_loader` passes :func:`seed_worker` and a seeded ``torch.Generator``.
  (PyTorch ≥ 1.9 also seeds NumPy in each worker by itself; the explicit ``worker_init_fn``
  keeps the guarantee visible and independent of the PyTorch version.)
"""
from __future__ import annotations

import random
import zlib

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .._checks import check_nonnegative_int, check_positive_int, check_seed

SPLITS = ("train", "test")
# The held-out test set ignores the caller's seed: every run evaluates on the same images.
TEST_SET_SEED = 20190827


def _name_code(name: str) -> int:
    """A stable integer for a name (Python's ``hash`` of a str changes between processes)."""
    return zlib.crc32(name.encode("utf-8"))


def data_seed(split: str, seed: int) -> int:
    """The seed a split is generated from: the caller's for "train", a fixed one for "test"."""
    return TEST_SET_SEED if split == "test" else int(seed)


def sample_rng(task: str, split: str, seed: int, index: int) -> np.random.Generator:
    """The generator for sample ``index`` of (task, split, seed) — independent of any global state.

    The train and test splits draw from different streams (the split name is part of the
    entropy), so they never share a sample.
    """
    entropy = [_name_code(task), _name_code(split), data_seed(split, seed), int(index)]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed NumPy's and Python's global RNGs from this worker's torch seed.

    PyTorch gives each worker ``torch.initial_seed() = base_seed + worker_id``, with
    ``base_seed`` drawn from the loader's generator at the start of every epoch, so the seeds
    differ per worker and per epoch, yet repeat exactly for the same loader seed.
    """
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool = True, seed: int = 0,
                num_workers: int = 0, drop_last: bool = False, sampler=None,
                pin_memory: bool = False, persistent_workers: bool = False) -> DataLoader:
    """A DataLoader whose order and worker augmentations follow ``seed`` and nothing else.

    Batches are dicts of stacked tensors (B×C×H×W images). ``sampler`` (e.g. a
    ``DistributedSampler``) replaces shuffling. With workers, a dataset that can
    ``materialize()`` (a :class:`~indexnet_edu.data.datasets.SyntheticDataset`) is generated
    once here, in the parent, so forked workers share it instead of regenerating it.

    Raises:
        TypeError: a non-int ``batch_size``, ``seed`` or ``num_workers`` (e.g. ``seed=1.5``;
            NumPy ints are fine, bools are not), or a ``dataset`` that is not a torch Dataset.
        ValueError: ``batch_size`` < 1, ``seed`` or ``num_workers`` < 0.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    num_workers = check_nonnegative_int(num_workers, "num_workers")
    seed = check_seed(seed, "seed")
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a torch Dataset, got {type(dataset).__name__}")
    if sampler is not None and shuffle:
        shuffle = False  # the sampler owns the order (DistributedSampler shuffles per epoch itself)
    if num_workers > 0 and hasattr(dataset, "materialize"):
        dataset.materialize()
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, sampler=sampler,
                      num_workers=num_workers, drop_last=drop_last, pin_memory=pin_memory,
                      worker_init_fn=seed_worker, generator=generator,
                      persistent_workers=persistent_workers and num_workers > 0)
