"""Compton scattering on free electrons (Klein-Nishina).

Total cross section per electron (Klein & Nishina 1929; PDG / Heitler)::

    sigma = 2 pi r_e^2 { (1 + x)/x^2 [2 (1 + x)/(1 + 2x) - ln(1 + 2x)/x]
                         + ln(1 + 2x)/(2x) - (1 + 3x)/(1 + 2x)^2 },   x = k / m_e

Sampling of the scattered photon fraction ``eps = k'/k`` by the composition-rejection method of
Butcher & Messel (Nucl. Phys. 20 (1960) 15). Atomic binding is neglected (valid above ~100 keV,
where photons in a calorimeter are absorbed within a millimetre anyway).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from calolab.physics.constants import CLASSICAL_ELECTRON_RADIUS, ELECTRON_MASS
from calolab.sim.mc.rng import uniform

__all__ = ["klein_nishina_cross_section", "sample_compton"]


@njit(cache=True)
def klein_nishina_cross_section(k):
    """Klein-Nishina cross section per electron (mm^2) for a photon of energy ``k`` (MeV)."""
    x = k / ELECTRON_MASS
    if x < 1e-3:  # Thomson limit with the first-order correction
        return 8.0 * np.pi / 3.0 * CLASSICAL_ELECTRON_RADIUS**2 * (1.0 - 2.0 * x)
    l2x = np.log(1.0 + 2.0 * x)
    term = (1.0 + x) / (x * x) * (2.0 * (1.0 + x) / (1.0 + 2.0 * x) - l2x / x)
    term += l2x / (2.0 * x) - (1.0 + 3.0 * x) / (1.0 + 2.0 * x) ** 2
    return 2.0 * np.pi * CLASSICAL_ELECTRON_RADIUS**2 * term


@njit(cache=True)
def sample_compton(state, k):
    """Sample a Compton scattering of a photon of energy ``k`` (MeV).

    Returns:
        (eps, cos_theta): scattered photon energy fraction and the cosine of its polar angle.
    """
    x = k / ELECTRON_MASS
    eps0 = 1.0 / (1.0 + 2.0 * x)
    eps0_sq = eps0 * eps0
    alpha1 = -np.log(eps0)
    alpha2 = 0.5 * (1.0 - eps0_sq)
    while True:
        if alpha1 > (alpha1 + alpha2) * uniform(state):
            eps = np.exp(-alpha1 * uniform(state))
            eps_sq = eps * eps
        else:
            eps_sq = eps0_sq + (1.0 - eps0_sq) * uniform(state)
            eps = np.sqrt(eps_sq)
        one_minus_cos = (1.0 - eps) / (eps * x)
        sin_sq = one_minus_cos * (2.0 - one_minus_cos)
        rejection = 1.0 - eps * sin_sq / (1.0 + eps_sq)
        if rejection >= uniform(state):
            return eps, 1.0 - one_minus_cos
