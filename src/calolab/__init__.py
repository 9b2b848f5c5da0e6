"""calolab: calorimeter physics and machine learning for high-energy physics.

Energies are in MeV and lengths in mm throughout the library (see :mod:`calolab.units`).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
