"""Statistics for comparing upsamplers over paired seeds: what counts as a finding, and what does not.

Within a seed every arm gets the same initial shared weights and the same data order (see
:mod:`indexnet_edu.models.light`), so the per-seed *difference* d_i = arm_i − reference_i
removes the seed-to-seed variation the arms share. For each named contrast we report

* n, the paired differences d_i, their mean and sample standard deviation SD(d);
* the sign count: in how many seeds the arm was better than the reference;
* a paired t-test and an exact Wilcoxon signed-rank test (two-sided, ``scipy.stats``), and the
  exact two-sided sign-flip (permutation) p-value of the mean difference;
* a verdict by the DECISION RULE: a difference is a **finding** only when all n ≥ 5
  differences have the same sign AND |mean d| > 3·SD(d) (the "paired 3-SD" bar). Otherwise
  it is "no detectable difference" — never a ranking.

Why this rule: with n = 5 the smallest possible two-sided Wilcoxon or sign-flip p is 2/32 =
0.0625, so "p < 0.05" could never fire two-sided; the sign requirement is the exact one-sided
sign test at 1/32 = 0.031, and the 3·SD(d) bar makes the effect large next to its own noise
(it implies a paired t statistic above 3·√5 ≈ 6.7).

The "learned at all" gate (:func:`indexnet_edu.experiments.tasks.learned_at_all`, every seed must beat the
trivial baseline by a stated margin, fixed before the runs) comes first: when *neither* arm of
a contrast passes it, the difference is between two models that have not learned the task —
for argmax metrics that is noise around the trivial solution — and the verdict is
:data:`NOT_LEARNED`, however consistent the numbers. When one arm learned and the other did
not, that is a real difference and the rule applies.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

MIN_SEEDS_FOR_FINDING = 5
SD_BAR = 3.0
FINDING = "finding"
NO_DIFFERENCE = "no detectable difference"
NOT_LEARNED = "not a finding: neither arm passed the learned-at-all gate"


@dataclass(frozen=True)
class ArmSummary:
    """Mean and sample standard deviation (ddof = 1; NaN for n = 1) of one arm over seeds."""

    n: int
    mean: float
    std: float

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.std:.2g} (n={self.n})"


def summarize(values) -> ArmSummary:
    """``values``: one number per seed (1-D). Raises ValueError for an empty or non-finite input."""
    values = _as_1d(values, "values")
    std = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
    return ArmSummary(len(values), float(np.mean(values)), std)


def _as_1d(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {array.tolist()}")
    return array


def sign_flip_p(differences) -> float:
    """Exact two-sided sign-flip (paired permutation) p-value of the mean difference.

    Under "no difference" each d_i is as likely to be +|d_i| as −|d_i|; p is the share of the
    2**n sign patterns whose |mean| is at least the observed one. n = 5 with all signs equal
    gives 2/32 = 0.0625 at best.
    """
    d = _as_1d(differences, "differences")
    if len(d) > 20:
        raise ValueError(f"the exact sign-flip test enumerates 2**n patterns; n={len(d)} is too many (max 20)")
    observed = abs(d.mean())
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
    means = np.abs(signs @ np.abs(d)) / len(d)
    return float(np.mean(means >= observed - 1e-12 * max(observed, 1.0)))


@dataclass(frozen=True)
class PairedContrast:
    """arm − reference on one metric, paired by seed. ``differences`` are arm − reference per seed."""

    task: str
    metric: str
    arm: str
    reference: str
    seeds: tuple
    differences: tuple
    mean: float
    std: float
    better: int  # seeds in which the arm beat the reference (by the metric's direction)
    worse: int
    t_p: float
    wilcoxon_p: float
    sign_flip_p: float
    arm_std: float
    reference_std: float
    learned: bool
    verdict: str

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def sd_ratio(self) -> float:
        """|mean d| / SD(d): how many paired SDs the mean difference is."""
        return abs(self.mean) / self.std if self.std > 0 else float("inf")

    def sentence(self) -> str:
        """One line a lesson can print."""
        head = f"{self.task}: {self.arm} − {self.reference} on {self.metric} = {self.mean:+.4g} ± {self.std:.2g}"
        tail = (f"(n={self.n}; better in {self.better}/{self.n} seeds; paired t p={self.t_p:.3g}, "
                f"Wilcoxon p={self.wilcoxon_p:.3g}; {self.sd_ratio:.1f} SD(d))")
        return f"{head} {tail} → {self.verdict}"


def paired_contrast(arm_values, reference_values, higher_is_better: bool, *, task: str = "", metric: str = "",
                    arm: str = "arm", reference: str = "reference", seeds=None, learned: bool = True) -> PairedContrast:
    """Compare two arms seed by seed; ``arm_values[i]`` and ``reference_values[i]`` share seed i.

    Returns a :class:`PairedContrast` whose verdict applies the module's decision rule (a
    finding needs n ≥ 5, every difference of one sign and |mean d| > 3·SD(d)); ``learned=False``
    (neither arm passed the learned-at-all gate) makes the verdict :data:`NOT_LEARNED`.
    """
    from scipy import stats

    a = _as_1d(arm_values, "arm_values")
    b = _as_1d(reference_values, "reference_values")
    if a.shape != b.shape:
        raise ValueError(f"paired arms need one value per seed each, got {len(a)} and {len(b)}")
    d = a - b
    n = len(d)
    std = float(np.std(d, ddof=1)) if n > 1 else float("nan")
    direction = 1.0 if higher_is_better else -1.0
    better, worse = int(np.sum(direction * d > 0)), int(np.sum(direction * d < 0))
    if n > 1 and np.any(d != 0) and std > 0:
        t_p = float(stats.ttest_rel(a, b).pvalue)
    else:
        t_p = float("nan") if n < 2 or not np.any(d != 0) else 0.0
    wilcoxon_p = float(stats.wilcoxon(d, method="exact").pvalue) if np.any(d != 0) else 1.0
    mean = float(d.mean())
    one_sign = better == n or worse == n
    if not learned:
        verdict = NOT_LEARNED
    elif n >= MIN_SEEDS_FOR_FINDING and one_sign and abs(mean) > SD_BAR * std:
        verdict = f"{FINDING}: {arm} {'better' if better == n else 'worse'}"
    else:
        verdict = NO_DIFFERENCE
    return PairedContrast(task, metric, arm, reference, tuple(seeds) if seeds is not None else tuple(range(n)),
                          tuple(float(x) for x in d), mean, std, better, worse, t_p, wilcoxon_p, sign_flip_p(d),
                          summarize(a).std, summarize(b).std, bool(learned), verdict)


def contrasts_markdown(contrasts, omit_shared: bool = True, per_seed: bool = False) -> str:
    """A markdown table of :class:`PairedContrast` rows: task · metric, contrast, mean d ± SD(d),
    better/n (the sign count), the paired t-test and Wilcoxon p-values, |d̄|/SD(d) and the verdict
    (the |d̄| header's bars are escaped, or they would split the column and no renderer would see
    a table).

    ``omit_shared``: a task or metric that every row shares is said once, in a line above the
    table, instead of in a column of repeats. ``per_seed``: add the differences seed by seed (a
    wide column: for report files; a page shows the seeds in a strip plot instead).
    """
    contrasts = list(contrasts)
    shared = {}
    if omit_shared and contrasts:
        for field in ("task", "metric"):
            values = {getattr(c, field) for c in contrasts}
            if len(values) == 1:
                shared[field] = values.pop()
    setting = [name for name in ("task", "metric") if name not in shared]
    header = ([" · ".join(setting)] if setting else []) + ["contrast", "mean d ± SD(d)"] + \
        (["d per seed"] if per_seed else []) + ["better/n", "p: t-test / Wilcoxon", "\\|d̄\\|/SD(d)", "verdict"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for c in contrasts:
        cells = [" · ".join(getattr(c, name) for name in setting)] if setting else []
        cells += [f"{c.arm} − {c.reference}", f"{c.mean:+.3g} ± {c.std:.2g}"]
        cells += [" / ".join(f"{x:+.3g}" for x in c.differences)] if per_seed else []
        cells += [f"{c.better}/{c.n}", f"{c.t_p:.2g} / {c.wilcoxon_p:.2g}", f"{c.sd_ratio:.2f}", c.verdict]
        lines.append("| " + " | ".join(cells) + " |")
    caption = ", ".join(f"{name} **{value}**" for name, value in shared.items())
    return (f"All rows: {caption}.\n\n" if caption else "") + "\n".join(lines)
