"""Runtime detector geometry: slabs, layers, sections and the calorimeter.

A :class:`Calorimeter` is an ordered list of :class:`Section` objects along +z; z = 0 is the
front face of the first section. Each section has a transverse grid of cells centred on
x = y = 0 and a stack of readout layers; a readout layer is ``repeat`` copies of a sequence
of slabs (material, thickness, active or passive). The geometry is flattened into one
z-ordered, contiguous tuple of :class:`Slab` objects, the form the Monte Carlo transports
through (:meth:`Calorimeter.slab_arrays`).

Lengths are in mm. Build a calorimeter from a preset or a TOML file with :func:`load_detector`::

    >>> det = load_detector("cms")
    >>> det.sections[0].shape
    (1, 11, 11)
    >>> round(det.sections[0].depth_radiation_lengths, 1)
    25.8
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from calolab.detector.config import (
    CalorimeterConfig,
    ReadoutConfig,
    config_from_dict,
    config_to_toml,
    read_config,
)
from calolab.errors import ConfigError
from calolab.physics.materials import Material, get_material

__all__ = [
    "Calorimeter",
    "Layer",
    "Section",
    "Slab",
    "homogeneous_block",
    "list_presets",
    "load_detector",
]


@dataclass(frozen=True)
class Slab:
    """A uniform slab of material perpendicular to z.

    Attributes:
        z_front: front face (mm).
        thickness: thickness along z (mm).
        material: the material.
        section: index of the section; for a gap, the index of the section that follows it.
        layer: readout-layer index within the section; -1 for a gap.
        active: whether energy deposited here is read out.
    """

    z_front: float
    thickness: float
    material: Material
    section: int
    layer: int
    active: bool

    @property
    def z_back(self) -> float:
        """Back face (mm)."""
        return self.z_front + self.thickness

    @property
    def radiation_lengths(self) -> float:
        """Thickness in radiation lengths X0."""
        return self.thickness / self.material.radiation_length

    @property
    def interaction_lengths(self) -> float:
        """Thickness in nuclear interaction lengths lambda_I."""
        return self.thickness / self.material.nuclear_interaction_length


@dataclass(frozen=True)
class Layer:
    """One readout layer: the slabs whose active deposits are summed into one layer of cells.

    Attributes:
        section: index of the section.
        index: index of the layer within the section.
        slabs: its slabs front to back (``repeat`` copies of the layer pattern).
        repeat: number of physical sub-layers summed into this readout layer.
    """

    section: int
    index: int
    slabs: tuple[Slab, ...]
    repeat: int = 1

    @property
    def z_front(self) -> float:
        """Front face (mm)."""
        return self.slabs[0].z_front

    @property
    def z_back(self) -> float:
        """Back face (mm)."""
        return self.slabs[-1].z_back

    @property
    def thickness(self) -> float:
        """Total thickness (mm)."""
        return self.z_back - self.z_front

    @property
    def active_thickness(self) -> float:
        """Summed thickness of the active slabs (mm)."""
        return sum(slab.thickness for slab in self.slabs if slab.active)

    @property
    def radiation_lengths(self) -> float:
        """Depth of the layer in X0."""
        return sum(slab.radiation_lengths for slab in self.slabs)

    @property
    def interaction_lengths(self) -> float:
        """Depth of the layer in lambda_I."""
        return sum(slab.interaction_lengths for slab in self.slabs)


@dataclass(frozen=True, eq=False)
class Section:
    """A section (ECAL, HCAL, ...): a transverse cell grid times a stack of readout layers.

    Attributes:
        name: unique name, used as the HDF5 group name.
        index: position in :attr:`Calorimeter.sections`.
        n_cells_x, n_cells_y: cell counts along x and y.
        cell_size_x, cell_size_y: cell pitch (mm).
        layers: readout layers front to back.
        gap: the dead-material slab in front of the section, or ``None``.
        readout: the section's digitisation settings (:class:`~calolab.detector.config.ReadoutConfig`).
    """

    name: str
    index: int
    n_cells_x: int
    n_cells_y: int
    cell_size_x: float
    cell_size_y: float
    layers: tuple[Layer, ...]
    gap: Slab | None = None
    readout: ReadoutConfig = field(default_factory=ReadoutConfig)

    @property
    def n_layers(self) -> int:
        """Number of readout layers."""
        return len(self.layers)

    @property
    def width_x(self) -> float:
        """Transverse extent along x (mm); the grid spans -width_x/2 .. +width_x/2."""
        return self.n_cells_x * self.cell_size_x

    @property
    def width_y(self) -> float:
        """Transverse extent along y (mm)."""
        return self.n_cells_y * self.cell_size_y

    @property
    def z_front(self) -> float:
        """Front face of the first layer (mm), behind any gap."""
        return self.layers[0].z_front

    @property
    def z_back(self) -> float:
        """Back face of the last layer (mm)."""
        return self.layers[-1].z_back

    @property
    def shape(self) -> tuple[int, int, int]:
        """Cell-array shape ``(n_layers, n_cells_y, n_cells_x)`` (layer-major)."""
        return (self.n_layers, self.n_cells_y, self.n_cells_x)

    @property
    def slabs(self) -> tuple[Slab, ...]:
        """The slabs of the section's layers, front to back (without the gap in front)."""
        return tuple(slab for layer in self.layers for slab in layer.slabs)

    @property
    def depth_radiation_lengths(self) -> float:
        """Depth of the layers in X0 (without the gap)."""
        return sum(layer.radiation_lengths for layer in self.layers)

    @property
    def depth_interaction_lengths(self) -> float:
        """Depth of the layers in lambda_I (without the gap)."""
        return sum(layer.interaction_lengths for layer in self.layers)

    def sampling_weights(self) -> np.ndarray:
        """Per-layer weights for the energy sum of a sampling section, shape ``(n_layers,)``.

        Each layer's weight is the depth in X0 of its passive slabs relative to the first layer's,
        so a stack with twice the absorber per layer counts twice (CALICE Si-W: 1 : 2 : 3). A
        homogeneous section, or one without absorber in its first layer, gets all ones.
        """
        passive = np.array([sum(s.radiation_lengths for s in layer.slabs if not s.active) for layer in self.layers])
        if passive.size == 0 or passive[0] <= 0.0:
            return np.ones(self.n_layers)
        return passive / passive[0]

    def layer_z_centres(self) -> np.ndarray:
        """Geometric centre of each readout layer along z (mm), shape ``(n_layers,)``."""
        return np.array([(layer.z_front + layer.z_back) / 2 for layer in self.layers])

    def cell_centres_x(self) -> np.ndarray:
        """Centres of the cell columns along x (mm), shape ``(n_cells_x,)``."""
        return (np.arange(self.n_cells_x) + 0.5) * self.cell_size_x - self.width_x / 2

    def cell_centres_y(self) -> np.ndarray:
        """Centres of the cell rows along y (mm), shape ``(n_cells_y,)``."""
        return (np.arange(self.n_cells_y) + 0.5) * self.cell_size_y - self.width_y / 2

    def cell_index(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Cell indices ``(ix, iy)`` of points ``(x, y)`` (mm); -1 where a point is outside the grid."""
        ix = np.floor((np.asarray(x, dtype=float) + self.width_x / 2) / self.cell_size_x).astype(np.int64)
        iy = np.floor((np.asarray(y, dtype=float) + self.width_y / 2) / self.cell_size_y).astype(np.int64)
        outside = (ix < 0) | (ix >= self.n_cells_x) | (iy < 0) | (iy >= self.n_cells_y)
        return np.where(outside, -1, ix), np.where(outside, -1, iy)


def _composition(pattern: list[tuple[str, float, bool]]) -> str:
    return " + ".join(
        f"{thickness:g} {material}{'*' if active else ''}" for material, thickness, active in pattern
    )


class Calorimeter:
    """A calorimeter: sections along +z, flattened into contiguous slabs.

    Build one with :meth:`from_config`, :meth:`from_toml` or :func:`load_detector`. Two
    calorimeters are equal when their configs are equal.

    Attributes:
        name: detector name.
        description: one-line description.
        reference: literature reference of the geometry, or ``None``.
        sections: the sections, front to back.
        slabs: every slab (gaps included), ordered in z and contiguous.
        config: the validated :class:`~calolab.detector.config.CalorimeterConfig`.
    """

    def __init__(self, config: CalorimeterConfig) -> None:
        self.config = config
        self.name = config.name
        self.description = config.description
        self.reference = config.reference
        materials: dict[str, Material] = {}  # canonical name -> material, in order of first use
        by_label: dict[str, Material] = {}  # name as written in the config (maybe an alias)

        def material(label: str) -> Material:
            if label not in by_label:
                found = get_material(label)
                by_label[label] = materials.setdefault(found.name, found)
            return by_label[label]

        sections: list[Section] = []
        slabs: list[Slab] = []
        z = 0.0
        for index, section_config in enumerate(config.sections):
            gap = None
            gap_config = section_config.gap_before
            if gap_config is not None and gap_config.thickness > 0:
                gap = Slab(z, gap_config.thickness, material(gap_config.material), index, -1, False)
                slabs.append(gap)
                z = gap.z_back
            layers: list[Layer] = []
            for layer_config in section_config.layers:
                pattern = layer_config.slab_list()
                for _ in range(layer_config.count):
                    layer_slabs = []
                    for _ in range(layer_config.repeat):
                        for slab_config in pattern:
                            slab = Slab(
                                z,
                                slab_config.thickness,
                                material(slab_config.material),
                                index,
                                len(layers),
                                slab_config.active,
                            )
                            layer_slabs.append(slab)
                            z = slab.z_back
                    layers.append(Layer(index, len(layers), tuple(layer_slabs), layer_config.repeat))
                    slabs.extend(layer_slabs)
            sections.append(
                Section(
                    name=section_config.name,
                    index=index,
                    n_cells_x=section_config.cells[0],
                    n_cells_y=section_config.cells[1],
                    cell_size_x=section_config.cell_size[0],
                    cell_size_y=section_config.cell_size[1],
                    layers=tuple(layers),
                    gap=gap,
                    readout=section_config.readout,
                )
            )
        self.sections: tuple[Section, ...] = tuple(sections)
        self.slabs: tuple[Slab, ...] = tuple(slabs)
        self._materials = list(materials.values())  # insertion order = order of first use in z
        self._material_index = {mat.name: i for i, mat in enumerate(self._materials)}
        self._arrays = self._build_arrays()

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_config(cls, config: CalorimeterConfig) -> Calorimeter:
        """The calorimeter described by a validated config."""
        return cls(config)

    @classmethod
    def from_toml(cls, text_or_path: str | Path) -> Calorimeter:
        """Read TOML text, or a ``.toml`` file (a :class:`~pathlib.Path` or a string with no ``=``).

        Raises:
            ConfigError: a missing file, a TOML syntax error or an invalid field, naming the file
                and the field path.
        """
        return cls(read_config(text_or_path))

    def to_toml(self) -> str:
        """The config as TOML text; ``Calorimeter.from_toml(det.to_toml()) == det``."""
        return config_to_toml(self.config)

    # ---------------------------------------------------------------- queries

    @property
    def z_front(self) -> float:
        """Front of the calorimeter (mm), 0."""
        return self.slabs[0].z_front

    @property
    def z_back(self) -> float:
        """Back of the calorimeter (mm)."""
        return self.slabs[-1].z_back

    @property
    def depth(self) -> float:
        """Total depth along z (mm), gaps included."""
        return self.z_back - self.z_front

    @property
    def depth_radiation_lengths(self) -> float:
        """Total depth in X0, gaps included."""
        return sum(slab.radiation_lengths for slab in self.slabs)

    @property
    def depth_interaction_lengths(self) -> float:
        """Total depth in lambda_I, gaps included."""
        return sum(slab.interaction_lengths for slab in self.slabs)

    @property
    def shapes(self) -> dict[str, tuple[int, int, int]]:
        """Cell-array shape ``(layers, y, x)`` of each section, by section name."""
        return {section.name: section.shape for section in self.sections}

    def section(self, name: str) -> Section:
        """The section called ``name``.

        Raises:
            ConfigError: naming the valid section names.
        """
        for section in self.sections:
            if section.name == name:
                return section
        names = [section.name for section in self.sections]
        msg = f"detector {self.name!r} has no section {name!r}: choose one of {names}"
        raise ConfigError(msg)

    def materials(self) -> list[Material]:
        """The materials used, each once, in order of first use along z."""
        return list(self._materials)

    def material_index(self, slab: Slab) -> int:
        """Index of ``slab.material`` in :meth:`materials`."""
        return self._material_index[slab.material.name]

    def slab_arrays(self) -> dict[str, np.ndarray]:
        """The slabs as read-only arrays, one entry per slab, ordered in z.

        Keys: ``z_front``, ``z_back``, ``thickness`` (float64, mm), ``material`` (int32, index into
        :meth:`materials`), ``section``, ``layer`` (int32; layer -1 for gaps), ``active`` (bool).
        """
        return dict(self._arrays)

    def slab_index(self, z: np.ndarray | float) -> np.ndarray:
        """Index of the slab containing each ``z`` (mm); -1 in front of or behind the calorimeter.

        A point on a boundary belongs to the slab behind it.
        """
        z = np.asarray(z, dtype=float)
        index = np.searchsorted(self._arrays["z_back"], z, side="right")
        outside = (z < self.z_front) | (z >= self.z_back)
        return np.where(outside, -1, index).astype(np.int64)

    def summary(self) -> list[dict[str, Any]]:
        """One row per section for printing.

        Keys: ``section``, ``layers`` (count), ``composition`` (e.g. ``"17 x (2.4 W + 0.5 Si*)"`` or
        ``"1 x [109 x (0.8 Pb + 1.5 polystyrene*)]"`` for 109 sub-layers summed into one readout
        layer; ``*`` marks active slabs, thicknesses in mm), ``cells`` (``(nx, ny)``), ``cell_size``
        (``(x, y)`` mm), ``width`` (``(x, y)`` mm), ``depth_x0``, ``depth_lambda``, ``gap`` (mm before
        the section), ``z_front``, ``z_back`` (mm).
        """
        rows = []
        for section, section_config in zip(self.sections, self.config.sections, strict=True):
            parts = []
            for layer_config in section_config.layers:
                pattern = [(s.material, s.thickness, s.active) for s in layer_config.slab_list()]
                text = f"({_composition(pattern)})"
                if layer_config.repeat > 1:
                    text = f"[{layer_config.repeat} x {text}]"
                parts.append(f"{layer_config.count} x {text}")
            rows.append(
                {
                    "section": section.name,
                    "layers": section.n_layers,
                    "composition": ", ".join(parts),
                    "cells": (section.n_cells_x, section.n_cells_y),
                    "cell_size": (section.cell_size_x, section.cell_size_y),
                    "width": (section.width_x, section.width_y),
                    "depth_x0": section.depth_radiation_lengths,
                    "depth_lambda": section.depth_interaction_lengths,
                    "gap": section.gap.thickness if section.gap is not None else 0.0,
                    "z_front": section.z_front,
                    "z_back": section.z_back,
                }
            )
        return rows

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Calorimeter):
            return NotImplemented
        return self.config == other.config

    __hash__ = None  # type: ignore[assignment]  # mutable-looking; compare by config

    def __repr__(self) -> str:
        parts = ", ".join(f"{s.name} {s.n_layers} layers {s.n_cells_x}x{s.n_cells_y}" for s in self.sections)
        return f"Calorimeter({self.name!r}: {parts}; {self.depth:g} mm)"

    def _build_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {
            "z_front": np.array([s.z_front for s in self.slabs], dtype=np.float64),
            "z_back": np.array([s.z_back for s in self.slabs], dtype=np.float64),
            "thickness": np.array([s.thickness for s in self.slabs], dtype=np.float64),
            "material": np.array([self.material_index(s) for s in self.slabs], dtype=np.int32),
            "section": np.array([s.section for s in self.slabs], dtype=np.int32),
            "layer": np.array([s.layer for s in self.slabs], dtype=np.int32),
            "active": np.array([s.active for s in self.slabs], dtype=bool),
        }
        for array in arrays.values():
            array.setflags(write=False)
        return arrays


# -------------------------------------------------------------------- presets and loading

_PRESET_PACKAGE = "calolab.detector"


def _preset_dir() -> Any:
    return resources.files(_PRESET_PACKAGE).joinpath("presets")


def list_presets() -> list[str]:
    """Names of the built-in detector presets (``src/calolab/detector/presets/*.toml``), sorted."""
    return sorted(
        item.name[: -len(".toml")] for item in _preset_dir().iterdir() if item.name.endswith(".toml")
    )


def _load_preset(name: str) -> Calorimeter:
    text = _preset_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return Calorimeter(read_config(text, source=f"preset {name}.toml"))


def load_detector(spec: str | os.PathLike[str] | Calorimeter | CalorimeterConfig) -> Calorimeter:
    """The calorimeter for a preset name, a ``.toml`` path, a config or a calorimeter (returned as is).

    >>> load_detector("calice-siw").section("ECAL").n_layers
    30

    Raises:
        ConfigError: an unknown preset (the message lists the presets), a missing or invalid file.
    """
    if isinstance(spec, Calorimeter):
        return spec
    if isinstance(spec, CalorimeterConfig):
        return Calorimeter(spec)
    if isinstance(spec, os.PathLike):
        return Calorimeter.from_toml(Path(spec))
    if not isinstance(spec, str):
        msg = f"cannot make a detector from {type(spec).__name__}: give a preset name or a .toml path"
        raise ConfigError(msg)
    presets = list_presets()
    if spec in presets:
        return _load_preset(spec)
    if spec.endswith(".toml") or "/" in spec or "\\" in spec or Path(spec).is_file():
        return Calorimeter.from_toml(Path(spec))
    close = difflib.get_close_matches(spec, presets, n=3)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    msg = f"unknown detector preset {spec!r}{hint}: choose one of {presets}, or give the path of a .toml file"
    raise ConfigError(msg)


def homogeneous_block(
    material: str,
    depth_radiation_lengths: float,
    width_moliere_radii: float,
    layers: int,
    cells: int,
) -> Calorimeter:
    """A homogeneous block of one active material, for tests and containment studies.

    One section ``"block"`` of ``layers`` equal active layers of ``material`` with a total depth of
    ``depth_radiation_lengths`` X0, and ``cells`` x ``cells`` square cells spanning
    ``width_moliere_radii`` Moliere radii.

    >>> block = homogeneous_block("PbWO4", 25.0, 10.0, layers=25, cells=20)
    >>> block.sections[0].shape
    (25, 20, 20)

    Raises:
        ConfigError: a non-positive size or count, or an unknown material.
    """
    for name, value in (
        ("depth_radiation_lengths", depth_radiation_lengths),
        ("width_moliere_radii", width_moliere_radii),
    ):
        if not value > 0:
            msg = f"homogeneous_block: {name} must be > 0, got {value!r}"
            raise ConfigError(msg)
    for name, count in (("layers", layers), ("cells", cells)):
        if int(count) != count or count < 1:
            msg = f"homogeneous_block: {name} must be an integer >= 1, got {count!r}"
            raise ConfigError(msg)
    mat = get_material(material)
    data = {
        "name": f"{mat.name}-block",
        "description": (
            f"homogeneous {mat.name}: {depth_radiation_lengths:g} X0 deep in {layers} layers, "
            f"{width_moliere_radii:g} R_M wide in {cells} x {cells} cells"
        ),
        "sections": [
            {
                "name": "block",
                "cells": [int(cells), int(cells)],
                "cell_size": [width_moliere_radii * mat.moliere_radius / cells] * 2,
                "layers": [
                    {
                        "count": int(layers),
                        "active": {
                            "material": mat.name,
                            "thickness": depth_radiation_lengths * mat.radiation_length / layers,
                        },
                    }
                ],
            }
        ],
    }
    return Calorimeter(config_from_dict(data, source="homogeneous_block"))
