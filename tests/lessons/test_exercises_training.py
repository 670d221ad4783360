"""The training lessons' exercise checkers accept right answers and reject wrong ones."""
import numpy as np
import pytest
import torch

from indexnet_edu.lessons import exercises as ex


def test_psnr_checker_accepts_correct_and_rejects_sum_instead_of_mean():
    assert ex.check_psnr(lambda p, t: 10 * torch.log10(1 / ((p - t) ** 2).mean()))
    with pytest.raises(AssertionError, match="mean over"):
        ex.check_psnr(lambda p, t: 10 * torch.log10(1 / ((p - t) ** 2).sum()))


def test_mean_std_checker_wants_the_sample_std():
    assert ex.check_mean_std(lambda v: (np.mean(v), np.std(v, ddof=1)))
    with pytest.raises(AssertionError, match="n − 1"):
        ex.check_mean_std(lambda v: (np.mean(v), np.std(v)))


def test_composite_checker_rejects_swapped_layers():
    assert ex.check_composite(lambda a, f, b: a * f + (1 - a) * b)
    with pytest.raises(AssertionError, match="alpha weights"):
        ex.check_composite(lambda a, f, b: a * b + (1 - a) * f)


def test_unknown_mask_checker_rejects_known_foreground():
    assert ex.check_unknown_mask(lambda t: t == 0.5)
    with pytest.raises(AssertionError):
        ex.check_unknown_mask(lambda t: t > 0.25)


def test_paired_differences_checker_pairs_by_seed():
    assert ex.check_paired_differences(lambda a, r: [a[s] - r[s] for s in sorted(set(a) & set(r))])
    with pytest.raises(AssertionError, match="pair the values by seed"):
        ex.check_paired_differences(lambda a, r: [x - y for x, y in zip(a.values(), r.values())])


def test_majority_baseline_checker_counts_over_the_batch():
    assert ex.check_majority_baseline(lambda m: torch.full_like(m, int(torch.bincount(m.flatten()).argmax())))
    with pytest.raises(AssertionError):
        ex.check_majority_baseline(lambda m: torch.stack([torch.full_like(x, int(torch.bincount(x.flatten()).argmax()))
                                                           for x in m]))


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("check", [ex.check_psnr, ex.check_mean_std, ex.check_composite, ex.check_unknown_mask,
                                   ex.check_paired_differences, ex.check_majority_baseline])
def test_an_untouched_stub_is_reported_as_not_attempted(check, capsys):
    assert check(stub) is False
    assert "not attempted yet" in capsys.readouterr().out
