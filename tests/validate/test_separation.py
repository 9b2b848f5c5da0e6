"""Separation power, chi2 and the reference binning on analytic and seeded cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from calolab.errors import ConfigError
from calolab.validate import (
    chi2_histograms,
    chi2_profiles,
    expected_separation,
    histogram,
    reference_edges,
    separation_power,
)


def test_separation_power_analytic_values() -> None:
    # S = 1/2 sum (p - q)^2 / (p + q) (CaloChallenge, arXiv:2410.21611): identical 0, disjoint 1
    assert separation_power(np.array([3.0, 5.0, 2.0]), np.array([30.0, 50.0, 20.0])) == 0.0  # shapes only
    assert separation_power(np.array([4.0, 0.0]), np.array([0.0, 7.0])) == pytest.approx(1.0)
    # p = (1/2, 1/2), q = (1, 0): 1/2 (0.25/1.5 + 0.25/0.5) = 1/3
    assert separation_power(np.array([1.0, 1.0]), np.array([2.0, 0.0])) == pytest.approx(1 / 3)
    assert np.isnan(separation_power(np.zeros(3), np.ones(3)))


def test_separation_of_one_distribution_matches_the_statistical_floor() -> None:
    rng = np.random.default_rng(7)
    p = stats.norm.pdf(np.linspace(-2, 2, 20))
    p /= p.sum()
    values = [separation_power(rng.multinomial(600, p), rng.multinomial(400, p)) for _ in range(400)]
    expected = expected_separation(np.full(20, 30.0), np.full(20, 20.0))  # 19/4 (1/600 + 1/400)
    assert expected == pytest.approx(19 / 4 * (1 / 600 + 1 / 400))
    assert np.mean(values) == pytest.approx(expected, rel=0.1)


def test_chi2_follows_gagunashvili_and_the_chi2_distribution() -> None:
    a, b = np.array([10.0, 20.0, 30.0]), np.array([12.0, 18.0, 50.0])
    n1, n2 = a.sum(), b.sum()
    manual = np.sum((n2 * a - n1 * b) ** 2 / (a + b)) / (n1 * n2)  # arXiv:physics/0605123
    result = chi2_histograms(a, b)
    assert result.chi2 == pytest.approx(manual) and result.ndf == 2
    assert result.p_value == pytest.approx(stats.chi2.sf(manual, 2))
    assert chi2_histograms(np.array([5.0, 0.0, 5.0]), np.array([5.0, 0.0, 5.0])).ndf == 1  # empty bins skipped
    rng = np.random.default_rng(3)
    p = np.full(10, 0.1)
    values = [chi2_histograms(rng.multinomial(500, p), rng.multinomial(2000, p)).chi2 for _ in range(500)]
    assert np.mean(values) == pytest.approx(9.0, rel=0.1)  # <chi2> = ndf for one distribution


def test_chi2_of_profiles() -> None:
    result = chi2_profiles(np.array([1.0, 2.0, np.nan]), np.array([0.1, 0.1, 0.1]), np.array([1.3, 2.0, 1.0]),
                           np.array([0.2, 0.0, 0.1]))
    assert result.ndf == 2 and result.chi2 == pytest.approx(0.09 / 0.05)
    with pytest.raises(ConfigError, match="equal-length"):
        chi2_profiles(np.ones(2), np.ones(3), np.ones(2), np.ones(2))


def test_reference_edges_and_overflow() -> None:
    reference = np.random.default_rng(0).uniform(0, 1, 1000)
    edges = reference_edges(reference, bins=10)
    assert edges.size == 11 and edges[0] < 0.01 and edges[-1] > 0.99
    counts = histogram(np.array([-5.0, 0.5, 7.0, np.nan, np.inf]), edges)
    assert counts.sum() == 3 and counts[0] == 1 and counts[-1] == 1  # under/overflow in the edge bins
    integer = reference_edges(np.array([3, 4, 4, 5, 7]), bins=30, scale="integer")
    assert np.all(np.diff(integer) == 1) and integer[0] == 2.5 and integer[-1] == 7.5
    log = reference_edges(np.array([0.0, 1e-2, 1.0, 100.0]), bins=8, scale="log")
    assert np.allclose(np.diff(np.log10(log)), np.diff(np.log10(log))[0])
    constant = reference_edges(np.full(5, 2.0), bins=4)
    assert constant[0] < 2.0 < constant[-1]
    assert np.array_equal(reference_edges(np.array([np.nan]), bins=2, fallback=np.array([1.0, 3.0]))[[0, -1]],
                          reference_edges(np.array([1.0, 3.0]), bins=2)[[0, -1]])
    with pytest.raises(ConfigError, match="scale"):
        reference_edges(reference, scale="cubic")  # type: ignore[arg-type]
