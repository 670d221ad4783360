"""Caches are per user, private and validated; results files follow the umask."""
import errno
import os
import stat
import tempfile

import numpy as np
import pytest

from indexnet_edu import cache
from indexnet_edu.checkpoint import atomic_save, atomic_write_json, atomic_write_text
from indexnet_edu.data import make_dataset
from indexnet_edu.data.datasets import SAMPLE_LAYOUT
from indexnet_edu.lessons.training_views import lesson_results_dir


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "indexnet_edu"


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_the_lesson_run_cache_lives_in_the_users_cache_not_the_shared_temp_folder(private_cache):
    folder = lesson_results_dir(10)
    assert folder.parent == private_cache / "lessons"
    assert not str(folder).startswith(tempfile.gettempdir() + os.sep + "indexnet_edu_lessons")


def test_every_level_of_the_lesson_cache_is_private(private_cache):
    folder = lesson_results_dir(10)
    assert {mode(p) for p in (private_cache, private_cache / "lessons", folder)} == {0o700}


def test_an_environment_variable_overrides_the_cache_location(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "mine"))
    assert lesson_results_dir(10).parent == tmp_path / "mine" / "lessons"


def test_a_symlinked_cache_folder_is_refused(private_cache, tmp_path):
    private_cache.parent.mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    private_cache.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(cache.UnsafeCacheError, match="is a symbolic link"):
        lesson_results_dir(10)


def test_a_planted_symlink_inside_the_cache_is_refused(private_cache, tmp_path):
    (tmp_path / "attacker").mkdir(mode=0o700)
    (private_cache / "lessons").mkdir(parents=True, mode=0o700)
    os.chmod(private_cache, 0o700)
    digest_dir = lesson_results_dir(10)
    digest_dir.rmdir()
    digest_dir.symlink_to(tmp_path / "attacker")
    with pytest.raises(cache.UnsafeCacheError, match="is a symbolic link"):
        lesson_results_dir(10)


def test_a_world_writable_cache_folder_is_refused(private_cache):
    private_cache.mkdir(parents=True)
    os.chmod(private_cache, 0o777)
    with pytest.raises(cache.UnsafeCacheError, match=r"writable by other users \(mode 0777\); run `chmod 700"):
        lesson_results_dir(10)


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="chown to another user needs root")
def test_a_cache_folder_owned_by_another_user_is_refused(private_cache):
    private_cache.mkdir(parents=True, mode=0o700)
    os.chown(private_cache, 12345, 12345)
    with pytest.raises(cache.UnsafeCacheError, match=r"belongs to another user \(uid 12345\)"):
        lesson_results_dir(10)


# ---------------------------------------------------------------- the data cache validates what it maps
@pytest.fixture
def cached(tmp_path):
    dataset = make_dataset("matting", n=3, size=16, cache=False, cache_dir=tmp_path).materialize()
    return dataset.cache_path()


def reload(tmp_path):
    return make_dataset("matting", n=3, size=16, cache=False, cache_dir=tmp_path)


def damage_and_reload(tmp_path, path, damage, message):
    damage(path)
    dataset = reload(tmp_path)
    with pytest.warns(RuntimeWarning, match=message):
        dataset.materialize()
    expected = make_dataset("matting", n=3, size=16, cache=False)
    for key in SAMPLE_LAYOUT["matting"]:
        assert np.array_equal(dataset.arrays(2)[key], expected.arrays(2)[key])
    assert reload(tmp_path).materialize()._stacked is not None  # the cache is whole again


def test_a_cache_missing_an_array_is_regenerated(tmp_path, cached):
    damage_and_reload(tmp_path, cached, lambda p: (p / "alpha.npy").unlink(), "alpha.npy is missing")


