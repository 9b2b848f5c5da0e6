"""The native calolab shower file: HDF5 layout, atomic writer, lazy validating reader.

Layout (format ``"calolab-showers"``, version 1), ``N`` events, ``M`` primaries in all::

    /                                   attrs: format, format_version, detector (TOML text),
                                        gun (JSON text or ""), engine, engine_version,
                                        seed (-1 if none), calolab_version, created (ISO 8601 UTC),
                                        n_events, software (JSON: python, numpy, numba, h5py
                                        versions; absent in older files), and any extra
                                        attributes given to the writer
    /sections/<NAME>/energy             (N, layers, y, x) float32, MeV, active material
    /sections/<NAME>/digitized          optional: (N, layers, y, x) float32, MeV, calibrated signal
                                        after the readout (calolab digitize); group attr ``readout``
    /truth/sections/<NAME>/passive_energy  (N, layers, y, x) float32, MeV, absorber
    /truth/leakage                      (N, 3) float32, MeV, columns "front,lateral,rear"
    /truth/<key>                        engine-specific per-event arrays (first axis N)
    /primaries/pdg                      (M,) int32
    /primaries/energy                   (M,) float64, MeV (kinetic)
    /primaries/position                 (M, 3) float64, mm
    /primaries/direction                (M, 3) float64, unit vector
    /primaries/event_offsets            (N + 1,) int64: particles of event i are [o[i], o[i+1])
    /primaries/status                   (M,) int8, HepMC status: 1 transported, 2 decayed by the gun
    /primaries/parent                   (M,) int32, parent's index within its event, -1 for none

``/primaries/status`` and ``/primaries/parent`` are optional on reading: files written before
them read as all status 1, parent -1.

``/sections/<NAME>/digitized`` is optional: when present every section has one; the root
attributes ``readout`` (JSON: section -> readout settings used) and ``digitize_seed`` record
how it was made (:mod:`calolab.detector.readout`). The raw ``energy`` is always kept.

Every dataset has a ``unit`` attribute. Per-event datasets are chunked along ``N`` and
compressed (gzip level 4 + shuffle by default, readable by any HDF5 tool; ``"blosc"`` uses
Blosc/zstd from :mod:`hdf5plugin`, which readers then need too).

Write with :class:`ShowerFileWriter` (or :func:`write_showers` in one go), read with
:class:`ShowerFile` (or :func:`open_dataset`)::

    >>> with ShowerFileWriter("run.h5", detector, engine="mc", seed=1) as writer:  # doctest: +SKIP
    ...     writer.append(deposits)
    >>> with ShowerFile("run.h5") as showers:                                      # doctest: +SKIP
    ...     first_ten = showers.read(slice(0, 10))
"""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import h5py
import numpy as np

from calolab import __version__
from calolab.data.hdf5 import decode_attribute, open_hdf5
from calolab.errors import CalolabError, ConfigError, DatasetError
from calolab.sim.events import LEAKAGE_COLUMNS, Deposits, Primaries

if TYPE_CHECKING:
    from calolab.detector.geometry import Calorimeter

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ShowerFile",
    "ShowerFileWriter",
    "open_dataset",
    "software_versions",
    "summarize",
    "write_showers",
]

#: Value of the root ``format`` attribute of a calolab shower file.
FORMAT = "calolab-showers"
#: Layout version written by this module; readers refuse newer versions.
FORMAT_VERSION = 1

#: Root attributes set by the writer that every valid file has.
RESERVED_ATTRS = (
    "format", "format_version", "detector", "gun", "engine", "engine_version", "seed",
    "calolab_version", "created", "n_events",
)
#: Root attribute with the versions of the numerical stack (JSON), written since it existed: a Monte Carlo
#: file is bit-reproducible from its seed only with the same stack
SOFTWARE_ATTR = "software"
#: Every root attribute the writer sets itself (attrs given to it may not use these names)
_WRITER_ATTRS = (*RESERVED_ATTRS, SOFTWARE_ATTR)
_PRIMARY_FIELDS = ("pdg", "energy", "position", "direction")
#: per-particle truth added after the first files; absent -> Primaries' defaults
_PRIMARY_OPTIONAL = ("status", "parent")
_PRIMARY_UNITS = {"pdg": "", "energy": "MeV", "position": "mm", "direction": "", "event_offsets": "",
                  "status": "", "parent": ""}
_PRIMARY_DESCRIPTIONS = {
    "pdg": "PDG particle code",
    "energy": "kinetic energy",
    "position": "start point (x, y, z); z = 0 is the front face of the detector",
    "direction": "unit momentum direction (x, y, z)",
    "event_offsets": "particles of event i are [event_offsets[i], event_offsets[i+1])",
    "status": "HepMC status: 1 = transported, 2 = decayed by the generator (truth only)",
    "parent": "index of the parent particle within the same event, -1 for none",
}
_CHUNK_BYTES = 1 << 20  # aim at ~1 MiB chunks along N
#: description of the optional ``/sections/<NAME>/digitized`` datasets
DIGITIZED_DESCRIPTION = ("calibrated cell signal after the readout (photostatistics, sampling-fraction "
                         "calibration, intercalibration, noise, zero suppression), MeV on the incident-energy scale")
