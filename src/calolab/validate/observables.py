"""Physics observables of showers, per event and per section (vectorised numpy, read in chunks).

For a section with cells ``E[l, y, x]`` (MeV) at layer depths ``z_l`` and cell centres
``x``, ``y`` (mm), every event gets:

========================  ============================================================  ======
name                      definition                                                    unit
========================  ============================================================  ======
energy                    ``E = sum E[l, y, x]``                                        MeV
energy_ratio              ``E / E_inc``, ``E_inc`` the energy of the transported        -
                          primaries (the sampling fraction of a sampling calorimeter)
n_hits                    cells above the threshold                                     -
centre_x, centre_y        first moments ``<x> = sum E x / E``                           mm
width_x, width_y          second moments ``sqrt(<x^2> - <x>^2)``                        mm
lateral_width             ``sqrt(width_x^2 + width_y^2)``, RMS radius about the centre  mm
depth_mean                ``<z> = sum E_l z_l / E`` (two layers or more)                mm
depth_width               ``sqrt(<z^2> - <z>^2)``, the longitudinal width               mm
fraction_front/middle/    energy fraction in the first, middle and last third of the    -
back                      layers (three layers or more)
layer_energy              ``E_l``, per layer                                            MeV
layer_hits                cells above the threshold, per layer                          -
layer_mean_cell_energy    ``E_l / layer_hits``: mean energy per hit cell, per layer     MeV
layer_centre_x/y          centre of energy of each layer                                mm
layer_width_x/y           width of each layer                                           mm
profile_x, profile_y      energy per cell column (row) summed over layers and rows      MeV
cell_energy               the energy of every cell above the threshold (pooled)         MeV
========================  ============================================================  ======

Cells at or below the threshold are set to 0 before anything is computed. Quantities of an
empty event or layer (a centre without energy) are NaN and left out of the histograms.
Without a readable detector the cell and layer indices stand in for mm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from calolab.errors import ConfigError, DatasetError
from calolab.validate.histograms import Scale

if TYPE_CHECKING:
    from calolab.data.showerfile import ShowerFile
    from calolab.detector.geometry import Section

__all__ = [
    "OBSERVABLES",
    "Observable",
    "SectionGeometry",
    "ShowerObservables",
    "file_geometry",
    "high_level_features",
    "read_observables",
    "section_observables",
]

Kind = Literal["scalar", "layer", "profile", "cells"]


@dataclass(frozen=True)
class Observable:
    """What an observable is: its label, unit, kind (``scalar`` per event, ``layer`` one value
    per layer and event, ``profile`` a mean shape, ``cells`` pooled cell values) and bin scale."""

    name: str
    label: str
    unit: str
    kind: Kind
    scale: Scale = "linear"

    def axis_label(self) -> str:
        """``label (unit)``, or the label alone for a dimensionless quantity."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


_LIST = [
    Observable("energy", "deposited energy", "MeV", "scalar"),
    Observable("energy_ratio", r"$E_\mathrm{dep} / E_\mathrm{inc}$", "", "scalar"),
    Observable("n_hits", "cells above threshold", "", "scalar", "integer"),
    Observable("centre_x", r"centre of energy $\langle x \rangle$", "mm", "scalar"),
    Observable("centre_y", r"centre of energy $\langle y \rangle$", "mm", "scalar"),
    Observable("width_x", r"width $\sigma_x$", "mm", "scalar"),
    Observable("width_y", r"width $\sigma_y$", "mm", "scalar"),
    Observable("lateral_width", "lateral width (RMS radius)", "mm", "scalar"),
    Observable("depth_mean", r"shower mean depth $\langle z \rangle$", "mm", "scalar"),
    Observable("depth_width", r"longitudinal width $\sigma_z$", "mm", "scalar"),
    Observable("fraction_front", "energy fraction, first third of layers", "", "scalar"),
    Observable("fraction_middle", "energy fraction, middle third of layers", "", "scalar"),
    Observable("fraction_back", "energy fraction, last third of layers", "", "scalar"),
    Observable("layer_energy", "layer energy", "MeV", "layer"),
    Observable("layer_hits", "cells above threshold in the layer", "", "layer", "integer"),
    Observable("layer_mean_cell_energy", "mean energy per hit cell", "MeV", "layer", "log"),
    Observable("layer_centre_x", r"layer centre $\langle x \rangle$", "mm", "layer"),
    Observable("layer_centre_y", r"layer centre $\langle y \rangle$", "mm", "layer"),
    Observable("layer_width_x", r"layer width $\sigma_x$", "mm", "layer"),
    Observable("layer_width_y", r"layer width $\sigma_y$", "mm", "layer"),
    Observable("profile_z", "mean energy per layer", "MeV", "profile"),
    Observable("profile_x", "mean energy per cell column (x)", "MeV", "profile"),
    Observable("profile_y", "mean energy per cell row (y)", "MeV", "profile"),
    Observable("profile_cell_energy", "mean energy per hit cell", "MeV", "profile"),
    Observable("cell_energy", "cell energy", "MeV", "cells", "log"),
]
#: Every observable by name, in the order the report shows them.
OBSERVABLES: dict[str, Observable] = {o.name: o for o in _LIST}


