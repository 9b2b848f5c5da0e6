"""Particle guns: what is fired into the detector, event by event.

A :class:`GunConfig` says which particle, with which energy spectrum, from where and in which
direction, and how many particles per event; :class:`Gun` turns it into
:class:`~calolab.sim.events.Primaries` with an explicit random generator::

    >>> gun = Gun(GunConfig(particle="e-", energy="10-100GeV"))
    >>> primaries = gun.generate(5, np.random.default_rng(1))
    >>> primaries.n_events, bool(((primaries.energy >= 1e4) & (primaries.energy <= 1e5)).all())
    (5, True)

Conventions (those of :class:`~calolab.sim.events.Primaries`): energies are kinetic, in MeV;
``z = 0`` is the front face of the detector and particles start there, at the impact point
``(x, y)``, flying along +z tilted by the polar angle ``theta`` (from the z axis) and the
azimuth ``phi`` (from the x axis).

Energies may be given as strings with units, as on the command line: ``"10GeV"`` (fixed),
``"10-100GeV"`` (uniform), ``"log:1-1000GeV"`` (uniform in log E, i.e. dN/dE ~ 1/E).
Angles are in degrees: ``theta = "0-10"`` (uniform in theta), ``phi = "0-360"``.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from calolab.errors import ConfigError, format_validation_error
from calolab.sim.events import Primaries
from calolab.units import format_energy, parse_energy_range, parse_length

__all__ = ["PARTICLES", "EnergySpectrum", "AngleRange", "GunConfig", "Gun", "make_gun", "particle_pdg"]

#: particle names the gun knows -> PDG code (aliases: electron, positron, photon)
PARTICLES: dict[str, int] = {"e-": 11, "e+": -11, "gamma": 22}
_ALIASES = {"electron": "e-", "positron": "e+", "photon": "gamma", "g": "gamma"}


def particle_pdg(name: str) -> int:
    """The PDG code of a particle name (``"e-"`` -> 11).

    Raises:
        ConfigError: the name is unknown; the message lists the known ones.
    """
    key = _ALIASES.get(name.strip().lower(), name.strip())
    if key not in PARTICLES:
        msg = f"unknown particle {name!r}: choose one of {sorted(PARTICLES)} (or electron, positron, photon)"
        raise ConfigError(msg)
    return PARTICLES[key]


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
        """``"5"``, ``"0-10"``, ``"0-10deg"`` or a number / pair of numbers, in degrees."""
        if isinstance(text, int | float):
            return cls(low=float(text), high=float(text))
        if isinstance(text, tuple | list):
            values = [float(v) for v in text]
            if len(values) != 2:
                msg = f"an angle range needs two values [low, high] in degrees, got {text!r}"
                raise ValueError(msg)
            return cls(low=values[0], high=values[1])
        body = re.sub(r"\s*deg(rees?)?\s*$", "", str(text).strip(), flags=re.IGNORECASE)
        number = r"([+-]?[\d.]+(?:[eE][+-]?\d+)?)"
        match = re.fullmatch(rf"{number}(?:\s*-\s*{number})?", body)
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

    def __str__(self) -> str:
        return f"{self.low:g}" if self.low == self.high else f"{self.low:g}-{self.high:g}"


def _length(value: Any) -> float:
    """A length in mm from a number or a string; a bare number in a string is mm too (``"5"``)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return parse_length(value)
    return float(value)


