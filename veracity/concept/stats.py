"""Student's t-test without scipy: the t distribution's tail from the regularised incomplete beta."""

from __future__ import annotations

import math
from typing import Sequence


def _beta_fraction(a: float, b: float, x: float, iterations: int = 300, eps: float = 1e-15) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz evaluation)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, iterations + 1):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < eps:
            break
    return result


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function ``I_x(a, b)`` for ``a, b > 0``, ``0 <= x <= 1``.

    Example:
        >>> round(betainc(2.0, 3.0, 0.4), 10)  # 1 - (0.6^4 + 4 * 0.4 * 0.6^3)
        0.5248
    """
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"`x`: expected a number in [0, 1], got {x!r}")
    if x in (0.0, 1.0):
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, dof: float) -> float:
    """``P(|T| >= |t|)`` for Student's t with ``dof`` degrees of freedom.

    Example:
        >>> round(t_two_sided_p(2.0, 10), 6)
        0.073388
    """
    if math.isinf(t):
        return 0.0
    if math.isnan(t):
        return float("nan")
    return betainc(dof / 2.0, 0.5, dof / (dof + t * t))


def _mean_var(values: Sequence[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)


def ttest_ind(first: Sequence[float], second: Sequence[float]) -> tuple[float, float]:
    """Two-sided Student t-test of equal means (pooled variance, as ``scipy.stats.ttest_ind``):
    ``(t, p)``. Two constant samples give ``p = 0`` when their means differ and ``p = 1`` when
    they agree (scipy gives nan for both).

    Example:
        >>> t, p = ttest_ind([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
        >>> round(t, 4), round(p, 4)
        (-2.1909, 0.071)
    """
    n1, n2 = len(first), len(second)
    if n1 < 2 or n2 < 2:
        raise ValueError(f"`scores`: expected at least two scores per group, got {n1} and {n2}")
    mean1, var1 = _mean_var(first)
    mean2, var2 = _mean_var(second)
    dof = n1 + n2 - 2
    pooled = ((n1 - 1) * var1 + (n2 - 1) * var2) / dof
    scale = math.sqrt(pooled * (1.0 / n1 + 1.0 / n2))
    if scale == 0.0:
        return (0.0, 1.0) if mean1 == mean2 else (math.copysign(math.inf, mean1 - mean2), 0.0)
    t = (mean1 - mean2) / scale
    return t, t_two_sided_p(t, dof)


def bonferroni(p_values: Sequence[float]) -> list[float]:
    """Each p-value times the number of tests, capped at 1.

    Example:
        >>> bonferroni([0.01, 0.2, 0.5])
        [0.03, 0.6000000000000001, 1.0]
    """
    return [min(1.0, p * len(p_values)) for p in p_values]
