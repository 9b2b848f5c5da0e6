"""Common binning from the reference sample, and histograms of both samples on it.

The bins of an observable are fixed by the reference alone, so every candidate is judged on the
same grid: from the 0.5% to the 99.5% quantile of the reference, widened by 5% on each side.
Values outside the range are counted in the first or last bin (under- and overflow), so a
candidate whose values run off the reference range shows up in the edge bins instead of
disappearing. NaN and infinite values (an empty layer has no centre) are left out.

>>> edges = reference_edges(np.array([1.0, 2.0, 3.0, 4.0]), bins=4)
>>> histogram(np.array([0.0, 2.5, 9.0]), edges).tolist()
[1.0, 0.0, 1.0, 1.0]
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from calolab.errors import ConfigError

__all__ = ["Scale", "finite", "histogram", "reference_edges"]

#: ``linear`` bins, ``log`` bins (positive values; zeros and negatives go to the first bin),
#: ``integer`` bins centred on whole numbers when the range is narrow (counts of cells).
Scale = Literal["linear", "log", "integer"]

_QUANTILES = (0.005, 0.995)
_MARGIN = 0.05


def finite(values: np.ndarray) -> np.ndarray:
    """The finite entries of ``values`` as a float64 1-d array."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    return flat[np.isfinite(flat)]


def _range(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.quantile(values, _QUANTILES)
    return float(lo), float(hi)


def reference_edges(reference: np.ndarray, bins: int = 30, scale: Scale = "linear",
                    fallback: np.ndarray | None = None) -> np.ndarray:
    """Bin edges for an observable, fixed by the reference sample.

    Args:
        reference: reference values (any shape; NaN and infinities are ignored).
        bins: number of bins (integer bins may be fewer: one per whole number in the range).
        scale: ``linear``, ``log`` or ``integer`` (see :data:`Scale`).
        fallback: values used when the reference has no finite value (the candidate's).

    Returns:
        increasing edges, shape ``(n_bins + 1,)``.

    Raises:
        ConfigError: ``bins`` < 1 or an unknown ``scale``.
    """
    if bins < 1:
        msg = f"bins must be >= 1, got {bins}"
        raise ConfigError(msg)
    if scale not in ("linear", "log", "integer"):
        msg = f"unknown bin scale {scale!r}: choose 'linear', 'log' or 'integer'"
        raise ConfigError(msg)
    values = finite(reference)
    if values.size == 0 and fallback is not None:
        values = finite(fallback)
    if scale == "log":
        positive = values[values > 0]
        if positive.size:
            lo, hi = _range(np.log10(positive))
            width = hi - lo
            pad = _MARGIN * width if width > 0 else 0.5
            return np.logspace(lo - pad, hi + pad, bins + 1)
        scale = "linear"  # nothing positive to take a logarithm of
    if values.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    lo, hi = _range(values)
    if scale == "integer":
        lo, hi = math.floor(lo), math.ceil(hi)
        if hi - lo + 1 <= bins:  # one bin per whole number
            return np.arange(lo, hi + 2, dtype=np.float64) - 0.5
    width = hi - lo
    if width <= 0:  # a constant reference: one bin around it
        half = max(0.5 * abs(lo), 0.5) if scale != "integer" else 0.5
        return np.linspace(lo - half, lo + half, bins + 1)
    return np.linspace(lo - _MARGIN * width, hi + _MARGIN * width, bins + 1)


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of the finite ``values`` in ``edges``, under- and overflow added to the edge bins.

    Returns:
        float64 counts, shape ``(len(edges) - 1,)``.
    """
    data = finite(values)
    index = np.searchsorted(edges, data, side="right") - 1
    index = np.clip(index, 0, len(edges) - 2)
    return np.bincount(index, minlength=len(edges) - 1).astype(np.float64)