_REGENERATE = "regenerate it (calolab simulate ...) or copy it again"

Events = slice | int | Sequence[int] | np.ndarray


class _DetectorLike(Protocol):  # what the writer needs of a detector
    name: str

    @property
    def sections(self) -> Sequence[Any]: ...

    def to_toml(self) -> str: ...


# ---------------------------------------------------------------- helpers


def _compression_options(compression: str | None) -> dict[str, Any]:
    if compression in (None, "none"):
        return {}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if compression == "blosc":
        import hdf5plugin

        return dict(hdf5plugin.Blosc(cname="zstd", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE))
    msg = (f"unknown compression {compression!r}: choose 'gzip' (portable), 'blosc' (zstd, needs "
           f"hdf5plugin) or None")
    raise ConfigError(msg)


def _chunk_events(row_bytes: int) -> int:
    return int(max(1, min(4096, _CHUNK_BYTES // max(row_bytes, 1))))


def _attr_value(key: str, value: Any) -> Any:
    if isinstance(value, str | int | float | bool | np.integer | np.floating | np.bool_):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "iufb":
        return value
    try:
        return json.dumps(value)
    except TypeError:
        msg = (f"file attribute {key!r}: cannot store a {type(value).__name__}; give a str, number, "
               f"array or JSON-able value")
        raise ConfigError(msg) from None


def software_versions() -> dict[str, str]:
    """Versions of Python, numpy, numba and h5py: what a file's ``software`` attribute records."""
    import platform

    import numba

    return {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "h5py": h5py.__version__}


def _event_index(events: Events, n_events: int) -> slice | np.ndarray:
    """Normalise an event selection to a step-1 slice or a sorted-free index array (both keep the N axis)."""
    if isinstance(events, slice):
        start, stop, step = events.indices(n_events)
        if step == 1:
            return slice(start, max(start, stop))
        return np.arange(start, stop, step, dtype=np.int64)
    if isinstance(events, int | np.integer):
        events = [int(events)]
    index = np.asarray(events)
    if index.dtype == bool:
        if index.shape != (n_events,):
            msg = f"boolean event mask has shape {index.shape}, expected ({n_events},)"
            raise DatasetError(msg)
        return np.flatnonzero(index)
    if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
        msg = f"events must be a slice, an int or a 1-d array of event indices, got {events!r}"
        raise DatasetError(msg)
    index = index.astype(np.int64)
    bad = (index < -n_events) | (index >= n_events)
    if np.any(bad):
        msg = (f"event {int(index[bad][0])} is out of range: the file has {n_events} events "
               f"(indices 0 to {n_events - 1})")
        raise DatasetError(msg)
    return np.where(index < 0, index + n_events, index)


def _read_rows(dataset: h5py.Dataset, index: slice | np.ndarray) -> np.ndarray:
    """Rows of ``dataset`` along axis 0, reading only those rows (any order, repeats allowed)."""
    if isinstance(index, slice):
        return dataset[index]
    if index.size == 0:
        return np.zeros((0, *dataset.shape[1:]), dtype=dataset.dtype)
    unique, inverse = np.unique(index, return_inverse=True)
    if unique.size == unique[-1] - unique[0] + 1:  # contiguous block: one hyperslab
        block = dataset[int(unique[0]): int(unique[-1]) + 1]
    else:
        block = dataset[unique]
    return block[inverse]


def section_shapes(detector: _DetectorLike) -> dict[str, tuple[int, int, int]]:
    """Section name -> ``(layers, y, x)`` of a detector, in detector order."""
    shapes: dict[str, tuple[int, int, int]] = {}
    for section in detector.sections:
        layers, ny, nx = (int(n) for n in section.shape)
        shapes[section.name] = (layers, ny, nx)
    return shapes


# ---------------------------------------------------------------- writer


class ShowerFileWriter:
    """Write events to a shower file atomically: nothing appears at ``path`` until :meth:`close`.

    The events go to ``.<name>.partial`` in the same folder, which :meth:`close` renames onto
    ``path``. Used as a context manager, an exception inside the ``with`` block removes the
    partial file and leaves ``path`` untouched.

    Args:
        path: the ``.h5`` file to write.
        detector: the :class:`~calolab.detector.geometry.Calorimeter` simulated (anything with
            ``name``, ``sections`` (each with ``name`` and ``shape``) and ``to_toml()``).
        gun: the gun configuration, a dict (stored as JSON) or a JSON string; ``None`` if unknown.
        engine: engine name; ``None`` takes it from the first appended :class:`Deposits`.
        engine_version: engine version; ``None`` takes it from the first appended deposits.
        seed: the seed of the run, or ``None`` (stored as -1).
        attrs: extra root attributes (str, numbers, arrays, or JSON-able values).
        compression: ``"gzip"`` (level 4 + shuffle, the default), ``"blosc"`` (zstd) or ``None``.
        overwrite: replace an existing file at ``path`` (only when :meth:`close` succeeds).

    Raises:
        DatasetError: the folder does not exist or is not writable, ``path`` exists (without
            ``overwrite``) or is a folder.
        ConfigError: an unknown compression or an attribute that clashes with a reserved name.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        detector: _DetectorLike,
        *,
        gun: Mapping[str, Any] | str | None = None,
        engine: str | None = None,
        engine_version: str | None = None,
        seed: int | None = None,
        attrs: Mapping[str, Any] | None = None,
        compression: str | None = "gzip",
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        folder = self.path.parent
        if not folder.is_dir():
            msg = f"folder {folder} does not exist: create it or choose another -o"
            raise DatasetError(msg)
        if self.path.is_dir():
            msg = f"{self.path} is a folder: give a file name such as {self.path / 'showers.h5'}"
            raise DatasetError(msg)
        if self.path.exists() and not overwrite:
            msg = f"{self.path} already exists: choose another -o, delete it, or overwrite it (--overwrite)"
            raise DatasetError(msg)
        if not os.access(folder, os.W_OK | os.X_OK):
            msg = f"folder {folder} is not writable: choose another -o"
            raise DatasetError(msg)
        clash = sorted(set(attrs or {}) & set(_WRITER_ATTRS))
        if clash:
            msg = (f"file attributes {clash} are set by the writer: rename them "
                   f"(reserved: {list(_WRITER_ATTRS)})")
            raise ConfigError(msg)
        self._compression = _compression_options(compression)
        self._shapes = section_shapes(detector)
        self._engine = engine
        self._engine_version = engine_version
        self._extra_keys: list[str] | None = None
        self._digitized: bool | None = None  # whether appends carry digitised arrays (set by the first)
        self.n_events = 0
        self.n_particles = 0
        self.partial_path = folder / f".{self.path.name}.partial"
        try:
            self._file: h5py.File | None = h5py.File(self.partial_path, "w", track_order=True)
        except OSError as error:
            msg = f"cannot create {self.partial_path}: {error}"
            raise DatasetError(msg) from error
        try:
            self._setup(detector, gun, seed, attrs or {})
        except BaseException:
            self.abort()
            raise

    # ------------------------------------------------------------ layout

    def _dataset(self, group: h5py.Group, name: str, row_shape: tuple[int, ...], dtype: Any,
                 unit: str, description: str, **attrs: Any) -> h5py.Dataset:
        row_bytes = int(np.prod(row_shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        dataset = group.create_dataset(
            name, shape=(0, *row_shape), maxshape=(None, *row_shape), dtype=dtype,
            chunks=(_chunk_events(row_bytes), *row_shape), **self._compression,
        )
        dataset.attrs["unit"] = unit
        dataset.attrs["description"] = description
        for key, value in attrs.items():
            dataset.attrs[key] = value
        return dataset

    def _setup(self, detector: _DetectorLike, gun: Mapping[str, Any] | str | None, seed: int | None,
               attrs: Mapping[str, Any]) -> None:
        f = self._file
        assert f is not None  # internal invariant, set just before
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["detector"] = detector.to_toml()
        f.attrs["gun"] = "" if gun is None else gun if isinstance(gun, str) else json.dumps(dict(gun))
        f.attrs["engine"] = self._engine or "unknown"
        f.attrs["engine_version"] = self._engine_version or "0"
        f.attrs["seed"] = -1 if seed is None else int(seed)
        f.attrs["calolab_version"] = __version__
        f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        f.attrs[SOFTWARE_ATTR] = json.dumps(software_versions())
        f.attrs["n_events"] = 0
        for key, value in attrs.items():
            f.attrs[key] = _attr_value(key, value)
        sections = f.create_group("sections", track_order=True)
        passive = f.create_group("truth", track_order=True).create_group("sections", track_order=True)
        for name, shape in self._shapes.items():
            self._dataset(sections.create_group(name), "energy", shape, np.float32, "MeV",
                          "energy deposited in the active material")
            self._dataset(passive.create_group(name), "passive_energy", shape, np.float32, "MeV",
                          "energy deposited in the passive (absorber) material")
        self._dataset(f["truth"], "leakage", (len(LEAKAGE_COLUMNS),), np.float32, "MeV",
                      "energy leaving the detector", columns=",".join(LEAKAGE_COLUMNS))
        primaries = f.create_group("primaries")
        for name, row, dtype in (("pdg", (), np.int32), ("energy", (), np.float64),
                                 ("position", (3,), np.float64), ("direction", (3,), np.float64),
                                 ("status", (), np.int8), ("parent", (), np.int32)):
            self._dataset(primaries, name, row, dtype, _PRIMARY_UNITS[name], _PRIMARY_DESCRIPTIONS[name])
        offsets = primaries.create_dataset("event_offsets", data=np.zeros(1, dtype=np.int64),
                                           maxshape=(None,), chunks=(4096,))
        offsets.attrs["unit"] = ""
        offsets.attrs["description"] = _PRIMARY_DESCRIPTIONS["event_offsets"]

    # ------------------------------------------------------------ writing

    def _check(self, deposits: Deposits) -> None:
        if self._file is None:
            msg = f"the writer of {self.path} is closed: open a new ShowerFileWriter"
            raise DatasetError(msg)
        for kind, arrays in (("active", deposits.active), ("passive", deposits.passive)):
            if set(arrays) != set(self._shapes):
                msg = (f"Deposits.{kind} has sections {sorted(arrays)} but the detector has "
                       f"{list(self._shapes)}: simulate with the detector given to the writer")
                raise DatasetError(msg)
            for name, shape in self._shapes.items():
                got = tuple(arrays[name].shape[1:])
                if got != shape:
                    msg = (f"Deposits.{kind}[{name!r}] has cells (layers, y, x) = {got} but the detector "
                           f"section {name!r} has {shape}: simulate with the detector given to the writer")
                    raise DatasetError(msg)
        n = len(deposits)
        for key, array in deposits.extra.items():
            if key in ("leakage", "sections"):
                msg = f"Deposits.extra[{key!r}] clashes with /truth/{key}: rename it"
                raise DatasetError(msg)
            if np.ndim(array) < 1 or np.shape(array)[0] != n:
                msg = f"Deposits.extra[{key!r}] must have first axis N={n}, got shape {np.shape(array)}"
                raise DatasetError(msg)
        if self._extra_keys is not None and sorted(deposits.extra) != self._extra_keys:
            msg = (f"Deposits.extra has keys {sorted(deposits.extra)} but earlier appends had "
                   f"{self._extra_keys}: every append must carry the same truth arrays")
            raise DatasetError(msg)

    @staticmethod
    def _grow(dataset: h5py.Dataset, rows: np.ndarray) -> None:
        start = dataset.shape[0]
        dataset.resize(start + rows.shape[0], axis=0)
        dataset[start:] = rows

    def _check_digitized(self, digitized: Any, n: int) -> dict[str, np.ndarray] | None:
        """The digitised arrays of an append (section -> (n, layers, y, x) float32), checked."""
        if digitized is None:
            if self._digitized:
                msg = ("earlier appends carried digitized arrays but this one has none: digitise every "
                       "append or none")
                raise DatasetError(msg)
            return None
        if self._digitized is False or (self._digitized is None and self.n_events > 0):
            msg = ("this append carries digitized arrays but earlier appends had none: digitise every "
                   "append or none")
            raise DatasetError(msg)
        arrays = getattr(digitized, "energy", digitized)  # a readout Hits or a plain mapping
        if not isinstance(arrays, Mapping) or set(arrays) != set(self._shapes):
            got = sorted(arrays) if isinstance(arrays, Mapping) else type(arrays).__name__
            msg = (f"digitized has sections {got} but the detector has {list(self._shapes)}: "
                   f"digitise with a Readout of the detector given to the writer")
            raise DatasetError(msg)
        checked = {}
        for name, shape in self._shapes.items():
            array = np.asarray(arrays[name], dtype=np.float32)
            if array.shape != (n, *shape):
                msg = (f"digitized[{name!r}] has shape {array.shape}, expected (N={n}, layers, y, x) = "
                       f"{(n, *shape)}: digitise the deposits of this append")
                raise DatasetError(msg)
            checked[name] = array
        return checked

    def _create_digitized(self, readout: Mapping[str, Any] | None) -> None:
        f = self._file
        assert f is not None  # internal invariant: called from append
        for name, shape in self._shapes.items():
            group = f[f"sections/{name}"]
            settings = json.dumps((readout or {}).get(name, {}))
            self._dataset(group, "digitized", shape, np.float32, "MeV", DIGITIZED_DESCRIPTION, readout=settings)
            group.attrs["readout"] = settings
        f.attrs["readout"] = json.dumps(dict(readout or {}))

    def append(self, deposits: Deposits, digitized: Any = None) -> None:
        """Add the events of ``deposits`` to the file, with their digitised signal if given.

        Args:
            deposits: the events.
            digitized: ``None``, or the readout's output for these events: a
                :class:`~calolab.detector.readout.Hits` (whose settings are recorded in the file) or a
                mapping section -> ``(N, layers, y, x)`` MeV array. Either every append has it or none.

        Raises:
            DatasetError: the sections or their cell shapes differ from the detector's, the extra
                truth arrays or the presence of digitised arrays differ from earlier appends, or the
                writer is closed.
        """
        self._check(deposits)
        digitized_arrays = self._check_digitized(digitized, len(deposits))
        f = self._file
        assert f is not None  # checked in _check
        if self._digitized is None:
            self._digitized = digitized_arrays is not None
            if self._digitized:
                self._create_digitized(getattr(digitized, "readout", None))
        if digitized_arrays is not None:
            for name, array in digitized_arrays.items():
                self._grow(f[f"sections/{name}/digitized"], array)
        if self._engine is None:
            self._engine = deposits.engine
            f.attrs["engine"] = deposits.engine
        if self._engine_version is None:
            self._engine_version = deposits.engine_version
            f.attrs["engine_version"] = deposits.engine_version
        if self._extra_keys is None:
            self._extra_keys = sorted(deposits.extra)
            for key in self._extra_keys:
                array = np.asarray(deposits.extra[key])
                self._dataset(f["truth"], key, array.shape[1:], array.dtype, "unspecified",
                              f"engine-specific truth array from {deposits.engine}")
        for name in self._shapes:
            self._grow(f[f"sections/{name}/energy"], np.asarray(deposits.active[name], dtype=np.float32))
            self._grow(f[f"truth/sections/{name}/passive_energy"],
                       np.asarray(deposits.passive[name], dtype=np.float32))
        self._grow(f["truth/leakage"], deposits.leakage)
        for key in self._extra_keys:
            self._grow(f[f"truth/{key}"], np.asarray(deposits.extra[key]))
        primaries = deposits.primaries
        for name in (*_PRIMARY_FIELDS, *_PRIMARY_OPTIONAL):
            self._grow(f[f"primaries/{name}"], getattr(primaries, name))
        self._grow(f["primaries/event_offsets"], primaries.event_offsets[1:] + self.n_particles)
        self.n_events += len(deposits)
        self.n_particles += primaries.n_particles
        f.attrs["n_events"] = self.n_events

    def close(self) -> Path:
        """Finish the file: set ``n_events``, flush, fsync and rename it onto ``path``.

        Returns:
            the path of the finished file.
        """
        if self._file is None:
            if self.path.exists() and not self.partial_path.exists():
                return self.path
            msg = f"the writer of {self.path} was aborted: nothing was written"
            raise DatasetError(msg)
        file, self._file = self._file, None
        try:
            file.attrs["n_events"] = self.n_events
            file.flush()
            file.close()
            fd = os.open(self.partial_path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self.partial_path, self.path)
        except OSError as error:
            self.partial_path.unlink(missing_ok=True)
            msg = f"cannot finish {self.path}: {error}"
            raise DatasetError(msg) from error
        with contextlib.suppress(OSError):  # make the rename durable where the OS allows it
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return self.path

    def abort(self) -> None:
        """Drop everything written so far: close and delete the partial file; ``path`` is untouched."""
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(Exception):
                file.close()
        self.partial_path.unlink(missing_ok=True)

    def __enter__(self) -> ShowerFileWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def write_showers(path: str | os.PathLike[str], deposits: Deposits, detector: _DetectorLike,
                  digitized: Any = None, **metadata: Any) -> Path:
    """Write ``deposits`` to a new shower file in one go.

    Args:
        path: the ``.h5`` file to write.
        deposits: the events.
        detector: the detector they were simulated in.
        digitized: optional digitised signal of the events (see :meth:`ShowerFileWriter.append`).
        **metadata: keyword arguments of :class:`ShowerFileWriter` (``gun``, ``engine``, ``seed``,
            ``attrs``, ``compression``, ``overwrite``, ...).

    Returns:
        the path of the file.
    """
    with ShowerFileWriter(path, detector, **metadata) as writer:
        writer.append(deposits, digitized)
    return writer.path


# ---------------------------------------------------------------- reader


class ShowerFile:
    """A validated, lazily read shower file; data are read only for the events asked for.

    Args:
        path: the ``.h5`` file.

    Raises:
        DatasetError: the file is missing, not HDF5, truncated, written by another tool or a
            newer calolab, lacks a required dataset, or its datasets disagree on the number of
            events. The message says what is wrong and how to fix it.

    Attributes:
        path: the file.
        n_events: number of events ``N``.
        sections: section names in detector order.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file = open_hdf5(self.path, "shower file", _REGENERATE,
                               "check the path or generate it with calolab simulate")
        try:
            self._validate()
        except BaseException:
            self._file.close()
            raise
        self._detector: Calorimeter | None = None

    # ------------------------------------------------------------ validation

    def _fail(self, problem: str) -> DatasetError:
        return DatasetError(f"{self.path}: {problem}")

    def _validate(self) -> None:
        f = self._file
        try:
            attrs = {key: decode_attribute(f.attrs[key]) for key in f.attrs}
        except OSError as error:
            msg = f"root attributes cannot be read (truncated or corrupted: {error}); {_REGENERATE}"
            raise self._fail(msg) from error
        if attrs.get("format") != FORMAT:
            groups = sorted(f.keys())
            msg = (f"not a calolab shower file (root attribute format = {attrs.get('format')!r}, expected "
                   f"{FORMAT!r}; top-level entries {groups}): convert files of other tools with the "
                   f"readers in calolab.data.formats")
            raise self._fail(msg)
        version = attrs.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
            msg = (f"format_version {version!r} is not supported (this calolab {__version__} reads 1 to "
                   f"{FORMAT_VERSION}): upgrade calolab or regenerate the file")
            raise self._fail(msg)
        missing = [key for key in RESERVED_ATTRS if key not in attrs]
        if missing:
            raise self._fail(f"missing root attributes {missing}: an incomplete file; {_REGENERATE}")
        self._attrs = attrs
        required = ["truth/leakage", *(f"primaries/{name}" for name in (*_PRIMARY_FIELDS, "event_offsets"))]
        if "sections" not in f or not isinstance(f["sections"], h5py.Group) or len(f["sections"]) == 0:
            raise self._fail(f"no /sections/<NAME>/energy datasets: an incomplete file; {_REGENERATE}")
        self.sections: list[str] = list(f["sections"].keys())
        for name in self.sections:
            required += [f"sections/{name}/energy", f"truth/sections/{name}/passive_energy"]
        absent = [key for key in required if not isinstance(f.get(key), h5py.Dataset)]
        if absent:
            names = ["/" + key for key in absent]
            raise self._fail(f"missing datasets {names}: an incomplete file; {_REGENERATE}")
        try:
            n = int(attrs["n_events"])
            per_event = {f"/{key}": f[key].shape[0] for key in required if not key.startswith("primaries/")}
            per_event["/primaries/event_offsets (minus 1)"] = f["primaries/event_offsets"].shape[0] - 1
            wrong = {key: rows for key, rows in per_event.items() if rows != n}
            if wrong:
                msg = f"n_events = {n} but datasets have other numbers of events {wrong}: {_REGENERATE}"
                raise self._fail(msg)
            for name in self.sections:
                active, passive = f[f"sections/{name}/energy"], f[f"truth/sections/{name}/passive_energy"]
                if active.ndim != 4 or passive.shape != active.shape:
                    msg = (f"section {name!r}: energy has shape {active.shape} and passive_energy "
                           f"{passive.shape}; both must be (N, layers, y, x): {_REGENERATE}")
                    raise self._fail(msg)
            self._check_digitized(n)
            m = {key: f[f"primaries/{key}"].shape[0] for key in _PRIMARY_FIELDS}
            m |= {key: f[f"primaries/{key}"].shape[0] for key in _PRIMARY_OPTIONAL
                  if isinstance(f.get(f"primaries/{key}"), h5py.Dataset)}
            offsets = f["primaries/event_offsets"]
            last = int(offsets[-1]) if offsets.shape[0] else -1
            if len(set(m.values())) != 1 or last != m["pdg"]:
                msg = (f"primaries are inconsistent (lengths {m}, event_offsets ends at {last}): "
                       f"{_REGENERATE}")
                raise self._fail(msg)
        except OSError as error:
            msg = f"datasets cannot be read (truncated or corrupted: {error}); {_REGENERATE}"
            raise self._fail(msg) from error
        self.n_events = n

    def _check_digitized(self, n: int) -> None:
        """The optional /sections/<NAME>/digitized: in every section or none, shaped like ``energy``."""
        f = self._file
        present = [name for name in self.sections if f"sections/{name}/digitized" in f]
        self.has_digitized = bool(present)
        if not present:
            return
        if len(present) != len(self.sections):
            absent = [f"/sections/{name}/digitized" for name in self.sections if name not in present]
            msg = f"digitized signal only in some sections (missing {absent}): redo it with calolab digitize"
            raise self._fail(msg)
        for name in self.sections:
            digitized, energy = f[f"sections/{name}/digitized"], f[f"sections/{name}/energy"]
            if not isinstance(digitized, h5py.Dataset) or digitized.shape != energy.shape:
                shape = getattr(digitized, "shape", "a group")
                msg = (f"section {name!r}: digitized has shape {shape} but energy {energy.shape} (the "
                       f"first axis is the {n} events): redo it with calolab digitize")
                raise self._fail(msg)

    # ------------------------------------------------------------ metadata

    @property
    def metadata(self) -> dict[str, Any]:
        """Root attributes: ``gun`` parsed from JSON (``None`` if absent), ``seed`` ``None`` if -1."""
        meta = dict(self._attrs)
        gun = meta.get("gun")
        if not gun:
            meta["gun"] = None
        else:
            with contextlib.suppress(json.JSONDecodeError, TypeError):
                meta["gun"] = json.loads(gun)
        if meta.get("seed") == -1:
            meta["seed"] = None
        software = meta.get(SOFTWARE_ATTR)
        with contextlib.suppress(json.JSONDecodeError, TypeError):
            meta[SOFTWARE_ATTR] = json.loads(software) if software else None
        return meta

    @property
    def detector_name(self) -> str:
        """The detector's name, read from the TOML attribute without building the geometry."""
        try:
            return str(tomllib.loads(self._attrs["detector"]).get("name", "?"))
        except tomllib.TOMLDecodeError:
            return "?"

    @property
    def detector(self) -> Calorimeter:
        """The :class:`~calolab.detector.geometry.Calorimeter` rebuilt from the stored TOML."""
        if self._detector is None:
            from calolab.detector.geometry import Calorimeter

            self._detector = Calorimeter.from_toml(self._attrs["detector"])
        return self._detector

    def shape(self, section: str) -> tuple[int, int, int]:
        """``(layers, y, x)`` of a section."""
        return tuple(self._section_dataset(section, passive=False).shape[1:])  # type: ignore[return-value]

    # ------------------------------------------------------------ data

    def _section_dataset(self, section: str, *, passive: bool) -> h5py.Dataset:
        if section not in self.sections:
            msg = f"{self.path} has no section {section!r}: choose one of {self.sections}"
            raise DatasetError(msg)
        key = f"truth/sections/{section}/passive_energy" if passive else f"sections/{section}/energy"
        return self._file[key]

    def _rows(self, dataset: h5py.Dataset, events: Events) -> np.ndarray:
        index = _event_index(events, self.n_events)
        try:
            return _read_rows(dataset, index)
        except OSError as error:
            msg = f"{self.path}: cannot read {dataset.name} (truncated or corrupted: {error}); {_REGENERATE}"
            raise DatasetError(msg) from error

    def energy(self, section: str, events: Events = slice(None)) -> np.ndarray:
        """Active energy of the selected events, MeV, ``(n, layers, y, x)`` float32.

        ``events`` is a slice, an index (the N axis is kept), an index array or a boolean mask.
        """
        return self._rows(self._section_dataset(section, passive=False), events)

    def digitized(self, section: str, events: Events = slice(None)) -> np.ndarray:
        """Digitised (calibrated) signal of the selected events, MeV, ``(n, layers, y, x)`` float32.

        Raises:
            DatasetError: the file has no digitised signal (make it with ``calolab digitize``) or
                no such section.
        """
        self._section_dataset(section, passive=False)  # names the sections if unknown
        if not self.has_digitized:
            msg = (f"{self.path} has no digitized signal (only the raw active energy): run "
                   f"calolab digitize {self.path} -o OUT.h5, or simulate with the readout applied")
            raise DatasetError(msg)
        return self._rows(self._file[f"sections/{section}/digitized"], events)

    def readout_settings(self) -> dict[str, Any] | None:
        """Section -> readout settings the digitised signal was made with; ``None`` without one."""
        if not self.has_digitized:
            return None
        settings: dict[str, Any] = {}
        for name in self.sections:
            text = decode_attribute(self._file[f"sections/{name}"].attrs.get("readout", "{}"))
            try:
                settings[name] = json.loads(text)
            except (json.JSONDecodeError, TypeError):
                settings[name] = {}
        return settings

    def passive_energy(self, section: str, events: Events = slice(None)) -> np.ndarray:
        """Energy in the passive material of the selected events, MeV, ``(n, layers, y, x)`` float32."""
        return self._rows(self._section_dataset(section, passive=True), events)

    def leakage(self, events: Events = slice(None)) -> np.ndarray:
        """Leaked energy of the selected events, MeV, ``(n, 3)`` float32, columns front, lateral, rear."""
        return self._rows(self._file["truth/leakage"], events)

    def extra_keys(self) -> list[str]:
        """Names of the engine-specific ``/truth/<key>`` arrays."""
        return [key for key, item in self._file["truth"].items()
                if key != "leakage" and isinstance(item, h5py.Dataset)]

    def _primary_fields(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        """Particles ``[lo, hi)`` of every /primaries array; optional ones absent in older files are left out."""
        group = self._file["primaries"]
        return {name: group[name][lo:hi] for name in (*_PRIMARY_FIELDS, *_PRIMARY_OPTIONAL)
                if isinstance(group.get(name), h5py.Dataset)}

    def primaries(self, events: Events = slice(None)) -> Primaries:
        """The primaries of the selected events."""
        index = _event_index(events, self.n_events)
        offsets_ds = self._file["primaries/event_offsets"]
        try:
            if isinstance(index, slice):
                offsets = offsets_ds[index.start: index.stop + 1]
                lo, hi = int(offsets[0]), int(offsets[-1])
                return Primaries(**self._primary_fields(lo, hi), event_offsets=offsets - lo)
            offsets = offsets_ds[:]
        except OSError as error:
            msg = f"{self.path}: cannot read /primaries (truncated or corrupted: {error}); {_REGENERATE}"
            raise DatasetError(msg) from error
        if index.size == 0:
            return Primaries(np.zeros(0), np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(1))
        lo, hi = int(offsets[index.min()]), int(offsets[index.max() + 1])
        block = Primaries(**self._primary_fields(lo, hi), event_offsets=offsets[index.min(): index.max() + 2] - lo)
        return block.select(index - index.min())

    def read(self, events: Events = slice(None)) -> Deposits:
        """The selected events as :class:`~calolab.sim.events.Deposits`."""
        return Deposits(
            primaries=self.primaries(events),
            active={name: self.energy(name, events) for name in self.sections},
            passive={name: self.passive_energy(name, events) for name in self.sections},
            leakage=self.leakage(events),
            engine=str(self._attrs["engine"]),
            engine_version=str(self._attrs["engine_version"]),
            extra={key: self._rows(self._file[f"truth/{key}"], events) for key in self.extra_keys()},
        )

    def iter_chunks(self, chunk: int = 1024) -> Iterator[slice]:
        """Consecutive event slices of at most ``chunk`` events covering the file."""
        if chunk < 1:
            msg = f"chunk must be >= 1 event, got {chunk}"
            raise ConfigError(msg)
        for start in range(0, self.n_events, chunk):
            yield slice(start, min(start + chunk, self.n_events))

    def layer_means(self, section: str, chunk: int = 1024) -> np.ndarray:
        """Mean active energy per layer over all events, MeV, ``(layers,)`` float64 (NaN if no events).

        Reads ``chunk`` events at a time, so it works on files larger than memory.
        """
        total = np.zeros(self.shape(section)[0])
        for part in self.iter_chunks(chunk):
            total += self.energy(section, part).sum(axis=(0, 2, 3), dtype=np.float64)
        return total / self.n_events if self.n_events else np.full_like(total, np.nan)

    def event_totals(self, chunk: int = 1024) -> np.ndarray:
        """Active energy per event summed over all sections, MeV, ``(N,)`` float64, read chunkwise."""
        totals = np.zeros(self.n_events)
        for part in self.iter_chunks(chunk):
            for name in self.sections:
                totals[part] += self.energy(name, part).sum(axis=(1, 2, 3), dtype=np.float64)
        return totals

    # ------------------------------------------------------------ protocol

    def close(self) -> None:
        """Close the HDF5 file."""
        self._file.close()

    def __enter__(self) -> ShowerFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __len__(self) -> int:
        return self.n_events

    def __repr__(self) -> str:
        return f"ShowerFile({str(self.path)!r}, n_events={self.n_events}, sections={self.sections})"


def open_dataset(path: str | os.PathLike[str]) -> ShowerFile:
    """Open a calolab shower file for reading (see :class:`ShowerFile`)."""
    return ShowerFile(path)


def summarize(showers: ShowerFile, chunk: int = 1024) -> dict[str, Any]:
    """A JSON-able summary of a shower file: metadata, sections, per-layer means and totals.

    Energies in MeV, lengths in mm. Cell sizes are ``None`` when the stored detector cannot be
    rebuilt (e.g. a detector file from another calolab version).

    Args:
        showers: an open shower file.
        chunk: events read at a time.
    """
    meta = showers.metadata
    cell_sizes: dict[str, tuple[float, float] | None] = dict.fromkeys(showers.sections)
    detector_error = None
    try:
        detector = showers.detector
        for section in detector.sections:
            cell_sizes[section.name] = (float(section.cell_size_x), float(section.cell_size_y))
    except (CalolabError, ImportError) as error:  # the summary still shows what the file holds
        detector_error = str(error)
    totals = showers.event_totals(chunk)
    leak_sum = np.zeros(len(LEAKAGE_COLUMNS))
    for part in showers.iter_chunks(chunk):
        leak_sum += showers.leakage(part).sum(axis=0, dtype=np.float64)
    n = showers.n_events
    extra = {key: value for key, value in meta.items() if key not in _WRITER_ATTRS}
    return {
        "path": str(showers.path),
        "n_events": n,
        "detector": showers.detector_name,
        "detector_error": detector_error,
        "engine": meta["engine"],
        "engine_version": meta["engine_version"],
        "seed": meta["seed"],
        "created": meta["created"],
        "calolab_version": meta["calolab_version"],
        "software": meta.get(SOFTWARE_ATTR),
        "format_version": meta["format_version"],
        "gun": meta["gun"],
        "attrs": {key: value.tolist() if isinstance(value, np.ndarray) else value
                  for key, value in extra.items()},
        "sections": {
            name: {
                "shape": list(showers.shape(name)),
                "cell_size": None if (size := cell_sizes[name]) is None else list(size),
                "layer_means": showers.layer_means(name, chunk).tolist(),
            }
            for name in showers.sections
        },
        "totals": {
            "active_mean": float(totals.mean()) if n else None,
            "active_std": float(totals.std()) if n else None,
            "leakage_mean": {column: float(value / n) if n else None
                             for column, value in zip(LEAKAGE_COLUMNS, leak_sum, strict=True)},
        },
    }
