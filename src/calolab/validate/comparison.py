"""One observable of two samples side by side: the histograms or mean profiles and how far apart they are.

:func:`compare_histograms` bins both samples on the reference's bins
(:func:`~calolab.validate.histograms.reference_edges`) and measures the separation power and the
chi2 (:mod:`calolab.validate.separation`); :func:`compare_profiles` does the same for a mean
shape (the mean energy per layer, per cell column, ...), whose bins are the layers or cells.
Both results keep what a plot needs, so figures can be drawn (and redrawn) from a result alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from calolab.validate.histograms import finite, histogram, reference_edges
from calolab.validate.observables import OBSERVABLES, Observable
from calolab.validate.separation import (
    Chi2,
    chi2_histograms,
    chi2_profiles,
    expected_separation,
    separation_power,
)

__all__ = ["HistogramComparison", "ProfileComparison", "compare_histograms", "compare_profiles"]


def _key(group: str, section: str, name: str, layer: int | None) -> str:
    return f"{group}/{section}/{name}" + ("" if layer is None else f"[{layer}]")


@dataclass(frozen=True)
class HistogramComparison:
    """An observable histogrammed for both samples on the reference's bins.

    Attributes:
        group: the particle group (``all`` or a particle name).
        section: the detector section.
        observable: what was histogrammed.
        layer: the layer of a per-layer observable, else ``None``.
        edges: bin edges, ``(K + 1,)``.
        reference, candidate: counts, ``(K,)`` (under- and overflow in the edge bins).
        separation: separation power of the normalised histograms.
        separation_expected: what statistics alone give for these sample sizes.
        chi2: the two-histogram chi2 test.
        mean_reference, mean_candidate: means of the finite values.
    """

    group: str
    section: str
    observable: Observable
    layer: int | None
    edges: np.ndarray
    reference: np.ndarray
    candidate: np.ndarray
    separation: float
    separation_expected: float
    chi2: Chi2
    mean_reference: float
    mean_candidate: float

    @property
    def key(self) -> str:
        """``group/section/observable`` with ``[layer]`` for a per-layer observable."""
        return _key(self.group, self.section, self.observable.name, self.layer)

    def figures(self) -> dict[str, Any]:
        return {
            "group": self.group, "section": self.section, "observable": self.observable.name, "layer": self.layer,
            "unit": self.observable.unit, "scale": self.observable.scale, "edges": self.edges.tolist(),
            "reference": self.reference.tolist(), "candidate": self.candidate.tolist(),
            "separation_power": self.separation, "separation_power_expected": self.separation_expected,
            "chi2": self.chi2.chi2, "ndf": self.chi2.ndf, "p_value": self.chi2.p_value,
            "mean_reference": self.mean_reference, "mean_candidate": self.mean_candidate,
        }


@dataclass(frozen=True)
class ProfileComparison:
    """A mean shape of both samples: per bin (layer, cell column, ...) the mean and its standard error.

    Attributes:
        group, section, observable: as for :class:`HistogramComparison`.
        positions: bin centres (layer depth or cell centre, mm; or indices).
        position_label: the axis label of ``positions``.
        mean_reference, error_reference, mean_candidate, error_candidate: ``(K,)``.
        separation: separation power of the two profiles normalised to unit sum (a shape comparison).
        chi2: the chi2 of the two profiles with both errors.
    """

    group: str
    section: str
    observable: Observable
    positions: np.ndarray
    position_label: str
    mean_reference: np.ndarray
    error_reference: np.ndarray
    mean_candidate: np.ndarray
    error_candidate: np.ndarray
    separation: float
    chi2: Chi2

    @property
    def key(self) -> str:
        return _key(self.group, self.section, self.observable.name, None)

    def figures(self) -> dict[str, Any]:
        return {
            "group": self.group, "section": self.section, "observable": self.observable.name,
            "unit": self.observable.unit, "positions": self.positions.tolist(),
            "position_label": self.position_label,
            "mean_reference": self.mean_reference.tolist(), "error_reference": self.error_reference.tolist(),
            "mean_candidate": self.mean_candidate.tolist(), "error_candidate": self.error_candidate.tolist(),
            "separation_power": self.separation, "chi2": self.chi2.chi2, "ndf": self.chi2.ndf,
            "p_value": self.chi2.p_value,
        }


def _mean(values: np.ndarray) -> float:
    data = finite(values)
    return float(data.mean()) if data.size else float("nan")


def compare_histograms(reference: np.ndarray, candidate: np.ndarray, observable: Observable | str, *,
                       group: str = "all", section: str = "", layer: int | None = None,
                       bins: int = 30) -> HistogramComparison:
    """Histogram one observable of both samples on the reference's bins and compare them.

    Args:
        reference, candidate: the values (NaN and infinities are left out).
        observable: an :class:`~calolab.validate.observables.Observable` or its name.
        group, section, layer: where the values come from (labels only).
        bins: number of bins.
    """
    spec = OBSERVABLES[observable] if isinstance(observable, str) else observable
    edges = reference_edges(reference, bins, spec.scale, fallback=candidate)
    h_ref, h_cand = histogram(reference, edges), histogram(candidate, edges)
    return HistogramComparison(
        group=group, section=section, observable=spec, layer=layer, edges=edges, reference=h_ref,
        candidate=h_cand, separation=separation_power(h_ref, h_cand),
        separation_expected=expected_separation(h_ref, h_cand), chi2=chi2_histograms(h_ref, h_cand),
        mean_reference=_mean(reference), mean_candidate=_mean(candidate))


def _mean_and_error(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: mean and standard error of the finite entries (NaN where a column has none)."""
    data = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(data)
    count = ok.sum(axis=0)
    filled = np.where(ok, data, 0.0)
    total = filled.sum(axis=0)
    mean = np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)
    square = np.where(ok, (data - np.nan_to_num(mean)) ** 2, 0.0).sum(axis=0)
    variance = np.divide(square, count - 1, out=np.full(total.shape, np.nan), where=count > 1)
    error = np.sqrt(np.divide(variance, count, out=np.full(total.shape, np.nan), where=count > 1))
    return mean, error


def compare_profiles(reference: np.ndarray, candidate: np.ndarray, observable: Observable | str, *,
                     positions: np.ndarray, position_label: str, group: str = "all",
                     section: str = "") -> ProfileComparison:
    """Compare the mean shapes of two samples of per-event profiles ``(n, K)``.

    NaN entries (a layer without hits has no mean cell energy) are left out of their bin's mean.
    """
    spec = OBSERVABLES[observable] if isinstance(observable, str) else observable
    m1, e1 = _mean_and_error(reference)
    m2, e2 = _mean_and_error(candidate)
    shape1, shape2 = np.nan_to_num(np.clip(m1, 0, None)), np.nan_to_num(np.clip(m2, 0, None))
    return ProfileComparison(
        group=group, section=section, observable=spec, positions=np.asarray(positions, dtype=float),
        position_label=position_label, mean_reference=m1, error_reference=e1, mean_candidate=m2,
        error_candidate=e2, separation=separation_power(shape1, shape2), chi2=chi2_profiles(m1, e1, m2, e2))
