"""The CaloChallenge 2022 HDF5 layout: its (r, alpha) binning in calolab terms, writing and reading.

The Fast Calorimeter Simulation Challenge 2022 (arXiv:2410.21611; its homepage and the binning
files ``binning_dataset_*.xml`` of github.com/CaloChallenge/homepage, read for this module) ships
one flat HDF5 group per file, ``N`` events::

    incident_energies  (N, 1)         energy of the incoming particle, MeV
    showers            (N, n_voxels)  deposited energy per voxel, MeV, flattened

**Geometry.** Concentric cylinders around the particle's axis (z): the detector is cut along z
into layers, each layer into ``n_r`` radial bins (edges in mm) and ``n_alpha`` equal bins of the
angle alpha about the axis. A layer whose XML ``r_edges`` is the single value ``"0"`` has no
voxels (dataset 1 keeps only some ATLAS samplings) and is absent from ``showers``.

**Flattening order** (the challenge README: "radial bins, angular bins, layer"): r fastest, then
alpha, then layer. Voxel ``(layer k, alpha bin j, r bin i)`` of a layer with ``n_r`` radial bins is
column ``offset[k] + j * n_r + i``; a uniform binning's ``showers.reshape(N, layers, n_alpha, n_r)``
is therefore its natural shape, and :meth:`CaloChallengeBinning.unflatten` returns
``(N, layers, n_r, n_alpha)``.

**Alpha.** Bin ``j`` spans ``[-pi + j * 2pi/n_alpha, -pi + (j+1) * 2pi/n_alpha)`` with
``alpha = atan2(y, x)`` (the challenge's XMLHandler: bin centres of ``linspace(-pi, pi, n+1)``,
voxel position ``x = r cos(alpha)``, ``y = r sin(alpha)``, its "eta" and "phi" axes). calolab
maps its local ``x`` and ``y`` (:mod:`calolab.detector.geometry`) onto these ``x`` and ``y``.

**The datasets** (built in as :data:`BUILTIN_BINNINGS`; the XML files, read):

=================  ==============================================================  ========
name               layers x r x alpha                                              voxels
=================  ==============================================================  ========
dataset1-photons   ATLAS samplings 0, 1, 2, 3, 12 (pid 22): 8x1, 16x10, 19x10,      368
                   5x1, 5x1; r up to 600 / 200 / 400 / 600 / 2000 mm
dataset1-pions     samplings 0, 1, 2, 3, 12, 13, 14 (pid 211): 8x1, 10x10, 10x10,   533
                   5x1, 15x10, 16x10, 10x1
dataset2           45 layers x 9 r (0-41.85 mm, 4.65 mm wide) x 16 alpha (e-)      6480
dataset3           45 layers x 18 r (0-41.85 mm, 2.325 mm wide) x 50 alpha (e-)    40500
=================  ==============================================================  ========

The radial bins of datasets 2 and 3 are 0.5 and 0.25 Moliere radii of tungsten (R_M = 9.327 mm,
PDG; REFERENCES.md). Datasets 2 and 3 were made with the Geant4 Par04 example, a cylinder of
Si-W layers; :func:`calochallenge_detector` gives a calolab :class:`Calorimeter` with their layer
count and a square cell grid covering the binning, whose stack (1.4 mm W + 0.3 mm Si per layer)
is quoted from memory of the challenge paper [M], not checked.

calolab adds root attributes to the files it writes (``calolab_format = "calolab-calochallenge"``,
``binning`` (the XML text), ``binning_name``, ``calolab_version``, ``created``); readers of the public
files ignore them. calolab cell arrays on a Cartesian grid are converted in
:mod:`calolab.data.formats.polar` and :mod:`calolab.data.convert`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from calolab import __version__
from calolab.data.atomic import atomic_path, check_output
from calolab.data.formats.calochallenge_binning import (
    BUILTIN_BINNINGS,
    CaloChallengeBinning,
    LayerBinning,
    calochallenge_detector,
)
from calolab.data.hdf5 import decode_attribute, open_hdf5
from calolab.errors import ConfigError, DatasetError

__all__ = [
    "BUILTIN_BINNINGS",
    "CALOCHALLENGE_FORMAT",
    "CaloChallengeBinning",
    "CaloChallengeData",
    "CaloChallengeWriter",
    "LayerBinning",
    "calochallenge_detector",
    "read_calochallenge",
    "write_calochallenge",
]

#: Value of the root ``calolab_format`` attribute of CaloChallenge files written by calolab.
CALOCHALLENGE_FORMAT = "calolab-calochallenge"

_FIX = "copy it again, or regenerate it (calolab convert ... --to calochallenge)"


# ---------------------------------------------------------------- writing


def _compression(compression: str | None) -> dict[str, Any]:
    if compression in (None, "none"):
        return {}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if compression == "lzf":
        return {"compression": "lzf", "shuffle": True}
    msg = f"unknown compression {compression!r} for a CaloChallenge file: choose 'gzip' (as the challenge), 'lzf', None"
    raise ConfigError(msg)


def _check_output(path: Path, overwrite: bool) -> None:
    check_output(path, overwrite, "showers_calochallenge.h5")


def _float_array(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32 if what == "showers" else np.float64)
    return array


class CaloChallengeWriter:
    """Appends events to an open HDF5 file in the CaloChallenge layout (resizable along N).

    Args:
        file: an HDF5 file open for writing (the caller makes it atomic, e.g. with
            :func:`~calolab.data.atomic.atomic_path`).
        binning: the geometry; its XML is stored in the ``binning`` root attribute.
        shower_dtype, energy_dtype: stored dtypes (the public files: float32 / float64 [M]).
        compression: ``"gzip"`` (default), ``"lzf"`` or ``None``.
        attrs: extra root attributes (str or numbers).
    """

    def __init__(self, file: h5py.File, binning: CaloChallengeBinning, *, shower_dtype: Any = np.float32,
                 energy_dtype: Any = np.float64, compression: str | None = "gzip",
                 attrs: Mapping[str, Any] | None = None) -> None:
        options = _compression(compression)
        self.file = file
        self.binning = binning
        self.n_events = 0
        file.attrs["calolab_format"] = CALOCHALLENGE_FORMAT
        file.attrs["calolab_version"] = __version__
        file.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        file.attrs["binning_name"] = binning.name
        file.attrs["binning"] = binning.to_xml()
        file.attrs["voxel_order"] = "r fastest, then alpha (from -pi), then layer"
        for key, value in (attrs or {}).items():
            file.attrs[key] = value
        row_bytes = binning.n_voxels * np.dtype(shower_dtype).itemsize
        chunk = max(1, min(1024, (1 << 20) // row_bytes))
        self.energies = file.create_dataset("incident_energies", shape=(0, 1), maxshape=(None, 1), dtype=energy_dtype,
                                            chunks=(max(chunk, 256), 1), **options)
        self.energies.attrs["unit"] = "MeV"
        self.showers = file.create_dataset("showers", shape=(0, binning.n_voxels), maxshape=(None, binning.n_voxels),
                                           dtype=shower_dtype, chunks=(chunk, binning.n_voxels), **options)
        self.showers.attrs["unit"] = "MeV"

    def append(self, incident_energies: np.ndarray, showers: np.ndarray) -> None:
        """Add ``(N,)`` or ``(N, 1)`` incident energies (MeV) and ``(N, n_voxels)`` showers (MeV).

        Raises:
            DatasetError: shapes that disagree with each other or the binning, non-finite energies.
        """
        energies = _float_array(incident_energies, "incident_energies")
        flat = self.binning.check_showers(_float_array(showers, "showers"))
        if energies.ndim == 2 and energies.shape[1] == 1:
            energies = energies[:, 0]
        if energies.ndim != 1 or energies.shape[0] != flat.shape[0]:
            msg = (f"incident_energies has shape {np.shape(incident_energies)} but showers has {flat.shape[0]} rows: "
                   f"give one energy (MeV) per shower")
            raise DatasetError(msg)
        if not np.all(np.isfinite(energies)):
            msg = "incident_energies has NaN or infinite values: give finite energies in MeV"
            raise DatasetError(msg)
        n, start = flat.shape[0], self.n_events
        self.energies.resize(start + n, axis=0)
        self.energies[start:] = energies[:, None]
        self.showers.resize(start + n, axis=0)
        self.showers[start:] = flat
        self.n_events += n
        self.file.attrs["n_events"] = self.n_events


def write_calochallenge(
    path: str | os.PathLike[str],
    incident_energies: np.ndarray,
    showers: np.ndarray,
    binning: CaloChallengeBinning | str,
    *,
    compression: str | None = "gzip",
    attrs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write showers in the CaloChallenge layout, atomically (nothing appears at ``path`` on failure).

    Args:
        path: the ``.h5`` file.
        incident_energies: ``(N,)`` or ``(N, 1)`` energy of the incoming particle, MeV.
        showers: ``(N, n_voxels)`` in file order, or ``(N, layers, n_r, n_alpha)`` (flattened with
            :meth:`CaloChallengeBinning.flatten`), MeV. Floating dtypes are stored as given, so a
            write/read round trip is bit-exact.
        binning: a :class:`CaloChallengeBinning`, a built-in name or an XML path.
        compression: ``"gzip"`` (level 4 + shuffle), ``"lzf"`` or ``None``.
        attrs: extra root attributes.
        overwrite: replace an existing file.

    Returns:
        the path written.

    Raises:
        DatasetError: the output exists (without ``overwrite``), is a folder or its folder is missing;
            the shapes do not match the binning or each other.
        ConfigError: an unknown binning or compression.
    """
    target = Path(path)
    _check_output(target, overwrite)
    binning = CaloChallengeBinning.resolve(binning)
    flat = _float_array(showers, "showers")
    if flat.ndim == 4:
        flat = binning.flatten(flat)
    energies = _float_array(incident_energies, "incident_energies")
    with atomic_path(target) as temporary, h5py.File(temporary, "w") as f:
        writer = CaloChallengeWriter(f, binning, shower_dtype=flat.dtype, energy_dtype=energies.dtype,
                                     compression=compression, attrs=attrs)
        writer.append(energies, flat)
    return target


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class CaloChallengeData:
    """The contents of a CaloChallenge file.

    Attributes:
        incident_energies: ``(N,)`` energy of the incoming particle, MeV (dtype as stored).
        showers: ``(N, n_voxels)`` voxel energies in file order, MeV (dtype as stored).
        binning: the geometry the showers were read with.
        attrs: root attributes of the file.
    """

    incident_energies: np.ndarray
    showers: np.ndarray
    binning: CaloChallengeBinning
    attrs: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.showers.shape[0])

    def voxels(self) -> np.ndarray:
        """``(N, layers, n_r, n_alpha)`` (uniform binnings; see :meth:`CaloChallengeBinning.unflatten`)."""
        return self.binning.unflatten(self.showers)

    def layer(self, k: int) -> np.ndarray:
        """``(N, n_r, n_alpha)`` voxels of layer ``k`` (0-based among the layers with voxels)."""
        layer = self.binning.layers[k]
        return np.swapaxes(self.showers[:, self.binning.layer_slice(k)].reshape(len(self), layer.n_alpha, layer.n_r),
                           1, 2)

    def layer_energies(self) -> np.ndarray:
        """``(N, layers)`` energy per layer, MeV (float64)."""
        return np.stack([self.showers[:, self.binning.layer_slice(k)].sum(axis=1, dtype=np.float64)
                         for k in range(self.binning.n_layers)], axis=1)


