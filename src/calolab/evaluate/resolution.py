"""Evaluation of calorimeter performance: energy-resolution fits.

The stochastic / noise / constant parameterisation (PDG "Calorimetry", eq. 35.x)::

    sigma / E = a / sqrt(E) (+) b / E (+) c        (E in GeV, terms added in quadrature)

is fitted by weighted least squares with iminuit (MIGRAD + HESSE), so every term comes with its
uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from iminuit import Minuit
from iminuit.cost import LeastSquares

from calolab.errors import ConfigError

__all__ = ["ResolutionFit", "fit_resolution", "resolution_model", "relative_resolution"]


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