@dataclass(frozen=True)
class SectionGeometry:
    """Where a section's cells are: layer depths and cell centres (mm, or indices in ``unit``).

    Attributes:
        name: the section.
        z: layer centres along z, ``(layers,)``.
        y: cell row centres, ``(ny,)``.
        x: cell column centres, ``(nx,)``.
        unit: ``"mm"``, or ``"index"`` when the detector could not be rebuilt.
    """

    name: str
    z: np.ndarray
    y: np.ndarray
    x: np.ndarray
    unit: str = "mm"

    @classmethod
    def from_section(cls, section: Section) -> SectionGeometry:
        return cls(section.name, section.layer_z_centres(), section.cell_centres_y(), section.cell_centres_x())

    @classmethod
    def from_shape(cls, name: str, shape: tuple[int, int, int]) -> SectionGeometry:
        """Index coordinates (layer, row and column numbers) for a section of ``(layers, y, x)``."""
        layers, ny, nx = shape
        return cls(name, np.arange(layers, dtype=float), np.arange(ny, dtype=float), np.arange(nx, dtype=float),
                   unit="index")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.z.size, self.y.size, self.x.size)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is not positive (no warnings)."""
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)


def _moments(weights: np.ndarray, coordinates: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energy-weighted mean and standard deviation along the last axis of ``weights``."""
    mean = _ratio(weights @ coordinates, total)
    second = _ratio(weights @ coordinates**2, total)
    return mean, np.sqrt(np.maximum(second - mean**2, 0.0))  # NaN (no energy) stays NaN


def section_observables(cells: np.ndarray, e_inc: np.ndarray, geometry: SectionGeometry,
                        threshold_mev: float = 0.0) -> dict[str, np.ndarray]:
    """Every per-event observable of one section (see the module table).

    Args:
        cells: ``(n, layers, y, x)`` cell energies, MeV.
        e_inc: ``(n,)`` incident energy per event, MeV.
        geometry: the section's coordinates.
        threshold_mev: cells at or below this energy count as empty.

    Returns:
        name -> array: scalars ``(n,)``, per-layer ``(n, layers)``, ``profile_x`` ``(n, nx)``,
        ``profile_y`` ``(n, ny)``, ``cell_energy`` ``(hits,)`` and ``cell_event`` (the event of
        each pooled cell, ``(hits,)`` int64).
    """
    cells = np.asarray(cells)
    if cells.ndim != 4 or cells.shape[1:] != geometry.shape:
        msg = (f"section {geometry.name!r}: cells have shape {cells.shape}, expected (n, {geometry.shape[0]}, "
               f"{geometry.shape[1]}, {geometry.shape[2]})")
        raise DatasetError(msg)
    hit = cells > threshold_mev
    data = np.where(hit, cells, 0.0).astype(np.float64)
    layers = data.shape[1]
    layer_energy = data.sum(axis=(2, 3))
    layer_hits = hit.sum(axis=(2, 3)).astype(np.float64)
    layer_x = data.sum(axis=2)  # (n, L, X)
    layer_y = data.sum(axis=3)  # (n, L, Y)
    profile_x, profile_y = layer_x.sum(axis=1), layer_y.sum(axis=1)
    energy = layer_energy.sum(axis=1)
    out: dict[str, np.ndarray] = {"energy": energy, "energy_ratio": _ratio(energy, np.asarray(e_inc, float)),
                                  "n_hits": layer_hits.sum(axis=1)}
    out["centre_x"], out["width_x"] = _moments(profile_x, geometry.x, energy)
    out["centre_y"], out["width_y"] = _moments(profile_y, geometry.y, energy)
    out["lateral_width"] = np.sqrt(out["width_x"] ** 2 + out["width_y"] ** 2)
    if layers >= 2:
        out["depth_mean"], out["depth_width"] = _moments(layer_energy, geometry.z, energy)
    if layers >= 3:
        for name, part in zip(("front", "middle", "back"), np.array_split(np.arange(layers), 3), strict=True):
            out[f"fraction_{name}"] = _ratio(layer_energy[:, part].sum(axis=1), energy)
    out["layer_energy"] = layer_energy
    out["layer_hits"] = layer_hits
    out["layer_mean_cell_energy"] = _ratio(layer_energy, layer_hits)
    out["layer_centre_x"], out["layer_width_x"] = _moments(layer_x, geometry.x, layer_energy)
    out["layer_centre_y"], out["layer_width_y"] = _moments(layer_y, geometry.y, layer_energy)
    out["profile_x"], out["profile_y"] = profile_x, profile_y
    event, *_ = np.nonzero(hit)
    out["cell_energy"] = cells[hit].astype(np.float64)
    out["cell_event"] = event.astype(np.int64)
    return out


