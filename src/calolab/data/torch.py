"""Shower files as torch datasets: cell tensors, scalar inputs and reconstruction targets.

I/O stays in :mod:`calolab.data.showerfile`; this module reads the arrays once (chunk by chunk, into
preallocated float32 arrays) and wraps them. One event gives::

    cells[section]  (1, layers, y, x) float32  channels-first, GeV after the optional cell transform
    scalars         (S,) float32   standardised: total energy per section (GeV) [+ layer fractions]
                                   [+ shower-shape features] [+ seed-cell x, y (mm)]
    energy          ()  float32    standardised target: log(E / GeV) (default) or E / GeV
    label           ()  int64      index of the event's PDG code in the class list (-1: not in it)
    position        (2,) float32   standardised impact point x, y (mm; relative to the window's seed cell)
    photons         (2, 3) float32 standardised (x, y, E / GeV) of the event's first two photons (overlaps)
    start           (2, 3) float32 the two-seed split's photons, standardised as ``photons`` (``start_from``)

The standardisation (:class:`Standardizer`) is fitted on the training split only and travels with the
model, so predictions on another file use the training statistics.

Indexing a :class:`ShowerDataset` with an index array returns a whole batch at once; the data module's
loaders use that (``batch_size=None`` with a batch sampler), which is much faster than collating events.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from calolab.data.augment import Augmentation, GridSymmetry, check_augmentation
from calolab.data.pid_classes import check_merged_classes, class_labels, infer_classes
from calolab.errors import ConfigError, DatasetError

__all__ = [
    "DataConfig",
    "ShowerArrays",
    "Standardizer",
    "ShowerDataset",
    "ShowerDataModule",
    "load_showers",
    "ChunkVisitor",
    "split_indices",
    "apply_cell_transform",
]

GEV = 1000.0  # MeV per GeV
MIN_ENERGY_SUM = 1e-3  # GeV: the floor of an event's summed energy for the ``ratio`` energy target
TARGET_KEYS = ("energy", "position", "photons")
_STANDARDISED_AS = {"start": "photons"}  # the two-seed start is standardised with the photons' statistics


class DataConfig(BaseModel):
    """How shower files become tensors.

    Attributes:
        signal: ``"raw"`` active energy or ``"digitized"`` readout signal (``calolab digitize``).
        cell_transform: ``"none"``, ``"log1p"``, ``"fraction"`` (each event's cells over their sum) or
            ``"power:0.85"`` (E^0.85 on GeV cells).
        energy_target: train on ``"log"`` (log E/GeV), ``"linear"`` (E/GeV) or ``"ratio"`` (log of E over
            the summed cell energy of all sections: the network learns the calibration and leakage factor,
            as the trees' ratio target does; two-photon targets become each photon's share of that sum),
            then standardised.
        classes: PDG codes of the PID classes in order; ``None`` infers them (sorted) from the data.
        merge_antiparticles: a particle and its antiparticle make one PID class, named by the positive code
            ``|pdg|`` (e- and e+ are class 11, pi+ and pi- class 211): "e vs pi+-" is learnt as two classes,
            not as e- vs pi+ vs pi-, and the network is not asked for a charge the calorimeter barely sees
            (on clic-e-pi either way gave the same AUC).
        window: crop an ``window x window`` cell window around the hottest cell of ``window_section``
            (cluster and overlap networks); the other sections enter only through their summed energies
            among the scalar inputs. ``None`` keeps every section whole.
        window_section: the section to crop (default: the first).
        position_input: add the seed cell's absolute x, y (mm) to the scalar inputs.
        layer_fractions: add each layer's share of the summed energy (every layer of every section, in file
            order; the windowed section's layers within the window) to the scalar inputs: the longitudinal
            profile the feature trees read, given to the dense layers directly. The convolution towers pool
            depth to a few bins, which cannot weight the thin and thick absorber layers of a sampling ECAL
            one by one (clic: 2.4 and 4.8 mm W). They are standardised as one block (one mean and standard
            deviation), so the deep layers few showers reach keep small values.
        feature_inputs: add the shower-shape features of :func:`calolab.features.compute_features` (the feature
            BDT's table: energies, ratios, moments, widths, R9, cell counts, per-layer energies of every section,
            whole, from the signal read) to the scalar inputs, each column standardised: a network that reads
            the cells and what the trees read. Not with a mirroring augmentation (the x-y covariance would keep
            its sign while the cells flip).
        start_from: ``"two-seed"``: the overlap network starts from the classical two-seed split
            (:func:`calolab.reco.clustering.split_two_photons` on the whole ``window_section``, before the
            window is cut) and learns corrections to it: it reads the split's two photons as inputs and
            adds its outputs to them. ``"none"`` (default): the network predicts the photons alone.
        split_profile_length: the split's lateral profile length, in cells of the section (on cms photon
            pairs 0.2 gives the narrowest core, 0.15 the smallest rms).
        max_events: read at most this many events per file.
        chunk: events read at a time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: Literal["raw", "digitized"] = "raw"
    cell_transform: str = "none"
    energy_target: Literal["log", "linear", "ratio"] = "log"
    classes: tuple[int, ...] | None = None
    merge_antiparticles: bool = False
    window: int | None = Field(default=None, ge=1)
    window_section: str | None = None
    position_input: bool = False
    layer_fractions: bool = False
    feature_inputs: bool = False
    start_from: Literal["none", "two-seed"] = "none"
    split_profile_length: float = Field(default=0.2, gt=0)
    max_events: int | None = Field(default=None, ge=1)
    chunk: int = Field(default=4096, ge=1)

    @field_validator("cell_transform")
    @classmethod
    def _known_transform(cls, value: str) -> str:
        parse_cell_transform(value)
        return value

    @model_validator(mode="after")
    def _positive_classes_when_merged(self) -> DataConfig:
        check_merged_classes(self.classes, self.merge_antiparticles)
        return self


