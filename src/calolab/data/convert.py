"""Convert shower files between calolab's native layout, the CaloChallenge layout and the CLIC/LCD layout.

* native -> CaloChallenge (:func:`native_to_calochallenge`): the layers of the chosen sections, in
  detector order, become the challenge layers; each is resampled onto its (r, alpha) bins around
  the shower axis by sub-cell sampling (:func:`calolab.data.formats.polar.cartesian_to_polar`).
  The axis is the first transported primary's straight line evaluated at each layer's z centre
  (``axis="primary"``; events without one, or moving away from the face, use its start point or
  the grid centre) or the grid centre ``x = y = 0`` (``axis="centre"``). ``incident_energies``
  is the kinetic energy of the transported primaries (:meth:`Primaries.event_energy`).
* CaloChallenge -> native (:func:`calochallenge_to_native`): each challenge layer is spread over
  its annular sectors and resampled onto the matching layer of a calolab detector (default
  :func:`~calolab.data.formats.calochallenge.calochallenge_detector`) centred on the axis; the
  primary is one particle of the binning's PDG code (or ``pdg``) at the origin along +z with the
  incident energy. The absorber (passive) energy and leakage are unknown: written as zeros.
* native -> LCD: :func:`calolab.data.formats.lcd.native_to_lcd` (windows around the barycentre).
* LCD -> native (:func:`lcd_to_native`): the windows become the sections of a detector whose
  grids have the window sizes (the file's ``detector`` attribute, else ``detector``, default
  ``clic``); truth energy, PDG code and direction (from theta and phi) become the primaries.
* Other pairs go through a temporary native file (:func:`convert_file`).

With ``overflow="fold"`` (the default) every resampling conserves each layer's energy: what falls
beyond the target's radial range or grid is put into the nearest bin or edge cell and reported
in :attr:`ConversionSummary.outside`; ``"drop"`` discards it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np

from calolab.data.atomic import atomic_path
from calolab.data.formats.calochallenge import (
    CaloChallengeBinning,
    CaloChallengeWriter,
    _check_output,
    calochallenge_detector,
    read_calochallenge,
)
from calolab.data.formats.polar import Overflow, cartesian_to_polar, polar_matrix, polar_to_cartesian
from calolab.data.hdf5 import check_hdf5
from calolab.detector.geometry import Calorimeter, load_detector
from calolab.errors import ConfigError, DatasetError
from calolab.sim.events import Deposits, Primaries

__all__ = [
    "FORMATS",
    "ConversionSummary",
    "auto_binning",
    "calochallenge_to_native",
    "convert_file",
    "detect_format",
    "event_count",
    "lcd_to_native",
    "native_to_calochallenge",
]

Format = Literal["native", "calochallenge", "lcd"]
#: The layouts :func:`convert_file` reads and writes.
FORMATS: tuple[str, ...] = ("native", "calochallenge", "lcd")


@dataclass(frozen=True)
class ConversionSummary:
    """What a conversion wrote.

    Attributes:
        path: the output file.
        source, target: the formats (``"native"``, ``"calochallenge"``, ``"lcd"``).
        n_events: events written.
        energy_in: cell energy read, MeV, summed over events (NaN where not tracked).
        energy_out: cell energy written, MeV (NaN where not tracked).
        outside: energy that fell outside the target binning or grid, MeV (folded or dropped).
        overflow: ``"fold"`` or ``"drop"``.
        geometry: one line describing the target geometry.
        seconds: wall time.
    """

    path: Path
    source: str
    target: str
    n_events: int
    energy_in: float
    energy_out: float
    outside: float
    overflow: str
    geometry: str
    seconds: float

    def line(self) -> str:
        """A one-line summary for the CLI."""
        text = f"{self.path}: {self.n_events} events, {self.source} -> {self.target} ({self.geometry})"
        if self.energy_in > 0 and np.isfinite(self.energy_in) and np.isfinite(self.energy_out):
            kept = self.energy_out / self.energy_in
            fate = "folded into the nearest bin" if self.overflow == "fold" else "dropped"
            text += (f"; energy written / read {kept * 100:.4f}%, {self.outside / self.energy_in * 100:.3f}% "
                     f"outside the target {fate}")
        return text + f"; {self.seconds:.1f} s"


# ---------------------------------------------------------------- format detection


def detect_format(path: str | os.PathLike[str]) -> Format:
    """The layout of an HDF5 file, from its contents.

    native: root attribute ``format = "calolab-showers"``; CaloChallenge: datasets
    ``incident_energies`` and ``showers``; LCD: a 4-d cell dataset (``ECAL``, ``HCAL``) and
    ``energy`` (or the early 3DGAN ``target``).

    Raises:
        DatasetError: a missing, non-HDF5 or truncated file, or one in none of these layouts.
    """
    path = Path(path)
    check_hdf5(path, "input file", "calolab converts HDF5 shower files only")
    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
            fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
            entries = {key: f.get(key) for key in f}
            shapes = {key: item.shape for key, item in entries.items() if isinstance(item, h5py.Dataset)}
    except OSError as error:
        sizes = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(error))
        what = f"is truncated: {sizes[1]} of {sizes[2]} bytes" if sizes else f"cannot be read ({error})"
        msg = f"{path} {what} (an interrupted copy or write?): copy or regenerate it"
        raise DatasetError(msg) from error
    if fmt == "calolab-showers":
        return "native"
    if "incident_energies" in shapes and "showers" in shapes:
        return "calochallenge"
    if any(len(shape) == 4 for shape in shapes.values()) and ("energy" in shapes or "target" in shapes):
        return "lcd"
    msg = (f"{path} is in none of the layouts calolab converts (top-level entries {sorted(entries)}): "
           f"native (root attribute format = 'calolab-showers'), CaloChallenge (incident_energies + showers), "
           f"LCD (ECAL/HCAL (N, x, y, layers) + energy)")
    raise DatasetError(msg)


def event_count(path: str | os.PathLike[str]) -> int:
    """Number of events in a native, CaloChallenge or LCD file (its format detected first)."""
    fmt = detect_format(path)
    with h5py.File(path, "r") as f:
        if fmt == "native":
            return int(f.attrs.get("n_events", 0))
        if fmt == "calochallenge":
            return int(f["showers"].shape[0])
        return int(next(item.shape[0] for item in f.values() if isinstance(item, h5py.Dataset) and item.ndim == 4))


# ---------------------------------------------------------------- native -> CaloChallenge


def _layer_list(detector: Calorimeter, sections: list[str] | None) -> list[tuple[str, int]]:
    names = [s.name for s in detector.sections]
    chosen = names if sections is None else list(sections)
    unknown = [name for name in chosen if name not in names]
    if unknown or not chosen:
        msg = f"sections {unknown or chosen} are not in detector {detector.name!r}: choose from {names}"
        raise ConfigError(msg)
    return [(name, k) for name in names if name in chosen for k in range(detector.section(name).n_layers)]


def auto_binning(detector: Calorimeter, sections: list[str] | None = None, *, n_r: int = 9,
                 n_alpha: int = 16) -> CaloChallengeBinning:
    """The dataset 2 pattern (9 r x 16 alpha) on a detector's own layers.

    One challenge layer per layer of the chosen sections (default all, in detector order), each with
    ``n_r`` equal radial bins out to the largest circle inside its section's grid.
    """
    from calolab.data.formats.calochallenge import LayerBinning

    layers = []
    for k, (name, _) in enumerate(_layer_list(detector, sections)):
        section = detector.section(name)
        r_max = min(section.width_x, section.width_y) / 2
        edges = tuple(float(e) for e in np.linspace(0.0, r_max, n_r + 1))
        layers.append(LayerBinning(k, edges, n_alpha))
    return CaloChallengeBinning(f"auto-{detector.name}", tuple(layers))


def _axes(primaries: Primaries, z: float) -> np.ndarray:
    """Shower axis ``(N, 2)`` at depth ``z``: the first transported primary's line, else its start, else 0."""
    transported = primaries.transported()
    n = transported.n_events
    axis = np.zeros((n, 2))
    counts = np.diff(transported.event_offsets)
    has = counts > 0
    first = transported.event_offsets[:-1][has]
    position, direction = transported.position[first], transported.direction[first]
    forward = direction[:, 2] > 0
    step = np.where(forward, (z - position[:, 2]) / np.where(forward, direction[:, 2], 1.0), 0.0)
    axis[has] = position[:, :2] + direction[:, :2] * step[:, None]
    return axis


