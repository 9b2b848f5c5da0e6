"""Shower shapes and expert features of calorimeter events (vectorised numpy, no I/O but the file helper).

Every feature is one number per event, computed from the cell arrays ``(N, layers, y, x)`` (MeV) of the
detector's sections. Names (see :func:`feature_names`)::

    energy_total                    MeV   sum over the sections given
    hcal_ecal_ratio                 -     energy behind the first section / energy in it (two or more
                                          sections; RATIO_CAP when the first is empty and the rest is not)
    depth_mean, depth_width         mm    energy-weighted mean and standard deviation of the layer centres'
                                          z over all sections (z = 0: the calorimeter's front face)
    <S>_energy                      MeV   sum of section S
    <S>_layer_<k>                   MeV   energy of layer k of S
    <S>_depth_mean_layer            -     energy-weighted mean layer index
    <S>_depth_mean, <S>_depth_width mm    as above, within S
    <S>_rms_x, <S>_rms_y            mm    energy-weighted lateral RMS of the layer-summed map
    <S>_cov_xx, _cov_yy, _cov_xy    mm^2  energy-weighted second central moments of the layer-summed map
    <S>_r9                          -     E(3x3 around the hottest cell) / E(S), layer-summed map
    <S>_e1_e9, <S>_e9_e25           -     E(hottest cell) / E(3x3), E(3x3) / E(5x5)
    <S>_sigma_ieta_ieta             cells log-weighted width along y in the 5x5 window (CMS style, w0 = 4.7)
    <S>_sigma_iphi_iphi             cells the same along x
    <S>_n_cells                     -     number of cells (all layers) above ``threshold_mev``
    <S>_frac_front, _middle, _back  -     energy fractions in the first, second and last third of the
                                          section's depth (by the z of the layer centres)

The sums use the signal as given (raw active energy or the digitised, calibrated signal) without sampling
weights: a calibration (:mod:`calolab.reco.baselines`) or the per-layer energies carry them. Windows at
the grid's edge are padded with zeros. An empty event (or section) gets 0 for every ratio, mean and width,
never NaN.

The CMS log-weighted width follows REFERENCES.md "Cluster position": w_i = max(0, w0 + ln(E_i / E_5x5)),
w0 = 4.7 for shower-shape covariances, about the linearly weighted mean of the 5x5 window.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from calolab.errors import ConfigError, DatasetError

__all__ = [
    "FEATURE_NAMES",
    "check_reading",
    "GLOBAL_FEATURES",
    "SECTION_FEATURES",
    "RATIO_CAP",
    "W0_SHAPE",
    "compute_features",
    "feature_matrix",
    "feature_names",
    "features_from_file",
    "features_in_chunks",
    "concatenate_features",
    "FEATURE_CHUNK",
    "log_weighted_width",
    "seed_windows",
    "stack_features",
]

#: detector-wide features (``hcal_ecal_ratio`` only with two or more sections)
GLOBAL_FEATURES: tuple[str, ...] = ("energy_total", "hcal_ecal_ratio", "depth_mean", "depth_width")
#: per-section features, named ``<section>_<name>``; ``<section>_layer_<k>`` come after ``energy``
SECTION_FEATURES: tuple[str, ...] = (
    "energy", "depth_mean_layer", "depth_mean", "depth_width", "rms_x", "rms_y", "cov_xx", "cov_yy", "cov_xy",
    "r9", "e1_e9", "e9_e25", "sigma_ieta_ieta", "sigma_iphi_iphi", "n_cells", "frac_front", "frac_middle",
    "frac_back",
)
#: every kind of feature (the per-layer energies are ``<section>_layer_<k>``)
FEATURE_NAMES: tuple[str, ...] = (*GLOBAL_FEATURES, *SECTION_FEATURES, "layer_<k>")
#: hcal_ecal_ratio of an event with energy behind an empty first section
RATIO_CAP = 1.0e3
#: CMS w0 of the log-weighted shower-shape covariances (REFERENCES.md "Cluster position")
W0_SHAPE = 4.7
#: events per call of :func:`compute_features` when reading a file or a large array
FEATURE_CHUNK = 256

_GeometryLike = Any  # a calolab Section: name, cell_centres_x/y(), layer_z_centres(), z_front, z_back


def _ratio(numerator: np.ndarray, denominator: np.ndarray, default: float = 0.0) -> np.ndarray:
    """numerator / denominator, ``default`` where the denominator is not positive (no warnings)."""
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, dtype=np.float64),
                                                 np.asarray(denominator, dtype=np.float64))
    out = np.full(numerator.shape, default, dtype=np.float64)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)


def _sqrt(variance: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(variance, 0.0))


def _moments(weights: np.ndarray, coordinate: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and variance of ``coordinate`` (last axis of ``weights``), 0 for empty rows."""
    mean = _ratio(weights @ coordinate, total)
    variance = _ratio(np.einsum("nk,nk->n", weights, (coordinate[None, :] - mean[:, None]) ** 2), total)
    return mean, variance