def parse_cell_transform(text: str) -> tuple[str, float]:
    """``"none"`` / ``"log1p"`` / ``"fraction"`` / ``"power:P"`` -> (kind, exponent)."""
    if text in ("none", "log1p", "fraction"):
        return text, 1.0
    if text.startswith("power:"):
        try:
            exponent = float(text.split(":", 1)[1])
        except ValueError:
            exponent = float("nan")
        if exponent > 0:
            return "power", exponent
    msg = (f"cell_transform {text!r} is unknown: use 'none', 'log1p', 'fraction' or 'power:0.85' (a positive "
           f"exponent)")
    raise ConfigError(msg)


def apply_cell_transform(cells_gev: np.ndarray, transform: str) -> np.ndarray:
    """The cell transform applied to cell energies in GeV (in place on float32 arrays; negatives clipped to 0).

    ``fraction`` divides each event's cells ``(N, layers, y, x)`` by their sum, so the network sees the
    shower's shape whatever its energy (the sums stay among the scalar inputs).
    """
    kind, exponent = parse_cell_transform(transform)
    if kind == "none":
        return cells_gev
    np.maximum(cells_gev, 0.0, out=cells_gev)
    if kind == "log1p":
        return np.log1p(cells_gev, out=cells_gev)
    if kind == "fraction":
        total = cells_gev.sum(axis=tuple(range(1, cells_gev.ndim)), dtype=np.float64, keepdims=True)
        return np.divide(cells_gev, np.maximum(total, 1e-12).astype(np.float32), out=cells_gev)
    return np.power(cells_gev, exponent, out=cells_gev)


