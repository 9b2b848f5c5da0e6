"""The Grindhammer-Peters (GFlash) parameterisation of electromagnetic showers in homogeneous media.

G. Grindhammer and S. Peters, "The Parameterized Simulation of Electromagnetic Showers in
Homogeneous and Sampling Calorimeters", hep-ex/0001020 (eqs. for homogeneous media). It was fitted
to detailed simulations; calolab uses it as an independent expectation for its Monte Carlo and
as the basis of a fast parametric engine. Depths ``t`` are in radiation lengths, radii ``r`` in
Moliere radii, energies in MeV (converted to GeV where the paper's fits use GeV).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

__all__ = ["LongitudinalProfile", "longitudinal_profile", "radial_containment", "containment_radius"]


@dataclass(frozen=True)
class LongitudinalProfile:
    """Mean longitudinal profile ``dE/dt = E b (b t)^(a-1) exp(-b t) / Gamma(a)``.

    Attributes:
        peak: depth of the maximum T, X0 (``ln y - 0.858``, y = E / E_c).
        alpha: shape parameter a (``0.21 + (0.492 + 2.38/Z) ln y``).
        beta: ``(alpha - 1) / peak``, 1/X0.
    """

    peak: float
    alpha: float
    beta: float

    @property
    def mean_depth(self) -> float:
        """Centre of gravity alpha / beta, X0."""
        return self.alpha / self.beta

    def density(self, t: np.ndarray) -> np.ndarray:
        """Fraction of the energy per X0 at depth ``t`` (X0)."""
        t = np.asarray(t, dtype=float)
        log = np.log(self.beta) + (self.alpha - 1.0) * np.log(np.maximum(self.beta * t, 1e-300))
        return np.exp(log - self.beta * t - gammaln(self.alpha))


def longitudinal_profile(energy: float, critical_energy: float, z: float) -> LongitudinalProfile:
    """Average longitudinal profile of an electron shower of ``energy`` (MeV) in a medium of
    ``critical_energy`` (MeV) and atomic number ``z`` (hep-ex/0001020, homogeneous media)."""
    log_y = np.log(energy / critical_energy)
    peak = log_y - 0.858
    alpha = 0.21 + (0.492 + 2.38 / z) * log_y
    return LongitudinalProfile(peak=float(peak), alpha=float(alpha), beta=float((alpha - 1.0) / peak))


def _radial_parameters(energy_gev: float, z: float, tau: np.ndarray):
    log_e = np.log(energy_gev)
    core = 0.0251 + 0.00319 * log_e + (0.1162 - 0.000381 * z) * tau
    k1, k2, k3, k4 = 0.659 - 0.00309 * z, 0.645, -2.59, 0.3585 + 0.0412 * log_e
    tail = k1 * (np.exp(k3 * (tau - k2)) + np.exp(k4 * (tau - k2)))
    p1, p2, p3 = 2.632 - 0.00094 * z, 0.401 + 0.00187 * z, 1.313 - 0.0686 * log_e
    weight = np.clip(p1 * np.exp((p2 - tau) / p3 - np.exp((p2 - tau) / p3)), 0.0, 1.0)
    return core, tail, weight


def radial_containment(radius: np.ndarray, energy: float, critical_energy: float, z: float,
                       max_depth: float = 40.0) -> np.ndarray:
    """Fraction of the shower energy inside an infinitely deep cylinder of ``radius`` (Moliere
    radii), integrating the radial profile ``f(r) = p 2r R_C^2/(r^2+R_C^2)^2 + (1-p) 2r R_T^2/(r^2+R_T^2)^2``
    over the longitudinal profile to ``max_depth`` X0."""
    radius = np.atleast_1d(np.asarray(radius, dtype=float))
    profile = longitudinal_profile(energy, critical_energy, z)
    t = np.linspace(0.005, max_depth, 4000)
    weights = profile.density(t)
    core, tail, p = _radial_parameters(energy / 1000.0, z, t / profile.peak)
    r2 = radius[:, None] ** 2
    inside = p * r2 / (r2 + core**2) + (1.0 - p) * r2 / (r2 + tail**2)
    return (inside * weights).sum(axis=1) / weights.sum()


def containment_radius(fraction: float, energy: float, critical_energy: float, z: float) -> float:
    """Radius (Moliere radii) of the cylinder holding ``fraction`` of the energy."""
    radii = np.linspace(0.0, 10.0, 4001)
    return float(np.interp(fraction, radial_containment(radii, energy, critical_energy, z), radii))
