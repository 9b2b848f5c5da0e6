"""Energy performance: bias and resolution vs true energy, and the resolution fit.

The stochastic / noise / constant parameterisation (PDG "Calorimetry", eq. 35.x)::

    sigma / E = a / sqrt(E) (+) b / E (+) c        (E in GeV, terms added in quadrature)

is fitted by weighted least squares with iminuit (MIGRAD + HESSE), so every term comes with its
uncertainty. :func:`energy_performance` measures the points: per true-energy bin the Gaussian core
of the response ``E_pred / E_true`` (:func:`~calolab.evaluate.core.fit_gaussian_core`) gives the
bias ``mean - 1`` and the relative resolution ``sigma / mean``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from iminuit import Minuit
from iminuit.cost import LeastSquares

from calolab.errors import ConfigError
from calolab.evaluate.core import (
    MIN_CORE_VALUES,
    GaussianCore,
    bin_index,
    check_same_events,
    energy_bins,
    fit_gaussian_core,
)
from calolab.reco.predictions import Predictions

__all__ = [
    "EnergyPerformance",
    "PairedResolution",
    "ResolutionFit",
    "energy_performance",
    "fit_resolution",
    "paired_resolution",
    "predicted_total_energy",
    "relative_resolution",
    "resolution_model",
]

#: Fewest events a bin needs for its core fit; emptier bins are NaN.
MIN_BIN_EVENTS = 20


def resolution_model(energy_gev: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """sigma/E for ``energy_gev`` (GeV) with stochastic ``a`` (sqrt(GeV)), noise ``b`` (GeV), constant ``c``."""
    energy_gev = np.asarray(energy_gev, dtype=float)
    return np.sqrt(a**2 / energy_gev + (b / energy_gev) ** 2 + c**2)


@dataclass(frozen=True)
class ResolutionFit:
    """Fitted resolution terms with their uncertainties (``a`` in sqrt(GeV), ``b`` in GeV)."""

    a: float
    b: float
    c: float
    a_error: float
    b_error: float
    c_error: float
    chi2: float
    ndof: int

    def __call__(self, energy_gev: np.ndarray) -> np.ndarray:
        return resolution_model(energy_gev, self.a, self.b, self.c)


def relative_resolution(response: np.ndarray) -> tuple[float, float]:
    """(std/mean, its statistical uncertainty) of a sample of reconstructed energies."""
    response = np.asarray(response, dtype=float)
    if response.size < 3:
        msg = f"relative_resolution needs at least 3 values, got {response.size}"
        raise ConfigError(msg)
    value = response.std(ddof=1) / response.mean()
    return float(value), float(value / np.sqrt(2.0 * (response.size - 1)))


def fit_resolution(
    energy_gev: np.ndarray,
    resolution: np.ndarray,
    errors: np.ndarray,
    *,
    fix_noise: float | None = 0.0,
) -> ResolutionFit:
    """Fit ``sigma/E = a/sqrt(E) (+) b/E (+) c`` to measured points.

    Args:
        energy_gev: beam energies, GeV.
        resolution: measured sigma/E at each energy.
        errors: uncertainties of ``resolution``.
        fix_noise: hold ``b`` at this value (GeV); ``None`` fits it too.
    """
    energy_gev, resolution, errors = (np.asarray(x, dtype=float) for x in (energy_gev, resolution, errors))
    if not (energy_gev.shape == resolution.shape == errors.shape) or energy_gev.size < 2:
        msg = "fit_resolution needs equally long arrays of at least 2 energies, resolutions and errors"
        raise ConfigError(msg)
    cost = LeastSquares(energy_gev, resolution, errors, resolution_model)
    start_a = float(resolution[0] * np.sqrt(energy_gev[0]))
    start_b = fix_noise if fix_noise is not None else 0.3 * float(resolution[0] * energy_gev[0])
    minuit = Minuit(cost, a=start_a, b=start_b, c=0.01)
    minuit.limits["a"] = (0.0, None)
    minuit.limits["b"] = (0.0, None)
    minuit.limits["c"] = (0.0, None)
    if fix_noise is not None:
        minuit.fixed["b"] = True
    minuit.migrad()
    minuit.hesse()
    values, errs = minuit.values, minuit.errors
    return ResolutionFit(
        a=float(values["a"]), b=float(values["b"]), c=float(values["c"]),
        a_error=float(errs["a"]), b_error=float(errs["b"]), c_error=float(errs["c"]),
        chi2=float(minuit.fval), ndof=int(energy_gev.size - minuit.nfit),
    )


@dataclass(frozen=True)
class EnergyPerformance:
    """Energy response of one model per true-energy bin (arrays of length ``bins``).

    Attributes:
        model: the model's name.
        bin_edges: true-energy bin edges, MeV (``bins + 1``).
        energy: mean true energy of the events in each bin, MeV.
        counts: events per bin.
        bias, bias_error: Gaussian-core mean of ``E_pred / E_true`` minus 1.
        median_bias: median of ``E_pred / E_true`` minus 1 (robust cross-check).
        resolution, resolution_error: relative resolution ``sigma / mean`` of the core.
        cores: the core fit of each bin (NaN for bins with fewer than ``min_events`` events).
        fit: ``sigma/E = a/sqrt(E) (+) b/E (+) c`` fitted to the bins (``None`` with < 2 usable bins).
    """

    model: str
    bin_edges: np.ndarray
    energy: np.ndarray
    counts: np.ndarray
    bias: np.ndarray
    bias_error: np.ndarray
    median_bias: np.ndarray
    resolution: np.ndarray
    resolution_error: np.ndarray
    cores: tuple[GaussianCore, ...]
    fit: ResolutionFit | None


def predicted_total_energy(predictions: Predictions) -> np.ndarray | None:
    """The predicted energy per event, MeV (summed over photons for ``(N, k)`` predictions), or ``None``."""
    energy = predictions.predicted.get("energy")
    if energy is None:
        return None
    energy = np.asarray(energy, dtype=float)
    return energy.sum(axis=1) if energy.ndim == 2 else energy


def _ratio_error(ratio: float, a: float, a_error: float, b: float, b_error: float) -> float:
    """Uncertainty of ``a / b`` from independent uncertainties of ``a`` and ``b``."""
    if ratio == 0.0:
        return abs(a_error / b) if b else math.nan
    return abs(ratio) * math.hypot(a_error / a, b_error / b)


def _binned_response(predictions: Predictions, bins: Sequence[float] | np.ndarray | None,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(true MeV, E_pred / E_true, bin index, edges)``; unusable events get NaN and index -1.

    Raises:
        ConfigError: the model predicts no energy, or the bin edges are not increasing.
    """
    predicted = predicted_total_energy(predictions)
    if predicted is None:
        msg = f"model {predictions.model!r} predicts no energy (no predicted['energy'])"
        raise ConfigError(msg)
    true = np.asarray(predictions.truth["energy"], dtype=float)
    if true.ndim != 1:
        true = true.sum(axis=1)
    edges = energy_bins(true) if bins is None else np.asarray(bins, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        msg = f"energy bins must be at least 2 increasing edges (MeV), got {edges.tolist()}"
        raise ConfigError(msg)
    good = np.isfinite(true) & (true > 0) & np.isfinite(predicted)
    response = np.where(good, predicted / np.where(good, true, 1.0), np.nan)
    return true, response, np.where(good, bin_index(true, edges), -1), edges


def energy_performance(
    predictions: Predictions,
    bins: Sequence[float] | np.ndarray | None = None,
    *,
    n_sigma: float = 2.0,
    fix_noise: float | None = None,
    min_events: int = MIN_BIN_EVENTS,
) -> EnergyPerformance:
    """Bias and relative resolution of the predicted energy per true-energy bin, and their fit.

    Args:
        predictions: a model's predictions with ``predicted["energy"]`` (MeV).
        bins: true-energy bin edges, MeV; default :func:`~calolab.evaluate.core.energy_bins`.
        n_sigma: half-width of the core-fit window, in sigma.
        fix_noise: hold the noise term ``b`` at this value (GeV) in the resolution fit; ``None``
            fits it when at least 4 bins are usable (with fewer, ``b`` is held at 0).
        min_events: fewest events for a bin to be fitted.

    Raises:
        ConfigError: the model predicts no energy, or the bin edges are not increasing.
    """
    true, response, index, edges = _binned_response(predictions, bins)
    n_bins = edges.size - 1
    energy, bias, bias_error, median_bias, resolution, resolution_error = (np.full(n_bins, np.nan) for _ in range(6))
    counts = np.bincount(index[index >= 0], minlength=n_bins)
    cores = []
    for b in range(n_bins):
        in_bin = index == b
        if counts[b] == 0:
            cores.append(GaussianCore.empty())
            continue
        energy[b] = true[in_bin].mean()
        median_bias[b] = np.median(response[in_bin]) - 1.0
        if counts[b] < max(min_events, MIN_CORE_VALUES):
            cores.append(GaussianCore.empty(int(counts[b])))
            continue
        core = fit_gaussian_core(response[in_bin], n_sigma=n_sigma)
        cores.append(core)
        bias[b], bias_error[b] = core.mean - 1.0, core.mean_error
        resolution[b] = core.sigma / core.mean
        resolution_error[b] = _ratio_error(resolution[b], core.sigma, core.sigma_error, core.mean, core.mean_error)
    usable = np.isfinite(resolution) & np.isfinite(resolution_error) & (resolution_error > 0)
    fit = None
    if np.count_nonzero(usable) >= 2:
        noise = fix_noise if fix_noise is not None or np.count_nonzero(usable) >= 4 else 0.0
        fit = fit_resolution(energy[usable] / 1000.0, resolution[usable], resolution_error[usable], fix_noise=noise)
    return EnergyPerformance(predictions.model, edges, energy, counts, bias, bias_error, median_bias, resolution,
                             resolution_error, tuple(cores), fit)


@dataclass(frozen=True)
class PairedResolution:
    """Two models' relative resolutions on the same events, per true-energy bin (:func:`paired_resolution`).

    Attributes:
        models: the two model names ``(first, second)``.
        edges: true-energy bin edges, MeV.
        first, second: each model's core ``sigma / mean`` per bin (NaN: too few events).
        difference: ``second - first`` (positive: the first model is better).
        difference_error: the bootstrap standard deviation of the difference.
        p_first_not_better: the share of bootstrap resamples in which the first model is not better.
        n_resamples, seed: the bootstrap.
    """

    models: tuple[str, str]
    edges: np.ndarray
    first: np.ndarray
    second: np.ndarray
    difference: np.ndarray
    difference_error: np.ndarray
    p_first_not_better: np.ndarray
    n_resamples: int
    seed: int

    @property
    def first_better_everywhere(self) -> bool:
        """The first model has the smaller resolution in every filled bin."""
        filled = np.isfinite(self.difference)
        return bool(filled.any() and np.all(self.difference[filled] > 0))

    @property
    def bins_first_better(self) -> tuple[int, int]:
        """``(k, n)``: the first model is better in ``k`` of the ``n`` filled bins."""
        filled = np.isfinite(self.difference)
        return int(np.sum(self.difference[filled] > 0)), int(filled.sum())

    @property
    def sign_test_p(self) -> float:
        """The chance of the first model being better in at least as many bins as it is, were the two equally good.

        Each bin holds other events, so for two equally good models each bin is a fair coin: the
        binomial tail ``sum_{j >= k} C(n, j) / 2^n`` (sign test). 10 of 10 bins: 1/1024.
        """
        k, n = self.bins_first_better
        return float(sum(math.comb(n, j) for j in range(k, n + 1)) / 2.0**n) if n else float("nan")

    def mean_difference(self) -> tuple[float, float]:
        """The difference averaged over the filled bins and its error, ``(mean, error)``.

        The bins hold different events, so their bootstrap errors add in quadrature: error =
        sqrt(sum error_b^2) / n. NaN without filled bins or bootstrap errors.
        """
        filled = np.isfinite(self.difference) & np.isfinite(self.difference_error)
        n = int(filled.sum())
        if not n:
            return float("nan"), float("nan")
        return (float(self.difference[filled].mean()),
                float(np.sqrt(np.sum(self.difference_error[filled] ** 2)) / n))


def _core_resolution(response: np.ndarray, n_sigma: float) -> float:
    core = fit_gaussian_core(response, n_sigma=n_sigma)
    return core.sigma / core.mean


def paired_resolution(first: Predictions, second: Predictions, bins: Sequence[float] | np.ndarray, *,
                      n_resamples: int = 200, seed: int = 0, n_sigma: float = 2.0,
                      min_events: int = MIN_BIN_EVENTS) -> PairedResolution:
    """Is ``first`` better than ``second`` in each energy bin? A paired bootstrap on their common events.

    Both models predicted the same events (same truth energies, in the same order): each resample draws
    the bin's events with replacement once and refits both models' Gaussian cores on it, so the
    fluctuations the two share (the same showers) cancel in the difference, which an unpaired comparison
    of the two error bars would count twice.

    Raises:
        ConfigError: the two predictions are not of the same events, a model predicts no energy, or the
            bins are not increasing edges.
    """
    check_same_events(first, second)
    _, response_first, index, edges = _binned_response(first, bins)
    _, response_second, _, _ = _binned_response(second, bins)
    index = np.where(np.isfinite(response_second), index, -1)  # events both models reconstructed
    responses = (response_first, response_second)
    n_bins = edges.size - 1
    rng = np.random.default_rng(seed)
    values = {key: np.full(n_bins, np.nan) for key in ("first", "second", "error", "p")}
    for b in range(n_bins):
        rows = np.flatnonzero(index == b)
        if rows.size < max(min_events, MIN_CORE_VALUES):
            continue
        values["first"][b], values["second"][b] = (_core_resolution(r[rows], n_sigma) for r in responses)
        differences = np.empty(n_resamples)
        for k in range(n_resamples):
            drawn = rng.choice(rows, rows.size)
            differences[k] = _core_resolution(responses[1][drawn], n_sigma) - _core_resolution(
                responses[0][drawn], n_sigma)
        values["error"][b] = differences.std(ddof=1) if n_resamples > 1 else np.nan
        values["p"][b] = float(np.mean(differences <= 0))
    return PairedResolution((first.model, second.model), edges, values["first"], values["second"],
                            values["second"] - values["first"], values["error"], values["p"], n_resamples, seed)