def seed_windows(lateral: np.ndarray, size: int) -> np.ndarray:
    """``size x size`` windows of ``lateral`` (N, y, x) centred on each event's hottest cell, zero-padded."""
    n, ny, nx = lateral.shape
    seed = lateral.reshape(n, -1).argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    iy, ix = np.divmod(seed, nx)
    half = size // 2
    padded = np.pad(lateral, ((0, 0), (half, half), (half, half)))
    rows = iy[:, None] + np.arange(size)[None, :]
    cols = ix[:, None] + np.arange(size)[None, :]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def log_weighted_width(window: np.ndarray, w0: float = W0_SHAPE) -> tuple[np.ndarray, np.ndarray]:
    """CMS-style log-weighted widths (cells) along y and x of windows ``(N, k, k)`` centred on the seed.

    w_i = max(0, w0 + ln(E_i / E_window)); sigma^2 = sum w_i (d_i - d_mean)^2 / sum w_i with d in cells
    from the window centre and d_mean the energy-weighted (linear) mean of the window.
    """
    k = window.shape[-1]
    offsets = np.arange(k) - k // 2
    total = window.sum(axis=(1, 2))
    fraction = _ratio(window, total[:, None, None])
    log_fraction = np.full(window.shape, -np.inf)
    np.log(fraction, out=log_fraction, where=fraction > 0)
    weights = np.maximum(0.0, w0 + log_fraction)
    sum_w = weights.sum(axis=(1, 2))
    widths = []
    for axis in (1, 2):  # y (rows), then x (columns)
        profile = window.sum(axis=3 - axis)  # energy per row (axis 1) or column (axis 2)
        mean = _ratio(profile @ offsets, total)
        w_profile = weights.sum(axis=3 - axis)
        widths.append(_sqrt(_ratio(np.einsum("nk,nk->n", w_profile, (offsets[None, :] - mean[:, None]) ** 2),
                                   sum_w)))
    return widths[0], widths[1]


def _depth_thirds(section: _GeometryLike) -> np.ndarray:
    """Third (0, 1, 2) of the section's depth holding each layer's centre."""
    z = np.asarray(section.layer_z_centres(), dtype=np.float64)
    depth = float(section.z_back - section.z_front)
    relative = (z - float(section.z_front)) / depth if depth > 0 else np.zeros_like(z)
    return np.clip(np.floor(relative * 3.0), 0, 2).astype(np.int64)


