"""Delta-ray production: Moller (e- e-) and Bhabha (e+ e-) scattering on atomic electrons.

Differential cross sections per electron in ``eps = T_delta / T`` (Moller, Ann. Phys. 14
(1932) 531; Bhabha, Proc. R. Soc. A154 (1936) 195; in the notation of the Geant4 Physics
Reference Manual, "Moller and Bhabha scattering")::

    Moller:  dsigma/deps = 2 pi r_e^2 / (beta^2 (gamma - 1)) *
             [ ((gamma-1)/gamma)^2 + 1/eps (1/eps - C) + 1/(1-eps) (1/(1-eps) - C) ],
             C = (2 gamma - 1) / gamma^2,  eps in [T_cut/T, 1/2]  (the faster electron is the primary)
    Bhabha:  dsigma/deps = 2 pi r_e^2 / (gamma - 1) *
             [ 1/(beta^2 eps^2) - B1/eps + B2 - B3 eps + B4 eps^2 ],  eps in [T_cut/T, 1]

Both are sampled from ``1/eps^2`` and accepted with the remaining factor.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from calolab.physics.constants import CLASSICAL_ELECTRON_RADIUS, ELECTRON_MASS
from calolab.sim.mc.rng import uniform

__all__ = ["moller_dcs", "bhabha_dcs", "sample_moller", "sample_bhabha", "delta_ray_cos_theta"]

_TWO_PI_RE2 = 2.0 * np.pi * CLASSICAL_ELECTRON_RADIUS**2


@njit(cache=True)
def moller_dcs(kinetic_energy, eps):
    """dsigma/deps per electron (mm^2) for an electron of kinetic energy ``kinetic_energy`` (MeV)."""
    if eps <= 0.0 or eps > 0.5:
        return 0.0
    gamma = kinetic_energy / ELECTRON_MASS + 1.0
    beta2 = 1.0 - 1.0 / (gamma * gamma)
    c = (2.0 * gamma - 1.0) / (gamma * gamma)
    g2 = ((gamma - 1.0) / gamma) ** 2
    one_minus = 1.0 - eps
    bracket = g2 + (1.0 / eps) * (1.0 / eps - c) + (1.0 / one_minus) * (1.0 / one_minus - c)
    return _TWO_PI_RE2 / (beta2 * (gamma - 1.0)) * bracket


@njit(cache=True)
def _bhabha_coefficients(gamma):
    y = 1.0 / (1.0 + gamma)
    one_minus_2y = 1.0 - 2.0 * y
    b1 = 2.0 - y * y
    b2 = one_minus_2y * (3.0 + y * y)
    b4 = one_minus_2y**3
    b3 = b4 + one_minus_2y**2
    return b1, b2, b3, b4


@njit(cache=True)
def bhabha_dcs(kinetic_energy, eps):
    """dsigma/deps per electron (mm^2) for a positron of kinetic energy ``kinetic_energy`` (MeV)."""
    if eps <= 0.0 or eps > 1.0:
        return 0.0
    gamma = kinetic_energy / ELECTRON_MASS + 1.0
    beta2 = 1.0 - 1.0 / (gamma * gamma)
    b1, b2, b3, b4 = _bhabha_coefficients(gamma)
    bracket = 1.0 / (beta2 * eps * eps) - b1 / eps + b2 - b3 * eps + b4 * eps * eps
    return max(_TWO_PI_RE2 / (gamma - 1.0) * bracket, 0.0)


@njit(cache=True)
def sample_moller(state, kinetic_energy, cut):
    """Kinetic energy (MeV) of a Moller delta ray above ``cut`` from an electron of ``kinetic_energy``."""
    x = cut / kinetic_energy
    gamma = kinetic_energy / ELECTRON_MASS + 1.0
    c = (2.0 * gamma - 1.0) / (gamma * gamma)
    g2 = ((gamma - 1.0) / gamma) ** 2
    while True:
        eps = x / (1.0 - (1.0 - 2.0 * x) * uniform(state))
        r = eps / (1.0 - eps)
        # eps^2 * bracket; bounded by 1 + 1 + 1/4 on eps <= 1/2
        h = eps * eps * g2 + 1.0 - c * eps + r * r - c * eps * r
        if h >= 2.25 * uniform(state):
            return eps * kinetic_energy


@njit(cache=True)
def sample_bhabha(state, kinetic_energy, cut):
    """Kinetic energy (MeV) of a Bhabha delta ray above ``cut`` from a positron of ``kinetic_energy``."""
    x = cut / kinetic_energy
    gamma = kinetic_energy / ELECTRON_MASS + 1.0
    beta2 = 1.0 - 1.0 / (gamma * gamma)
    b1, b2, b3, b4 = _bhabha_coefficients(gamma)
    while True:
        eps = x / (1.0 - (1.0 - x) * uniform(state))
        g = 1.0 - beta2 * eps * (b1 - eps * (b2 - eps * (b3 - eps * b4)))
        if g >= uniform(state):
            return eps * kinetic_energy


@njit(cache=True)
def delta_ray_cos_theta(kinetic_energy, delta_energy):
    """Cosine of the delta-ray polar angle from two-body kinematics on a free electron at rest."""
    c2 = delta_energy * (kinetic_energy + 2.0 * ELECTRON_MASS) / (
        kinetic_energy * (delta_energy + 2.0 * ELECTRON_MASS)
    )
    return np.sqrt(min(c2, 1.0))
