"""Detectors of the validation tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import calolab
from calolab.detector.geometry import homogeneous_block


def block() -> calolab.Calorimeter:
    """CsI, 25 X0 deep in 10 layers, 6 Moliere radii wide in 10 x 10 cells (1000 cells)."""
    return homogeneous_block("CsI", 25.0, 6.0, layers=10, cells=10)


def tiny() -> calolab.Calorimeter:
    """CsI, 25 X0 in 3 layers, 5 x 5 cells: few figures, for the report and CLI tests."""
    return homogeneous_block("CsI", 25.0, 5.0, layers=3, cells=5)