def _section_features(cells: np.ndarray, section: _GeometryLike, threshold_mev: float,
                      w0: float) -> dict[str, np.ndarray]:
    name = section.name
    layer_energy = cells.sum(axis=(2, 3), dtype=np.float64)  # (N, L) MeV
    energy = layer_energy.sum(axis=1)
    out: dict[str, np.ndarray] = {f"{name}_energy": energy}
    for k in range(layer_energy.shape[1]):
        out[f"{name}_layer_{k}"] = layer_energy[:, k]
    n_layers = layer_energy.shape[1]
    out[f"{name}_depth_mean_layer"] = _ratio(layer_energy @ np.arange(n_layers, dtype=np.float64), energy)
    depth, depth_var = _moments(layer_energy, np.asarray(section.layer_z_centres(), dtype=np.float64), energy)
    out[f"{name}_depth_mean"], out[f"{name}_depth_width"] = depth, _sqrt(depth_var)

    lateral = cells.sum(axis=1, dtype=np.float64)  # (N, y, x) MeV
    x = np.asarray(section.cell_centres_x(), dtype=np.float64)
    y = np.asarray(section.cell_centres_y(), dtype=np.float64)
    mean_x, var_x = _moments(lateral.sum(axis=1), x, energy)
    mean_y, var_y = _moments(lateral.sum(axis=2), y, energy)
    dx = x[None, :] - mean_x[:, None]
    dy = y[None, :] - mean_y[:, None]
    out[f"{name}_rms_x"], out[f"{name}_rms_y"] = _sqrt(var_x), _sqrt(var_y)
    out[f"{name}_cov_xx"], out[f"{name}_cov_yy"] = var_x, var_y
    out[f"{name}_cov_xy"] = _ratio(np.einsum("nyx,ny,nx->n", lateral, dy, dx), energy)

    window = seed_windows(lateral, 5)
    e1 = window[:, 2, 2]
    e9 = window[:, 1:4, 1:4].sum(axis=(1, 2))
    e25 = window.sum(axis=(1, 2))
    out[f"{name}_r9"] = _ratio(e9, energy)
    out[f"{name}_e1_e9"] = _ratio(e1, e9)
    out[f"{name}_e9_e25"] = _ratio(e9, e25)
    out[f"{name}_sigma_ieta_ieta"], out[f"{name}_sigma_iphi_iphi"] = log_weighted_width(window, w0)
    out[f"{name}_n_cells"] = (cells > threshold_mev).sum(axis=(1, 2, 3)).astype(np.float64)
    thirds = _depth_thirds(section)
    for k, label in enumerate(("front", "middle", "back")):
        out[f"{name}_frac_{label}"] = _ratio(layer_energy[:, thirds == k].sum(axis=1), energy)
    return out


def _checked_sections(cells: Mapping[str, np.ndarray], detector: Any) -> list[tuple[Any, np.ndarray]]:
    """(section, cells) in detector order; every key must be a section and every shape must match."""
    known = [section.name for section in detector.sections]
    unknown = [key for key in cells if key not in known]
    if unknown:
        msg = f"cells has sections {unknown} that detector {detector.name!r} lacks: use the names {known}"
        raise ConfigError(msg)
    if not cells:
        msg = f"cells is empty: give the (N, layers, y, x) arrays of one or more of the sections {known}"
        raise ConfigError(msg)
    pairs = []
    n_events = None
    for section in detector.sections:
        if section.name not in cells:
            continue
        array = np.asarray(cells[section.name])
        if array.ndim != 4 or tuple(array.shape[1:]) != tuple(section.shape):
            expected = ", ".join(map(str, section.shape))
            msg = f"cells[{section.name!r}] has shape {array.shape}, expected (N, {expected}) for {detector.name!r}"
            raise DatasetError(msg)
        if n_events is not None and array.shape[0] != n_events:
            msg = f"cells[{section.name!r}] has {array.shape[0]} events, the other sections {n_events}"
            raise DatasetError(msg)
        n_events = array.shape[0]
        pairs.append((section, array))
    return pairs


