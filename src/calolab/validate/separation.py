"""How far apart two histograms are: separation power (triangular discrimination) and chi2.

Separation power, the measure of the CaloChallenge (Krause et al., arXiv:2410.21611; the
triangular discrimination of Le Cam), on histograms normalised to unit sum:

    S = 1/2 sum_i (h1_i - h2_i)^2 / (h1_i + h2_i),   0 <= S <= 1,

0 for identical shapes and 1 for histograms without common bins. Two finite samples of one
distribution give ``S`` about ``(K - 1)/4 (1/N1 + 1/N2)`` from statistics alone (``K`` filled
bins; :func:`expected_separation`), so a value is judged against that floor.

The chi2 of two unweighted histograms with the statistical errors of both (Gagunashvili,
"Comparison of weighted and unweighted histograms", arXiv:physics/0605123; ROOT's
``TH1::Chi2Test("UU")``):

    chi2 = 1/(N1 N2) sum_i (N2 n1_i - N1 n2_i)^2 / (n1_i + n2_i),   ndf = K - 1.

Mean profiles (mean energy per layer, ...) compare with ``chi2 = sum_i (m1_i - m2_i)^2 /
(e1_i^2 + e2_i^2)``, ``ndf = K``, where ``e`` are the standard errors of the means.

>>> separation_power(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from calolab.errors import ConfigError

__all__ = ["Chi2", "chi2_histograms", "chi2_profiles", "expected_separation", "separation_power"]


@dataclass(frozen=True)
class Chi2:
    """A chi2 test: the value, its degrees of freedom and the p-value (NaN when ``ndf`` is 0)."""

    chi2: float
    ndf: int
    p_value: float

    @property
    def reduced(self) -> float:
        """chi2 / ndf (NaN when ``ndf`` is 0)."""
        return self.chi2 / self.ndf if self.ndf > 0 else float("nan")


def _counts(counts: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(counts, dtype=np.float64)
    if array.ndim != 1 or np.any(array < 0) or not np.all(np.isfinite(array)):
        msg = f"{name}: histogram counts must be a 1-d array of finite values >= 0"
        raise ConfigError(msg)
    return array


def _pair(reference: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = _counts(reference, "reference"), _counts(candidate, "candidate")
    if a.shape != b.shape:
        msg = f"histograms have {a.size} and {b.size} bins: bin both samples with the same edges"
        raise ConfigError(msg)
    return a, b


def separation_power(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Triangular discrimination of two histograms after normalising each to unit sum.

    Args:
        reference, candidate: counts (or weights) on the same bins.

    Returns:
        ``S`` in [0, 1]; NaN when a histogram is empty.
    """
    a, b = _pair(reference, candidate)
    if a.sum() <= 0 or b.sum() <= 0:
        return float("nan")
    p, q = a / a.sum(), b / b.sum()
    total = p + q
    filled = total > 0
    return float(0.5 * np.sum((p[filled] - q[filled]) ** 2 / total[filled]))


def expected_separation(reference: np.ndarray, candidate: np.ndarray) -> float:
    """The separation power two samples of one distribution show from statistics alone.

    ``(K - 1)/4 (1/N1 + 1/N2)`` with ``K`` bins filled in either histogram and ``N`` the sums
    (first order in ``1/N``, from the multinomial variance of the bin fractions).
    """
    a, b = _pair(reference, candidate)
    n1, n2 = a.sum(), b.sum()
    if n1 <= 0 or n2 <= 0:
        return float("nan")
    filled = int(np.count_nonzero(a + b))
    return float(max(filled - 1, 0) / 4 * (1 / n1 + 1 / n2))


def chi2_histograms(reference: np.ndarray, candidate: np.ndarray) -> Chi2:
    """chi2 of two unweighted histograms of different sizes (Gagunashvili; ROOT ``UU``)."""
    a, b = _pair(reference, candidate)
    n1, n2 = a.sum(), b.sum()
    filled = (a + b) > 0
    ndf = int(filled.sum()) - 1
    if n1 <= 0 or n2 <= 0 or ndf < 1:
        return Chi2(float("nan") if n1 <= 0 or n2 <= 0 else 0.0, max(ndf, 0), float("nan"))
    value = float(np.sum((n2 * a[filled] - n1 * b[filled]) ** 2 / (a[filled] + b[filled])) / (n1 * n2))
    return Chi2(value, ndf, float(stats.chi2.sf(value, ndf)))


def chi2_profiles(mean_reference: np.ndarray, error_reference: np.ndarray, mean_candidate: np.ndarray,
                  error_candidate: np.ndarray) -> Chi2:
    """chi2 of two mean profiles with standard errors; bins where both errors are 0 or NaN are skipped."""
    m1, e1, m2, e2 = (np.asarray(v, dtype=np.float64) for v in
                      (mean_reference, error_reference, mean_candidate, error_candidate))
    if not m1.shape == e1.shape == m2.shape == e2.shape:
        msg = f"profiles have shapes {m1.shape}, {e1.shape}, {m2.shape}, {e2.shape}: give equal-length arrays"
        raise ConfigError(msg)
    variance = e1**2 + e2**2
    used = np.isfinite(m1) & np.isfinite(m2) & np.isfinite(variance) & (variance > 0)
    ndf = int(used.sum())
    if ndf == 0:
        return Chi2(float("nan"), 0, float("nan"))
    value = float(np.sum((m1[used] - m2[used]) ** 2 / variance[used]))
    return Chi2(value, ndf, float(stats.chi2.sf(value, ndf)))
