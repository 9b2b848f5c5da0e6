"""Fréchet and kernel physics distances (FPD, KPD) between two sets of feature vectors.

Both follow Kansal et al., "Evaluating generative models in high energy physics",
Phys. Rev. D 107 (2023) 076017, arXiv:2211.10295, as used by the CaloChallenge
(arXiv:2410.21611) on high-level shower features:

- FPD: the Fréchet (2-Wasserstein) distance between Gaussians fitted to the two samples,
  ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``. Its estimate from ``N`` events is biased
  by ``O(1/N)``, so it is computed for several subsample sizes ``N`` and a straight line in
  ``1/N`` is extrapolated to ``1/N = 0``; the value is the intercept and the error its fit
  uncertainty.
- KPD: the squared maximum mean discrepancy with the cubic polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3`` (unbiased estimator), computed on several batches; the value
  is the median and the error half the 16.5-83.5 percentile range of the batches.

Features are used as given: :func:`standardise` brings them to the reference's scale first
(what :func:`~calolab.validate.suite.run_validation` does), so the distances are dimensionless.

>>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))
2.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calolab.errors import ConfigError

__all__ = ["Distance", "fpd", "frechet_distance", "kpd", "mmd_polynomial", "standardise"]


@dataclass(frozen=True)
class Distance:
    """A distance estimate: ``value`` and its ``error`` (see the module text for their meaning)."""

    value: float
    error: float

    def figures(self) -> dict[str, float]:
        return {"value": self.value, "error": self.error}


def _features(reference: np.ndarray, candidate: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(reference, dtype=np.float64), np.asarray(candidate, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        msg = f"{what}: features of shapes {a.shape} and {b.shape}; give (n, d) arrays with the same d"
        raise ConfigError(msg)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        msg = f"{what}: features contain NaN or infinite values; replace them (e.g. np.nan_to_num) first"
        raise ConfigError(msg)
    return a, b


def standardise(reference: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both samples shifted and scaled by the reference's mean and standard deviation per column.

    Columns constant in the reference are only shifted.
    """
    a, b = _features(reference, candidate, "standardise")
    mean, std = a.mean(axis=0), a.std(axis=0)
    std[std <= 0] = 1.0
    return (a - mean) / std, (b - mean) / std


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet distance of two Gaussians, ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``.

    The trace of the matrix square root is taken as ``tr (S1^(1/2) S2 S1^(1/2))^(1/2)``, a
    symmetric form that stays real for positive semi-definite covariances.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mean1, float)), np.atleast_1d(np.asarray(mean2, float))
    s1, s2 = np.atleast_2d(np.asarray(cov1, float)), np.atleast_2d(np.asarray(cov2, float))
    d = mu1.size
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        msg = f"means {mu1.shape}, {mu2.shape} and covariances {s1.shape}, {s2.shape} do not match"
        raise ConfigError(msg)
    root1 = _psd_sqrt(s1)
    middle = np.linalg.eigvalsh(root1 @ s2 @ root1)
    cross = float(np.sum(np.sqrt(np.clip(middle, 0.0, None))))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * cross)


def _sample_fd(a: np.ndarray, b: np.ndarray) -> float:
    return frechet_distance(a.mean(axis=0), np.cov(a, rowvar=False), b.mean(axis=0), np.cov(b, rowvar=False))


