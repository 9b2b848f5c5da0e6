"""Multiple Coulomb scattering of electrons and positrons over a condensed step.

Width of the projected angular distribution by the Highland formula as given by the PDG
(Review of Particle Physics, "Passage of particles through matter", eq. 34.15)::

    theta0 = 13.6 MeV / (beta c p) sqrt(s/X0) [1 + 0.038 ln(s / (X0 beta^2))]

In the small-angle limit ``1 - cos(theta)`` of the space angle is exponentially distributed
with mean ``theta0^2``; calolab samples it from that exponential truncated to [0, 2], which
tends to isotropy for steps much longer than the transport mean free path (soft electrons).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from calolab.physics.constants import ELECTRON_MASS, HIGHLAND_ENERGY
from calolab.sim.mc.rng import uniform

__all__ = ["highland_theta0", "sample_scattering_cos"]


@njit(cache=True)
def highland_theta0(kinetic_energy, step, radiation_length):
    """Highland theta0 (rad) for an e+- of ``kinetic_energy`` (MeV) over ``step`` (mm)."""
    total = kinetic_energy + ELECTRON_MASS
    momentum = np.sqrt(kinetic_energy * (kinetic_energy + 2.0 * ELECTRON_MASS))
    beta = momentum / total
    t = step / radiation_length
    correction = max(1.0 + 0.038 * np.log(max(t / (beta * beta), 1e-12)), 0.3)
    return HIGHLAND_ENERGY / (beta * momentum) * np.sqrt(t) * correction


@njit(cache=True)
def sample_scattering_cos(state, theta0):
    """cos(theta) of the deflection over a step with Highland width ``theta0``."""
    mean = theta0 * theta0
    if mean < 1.0e-14:
        return 1.0
    if mean > 50.0:
        return 1.0 - 2.0 * uniform(state)
    # inverse CDF of an exponential of mean `mean` truncated to [0, 2]
    u = -mean * np.log(1.0 - uniform(state) * (1.0 - np.exp(-2.0 / mean)))
    return 1.0 - min(u, 2.0)
