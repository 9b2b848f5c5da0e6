"""Units and parsing of quantities with units.

calolab follows the Geant4 / hepunits convention inside the library: energies are in MeV
and lengths in mm. Multiply by a unit to convert into library units and divide to convert
out of them::

    >>> 10 * GeV
    10000.0
    >>> 2.2 * cm / mm
    22.0

The CLI accepts strings such as ``"10GeV"``, ``"500 MeV"``, ``"10-100GeV"`` or ``"2.2cm"``;
:func:`parse_energy`, :func:`parse_energy_range` and :func:`parse_length` turn them into
library units and raise :class:`~calolab.errors.ConfigError` with the fix on bad input.
"""

from __future__ import annotations

import re

from calolab.errors import ConfigError

__all__ = [
    "GeV",
    "MeV",
    "TeV",
    "cm",
    "eV",
    "keV",
    "m",
    "mm",
    "um",
    "deg",
    "rad",
    "parse_energy",
    "parse_energy_range",
    "parse_length",
    "format_energy",
]

# energy (MeV base)
eV = 1.0e-6
keV = 1.0e-3
MeV = 1.0
GeV = 1.0e3
TeV = 1.0e6
# length (mm base)
um = 1.0e-3
mm = 1.0
cm = 10.0
m = 1000.0
# angle (rad base)
rad = 1.0
deg = 3.141592653589793 / 180.0

ENERGY_UNITS = {"ev": eV, "kev": keV, "mev": MeV, "gev": GeV, "tev": TeV}
LENGTH_UNITS = {"um": um, "mm": mm, "cm": cm, "m": m}

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-z]*)\s*$")


def _parse(text: str | float, units: dict[str, float], what: str, example: str) -> float:
    if isinstance(text, int | float):
        return float(text)
    match = _QUANTITY.match(str(text))
    if match is None:
        msg = f"cannot read {what} {text!r}: expected a number with a unit, e.g. {example!r}"
        raise ConfigError(msg)
    number, unit = match.groups()
    if not unit:
        msg = f"{what} {text!r} has no unit: write it with one of {sorted(units)}, e.g. {example!r}"
        raise ConfigError(msg)
    factor = units.get(unit.lower())
    if factor is None:
        msg = f"unknown {what} unit {unit!r} in {text!r}: use one of {sorted(units)}, e.g. {example!r}"
        raise ConfigError(msg)
    return float(number) * factor


def parse_energy(text: str | float) -> float:
    """Energy in MeV from ``"10GeV"``, ``"250 keV"``; a bare float is taken as MeV.

    >>> parse_energy("10GeV")
    10000.0
    """
    return _parse(text, ENERGY_UNITS, "energy", "10GeV")


def parse_length(text: str | float) -> float:
    """Length in mm from ``"2.2cm"``, ``"525um"``; a bare float is taken as mm.

    >>> parse_length("2.2cm")
    22.0
    """
    return _parse(text, LENGTH_UNITS, "length", "2.2cm")


def parse_energy_range(text: str) -> tuple[float, float]:
    """Energy range in MeV from ``"10-100GeV"``, ``"500MeV-2GeV"`` or a single ``"10GeV"``.

    A unit given only after the second number applies to both.

    >>> parse_energy_range("10-100GeV")
    (10000.0, 100000.0)
    >>> parse_energy_range("50GeV")
    (50000.0, 50000.0)
    """
    parts = re.split(r"(?<=[0-9A-Za-z.])\s*-\s*(?=[0-9.])", str(text).strip(), maxsplit=1)
    if len(parts) == 1:
        value = parse_energy(parts[0])
        return value, value
    low_text, high_text = parts
    high_match = _QUANTITY.match(high_text)
    low_match = _QUANTITY.match(low_text)
    if low_match is not None and high_match is not None and not low_match.group(2):
        low_text = low_text + high_match.group(2)
    low, high = parse_energy(low_text), parse_energy(high_text)
    if low <= 0 or high < low:
        msg = f"energy range {text!r} must satisfy 0 < low <= high, e.g. '10-100GeV'"
        raise ConfigError(msg)
    return low, high


def format_energy(energy: float) -> str:
    """Human-readable energy from MeV: ``10000 -> '10 GeV'``."""
    for name, factor in (("TeV", TeV), ("GeV", GeV), ("MeV", MeV), ("keV", keV)):
        if abs(energy) >= factor:
            return f"{energy / factor:g} {name}"
    return f"{energy / eV:g} eV"
