"""The package's progress bars: tqdm's, silenced by INDEXNET_EDU_PROGRESS=0 (the book sets it)."""
import io

from indexnet_edu import _progress


def test_bars_draw_by_default_and_are_silenced_by_the_environment(monkeypatch):
    monkeypatch.delenv(_progress.PROGRESS_ENV, raising=False)
    shown = io.StringIO()
    for _ in _progress.tqdm(range(3), file=shown, desc="drawn", mininterval=0):
        pass
    assert "drawn" in shown.getvalue()
    monkeypatch.setenv(_progress.PROGRESS_ENV, "0")
    silent = io.StringIO()
    assert list(_progress.tqdm(range(3), file=silent, desc="silent", disable=False)) == [0, 1, 2]
    assert silent.getvalue() == ""
