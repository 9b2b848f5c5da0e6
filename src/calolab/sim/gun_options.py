"""Value types of the gun's options, each readable from the strings of the command line.

* :class:`EnergySpectrum`: ``"10GeV"``, ``"10-100GeV"``, ``"log:1-1000GeV"`` (MeV inside).
* :class:`AngleRange`: ``"5"``, ``"0-10"``, ``"60-120deg"`` (degrees; sampled uniformly, returned in rad).
* :class:`OpeningAngleCut`: the ``pi0 -> gamma gamma`` opening-angle selection, ``"<0.01"``
  (rad), ``"<10mrad"``, ``"0.002-0.01"``, ``">0.005"``.
* :class:`Separation`: distance of the two particles of a pair on the front face,
  ``"22mm"``, ``"10-30mm"``, ``"1.5cells"``, ``"0.5-3cells"``.
* :class:`EnergySharing`: how a pair shares the energy, ``"independent"``, ``"0.5"``, ``"0.1-0.5"``, ``"uniform"``.
* :class:`PairConfig`: the two-particle (overlapping photons) mode.

All are frozen pydantic models; ``str()`` gives back a readable form.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from calolab.errors import ConfigError
from calolab.units import LENGTH_UNITS, format_energy, parse_energy_range

__all__ = ["EnergySpectrum", "AngleRange", "OpeningAngleCut", "Separation", "EnergySharing", "PairConfig"]

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def _range(text: str, what: str, example: str) -> tuple[float, float, str]:
    """``"a-b unit"`` or ``"a unit"`` -> (a, b, unit); the unit may be empty."""
    match = re.fullmatch(rf"\s*({_NUMBER})\s*(?:-\s*({_NUMBER}))?\s*([A-Za-z]*)\s*", text)
    if match is None:
        msg = f"cannot read the {what} {text!r}: write e.g. {example}"
        raise ValueError(msg)
    low = float(match.group(1))
    high = float(match.group(2)) if match.group(2) is not None else low
    return low, high, match.group(3).lower()


class EnergySpectrum(BaseModel):
    """The kinetic-energy distribution of the primaries, MeV.

    Attributes:
        kind: ``fixed`` (every particle at ``low``), ``uniform`` in [low, high] or
            ``log-uniform`` (uniform in ln E over [low, high]).
        low: lower edge (or the fixed energy), MeV, > 0.
        high: upper edge, MeV, >= low.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["fixed", "uniform", "log-uniform"] = "fixed"
    low: float = Field(gt=0)
    high: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> EnergySpectrum:
        if self.high < self.low:
            msg = f"the upper energy {self.high} MeV is below the lower {self.low} MeV"
            raise ValueError(msg)
        if self.kind == "fixed" and self.high != self.low:
            msg = "a fixed energy has low == high; use kind 'uniform' or 'log-uniform' for a range"
            raise ValueError(msg)
        return self

    @classmethod
    def parse(cls, text: str | float) -> EnergySpectrum:
        """``"10GeV"`` fixed, ``"10-100GeV"`` uniform, ``"log:1-1000GeV"`` log-uniform; a number is MeV.

        Raises:
            ConfigError: the text cannot be read; the message shows the accepted forms.
        """
        if isinstance(text, int | float):
            return cls(kind="fixed", low=float(text), high=float(text))
        body = str(text).strip()
        log = body.lower().startswith("log:")
        if log:
            body = body[4:]
        try:
            low, high = parse_energy_range(body)
        except ConfigError as error:
            msg = f"{error} (energy forms: '10GeV', '10-100GeV', 'log:1-1000GeV')"
            raise ConfigError(msg) from None
        if log:
            return cls(kind="log-uniform", low=low, high=high)
        return cls(kind="fixed" if low == high else "uniform", low=low, high=high)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` energies in MeV, float64."""
        if self.kind == "fixed":
            return np.full(n, self.low)
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high, n)
        return np.exp(rng.uniform(math.log(self.low), math.log(self.high), n))

    def __str__(self) -> str:
        if self.kind == "fixed":
            return format_energy(self.low)
        prefix = "log:" if self.kind == "log-uniform" else ""
        return f"{prefix}{format_energy(self.low)}-{format_energy(self.high)}"


class AngleRange(BaseModel):
    """A range of angles in degrees, sampled uniformly; ``low == high`` is a fixed angle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float = 0.0
    high: float = 0.0

    @model_validator(mode="after")
    def _ordered(self) -> AngleRange:
        if self.high < self.low:
            msg = f"the upper angle {self.high} deg is below the lower {self.low} deg"
            raise ValueError(msg)
        return self

    @classmethod
    def parse(cls, text: str | float | tuple[float, float] | list[float]) -> AngleRange:
        """``"5"``, ``"0-10"``, ``"0-10deg"``, ``"-5-5"`` or a number / pair of numbers, in degrees."""
        if isinstance(text, int | float):
            return cls(low=float(text), high=float(text))
        if isinstance(text, tuple | list):
            values = [float(v) for v in text]
            if len(values) != 2:
                msg = f"an angle range needs two values [low, high] in degrees, got {text!r}"
                raise ValueError(msg)
            return cls(low=values[0], high=values[1])
        body = re.sub(r"\s*deg(rees?)?\s*$", "", str(text).strip(), flags=re.IGNORECASE)
        match = re.fullmatch(rf"({_NUMBER})(?:\s*-\s*({_NUMBER}))?", body)
        if match is None:
            msg = f"cannot read the angle {text!r}: write degrees like '5', '0-10' or '0-10deg'"
            raise ValueError(msg)
        low = float(match.group(1))
        high = float(match.group(2)) if match.group(2) is not None else low
        return cls(low=low, high=high)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` angles in radians."""
        if self.low == self.high:
            return np.full(n, math.radians(self.low))
        return np.radians(rng.uniform(self.low, self.high, n))

    @property
    def is_zero(self) -> bool:
        return self.low == self.high == 0.0

    def __str__(self) -> str:
        return f"{self.low:g}" if self.low == self.high else f"{self.low:g}-{self.high:g}"


_ANGLE_UNITS = {"": 1.0, "rad": 1.0, "mrad": 1.0e-3, "urad": 1.0e-6, "deg": math.pi / 180.0}


class OpeningAngleCut(BaseModel):
    """Keep only decays whose photon opening angle lies in ``[low, high]``, rad.

    Attributes:
        low: smallest opening angle kept, rad, >= 0.
        high: largest opening angle kept, rad, <= pi.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float = Field(default=0.0, ge=0.0)
    high: float = Field(default=math.pi, gt=0.0, le=math.pi)

    @model_validator(mode="after")
    def _ordered(self) -> OpeningAngleCut:
        if self.high <= self.low:
            msg = f"the opening-angle band [{self.low:g}, {self.high:g}] rad is empty: give low < high"
            raise ValueError(msg)
        return self

    @classmethod
    def parse(cls, text: str | float) -> OpeningAngleCut:
        """``0.01`` or ``"<0.01"`` (at most 0.01 rad), ``">0.002"``, ``"0.002-0.01"``; units rad, mrad, deg."""
        if isinstance(text, int | float):
            return cls(high=float(text))
        body = str(text).strip()
        example = "'<0.01' (rad), '<10mrad', '>0.002' or '0.002-0.01'"
        above = body.startswith(">")
        body = body.lstrip("<>= ")
        low, high, unit = _range(body, "opening angle", example)
        if unit not in _ANGLE_UNITS:
            msg = f"unknown angle unit {unit!r} in the opening angle {text!r}: use rad, mrad or deg"
            raise ValueError(msg)
        low, high = low * _ANGLE_UNITS[unit], high * _ANGLE_UNITS[unit]
        if above:
            return cls(low=low)
        return cls(high=high) if low == high else cls(low=low, high=high)

    def __str__(self) -> str:
        if self.low == 0.0:
            return f"<{self.high:g} rad"
        if self.high == math.pi:
            return f">{self.low:g} rad"
        return f"{self.low:g}-{self.high:g} rad"


