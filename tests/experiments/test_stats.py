"""Paired statistics: known inputs give hand-computed outputs; the decision rule says what it states."""
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from indexnet_edu.checkpoint import atomic_write_json
from indexnet_edu.experiments.stats import NO_DIFFERENCE, NOT_LEARNED, paired_contrast, sign_flip_p, summarize
from indexnet_edu.experiments.results import load_results, report_text, result_path, strip_plot


def test_summary_uses_the_sample_standard_deviation():
    summary = summarize([1.0, 2.0, 3.0, 4.0])
    assert summary.n == 4 and summary.mean == 2.5
    assert summary.std == pytest.approx(math.sqrt(5 / 3))  # Σ(x − 2.5)² = 5, over n − 1 = 3
    assert math.isnan(summarize([7.0]).std)


@pytest.mark.parametrize("bad", [[], [[1.0, 2.0]], [1.0, float("nan")]])
def test_summary_rejects_empty_nested_or_non_finite_input(bad):
    with pytest.raises(ValueError, match="values"):
        summarize(bad)


def test_sign_flip_p_by_hand():
    assert sign_flip_p([1, 2, 3, 4, 5]) == pytest.approx(2 / 32)  # only all-plus and all-minus reach |mean| 3
    assert sign_flip_p([1, -1]) == 1.0
    # ±3 ±1 ±1: sums 5, 3, 3, 1, −1, −3, −3, −5; |sum| ≥ 3 in 6 of 8 patterns
    assert sign_flip_p([3, 1, -1]) == pytest.approx(6 / 8)


def test_paired_contrast_matches_hand_values_and_scipy():
    reference = np.array([0.10, 0.11, 0.09, 0.12, 0.10])
    d = np.array([-0.010, -0.020, -0.015, -0.012, -0.018])
    contrast = paired_contrast(reference + d, reference, higher_is_better=False, arm="hin", reference="bilinear")
    assert contrast.mean == pytest.approx(-0.015)
    assert contrast.std == pytest.approx(np.sqrt(np.sum((d + 0.015) ** 2) / 4))
    assert contrast.better == 5 and contrast.worse == 0
    t = contrast.mean / (contrast.std / math.sqrt(5))
    assert contrast.t_p == pytest.approx(2 * scipy_stats.t.sf(abs(t), df=4))
    assert contrast.wilcoxon_p == pytest.approx(2 / 32)  # exact: all five ranks on one side
    assert contrast.sign_flip_p == pytest.approx(2 / 32)
    assert contrast.differences == pytest.approx(tuple(d))
    assert contrast.verdict == "finding: hin better"  # |mean| = 0.015 > 3 · SD(d) ≈ 0.012


def test_direction_follows_the_metric():
    up = paired_contrast([2, 3, 4, 5, 6], [1, 2, 3, 4, 5], higher_is_better=True, arm="a")
    down = paired_contrast([2, 3, 4, 5, 6], [1, 2, 3, 4, 5], higher_is_better=False, arm="a")
    assert (up.better, down.better, down.worse) == (5, 0, 5)
    assert up.verdict == "finding: a better" and down.verdict == "finding: a worse"


def test_one_sign_but_inside_three_sds_is_no_detectable_difference():
    # all five differences positive, yet the mean (0.4) is below 3 · SD(d) (≈ 2.0)
    contrast = paired_contrast([1.1, 1.1, 1.1, 1.1, 2.6], [1, 1, 1, 1, 1], higher_is_better=True)
    assert contrast.better == 5 and contrast.verdict == NO_DIFFERENCE


def test_mixed_signs_and_too_few_seeds_are_no_detectable_difference():
    mixed = paired_contrast([1.0, 2.0, 3.0, 4.0, 4.9], [0.0, 1.0, 2.0, 3.0, 5.0], higher_is_better=True)
    assert mixed.better == 4 and mixed.verdict == NO_DIFFERENCE
    three = paired_contrast([10.0, 11.0, 12.0], [0.0, 1.0, 2.0], higher_is_better=True)
    assert three.verdict == NO_DIFFERENCE  # n = 3 can never be a finding


def test_an_arm_that_did_not_learn_makes_the_contrast_noise():
    contrast = paired_contrast([2, 3, 4, 5, 6], [1, 2, 3, 4, 5], higher_is_better=True, learned=False)
    assert contrast.verdict == NOT_LEARNED


def test_paired_contrast_refuses_unpaired_input():
    with pytest.raises(ValueError, match="one value per seed"):
        paired_contrast([1, 2, 3], [1, 2], higher_is_better=True)


def write(out, task, upsampler, seed, metrics, baseline):
    atomic_write_json({"task": task, "upsampler": upsampler, "seed": seed, "preset": "laptop", "metrics": metrics,
                       "baseline": baseline}, result_path(out, task, upsampler, seed))


