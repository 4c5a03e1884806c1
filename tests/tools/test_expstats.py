"""The experiment's statistics on inputs with known answers (published t tables, closed forms)."""

from __future__ import annotations

import math

import pytest

from swarmd.tools import expstats as st


def test_mean_and_sample_stdev() -> None:
    assert st.mean([1, 2, 3, 4]) == 2.5
    assert st.stdev([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(2.138089935, abs=1e-9)
    assert math.isnan(st.stdev([1.0]))
    with pytest.raises(ValueError):
        st.mean([])


@pytest.mark.parametrize(("q", "df", "expected"), [
    (0.975, 1, 12.70620474), (0.975, 4, 2.776445105), (0.975, 9, 2.262157163),
    (0.975, 30, 2.042272456), (0.95, 4, 2.131846786), (0.5, 7, 0.0),
])
def test_student_t_quantiles(q, df, expected) -> None:
    assert st.t_ppf(q, df) == pytest.approx(expected, abs=1e-6)
    assert st.t_cdf(expected, df) == pytest.approx(q, abs=1e-9)


def test_ci95_of_known_sample() -> None:
    # 1..5: mean 3, sd sqrt(2.5), half-width t(0.975, 4) * sd / sqrt(5) = 1.963243
    ci = st.ci95([1, 2, 3, 4, 5])
    assert ci.mean == 3 and ci.n == 5
    assert (ci.low, ci.high) == (pytest.approx(3 - 1.963243, abs=1e-6), pytest.approx(3 + 1.963243, abs=1e-6))
    one = st.ci95([0.7])
    assert one.mean == 0.7 and math.isnan(one.low)


def test_paired_t_and_sign_flip_tests() -> None:
    # Differences 1..5: t = 3 / (sqrt(2.5) / sqrt(5)) = 4.242641, df 4, two-sided p = 0.013236
    # (closed form for 4 degrees of freedom: F(t) = 1/2 + t (t² + 6) / (2 (t² + 4)^1.5))
    r = st.paired([2, 4, 6, 8, 10], [1, 2, 3, 4, 5])
    assert r.n == 5 and r.df == 4
    assert r.t == pytest.approx(4.242641, abs=1e-6) and r.p_t == pytest.approx(0.013236, abs=1e-6)
    assert r.diff.mean == 3
    # All five differences positive: only all-plus and all-minus reach |mean| 3 -> 2/32
    assert r.p_sign_flip == pytest.approx(2 / 32)
    # No effect: t = 0, p = 1
    flat = st.paired([1, 2, 3], [2, 1, 3])
    assert flat.t == 0 and flat.p_t == pytest.approx(1.0) and flat.p_sign_flip == 1.0
    # Mixed signs: diffs (0.5, -0.2, 0.9, 0.4, 0.1, 0.3): mean 1/3, sd sqrt(0.138667) -> t = 2.192645;
    # p from the closed form of the t CDF for 5 degrees of freedom,
    # F(t) = 1/2 + (θ + sinθ cosθ (1 + 2/3 cos²θ)) / π with θ = atan(t / √5): p = 0.079830
    mixed = st.paired([1.5, 0.8, 1.9, 1.4, 1.1, 1.3], [1, 1, 1, 1, 1, 1])
    assert mixed.t == pytest.approx(2.192645, abs=1e-6) and mixed.p_t == pytest.approx(0.0798301, abs=1e-6)
    # Sign flips: Σ ε|d| over |d| = (0.5, 0.2, 0.9, 0.4, 0.1, 0.3) (total 2.4) reaches |2.0| when
    # the flipped ones sum to <= 0.2: none, {0.1}, {0.2}, and their mirror images: 6 of 64.
    assert mixed.p_sign_flip == pytest.approx(6 / 64)
    with pytest.raises(ValueError):
        st.paired([1, 2], [1])