@dataclass
class ShowerArrays:
    """Everything the networks need of ``N`` events, in memory.

    Attributes:
        cells: section -> ``(N, layers, y, x)`` float32, GeV after the cell transform.
        totals: ``(N, sections)`` float32, GeV: summed cell energy of each section of the file, in file order
            (before the transform; the windowed section's is the window's sum, the others' are whole).
        seed: ``(N, 2)`` float64, mm: centre of the window's seed cell (zeros without a window).
        truth: per-event truth: ``energy`` (MeV), ``pdg``, ``position`` (N, 2) mm, ``theta`` rad,
            ``photon_position`` (N, 2, 2) mm and ``photon_energy`` (N, 2) MeV (first two transported
            particles, by falling energy; NaN when absent), and the file's 1-d ``/truth`` arrays.
        cell_sizes: section -> cell pitch ``(x, y)``, mm, where known (what :mod:`calolab.data.augment` checks).
        start: ``(N, 2, 3)`` the two-seed split's photons ``[x mm, y mm, E MeV]`` (absolute positions,
            deposited energies, by falling energy), or ``None`` (``DataConfig.start_from``).
        layers: ``(N, layers)`` float32, GeV: summed cell energy of each layer of each section (as ``totals``),
            or ``None`` (``DataConfig.layer_fractions``).
        features: ``(N, F)`` float32, the shower-shape features (units of :mod:`calolab.features`), or ``None``
            (``DataConfig.feature_inputs``).
    """

    cells: dict[str, np.ndarray]
    totals: np.ndarray
    seed: np.ndarray
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    cell_sizes: dict[str, tuple[float, float]] = field(default_factory=dict)
    start: np.ndarray | None = None
    layers: np.ndarray | None = None
    features: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.totals.shape[0])

    @property
    def shapes(self) -> dict[str, tuple[int, int, int]]:
        """Section -> ``(layers, y, x)``."""
        return {name: tuple(array.shape[1:]) for name, array in self.cells.items()}  # type: ignore[misc]

    def scalars(self, position_input: bool, layer_fractions: bool = False, feature_inputs: bool = False,
                ) -> np.ndarray:
        """Unstandardised scalar inputs ``(N, S)``: totals (GeV) [+ layer fractions] [+ features] [+ seed x, y (mm)].

        Raises:
            DatasetError: ``layer_fractions`` or ``feature_inputs`` asked of arrays read without them.
        """
        parts = [self.totals.astype(np.float64)]
        if layer_fractions:
            if self.layers is None:
                msg = "these events were read without layer energies: read them with DataConfig(layer_fractions=True)"
                raise DatasetError(msg)
            parts.append(self.layers / self.energy_sum()[:, None])
        if feature_inputs:
            if self.features is None:
                msg = "these events were read without features: read them with DataConfig(feature_inputs=True)"
                raise DatasetError(msg)
            parts.append(self.features.astype(np.float64))
        if position_input:  # last: the mirroring augmentation moves the last two columns
            parts.append(self.seed)
        return np.concatenate(parts, axis=1)

    def layer_columns(self) -> slice:
        """Where the layer fractions sit among the scalar inputs (after the totals)."""
        n_layers = 0 if self.layers is None else self.layers.shape[1]
        return slice(self.totals.shape[1], self.totals.shape[1] + n_layers)

    def energy_sum(self) -> np.ndarray:
        """``(N,)`` GeV: the summed cell energy of all sections (at least 1 MeV, the ``ratio`` target's scale)."""
        return np.maximum(self.totals.sum(axis=1, dtype=np.float64), MIN_ENERGY_SUM)

    def targets(self, energy_target: str) -> dict[str, np.ndarray]:
        """Unstandardised regression targets (float64): energy, position (relative to the seed), photons."""
        energy = np.maximum(self.truth["energy"] / GEV, 1e-6)
        if energy_target == "ratio":
            energy_value = np.log(energy / self.energy_sum())
        else:
            energy_value = np.log(energy) if energy_target == "log" else energy
        return {
            "energy": energy_value,
            "position": self.truth["position"] - self.seed,
            "photons": self._photon_targets(self.truth["photon_position"], self.truth["photon_energy"], energy_target),
        }

    def start_targets(self, energy_target: str) -> np.ndarray:
        """``(N, 2, 3)`` the two-seed split's photons in the units of the ``photons`` target.

        Raises:
            DatasetError: the arrays were read without ``start_from``.
        """
        if self.start is None:
            msg = "these events were read without a two-seed start: read them with DataConfig(start_from='two-seed')"
            raise DatasetError(msg)
        return self._photon_targets(self.start[:, :, :2], self.start[:, :, 2], energy_target)

    def _photon_targets(self, position: np.ndarray, energy_mev: np.ndarray, energy_target: str) -> np.ndarray:
        """``(N, 2, 3)``: x, y relative to the seed (mm) and E / GeV (``ratio``: the share of the summed cells)."""
        energy = energy_mev / GEV
        if energy_target == "ratio":
            energy = energy / self.energy_sum()[:, None]
        return np.concatenate([position - self.seed[:, None, :], energy[..., None]], axis=2)

    def subset(self, index: np.ndarray) -> ShowerArrays:
        """The events ``index`` (an index array or a boolean mask), copied."""
        return ShowerArrays(cells={name: array[index] for name, array in self.cells.items()},
                            totals=self.totals[index], seed=self.seed[index],
                            truth={key: value[index] for key, value in self.truth.items()},
                            cell_sizes=dict(self.cell_sizes), start=None if self.start is None else self.start[index],
                            layers=None if self.layers is None else self.layers[index],
                            features=None if self.features is None else self.features[index])

    @staticmethod
    def concatenate(parts: Sequence[ShowerArrays]) -> ShowerArrays:
        shapes = {str(p.shapes) for p in parts}
        if len(shapes) != 1:
            msg = f"the shower files have different section shapes {sorted(shapes)}: train on files of one detector"
            raise DatasetError(msg)
        common = set.intersection(*(set(p.truth) for p in parts))
        return ShowerArrays(
            cells={name: np.concatenate([p.cells[name] for p in parts]) for name in parts[0].cells},
            totals=np.concatenate([p.totals for p in parts]),
            seed=np.concatenate([p.seed for p in parts]),
            truth={key: np.concatenate([p.truth[key] for p in parts]) for key in parts[0].truth if key in common},
            cell_sizes=dict(parts[0].cell_sizes),
            start=None if any(p.start is None for p in parts) else np.concatenate([p.start for p in parts]),  # type: ignore[misc]
            layers=None if any(p.layers is None for p in parts) else np.concatenate([p.layers for p in parts]),  # type: ignore[misc]
            features=None if any(p.features is None for p in parts) else np.concatenate(  # type: ignore[misc]
                [p.features for p in parts]),
        )


