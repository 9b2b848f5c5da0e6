"""Digitisation: from energy deposited in the active material to the calibrated signal of each cell.

Per section, in this order (each step configured by the section's
:class:`~calolab.detector.config.ReadoutConfig`, the ``[sections.readout]`` table):

1. **photostatistics**: the active energy ``E_act`` (MeV) of a cell makes
   ``n ~ Poisson(E_act * photoelectrons_per_mev)`` photoelectrons; a photodetector with excess
   noise factor ``F`` multiplies them with fluctuating gains, modelled as ``Gamma(n / (F - 1), F - 1)``
   (mean ``n``, variance ``n (F - 1)``), so the signal variance is ``F * mean`` as for an APD or a
   photomultiplier (Knoll, *Radiation Detection and Measurement*, ch. 9 and 13);
2. **calibration**: divide by the section's sampling fraction, giving MeV on the scale of the
   incident energy (1 for a homogeneous section; derived from simulated electrons when the config
   leaves it out, see :func:`calibrate_sampling_fraction`);
3. **intercalibration**: multiply each cell by its residual gain ``g ~ N(1, intercalibration)``,
   drawn once per detector from ``intercalibration_seed`` and the section name;
4. **electronic noise**: add ``N(0, noise_mev)`` to every cell;
5. **zero suppression**: set cells below ``threshold_mev`` to 0 (0 keeps every cell).

The raw deposits are never modified; :meth:`Readout.digitize` returns new arrays in a
:class:`Hits`. All randomness comes from the generator passed in (and, for the gains, from the
config's seed)::

    >>> import numpy as np
    >>> from calolab.detector import load_detector
    >>> readout = Readout.from_detector(load_detector("cms"))   # homogeneous: no calibration run
    >>> readout.sampling_fractions
    {'ECAL': 1.0}
    >>> readout.configs["ECAL"].photoelectrons_per_mev
    4.5

Units: MeV for energies, as everywhere in calolab. Cell arrays are ``(N, layers, y, x)`` float32.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import ValidationError

from calolab.detector.config import CalorimeterConfig, ReadoutConfig
from calolab.detector.geometry import Calorimeter, Section, load_detector
from calolab.errors import ConfigError, format_validation_error
from calolab.sim.events import Deposits

__all__ = [
    "DEFAULT_CALIBRATION_ENERGY",
    "DEFAULT_CALIBRATION_EVENTS",
    "Hits",
    "Readout",
    "ReadoutConfig",
    "SectionReadout",
    "calibrate_sampling_fraction",
    "intercalibration_gains",
    "is_homogeneous",
    "with_overrides",
]

#: electron energy of the sampling-fraction calibration run
DEFAULT_CALIBRATION_ENERGY = "10GeV"
#: electrons simulated per section in the calibration run (~1% statistical precision on W/Si)
DEFAULT_CALIBRATION_EVENTS = 200


# ---------------------------------------------------------------- configuration helpers


def with_overrides(config: ReadoutConfig, overrides: Mapping[str, Any] | None) -> ReadoutConfig:
    """``config`` with some fields replaced, validated like the TOML table.

    Args:
        config: the section's readout config.
        overrides: field name -> new value (e.g. ``{"noise_mev": 40.0}``); ``None`` or empty: no change.

    Raises:
        ConfigError: an unknown field or a bad value, naming the field (``readout.noise_mev: ...``).
    """
    if not overrides:
        return config
    data = {**config.model_dump(), **overrides}
    try:
        return ReadoutConfig.model_validate(data)
    except ValidationError as error:
        message = format_validation_error(error, what="readout config")
        raise ConfigError(f"readout.{message}" if "\n" not in message else message) from None


def is_homogeneous(section: Section) -> bool:
    """Whether every slab of the section is active (its sampling fraction is 1)."""
    return all(slab.active for slab in section.slabs)


def intercalibration_gains(config: ReadoutConfig, section: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """The residual per-cell gains of a section, ``shape`` float32, or ``None`` without a spread.

    The gains are ``N(1, config.intercalibration)`` (clipped at 0), drawn from
    ``SeedSequence([config.intercalibration_seed, crc32(section)])``: the same detector config
    always has the same gains, and two sections differ.
    """
    if config.intercalibration <= 0.0:
        return None
    seed = np.random.SeedSequence([config.intercalibration_seed, zlib.crc32(section.encode("utf-8"))])
    gains = np.random.default_rng(seed).normal(1.0, config.intercalibration, shape)
    return np.clip(gains, 0.0, None).astype(np.float32)


# ---------------------------------------------------------------- sampling-fraction calibration


def _section_alone(detector: Calorimeter, name: str) -> Calorimeter:
    """A detector made of one section of ``detector`` (without the gap in front)."""
    section_config = next(s for s in detector.config.sections if s.name == name)
    alone = CalorimeterConfig(name=f"{detector.name}-{name}", sections=(section_config.model_copy(
        update={"gap_before": None}),))
    return Calorimeter(alone)


@lru_cache(maxsize=32)
def _simulated_fraction(detector_toml: str, section: str, engine: str, energy: float, n: int, seed: int) -> float:
    from calolab.sim.campaign import simulate

    detector = Calorimeter.from_toml(detector_toml)
    deposits = simulate(_section_alone(detector, section), n=n, particle="e-", energy=energy, seed=seed,
                        engine=engine)
    active = float(deposits.active[section].sum(dtype=np.float64))
    passive = float(deposits.passive[section].sum(dtype=np.float64))
    if active <= 0.0:
        msg = (f"section {section!r}: the calibration electrons deposited no active energy: set "
               f"[sections.readout] sampling_fraction by hand")
        raise ConfigError(msg)
    return active / (active + passive)


def calibrate_sampling_fraction(
    detector: Calorimeter | str,
    engine: str = "mc",
    energy: str | float = DEFAULT_CALIBRATION_ENERGY,
    n: int = DEFAULT_CALIBRATION_EVENTS,
    seed: int = 0,
    sections: list[str] | None = None,
) -> dict[str, float]:
    """The electron sampling fraction of each section, from a simulation.

    Each sampling section is simulated alone (no material in front) with ``n`` electrons of
    ``energy`` along its axis; its sampling fraction is the summed active energy over the summed
    active + passive energy deposited in it. A homogeneous section gets 1 without a simulation.
    Results are cached per (detector, section, engine, energy, n, seed) within a process.

    Args:
        detector: a calorimeter or a preset name / ``.toml`` path.
        engine: a registered engine name (``"mc"``).
        energy: electron kinetic energy, ``"10GeV"`` or MeV.
        n: electrons per section, >= 1.
        seed: seed of the calibration run.
        sections: the sections to calibrate (default: all).

    Returns:
        section name -> sampling fraction in (0, 1].

    Raises:
        ConfigError: an unknown section, ``n < 1``, or no active energy at all.
    """
    from calolab.units import parse_energy

    detector = load_detector(detector)
    if n < 1:
        msg = f"calibration events n must be >= 1, got {n}"
        raise ConfigError(msg)
    names = [s.name for s in detector.sections] if sections is None else list(sections)
    energy_mev = parse_energy(energy)
    toml = detector.to_toml()
    fractions: dict[str, float] = {}
    for name in names:
        section = detector.section(name)  # ConfigError naming the sections
        if is_homogeneous(section):
            fractions[name] = 1.0
        else:
            fractions[name] = _simulated_fraction(toml, name, engine, energy_mev, int(n), int(seed))
    return fractions


# ---------------------------------------------------------------- digitisation


@dataclass(frozen=True)
class Hits:
    """Digitised events: the calibrated signal of every cell.

    Attributes:
        energy: section name -> calibrated signal, MeV on the incident-energy scale,
            ``(N, layers, y, x)`` float32 (zero-suppressed cells are 0).
        readout: section name -> the readout settings used (the :class:`ReadoutConfig` fields,
            ``sampling_fraction`` filled in), JSON-able.
    """

    energy: dict[str, np.ndarray]
    readout: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(next(iter(self.energy.values())).shape[0]) if self.energy else 0

    @property
    def sections(self) -> list[str]:
        """Section names, in detector order."""
        return list(self.energy)

    def total(self) -> np.ndarray:
        """Calibrated signal per event summed over all sections, MeV, ``(N,)`` float64."""
        return sum((a.sum(axis=(1, 2, 3), dtype=np.float64) for a in self.energy.values()), np.zeros(len(self)))


@dataclass(frozen=True)
class SectionReadout:
    """The digitisation of one section: its settings with the sampling fraction resolved, and its gains.

    Attributes:
        name: section name.
        shape: ``(layers, y, x)``.
        config: the settings; ``config.sampling_fraction`` is never ``None`` here.
        gains: per-cell residual gains ``(layers, y, x)`` float32, or ``None`` (all 1).
    """

    name: str
    shape: tuple[int, int, int]
    config: ReadoutConfig
    gains: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.config.sampling_fraction is None:
            msg = (f"section {self.name!r}: a SectionReadout needs a sampling_fraction: build it with "
                   f"Readout.from_detector, which derives one")
            raise ConfigError(msg)
        if self.gains is not None and tuple(self.gains.shape) != tuple(self.shape):
            msg = f"section {self.name!r}: gains have shape {self.gains.shape}, expected {self.shape}"
            raise ConfigError(msg)

    def digitize(self, active: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The calibrated signal of cells with active energy ``active`` (MeV, ``(N, layers, y, x)``).

        Returns:
            a new float32 array of the same shape, MeV on the incident-energy scale.
        """
        c = self.config
        signal = np.array(active, dtype=np.float64)  # a copy: the deposits stay untouched
        if c.photoelectrons_per_mev is not None:
            lit = signal > 0.0
            photoelectrons = rng.poisson(signal[lit] * c.photoelectrons_per_mev).astype(np.float64)
            if c.excess_noise_factor > 1.0:
                spread = c.excess_noise_factor - 1.0
                some = photoelectrons > 0
                photoelectrons[some] = rng.gamma(photoelectrons[some] / spread, spread)
            signal[...] = 0.0  # negative or zero deposits give no light
            signal[lit] = photoelectrons / c.photoelectrons_per_mev
        signal /= float(c.sampling_fraction or 1.0)  # never None here: checked in __post_init__
        if self.gains is not None:
            signal *= self.gains
        out = signal.astype(np.float32)
        if c.noise_mev > 0.0:
            out += np.float32(c.noise_mev) * rng.standard_normal(out.shape, dtype=np.float32)
        if c.threshold_mev > 0.0:
            out[out < c.threshold_mev] = 0.0
        return out


