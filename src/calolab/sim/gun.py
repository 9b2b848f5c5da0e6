"""Particle guns: what is fired into the detector, event by event.

A :class:`GunConfig` says which particle, with which energy spectrum, from where and in which
direction, and how many shots per event; :class:`Gun` turns it into
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

What one *shot* fires (``particles_per_event`` shots per event):

* a single particle (``e-``, ``gamma``, ``pi+``, ``proton``, ``mu-``, ...; see
  :data:`~calolab.sim.particles.PARTICLES`);
* ``pi0``: the ``pi0`` (status 2, truth only) and its two decay photons (status 1, ``parent`` =
  the ``pi0``), decayed at the impact point, isotropically in its rest frame
  (:mod:`calolab.sim.decays`); ``opening_angle="<0.01"`` keeps only decays with a photon
  opening angle below 0.01 rad, like the CLIC study's selection (a rejection of whole shots, so
  the kept energy spectrum is the configured one times the acceptance);
* ``pair=...``: two parallel particles a controlled distance apart on the face, for
  overlapping showers (:class:`~calolab.sim.gun_options.PairConfig`), e.g.
  ``pair={"separation": "1.5cells", "energy_sharing": "0.2-0.5"}``.

Directions in a collider frame (barrel datasets): ``polar_angle="60-120"`` is the polar angle
to a beam axis along the local x axis of the face, so the direction is
``(cos p, sin p sin a, sin p cos a)`` with ``a`` the azimuthal deviation (``azimuth_deviation``,
degrees, default 0) around the beam from the face normal. It replaces ``theta``/``phi``.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from calolab.errors import ConfigError, FieldError, format_validation_error
from calolab.sim.decays import (
    min_opening_angle,
    opening_angle,
    opening_angle_acceptance,
    sample_asymmetry,
    two_photon_decay,
)
from calolab.sim.events import Primaries
from calolab.sim.gun_options import AngleRange, EnergySpectrum, OpeningAngleCut, PairConfig
from calolab.sim.particles import PARTICLES, canonical_name, particle_mass, particle_pdg
from calolab.units import format_energy, parse_length

if TYPE_CHECKING:
    from calolab.detector.geometry import Calorimeter

__all__ = [
    "PARTICLES",
    "EnergySpectrum",
    "AngleRange",
    "OpeningAngleCut",
    "PairConfig",
    "GunConfig",
    "Gun",
    "make_gun",
    "particle_pdg",
]

_PI0 = 111
#: rounds of redrawing shots rejected by the opening-angle selection before giving up
_MAX_REJECTION_ROUNDS = 1000


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
        particle: a name of :data:`~calolab.sim.particles.PARTICLES` or an alias (``e-``,
            ``gamma``, ``pi-``, ``pi0``, ``proton``, ``neutron``, ``mu-``, ``K+``, ...;
            ``electron``, ``photon``, ``pion-``, ``p``, ``n``, ``muon``, ...), or a comma-separated
            mixture such as ``"e-,gamma,pi0,pi-,pi+"``: each event then fires one of them, drawn with
            equal odds, with the same spectrum and directions.
        energy: kinetic-energy spectrum, e.g. ``"10GeV"``, ``"10-100GeV"``, ``"log:1-1000GeV"``
            (with ``pair`` and a ``fraction`` energy sharing: the pair's total).
        theta: polar angle from the detector axis (z), degrees, uniform in the range; in [0, 90).
        phi: azimuth from the x axis, degrees, uniform in the range.
        polar_angle: collider polar angle to a beam along the face's x axis, degrees, in
            (0, 180), e.g. ``"60-120"``; ``None`` (default) uses ``theta``/``phi`` instead.
        azimuth_deviation: with ``polar_angle``: azimuth around the beam measured from the face
            normal, degrees, in (-90, 90), e.g. ``"-5-5"``; default 0.
        position: impact point ``(x, y)`` on the front face, mm.
        spread: size of the impact-point distribution around ``position``, mm (0 = a point).
        spread_shape: ``gaussian`` (``spread`` is sigma in x and in y) or ``uniform``
            (a square of half-width ``spread``).
        particles_per_event: number of independent shots per event, >= 1 (a shot is a
            particle, a decayed ``pi0`` with its photons, or a pair).
        opening_angle: ``pi0`` only: keep decays whose photon opening angle lies in the band,
            rad, e.g. ``"<0.01"`` (:class:`~calolab.sim.gun_options.OpeningAngleCut`).
        pair: fire two particles per shot a controlled distance apart
            (:class:`~calolab.sim.gun_options.PairConfig`; a string is its separation).
        decay_distance: ``pi0`` only: the pi0 decays this far (mm, >= 0) before the front face, along its
            flight, and each photon reaches the face at its own point, so the photons arrive about
            ``decay_distance x opening angle`` apart (a collider ECAL 1.5 m from the vertex: ``"1.5m"``);
            ``position`` is then where the pi0's line of flight meets the face. Default 0: decayed on the face.
        vertex_distance: particles fly from a point vertex this far upstream of the face's origin
            (mm, > 0) to their impact point, so the angle of incidence grows with the distance from
            the origin as in a projective (collider) geometry: ``atan(r / vertex_distance)``. Replaces
            theta/phi and polar_angle; use it with ``spread`` or ``position``. ``None`` (default): off.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    particle: str = "e-"
    energy: EnergySpectrum = Field(default_factory=lambda: EnergySpectrum(low=10_000.0, high=10_000.0))
    theta: AngleRange = Field(default_factory=AngleRange)
    phi: AngleRange = Field(default_factory=lambda: AngleRange(low=0.0, high=0.0))
    polar_angle: AngleRange | None = None
    azimuth_deviation: AngleRange = Field(default_factory=AngleRange)
    position: tuple[float, float] = (0.0, 0.0)
    spread: float = Field(default=0.0, ge=0)
    spread_shape: Literal["gaussian", "uniform"] = "gaussian"
    particles_per_event: int = Field(default=1, ge=1)
    opening_angle: OpeningAngleCut | None = None
    decay_distance: float = Field(default=0.0, ge=0)
    pair: PairConfig | None = None
    vertex_distance: float | None = Field(default=None, gt=0)

    @field_validator("particle")
    @classmethod
    def _known_particle(cls, value: str) -> str:
        names = [canonical_name(name) for name in value.split(",") if name.strip()]  # raises with the list
        if not names:
            msg = "is empty: give a particle name such as 'e-', or a mixture such as 'e-,gamma,pi0,pi-'"
            raise ValueError(msg)
        if len(set(names)) != len(names):
            msg = f"names a particle twice in the mixture {value!r}"
            raise ValueError(msg)
        return ",".join(names)

    @field_validator("energy", mode="before")
    @classmethod
    def _read_energy(cls, value: Any) -> Any:
        return EnergySpectrum.parse(value) if isinstance(value, str | int | float) else value

    @field_validator("theta", "phi", "polar_angle", "azimuth_deviation", mode="before")
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

    @field_validator("polar_angle")
    @classmethod
    def _barrel(cls, value: AngleRange | None) -> AngleRange | None:
        if value is not None and (value.low <= 0 or value.high >= 180):
            msg = (f"must lie in (0, 180) degrees (the polar angle to the beam; 90 = normal incidence), "
                   f"got {value}")
            raise ValueError(msg)
        return value

    @field_validator("azimuth_deviation")
    @classmethod
    def _towards_face(cls, value: AngleRange) -> AngleRange:
        if value.low <= -90 or value.high >= 90:
            msg = f"must lie in (-90, 90) degrees so the particle enters the front face, got {value}"
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

    @field_validator("spread", "vertex_distance", "decay_distance", mode="before")
    @classmethod
    def _read_length(cls, value: Any) -> Any:
        return _length(value) if isinstance(value, str) else value

    @field_validator("opening_angle", mode="before")
    @classmethod
    def _read_opening_angle(cls, value: Any) -> Any:
        return OpeningAngleCut.parse(value) if isinstance(value, str | int | float) else value

    @field_validator("pair", mode="before")
    @classmethod
    def _read_pair(cls, value: Any) -> Any:
        return {"separation": value} if isinstance(value, str | int | float) else value

    @model_validator(mode="after")
    def _consistent(self) -> GunConfig:
        if self.polar_angle is not None and not (self.theta.is_zero and self.phi.is_zero):
            msg = (f"polar_angle ({self.polar_angle} deg, collider frame) and theta/phi (theta {self.theta}, "
                   f"phi {self.phi}, detector frame) both set the direction: give one of them")
            raise FieldError("polar_angle", msg)
        if self.vertex_distance is not None and not (self.theta.is_zero and self.phi.is_zero
                                                     and self.polar_angle is None):
            msg = ("the vertex sets each direction from the impact point: leave theta, phi and polar_angle "
                   "unset (or drop vertex_distance)")
            raise FieldError("vertex_distance", msg)
        if self.polar_angle is None and not self.azimuth_deviation.is_zero:
            msg = "applies only with polar_angle (collider frame); in the detector frame use theta/phi"
            raise FieldError("azimuth_deviation", msg)
        if self.pair is not None and self.is_mixture:
            msg = f"pairs need a single particle, not the mixture {self.particle!r}"
            raise FieldError("pair", msg)
        if self.pair is not None and self.particle == "pi0":
            msg = "pairs of pi0 are not supported: fire pi0 (it decays to two photons) or a pair of gamma"
            raise FieldError("pair", msg)
        if self.decay_distance > 0 and "pi0" not in self.species:
            msg = f"moves the pi0 -> gamma gamma decay upstream, but the particle is {self.particle!r}: use pi0"
            raise FieldError("decay_distance", msg)
        if self.opening_angle is not None:
            if "pi0" not in self.species:
                msg = f"selects pi0 -> gamma gamma decays, but the particle is {self.particle!r}: use particle pi0"
                raise FieldError("opening_angle", msg)
            self._check_opening_angle_reachable(self.opening_angle)
        return self

    def _check_opening_angle_reachable(self, cut: OpeningAngleCut) -> None:
        mass = particle_mass(_PI0)
        at_top = float(min_opening_angle(self.energy.high, mass))
        if cut.high < at_top:
            needed = mass / math.sin(cut.high / 2.0) - mass
            msg = (f"no pi0 decay has an opening angle below {cut.high:g} rad at {format_energy(self.energy.high)}: "
                   f"the minimum is 2 arcsin(m/E) = {at_top:.3g} rad; raise the energy above "
                   f"{format_energy(needed)} (kinetic) or loosen the cut")
            raise FieldError("opening_angle", msg)

    @property
    def species(self) -> tuple[str, ...]:
        """The particle names: one, or several for a mixture (each event draws one with equal odds)."""
        return tuple(self.particle.split(","))

    @property
    def is_mixture(self) -> bool:
        return len(self.species) > 1

    def for_species(self, name: str) -> GunConfig:
        """This config firing only ``name`` (the opening-angle cut kept for pi0 only)."""
        cut = self.opening_angle if name == "pi0" else None
        return self.model_copy(update={"particle": name, "opening_angle": cut})

    @property
    def pdg(self) -> int:
        if self.is_mixture:
            msg = f"the gun fires a mixture ({self.particle}); ask each of GunConfig.species"
            raise ConfigError(msg)
        return particle_pdg(self.particle)

    @property
    def particles_per_shot(self) -> int:
        """Primaries written per shot: 3 for a decayed pi0, 2 for a pair, else 1."""
        return 3 if self.particle == "pi0" else 2 if self.pair is not None else 1

    def describe(self) -> str:
        """One line for humans: ``e- 10 GeV-100 GeV, theta 0 deg, at (0, 0) mm``."""
        text = f"{self.particle} {self.energy}"
        if "pi0" in self.species:
            text += " (-> gamma gamma"
            text += f", opening angle {self.opening_angle}" if self.opening_angle is not None else ""
            text += f", decayed {self.decay_distance:g} mm before the face)" if self.decay_distance > 0 else ")"
        if self.pair is not None:
            text += f", {self.pair}"
        if self.polar_angle is not None:
            text += f", polar angle {self.polar_angle} deg to the beam (x)"
            if not self.azimuth_deviation.is_zero:
                text += f", azimuth deviation {self.azimuth_deviation} deg"
        elif self.vertex_distance is not None:
            text += f", from a vertex {self.vertex_distance:g} mm upstream"
        else:
            text += f", theta {self.theta} deg"
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

    def for_detector(self, detector: Calorimeter) -> Gun:
        """This gun with a pair separation given in cells turned into mm (the front section's pitch).

        Raises:
            ConfigError: the front section's cells are not square (a separation in cells would be ambiguous).
        """
        pair = self.config.pair
        if pair is None or pair.separation.unit == "mm":
            return self
        front = detector.sections[0]
        if not math.isclose(front.cell_size_x, front.cell_size_y, rel_tol=1e-9):
            msg = (f"gun.pair.separation {pair.separation}: the front section {front.name!r} has "
                   f"{front.cell_size_x:g} x {front.cell_size_y:g} mm cells, so 'cells' is ambiguous: give it in mm")
            raise ConfigError(msg)
        resolved = pair.model_copy(update={"separation": pair.separation.in_mm(front.cell_size_x)})
        return Gun(self.config.model_copy(update={"pair": resolved}))

    # ------------------------------------------------------------ generation

    def generate(self, n_events: int, rng: np.random.Generator) -> Primaries:
        """The primaries of ``n_events`` events (``particles_per_event`` shots each).

        Args:
            n_events: number of events, >= 0.
            rng: the random generator (pass one derived from a seed to be reproducible).

        Raises:
            ConfigError: a negative ``n_events``; a pair separation in cells (resolve it with
                :meth:`for_detector`); an opening-angle selection that keeps too few decays.
        """
        if n_events < 0:
            msg = f"the number of events must be >= 0, got {n_events}"
            raise ConfigError(msg)
        c = self.config
        if c.is_mixture:
            return self._mixture(n_events, rng)
        shots = n_events * c.particles_per_event
        energy = c.energy.sample(shots, rng)
        direction = self._directions(shots, rng)
        position = np.zeros((shots, 3))
        position[:, 0], position[:, 1] = c.position
        if c.spread > 0:
            if c.spread_shape == "gaussian":
                position[:, :2] += rng.normal(0.0, c.spread, (shots, 2))
            else:
                position[:, :2] += rng.uniform(-c.spread, c.spread, (shots, 2))
        if c.vertex_distance is not None:  # from a point vertex upstream of the origin to the impact point
            towards = np.column_stack([position[:, :2], np.full(shots, c.vertex_distance)])
            direction = towards / np.linalg.norm(towards, axis=1, keepdims=True)
        pdg = np.full(shots, c.pdg, dtype=np.int32)
        offsets = np.arange(n_events + 1, dtype=np.int64) * c.particles_per_event * c.particles_per_shot
        if c.particle == "pi0":
            return self._pi0_shots(energy, direction, position, offsets, rng)
        if c.pair is not None:
            return self._pair_shots(pdg, energy, direction, position, offsets, rng)
        return Primaries(pdg, energy, position, direction, offsets)

    def _mixture(self, n_events: int, rng: np.random.Generator) -> Primaries:
        """Each event draws its species with equal odds; each species' events come from its own gun."""
        c = self.config
        choice = rng.integers(0, len(c.species), n_events)
        parts, order = [], []
        for k, name in enumerate(c.species):
            events = np.flatnonzero(choice == k)
            if events.size:
                parts.append(Gun(c.for_species(name)).generate(events.size, rng))
                order.append(events)
        if not parts:
            return Gun(c.for_species(c.species[0])).generate(0, rng)
        merged = Primaries.concatenate(parts)
        return merged.select(np.argsort(np.concatenate(order), kind="stable"))

    def _directions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        c = self.config
        if c.polar_angle is not None:
            polar = c.polar_angle.sample(n, rng)
            deviation = c.azimuth_deviation.sample(n, rng)
            sin_polar = np.sin(polar)
            return np.stack([np.cos(polar), sin_polar * np.sin(deviation), sin_polar * np.cos(deviation)], axis=1)
        theta = c.theta.sample(n, rng)
        phi = c.phi.sample(n, rng)
        sin_theta = np.sin(theta)
        return np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), np.cos(theta)], axis=1)

    def _pi0_shots(self, energy: np.ndarray, direction: np.ndarray, position: np.ndarray, offsets: np.ndarray,
                   rng: np.random.Generator) -> Primaries:
        c = self.config
        mass = particle_mass(_PI0)
        cut = c.opening_angle or OpeningAngleCut()
        if c.opening_angle is not None:
            energy = self._select_energies(energy, cut, mass, rng)
        shots = int(energy.shape[0])
        asymmetry = sample_asymmetry(energy, mass, rng, cut.low, cut.high)
        photon_energy, photon_direction = two_photon_decay(energy, direction, mass, asymmetry,
                                                           rng.uniform(0.0, 2.0 * math.pi, size=shots))
        pdg = np.tile(np.array([_PI0, 22, 22], dtype=np.int32), shots)
        energies = np.concatenate([energy[:, None], photon_energy], axis=1).reshape(-1)
        directions = np.concatenate([direction[:, None, :], photon_direction], axis=1).reshape(-1, 3)
        positions = np.repeat(position, 3, axis=0).reshape(shots, 3, 3)  # decayed at the face by default
        if c.decay_distance > 0:  # decayed upstream: each photon flies from the decay point to the face
            vertex = position - direction * (c.decay_distance / direction[:, 2:3])
            flight = c.decay_distance / photon_direction[:, :, 2]
            positions[:, 1:] = vertex[:, None, :] + photon_direction * flight[:, :, None]
        status = np.tile(np.array([2, 1, 1], dtype=np.int8), shots)
        first = 3 * (np.arange(shots) % c.particles_per_event)  # the pi0's index within its event
        parent = np.stack([np.full(shots, -1), first, first], axis=1).reshape(-1)
        return Primaries(pdg, energies, positions.reshape(-1, 3), directions, offsets, status, parent)

    def _select_energies(self, energy: np.ndarray, cut: OpeningAngleCut, mass: float,
                         rng: np.random.Generator) -> np.ndarray:
        """Shots kept by the opening-angle cut with probability = its acceptance; the rest redrawn.

        Equivalent to drawing (energy, decay) pairs and rejecting those outside the band; the decay
        of a kept shot is then drawn inside the band (:func:`~calolab.sim.decays.sample_asymmetry`).
        """
        energy = energy.copy()
        todo = np.arange(energy.shape[0])
        for _ in range(_MAX_REJECTION_ROUNDS):
            if todo.size == 0:
                return energy
            keep = rng.random(todo.size) < opening_angle_acceptance(energy[todo], mass, cut.low, cut.high)
            todo = todo[~keep]
            energy[todo] = self.config.energy.sample(todo.size, rng)
        probe = self.config.energy.sample(10_000, rng)
        fraction = float(opening_angle_acceptance(probe, mass, cut.low, cut.high).mean())
        msg = (f"gun.opening_angle {cut}: the selection keeps only {fraction:.2g} of the pi0 decays in "
               f"{self.config.energy}: narrow the energy range to where the cut is possible or loosen it")
        raise ConfigError(msg)

    def _pair_shots(self, pdg: np.ndarray, energy: np.ndarray, direction: np.ndarray, position: np.ndarray,
                    offsets: np.ndarray, rng: np.random.Generator) -> Primaries:
        pair = self.config.pair
        assert pair is not None  # called only in pair mode
        shots = int(energy.shape[0])
        if pair.energy_sharing.kind == "independent":
            energies = np.stack([energy, self.config.energy.sample(shots, rng)], axis=1)
        else:
            fraction = pair.energy_sharing.sample(shots, rng)
            energies = np.stack([fraction * energy, (1.0 - fraction) * energy], axis=1)
        separation = pair.separation.sample(shots, rng)
        orientation = pair.orientation.sample(shots, rng)
        half = np.zeros((shots, 3))
        half[:, 0], half[:, 1] = separation / 2 * np.cos(orientation), separation / 2 * np.sin(orientation)
        positions = np.stack([position - half, position + half], axis=1).reshape(-1, 3)
        return Primaries(np.repeat(pdg, 2), energies.reshape(-1), positions, np.repeat(direction, 2, axis=0),
                         offsets)

    # ------------------------------------------------------------ truth

    def truth(self, primaries: Primaries) -> dict[str, np.ndarray]:
        """Per-event generator truth of primaries this gun generated, for ``/truth/<key>`` of shower files.

        * ``pi0``: ``opening_angle``, the angle between the two decay photons, rad;
        * ``pair``: ``separation``, the distance of the two particles on the front face, mm.

        Shape ``(N,)`` with one shot per event, ``(N, particles_per_event)`` otherwise; an empty dict
        for other guns.

        Raises:
            ConfigError: ``primaries`` do not have this gun's layout.
        """
        c = self.config
        if c.is_mixture:
            return self._mixture_truth(primaries)
        per_shot = c.particles_per_shot
        if per_shot == 1:
            return {}
        n, k = primaries.n_events, c.particles_per_event
        if primaries.n_particles != n * k * per_shot or np.any(np.diff(primaries.event_offsets) != k * per_shot):
            msg = (f"Gun.truth: the primaries ({primaries.n_particles} particles in {n} events) were not made by "
                   f"this gun ({k} shots of {per_shot} particles per event)")
            raise ConfigError(msg)
        shape = (n,) if k == 1 else (n, k)
        if c.particle == "pi0":
            d = primaries.direction.reshape(-1, 3, 3)
            return {"opening_angle": opening_angle(d[:, 1], d[:, 2]).reshape(shape)}
        xy = primaries.position.reshape(-1, 2, 3)[:, :, :2]
        return {"separation": np.linalg.norm(xy[:, 1] - xy[:, 0], axis=1).reshape(shape)}

    def _mixture_truth(self, primaries: Primaries) -> dict[str, np.ndarray]:
        """For a mixture with pi0: the opening angle of each event's first pi0, NaN in other events."""
        if "pi0" not in self.config.species or self.config.particles_per_event != 1:
            return {}
        angles = np.full(primaries.n_events, np.nan)
        starts = primaries.event_offsets[:-1]
        counts = np.diff(primaries.event_offsets)
        is_pi0 = np.zeros(primaries.n_events, dtype=bool)
        has = counts >= 3
        is_pi0[has] = primaries.pdg[starts[has]] == _PI0
        first = starts[is_pi0]
        angles[is_pi0] = opening_angle(primaries.direction[first + 1], primaries.direction[first + 2])
        return {"opening_angle": angles}

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able values (stored in shower files)."""
        return self.config.model_dump(mode="json")

    def __repr__(self) -> str:
        return f"Gun({self.config.describe()})"