def test_a_truncated_cache_file_is_regenerated_naming_the_file(tmp_path, cached):
    def truncate(path):
        data = (path / "image.npy").read_bytes()
        (path / "image.npy").write_bytes(data[:len(data) // 2])
    damage_and_reload(tmp_path, cached, truncate, "image.npy cannot be read")


def test_an_all_nan_cache_array_is_regenerated(tmp_path, cached):
    def poison(path):
        np.save(path / "alpha.npy", np.full((3, 16, 16), np.nan, np.float32))
    damage_and_reload(tmp_path, cached, poison, "alpha.npy holds NaN or infinite values")


def test_a_cache_array_of_the_wrong_size_is_regenerated(tmp_path, cached):
    def shrink(path):
        np.save(path / "fg.npy", np.zeros((3, 8, 8, 3), np.float32))
    damage_and_reload(tmp_path, cached, shrink,
                      r"fg.npy holds float32 \(3, 8, 8, 3\), expected float32 \(3, 16, 16, 3\)")


def test_a_cache_array_of_the_wrong_dtype_is_regenerated(tmp_path, cached):
    def retype(path):
        np.save(path / "trimap.npy", np.zeros((3, 16, 16), np.float64))
    damage_and_reload(tmp_path, cached, retype, "trimap.npy holds float64")


def test_sample_layout_describes_what_the_generators_make():
    from indexnet_edu.data.datasets import TASKS

    assert set(SAMPLE_LAYOUT) == set(TASKS)  # every task's cache can be validated (texture_regions was missing)
    for task, layout in SAMPLE_LAYOUT.items():
        sample = make_dataset(task, n=1, size=16, cache=False).arrays(0)
        assert {k: (v.shape[2:], str(v.dtype)) for k, v in sample.items()} == layout


# ---------------------------------------------------------------- results files follow the umask
@pytest.mark.parametrize("write", [
    lambda path: atomic_write_json({"a": 1}, path),
    lambda path: atomic_write_text("text", path),
    lambda path: atomic_save({"step": 1}, path),
])
def test_results_files_get_the_umasks_normal_permissions_not_0600(tmp_path, umask_022, write):
    write(tmp_path / "file")
    assert mode(tmp_path / "file") == 0o644


def test_results_files_follow_a_stricter_umask_too(tmp_path):
    previous = os.umask(0o027)
    try:
        atomic_write_json({"a": 1}, tmp_path / "file.json")
    finally:
        os.umask(previous)
    assert mode(tmp_path / "file.json") == 0o640


def test_the_data_cache_folder_is_readable_by_collaborators(tmp_path, umask_022):
    path = make_dataset("reconstruction", n=2, size=16, cache=False, cache_dir=tmp_path).materialize().cache_path()
    assert mode(path) == 0o755 and mode(path / "image.npy") == 0o644


@pytest.mark.parametrize("failure", [errno.ENOSPC, errno.EROFS])
def test_a_data_cache_that_cannot_be_written_leaves_the_dataset_in_memory(tmp_path, monkeypatch, failure):
    # A full disk or a read-only folder: np.save fails part-way. The samples are all generated,
    # so the run goes on from memory, says so once, and leaves no half-written folder behind.
    def refuse(file, *args, **kwargs):
        raise OSError(failure, os.strerror(failure), str(file))

    monkeypatch.setattr(np, "save", refuse)
    dataset = reload(tmp_path)
    with pytest.warns(RuntimeWarning, match=f"could not be written.*{os.strerror(failure)}.*in memory only"):
        dataset.materialize()
    expected = make_dataset("matting", n=3, size=16, cache=False)
    for key in SAMPLE_LAYOUT["matting"]:
        assert np.array_equal(dataset[2][key].numpy(), expected[2][key].numpy())
    assert not any(tmp_path.iterdir()), "a failed write left files in the cache folder"


def test_an_uncreatable_lesson_cache_falls_back_to_a_private_temporary_folder(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache root should be")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker / "cache"))  # mkdir fails: NotADirectoryError
    monkeypatch.setattr("indexnet_edu.lessons.training_views._TEMPORARY_RESULTS", {})
    with pytest.warns(RuntimeWarning, match="lesson cache cannot be created.*not kept for later") as said:
        first = lesson_results_dir(7)
    assert len(said) == 1
    assert first.is_dir() and mode(first) == 0o700
    assert lesson_results_dir(7) == first  # the same folder for the rest of the session, said once
    first.rmdir()


def test_paths_in_lesson_output_show_the_home_folder_as_a_tilde(tmp_path):
    from pathlib import Path

    from indexnet_edu.cache import display_path

    assert display_path(Path.home() / ".cache" / "indexnet_edu" / "x") == str(Path("~/.cache/indexnet_edu/x"))
    outside = tmp_path if not str(tmp_path).startswith(str(Path.home())) else Path("/")
    assert display_path(outside) == str(outside)