class Readout:
    """The digitisation of a whole detector, one :class:`SectionReadout` per section.

    Build it with :meth:`from_detector`; apply it with :meth:`digitize`.

    Args:
        sections: section name -> its readout, in detector order.
    """

    def __init__(self, sections: Mapping[str, SectionReadout]) -> None:
        self.sections = dict(sections)

    @classmethod
    def from_detector(
        cls,
        detector: Calorimeter | str,
        *,
        overrides: Mapping[str, Any] | None = None,
        sampling_fractions: Mapping[str, float] | None = None,
        engine: str = "mc",
        calibration_energy: str | float = DEFAULT_CALIBRATION_ENERGY,
        calibration_events: int = DEFAULT_CALIBRATION_EVENTS,
        calibration_seed: int = 0,
    ) -> Readout:
        """The readout configured by the detector's ``[sections.readout]`` tables.

        A sampling section whose config has no ``sampling_fraction`` (and no entry in
        ``sampling_fractions``) is calibrated by :func:`calibrate_sampling_fraction` with the
        ``calibration_*`` arguments: that simulates electrons, a few seconds per section.

        Args:
            detector: a calorimeter or a preset name / ``.toml`` path.
            overrides: field -> value applied to every section's config (``{"noise_mev": 40}``).
            sampling_fractions: section -> sampling fraction, taking precedence over the configs.
            engine: engine of the calibration run.
            calibration_energy: electron energy of the calibration run (``"10GeV"`` or MeV).
            calibration_events: electrons per section in the calibration run.
            calibration_seed: seed of the calibration run.

        Raises:
            ConfigError: a bad override (naming the field) or an unknown section in ``sampling_fractions``.
        """
        detector = load_detector(detector)
        fractions = dict(sampling_fractions or {})
        unknown = sorted(set(fractions) - {s.name for s in detector.sections})
        if unknown:
            msg = (f"sampling_fractions names sections {unknown} that detector {detector.name!r} lacks: "
                   f"choose from {[s.name for s in detector.sections]}")
            raise ConfigError(msg)
        configs = {s.name: with_overrides(s.readout, overrides) for s in detector.sections}
        for name, value in fractions.items():
            configs[name] = with_overrides(configs[name], {"sampling_fraction": float(value)})
        missing = [name for name, c in configs.items() if c.sampling_fraction is None]
        if missing:
            derived = calibrate_sampling_fraction(detector, engine, calibration_energy, calibration_events,
                                                  calibration_seed, sections=missing)
            for name in missing:
                configs[name] = configs[name].model_copy(update={"sampling_fraction": derived[name]})
        return cls({
            s.name: SectionReadout(s.name, s.shape, configs[s.name],
                                   intercalibration_gains(configs[s.name], s.name, s.shape))
            for s in detector.sections
        })

    @property
    def configs(self) -> dict[str, ReadoutConfig]:
        """Section name -> settings (sampling fraction resolved)."""
        return {name: s.config for name, s in self.sections.items()}

    @property
    def sampling_fractions(self) -> dict[str, float]:
        """Section name -> the sampling fraction used."""
        return {name: float(s.config.sampling_fraction or 0.0) for name, s in self.sections.items()}

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Section name -> the settings as a JSON-able dict (what shower files record)."""
        return {name: s.config.model_dump(mode="json") for name, s in self.sections.items()}

    def digitize(self, deposits: Deposits, rng: np.random.Generator) -> Hits:
        """The digitised signal of every event of ``deposits`` (left untouched).

        Args:
            deposits: simulated (or read) events of the detector this readout was built for.
            rng: the source of all randomness (photostatistics, noise), e.g.
                ``np.random.default_rng(seed)``.

        Raises:
            ConfigError: the deposits' sections or cell shapes differ from the readout's.
        """
        return self.digitize_arrays(deposits.active, rng)

    def digitize_arrays(self, active_energy: Mapping[str, np.ndarray], rng: np.random.Generator) -> Hits:
        """Like :meth:`digitize`, from section name -> active energy (MeV, ``(N, layers, y, x)``)."""
        if set(active_energy) != set(self.sections):
            msg = (f"the deposits have sections {sorted(active_energy)} but the readout was built for "
                   f"{list(self.sections)}: build the Readout from the detector that made them")
            raise ConfigError(msg)
        energy: dict[str, np.ndarray] = {}
        for name, section in self.sections.items():
            active = np.asarray(active_energy[name])
            if tuple(active.shape[1:]) != section.shape:
                msg = (f"section {name!r}: the deposits have cells (layers, y, x) = {tuple(active.shape[1:])} but "
                       f"the readout expects {section.shape}: build the Readout from the detector that made them")
                raise ConfigError(msg)
            energy[name] = section.digitize(active, rng)
        return Hits(energy, self.to_dict())

    def describe(self) -> str:
        """One line per section: the settings in words."""
        lines = []
        for name, s in self.sections.items():
            c = s.config
            parts = [f"sampling fraction {c.sampling_fraction:.4g}"]
            if c.photoelectrons_per_mev is not None:
                parts.append(f"{c.photoelectrons_per_mev:g} p.e./MeV (F = {c.excess_noise_factor:g})")
            if c.noise_mev > 0:
                parts.append(f"noise {c.noise_mev:g} MeV")
            if c.threshold_mev > 0:
                parts.append(f"threshold {c.threshold_mev:g} MeV")
            if c.intercalibration > 0:
                parts.append(f"intercalibration {c.intercalibration * 100:g}% (seed {c.intercalibration_seed})")
            lines.append(f"{name}: " + ", ".join(parts))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Readout({self.to_dict()!r})"
