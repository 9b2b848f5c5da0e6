"""Shared numerics of the evaluation: the iterative Gaussian core fit and binning.

A reconstructed quantity (an energy response, a position residual) is usually a Gaussian core
with non-Gaussian tails (leakage, mis-reconstruction). Its bias and resolution are therefore
quoted from a fit of the core only: the fit is restricted to ``mean +- n_sigma * sigma`` and
repeated with the new mean and sigma until the window stops moving. Inside the window the
likelihood is that of a *truncated* normal distribution, so the cut does not bias sigma low
(a plain RMS of the values within +-2 sigma would be 12% too small).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from iminuit import Minuit
from scipy.special import ndtr

from calolab.errors import ConfigError

if TYPE_CHECKING:
    from calolab.reco.predictions import Predictions

__all__ = ["GaussianCore", "fit_gaussian_core", "bin_index", "check_same_events", "energy_bins", "MIN_CORE_VALUES"]

#: Fewest values :func:`fit_gaussian_core` accepts.
MIN_CORE_VALUES = 10
_MAD_TO_SIGMA = 1.482602218505602  # 1 / Phi^-1(3/4): the MAD of a normal distribution is 0.6745 sigma


@dataclass(frozen=True)
class GaussianCore:
    """Result of :func:`fit_gaussian_core`; units of the values fitted.

    Attributes:
        mean, mean_error: the core's mean and its uncertainty (HESSE).
        sigma, sigma_error: the core's standard deviation and its uncertainty.
        n_core: values inside the final window; ``n_total``: finite values given.
        low, high: the final fit window.
        converged: whether the window stopped moving within the iteration limit.
    """

    mean: float
    mean_error: float
    sigma: float
    sigma_error: float
    n_core: int
    n_total: int
    low: float
    high: float
    converged: bool

    @property
    def core_fraction(self) -> float:
        """Fraction of the values inside the final window."""
        return self.n_core / self.n_total if self.n_total else math.nan

    @classmethod
    def empty(cls, n_total: int = 0) -> GaussianCore:
        """A placeholder for a bin with too few values: every number is NaN."""
        nan = math.nan
        return cls(nan, nan, nan, nan, 0, n_total, nan, nan, False)


def _truncated_fit(values: np.ndarray, low: float, high: float, mean: float, sigma: float) -> tuple[float, ...]:
    """Unbinned ML fit of a normal distribution truncated to ``[low, high]``: mean, sigma and errors."""
    n = float(values.size)
    # sufficient statistics about a shift, for precision; the NLL then costs O(1) per call
    shift = float(np.mean(values))
    centred = values - shift
    s1, s2 = float(centred.sum()), float(np.square(centred).sum())
    a_edge, b_edge = low - shift, high - shift

    def nll(mu: float, sd: float) -> float:
        squares = s2 - 2.0 * mu * s1 + n * mu * mu
        inside = float(ndtr((b_edge - mu) / sd) - ndtr((a_edge - mu) / sd))
        return 0.5 * squares / (sd * sd) + n * math.log(sd) + n * math.log(max(inside, 1e-300))

    minuit = Minuit(nll, mu=mean - shift, sd=sigma)
    minuit.errordef = Minuit.LIKELIHOOD
    minuit.errors = (sigma / math.sqrt(n), sigma / math.sqrt(2.0 * n))  # starting steps of the expected size
    minuit.limits["sd"] = (sigma * 1e-3, sigma * 1e3)
    minuit.migrad()
    minuit.hesse()
    return (float(minuit.values["mu"]) + shift, float(minuit.errors["mu"]), float(minuit.values["sd"]),
            float(minuit.errors["sd"]))


def fit_gaussian_core(
    values: np.ndarray,
    *,
    n_sigma: float = 2.0,
    max_iterations: int = 20,
    tolerance: float = 1e-3,
) -> GaussianCore:
    """Mean and sigma of the Gaussian core of ``values``, ignoring the tails.

    Starts from the median and the MAD-based sigma (both robust against tails), then fits a
    normal distribution truncated to ``mean +- n_sigma * sigma`` by unbinned maximum likelihood
    (iminuit MIGRAD + HESSE) and moves the window to the fitted mean and sigma until it moves
    by less than ``tolerance * sigma``.

    Args:
        values: the sample (any unit); non-finite values are dropped.
        n_sigma: half-width of the fit window in units of sigma.
        max_iterations: most window updates.
        tolerance: convergence threshold on the mean and sigma shifts, in units of sigma.

    Raises:
        ConfigError: fewer than :data:`MIN_CORE_VALUES` finite values, or ``n_sigma <= 0``.

    >>> rng = np.random.default_rng(0)
    >>> core = fit_gaussian_core(np.concatenate([rng.normal(0, 1, 10000), rng.uniform(5, 50, 500)]))
    >>> round(core.sigma, 1), round(core.mean, 1)
    (1.0, 0.0)
    """
    sample = np.asarray(values, dtype=float).ravel()
    sample = sample[np.isfinite(sample)]
    if n_sigma <= 0:
        msg = f"fit_gaussian_core: n_sigma must be > 0, got {n_sigma}"
        raise ConfigError(msg)
    if sample.size < MIN_CORE_VALUES:
        msg = f"fit_gaussian_core needs at least {MIN_CORE_VALUES} finite values, got {sample.size}"
        raise ConfigError(msg)
    mean = float(np.median(sample))
    sigma = _MAD_TO_SIGMA * float(np.median(np.abs(sample - mean)))
    if sigma == 0.0:
        sigma = float(sample.std())
    if sigma == 0.0:  # every value the same: a perfect prediction
        return GaussianCore(mean, 0.0, 0.0, 0.0, sample.size, sample.size, mean, mean, True)
    mean_error, sigma_error = sigma / math.sqrt(sample.size), sigma / math.sqrt(2.0 * sample.size)
    converged = False
    low, high = mean - n_sigma * sigma, mean + n_sigma * sigma
    n_core = sample.size
    for _ in range(max_iterations):
        low, high = mean - n_sigma * sigma, mean + n_sigma * sigma
        core = sample[(sample >= low) & (sample <= high)]
        if core.size < MIN_CORE_VALUES // 2:
            break
        n_core = core.size
        new_mean, mean_error, new_sigma, sigma_error = _truncated_fit(core, low, high, mean, sigma)
        shift = max(abs(new_mean - mean), abs(new_sigma - sigma))
        mean, sigma = new_mean, new_sigma
        if shift < tolerance * sigma:
            converged = True
            break
    low, high = mean - n_sigma * sigma, mean + n_sigma * sigma
    n_core = int(np.count_nonzero((sample >= low) & (sample <= high))) if converged else n_core
    return GaussianCore(mean, mean_error, sigma, sigma_error, n_core, sample.size, low, high, converged)


def check_same_events(first: Predictions, second: Predictions) -> None:
    """Refuse two :class:`~calolab.reco.predictions.Predictions` that are not of the same events (true
    energies and PDG codes, in the same order), as the paired comparisons need.

    Raises:
        ConfigError: the truths differ.
    """
    same = all(np.shape(first.truth[key]) == np.shape(second.truth[key]) and np.array_equal(
        np.asarray(first.truth[key], dtype=float), np.asarray(second.truth[key], dtype=float), equal_nan=True)
        for key in ("energy", "pdg"))
    if not same:
        msg = (f"{first.model!r} and {second.model!r} were not evaluated on the same events: predict the same "
               f"test file (or split) with both")
        raise ConfigError(msg)


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value for bins ``[edges[i], edges[i+1])`` (the last bin closed); -1 outside."""
    values = np.asarray(values, dtype=float)
    edges = np.asarray(edges, dtype=float)
    index = np.searchsorted(edges, values, side="right") - 1
    index[values == edges[-1]] = edges.size - 2
    index[(index < 0) | (index >= edges.size - 1) | ~np.isfinite(values)] = -1
    return index


def energy_bins(true_energy: np.ndarray, *, n_bins: int = 10, max_discrete: int = 20) -> np.ndarray:
    """Default true-energy bin edges (MeV) for a sample of true energies (MeV).

    A sample of at most ``max_discrete`` distinct energies (test-beam style, fixed energies) gets
    one bin per energy, edged at the geometric means of neighbours; a continuous spectrum gets
    ``n_bins`` logarithmic bins from its minimum to its maximum.

    Raises:
        ConfigError: no positive finite energy.
    """
    energy = np.asarray(true_energy, dtype=float).ravel()
    energy = energy[np.isfinite(energy) & (energy > 0)]
    if energy.size == 0:
        msg = "energy_bins: no positive finite true energy to bin; check truth['energy'] (MeV)"
        raise ConfigError(msg)
    unique = np.unique(energy)
    if unique.size == 1:
        return np.array([unique[0] * 0.9, unique[0] * 1.1])
    if unique.size <= max_discrete:
        inner = np.sqrt(unique[1:] * unique[:-1])
        first = unique[0] ** 2 / inner[0]
        last = unique[-1] ** 2 / inner[-1]
        return np.concatenate([[first], inner, [last]])
    return np.geomspace(unique[0], unique[-1], n_bins + 1)
