"""Restricted collision stopping power of electrons and positrons.

Berger-Seltzer formula (ICRU Report 37 (1984); Geant4 Physics Reference Manual, "Continuous
energy loss" of Moller/Bhabha), restricted to energy transfers below ``cut``::

    dE/dx = 2 pi r_e^2 m_e n_el / beta^2 [ ln(2 (tau + 2) / (I/m_e)^2) + F(tau, Delta) - delta ]

with the density-effect correction ``delta`` in Sternheimer's parameterisation whose
parameters (C, x0, x1, a, k = 3) follow from the mean excitation energy and the plasma energy by
the general rules of Sternheimer & Peierls, Phys. Rev. B3 (1971) 3681.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from calolab.physics.constants import AVOGADRO, CLASSICAL_ELECTRON_RADIUS, ELECTRON_MASS

__all__ = [
    "density_effect_parameters",
    "density_effect",
    "restricted_collision_stopping_power",
    "straggling_variance",
]

_LN10 = np.log(10.0)


def density_effect_parameters(
    electron_density: float, mean_excitation_energy: float, gas: bool
) -> tuple[float, float, float, float]:
    """Sternheimer-Peierls density-effect parameters ``(C, x0, x1, a)`` (with k = 3).

    Args:
        electron_density: electrons per mm^3.
        mean_excitation_energy: I in MeV.
        gas: whether the material is a gas (different x0, x1 rules).
    """
    rho_z_over_a = electron_density * 1.0e3 / AVOGADRO  # (g/cm^3) * <Z/A>
    plasma_energy = 28.816e-6 * np.sqrt(rho_z_over_a)  # MeV (PDG eq. 34.6)
    c = 2.0 * np.log(mean_excitation_energy / plasma_energy) + 1.0
    if gas:
        x1 = 4.0 if c < 12.25 else 5.0
        steps = ((10.0, 1.6), (10.5, 1.7), (11.0, 1.8), (11.5, 1.9), (12.25, 2.0), (13.804, 2.0))
        x0 = 0.326 * c - 2.5
        for limit, value in steps:
            if c < limit:
                x0 = value
                break
    elif mean_excitation_energy < 100.0e-6:
        x1 = 2.0
        x0 = 0.2 if c < 3.681 else 0.326 * c - 1.0
    else:
        x1 = 3.0
        x0 = 0.2 if c < 5.215 else 0.326 * c - 1.5
    a = (c - 2.0 * _LN10 * x0) / (x1 - x0) ** 3
    return float(c), float(x0), float(x1), float(a)


@njit(cache=True)
def density_effect(beta_gamma_sq, c, x0, x1, a):
    """Density-effect correction delta (dimensionless) at ``(beta gamma)^2``."""
    x = 0.5 * np.log10(beta_gamma_sq)
    if x < x0:
        return 0.0
    if x < x1:
        return 2.0 * _LN10 * x - c + a * (x1 - x) ** 3
    return 2.0 * _LN10 * x - c


@njit(cache=True)
def restricted_collision_stopping_power(
    kinetic_energy, cut, positron, electron_density, mean_excitation_energy, c, x0, x1, a
):
    """Restricted collision stopping power (MeV/mm) for energy transfers below ``cut`` (MeV).

    Args:
        kinetic_energy: of the electron or positron, MeV.
        positron: True for e+, False for e-.
        electron_density: electrons per mm^3.
        mean_excitation_energy: I in MeV.
        c, x0, x1, a: density-effect parameters (:func:`density_effect_parameters`).
    """
    tau = kinetic_energy / ELECTRON_MASS
    gamma = tau + 1.0
    gamma2 = gamma * gamma
    bg2 = tau * (tau + 2.0)
    beta2 = bg2 / gamma2
    excitation = mean_excitation_energy / ELECTRON_MASS
    max_transfer = kinetic_energy if positron else 0.5 * kinetic_energy
    d = min(cut, max_transfer) / ELECTRON_MASS
    if positron:
        y = 1.0 / (1.0 + gamma)
        d2 = d * d
        d3 = d2 * d
        d4 = d3 * d
        dedx = np.log(2.0 * (tau + 2.0) / (excitation * excitation)) + np.log(tau * d)
        dedx -= beta2 * (tau + 2.0 * d - y * (3.0 * d2 + y * (d - d3 + y * (d2 - tau * d3 + d4)))) / tau
    else:
        dedx = np.log(2.0 * (tau + 2.0) / (excitation * excitation)) - 1.0 - beta2
        dedx += np.log((tau - d) * d) + tau / (tau - d)
        dedx += (0.5 * d * d + (2.0 * tau + 1.0) * np.log(1.0 - d / tau)) / gamma2
    dedx -= density_effect(bg2, c, x0, x1, a)
    dedx *= 2.0 * np.pi * CLASSICAL_ELECTRON_RADIUS**2 * ELECTRON_MASS * electron_density / beta2
    return max(dedx, 0.0)


@njit(cache=True)
def straggling_variance(kinetic_energy, cut, positron, electron_density, step):
    """Variance (MeV^2) of the restricted energy loss over ``step`` (mm): Bohr's formula with the
    maximum transfer replaced by the delta-ray cut (Geant4 Physics Reference Manual, "Gaussian
    fluctuation")::

        Omega^2 = 2 pi r_e^2 m_e n_el (T_c s / beta^2) (1 - beta^2 / 2)
    """
    tau = kinetic_energy / ELECTRON_MASS
    gamma = tau + 1.0
    beta2 = tau * (tau + 2.0) / (gamma * gamma)
    max_transfer = kinetic_energy if positron else 0.5 * kinetic_energy
    t_cut = min(cut, max_transfer)
    return (2.0 * np.pi * CLASSICAL_ELECTRON_RADIUS**2 * ELECTRON_MASS * electron_density
            * t_cut * step / beta2 * (1.0 - 0.5 * beta2))
