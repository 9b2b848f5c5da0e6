"""Atomic screening functions for bremsstrahlung and pair production.

The Thomas-Fermi screening functions phi1, phi2 in the analytic approximation of Butcher &
Messel, Nucl. Phys. 20 (1960) 15, as used by EGS4 (SLAC-265, sec. 2.7), with the screening
variable ``delta = 136 m_e Z^(-1/3) k / (E E')`` (bremsstrahlung) or
``136 m_e Z^(-1/3) / (k eps (1 - eps))`` (pair production).

For ``delta -> 0`` (complete screening) ``phi1 - 4/3 ln Z -> 4 ln(183 Z^-1/3)``, the
radiation logarithm of Tsai's radiation length.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["screening_phi1", "screening_phi2", "SCREENING_CONSTANT"]

#: the constant 136 of the screening variable (Bethe-Heitler, Tsai Rev. Mod. Phys. 46 (1974) 815)
SCREENING_CONSTANT = 136.0


@njit(cache=True)
def screening_phi1(delta):
    """Screening function phi1(delta) (dimensionless)."""
    if delta <= 1.0:
        return 20.867 - 3.242 * delta + 0.625 * delta * delta
    return 21.12 - 4.184 * np.log(delta + 0.952)


@njit(cache=True)
def screening_phi2(delta):
    """Screening function phi2(delta) (dimensionless)."""
    if delta <= 1.0:
        return 20.029 - 1.930 * delta - 0.086 * delta * delta
    return 21.12 - 4.184 * np.log(delta + 0.952)