class Separation(BaseModel):
    """Distance between the two particles of a pair on the front face: fixed or uniform in a range.

    Attributes:
        low, high: the range (``low == high``: fixed), in ``unit``, >= 0.
        unit: ``mm``, or ``cells`` (multiples of the front section's cell pitch, resolved with
            :meth:`in_mm` once the detector is known).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float = Field(ge=0.0)
    high: float = Field(ge=0.0)
    unit: Literal["mm", "cells"] = "mm"

    @model_validator(mode="after")
    def _ordered(self) -> Separation:
        if self.high < self.low:
            msg = f"the upper separation {self.high:g} {self.unit} is below the lower {self.low:g} {self.unit}"
            raise ValueError(msg)
        return self

    @classmethod
    def parse(cls, text: str | float) -> Separation:
        """``22`` or ``"22mm"``, ``"1-3cm"``, ``"1.5cells"``, ``"0.5-3cells"``; a bare number is mm."""
        if isinstance(text, int | float):
            return cls(low=float(text), high=float(text))
        low, high, unit = _range(str(text), "separation", "'22mm', '10-30mm' or '1.5cells'")
        if low < 0 or high < 0:
            msg = f"the separation {text!r} is negative: give a distance >= 0, e.g. '22mm' or '1.5cells'"
            raise ValueError(msg)
        if unit in ("cell", "cells"):
            return cls(low=low, high=high, unit="cells")
        factor = LENGTH_UNITS.get(unit or "mm")
        if factor is None:
            msg = f"unknown unit {unit!r} in the separation {text!r}: use mm, cm, m, um or cells"
            raise ValueError(msg)
        return cls(low=low * factor, high=high * factor)

    def in_mm(self, cell_size: float) -> Separation:
        """The same separation in mm, given the cell pitch (mm) for a separation in cells."""
        if self.unit == "mm":
            return self
        return Separation(low=self.low * cell_size, high=self.high * cell_size)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` separations in mm.

        Raises:
            ConfigError: the separation is in cells and was not resolved with :meth:`in_mm`.
        """
        if self.unit != "mm":
            msg = (f"the separation {self} needs the detector's cell size: use Gun.for_detector(detector) "
                   f"(campaigns do), or give it in mm")
            raise ConfigError(msg)
        return np.full(n, self.low) if self.low == self.high else rng.uniform(self.low, self.high, n)

    def __str__(self) -> str:
        return f"{self.low:g} {self.unit}" if self.low == self.high else f"{self.low:g}-{self.high:g} {self.unit}"


