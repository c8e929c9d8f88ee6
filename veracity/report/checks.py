"""The checks of a trust report: which metric, which statistic, which threshold, which verdict.

A verdict is read off the bootstrap interval of the metric's mean, so it says how sure it is:
``pass`` when the whole interval is on the good side of the threshold, ``fail`` when the whole
interval is on the bad side, ``inconclusive`` when the interval contains the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from veracity._core.validate import check_choice, fail

VERDICTS = ("pass", "fail", "inconclusive", "not run")


@dataclass(frozen=True)
class Check:
    """A pass/fail question asked of one metric's mean: ``better`` is ``"lower"`` or ``"higher"``.

    Example:
        >>> check = Check("faithfulness", "faithfulness_correlation", "higher", 0.0, "maps follow the model")
        >>> check.verdict(0.2, 0.1, 0.3)
        'pass'
        >>> check.verdict(0.05, -0.1, 0.2)
        'inconclusive'
    """

    name: str
    metric: str
    better: str
    threshold: float
    question: str

    def __post_init__(self) -> None:
        check_choice("better", self.better, ("lower", "higher"))
        if not isinstance(self.threshold, (int, float)) or not math.isfinite(self.threshold):
            fail("threshold", "a finite number", repr(self.threshold))

    def verdict(self, mean: float, low: float, high: float) -> str:
        """``pass``/``fail``/``inconclusive`` from the interval ``[low, high]`` (``not run`` if NaN)."""
        if not all(math.isfinite(v) for v in (mean, low, high)):
            return "not run"
        good_low, good_high = (low, high) if self.better == "higher" else (-high, -low)
        limit = self.threshold if self.better == "higher" else -self.threshold
        if good_low > limit:
            return "pass"
        if good_high < limit:
            return "fail"
        return "inconclusive"

    def rule(self) -> str:
        """The rule in words, e.g. ``pass if the 95% interval lies above 0``."""
        side = "above" if self.better == "higher" else "below"
        return f"pass if the whole interval lies {side} {self.threshold:g}"


RANDOMISATION_ABS = Check(
    "randomisation sanity check (|maps|)", "mprt_spearman_abs", "lower", 0.5,
    "Do the absolute maps change when every layer is re-initialised (Adebayo et al. 2018)? "
    "Spearman correlation of |map| with the trained model's, after the full cascade.")
RANDOMISATION_SIGNED = Check(
    "randomisation sanity check (signed maps)", "mprt_spearman", "lower", 0.5,
    "Do the signed maps change when every layer is re-initialised? Spearman correlation of the "
    "signed map with the trained model's, after the full cascade.")
FAITHFULNESS = Check(
    "faithfulness", "faithfulness_correlation", "higher", 0.0,
    "Do the pixels with more attribution matter more to the output? Pearson correlation of "
    "attribution sums with output drops over random pixel subsets (Bhatt et al. 2020).")
ROBUSTNESS = Check(
    "robustness", "max_sensitivity", "lower", 0.5,
    "Does the map stay put under small input noise? Largest relative change of the map "
    "(Yeh et al. 2019).")

DEFAULT_CHECKS = (RANDOMISATION_ABS, RANDOMISATION_SIGNED, FAITHFULNESS, ROBUSTNESS)
