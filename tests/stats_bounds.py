"""Bounds for the statistical assertions, derived rather than picked.

Every statistical assertion in the suite is made at LEVEL: the chance that a correct
estimator, run on a fresh seed, fails it. Where one assertion checks k values at once
(every campaign's z-score, every line's coverage), LEVEL is shared among the k
(Bonferroni), so the assertion as a whole still fails a correct estimator with
probability at most LEVEL. The seeded data are fixed, so each test is deterministic; the
level says how unlucky a seed would have to be to fail it.
"""

from __future__ import annotations

import math

from scipy import stats

LEVEL = 0.001


def max_abs_z(k: int, level: float = LEVEL) -> float:
    """The largest |z| that k independent standard-normal z-scores all stay under with
    probability 1 - level: Φ⁻¹(1 - level / (2k)) (two-sided, Bonferroni)."""
    return float(stats.norm.ppf(1 - level / (2 * max(k, 1))))


def max_misses(n: int, p_miss: float, level: float = LEVEL) -> int:
    """The most misses n independent trials, each missing with probability p_miss, exceed
    with probability at most level: the (1 - level) quantile of Binomial(n, p_miss)."""
    return int(stats.binom.ppf(1 - level, n, p_miss))


def share_band(p: float, n: float, k: int = 1, level: float = LEVEL) -> tuple[float, float]:
    """Where k shares, each of n independent trials succeeding with probability p, all lie
    with probability 1 - level (normal approximation to the binomial, two-sided,
    Bonferroni over k): p ± Φ⁻¹(1 - level / (2k)) · sqrt(p (1 - p) / n)."""
    half = max_abs_z(k, level) * math.sqrt(p * (1 - p) / n)
    return p - half, p + half