def _pick_binning(path: Path, n_voxels: int, binning: CaloChallengeBinning | str | None,
                  attrs: Mapping[str, Any]) -> CaloChallengeBinning:
    options = ", ".join(f"{b.name} ({b.n_voxels})" for b in BUILTIN_BINNINGS.values())
    if binning is not None:
        chosen = CaloChallengeBinning.resolve(binning)
        if chosen.n_voxels != n_voxels:
            names = [b.name for b in CaloChallengeBinning.matching(n_voxels)]
            hint = f"give --binning {names[0]}" if names else "give the binning .xml the file was made with"
            msg = (f"{path}: showers have {n_voxels} voxels but binning {chosen.name!r} has {chosen.n_voxels}: "
                   f"{hint} (built in: {options})")
            raise DatasetError(msg)
        return chosen
    stored = attrs.get("binning")
    if isinstance(stored, str) and stored.strip():
        try:
            parsed: CaloChallengeBinning | None = CaloChallengeBinning.from_xml(stored)
        except ConfigError:
            parsed = None
        if parsed is not None and parsed.n_voxels == n_voxels:
            name = attrs.get("binning_name")
            if isinstance(name, str) and name:
                return CaloChallengeBinning(name, parsed.layers, parsed.particle, parsed.pdg, parsed.empty_layers)
            return parsed
    matches = CaloChallengeBinning.matching(n_voxels)
    if len(matches) == 1:
        return matches[0]
    msg = (f"{path}: showers have {n_voxels} voxels, which match no built-in CaloChallenge binning ({options}): "
           f"give the binning .xml the file was made with (--binning FILE.xml)")
    raise DatasetError(msg)


