"""Two-photon annihilation of positrons in flight and at rest.

Cross section per electron (Heitler, The Quantum Theory of Radiation, 1954)::

    sigma = pi r_e^2 / (gamma + 1) [ (gamma^2 + 4 gamma + 1)/(gamma^2 - 1) ln(gamma + sqrt(gamma^2 - 1))
                                     - (gamma + 3) / sqrt(gamma^2 - 1) ]

The photon energy fraction is sampled from Heitler's differential cross section by
composition-rejection, as in the Geant4 Physics Reference Manual ("Positron - electron pair
annihilation"); the photon angles follow from energy-momentum conservation.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from calolab.physics.constants import CLASSICAL_ELECTRON_RADIUS, ELECTRON_MASS
from calolab.sim.mc.rng import uniform

__all__ = ["annihilation_cross_section", "sample_annihilation"]


@njit(cache=True)
def annihilation_cross_section(kinetic_energy):
    """Annihilation-in-flight cross section per electron (mm^2) for a positron of ``kinetic_energy`` (MeV)."""
    gamma = max(kinetic_energy / ELECTRON_MASS, 1.0e-6) + 1.0
    g2m1 = gamma * gamma - 1.0
    root = np.sqrt(g2m1)
    bracket = (gamma * gamma + 4.0 * gamma + 1.0) / g2m1 * np.log(gamma + root) - (gamma + 3.0) / root
    return np.pi * CLASSICAL_ELECTRON_RADIUS**2 / (gamma + 1.0) * bracket


@njit(cache=True)
def sample_annihilation(state, kinetic_energy):
    """Sample annihilation in flight of a positron with ``kinetic_energy`` (MeV).

    Returns:
        (k1, cos1, k2, cos2): photon energies (MeV) and cosines of their angles to the positron.
    """
    tau = kinetic_energy / ELECTRON_MASS
    gamma = tau + 1.0
    total = kinetic_energy + 2.0 * ELECTRON_MASS
    momentum = np.sqrt(kinetic_energy * (kinetic_energy + 2.0 * ELECTRON_MASS))
    eps_min = 0.5 * (1.0 - np.sqrt((gamma - 1.0) / (gamma + 1.0)))
    eps_max = 1.0 - eps_min
    log_ratio = np.log(eps_max / eps_min)
    while True:
        eps = eps_min * np.exp(log_ratio * uniform(state))
        g = 1.0 - eps + (2.0 * gamma * eps - 1.0) / (eps * (gamma + 1.0) ** 2)
        if g >= uniform(state):
            break
    k1 = eps * total
    k2 = total - k1
    cos1 = min(max(total * (k1 - ELECTRON_MASS) / (momentum * k1), -1.0), 1.0)
    cos2 = min(max(total * (k2 - ELECTRON_MASS) / (momentum * k2), -1.0), 1.0)
    return k1, cos1, k2, cos2
