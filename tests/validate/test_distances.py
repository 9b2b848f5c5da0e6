"""FPD and KPD: the Fréchet distance of two Gaussians analytically, and both metrics on samples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from calolab.errors import ConfigError
from calolab.validate import fpd, frechet_distance, kpd, mmd_polynomial, standardise


def test_frechet_distance_of_gaussians_is_analytic() -> None:
    # diagonal covariances: |mu1 - mu2|^2 + sum (sigma1 - sigma2)^2 (Dowson & Landau 1982)
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, -1.0])
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([1.5, 2.0, 0.1])
    analytic = np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2)
    assert frechet_distance(mu1, np.diag(s1**2), mu2, np.diag(s2**2)) == pytest.approx(analytic)
    # a full covariance against scipy's matrix square root of S1 S2
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    c1, c2 = a @ a.T + np.eye(4), b @ b.T + 0.5 * np.eye(4)
    reference = np.trace(c1 + c2 - 2 * np.real(linalg.sqrtm(c1 @ c2)))
    assert frechet_distance(np.zeros(4), c1, np.zeros(4), c2) == pytest.approx(reference, rel=1e-8)
    assert frechet_distance(mu1, np.diag(s1), mu1, np.diag(s1)) == pytest.approx(0.0, abs=1e-12)


def test_fpd_and_kpd_vanish_for_identical_gaussians_and_grow_with_a_shift() -> None:
    rng = np.random.default_rng(2)
    reference = rng.normal(size=(8000, 4))
    same = rng.normal(size=(8000, 4))
    shifted = rng.normal(loc=[0.5, 0, 0, 0], scale=[1.0, 1.5, 1.0, 1.0], size=(8000, 4))
    fpd_same, fpd_shifted = fpd(reference, same, seed=0), fpd(reference, shifted, seed=0)
    assert abs(fpd_same.value) < 0.01
    assert fpd_shifted.value == pytest.approx(0.5**2 + 0.5**2, rel=0.08)  # analytic 0.5
    kpd_same = kpd(reference, same, batch_size=1000, seed=0)
    kpd_shifted = kpd(reference, shifted, batch_size=1000, seed=0)
    assert abs(kpd_same.value) < 3 * kpd_same.error + 1e-3
    assert kpd_shifted.value > 20 * kpd_same.error and kpd_shifted.value > 0.1


def test_fpd_extrapolation_removes_the_finite_sample_bias() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(1500, 10)), rng.normal(size=(1500, 10))
    plain = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert plain > 0.02  # O(d / N) bias of the plain estimate
    assert abs(fpd(a, b, seed=1).value) < plain / 3


def test_mmd_is_unbiased_and_results_reproduce() -> None:
    rng = np.random.default_rng(5)
    values = [mmd_polynomial(rng.normal(size=(200, 3)), rng.normal(size=(200, 3))) for _ in range(100)]
    assert abs(np.mean(values)) < 3 * np.std(values) / 10
    x, y = rng.normal(size=(500, 3)), rng.normal(size=(500, 3))
    assert kpd(x, y, seed=3) == kpd(x, y, seed=3) and fpd(x, y, seed=3) == fpd(x, y, seed=3)


def test_standardise_and_bad_inputs() -> None:
    a, b = standardise(np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[2.0, 6.0]]))
    assert np.allclose(a, [[-1.0, 0.0], [1.0, 0.0]]) and np.allclose(b, [[0.0, 1.0]])
    with pytest.raises(ConfigError, match="same d"):
        fpd(np.zeros((50, 2)), np.zeros((50, 3)))
    with pytest.raises(ConfigError, match="NaN"):
        kpd(np.full((10, 2), np.nan), np.zeros((10, 2)))
    with pytest.raises(ConfigError, match="at least d"):
        fpd(np.zeros((3, 4)), np.zeros((3, 4)))
