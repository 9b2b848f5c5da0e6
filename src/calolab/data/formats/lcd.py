"""The CLIC/LCD calorimeter-image layout (the CLIC study and 3DGAN files): write, read, convert.

The layout, as read in the public code that makes and reads these files (the CLIC-study
converter ``Convert_to_h5.py`` / ``addFeatures.py`` of MattUnderscoreZhang/Triforce_CaloML, and
the 3DGAN readers of svalleco/3Dgan); one flat HDF5 group, one row per event, ``N`` events::

    ECAL              (N, 51, 51, 25) float32  cell energies; axes (a1, a2, layer) [1]
    HCAL              (N, 11, 11, 60) float32  cell energies, same axes [1]
    energy            (N,)            float    true energy of the primary, GeV [2]
    pdgID             (N,)            int      PDG code of the primary
    theta, phi, eta   (N,)            float    true direction (rad): polar angle to the beam,
                                               azimuth, pseudorapidity (3DGAN variable-angle files)
    recoTheta, recoPhi, recoEta  (N,) float    direction of the energy barycentre seen from the
                                               vertex (rad) (CLIC-study files)
    ECAL_E, HCAL_E    (N,)            float    window energy sums (same unit as the cells)
    HCAL_ECAL_ERatio  (N,)            float    HCAL_E / ECAL_E, 0 where ECAL_E = 0
    (openingAngle, conversion, moments, ...: further features of some files; kept as ``extra``)

[1] In the CLIC barrel the first image axis counts cells along phi, the second along the beam
    (the converter's ``ix`` / ``iy``), the last is the layer (depth); the 3DGAN angle readers
    see the shower tilt with theta along the second axis. calolab's barrel convention (local x =
    beam, y = phi direction; :mod:`calolab.data.windows`) therefore maps calolab cells
    ``(N, layers, y, x)`` to ``(N, y, x, layers)``. Early converter versions had x and y swapped
    (their ``axis_fix.py``), so some public files may differ; the transverse axes of a shower at
    normal incidence are symmetric either way.
[2] ``energy`` is in GeV (the converter divides MeV by 1000). The **cell unit is uncertain**:
    the converter stores the deposited energy in GeV multiplied by 50 (``/1000.*50``, commented
    "Geant is in units of 1/50 GeV"), so public cell sums are ~50 x the raw deposit. calolab
    writes deposited energy in GeV times ``cell_scale`` (default 1; give 50 to mimic the public
    files) and records ``cell_scale`` as a root attribute, which :func:`read_lcd` undoes.
    Early 3DGAN files carry ``target`` (N, 2+) with the energy in column 1 instead of ``energy``;
    :func:`read_lcd` accepts that too.

calolab adds root attributes (``calolab_format = "calolab-lcd"``, ``cell_scale``,
``vertex_distance_mm``, ``windows``, ``detector`` TOML, ...) and a ``barycentre`` (N, 3) mm
dataset; readers of the public files ignore them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from calolab import __version__
from calolab.data.atomic import atomic_path, check_output
from calolab.data.hdf5 import decode_attribute, open_hdf5
from calolab.data.windows import (
    CLIC_VERTEX_DISTANCE,
    Windows,
    WindowSize,
    WindowSpec,
    direction_angles,
    extract_windows,
)
from calolab.errors import ConfigError, DatasetError
from calolab.sim.events import Primaries

__all__ = [
    "LCD_FORMAT",
    "LcdData",
    "LcdSummary",
    "native_to_lcd",
    "primary_truth",
    "read_lcd",
    "write_lcd",
]

#: Value of the root ``calolab_format`` attribute of LCD files written by calolab.
LCD_FORMAT = "calolab-lcd"
LCD_FORMAT_VERSION = 1

_GEV = 1000.0  # MeV per GeV
_AXES = "a1 = phi direction (calolab y), a2 = beam direction (calolab x), layer (depth)"
_SCALARS = ("energy", "pdgID", "theta", "phi", "eta", "recoTheta", "recoPhi", "recoEta")
_TRUTH = {"theta": "true polar angle to the beam (calolab x) axis", "phi": "true azimuth about the beam axis",
          "eta": "true pseudorapidity"}
_RECO = {"recoTheta": "polar angle of the barycentre seen from the vertex",
         "recoPhi": "azimuth of the barycentre seen from the vertex",
         "recoEta": "pseudorapidity of the barycentre seen from the vertex"}
_FIX = "regenerate it (calolab windows ...) or copy it again"


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class LcdData:
    """The contents of an LCD file, in calolab units and order.

    Attributes:
        cells: dataset name (``ECAL``, ``HCAL``) -> ``(N, layers, y, x)`` float32, MeV.
        energy: ``(N,)`` float64 true energy, MeV.
        pdg: ``(N,)`` int PDG codes, or ``None`` if the file has no ``pdgID``.
        theta, phi, eta: ``(N,)`` true direction (rad), each ``None`` if absent.
        reco_theta, reco_phi, reco_eta: ``(N,)`` barycentre direction (rad), each ``None`` if absent.
        extra: other per-event datasets, as stored (file units).
        attrs: root attributes.
        cell_scale: the factor the stored cells carried over GeV (divided out in ``cells``).
    """

    cells: dict[str, np.ndarray]
    energy: np.ndarray
    pdg: np.ndarray | None
    theta: np.ndarray | None
    phi: np.ndarray | None
    eta: np.ndarray | None
    reco_theta: np.ndarray | None
    reco_phi: np.ndarray | None
    reco_eta: np.ndarray | None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    cell_scale: float = 1.0

    def __len__(self) -> int:
        return int(self.energy.shape[0])


@dataclass(frozen=True)
class LcdSummary:
    """What :func:`native_to_lcd` wrote.

    Attributes:
        path: the LCD file.
        n_events: events written.
        windows: section -> window size.
        containment: section -> energy in the windows / energy in the section, over all events.
        reco_theta_bias, reco_theta_spread: mean and standard deviation (rad) of recoTheta - theta
            over events with both (NaN if none).
        seconds: wall time.
    """

    path: Path
    n_events: int
    windows: dict[str, WindowSize]
    containment: dict[str, float]
    reco_theta_bias: float
    reco_theta_spread: float
    seconds: float


# ---------------------------------------------------------------- helpers


def primary_truth(primaries: Primaries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-event truth for LCD files: ``(energy MeV (N,), pdg (N,), direction (N, 3))``.

    The energy is the sum over the event's primaries, the PDG code that of its first primary (0 if
    it has none) and the direction the energy-weighted sum of the primaries' directions, normalised
    (the single particle's direction in single-particle events).
    """
    offsets = primaries.event_offsets
    n = offsets.size - 1
    counts = np.diff(offsets)
    event = np.repeat(np.arange(n), counts)
    energy = np.bincount(event, weights=primaries.energy, minlength=n)
    weighted = primaries.direction * primaries.energy[:, None]
    direction = np.stack([np.bincount(event, weights=weighted[:, k], minlength=n) for k in range(3)], axis=1)
    norm = np.linalg.norm(direction, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        direction = np.where(norm > 0, direction / np.where(norm > 0, norm, 1.0), np.nan)
    pdg = np.zeros(n, dtype=np.int32)
    has = counts > 0
    pdg[has] = primaries.pdg[offsets[:-1][has]]
    return energy, pdg, direction


def _compression(compression: str | None) -> dict[str, Any]:
    if compression in (None, "none"):
        return {}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    msg = f"unknown compression {compression!r} for an LCD file: choose 'gzip' or None (portable HDF5)"
    raise ConfigError(msg)


def _check_output(path: Path, overwrite: bool) -> None:
    check_output(path, overwrite, "windows.h5")


class _LcdFile:
    """Appends events to an open HDF5 file in the LCD layout (resizable datasets along N)."""

    def __init__(self, file: h5py.File, sizes: Mapping[str, WindowSize], *, truth: bool, cell_scale: float,
                 compression: str | None, attrs: Mapping[str, Any]) -> None:
        self.file = file
        self.sizes = dict(sizes)
        self.truth = truth
        self.cell_scale = float(cell_scale)
        self.n_events = 0
        options = _compression(compression)
        unit = "GeV" if self.cell_scale == 1.0 else f"GeV x {self.cell_scale:g}"
        f = file
        f.attrs["calolab_format"] = LCD_FORMAT
        f.attrs["calolab_format_version"] = LCD_FORMAT_VERSION
        f.attrs["calolab_version"] = __version__
        f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        f.attrs["cell_unit"] = unit
        f.attrs["cell_scale"] = self.cell_scale
        f.attrs["cell_axes"] = _AXES
        f.attrs["n_events"] = 0
        for key, value in attrs.items():
            f.attrs[key] = value if isinstance(value, str | int | float | np.number) else json.dumps(value)

        def make(name: str, row: tuple[int, ...], dtype: Any, unit: str, description: str) -> None:
            row_bytes = max(1, int(np.prod(row, dtype=np.int64)) * np.dtype(dtype).itemsize)
            chunk = 1 if row_bytes > 1 << 16 else max(1, min(4096, (1 << 20) // row_bytes))
            dataset = f.create_dataset(name, shape=(0, *row), maxshape=(None, *row), dtype=dtype,
                                       chunks=(chunk, *row), **options)
            dataset.attrs["unit"] = unit
            dataset.attrs["description"] = description

        for name, size in self.sizes.items():
            if name in _SCALARS or name.endswith("_E") or name in ("barycentre", "HCAL_ECAL_ERatio"):
                msg = f"section name {name!r} clashes with an LCD dataset name: rename the section"
                raise ConfigError(msg)
            make(name, (size.ny, size.nx, size.layers), np.float32, unit,
                 f"{name} window, axes {_AXES}; deposited (active) energy")
        for name in self.sizes:
            make(f"{name}_E", (), np.float32, unit, f"sum of the {name} window")
        if "ECAL" in self.sizes and "HCAL" in self.sizes:
            make("HCAL_ECAL_ERatio", (), np.float32, "", "HCAL_E / ECAL_E (0 where ECAL_E = 0)")
        make("energy", (), np.float32, "GeV", "true energy of the primary (sum over the event's primaries)")
        make("pdgID", (), np.int32, "", "PDG code of the (first) primary")
        if truth:
            for name, description in _TRUTH.items():
                make(name, (), np.float32, "rad", description)
        for name, description in _RECO.items():
            make(name, (), np.float32, "rad", description)
        make("barycentre", (3,), np.float32, "mm", "energy barycentre (x, y, z) in calolab coordinates")

    def _grow(self, name: str, rows: np.ndarray) -> None:
        dataset = self.file[name]
        start = dataset.shape[0]
        dataset.resize(start + rows.shape[0], axis=0)
        dataset[start:] = rows

    def append(self, windows: Windows, energy: np.ndarray, pdg: np.ndarray, direction: np.ndarray | None) -> None:
        n = len(windows)
        if set(windows.cells) != set(self.sizes):
            msg = f"windows of sections {sorted(windows.cells)} but the file was set up for {sorted(self.sizes)}"
            raise DatasetError(msg)
        checks: list[tuple[str, np.ndarray | None]] = [("energy", energy), ("pdg", pdg)]
        if self.truth:
            checks.append(("direction", direction))
        for name, value in checks:
            shape = None if value is None else np.shape(value)
            if shape is None or shape[:1] != (n,):
                msg = f"{name} has shape {shape}, expected first axis N = {n} (one row per window event)"
                raise DatasetError(msg)
        sums: dict[str, np.ndarray] = {}
        for name, cells in windows.cells.items():
            stored = np.transpose(cells, (0, 2, 3, 1)).astype(np.float32) * np.float32(self.cell_scale / _GEV)
            self._grow(name, stored)
            sums[name] = stored.sum(axis=(1, 2, 3), dtype=np.float64)
            self._grow(f"{name}_E", sums[name].astype(np.float32))
        if "HCAL_ECAL_ERatio" in self.file:
            ecal, hcal = sums["ECAL"], sums["HCAL"]
            ratio = np.divide(hcal, ecal, out=np.zeros_like(hcal), where=ecal != 0)
            self._grow("HCAL_ECAL_ERatio", ratio.astype(np.float32))
        self._grow("energy", (np.asarray(energy, dtype=np.float64) / _GEV).astype(np.float32))
        self._grow("pdgID", np.asarray(pdg).astype(np.int32))
        if self.truth:
            theta, phi, eta = direction_angles(np.asarray(direction, dtype=np.float64))
            for name, values in (("theta", theta), ("phi", phi), ("eta", eta)):
                self._grow(name, values.astype(np.float32))
        for name, values in (("recoTheta", windows.theta), ("recoPhi", windows.phi), ("recoEta", windows.eta)):
            self._grow(name, values.astype(np.float32))
        self._grow("barycentre", windows.barycentre.astype(np.float32))
        self.n_events += n
        self.file.attrs["n_events"] = self.n_events


def _spec_attrs(windows_spec: WindowSpec, vertex_distance: float) -> dict[str, Any]:
    return {"windows": windows_spec.describe(), "vertex_distance_mm": float(vertex_distance),
            "centre_on": ",".join(windows_spec.centre_on or ()) or "first windowed section",
            "projection": windows_spec.projection}


# ---------------------------------------------------------------- writing


def write_lcd(
    path: str | os.PathLike[str],
    windows: Windows,
    energy: np.ndarray,
    pdg: np.ndarray,
    *,
    direction: np.ndarray | None = None,
    cell_scale: float = 1.0,
    attrs: Mapping[str, Any] | None = None,
    compression: str | None = "gzip",
    overwrite: bool = False,
) -> Path:
    """Write windows and their truth to an LCD file, atomically.

    Args:
        path: the ``.h5`` file.
        windows: the :class:`~calolab.data.windows.Windows` (cells in MeV).
        energy: ``(N,)`` true energy per event, MeV (stored in GeV).
        pdg: ``(N,)`` PDG code per event.
        direction: ``(N, 3)`` true direction per event (calolab x, y, z); gives the ``theta``,
            ``phi``, ``eta`` datasets (barrel convention, x = beam axis). ``None`` leaves them out.
        cell_scale: stored cells are GeV times this (50 mimics the public CLIC files).
        attrs: extra root attributes.
        compression: ``"gzip"`` or ``None``.
        overwrite: replace an existing file.

    Returns:
        the path written.

    Raises:
        DatasetError: the output exists (without ``overwrite``), its folder is missing, or the
            arrays disagree on ``N``.
        ConfigError: ``cell_scale <= 0`` or an unknown compression.
    """
    target = Path(path)
    _check_output(target, overwrite)
    if not cell_scale > 0:
        msg = f"cell_scale = {cell_scale!r}: give a positive factor (1 = GeV, 50 = the public CLIC files)"
        raise ConfigError(msg)
    all_attrs = {**_spec_attrs(windows.spec, windows.vertex_distance), **(attrs or {})}
    sizes = {name: windows.spec.sizes[name] for name in windows.cells}
    with atomic_path(target) as temporary, h5py.File(temporary, "w", track_order=True) as f:
        writer = _LcdFile(f, sizes, truth=direction is not None, cell_scale=cell_scale, compression=compression,
                          attrs=all_attrs)
        writer.append(windows, energy, pdg, direction)
    return target


def native_to_lcd(
    shower_file: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    spec: WindowSpec | None = None,
    *,
    vertex_distance: float = CLIC_VERTEX_DISTANCE,
    cell_scale: float = 1.0,
    chunk: int = 256,
    compression: str | None = "gzip",
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> LcdSummary:
    """Convert a calolab shower file to an LCD file: windows, truth and reco angles, chunk by chunk.

    Args:
        shower_file: a calolab shower file (:class:`~calolab.data.showerfile.ShowerFile`).
        out_path: the LCD ``.h5`` file to write (appears only when complete).
        spec: the windows; ``None`` = :meth:`WindowSpec.default_for` the file's detector
            (ECAL 51x51x25, HCAL 11x11x60, other sections their full grid).
        vertex_distance: vertex distance in front of the face, mm.
        cell_scale: stored cells are GeV times this.
        chunk: events read and converted at a time (memory: chunk x the section sizes).
        compression: ``"gzip"`` or ``None``.
        overwrite: replace an existing output.
        progress: called with the number of events done after each chunk.

    Returns:
        an :class:`LcdSummary`.

    Raises:
        DatasetError: the input is not a valid shower file, or the output exists / has no folder.
        ConfigError: a window section unknown to the detector, bad sizes, chunk < 1.
    """
    from calolab.data.showerfile import ShowerFile

    start_time = time.perf_counter()
    target = Path(out_path)
    _check_output(target, overwrite)
    if chunk < 1:
        msg = f"chunk = {chunk}: give at least 1 event per chunk"
        raise ConfigError(msg)
    if not cell_scale > 0:
        msg = f"cell_scale = {cell_scale!r}: give a positive factor (1 = GeV, 50 = the public CLIC files)"
        raise ConfigError(msg)
    with ShowerFile(shower_file) as showers:
        detector = showers.detector
        spec = WindowSpec.default_for(detector) if spec is None else spec
        centre = spec.resolve_centre(detector) if all(n in {s.name for s in detector.sections}
                                                      for n in spec.sizes) else ()
        needed = [s.name for s in detector.sections if s.name in spec.sizes or s.name in centre]
        # check the spec against the detector before creating anything
        extract_windows({s.name: np.zeros((0, *s.shape), np.float32) for s in detector.sections}, detector, spec,
                        vertex_distance=vertex_distance)
        window_sum = dict.fromkeys(spec.sizes, 0.0)
        section_sum = dict.fromkeys(spec.sizes, 0.0)
        dtheta: list[np.ndarray] = []
        attrs = {**_spec_attrs(spec, vertex_distance), "detector": detector.to_toml(),
                 "source": str(Path(shower_file).name), "engine": str(showers.metadata.get("engine", ""))}
        with atomic_path(target) as temporary, h5py.File(temporary, "w", track_order=True) as f:
            writer = _LcdFile(f, spec.sizes, truth=True, cell_scale=cell_scale, compression=compression, attrs=attrs)
            for events in showers.iter_chunks(chunk):
                cells = {name: showers.energy(name, events) for name in needed}
                windows = extract_windows(cells, detector, spec, vertex_distance=vertex_distance)
                energy, pdg, direction = primary_truth(showers.primaries(events))
                writer.append(windows, energy, pdg, direction)
                for name in spec.sizes:
                    window_sum[name] += float(windows.cells[name].sum(dtype=np.float64))
                    section_sum[name] += float(cells[name].sum(dtype=np.float64))
                theta_true = direction_angles(direction)[0]
                diff = windows.theta - theta_true
                dtheta.append(diff[np.isfinite(diff)])
                if progress is not None:
                    progress(writer.n_events)
            n_events = writer.n_events
    differences = np.concatenate(dtheta) if dtheta else np.zeros(0)
    containment = {name: (window_sum[name] / section_sum[name] if section_sum[name] > 0 else float("nan"))
                   for name in spec.sizes}
    return LcdSummary(
        path=target, n_events=n_events, windows=dict(spec.sizes), containment=containment,
        reco_theta_bias=float(differences.mean()) if differences.size else float("nan"),
        reco_theta_spread=float(differences.std()) if differences.size else float("nan"),
        seconds=time.perf_counter() - start_time,
    )


# ---------------------------------------------------------------- reading


def read_lcd(path: str | os.PathLike[str], events: slice | None = None, *,
             cell_scale: float | None = None) -> LcdData:
    """Read an LCD file (calolab-written or public CLIC / 3DGAN) into calolab units and order.

    Args:
        path: the ``.h5`` file.
        events: a slice of events to read (all by default).
        cell_scale: the factor the stored cells carry over GeV; ``None`` = the file's
            ``cell_scale`` attribute, or 1 if it has none (give 50 for the public CLIC files, whose
            converter multiplied by 50; see the module notes).

    Returns:
        an :class:`LcdData`: cells ``(N, layers, y, x)`` in MeV, energies in MeV.

    Raises:
        DatasetError: the file is missing, not HDF5, truncated, a calolab shower file, has no
            4-d cell datasets or no ``energy`` (nor ``target``), or its datasets disagree on ``N``.
    """
    path = Path(path)
    selection = slice(None) if events is None else events
    if not isinstance(selection, slice):
        msg = f"events = {events!r}: give a slice such as slice(0, 100)"
        raise DatasetError(msg)
    with open_hdf5(path, "LCD file", _FIX, "check the path or make one with calolab windows") as f:
        try:
            attrs = {key: decode_attribute(f.attrs[key]) for key in f.attrs}
            entries = {key: f[key] for key in f}
        except OSError as error:
            msg = f"{path}: cannot read the file index (truncated or corrupted: {error}); {_FIX}"
            raise DatasetError(msg) from error
        if attrs.get("format") == "calolab-showers":
            msg = (f"{path} is a calolab shower file, not an LCD file: convert it with "
                   f"'calolab windows {path} -o OUT.h5' (or native_to_lcd)")
            raise DatasetError(msg)
        datasets = {key: item for key, item in entries.items() if isinstance(item, h5py.Dataset)}
        cell_names = [key for key, item in datasets.items() if item.ndim == 4]
        if not cell_names:
            msg = (f"{path} is not an LCD/3DGAN file: no (N, x, y, layers) cell datasets such as ECAL or HCAL "
                   f"(top-level entries {sorted(entries)})")
            raise DatasetError(msg)
        if "energy" in datasets:
            energy_ds, energy_column = datasets["energy"], None
        elif "target" in datasets and datasets["target"].ndim == 2 and datasets["target"].shape[1] >= 2:
            energy_ds, energy_column = datasets["target"], 1  # early 3DGAN files: energy in target[:, 1]
        else:
            msg = f"{path}: no 'energy' dataset (nor 'target'): an incomplete LCD file; {_FIX}"
            raise DatasetError(msg)
        n = datasets[cell_names[0]].shape[0]
        wrong = {key: item.shape[0] for key, item in datasets.items() if item.ndim >= 1 and item.shape[0] != n}
        if wrong:
            msg = f"{path}: datasets disagree on the number of events ({cell_names[0]} has {n}, {wrong}); {_FIX}"
            raise DatasetError(msg)
        scale = float(attrs.get("cell_scale", 1.0)) if cell_scale is None else float(cell_scale)
        if not scale > 0:
            msg = f"cell_scale = {scale!r}: give a positive factor"
            raise DatasetError(msg)
        try:
            cells = {name: np.ascontiguousarray(np.transpose(datasets[name][selection], (0, 3, 1, 2)),
                                                dtype=np.float32) * np.float32(_GEV / scale)
                     for name in cell_names}
            raw = energy_ds[selection]
            energy = np.asarray(raw if energy_column is None else raw[:, energy_column], dtype=np.float64)
            energy = energy.reshape(energy.shape[0], -1)[:, 0] * _GEV if energy.ndim > 1 else energy * _GEV
            scalars = {key: np.asarray(datasets[key][selection]).reshape(-1)
                       for key in ("pdgID", *_TRUTH, *_RECO) if key in datasets and datasets[key].size == n}
            used = {*cell_names, "energy", *scalars}
            extra = {key: item[selection] for key, item in datasets.items() if key not in used and item.ndim >= 1}
        except OSError as error:
            msg = f"{path}: cannot read the datasets (truncated or corrupted: {error}); {_FIX}"
            raise DatasetError(msg) from error
    pdg = scalars.get("pdgID")
    return LcdData(
        cells=cells, energy=energy, pdg=None if pdg is None else pdg.astype(np.int64),
        theta=scalars.get("theta"), phi=scalars.get("phi"), eta=scalars.get("eta"),
        reco_theta=scalars.get("recoTheta"), reco_phi=scalars.get("recoPhi"), reco_eta=scalars.get("recoEta"),
        extra=extra, attrs=attrs, cell_scale=scale,
    )