class EnergySharing(BaseModel):
    """How the two particles of a pair get their energies.

    Attributes:
        kind: ``independent`` (each draws its own energy from the gun's spectrum) or ``fraction``
            (the spectrum gives the pair's total; the first particle takes a fraction ``f`` of it,
            fixed or uniform in [low, high], the second ``1 - f``).
        low, high: the range of ``f`` for ``fraction``, in [0, 1] (0 < f < 1 when fixed).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["independent", "fraction"] = "independent"
    low: float = Field(default=0.0, ge=0.0, le=1.0)
    high: float = Field(default=1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> EnergySharing:
        if self.high < self.low:
            msg = f"the upper energy fraction {self.high:g} is below the lower {self.low:g}"
            raise ValueError(msg)
        if self.kind == "fraction" and self.low == self.high and not 0.0 < self.low < 1.0:
            msg = f"a fixed energy fraction must lie strictly between 0 and 1, got {self.low:g}"
            raise ValueError(msg)
        return self

    @classmethod
    def parse(cls, text: str | float) -> EnergySharing:
        """``"independent"``, ``0.3`` / ``"0.3"`` (fixed), ``"0.1-0.5"`` or ``"uniform"`` (= ``"0-1"``)."""
        if isinstance(text, int | float):
            return cls(kind="fraction", low=float(text), high=float(text))
        body = str(text).strip().lower()
        if body == "independent":
            return cls()
        if body == "uniform":
            return cls(kind="fraction", low=0.0, high=1.0)
        low, high, unit = _range(body, "energy sharing", "'independent', '0.5', '0.1-0.5' or 'uniform'")
        if unit:
            msg = f"the energy sharing {text!r} is a fraction of the total energy: drop the unit {unit!r}"
            raise ValueError(msg)
        if not (0.0 <= low <= 1.0 and 0.0 <= high <= 1.0):
            msg = f"the energy sharing {text!r} is the first particle's fraction of the total: give values in [0, 1]"
            raise ValueError(msg)
        return cls(kind="fraction", low=low, high=high)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` fractions of the first particle (kind ``fraction`` only)."""
        return np.full(n, self.low) if self.low == self.high else rng.uniform(self.low, self.high, n)

    def __str__(self) -> str:
        if self.kind == "independent":
            return "independent"
        return f"{self.low:g}" if self.low == self.high else f"{self.low:g}-{self.high:g}"


class PairConfig(BaseModel):
    """Two particles per shot, parallel, at a controlled distance on the front face (overlapping showers).

    The pair is centred on the gun's impact point (with its spread); the two particles sit at
    ``+- separation/2`` along a line at angle ``orientation`` (degrees, from the x axis) and fly in
    the same direction, so their distance on the face is exactly the separation.

    Attributes:
        separation: distance on the face (:class:`Separation`).
        energy_sharing: :class:`EnergySharing` (default: independent energies).
        orientation: angle of the line joining them, degrees, uniform in the range (default 0-360).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    separation: Separation
    energy_sharing: EnergySharing = Field(default_factory=EnergySharing)
    orientation: AngleRange = Field(default_factory=lambda: AngleRange(low=0.0, high=360.0))

    @field_validator("separation", mode="before")
    @classmethod
    def _read_separation(cls, value: Any) -> Any:
        return Separation.parse(value) if isinstance(value, str | int | float) else value

    @field_validator("energy_sharing", mode="before")
    @classmethod
    def _read_sharing(cls, value: Any) -> Any:
        return EnergySharing.parse(value) if isinstance(value, str | int | float) else value

    @field_validator("orientation", mode="before")
    @classmethod
    def _read_orientation(cls, value: Any) -> Any:
        return AngleRange.parse(value) if isinstance(value, str | int | float | tuple | list) else value

    def __str__(self) -> str:
        return f"pairs {self.separation} apart, energy sharing {self.energy_sharing}"