def compute_features(cells: Mapping[str, np.ndarray], detector: Any, *, threshold_mev: float = 0.1,
                     w0: float = W0_SHAPE) -> dict[str, np.ndarray]:
    """Shower-shape and energy features of N events, each a float64 array ``(N,)`` (units: module docstring).

    Args:
        cells: section name -> cell energies ``(N, layers, y, x)`` in MeV, for one or more sections of
            ``detector``.
        detector: the :class:`~calolab.detector.geometry.Calorimeter` (cell sizes, layer depths).
        threshold_mev: a cell counts in ``<S>_n_cells`` above this energy, MeV.
        w0: the cut-off of the log weights of the sigma_ieta_ieta-like widths.

    Returns:
        name -> values, in the order of :func:`feature_names`.

    Raises:
        ConfigError: an unknown section name or no sections; a negative threshold.
        DatasetError: an array's shape does not match its section.

    >>> import numpy as np, calolab
    >>> cms = calolab.load_detector("cms")
    >>> cells = np.zeros((1, 1, 11, 11)); cells[0, 0, 5, 5] = 1000.0
    >>> f = compute_features({"ECAL": cells}, cms)
    >>> float(f["ECAL_r9"][0]), float(f["ECAL_rms_x"][0])
    (1.0, 0.0)
    """
    if not threshold_mev >= 0:
        msg = f"threshold_mev must be >= 0 MeV, got {threshold_mev!r}"
        raise ConfigError(msg)
    pairs = _checked_sections(cells, detector)
    per_section = [_section_features(array, section, threshold_mev, w0) for section, array in pairs]
    energies = np.stack([block[f"{section.name}_energy"] for (section, _), block in zip(pairs, per_section,
                                                                                          strict=True)], axis=1)
    total = energies.sum(axis=1)
    out: dict[str, np.ndarray] = {"energy_total": total}
    if len(pairs) > 1:
        first, rest = energies[:, 0], energies[:, 1:].sum(axis=1)
        ratio = _ratio(rest, first, default=0.0)
        ratio = np.where((first <= 0) & (rest > 0), RATIO_CAP, np.minimum(ratio, RATIO_CAP))
        out["hcal_ecal_ratio"] = ratio
    layer_energy = np.concatenate([np.stack([block[f"{section.name}_layer_{k}"] for k in range(section.n_layers)],
                                            axis=1) for (section, _), block in zip(pairs, per_section, strict=True)],
                                  axis=1)
    z = np.concatenate([np.asarray(section.layer_z_centres(), dtype=np.float64) for section, _ in pairs])
    depth, depth_var = _moments(layer_energy, z, total)
    out["depth_mean"], out["depth_width"] = depth, _sqrt(depth_var)
    for block in per_section:
        out.update(block)
    return out


def feature_names(detector: Any, sections: Sequence[str] | None = None) -> list[str]:
    """The names :func:`compute_features` gives for ``sections`` (default: all) of ``detector``, in order."""
    chosen = [s for s in detector.sections if sections is None or s.name in sections]
    names = ["energy_total", *(["hcal_ecal_ratio"] if len(chosen) > 1 else []), "depth_mean", "depth_width"]
    for section in chosen:
        names.append(f"{section.name}_energy")
        names.extend(f"{section.name}_layer_{k}" for k in range(section.n_layers))
        names.extend(f"{section.name}_{kind}" for kind in SECTION_FEATURES[1:])
    return names


def feature_matrix(cells: Mapping[str, np.ndarray], detector: Any, *, threshold_mev: float = 0.1,
                   w0: float = W0_SHAPE) -> tuple[np.ndarray, list[str]]:
    """The features of :func:`compute_features` as a table: ``X`` (N, F) float64 and the F column names."""
    features = compute_features(cells, detector, threshold_mev=threshold_mev, w0=w0)
    names = list(features)
    return np.stack([features[name] for name in names], axis=1), names