def test_results_table_pairs_by_seed_and_applies_the_gate(tmp_path):
    # seed files written out of order, seed 10 included: pairing must follow the seed number
    for seed, (bil, hin) in zip([10, 2, 0, 1, 3], [(0.10, 0.08), (0.11, 0.09), (0.12, 0.10), (0.09, 0.07),
                                                   (0.13, 0.105)]):
        write(tmp_path, "matting_noskip", "bilinear", seed, {"sad": bil}, {"sad": 0.3})
        write(tmp_path, "matting_noskip", "hin", seed, {"sad": hin}, {"sad": 0.3})
        write(tmp_path, "matting_noskip", "nearest", seed, {"sad": 0.25}, {"sad": 0.3})  # > 0.6 × 0.3
        write(tmp_path, "matting_noskip", "deconv", seed, {"sad": 0.26 - seed / 1000}, {"sad": 0.3})
    table = load_results(tmp_path)
    assert table.seeds[("matting_noskip", "hin")] == [0, 1, 2, 3, 10]
    contrast = table.contrast("matting_noskip", "hin")
    assert contrast.seeds == (0, 1, 2, 3, 10)
    assert contrast.differences == pytest.approx((-0.02, -0.02, -0.02, -0.025, -0.02))
    assert table.learned("matting_noskip", "hin") is True and table.learned("matting_noskip", "nearest") is False
    # one arm learned, the other did not: a real difference, judged by the rule
    assert table.contrast("matting_noskip", "nearest").verdict == "finding: nearest worse"
    # neither learned: noise around the trivial solution, whatever the numbers say
    assert table.contrast("matting_noskip", "deconv", reference="nearest").verdict == NOT_LEARNED
    assert table.baseline("matting_noskip", "sad") == pytest.approx(0.3)
    assert table.mean_std("matting_noskip", "nearest", "sad") == (0.25, 0.0)
    text = report_text(table)
    assert "All rows: task **matting_noskip**, metric **sad**." in text and "| hin − bilinear |" in text
    assert "*trivial baseline*" in text


def test_strip_plot_shows_every_seed_and_the_baseline_without_pyplot(tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    for seed in range(3):
        write(tmp_path, "texture_regions", "bilinear", seed, {"miou": 0.5 + seed / 100}, {"miou": 0.07})
        write(tmp_path, "texture_regions", "carafe", seed, {"miou": 0.49 + seed / 100}, {"miou": 0.07})
    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    ax = strip_plot(load_results(tmp_path), "texture_regions")
    assert matplotlib.get_backend() == backend and plt.get_fignums() == figures  # no global state touched
    dots = [collection.get_offsets() for collection in ax.collections if len(collection.get_offsets()) == 3]
    assert len(dots) == 2  # one scatter of 3 seeds per arm
    assert any(line.get_ydata()[0] == pytest.approx(0.07) for line in ax.lines)  # the trivial baseline


def test_the_contrasts_table_parses_as_an_eight_column_markdown_table():
    """An unescaped bar in the |d̄|/SD(d) header split its column: the book printed every
    contrasts table as one run-on paragraph."""
    from markdown_it import MarkdownIt

    from indexnet_edu.experiments.stats import contrasts_markdown, paired_contrast

    contrast = paired_contrast([1.0, 2.0, 3.0, 4.0, 5.0], [0.5, 1.0, 2.5, 3.0, 4.0], True, task="reconstruction",
                               metric="psnr", arm="hin", reference="bilinear")
    html = MarkdownIt("commonmark").enable("table").render(contrasts_markdown([contrast], omit_shared=False,
                                                                              per_seed=True))
    assert html.count("<th>") == 8 and html.count("<td>") == 8
    assert "<th>|d̄|/SD(d)</th>" in html and "<td>reconstruction · psnr</td>" in html
    assert f"<td>{contrast.t_p:.2g} / {contrast.wilcoxon_p:.2g}</td>" in html and "<td>+0.5 / +1 / +0.5 / +1 / +1</td>" in html
    # A page's table leaves the per-seed column out (the strip plot shows the seeds).
    assert "d per seed" not in contrasts_markdown([contrast]) and "| 5/5 |" in contrasts_markdown([contrast])
    # What every row shares is said once above the table, not repeated in a column.
    other = paired_contrast([1.0, 2.0, 3.0, 4.0, 5.0], [1.5, 2.0, 2.5, 3.0, 4.5], True, task="reconstruction",
                            metric="test_loss", arm="carafe", reference="bilinear")
    text = contrasts_markdown([contrast, other])
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert text.startswith("All rows: task **reconstruction**.") and "<th>task</th>" not in html
    assert html.count("<th>") == 7 and html.count("<td>") == 14 and "<td>psnr</td>" in html
    assert "All rows: task **reconstruction**, metric **psnr**." in contrasts_markdown([contrast])
