"""The tasks' data as PyTorch datasets: deterministic, generated on demand, memoised.

Sample ``i`` is a pure function of (task, split, seed, i, size, options) — see
:func:`~indexnet_edu.data.seeding.sample_rng` — so any worker can build any sample and get
the same pixels. A generated sample is kept in memory; :func:`make_dataset` hands out one
shared dataset per configuration, so a sweep generates its data once per process.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset
from .._progress import tqdm

from .._checks import check_choice, check_flag, check_positive_int, check_seed
from ..checkpoint import current_umask
from .matting import TRIMAP_FOREGROUND, TRIMAP_UNKNOWN, check_trimap_radius, make_matting_sample
from .reconstruction import make_reconstruction_sample
from .seeding import SPLITS, data_seed, sample_rng
from .segmentation import make_segmentation_sample
from .texture_regions import make_texture_region_sample

TASKS = ("matting", "reconstruction", "segmentation", "texture_regions")
# Bump when a generator changes what it draws, so stale on-disk caches are not reused.
DATA_VERSION = 1
CACHE_ENV = "INDEXNET_DATA_CACHE"

#: What a sample of each task holds: array name → (shape after H×W, dtype). The on-disk cache
#: is checked against it.
SAMPLE_LAYOUT = {
    "matting": {"image": ((3,), "float32"), "trimap": ((), "uint8"), "alpha": ((), "float32"),
                "fg": ((3,), "float32"), "bg": ((3,), "float32")},
    "reconstruction": {"image": ((3,), "float32")},
    "segmentation": {"image": ((3,), "float32"), "mask": ((), "int64")},
    "texture_regions": {"image": ((3,), "float32"), "mask": ((), "int64")},
}

_GENERATORS: dict[str, Callable[..., dict[str, np.ndarray]]] = {
    "matting": make_matting_sample,
    "reconstruction": make_reconstruction_sample,
    "segmentation": make_segmentation_sample,
    "texture_regions": make_texture_region_sample,
}


def trimap_to_unit(trimap: np.ndarray) -> np.ndarray:
    """uint8 trimap 0/128/255 → float32 0/0.5/1 (exactly; 128/255 would not be 0.5)."""
    unit = np.zeros(trimap.shape, dtype=np.float32)
    unit[trimap == TRIMAP_UNKNOWN] = 0.5
    unit[trimap == TRIMAP_FOREGROUND] = 1.0
    return unit


def _to_tensors(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """NumPy sample (H×W×3 colour, H×W maps) → tensors (3×H×W, 1×H×W; mask stays H×W int64)."""
    out = {}
    for key, value in arrays.items():
        if key == "mask":
            out[key] = torch.from_numpy(np.array(value, dtype=np.int64))
        elif key == "trimap":
            out[key] = torch.from_numpy(trimap_to_unit(value))[None]
        elif value.ndim == 3:
            out[key] = torch.from_numpy(np.array(value.transpose(2, 0, 1), dtype=np.float32))
        else:
            out[key] = torch.from_numpy(np.array(value, dtype=np.float32))[None]
    return out


def _check_options(task: str, options: dict) -> dict:
    """Generator options, checked now (not when the first sample is drawn): names the task's
    generator takes, and for matting a valid ``trimap_radius``."""
    known = [name for name in inspect.signature(_GENERATORS[task]).parameters if name not in ("rng", "size")]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown} for task {task!r}; it takes {known or 'none'}")
    options = dict(options)
    if "trimap_radius" in options:
        options["trimap_radius"] = check_trimap_radius(options["trimap_radius"])
    return options


def _version_tag(task: str, size: int, options: dict) -> str:
    """A short, stable tag of everything that shapes the pixels (for cache file names)."""
    text = repr((DATA_VERSION, task, size, sorted((k, repr(v)) for k, v in options.items())))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


class SyntheticDataset(Dataset):
    """``n`` samples of one task and split at ``size``×``size`` pixels.

    ``ds[i]`` is a dict of tensors (see :func:`make_dataset`); ``ds.arrays(i)`` the same
    sample as NumPy arrays (H×W×3 colour, H×W maps) with the trimap as uint8 0/128/255 —
    what the metrics take. ``augment=True`` mirrors each loaded sample left-right with
    probability ½, drawn from torch's global RNG — per worker in a DataLoader, reproducible
    through its generator.

    ``cache_dir``: :meth:`materialize` stores the generated arrays there as ``.npy`` files
    (written to a temporary folder, then renamed) and later processes memory-map them
    instead of generating again — side-by-side jobs of a sweep share one copy.
    """

    def __init__(self, task: str, split: str = "train", n: int = 256, size: int = 64, seed: int = 0,
                 augment: bool = False, cache_dir=None, **options):
        self.task = check_choice(task, "task", TASKS)
        self.split = check_choice(split, "split", SPLITS)
        self.n = check_positive_int(n, "n")
        self.size = check_positive_int(size, "size")
        if self.size < 8:
            raise ValueError(f"size must be at least 8 pixels, got {size}")
        seed = check_seed(seed, "seed")  # one seed range everywhere (training seeds NumPy with it)
        self.seed = data_seed(split, seed)
        self.augment = check_flag(augment, "augment")
        self.options = _check_options(self.task, options)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._arrays: dict[int, dict[str, np.ndarray]] = {}
        self._stacked: dict[str, np.ndarray] | None = None  # n×… arrays once materialised from disk

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return (f"SyntheticDataset(task={self.task!r}, split={self.split!r}, n={self.n}, size={self.size}, "
                f"seed={self.seed}, augment={self.augment})")

    def _check_index(self, index) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        index = int(index)
        if index < 0:
            index += self.n
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for a dataset of {self.n} samples")
        return index

    def generate(self, index: int) -> dict[str, np.ndarray]:
        """Build sample ``index`` from its own generator (no memo, no cache)."""
        rng = sample_rng(self.task, self.split, self.seed, self._check_index(index))
        return _GENERATORS[self.task](rng, self.size, **self.options)

    def arrays(self, index: int) -> dict[str, np.ndarray]:
        """Sample ``index`` as read-only NumPy arrays; generated once, then remembered."""
        index = self._check_index(index)
        if self._stacked is not None:
            return {key: value[index] for key, value in self._stacked.items()}
        if index not in self._arrays:
            sample = self.generate(index)
            for value in sample.values():
                value.flags.writeable = False
            self._arrays[index] = sample
        return self._arrays[index]

    def __getitem__(self, index) -> dict[str, torch.Tensor]:
        sample = _to_tensors(self.arrays(index))  # fresh tensors: callers may modify them
        if self.augment and bool(torch.rand(()) < 0.5):
            return {key: value.flip(-1) for key, value in sample.items()}
        return sample

    def cache_path(self) -> Path | None:
        """Where :meth:`materialize` keeps this dataset's arrays (None without ``cache_dir``)."""
        if self.cache_dir is None:
            return None
        tag = _version_tag(self.task, self.size, self.options)
        return self.cache_dir / f"{self.task}-{self.split}-n{self.n}-size{self.size}-seed{self.seed}-{tag}"

    def materialize(self, progress: bool = False) -> "SyntheticDataset":
        """Generate every sample now (e.g. before forking DataLoader workers, so they share it).

        With a ``cache_dir`` the arrays are loaded from (or saved to) disk, memory-mapped. A
        cached folder is validated first (every array present, readable, of the expected
        shape, dtype and first sample, finite); a damaged one is regenerated with a warning
        naming what was wrong. A cache that cannot be written (a full disk, a read-only
        folder) leaves the dataset in memory, with a warning.
        """
        if self._stacked is not None:
            return self
        path = self.cache_path()
        if path is not None and path.is_dir():
            problem = self._load(path)
            if problem is None:
                return self
            warnings.warn(f"the data cache {path} is unusable ({problem}); regenerating it", RuntimeWarning,
                          stacklevel=2)
        missing = [i for i in range(self.n) if i not in self._arrays]
        for index in tqdm(missing, desc=f"{self.task}/{self.split}", disable=not progress or not missing):
            self.arrays(index)
        if path is not None:
            try:
                self._save(path)
                problem = self._load(path)
            except OSError as error:  # a full disk, a read-only folder
                problem = f"{type(error).__name__}: {error}"
            if problem is not None:  # the samples are all in memory: go on with them, and say so
                warnings.warn(f"the data cache {path} could not be written ({problem}); this dataset stays in "
                              f"memory only (free space there, or point {CACHE_ENV} at another folder)",
                              RuntimeWarning, stacklevel=2)
        return self

    def _save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=path.name + ".tmp-", dir=path.parent))
        try:
            os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp's 0700 would hide it from collaborators
            for key in self._arrays[0]:
                np.save(staging / f"{key}.npy", np.stack([self._arrays[i][key] for i in range(self.n)]))
            if path.is_dir():  # a damaged cache: move it aside first (os.replace needs an empty target)
                discard = Path(tempfile.mkdtemp(prefix=path.name + ".broken-", dir=path.parent))
                os.replace(path, discard / "old")
                shutil.rmtree(discard, ignore_errors=True)
            os.replace(staging, path)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not path.is_dir():  # not a lost race with another process: a real failure
                raise

    def _load(self, path: Path) -> str | None:
        """Memory-map a cached folder after checking every array against :data:`SAMPLE_LAYOUT`
        (present, readable, n×size×size(×3) of the right dtype, finite); returns what is wrong
        with it (keeping nothing) or None."""
        stacked = {}
        for key, (trailing, dtype) in SAMPLE_LAYOUT[self.task].items():
            file = path / f"{key}.npy"
            if not file.is_file():
                return f"{file.name} is missing"
            try:
                array = np.load(file, mmap_mode="r")
            except (ValueError, OSError, EOFError) as error:  # truncated or not a .npy file
                return f"{file.name} cannot be read: {error}"
            shape = (self.n, self.size, self.size) + trailing
            if array.shape != shape or array.dtype != np.dtype(dtype):
                return f"{file.name} holds {array.dtype} {array.shape}, expected {dtype} {shape}"
            if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
                return f"{file.name} holds NaN or infinite values"
            stacked[key] = array
        self._stacked = stacked
        self._arrays.clear()
        return None