def fpd(reference: np.ndarray, candidate: np.ndarray, *, min_samples: int | None = None,
        max_samples: int = 50_000, num_points: int = 10, num_batches: int = 10, seed: int = 0) -> Distance:
    """Fréchet physics distance, extrapolated to infinite sample size.

    Args:
        reference, candidate: ``(n, d)`` features.
        min_samples: smallest subsample (default 40% of the largest, as JetNet's 20k of 50k).
        max_samples: largest subsample, capped at the smaller sample.
        num_points: subsample sizes between the two, evenly spaced.
        num_batches: random subsamples averaged at each size.
        seed: seed of the subsamples.

    Raises:
        ConfigError: mismatched or non-finite features, or fewer than ``d + 2`` events.
    """
    a, b = _features(reference, candidate, "fpd")
    d = a.shape[1]
    largest = min(len(a), len(b), int(max_samples))
    smallest = int(min_samples) if min_samples is not None else max(int(0.4 * largest), d + 2)
    if largest < d + 2 or smallest < 2:
        msg = f"fpd: {len(a)} and {len(b)} events for {d} features; give at least d + 2 = {d + 2} events of each"
        raise ConfigError(msg)
    smallest = min(smallest, largest)
    if num_points < 2 or num_batches < 1:
        msg = f"fpd: num_points must be >= 2 and num_batches >= 1, got {num_points} and {num_batches}"
        raise ConfigError(msg)
    rng = np.random.default_rng(seed)
    sizes = np.unique(np.linspace(smallest, largest, num_points).astype(int))
    if sizes.size < 2:  # too few events to vary the size: the plain estimate, no extrapolation
        return Distance(_sample_fd(a, b), float("nan"))
    values = []
    for size in sizes:
        values.append(np.mean([_sample_fd(a[rng.choice(len(a), size, replace=False)],
                                          b[rng.choice(len(b), size, replace=False)])
                               for _ in range(num_batches)]))
    x = 1.0 / sizes
    design = np.stack([np.ones_like(x), x], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, np.asarray(values), rcond=None)
    residuals = np.asarray(values) - design @ coefficients
    dof = max(len(x) - 2, 1)
    covariance = np.linalg.inv(design.T @ design) * float(residuals @ residuals) / dof
    return Distance(float(coefficients[0]), float(np.sqrt(max(covariance[0, 0], 0.0))))


def mmd_polynomial(x: np.ndarray, y: np.ndarray, degree: int = 3) -> float:
    """Unbiased squared MMD of two samples with the kernel ``(x.y / d + 1)^degree``."""
    a, b = _features(x, y, "mmd")
    m, n, d = len(a), len(b), a.shape[1]
    if m < 2 or n < 2:
        msg = f"mmd: {m} and {n} events; give at least 2 of each"
        raise ConfigError(msg)
    def kernel_sum(u: np.ndarray, v: np.ndarray, same: bool) -> float:
        gram = u @ v.T
        gram /= d
        gram += 1.0
        kernel = np.power(gram, degree, out=gram) if degree != 3 else np.multiply(gram, gram * gram, out=gram)
        return float(kernel.sum() - (np.trace(kernel) if same else 0.0))

    xx = kernel_sum(a, a, True) / (m * (m - 1))
    yy = kernel_sum(b, b, True) / (n * (n - 1))
    xy = kernel_sum(a, b, False) / (m * n)
    return xx + yy - 2.0 * xy


def kpd(reference: np.ndarray, candidate: np.ndarray, *, batch_size: int = 5_000, num_batches: int = 10,
        seed: int = 0) -> Distance:
    """Kernel physics distance: median and spread of the polynomial-kernel MMD over batches.

    Args:
        reference, candidate: ``(n, d)`` features.
        batch_size: events per batch and sample, capped at half the smaller sample so batches differ.
        num_batches: batches drawn (each without replacement).
        seed: seed of the batches.
    """
    a, b = _features(reference, candidate, "kpd")
    size = min(int(batch_size), max(2, min(len(a), len(b)) // 2))
    if min(len(a), len(b)) < 2 or num_batches < 1:
        msg = f"kpd: {len(a)} and {len(b)} events, {num_batches} batches; give at least 2 events and 1 batch"
        raise ConfigError(msg)
    rng = np.random.default_rng(seed)
    values = np.array([mmd_polynomial(a[rng.choice(len(a), size, replace=False)],
                                      b[rng.choice(len(b), size, replace=False)]) for _ in range(num_batches)])
    low, high = np.percentile(values, [16.5, 83.5])
    return Distance(float(np.median(values)), float((high - low) / 2))
