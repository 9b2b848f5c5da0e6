"""Physical constants in library units (MeV, mm), CODATA 2018 as quoted by the PDG."""

from __future__ import annotations

__all__ = [
    "ELECTRON_MASS",
    "CLASSICAL_ELECTRON_RADIUS",
    "FINE_STRUCTURE",
    "AVOGADRO",
    "SCATTERING_ENERGY",
    "HIGHLAND_ENERGY",
]

#: electron rest energy m_e c^2, MeV
ELECTRON_MASS = 0.51099895
#: classical electron radius r_e, mm
CLASSICAL_ELECTRON_RADIUS = 2.8179403262e-12
#: fine-structure constant alpha
FINE_STRUCTURE = 1.0 / 137.035999084
#: Avogadro's number, 1/mol
AVOGADRO = 6.02214076e23
#: scale energy E_s = m_e sqrt(4 pi / alpha) of the Moliere radius, MeV (PDG eq. 34.37)
SCATTERING_ENERGY = 21.2052
#: energy scale of the Highland multiple-scattering formula, MeV (PDG eq. 34.15)
HIGHLAND_ENERGY = 13.6
