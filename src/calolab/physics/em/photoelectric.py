"""Photoelectric absorption.

An empirical parameterisation of the atomic photo-absorption cross section above and below
the K edge::

    sigma(Z, k) = C Z^4 k^-3 (1 + k / k_t) / J(k),   C = 2.933e-8 barn MeV^3, k_t = 0.263 MeV

with ``J = 1`` above the K-shell binding energy (Moseley: ``E_K = 13.6 eV (Z - 1)^2``) and
``J = 5`` (a typical K-jump ratio) below it. ``C`` and ``k_t`` were fixed by calolab to
approximate tabulated photo-absorption coefficients of Fe and Pb between 0.1 and 1 MeV
(the Z^4 k^-3 law steepening to k^-2 at relativistic energies); the accuracy is a few tens of
percent, enough for photons that in a calorimeter are absorbed within a millimetre.
The photoelectron takes ``k - E_K`` along the photon direction; the binding energy is deposited
locally (fluorescence is neglected).
"""

from __future__ import annotations

from numba import njit

__all__ = ["photoelectric_cross_section", "k_shell_binding_energy"]

_C = 2.933e-8 * 1.0e-22  # barn -> mm^2
_K_TRANSITION = 0.263  # MeV
_K_JUMP = 5.0


@njit(cache=True)
def k_shell_binding_energy(z):
    """K-shell binding energy (MeV) by Moseley's law."""
    return 13.6e-6 * (z - 1.0) ** 2


@njit(cache=True)
def photoelectric_cross_section(z, k):
    """Photo-absorption cross section per atom (mm^2) for a photon of energy ``k`` (MeV)."""
    sigma = _C * z**4 / (k * k * k) * (1.0 + k / _K_TRANSITION)
    if k < k_shell_binding_energy(z):
        sigma /= _K_JUMP
    return sigma