def _window(cells: np.ndarray, size: int, centres_x: np.ndarray, centres_y: np.ndarray,
            ) -> tuple[np.ndarray, np.ndarray]:
    """``size x size`` windows around each event's hottest (layer-summed) cell, zero-padded; seed centres (mm)."""
    n, layers, ny, nx = cells.shape
    flat = cells.sum(axis=1).reshape(n, -1)
    hottest = flat.argmax(axis=1)
    iy, ix = np.divmod(hottest, nx)
    half = size // 2
    padded = np.pad(cells, ((0, 0), (0, 0), (half, size - half - 1), (half, size - half - 1)))
    rows = iy[:, None] + np.arange(size)[None, :]  # padded coordinates: window starts at the seed index
    cols = ix[:, None] + np.arange(size)[None, :]
    out = padded[np.arange(n)[:, None, None, None], np.arange(layers)[None, :, None, None],
                 rows[:, None, :, None], cols[:, None, None, :]]
    seed = np.stack([centres_x[ix], centres_y[iy]], axis=1)
    return np.ascontiguousarray(out, dtype=np.float32), seed


#: called once per chunk read by :func:`load_showers` with (index of the file among the paths, section name ->
#: the chunk's cells as read -- MeV, ``(n, layers, y, x)``, the config's signal, before any window or
#: transform -- and the file's detector); the arrays are only valid during the call
ChunkVisitor = Callable[[int, Mapping[str, np.ndarray], Any], None]


