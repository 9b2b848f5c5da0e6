"""Digitise an existing shower file: a new file = the input + ``/sections/<NAME>/digitized``.

The input is never modified: everything it holds (raw energies, truth, primaries, attributes) is
copied into the output, which appears only when complete (see :mod:`calolab.data.atomic`). A
digitised signal already in the input is replaced. The events are digitised ``chunk`` at a
time; chunk ``k`` draws from ``SeedSequence(seed, spawn_key=(k,))``, so the same seed and chunk
size give the same file::

    >>> result = digitize_file("run.h5", "run-digi.h5", seed=1, overrides={"noise_mev": 40})  # doctest: +SKIP
    >>> result.describe()                                                                     # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from calolab.data.atomic import atomic_path
from calolab.data.showerfile import DIGITIZED_DESCRIPTION, ShowerFile, _compression_options
from calolab.errors import DatasetError

__all__ = ["DEFAULT_DIGITIZE_CHUNK", "DigitizeResult", "digitize_file"]

#: events digitised at a time (it also fixes which random numbers each event gets)
DEFAULT_DIGITIZE_CHUNK = 256
_BLOSC_FILTER = 32001  # the registered HDF5 filter id of Blosc (hdf5plugin)


@dataclass(frozen=True)
class DigitizeResult:
    """What :func:`digitize_file` wrote.

    Attributes:
        path: the output file.
        n_events: events digitised.
        seed: the seed used.
        readout: section -> settings used (sampling fraction resolved).
        raw_mean: section -> mean raw active energy per event, MeV.
        digitized_mean: section -> mean digitised signal per event, MeV (incident-energy scale).
        cells_kept: section -> fraction of cells with a non-zero signal.
    """

    path: Path
    n_events: int
    seed: int
    readout: dict[str, dict[str, Any]]
    raw_mean: dict[str, float] = field(default_factory=dict)
    digitized_mean: dict[str, float] = field(default_factory=dict)
    cells_kept: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        """One summary line."""
        parts = [f"{name}: {self.digitized_mean[name] / 1e3:.4g} GeV per event "
                 f"(raw active {self.raw_mean[name] / 1e3:.4g} GeV, sampling fraction "
                 f"{self.readout[name]['sampling_fraction']:.4g}), {self.cells_kept[name] * 100:.3g}% of cells non-zero"
                 for name in self.readout]
        return f"digitized {self.n_events} events into {self.path} (seed {self.seed}); " + "; ".join(parts)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _compression_of(dataset: h5py.Dataset) -> dict[str, Any]:
    """The compression options of ``dataset``, to give its sibling the same."""
    if dataset.compression == "gzip":
        return _compression_options("gzip")
    plist = dataset.id.get_create_plist()
    if _BLOSC_FILTER in {plist.get_filter(i)[0] for i in range(plist.get_nfilters())}:
        return _compression_options("blosc")
    return {}


def _copy_without_digitized(source: h5py.File, target: h5py.File) -> None:
    for key, value in source.attrs.items():
        target.attrs[key] = value
    for key, item in source.items():
        if key != "sections":
            source.copy(item, target, name=key)
            continue
        sections = target.create_group("sections", track_order=True)
        for name, group in item.items():
            copy = sections.create_group(name, track_order=True)
            for attr, value in group.attrs.items():
                if attr != "readout":
                    copy.attrs[attr] = value
            for child, obj in group.items():
                if child != "digitized":
                    group.copy(obj, copy, name=child)


def digitize_file(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    sampling_fractions: Mapping[str, float] | None = None,
    overwrite: bool = False,
    chunk: int = DEFAULT_DIGITIZE_CHUNK,
    on_chunk: Callable[[int], None] | None = None,
) -> DigitizeResult:
    """Write ``output``: a copy of the shower file ``source`` with its digitised signal added.

    The readout is the one configured in the detector stored in ``source`` (its
    ``[sections.readout]`` tables), with ``overrides`` applied to every section; sampling
    sections without a sampling fraction are calibrated by simulation first.

    Args:
        source: the shower file to digitise (read only).
        output: the new file; never ``source`` itself.
        seed: seed of the photostatistics and noise; ``None`` draws one (stored in the file).
        overrides: readout field -> value for every section (``{"noise_mev": 40, "threshold_mev": 100}``).
        sampling_fractions: section -> sampling fraction, taking precedence over the detector's.
        overwrite: replace an existing ``output``.
        chunk: events digitised at a time, >= 1 (with the seed it fixes the random numbers).
        on_chunk: called with the number of events of each chunk once it is written (progress bars).

    Raises:
        DatasetError: ``source`` is missing or invalid, ``output`` is ``source``, exists (without
            ``overwrite``), or its folder is missing.
        ConfigError: a bad override (naming the field), or ``chunk < 1``.
    """
    from calolab.detector.readout import Readout
    from calolab.errors import ConfigError
    from calolab.sim.campaign import random_seed

    source, output = Path(source), Path(output)
    if chunk < 1:
        msg = f"chunk must be >= 1 event, got {chunk}"
        raise ConfigError(msg)
    if _same_file(source, output):
        msg = f"the output {output} is the input file: give another -o (the input is never modified)"
        raise DatasetError(msg)
    if output.is_dir():
        msg = f"{output} is a folder: give a file name such as {output / 'digitized.h5'}"
        raise DatasetError(msg)
    if output.exists() and not overwrite:
        msg = f"{output} already exists: choose another -o, delete it, or overwrite it (--overwrite)"
        raise DatasetError(msg)
    if seed is not None and not 0 <= int(seed) < (1 << 63):
        msg = f"the seed must be an integer in [0, 2**63), got {seed}"
        raise ConfigError(msg)
    seed = random_seed() if seed is None else int(seed)
    with ShowerFile(source) as showers:
        readout = Readout.from_detector(showers.detector, overrides=overrides, sampling_fractions=sampling_fractions)
        settings = readout.to_dict()
        raw = dict.fromkeys(showers.sections, 0.0)
        signal = dict.fromkeys(showers.sections, 0.0)
        kept = dict.fromkeys(showers.sections, 0)
        with atomic_path(output) as temporary, h5py.File(temporary, "w", track_order=True) as target:
            _copy_without_digitized(showers._file, target)
            datasets = {}
            for name in showers.sections:
                energy = showers._file[f"sections/{name}/energy"]
                group = target[f"sections/{name}"]
                datasets[name] = group.create_dataset(
                    "digitized", shape=energy.shape, maxshape=(None, *energy.shape[1:]), dtype=np.float32,
                    chunks=energy.chunks, **_compression_of(energy),
                )
                datasets[name].attrs["unit"] = "MeV"
                datasets[name].attrs["description"] = DIGITIZED_DESCRIPTION
                datasets[name].attrs["readout"] = json.dumps(settings[name])
                datasets[name].attrs["seed"] = seed
                group.attrs["readout"] = json.dumps(settings[name])
            target.attrs["readout"] = json.dumps(settings)
            target.attrs["digitize_seed"] = seed
            target.attrs["digitize_chunk"] = chunk
            target.attrs["digitize_seeding"] = "SeedSequence(digitize_seed, spawn_key=(chunk index,))"
            target.attrs["digitize_source"] = source.name
            for k, part in enumerate(showers.iter_chunks(chunk)):
                active = {name: showers.energy(name, part) for name in showers.sections}
                rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,)))
                hits = readout.digitize_arrays(active, rng)
                for name, array in hits.energy.items():
                    datasets[name][part] = array
                    raw[name] += float(active[name].sum(dtype=np.float64))
                    signal[name] += float(array.sum(dtype=np.float64))
                    kept[name] += int(np.count_nonzero(array))
                if on_chunk is not None:
                    on_chunk(part.stop - part.start)
        n = showers.n_events
        cells = {name: n * int(np.prod(showers.shape(name))) for name in showers.sections}
    return DigitizeResult(
        path=output, n_events=n, seed=seed, readout=settings,
        raw_mean={name: raw[name] / n if n else 0.0 for name in raw},
        digitized_mean={name: signal[name] / n if n else 0.0 for name in signal},
        cells_kept={name: kept[name] / cells[name] if cells[name] else 0.0 for name in kept},
    )
