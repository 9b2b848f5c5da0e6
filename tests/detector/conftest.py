"""Fixtures of the detector tests.

Until ``calolab.physics.materials`` exists (written in parallel), a minimal stand-in with the
agreed API is installed here, for these tests only. Values: PDG "Atomic and nuclear properties
of materials" as listed in /work/shared/REFERENCES.md (lengths in mm).
"""

from __future__ import annotations

import difflib
import sys
import types
from dataclasses import dataclass

try:
    import calolab.physics.materials  # noqa: F401
except ImportError:  # pragma: no cover - only before the materials module lands
    from calolab.errors import MaterialError

    @dataclass(frozen=True)
    class Material:
        name: str
        density: float
        radiation_length: float
        moliere_radius: float
        nuclear_interaction_length: float
        critical_energy: float
        effective_z: float

    _TABLE = {
        # name: density g/cm3, X0 mm, R_M mm, lambda_I mm, Ec MeV, Z_eff
        "W": (19.30, 3.504, 9.327, 99.46, 7.97, 74),
        "Si": (2.329, 93.70, 49.4, 465.2, 40.19, 14),
        "Pb": (11.35, 5.612, 16.02, 175.9, 7.43, 82),
        "Fe": (7.874, 17.57, 17.2, 167.7, 21.68, 26),
        "polystyrene": (1.060, 413.1, 94.1, 770.7, 93.1, 5.6),
        "PbWO4": (8.300, 8.903, 19.59, 202.8, 9.64, 75),
        "CsI": (4.510, 18.6, 35.3, 380.4, 11.17, 54),
        "LAr": (1.396, 140.0, 90.43, 857.7, 32.84, 18),
        "air": (1.205e-3, 303900.0, 733000.0, 747700.0, 87.9, 7.3),
    }

    def get_material(name: str) -> Material:
        if name not in _TABLE:
            close = difflib.get_close_matches(name, list(_TABLE), n=3)
            msg = f"unknown material {name!r}; close matches: {close}"
            raise MaterialError(msg)
        return Material(name, *_TABLE[name])

    _module = types.ModuleType("calolab.physics.materials")
    _module.Material = Material  # type: ignore[attr-defined]
    _module.get_material = get_material  # type: ignore[attr-defined]
    sys.modules["calolab.physics.materials"] = _module