def _read_file(path: str | os.PathLike[str], config: DataConfig, file_index: int = 0,
               on_chunk: ChunkVisitor | None = None) -> ShowerArrays:
    from calolab.data.showerfile import ShowerFile

    with ShowerFile(path) as showers:
        n = showers.n_events if config.max_events is None else min(config.max_events, showers.n_events)
        if n == 0:
            msg = f"{showers.path} has no events: simulate some first"
            raise DatasetError(msg)
        if config.signal == "digitized" and not showers.has_digitized:
            msg = (f"{showers.path} has no digitized signal (--signal digitized): run calolab digitize first, "
                   f"or train on --signal raw")
            raise DatasetError(msg)
        sections = list(showers.sections)
        centres: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if config.window is not None or config.start_from != "none":
            name = config.window_section or sections[0]
            if name not in sections:
                msg = f"window_section {name!r} is not a section of {showers.path}: choose one of {sections}"
                raise ConfigError(msg)
            section = showers.detector.section(name)
            centres[name] = (section.cell_centres_x(), section.cell_centres_y())
            split_length_mm = config.split_profile_length * 0.5 * (section.cell_size_x + section.cell_size_y)
        if config.window is not None:  # the other sections are read for their totals only
            shapes = {name: (showers.shape(name)[0], config.window, config.window)}
        else:
            shapes = {name: showers.shape(name) for name in sections}
        cells = {name: np.empty((n, *shape), dtype=np.float32) for name, shape in shapes.items()}
        totals = np.empty((n, len(sections)), dtype=np.float32)
        seed = np.zeros((n, 2))
        start_photons = np.zeros((n, 2, 3)) if config.start_from != "none" else None
        layer_offsets = np.cumsum([0] + [showers.shape(name)[0] for name in sections])
        layers = np.empty((n, layer_offsets[-1]), dtype=np.float32) if config.layer_fractions else None
        features = None
        detector = showers.detector  # rebuilt from the stored TOML at each access: once here
        for first in range(0, n, config.chunk):
            part = slice(first, min(first + config.chunk, n))
            read: dict[str, np.ndarray] = {}
            for k, name in enumerate(sections):
                raw = showers.digitized(name, part) if config.signal == "digitized" else showers.energy(name, part)
                if on_chunk is not None or config.feature_inputs:
                    read[name] = raw
                raw = raw.astype(np.float32, copy=False) / np.float32(GEV)
                if start_photons is not None and name in centres:  # the split sees the whole section
                    start_photons[part] = _two_seed_start(raw, *centres[name], split_length_mm)
                if name in centres and config.window is not None:
                    raw, seed[part] = _window(raw, config.window, *centres[name])
                totals[part, k] = raw.sum(axis=(1, 2, 3), dtype=np.float64)
                if layers is not None:
                    layers[part, layer_offsets[k]:layer_offsets[k + 1]] = raw.sum(axis=(2, 3), dtype=np.float64)
                if name in cells:
                    cells[name][part] = apply_cell_transform(raw, config.cell_transform)
            if config.feature_inputs:
                from calolab.features import features_in_chunks  # a few hundred events at a time: temporaries

                table = np.stack(list(features_in_chunks(read, detector).values()), axis=1)
                if features is None:
                    features = np.empty((n, table.shape[1]), dtype=np.float32)
                features[part] = table
            if on_chunk is not None:
                on_chunk(file_index, read, detector)
        primaries = showers.primaries(slice(0, n))
        leading = primaries.event_offsets[:-1]  # each event's first particle
        direction = primaries.direction[leading] if primaries.n_particles else np.zeros((n, 3))
        photon_position, photon_energy = primaries.leading(2)
        truth = {
            "energy": primaries.event_energy(),
            "pdg": primaries.pdg[leading].astype(np.int32),
            "position": primaries.position[leading][:, :2].copy(),
            "theta": np.arccos(np.clip(direction[:, 2], -1.0, 1.0)),
            "photon_position": photon_position,
            "photon_energy": photon_energy,
        }
        for key in showers.extra_keys():
            array = showers._rows(showers._file[f"truth/{key}"], slice(0, n))  # one /truth array, no cells
            if array.ndim == 1 and array.dtype.kind in "iuf":
                truth[key] = array
        cell_sizes = {section.name: (float(section.cell_size_x), float(section.cell_size_y))
                      for section in map(detector.section, cells)}
    return ShowerArrays(cells, totals, seed, truth, cell_sizes, start_photons, layers, features)