_CACHE: dict[tuple, SyntheticDataset] = {}


def make_dataset(task: str, split: str = "train", n: int = 256, size: int = 64, seed: int = 0,
                 augment: bool = False, cache: bool = True, cache_dir=None, **options) -> SyntheticDataset:
    """The dataset of ``task`` ("matting", "reconstruction", "segmentation" or "texture_regions").

    Samples (dicts of float32 tensors unless said):

    * matting — image 3×H×W in [0, 1]; trimap 1×H×W in {0, 0.5, 1} (0/128/255 scaled);
      alpha 1×H×W; fg 3×H×W; bg 3×H×W; image = alpha·fg + (1 − alpha)·bg.
    * reconstruction — image 3×H×W in [0, 1].
    * segmentation — image 3×H×W in [0, 1]; mask H×W int64 in [0, NUM_SEG_CLASSES).
    * texture_regions — image 3×H×W in [0, 1]; mask H×W int64 in [0, NUM_TEXTURE_CLASSES).

    ``split="test"`` is the fixed held-out set: it ignores ``seed`` (every caller gets the
    same images) and draws from a different random stream than any train split. With
    ``cache`` (default) the same configuration returns the same dataset object, so samples
    are generated once per process. ``cache_dir`` (default: the ``INDEXNET_DATA_CACHE`` environment variable, if
    set) keeps materialised datasets on disk for other processes; see :class:`SyntheticDataset`.
    ``options`` go to the task's generator (matting: ``trimap_radius=(low, high)``).
    """
    check_choice(task, "task", TASKS)
    check_choice(split, "split", SPLITS)
    if cache_dir is None and os.environ.get(CACHE_ENV):
        cache_dir = os.environ[CACHE_ENV]
    if not cache:
        return SyntheticDataset(task, split, n, size, seed, augment, cache_dir, **options)
    key = (task, split, n, size, data_seed(split, seed) if isinstance(seed, int) else seed, bool(augment),
           str(cache_dir), tuple(sorted((name, repr(value)) for name, value in options.items())))
    if key not in _CACHE:
        _CACHE[key] = SyntheticDataset(task, split, n, size, seed, augment, cache_dir, **options)
    return _CACHE[key]


def clear_dataset_cache() -> None:
    """Forget every dataset :func:`make_dataset` has handed out (frees their memory)."""
    _CACHE.clear()
