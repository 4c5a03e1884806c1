"""The experiment's statistics: means, 95% confidence intervals, paired tests. Pure Python.

- ``ci95``: Student-t interval of a mean over independent runs (seeds).
- ``paired``: sharing against isolated, seed by seed (each seed's runs share
  their nodes' trainer seeds: common random numbers). The test is the paired
  t-test on the per-seed differences (two-sided); next to it the exact
  sign-flip permutation test on the same differences (two-sided, all 2^n sign
  assignments), which assumes no normality and is reported as a check.

The Student-t distribution comes from the regularized incomplete beta function
(continued fraction, modified Lentz); quantiles by bisection on it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass


def mean(xs: list[float]) -> float:
    if not xs:
        raise ValueError("mean of nothing")
    return sum(xs) / len(xs)


def stdev(xs: list[float]) -> float:
    """Sample standard deviation (n - 1 in the denominator)."""
    if len(xs) < 2:
        return math.nan
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
                    -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_ppf(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t (bisection on the CDF)."""
    if not 0 < q < 1:
        raise ValueError("q must be in (0, 1)")
    lo, hi = -1e6, 1e6
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass
class Interval:
    mean: float
    low: float
    high: float
    n: int

    @property
    def half(self) -> float:
        return (self.high - self.low) / 2


def ci95(xs: list[float]) -> Interval:
    """Mean and 95% Student-t interval (nan bounds with fewer than two values)."""
    m = mean(xs)
    if len(xs) < 2:
        return Interval(m, math.nan, math.nan, len(xs))
    half = t_ppf(0.975, len(xs) - 1) * stdev(xs) / math.sqrt(len(xs))
    return Interval(m, m - half, m + half, len(xs))


def sign_flip_p(diffs: list[float]) -> float:
    """Exact two-sided sign-flip permutation p-value of the mean of paired differences."""
    n = len(diffs)
    if n == 0:
        return math.nan
    if n > 20:
        raise ValueError("exact sign-flip test limited to 20 pairs")
    observed = abs(sum(diffs)) - 1e-12
    hits = sum(1 for signs in itertools.product((1, -1), repeat=n)
               if abs(sum(s * d for s, d in zip(signs, diffs, strict=True))) >= observed)
    return hits / 2**n


@dataclass
class Paired:
    n: int
    diff: Interval  # mean difference (treatment - control) and its 95% interval
    t: float
    df: int
    p_t: float  # two-sided paired t-test
    p_sign_flip: float  # exact two-sided sign-flip permutation test


def paired(treatment: list[float], control: list[float]) -> Paired:
    """Paired comparison over seeds: treatment[i] and control[i] share seed i."""
    if len(treatment) != len(control):
        raise ValueError("paired samples need the same length")
    diffs = [a - b for a, b in zip(treatment, control, strict=True)]
    n = len(diffs)
    interval = ci95(diffs)
    sd = stdev(diffs)
    if n < 2:
        return Paired(n, interval, math.nan, 0, math.nan, sign_flip_p(diffs))
    if sd == 0:
        t = 0.0 if interval.mean == 0 else math.copysign(math.inf, interval.mean)
    else:
        t = interval.mean / (sd / math.sqrt(n))
    p = 2.0 * (1.0 - t_cdf(abs(t), n - 1))
    return Paired(n, interval, t, n - 1, min(1.0, p), sign_flip_p(diffs))