def native_to_calochallenge(
    shower_file: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    binning: CaloChallengeBinning | str = "auto",
    *,
    sections: list[str] | None = None,
    axis: Literal["primary", "centre"] = "primary",
    subdivisions: int | None = None,
    overflow: Overflow = "fold",
    chunk: int = 256,
    compression: str | None = "gzip",
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ConversionSummary:
    """Resample a calolab shower file onto CaloChallenge (r, alpha) bins and write the challenge layout.

    Args:
        shower_file: a calolab shower file.
        out_path: the CaloChallenge ``.h5`` to write (atomically).
        binning: ``"auto"`` (:func:`auto_binning`), a built-in name, an XML path or a binning; it
            must have as many layers as the chosen sections.
        sections: the sections whose layers become the challenge layers (default all).
        axis: ``"primary"`` (the primary's line) or ``"centre"`` (``x = y = 0``).
        subdivisions: sub-cell points per cell side (default: about two per narrowest radial bin).
        overflow: ``"fold"`` (conserve energy) or ``"drop"`` for energy beyond the radial range.
        chunk: events per step.
        compression: ``"gzip"``, ``"lzf"`` or ``None``.
        overwrite: replace an existing output.
        progress: called with the number of events done after each chunk.

    Raises:
        DatasetError: an invalid input, an existing output (without ``overwrite``) or a missing folder.
        ConfigError: a binning whose layer count differs from the sections', bad options.
    """
    from calolab.data.showerfile import ShowerFile

    start = time.perf_counter()
    target = Path(out_path)
    _check_output(target, overwrite)
    if axis not in ("primary", "centre"):
        msg = f"axis = {axis!r}: choose 'primary' (the primary's line) or 'centre' (the grid centre)"
        raise ConfigError(msg)
    if chunk < 1:
        msg = f"chunk = {chunk}: give at least 1 event per chunk"
        raise ConfigError(msg)
    with ShowerFile(shower_file) as showers:
        detector = showers.detector
        layers = _layer_list(detector, sections)
        chosen = auto_binning(detector, sections) if isinstance(binning, str) and binning == "auto" \
            else CaloChallengeBinning.resolve(binning)
        if chosen.n_layers != len(layers):
            used = sorted({name for name, _ in layers})
            msg = (f"{shower_file} has {len(layers)} layers in sections {used} but binning {chosen.name!r} has "
                   f"{chosen.n_layers}: use --binning auto (the dataset 2 pattern on this detector's layers), "
                   f"a binning "
                   f"XML with {len(layers)} layers, or simulate a detector with {chosen.n_layers} layers "
                   f"(calochallenge_detector)")
            raise ConfigError(msg)
        z_centres = {name: detector.section(name).layer_z_centres() for name in {n for n, _ in layers}}
        totals = {"in": 0.0, "out": 0.0, "outside": 0.0}
        attrs = {"source": Path(shower_file).name, "source_detector": detector.to_toml(), "axis": axis,
                 "overflow": overflow, "resampling": "sub-cell sampling (calolab.data.formats.polar)"}
        with atomic_path(target) as temporary, h5py.File(temporary, "w") as f:
            writer = CaloChallengeWriter(f, chosen, compression=compression, attrs=attrs)
            for events in showers.iter_chunks(chunk):
                primaries = showers.primaries(events)
                cells = {name: showers.energy(name, events) for name in z_centres}
                n = primaries.n_events
                flat = np.zeros((n, chosen.n_voxels), dtype=np.float32)
                for k, (name, layer_index) in enumerate(layers):
                    section = detector.section(name)
                    layer = chosen.layers[k]
                    centre = _axes(primaries, float(z_centres[name][layer_index])) if axis == "primary" else None
                    result = cartesian_to_polar(cells[name][:, layer_index], (section.cell_size_x, section.cell_size_y),
                                                layer.r_edges, layer.n_alpha, centre, subdivisions=subdivisions,
                                                overflow=overflow)
                    flat[:, chosen.layer_slice(k)] = np.swapaxes(result.values, 1, 2).reshape(n, -1)
                    totals["outside"] += float(result.outside.sum())
                totals["in"] += float(sum(cells[name].sum(dtype=np.float64) for name in cells))
                totals["out"] += float(flat.sum(dtype=np.float64))
                writer.append(primaries.event_energy(), flat)
                if progress is not None:
                    progress(writer.n_events)
            n_events = writer.n_events
    return ConversionSummary(target, "native", "calochallenge", n_events, totals["in"], totals["out"],
                             totals["outside"], overflow, chosen.describe(short=True), time.perf_counter() - start)


# ---------------------------------------------------------------- CaloChallenge -> native


def _write_native(target: Path, detector: Calorimeter, overwrite: bool, compression: str | None,
                  attrs: dict[str, Any], batches: Any, progress: Callable[[int], None] | None) -> int:
    from calolab.data.showerfile import ShowerFileWriter

    with ShowerFileWriter(target, detector, engine="converted", engine_version="1", attrs=attrs,
                          compression=compression, overwrite=overwrite) as writer:
        for deposits in batches:
            writer.append(deposits)
            if progress is not None:
                progress(writer.n_events)
        return writer.n_events


def _deposits(primaries: Primaries, active: dict[str, np.ndarray], source: str) -> Deposits:
    passive = {name: np.zeros_like(cells) for name, cells in active.items()}
    leakage = np.zeros((primaries.n_events, 3), dtype=np.float32)
    return Deposits(primaries, active, passive, leakage, engine=source, engine_version="1")


def calochallenge_to_native(
    path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    binning: CaloChallengeBinning | str | None = None,
    detector: Calorimeter | str | None = None,
    *,
    pdg: int | None = None,
    overflow: Overflow = "fold",
    chunk: int = 1024,
    compression: str | None = "gzip",
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ConversionSummary:
    """Resample a CaloChallenge file onto a calolab detector's Cartesian grid and write a native file.

    Args:
        path: the CaloChallenge file.
        out_path: the native ``.h5`` to write (atomically).
        binning: its geometry (``None``: the stored or built-in binning with its voxel count).
        detector: a :class:`Calorimeter` or preset name whose layers (all sections, in order) match the
            binning's layers; ``None``: :func:`calochallenge_detector` of the binning.
        pdg: PDG code of the primaries (default: the binning's ``pid``, else 11).
        overflow: ``"fold"`` (energy beyond the grid into the edge cells) or ``"drop"``.
        chunk: events per step.
        compression: ``"gzip"``, ``"blosc"`` or ``None``.
        overwrite: replace an existing output.
        progress: called with the number of events done after each chunk.

    Raises:
        DatasetError: an invalid input (see :func:`read_calochallenge`), an existing output or missing folder.
        ConfigError: a detector whose layer count differs from the binning's.
    """
    start = time.perf_counter()
    target = Path(out_path)
    _check_output(target, overwrite)
    if chunk < 1:
        msg = f"chunk = {chunk}: give at least 1 event per chunk"
        raise ConfigError(msg)
    head = read_calochallenge(path, binning, events=slice(0, 0))
    chosen = head.binning
    with h5py.File(path, "r") as f:
        n_total = int(f["showers"].shape[0])
    grid = calochallenge_detector(chosen) if detector is None else load_detector(detector)
    layers = _layer_list(grid, None)
    if len(layers) != chosen.n_layers:
        msg = (f"detector {grid.name!r} has {len(layers)} layers but binning {chosen.name!r} has {chosen.n_layers}: "
               f"give a detector with {chosen.n_layers} layers, or leave --detector out for the challenge's own grid")
        raise ConfigError(msg)
    code = int(pdg if pdg is not None else (chosen.pdg or 11))
    matrices: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
    totals = {"in": 0.0, "out": 0.0, "outside": 0.0}

    def batches() -> Any:
        for lo in range(0, n_total, chunk):
            data = read_calochallenge(path, chosen, events=slice(lo, min(n_total, lo + chunk)))
            n = len(data)
            active = {s.name: np.zeros((n, *s.shape), dtype=np.float32) for s in grid.sections}
            for k, (name, layer_index) in enumerate(layers):
                section, layer = grid.section(name), chosen.layers[k]
                key = (layer.r_edges, layer.n_alpha, section.n_cells_y, section.n_cells_x, section.cell_size_x,
                       section.cell_size_y)
                if key not in matrices:
                    matrices[key] = polar_matrix(layer.r_edges, layer.n_alpha, (section.n_cells_y, section.n_cells_x),
                                                 (section.cell_size_x, section.cell_size_y), overflow=overflow)
                result = polar_to_cartesian(data.layer(k), layer.r_edges, layer.n_alpha,
                                            (section.n_cells_y, section.n_cells_x),
                                            (section.cell_size_x, section.cell_size_y), overflow=overflow,
                                            matrix=matrices[key])
                active[name][:, layer_index] = result.values
                totals["outside"] += float(result.outside.sum())
            totals["in"] += float(data.showers.sum(dtype=np.float64))
            totals["out"] += float(sum(a.sum(dtype=np.float64) for a in active.values()))
            primaries = Primaries.single(np.full(n, code), np.asarray(data.incident_energies, dtype=np.float64))
            yield _deposits(primaries, active, "calochallenge")

    attrs = {"source": Path(path).name, "source_format": "calochallenge", "binning": chosen.to_xml(),
             "overflow": overflow, "note": "converted from CaloChallenge: passive energy and leakage unknown (zeros)"}
    n_events = _write_native(target, grid, overwrite, compression, attrs, batches(), progress)
    return ConversionSummary(target, "calochallenge", "native", n_events, totals["in"], totals["out"],
                             totals["outside"], overflow, f"detector {grid.name}: {grid.description}",
                             time.perf_counter() - start)


# ---------------------------------------------------------------- LCD -> native


def _lcd_detector(attrs: dict[str, Any], cells: dict[str, np.ndarray], detector: Calorimeter | str | None,
                  path: Path) -> Calorimeter:
    """The detector of an LCD file's windows: its sections resized to the window grids."""
    if detector is not None:
        base = load_detector(detector)
    elif isinstance(attrs.get("detector"), str) and attrs["detector"].strip():
        base = Calorimeter.from_toml(attrs["detector"])
    else:
        base = load_detector("clic")
    sections = []
    names = [s.name for s in base.sections]
    for name, array in cells.items():
        if name not in names:
            msg = f"{path}: cell dataset {name!r} has no section in detector {base.name!r} ({names}): give --detector"
            raise ConfigError(msg)
        section = base.config.sections[names.index(name)]
        layers = base.section(name).n_layers
        n_layers, ny, nx = array.shape[1:]
        if n_layers != layers:
            msg = (f"{path}: {name} windows have {n_layers} layers but section {name} of detector {base.name!r} has "
                   f"{layers}: give a --detector whose {name} has {n_layers} layers")
            raise ConfigError(msg)
        sections.append(section.model_copy(update={"cells": (nx, ny)}))
    config = base.config.model_copy(update={"sections": tuple(sections), "name": f"{base.name}-windows"})
    return Calorimeter(config)


def lcd_to_native(
    path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    detector: Calorimeter | str | None = None,
    *,
    cell_scale: float | None = None,
    chunk: int = 1024,
    compression: str | None = "gzip",
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ConversionSummary:
    """Write the windows of an LCD file as a native shower file (one section per cell dataset).

    Args:
        path: the LCD file (:func:`~calolab.data.formats.lcd.read_lcd`).
        out_path: the native ``.h5`` to write.
        detector: the detector the windows were cut from (default: the file's ``detector``
            attribute, else ``clic``); its sections get the window grids.
        cell_scale: the factor the stored cells carry over GeV (see ``read_lcd``).
        chunk: events per step.
        compression: ``"gzip"``, ``"blosc"`` or ``None``.
        overwrite: replace an existing output.
        progress: called with the number of events done.

    Raises:
        DatasetError: an invalid input, an existing output or a missing folder.
        ConfigError: windows that do not fit the detector's sections.
    """
    from calolab.data.formats.lcd import read_lcd

    start = time.perf_counter()
    target = Path(out_path)
    _check_output(target, overwrite)
    head = read_lcd(path, slice(0, 0), cell_scale=cell_scale)
    grid = _lcd_detector(head.attrs, head.cells, detector, Path(path))
    with h5py.File(path, "r") as f:
        n_total = int(f[next(iter(head.cells))].shape[0])
    totals = {"in": 0.0}

    def batches() -> Any:
        for lo in range(0, n_total, chunk):
            data = read_lcd(path, slice(lo, min(n_total, lo + chunk)), cell_scale=cell_scale)
            n = len(data)
            direction = np.tile([0.0, 0.0, 1.0], (n, 1))
            if data.theta is not None and data.phi is not None:  # barrel convention, x = beam (calolab.data.windows)
                theta, phi = np.asarray(data.theta, np.float64), np.asarray(data.phi, np.float64)
                direction = np.stack([np.cos(theta), np.sin(theta) * np.sin(phi), np.sin(theta) * np.cos(phi)], axis=1)
            pdg = np.zeros(n, dtype=np.int32) if data.pdg is None else data.pdg
            active = {name: np.ascontiguousarray(cells) for name, cells in data.cells.items()}
            totals["in"] += float(sum(a.sum(dtype=np.float64) for a in active.values()))
            yield _deposits(Primaries.single(pdg, data.energy, direction=direction), active, "lcd")

    attrs = {"source": Path(path).name, "source_format": "lcd",
             "note": "converted from LCD windows: passive energy and leakage unknown (zeros)"}
    n_events = _write_native(target, grid, overwrite, compression, attrs, batches(), progress)
    return ConversionSummary(target, "lcd", "native", n_events, totals["in"], totals["in"], 0.0, "fold",
                             f"detector {grid.name}", time.perf_counter() - start)


# ---------------------------------------------------------------- any -> any


def convert_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    to: str,
    *,
    binning: CaloChallengeBinning | str | None = None,
    detector: Calorimeter | str | None = None,
    overflow: Overflow = "fold",
    compression: str | None = "gzip",
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ConversionSummary:
    """Convert ``in_path`` (format detected from its contents) to ``to``; pairs without a direct
    route go through a temporary native file beside the output.

    Args:
        binning: the CaloChallenge binning (reading: ``None`` = stored or by voxel count; writing:
            ``None`` = ``"auto"``).
        detector: the native detector for CaloChallenge/LCD input (see the single-pair functions).

    Raises:
        ConfigError: an unknown target format, or input already in it.
        DatasetError: see the single-pair functions.
    """
    target_format = to.strip().lower()
    if target_format not in FORMATS:
        msg = f"--to {to!r}: choose one of {list(FORMATS)}"
        raise ConfigError(msg)
    source = detect_format(in_path)
    if source == target_format:
        others = [f for f in FORMATS if f != source]
        msg = f"{in_path} is already in the {source} layout: choose another --to ({others})"
        raise ConfigError(msg)
    target = Path(out_path)
    _check_output(target, overwrite)
    if source != "native" and target_format != "native":
        temporary = target.with_name(f".{target.name}.native.partial")
        temporary.unlink(missing_ok=True)
        try:
            first = convert_file(in_path, temporary, "native", binning=binning, detector=detector, overflow=overflow,
                                 compression=None, overwrite=True)
            second = convert_file(temporary, target, target_format,
                                  binning=binning if source == "lcd" else None, overflow=overflow,
                                  compression=compression, overwrite=overwrite, progress=progress)
        finally:
            temporary.unlink(missing_ok=True)
        return ConversionSummary(second.path, source, target_format, second.n_events, first.energy_in,
                                 second.energy_out, first.outside + second.outside, overflow, second.geometry,
                                 first.seconds + second.seconds)
    if source == "native" and target_format == "calochallenge":
        return native_to_calochallenge(in_path, target, "auto" if binning is None else binning, overflow=overflow,
                                       compression=compression, overwrite=overwrite, progress=progress)
    if source == "calochallenge":
        return calochallenge_to_native(in_path, target, binning, detector, overflow=overflow, compression=compression,
                                       overwrite=overwrite, progress=progress)
    if source == "lcd":
        return lcd_to_native(in_path, target, detector, compression=compression, overwrite=overwrite,
                             progress=progress)
    from calolab.data.formats.lcd import native_to_lcd

    start = time.perf_counter()
    lcd = native_to_lcd(in_path, target, overwrite=overwrite, compression=compression, progress=progress)
    sizes = ", ".join(f"{name} {size.nx}x{size.ny}x{size.layers}" for name, size in lcd.windows.items())
    contained = ", ".join(f"{name} {fraction * 100:.2f}%" for name, fraction in lcd.containment.items())
    return ConversionSummary(lcd.path, "native", "lcd", lcd.n_events, float("nan"), float("nan"), 0.0, overflow,
                             f"windows {sizes}; energy in windows {contained}", time.perf_counter() - start)