@dataclass
class ShowerObservables:
    """The observables of the events read from one shower file.

    Attributes:
        n_events: events read.
        e_inc: incident energy per event (transported primaries), MeV, ``(n,)``.
        pdg: PDG code of each event's first primary, ``(n,)`` (0 for an event without one).
        sections: section -> observable name -> array (see :func:`section_observables`).
        geometry: section -> coordinates.
        signal: ``"energy"`` (active energy) or ``"digitized"``.
        threshold_mev: the cell threshold applied.
    """

    n_events: int
    e_inc: np.ndarray
    pdg: np.ndarray
    sections: dict[str, dict[str, np.ndarray]]
    geometry: dict[str, SectionGeometry]
    signal: str = "energy"
    threshold_mev: float = 0.0
    notes: list[str] = field(default_factory=list)


def _first_pdg(showers: ShowerFile, n: int) -> tuple[np.ndarray, np.ndarray]:
    primaries = showers.primaries(slice(0, n))
    counts = np.diff(primaries.event_offsets)
    first = np.zeros(n, dtype=np.int64)
    has = counts > 0
    first[has] = primaries.pdg[primaries.event_offsets[:-1][has]]
    return primaries.event_energy(), first


def file_geometry(showers: ShowerFile) -> tuple[dict[str, SectionGeometry], list[str]]:
    """Section coordinates from the file's detector; index coordinates (and a note) if it cannot be rebuilt."""
    from calolab.errors import CalolabError

    try:
        detector = showers.detector
        return {name: SectionGeometry.from_section(detector.section(name)) for name in showers.sections}, []
    except (CalolabError, KeyError, ValueError) as error:
        note = f"{showers.path}: detector not rebuilt ({error}); positions are cell and layer indices"
        return {name: SectionGeometry.from_shape(name, showers.shape(name)) for name in showers.sections}, [note]


def read_observables(showers: ShowerFile, *, max_events: int | None = None, threshold_mev: float = 0.0,
                     signal: str = "energy", chunk: int = 1024) -> ShowerObservables:
    """The observables of the first ``max_events`` events of a shower file, read ``chunk`` at a time.

    Args:
        showers: an open shower file.
        max_events: events to read (all when ``None``).
        threshold_mev: cell threshold, MeV.
        signal: ``"energy"`` (the active energy) or ``"digitized"`` (the calibrated readout signal).
        chunk: events read at a time.

    Raises:
        ConfigError: unknown ``signal``.
        DatasetError: ``signal="digitized"`` on a file without it.
    """
    if signal not in ("energy", "digitized"):
        msg = f"signal {signal!r}: choose 'energy' (active energy) or 'digitized' (readout signal)"
        raise ConfigError(msg)
    n = showers.n_events if max_events is None else min(int(max_events), showers.n_events)
    e_inc, pdg = _first_pdg(showers, n)
    geometry, notes = file_geometry(showers)
    read = showers.digitized if signal == "digitized" else showers.energy
    sections: dict[str, dict[str, np.ndarray]] = {}
    for name in showers.sections:
        parts: list[dict[str, np.ndarray]] = []
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            part = section_observables(read(name, slice(start, stop)), e_inc[start:stop], geometry[name],
                                       threshold_mev)
            part["cell_event"] = part["cell_event"] + start
            parts.append(part)
        if parts:
            sections[name] = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        else:  # no events: empty arrays of the right trailing shapes
            empty = section_observables(np.zeros((0, *geometry[name].shape), np.float32), np.zeros(0),
                                        geometry[name], threshold_mev)
            sections[name] = empty
    return ShowerObservables(n, e_inc, pdg, sections, geometry, signal, threshold_mev, notes)


def high_level_features(observables: ShowerObservables) -> tuple[np.ndarray, list[str]]:
    """The per-event high-level feature vector of the classifier and of FPD/KPD.

    ``log(E_inc / MeV)`` and per section: ``energy_ratio``, ``log(1 + n_hits)``, the layer
    energies over ``E_inc``, the layer centres and widths in x and y (0 for an empty layer) and,
    where defined, ``depth_mean``, ``depth_width`` and ``lateral_width``. NaN becomes 0.

    Returns:
        ``(n, d)`` float64 matrix and the ``d`` feature names.
    """
    columns: list[np.ndarray] = [np.log(np.clip(observables.e_inc, 1e-3, None))]
    names = ["log_e_inc"]
    e_inc = np.clip(observables.e_inc, 1e-3, None)
    for section, values in observables.sections.items():
        columns += [values["energy_ratio"], np.log1p(values["n_hits"])]
        names += [f"{section}/energy_ratio", f"{section}/log_n_hits"]
        for key in ("depth_mean", "depth_width", "lateral_width"):
            if key in values:
                columns.append(values[key])
                names.append(f"{section}/{key}")
        per_layer = {"layer_energy_ratio": values["layer_energy"] / e_inc[:, None]}
        per_layer |= {key: values[key] for key in ("layer_centre_x", "layer_centre_y", "layer_width_x",
                                                      "layer_width_y")}
        for key, array in per_layer.items():
            columns += list(array.T)
            names += [f"{section}/{key}[{layer}]" for layer in range(array.shape[1])]
    matrix = np.stack(columns, axis=1) if columns else np.zeros((observables.n_events, 0))
    return np.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0), names