def _two_seed_start(cells_gev: np.ndarray, centres_x: np.ndarray, centres_y: np.ndarray, profile_length_mm: float,
                    ) -> np.ndarray:
    """``(N, 2, 3)`` ``[x mm, y mm, E MeV]`` of the two-seed split of one section's cells (GeV)."""
    from calolab.reco.clustering import split_two_photons

    position, energy = split_two_photons(cells_gev, centres_x, centres_y, profile_length=profile_length_mm)
    return np.concatenate([position, (energy * GEV)[..., None]], axis=2)


def load_showers(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                 config: DataConfig | None = None, *, on_chunk: ChunkVisitor | None = None) -> ShowerArrays:
    """Read one or more shower files into :class:`ShowerArrays` (chunk by chunk, float32 cells).

    ``on_chunk`` (:data:`ChunkVisitor`) sees every chunk's cells as read, so a caller can compute more from
    the same pass over the files (e.g. the feature table of :func:`calolab.studies.reconstruction.simulate_sample`).

    Raises:
        DatasetError: a file is missing or invalid, has no digitized signal when asked, or the files'
            sections differ.
    """
    config = config or DataConfig()
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not paths:
        msg = "no shower files given: pass at least one --data FILE.h5"
        raise ConfigError(msg)
    parts = [_read_file(path, config, k, on_chunk) for k, path in enumerate(paths)]
    return parts[0] if len(parts) == 1 else ShowerArrays.concatenate(parts)


