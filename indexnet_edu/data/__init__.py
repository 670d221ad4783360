"""Data for the experiments, generated from a seed — nothing is downloaded.

>>> from indexnet_edu.data import make_dataset, make_loader, TASKS
>>> ds = make_dataset("matting", split="train", n=256, size=64, seed=0)
>>> batch = next(iter(make_loader(ds, batch_size=16, seed=0)))   # dict of B×C×H×W tensors

* matting — procedural foregrounds with hair, fur, wires, holes and translucent parts,
  composited on photographs or textures; trimap from the dilated unknown band;
* reconstruction — photo crops and procedural collages the network must reproduce;
* segmentation — shapes whose class is their outline (region-level context);
* texture_regions — regions labelled by their fill texture's kind (a region statistic).
"""
from .datasets import TASKS, SyntheticDataset, clear_dataset_cache, make_dataset, trimap_to_unit
from .matting import (TRIMAP_BACKGROUND, TRIMAP_FOREGROUND, TRIMAP_UNKNOWN, default_trimap_radius,
                      make_matting_sample, trimap_from_alpha, unknown_band)
from .reconstruction import make_reconstruction_sample
from .seeding import TEST_SET_SEED, make_loader, sample_rng, seed_worker
from .segmentation import NUM_SEG_CLASSES, SEG_CLASSES, make_segmentation_sample
from .texture_regions import NUM_TEXTURE_CLASSES, TEXTURE_CLASSES, make_texture_region_sample

__all__ = [
    "NUM_SEG_CLASSES", "NUM_TEXTURE_CLASSES", "SEG_CLASSES", "TEXTURE_CLASSES", "SyntheticDataset", "TASKS",
    "TEST_SET_SEED", "TRIMAP_BACKGROUND", "TRIMAP_FOREGROUND", "TRIMAP_UNKNOWN", "clear_dataset_cache",
    "default_trimap_radius", "make_dataset", "make_loader", "make_matting_sample", "make_reconstruction_sample",
    "make_segmentation_sample", "make_texture_region_sample", "sample_rng", "seed_worker", "trimap_from_alpha",
    "trimap_to_unit", "unknown_band",
]
