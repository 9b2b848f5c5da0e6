"""The detector configuration schema: pydantic v2 models read from and written to TOML.

A detector file describes a calorimeter as an ordered list of sections along +z::

    name = "calice-siw"
    description = "CALICE Si-W ECAL physics prototype"
    [[sections]]
    name = "ECAL"
    cells = [18, 18]            # (x, y) counts
    cell_size = [10.0, 10.0]    # mm
      [[sections.layers]]
      count = 10
      absorber = { material = "W", thickness = 1.4 }
      active = { material = "Si", thickness = 0.525 }

A layer is either the shorthand ``absorber`` (optional) + ``active`` or the general
``slabs = [{material, thickness, active}, ...]``; ``repeat`` copies of its slabs form one
readout layer and ``count`` such readout layers follow each other.

Every validation problem becomes one :class:`~calolab.errors.ConfigError` whose message names
the path of the field (``sections[0].layers[1].absorber.thickness: must be > 0 mm, got -2.4``)
and, when the config came from a file, the file. This module only validates and converts;
the runtime geometry lives in :mod:`calolab.detector.geometry`.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

import tomli_w
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from calolab.errors import ConfigError, FieldError, format_validation_error
from calolab.physics.materials import get_material

__all__ = [
    "CalorimeterConfig",
    "GapConfig",
    "LayerConfig",
    "ReadoutConfig",
    "SectionConfig",
    "SlabConfig",
    "SlabShorthand",
    "config_from_dict",
    "config_to_toml",
    "read_config",
]


# ------------------------------------------------------------------ field validators


def _known_material(name: str) -> str:
    get_material(name)  # raises MaterialError (a ValueError) listing close matches
    return name


def _positive_length(value: float) -> float:
    if not value > 0:
        msg = f"must be > 0 mm, got {value:g}"
        raise ValueError(msg)
    return value


def _non_negative_length(value: float) -> float:
    if not value >= 0:
        msg = f"must be >= 0 mm, got {value:g}"
        raise ValueError(msg)
    return value


def _at_least_one(value: int) -> int:
    if value < 1:
        msg = f"must be >= 1, got {value}"
        raise ValueError(msg)
    return value


def _non_empty(value: tuple[Any, ...]) -> tuple[Any, ...]:
    if not value:
        msg = "must list at least one entry"
        raise ValueError(msg)
    return value


def _non_empty_name(value: str) -> str:
    if not value.strip():
        msg = "must not be empty"
        raise ValueError(msg)
    return value


MaterialName = Annotated[str, AfterValidator(_known_material)]
Thickness = Annotated[float, AfterValidator(_positive_length)]
GapThickness = Annotated[float, AfterValidator(_non_negative_length)]
CellSize = Annotated[float, AfterValidator(_positive_length)]
Count = Annotated[int, AfterValidator(_at_least_one)]
Name = Annotated[str, AfterValidator(_non_empty_name)]


# ------------------------------------------------------------------ models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class SlabShorthand(_Model):
    """``absorber`` or ``active`` of the shorthand layer form: a material and a thickness in mm."""

    material: MaterialName
    thickness: Thickness


class SlabConfig(_Model):
    """One slab of the general layer form: material, thickness (mm) and whether it is read out."""

    material: MaterialName
    thickness: Thickness
    active: bool = False


class GapConfig(_Model):
    """Dead material in front of a section: thickness (mm, may be 0) of ``material``."""

    thickness: GapThickness
    material: MaterialName = "air"


class LayerConfig(_Model):
    """``count`` readout layers, each ``repeat`` copies of the same slab sequence."""

    count: Count = 1
    repeat: Count = 1
    absorber: SlabShorthand | None = None
    active: SlabShorthand | None = None
    slabs: tuple[SlabConfig, ...] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> LayerConfig:
        if self.slabs is not None:
            if self.absorber is not None or self.active is not None:
                field = "absorber" if self.absorber is not None else "active"
                msg = "give either `slabs` or `absorber`/`active`, not both: remove one form"
                raise FieldError(field, msg)
            if not self.slabs:
                raise FieldError("slabs", "must list at least one slab")
            if not any(slab.active for slab in self.slabs):
                msg = "no slab is active: mark the sensitive slab with `active = true`"
                raise FieldError("slabs", msg)
        elif self.active is None:
            msg = (
                "missing `active`: every layer needs a sensitive slab, e.g. "
                '`active = { material = "Si", thickness = 0.5 }`, or use `slabs = [...]`'
            )
            raise FieldError("active", msg)
        return self

    def slab_list(self) -> tuple[SlabConfig, ...]:
        """The slabs of one physical sub-layer, front to back (the shorthand expanded)."""
        if self.slabs is not None:
            return self.slabs
        slabs = []
        if self.absorber is not None:
            slabs.append(SlabConfig(material=self.absorber.material, thickness=self.absorber.thickness))
        if self.active is not None:  # always, after validation
            slabs.append(
                SlabConfig(material=self.active.material, thickness=self.active.thickness, active=True)
            )
        return tuple(slabs)


class ReadoutConfig(_Model):
    """Digitisation of one section (``[sections.readout]``), applied by :mod:`calolab.detector.readout`.

    Every field has a default, so an absent table means: calibrate with the sampling fraction
    derived from simulation and add nothing else.

    Attributes:
        sampling_fraction: active / (active + passive) energy of electron showers, in (0, 1];
            the active energy divided by it is the calibrated cell energy (MeV on the scale of
            the incident energy). ``None`` (default): derived from a simulation of electrons
            (:func:`calolab.detector.readout.calibrate_sampling_fraction`); 1 for a homogeneous
            section.
        photoelectrons_per_mev: mean photoelectrons per MeV deposited in the active material
            (light yield times collection and quantum efficiency), > 0; ``None`` (default): no
            photostatistics. Gives a stochastic term sqrt(F / (1000 * this * sampling fraction))
            per sqrt(GeV).
        excess_noise_factor: F >= 1 of the photodetector gain (1: no gain fluctuation, the default;
            avalanche photodiodes ~2); the photoelectron variance is multiplied by it.
        noise_mev: electronic noise per cell, gaussian sigma in MeV of calibrated energy, >= 0
            (default 0).
        threshold_mev: zero suppression: cells whose calibrated energy (noise included) is below
            this (MeV) are set to 0; 0 (default) keeps every cell, negative noise included.
        intercalibration: relative spread (gaussian sigma) of the per-cell gains left after
            calibration, >= 0 and < 0.5 (default 0); it makes a constant term.
        intercalibration_seed: seed of the per-cell gains, >= 0: a given detector has one set of
            gains, drawn from this seed and the section name (default 0).
    """

    sampling_fraction: float | None = None
    photoelectrons_per_mev: float | None = None
    excess_noise_factor: float = 1.0
    noise_mev: float = 0.0
    threshold_mev: float = 0.0
    intercalibration: float = 0.0
    intercalibration_seed: int = 0

    @model_validator(mode="after")
    def _check_ranges(self) -> ReadoutConfig:
        fraction = self.sampling_fraction
        if fraction is not None and not 0.0 < fraction <= 1.0:
            msg = (f"must be in (0, 1], got {fraction:g}: active / total deposited energy, or leave it out "
                   f"to derive it from simulation")
            raise FieldError("sampling_fraction", msg)
        yield_ = self.photoelectrons_per_mev
        if yield_ is not None and not yield_ > 0.0:
            msg = f"must be > 0 photoelectrons per MeV, got {yield_:g}: leave it out for no photostatistics"
            raise FieldError("photoelectrons_per_mev", msg)
        if not self.excess_noise_factor >= 1.0:
            msg = f"must be >= 1 (1 = no gain fluctuation, APDs ~2), got {self.excess_noise_factor:g}"
            raise FieldError("excess_noise_factor", msg)
        for name in ("noise_mev", "threshold_mev"):
            value = getattr(self, name)
            if not value >= 0.0:
                msg = f"must be >= 0 MeV, got {value:g}"
                raise FieldError(name, msg)
        if not 0.0 <= self.intercalibration < 0.5:
            msg = (f"must be a relative spread in [0, 0.5), got {self.intercalibration:g} "
                   f"(e.g. 0.003 for 0.3%)")
            raise FieldError("intercalibration", msg)
        if self.intercalibration_seed < 0:
            msg = f"must be >= 0, got {self.intercalibration_seed}"
            raise FieldError("intercalibration_seed", msg)
        return self

    @property
    def is_default(self) -> bool:
        """Whether every field has its default (the TOML writer then omits the table)."""
        return self == ReadoutConfig()


class SectionConfig(_Model):
    """A section (ECAL, HCAL, ...): a transverse cell grid and a stack of layers."""

    name: Name
    cells: tuple[Count, Count]
    cell_size: tuple[CellSize, CellSize]
    gap_before: GapConfig | None = None
    layers: Annotated[tuple[LayerConfig, ...], AfterValidator(_non_empty)]
    readout: ReadoutConfig = Field(default_factory=lambda: ReadoutConfig())


class CalorimeterConfig(_Model):
    """A whole calorimeter: sections in order along +z."""

    name: Name
    description: str = ""
    reference: str | None = None
    sections: Annotated[tuple[SectionConfig, ...], AfterValidator(_non_empty)]

    @model_validator(mode="after")
    def _check_sections(self) -> CalorimeterConfig:
        seen: dict[str, int] = {}
        for index, section in enumerate(self.sections):
            if section.name in seen:
                msg = (
                    f"sections[{index}].name: duplicate section name {section.name!r} "
                    f"(already used by sections[{seen[section.name]}]): give each section its own name"
                )
                raise FieldError("", msg)
            seen[section.name] = index
        first_gap = self.sections[0].gap_before
        if first_gap is not None and first_gap.thickness > 0:
            msg = (
                "sections[0].gap_before: the first section starts the detector at z = 0, so it cannot have "
                f"a gap in front (got {first_gap.thickness:g} mm): remove it"
            )
            raise FieldError("", msg)
        return self


# ------------------------------------------------------------------ errors, reading, writing


def _pair_field(loc: tuple[int | str, ...]) -> tuple[int | str, ...] | None:
    """The location of ``cells`` / ``cell_size`` if ``loc`` is that field or one of its items."""
    for end in (len(loc), len(loc) - 1):
        if end > 0 and loc[end - 1] in ("cells", "cell_size"):
            return loc[:end]
    return None


def _describe_pair(
    item: dict[str, Any], loc: tuple[int | str, ...]
) -> tuple[tuple[int | str, ...], str] | None:
    """A clearer message for a malformed ``cells`` / ``cell_size`` pair."""
    pair = _pair_field(loc)
    if pair is None or item["type"] not in ("missing", "too_long", "tuple_type"):
        return None
    unit = "counts >= 1" if pair[-1] == "cells" else "sizes in mm > 0"
    return pair, f"must be a pair [x, y] of {unit}, e.g. [18, 18]"


def config_from_dict(data: dict[str, Any], source: str | None = None) -> CalorimeterConfig:
    """Validate a parsed TOML document; ``source`` (a file name) prefixes every error message.

    Raises:
        ConfigError: naming the path of each bad field, e.g. ``sections[0].cells[1]: must be >= 1, got 0``.
    """
    try:
        return CalorimeterConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, what="detector config", source=source,
                                                  describe=_describe_pair)) from None


def read_config(text_or_path: str | Path, source: str | None = None) -> CalorimeterConfig:
    """Read a detector config from TOML text or from a ``.toml`` file.

    A :class:`~pathlib.Path`, or a string without ``=`` and without a newline, is taken as a file
    name; any other string as TOML text, whose errors ``source`` (if given) names.
    """
    is_text = isinstance(text_or_path, str) and ("\n" in text_or_path or "=" in text_or_path)
    if is_text:
        text = str(text_or_path)
    else:
        path = Path(text_or_path)
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            msg = f"detector file {source!r} does not exist: give a preset name or the path of a .toml file"
            raise ConfigError(msg) from None
        except OSError as error:
            msg = f"cannot read detector file {source!r}: {error.strerror}"
            raise ConfigError(msg) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        where = source or "detector TOML"
        msg = f"{where}: invalid TOML: {error}"
        raise ConfigError(msg) from None
    return config_from_dict(data, source)


def config_to_toml(config: CalorimeterConfig) -> str:
    """The TOML text of ``config``; :func:`read_config` of it gives back an equal config."""
    data = config.model_dump(mode="python", exclude_none=True)
    for section, section_config in zip(data["sections"], config.sections, strict=True):
        # only the fields set to something other than their default
        section["readout"] = section_config.readout.model_dump(mode="python", exclude_defaults=True)
        if not section["readout"]:
            del section["readout"]
        # tomli_w writes arrays of tables last in their parent: keep the scalars first for reading
        section["layers"] = section.pop("layers")
        if "readout" in section:
            section["readout"] = section.pop("readout")
    data["sections"] = data.pop("sections")
    return _NUMBER_ARRAY.sub(_one_line, tomli_w.dumps(data))


# tomli_w writes every array one item per line; put arrays of plain numbers on one line
_NUMBER = r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]+)?(?:[eE][-+]?[0-9]+)?|inf|nan)"
_NUMBER_ARRAY = re.compile(rf"\[\n((?:[ \t]*{_NUMBER},\n)+)[ \t]*\]")


def _one_line(match: re.Match[str]) -> str:
    items = [item.strip().rstrip(",") for item in match.group(1).splitlines()]
    return "[" + ", ".join(items) + "]"