class GunConfig(BaseModel):
    """A particle gun, validated; every field may also be given as a string with units.

    Attributes:
        particle: ``e-``, ``e+`` or ``gamma`` (aliases electron, positron, photon).
        energy: kinetic-energy spectrum, e.g. ``"10GeV"``, ``"10-100GeV"``, ``"log:1-1000GeV"``.
        theta: polar angle from the detector axis (z), degrees, uniform in the range; in [0, 90).
        phi: azimuth from the x axis, degrees, uniform in the range.
        position: impact point ``(x, y)`` on the front face, mm.
        spread: size of the impact-point distribution around ``position``, mm (0 = a point).
        spread_shape: ``gaussian`` (``spread`` is sigma in x and in y) or ``uniform``
            (a square of half-width ``spread``).
        particles_per_event: number of independent particles per event, >= 1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    particle: str = "e-"
    energy: EnergySpectrum = Field(default_factory=lambda: EnergySpectrum(low=10_000.0, high=10_000.0))
    theta: AngleRange = Field(default_factory=AngleRange)
    phi: AngleRange = Field(default_factory=lambda: AngleRange(low=0.0, high=0.0))
    position: tuple[float, float] = (0.0, 0.0)
    spread: float = Field(default=0.0, ge=0)
    spread_shape: Literal["gaussian", "uniform"] = "gaussian"
    particles_per_event: int = Field(default=1, ge=1)

    @field_validator("particle")
    @classmethod
    def _known_particle(cls, value: str) -> str:
        particle_pdg(value)  # raises with the list of names
        return _ALIASES.get(value.strip().lower(), value.strip())

    @field_validator("energy", mode="before")
    @classmethod
    def _read_energy(cls, value: Any) -> Any:
        return EnergySpectrum.parse(value) if isinstance(value, str | int | float) else value

    @field_validator("theta", "phi", mode="before")
    @classmethod
    def _read_angle(cls, value: Any) -> Any:
        return AngleRange.parse(value) if isinstance(value, str | int | float | tuple | list) else value

    @field_validator("theta")
    @classmethod
    def _forward(cls, value: AngleRange) -> AngleRange:
        if value.low < 0 or value.high >= 90:
            msg = f"must lie in [0, 90) degrees so the particle enters the front face, got {value}"
            raise ValueError(msg)
        return value

    @field_validator("position", mode="before")
    @classmethod
    def _read_position(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value.strip()) if part]
        if isinstance(value, list | tuple):
            if len(value) != 2:
                msg = f"the impact point needs two coordinates 'x,y' (mm or with units), got {value!r}"
                raise ValueError(msg)
            return tuple(_length(v) for v in value)
        return value

    @field_validator("spread", mode="before")
    @classmethod
    def _read_spread(cls, value: Any) -> Any:
        return _length(value) if isinstance(value, str) else value

    @property
    def pdg(self) -> int:
        return particle_pdg(self.particle)

    def describe(self) -> str:
        """One line for humans: ``e- 10 GeV-100 GeV, theta 0 deg, at (0, 0) mm``."""
        text = f"{self.particle} {self.energy}, theta {self.theta} deg"
        if self.theta.high > 0:
            text += f", phi {self.phi} deg"
        text += f", at ({self.position[0]:g}, {self.position[1]:g}) mm"
        if self.spread > 0:
            text += f" {self.spread_shape} spread {self.spread:g} mm"
        if self.particles_per_event > 1:
            text += f", {self.particles_per_event} per event"
        return text


def make_gun(config: GunConfig | dict[str, Any] | None = None, **options: Any) -> Gun:
    """A :class:`Gun` from a config, a dict, or keyword options (``particle="gamma", energy="50GeV"``).

    Raises:
        ConfigError: naming each bad field (``gun.energy: ...``).
    """
    if isinstance(config, GunConfig):
        if not options:
            return Gun(config)
        config = config.model_dump()
    values = dict(config or {}) | options
    try:
        return Gun(GunConfig.model_validate(values))
    except ValidationError as error:
        message = format_validation_error(error, what="gun config")
        raise ConfigError(message if "\n" in message else f"gun.{message}") from None


class Gun:
    """Fires particles as its :class:`GunConfig` says; the randomness comes from the caller's generator."""

    def __init__(self, config: GunConfig) -> None:
        self.config = config

    def generate(self, n_events: int, rng: np.random.Generator) -> Primaries:
        """The primaries of ``n_events`` events (``particles_per_event`` each).

        Args:
            n_events: number of events, >= 0.
            rng: the random generator (pass one derived from a seed to be reproducible).
        """
        if n_events < 0:
            msg = f"the number of events must be >= 0, got {n_events}"
            raise ConfigError(msg)
        c = self.config
        m = n_events * c.particles_per_event
        energy = c.energy.sample(m, rng)
        theta = c.theta.sample(m, rng)
        phi = c.phi.sample(m, rng)
        sin_theta = np.sin(theta)
        direction = np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), np.cos(theta)], axis=1)
        position = np.zeros((m, 3))
        position[:, 0], position[:, 1] = c.position
        if c.spread > 0:
            if c.spread_shape == "gaussian":
                position[:, :2] += rng.normal(0.0, c.spread, (m, 2))
            else:
                position[:, :2] += rng.uniform(-c.spread, c.spread, (m, 2))
        offsets = np.arange(n_events + 1, dtype=np.int64) * c.particles_per_event
        return Primaries(np.full(m, c.pdg, dtype=np.int32), energy, position, direction, offsets)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able values (stored in shower files)."""
        return self.config.model_dump(mode="json")

    def __repr__(self) -> str:
        return f"Gun({self.config.describe()})"