def features_in_chunks(cells: Mapping[str, np.ndarray], detector: Any, *, chunk: int = FEATURE_CHUNK,
                       threshold_mev: float = 0.1, w0: float = W0_SHAPE) -> dict[str, np.ndarray]:
    """:func:`compute_features` of cells already in memory, ``chunk`` events at a time (its temporaries are
    several times the cells' size)."""
    n = len(next(iter(cells.values())))
    parts = [compute_features({name: values[first:first + chunk] for name, values in cells.items()}, detector,
                              threshold_mev=threshold_mev, w0=w0) for first in range(0, max(n, 1), chunk)]
    return concatenate_features(parts)


def concatenate_features(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Feature dicts of consecutive event blocks -> one dict over all their events."""
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def stack_features(features: Mapping[str, np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
    """Stack a feature dict into ``(N, F)`` in the order of ``names`` (default: the dict's)."""
    keys = list(features) if names is None else list(names)
    missing = [key for key in keys if key not in features]
    if missing:
        msg = (f"features {missing} are missing (a model trained on another detector or signal?): "
               f"available are {list(features)[:8]}...")
        raise DatasetError(msg)
    return np.stack([np.asarray(features[key], dtype=np.float64) for key in keys], axis=1)


def features_from_file(path: str | os.PathLike[str], events: slice | np.ndarray = slice(None), *,
                       signal: Literal["raw", "digitized"] = "raw", sections: Sequence[str] | None = None,
                       threshold_mev: float = 0.1, w0: float = W0_SHAPE, chunk: int = FEATURE_CHUNK,
                       ) -> dict[str, np.ndarray]:
    """:func:`compute_features` of the selected events of a shower file, read ``chunk`` events at a time.

    Args:
        path: a calolab shower file (``.h5``).
        events: a slice, an index array or a boolean mask of events.
        signal: ``raw`` (active energy, MeV) or ``digitized`` (the digitised, calibrated signal, MeV).
        sections: the sections to use (default: all of the file's).
        threshold_mev, w0: as in :func:`compute_features`.
        chunk: events per read (memory: chunk x cells x 4 bytes per section).

    Raises:
        DatasetError: the file is missing, foreign, or has no digitised signal when asked for.
        ConfigError: a bad signal, section or chunk.
    """
    from calolab.data.showerfile import ShowerFile

    check_reading(signal, chunk)
    with ShowerFile(path) as showers:
        names = list(showers.sections) if sections is None else list(sections)
        unknown = [name for name in names if name not in showers.sections]
        if unknown:
            msg = f"{showers.path} has no sections {unknown}: choose from {list(showers.sections)}"
            raise ConfigError(msg)
        if signal == "digitized" and not showers.has_digitized:
            msg = (f"{showers.path} has no digitized signal (--signal digitized): run calolab digitize first, "
                   f"or use --signal raw")
            raise DatasetError(msg)
        index = np.arange(showers.n_events)[events]
        detector = showers.detector
        parts: list[dict[str, np.ndarray]] = []
        for start in range(0, max(index.size, 1), chunk):
            part = index[start:start + chunk]
            if part.size and np.all(np.diff(part) == 1):
                part = slice(int(part[0]), int(part[-1]) + 1)  # type: ignore[assignment]
            read = showers.digitized if signal == "digitized" else showers.energy
            cells = {name: read(name, part) for name in names}
            parts.append(compute_features(cells, detector, threshold_mev=threshold_mev, w0=w0))
    return concatenate_features(parts)


def check_reading(signal: str, chunk: int) -> None:
    """Validate the options of reading cells from a shower file (``signal``, ``chunk`` events at a time).

    Raises:
        ConfigError: ``signal`` is not ``raw`` or ``digitized``, or ``chunk`` < 1.
    """
    if signal not in ("raw", "digitized"):
        msg = f"signal must be 'raw' or 'digitized', got {signal!r}"
        raise ConfigError(msg)
    if chunk < 1:
        msg = f"chunk must be >= 1 event, got {chunk}"
        raise ConfigError(msg)