def read_calochallenge(path: str | os.PathLike[str], binning: CaloChallengeBinning | str | None = None,
                       events: slice | None = None) -> CaloChallengeData:
    """Read a CaloChallenge file (public or calolab-written).

    Args:
        path: the ``.h5`` / ``.hdf5`` file.
        binning: its geometry; ``None`` = the binning stored by calolab, else the built-in binning
            with the file's voxel count (368, 533, 6480, 40500).
        events: a slice of events (all by default).

    Returns:
        a :class:`CaloChallengeData` (arrays as stored: bit-exact).

    Raises:
        DatasetError: the file is missing, not HDF5, truncated, a calolab shower file, lacks
            ``incident_energies`` or ``showers``, has inconsistent shapes, or a voxel count that
            matches no (or not the given) binning.
    """
    path = Path(path)
    selection = slice(None) if events is None else events
    if not isinstance(selection, slice):
        msg = f"events = {events!r}: give a slice such as slice(0, 100)"
        raise DatasetError(msg)
    with open_hdf5(path, "CaloChallenge file", _FIX, "check the path") as f:
        try:
            attrs = {key: decode_attribute(f.attrs[key]) for key in f.attrs}
            names = sorted(f.keys())
        except OSError as error:
            msg = f"{path}: cannot read the file index (truncated or corrupted: {error}); {_FIX}"
            raise DatasetError(msg) from error
        if attrs.get("format") == "calolab-showers":
            msg = (f"{path} is a calolab shower file, not a CaloChallenge file: convert it with "
                   f"'calolab convert {path} -o OUT.h5 --to calochallenge'")
            raise DatasetError(msg)
        missing = [name for name in ("incident_energies", "showers") if not isinstance(f.get(name), h5py.Dataset)]
        if missing:
            msg = (f"{path} is not a CaloChallenge file: no {' or '.join(repr(m) for m in missing)} dataset "
                   f"(top-level entries {names}); the layout is incident_energies (N, 1) and showers (N, voxels)")
            raise DatasetError(msg)
        energies_ds, showers_ds = f["incident_energies"], f["showers"]
        if showers_ds.ndim != 2:
            msg = f"{path}: showers has shape {showers_ds.shape}; the layout needs (N, voxels)"
            raise DatasetError(msg)
        if not (energies_ds.ndim == 1 or (energies_ds.ndim == 2 and energies_ds.shape[1] == 1)) \
                or energies_ds.shape[0] != showers_ds.shape[0]:
            msg = (f"{path}: incident_energies has shape {energies_ds.shape} but showers {showers_ds.shape}: "
                   f"one energy per shower, (N, 1); {_FIX}")
            raise DatasetError(msg)
        chosen = _pick_binning(path, int(showers_ds.shape[1]), binning, attrs)
        try:
            showers = np.asarray(showers_ds[selection])
            energies = np.asarray(energies_ds[selection]).reshape(-1)
        except OSError as error:
            msg = f"{path}: cannot read the datasets (truncated or corrupted: {error}); {_FIX}"
            raise DatasetError(msg) from error
    return CaloChallengeData(incident_energies=energies, showers=showers, binning=chosen, attrs=attrs)
