"""Electron / positron bremsstrahlung.

Differential cross section per atom, Bethe-Heitler with Thomas-Fermi screening and the
Coulomb correction above 50 MeV, electron-electron bremsstrahlung folded in by replacing
``Z^2`` with ``Z (Z + xi)``, ``xi = L'_rad / (L_rad - f_c)`` (Koch & Motz 3BS(e) in the form of
EGS4, SLAC-265 eq. 2.7.1; Tsai, Rev. Mod. Phys. 46 (1974) 815)::

    dsigma/dk = alpha r_e^2 Z (Z + xi) / k * { [1 + (1 - y)^2] (phi1 - 4/3 ln Z - 4 f_c)
                                               - 2/3 (1 - y) (phi2 - 4/3 ln Z - 4 f_c) }

with ``y = k / E``. In the complete-screening limit this is PDG eq. 34.29, whose integral
gives 1/X0. Photon polar angles follow the modified Tsai distribution (``theta = u m_e / E``).
The Landau-Pomeranchuk-Migdal suppression (relevant above ~ TeV) is neglected.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from calolab.physics.constants import CLASSICAL_ELECTRON_RADIUS, ELECTRON_MASS, FINE_STRUCTURE
from calolab.physics.em.screening import SCREENING_CONSTANT, screening_phi1, screening_phi2
from calolab.sim.mc.rng import uniform, uniform_open

__all__ = [
    "COULOMB_CORRECTION_THRESHOLD",
    "bremsstrahlung_dcs",
    "bremsstrahlung_bound",
    "sample_tsai_angle",
]

#: total energy (MeV) above which the Coulomb correction f_c is applied (as EGS4)
COULOMB_CORRECTION_THRESHOLD = 50.0
_ALPHA_RE2 = FINE_STRUCTURE * CLASSICAL_ELECTRON_RADIUS**2


@njit(cache=True)
def bremsstrahlung_dcs(z_third_inv, z_zxi, four_thirds_ln_z, coulomb, total_energy, k):
    """k * dsigma/dk per atom (mm^2) for an electron of total energy ``total_energy`` (MeV)
    emitting a photon of energy ``k`` (MeV).

    Args:
        z_third_inv: Z^(-1/3) of the target.
        z_zxi: Z (Z + xi).
        four_thirds_ln_z: 4/3 ln Z.
        coulomb: the Coulomb correction f_c(Z).
    """
    final = total_energy - k
    if final <= ELECTRON_MASS or k <= 0.0:
        return 0.0
    y = k / total_energy
    delta = SCREENING_CONSTANT * ELECTRON_MASS * z_third_inv * k / (total_energy * final)
    fc = coulomb if total_energy > COULOMB_CORRECTION_THRESHOLD else 0.0
    a1 = screening_phi1(delta) - four_thirds_ln_z - 4.0 * fc
    a2 = screening_phi2(delta) - four_thirds_ln_z - 4.0 * fc
    bracket = (1.0 + (1.0 - y) ** 2) * a1 - (2.0 / 3.0) * (1.0 - y) * a2
    if bracket <= 0.0:
        return 0.0
    return _ALPHA_RE2 * z_zxi * bracket


@njit(cache=True)
def bremsstrahlung_bound(z_zxi, four_thirds_ln_z, coulomb, total_energy):
    """An upper bound of :func:`bremsstrahlung_dcs` over k for one atom (mm^2)."""
    fc = coulomb if total_energy > COULOMB_CORRECTION_THRESHOLD else 0.0
    return _ALPHA_RE2 * z_zxi * 2.0 * (screening_phi1(0.0) - four_thirds_ln_z - 4.0 * fc)


@njit(cache=True)
def sample_tsai_angle(state, total_energy):
    """Polar emission angle (rad) of a bremsstrahlung photon or a pair lepton of total energy
    ``total_energy`` (MeV): ``theta = u m_e / E`` with u from the modified Tsai distribution,
    a mixture of ``u exp(-a u)`` with a = 0.625 (weight 1/4) and a = 1.875 (weight 3/4)."""
    u_max = 2.0 * (1.0 + total_energy / ELECTRON_MASS)
    while True:
        u = -np.log(uniform_open(state) * uniform_open(state))
        u = u / 0.625 if uniform(state) < 0.25 else u / 1.875
        if u <= u_max:
            return u * ELECTRON_MASS / total_energy
