"""Position performance: residuals of the predicted impact point, single and overlapping photons.

Single-particle models predict ``predicted["position"]`` (N, 2) mm against ``truth["position"]``
(N, 2). The resolution and bias of ``x_pred - x_true`` and ``y_pred - y_true`` come from a
Gaussian core fit (:func:`~calolab.evaluate.core.fit_gaussian_core`), overall, per true-energy
bin and per bin of the true impact point within its cell (the S-curve of a centre of gravity).

Overlap models predict ``k`` photons per cluster; the layout they share with the truth::

    truth["position"]          (N, k, 2) mm   each true photon's impact point
    truth["photon_energy"]     (N, k) MeV     each true photon's energy (or a 2-d truth["energy"])
    truth["separation"]        (N,) mm        distance of the photons (else computed from positions)
    predicted["position"]      (N, k, 2) mm
    predicted["photon_energy"] (N, k) MeV     (or a 2-d predicted["energy"])

Predicted photons are matched to true ones by the permutation of least summed distance, then
the residuals of all photons are pooled per bin of the separation.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from calolab.errors import ConfigError
from calolab.evaluate.core import GaussianCore, bin_index, energy_bins, fit_gaussian_core
from calolab.reco.predictions import Predictions

__all__ = [
    "OverlapBins",
    "OverlapPerformance",
    "PositionBins",
    "PositionPerformance",
    "match_photons",
    "overlap_performance",
    "position_in_cell",
    "position_performance",
]

#: Fewest values a bin needs for its core fit; emptier bins are NaN.
MIN_BIN_EVENTS = 20
#: Most photons per cluster the matching enumerates (k! permutations).
MAX_PHOTONS = 6


@dataclass(frozen=True)
class PositionBins:
    """Bias and resolution of the x and y residuals (mm) in bins of ``variable``.

    ``variable`` is ``"energy"`` (true energy, MeV: both residuals binned in it) or ``"cell"``
    (true impact point relative to its cell centre, mm: the x residual binned in the x
    coordinate, the y residual in the y coordinate). Bins with too few events are NaN.
    """

    variable: str
    edges: np.ndarray
    centres: np.ndarray
    counts: np.ndarray
    bias_x: np.ndarray
    bias_x_error: np.ndarray
    sigma_x: np.ndarray
    sigma_x_error: np.ndarray
    bias_y: np.ndarray
    bias_y_error: np.ndarray
    sigma_y: np.ndarray
    sigma_y_error: np.ndarray


@dataclass(frozen=True)
class PositionPerformance:
    """Position resolution of a single-particle model (mm).

    Attributes:
        model: the model's name.
        n_events: events with a finite residual.
        x, y: core fits of all x and y residuals.
        vs_energy: per true-energy bin.
        vs_cell: per bin of the impact point within the cell (``None`` without a cell size).
        cell_size_mm: the cell pitch used for ``vs_cell``.
    """

    model: str
    n_events: int
    x: GaussianCore
    y: GaussianCore
    vs_energy: PositionBins
    vs_cell: PositionBins | None
    cell_size_mm: float | None

    @property
    def sigma(self) -> float:
        """The mean of the x and y resolutions in quadrature, ``sqrt((sx^2 + sy^2) / 2)``, mm."""
        return math.sqrt((self.x.sigma**2 + self.y.sigma**2) / 2.0)


@dataclass(frozen=True)
class OverlapBins:
    """Per-photon resolution in bins of the true separation (mm); photons of all ranks pooled.

    Attributes:
        edges, centres: separation bins, mm.
        counts: photons per bin.
        position_sigma, position_sigma_error: core sigma of the pooled x and y residuals, mm.
        energy_bias, energy_bias_error: core mean of ``E_pred / E_true`` minus 1 per photon.
        energy_resolution, energy_resolution_error: core ``sigma / mean`` of that ratio.
    """

    edges: np.ndarray
    centres: np.ndarray
    counts: np.ndarray
    position_sigma: np.ndarray
    position_sigma_error: np.ndarray
    energy_bias: np.ndarray
    energy_bias_error: np.ndarray
    energy_resolution: np.ndarray
    energy_resolution_error: np.ndarray


@dataclass(frozen=True)
class OverlapPerformance:
    """Per-photon performance of an overlap model predicting ``photons`` photons per cluster.

    Attributes:
        model, n_events, photons: the model, its events and photons per event.
        position: core fit of the pooled x and y residuals of matched photons, mm.
        energy: core fit of ``E_pred / E_true`` per matched photon (``None`` without photon energies).
        vs_separation: the same per bin of the true separation.
    """

    model: str
    n_events: int
    photons: int
    position: GaussianCore
    energy: GaussianCore | None
    vs_separation: OverlapBins


def position_in_cell(position: np.ndarray, cell_size_mm: float, cell_origin_mm: float = 0.0) -> np.ndarray:
    """Offset of ``position`` (mm) from the centre of its cell, in ``[-cell/2, cell/2)``.

    Args:
        position: coordinates, mm (any shape).
        cell_size_mm: the cell pitch.
        cell_origin_mm: a cell centre (0 for a grid with an odd number of cells centred on 0;
            ``cell_size_mm / 2`` for an even one).
    """
    if not cell_size_mm > 0:
        msg = f"the cell size must be > 0 mm, got {cell_size_mm}"
        raise ConfigError(msg)
    shifted = np.asarray(position, dtype=float) - cell_origin_mm + cell_size_mm / 2.0
    return np.mod(shifted, cell_size_mm) - cell_size_mm / 2.0


def _core_or_nan(values: np.ndarray, n_sigma: float, min_events: int) -> GaussianCore:
    values = values[np.isfinite(values)]
    if values.size < max(min_events, 10):
        return GaussianCore.empty(values.size)
    return fit_gaussian_core(values, n_sigma=n_sigma)


def _binned_residuals(variable: str, dx: np.ndarray, dy: np.ndarray, vx: np.ndarray, vy: np.ndarray,
                      edges: np.ndarray, n_sigma: float, min_events: int) -> PositionBins:
    n_bins = edges.size - 1
    ix, iy = bin_index(vx, edges), bin_index(vy, edges)
    columns: dict[str, np.ndarray] = {}
    for axis, residual, index in (("x", dx, ix), ("y", dy, iy)):
        cores = [_core_or_nan(residual[index == b], n_sigma, min_events) for b in range(n_bins)]
        columns[f"bias_{axis}"] = np.array([c.mean for c in cores])
        columns[f"bias_{axis}_error"] = np.array([c.mean_error for c in cores])
        columns[f"sigma_{axis}"] = np.array([c.sigma for c in cores])
        columns[f"sigma_{axis}_error"] = np.array([c.sigma_error for c in cores])
    counts = np.bincount(ix[ix >= 0], minlength=n_bins)
    return PositionBins(variable, edges, 0.5 * (edges[1:] + edges[:-1]), counts, **columns)


def position_performance(
    predictions: Predictions,
    energy_edges: np.ndarray | None = None,
    *,
    cell_size_mm: float | None = None,
    cell_origin_mm: float = 0.0,
    n_cell_bins: int = 10,
    n_sigma: float = 2.0,
    min_events: int = MIN_BIN_EVENTS,
) -> PositionPerformance:
    """Resolution and bias of the predicted impact point (N, 2), overall and binned.

    Args:
        predictions: with ``predicted["position"]`` and ``truth["position"]``, both (N, 2) mm.
        energy_edges: true-energy bins, MeV; default :func:`~calolab.evaluate.core.energy_bins`.
        cell_size_mm: cell pitch for the in-cell binning; default ``predictions.attrs["cell_size_mm"]``
            when present, else no in-cell binning.
        cell_origin_mm: a cell centre, mm (see :func:`position_in_cell`).
        n_cell_bins: bins across one cell.
        n_sigma: half-width of the core-fit window, in sigma.
        min_events: fewest events for a bin to be fitted.

    Raises:
        ConfigError: no (N, 2) predicted or true position, or fewer than 10 finite residuals.
    """
    predicted = predictions.predicted.get("position")
    true = predictions.truth.get("position")
    if predicted is None or true is None:
        missing = "predicted['position']" if predicted is None else "truth['position']"
        msg = f"model {predictions.model!r}: no {missing}, so no position resolution"
        raise ConfigError(msg)
    predicted, true = np.asarray(predicted, dtype=float), np.asarray(true, dtype=float)
    if predicted.ndim != 2 or predicted.shape[1:] != (2,) or true.shape != predicted.shape:
        msg = (f"model {predictions.model!r}: position_performance needs (N, 2) predicted and true positions, "
               f"got {predicted.shape} and {true.shape} (overlap models: use overlap_performance)")
        raise ConfigError(msg)
    residual = predicted - true
    finite = np.all(np.isfinite(residual), axis=1)
    dx, dy = residual[finite, 0], residual[finite, 1]
    x = fit_gaussian_core(dx, n_sigma=n_sigma)
    y = fit_gaussian_core(dy, n_sigma=n_sigma)
    energy = np.asarray(predictions.truth["energy"], dtype=float)
    energy = (energy.sum(axis=1) if energy.ndim == 2 else energy)[finite]
    edges = energy_bins(energy) if energy_edges is None else np.asarray(energy_edges, dtype=float)
    vs_energy = _binned_residuals("energy", dx, dy, energy, energy, edges, n_sigma, min_events)
    if cell_size_mm is None and "cell_size_mm" in predictions.attrs:
        cell_size_mm = float(predictions.attrs["cell_size_mm"])
        cell_origin_mm = float(predictions.attrs.get("cell_origin_mm", cell_origin_mm))
    vs_cell = None
    if cell_size_mm is not None:
        offset = position_in_cell(true[finite], cell_size_mm, cell_origin_mm)
        cell_edges = np.linspace(-cell_size_mm / 2.0, cell_size_mm / 2.0, n_cell_bins + 1)
        vs_cell = _binned_residuals("cell", dx, dy, offset[:, 0], offset[:, 1], cell_edges, n_sigma, min_events)
    return PositionPerformance(predictions.model, int(finite.sum()), x, y, vs_energy, vs_cell, cell_size_mm)


def match_photons(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """For each event, the order of the predicted photons that best matches the true ones.

    Args:
        predicted, true: positions (N, k, 2), mm.

    Returns:
        ``order`` (N, k) int: ``predicted[i, order[i, j]]`` is matched to ``true[i, j]``; the
        permutation minimises the summed distance of the pairs.

    Raises:
        ConfigError: mismatched shapes or more than :data:`MAX_PHOTONS` photons.
    """
    predicted, true = np.asarray(predicted, dtype=float), np.asarray(true, dtype=float)
    if predicted.ndim != 3 or predicted.shape[2] != 2 or predicted.shape != true.shape:
        msg = f"match_photons needs (N, k, 2) predicted and true positions, got {predicted.shape} and {true.shape}"
        raise ConfigError(msg)
    k = predicted.shape[1]
    if k > MAX_PHOTONS:
        msg = f"match_photons enumerates permutations: at most {MAX_PHOTONS} photons per event, got {k}"
        raise ConfigError(msg)
    permutations = np.array(list(itertools.permutations(range(k))), dtype=np.intp)  # (P, k)
    distance = np.linalg.norm(predicted[:, permutations] - true[:, None], axis=-1)  # (N, P, k)
    summed = np.where(np.isfinite(distance), distance, np.inf).sum(axis=2)
    return permutations[np.argmin(summed, axis=1)]


def _photon_energy(arrays: dict[str, np.ndarray], shape: tuple[int, int]) -> np.ndarray | None:
    for key in ("photon_energy", "energy"):
        value = arrays.get(key)
        if value is not None and np.ndim(value) == 2 and np.shape(value) == shape:
            return np.asarray(value, dtype=float)
    return None


def _separation(truth: dict[str, np.ndarray], true: np.ndarray) -> np.ndarray:
    if "separation" in truth:
        return np.asarray(truth["separation"], dtype=float)
    pairs = [np.linalg.norm(true[:, i] - true[:, j], axis=-1)
             for i, j in itertools.combinations(range(true.shape[1]), 2)]
    return np.min(pairs, axis=0)


def overlap_performance(
    predictions: Predictions,
    separation_edges: np.ndarray | None = None,
    *,
    n_bins: int = 8,
    n_sigma: float = 2.0,
    min_events: int = MIN_BIN_EVENTS,
) -> OverlapPerformance:
    """Per-photon position and energy resolution of an overlap model vs the true separation.

    Args:
        predictions: predicted and true positions (N, k, 2) mm, optionally photon energies (N, k)
            MeV and ``truth["separation"]`` mm (the module docstring gives the layout).
        separation_edges: separation bins, mm; default ``n_bins`` equal bins over the sample.
        n_bins: bins when ``separation_edges`` is not given.
        n_sigma: half-width of the core-fit window, in sigma.
        min_events: fewest photons for a bin to be fitted.

    Raises:
        ConfigError: the positions are not (N, k, 2) with k >= 2 on both sides.
    """
    predicted = predictions.predicted.get("position")
    true = predictions.truth.get("position")
    if predicted is None or true is None or np.ndim(predicted) != 3 or np.shape(predicted) != np.shape(true) \
            or np.shape(predicted)[1] < 2:
        shapes = (None if predicted is None else np.shape(predicted), None if true is None else np.shape(true))
        msg = (f"model {predictions.model!r}: overlap_performance needs (N, k >= 2, 2) predicted and true "
               f"positions, got {shapes[0]} and {shapes[1]}")
        raise ConfigError(msg)
    predicted, true = np.asarray(predicted, dtype=float), np.asarray(true, dtype=float)
    n, k = predicted.shape[:2]
    order = match_photons(predicted, true)
    matched = np.take_along_axis(predicted, order[:, :, None], axis=1)
    residual = matched - true  # (N, k, 2)
    separation = np.repeat(_separation(predictions.truth, true)[:, None], k, axis=1)  # per photon

    true_energy = _photon_energy(predictions.truth, (n, k))
    predicted_energy = _photon_energy(predictions.predicted, (n, k))
    ratio = None
    if true_energy is not None and predicted_energy is not None:
        predicted_energy = np.take_along_axis(predicted_energy, order, axis=1)
        good = true_energy > 0
        ratio = np.where(good, predicted_energy / np.where(good, true_energy, 1.0), np.nan)

    finite_sep = separation[np.isfinite(separation)]
    if separation_edges is None:
        low, high = (finite_sep.min(), finite_sep.max()) if finite_sep.size else (0.0, 1.0)
        separation_edges = np.linspace(low, high, n_bins + 1) if high > low else np.array([low - 0.5, low + 0.5])
    edges = np.asarray(separation_edges, dtype=float)
    index = bin_index(separation, edges)  # (N, k)
    n_edges = edges.size - 1
    columns = {name: np.full(n_edges, np.nan) for name in (
        "position_sigma", "position_sigma_error", "energy_bias", "energy_bias_error", "energy_resolution",
        "energy_resolution_error")}
    for b in range(n_edges):
        in_bin = index == b
        core = _core_or_nan(residual[in_bin].ravel(), n_sigma, 2 * min_events)
        columns["position_sigma"][b], columns["position_sigma_error"][b] = core.sigma, core.sigma_error
        if ratio is not None:
            core = _core_or_nan(ratio[in_bin], n_sigma, min_events)
            columns["energy_bias"][b], columns["energy_bias_error"][b] = core.mean - 1.0, core.mean_error
            columns["energy_resolution"][b] = core.sigma / core.mean
            columns["energy_resolution_error"][b] = (core.sigma / core.mean) * math.hypot(
                core.sigma_error / core.sigma, core.mean_error / core.mean) if core.sigma != 0.0 else 0.0
    counts = np.bincount(index[index >= 0], minlength=n_edges)
    bins = OverlapBins(edges, 0.5 * (edges[1:] + edges[:-1]), counts, **columns)
    position = fit_gaussian_core(residual.ravel(), n_sigma=n_sigma)
    energy = None if ratio is None else _core_or_nan(ratio.ravel(), n_sigma, min_events)
    return OverlapPerformance(predictions.model, n, k, position, energy, bins)