def split_indices(n: int, seed: int, val_fraction: float = 0.15, test_fraction: float = 0.15,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test event indices: a seeded permutation cut by the fractions (each >= 1 event)."""
    if not (0 < val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        msg = (f"val_fraction = {val_fraction} and test_fraction = {test_fraction}: each must lie in [0, 1) "
               f"(validation > 0) with a sum below 1")
        raise ConfigError(msg)
    n_val, n_test = max(1, round(n * val_fraction)), round(n * test_fraction)
    if n - n_val - n_test < 1:
        msg = f"{n} events cannot be split into train/validation/test: give more events"
        raise DatasetError(msg)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val + n_test:]), np.sort(order[:n_val]), np.sort(order[n_val: n_val + n_test])


@dataclass
class Standardizer:
    """Per-column mean and standard deviation of the scalar inputs and each target; ``x' = (x - mean) / std``.

    Fitted on the training events only (:meth:`fit`); stored as plain lists (:meth:`to_dict`) inside the
    checkpoint and next to it.
    """

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]

    @classmethod
    def fit(cls, columns: Mapping[str, np.ndarray], shared: Mapping[str, slice] | None = None) -> Standardizer:
        """Fit on arrays whose first axis is events (NaN ignored; a constant column gets std 1).

        ``shared``: key -> a block of its columns standardised together, with one mean and standard deviation
        over all their values. For the layer fractions: a layer that a few showers reach would otherwise get
        a tiny standard deviation, and those showers inputs of 100 standard deviations.
        """
        mean, std = {}, {}
        for key, array in columns.items():
            array = np.asarray(array, dtype=np.float64)
            array = np.where(np.isfinite(array), array, np.nan)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column (no second photon)
                m, s = np.nanmean(array, axis=0), np.nanstd(array, axis=0)
                block = (shared or {}).get(key)
                if block is not None and array[:, block].size:
                    m[block], s[block] = np.nanmean(array[:, block]), np.nanstd(array[:, block])
            mean[key] = np.where(np.isfinite(m), m, 0.0)
            std[key] = np.where(np.isfinite(s) & (s > 1e-12), s, 1.0)
        return cls(mean, std)

    def transform(self, key: str, array: np.ndarray) -> np.ndarray:
        return (np.asarray(array, dtype=np.float64) - self.mean[key]) / self.std[key]

    def inverse(self, key: str, array: np.ndarray) -> np.ndarray:
        return np.asarray(array, dtype=np.float64) * self.std[key] + self.mean[key]

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {key: {"mean": self.mean[key].tolist(), "std": self.std[key].tolist()} for key in self.mean}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> Standardizer:
        return cls({k: np.asarray(v["mean"], dtype=np.float64) for k, v in data.items()},
                   {k: np.asarray(v["std"], dtype=np.float64) for k, v in data.items()})


class ShowerDataset(Dataset):
    """A torch dataset over :class:`ShowerArrays`, standardised with a fitted :class:`Standardizer`.

    ``dataset[i]`` gives one event (a dict of tensors, see the module docs); ``dataset[index_array]``
    a batch with a leading batch axis.

    Args:
        arrays: the events.
        standardizer: fitted on the training split (keys ``scalars``, ``energy``, ``position``, ``photons``).
        classes: PDG codes of the PID classes.
        config: the data config (energy target, position input).
        indices: the events of this split (default: all).
        augment: mirror each batch's events at random (training only; :mod:`calolab.data.augment`).
    """

    def __init__(self, arrays: ShowerArrays, standardizer: Standardizer, classes: Sequence[int],
                 config: DataConfig, indices: np.ndarray | None = None, augment: GridSymmetry | None = None) -> None:
        self.arrays = arrays
        self.indices = np.arange(len(arrays)) if indices is None else np.asarray(indices, dtype=np.int64)
        scalars = arrays.scalars(config.position_input, config.layer_fractions, config.feature_inputs)
        targets = arrays.targets(config.energy_target)
        if config.start_from != "none":  # not a target: an input the network corrects, in the photons' units
            targets["start"] = arrays.start_targets(config.energy_target)
        self.augment = augment
        if augment is None:  # standardised once
            scalars = standardizer.transform("scalars", scalars)
            targets = {key: np.nan_to_num(standardizer.transform(_STANDARDISED_AS.get(key, key), value))
                       for key, value in targets.items()}
        else:  # kept in mm and GeV: each batch is mirrored, then standardised
            self._mean = {key: torch.from_numpy(value.astype(np.float32)) for key, value in standardizer.mean.items()}
            self._std = {key: torch.from_numpy(value.astype(np.float32)) for key, value in standardizer.std.items()}
            for key, like in _STANDARDISED_AS.items():
                self._mean[key], self._std[key] = self._mean[like], self._std[like]
        self._scalars = torch.from_numpy(scalars.astype(np.float32))
        self._targets = {key: torch.from_numpy(value.astype(np.float32)) for key, value in targets.items()}
        self._labels = torch.from_numpy(class_labels(arrays.truth["pdg"], classes, config.merge_antiparticles))
        self._cells = {name: torch.from_numpy(array) for name, array in arrays.cells.items()}

    def _standardised(self, key: str, value: torch.Tensor) -> torch.Tensor:
        return torch.nan_to_num((value - self._mean[key]) / self._std[key], nan=0.0)

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, item: int | Sequence[int] | np.ndarray) -> dict[str, Any]:
        rows = torch.from_numpy(np.atleast_1d(self.indices[np.asarray(item)]))
        cells = {name: cells[rows].unsqueeze(1) for name, cells in self._cells.items()}
        scalars = self._scalars[rows]
        targets = {key: target[rows] for key, target in self._targets.items()}
        if self.augment is not None:
            cells, scalars, targets = self.augment(cells, scalars, targets)
            scalars = self._standardised("scalars", scalars)
            targets = {key: self._standardised(key, value) for key, value in targets.items()}
        batch: dict[str, Any] = {"cells": cells, "scalars": scalars, "label": self._labels[rows], "index": rows,
                                 **targets}
        if np.ndim(item) == 0:
            batch = {key: ({k: v[0] for k, v in value.items()} if isinstance(value, dict) else value[0])
                     for key, value in batch.items()}
        return batch


def batch_loader(dataset: ShowerDataset, batch_size: int, *, shuffle: bool, seed: int = 0) -> DataLoader:
    """A loader yielding whole batches from :meth:`ShowerDataset.__getitem__` (no per-event collation)."""
    generator = torch.Generator().manual_seed(seed)
    sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(sampler, batch_size, drop_last=False), batch_size=None)


class ShowerDataModule(L.LightningDataModule):
    """Train/validation/test splits of shower files, by seed, with standardisation fitted on train only.

    Args:
        paths: shower files (concatenated), or ``None`` with ``arrays`` given.
        config: how to read them.
        batch_size: events per batch.
        seed: seed of the split and of the shuffling.
        val_fraction, test_fraction: shares of the events.
        arrays: events already in memory (synthetic tests, benchmarks) instead of ``paths``.
        augment: symmetry augmentation of the training split: ``"none"``, ``"flips"`` or ``"dihedral"``
            (:mod:`calolab.data.augment`); validation and test events are never changed.

    After :meth:`setup`: ``arrays``, ``train_index``/``val_index``/``test_index``, ``standardizer``,
    ``classes`` and ``input_shapes`` (section -> (layers, y, x)) and ``n_scalars``.
    """

    def __init__(self, paths: Sequence[str | os.PathLike[str]] | None = None, config: DataConfig | None = None, *,
                 batch_size: int = 256, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15,
                 arrays: ShowerArrays | None = None, augment: Augmentation = "none") -> None:
        super().__init__()
        if (paths is None) == (arrays is None):
            msg = "give either shower file paths or in-memory arrays to ShowerDataModule"
            raise ConfigError(msg)
        if batch_size < 1:
            msg = f"batch_size = {batch_size}: give at least 1"
            raise ConfigError(msg)
        self.paths = list(paths or [])
        self.config = config or DataConfig()
        self.batch_size = batch_size
        self.seed = seed
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.arrays = arrays
        self.augment = augment
        self.standardizer: Standardizer | None = None
        self._ready = False
        self._statistics: dict[int, ShowerDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self._ready:
            return
        if self.arrays is None:
            self.arrays = load_showers(self.paths, self.config)
        arrays = self.arrays
        self.train_index, self.val_index, self.test_index = split_indices(
            len(arrays), self.seed, self.val_fraction, self.test_fraction)
        self.classes = tuple(self.config.classes) if self.config.classes is not None \
            else infer_classes(arrays.truth["pdg"][self.train_index], self.config.merge_antiparticles)
        scalars = arrays.scalars(self.config.position_input, self.config.layer_fractions,
                                 self.config.feature_inputs)[self.train_index]
        targets = {key: value[self.train_index] for key, value in arrays.targets(self.config.energy_target).items()}
        shared = {"scalars": arrays.layer_columns()} if self.config.layer_fractions else None
        self.standardizer = Standardizer.fit({"scalars": scalars, **targets}, shared)
        self.input_shapes = arrays.shapes
        self.n_scalars = int(scalars.shape[1])
        check_augmentation(self.augment, arrays.shapes, self.config.window, arrays.cell_sizes)
        symmetry = None
        if self.augment != "none":
            columns = (self.n_scalars - 2, self.n_scalars - 1) if self.config.position_input else None
            symmetry = GridSymmetry(self.augment, columns, seed=self.seed)
        self._datasets = {name: ShowerDataset(arrays, self.standardizer, self.classes, self.config, index,
                                              symmetry if name == "train" else None)
                          for name, index in (("train", self.train_index), ("val", self.val_index),
                                              ("test", self.test_index))}
        self._ready = True

    def dataset(self, split: Literal["train", "val", "test"]) -> ShowerDataset:
        self.setup()
        return self._datasets[split]

    def statistics_loader(self, n_events: int) -> DataLoader:
        """Batches of up to ``n_events`` training events, the same seeded subset at every call and never
        mirrored: the events whose statistics become the batch-norm averages
        (:class:`calolab.reco.batchnorm.PreciseBatchNorm`)."""
        self.setup()
        if n_events not in self._statistics:
            assert self.standardizer is not None and self.arrays is not None  # set by setup()
            subset = np.random.default_rng([self.seed, 1]).permutation(self.train_index)[:n_events]
            self._statistics[n_events] = ShowerDataset(self.arrays, self.standardizer, self.classes, self.config,
                                                       np.sort(subset))
        return batch_loader(self._statistics[n_events], self.batch_size, shuffle=True, seed=self.seed)

    def train_dataloader(self) -> DataLoader:
        return batch_loader(self.dataset("train"), self.batch_size, shuffle=True, seed=self.seed)

    def val_dataloader(self) -> DataLoader:
        return batch_loader(self.dataset("val"), self.batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return batch_loader(self.dataset("test"), self.batch_size, shuffle=False)
