"""Cluster positions: seed windows, the logarithmically weighted centre of gravity and its S-curve correction.

Pure numpy on cell arrays ``(N, y, x)`` or ``(N, layers, y, x)`` (MeV; layers are summed) and the cell
centres of the section (mm). A cluster is the ``window x window`` block of cells around the event's
hottest (layer-summed) cell, zero-padded at the edges of the grid.

The log-weighted centre follows CMS (REFERENCES.md "Cluster position")::

    x = sum_i w_i x_i / sum_i w_i,   w_i = max(0, w0 + ln(E_i / E)),   E = sum of the window,  w0 = 4.2

It is biased towards the centre of the seed cell: a shower that hits near a cell edge shares less
energy with the neighbour than a linear interpolation would need (the "S-curve"). The
:class:`SCurveCorrection` learns the median residual (true - estimated) as a function of the estimate's
position within the seed cell, per axis, on training showers, and adds it back.

Two photons whose showers merge in one cluster (a boosted ``pi0``, a photon pair) are separated by
:func:`split_two_photons`: the classic shower-shape splitting of a cluster with two local maxima, as the
cluster unfolding of the ALICE PHOS/EMCal reconstruction and the CMS particle-flow ECAL clustering do it.
Each cell's energy is shared between the photons in proportion to each photon's energy times its expected
lateral profile at the cell; the photons' energies and positions are then recomputed from their shares,
and the two steps iterate. Here the profile is ``exp(-d / profile_length)`` (``d`` the distance of the cell
centre from the photon, mm), the simplest profile with the exponential fall-off of an EM shower's lateral
tails; ``profile_length`` is tuned on simulated pairs (:class:`calolab.reco.baselines.TwoSeedSplit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from calolab.errors import ConfigError

__all__ = [
    "W0_POSITION",
    "DepthCorrection",
    "SCurveCorrection",
    "centre_of_gravity",
    "cluster_windows",
    "log_weighted_position",
    "split_two_photons",
]

#: CMS cut-off of the position log weights (REFERENCES.md "Cluster position")
W0_POSITION = 4.2

#: Events split at once by :func:`split_two_photons` (bounds its ``(events, 2, y, x)`` temporaries).
_SPLIT_BLOCK = 1024


def _lateral(cells: np.ndarray) -> np.ndarray:
    array = np.asarray(cells)
    if array.ndim == 4:
        return array.sum(axis=1, dtype=np.float64)
    if array.ndim == 3:
        return array.astype(np.float64, copy=False)
    msg = f"cells must be (N, y, x) or (N, layers, y, x), got shape {array.shape}"
    raise ConfigError(msg)


def _padded_centres(centres: np.ndarray, half: int) -> np.ndarray:
    """Cell centres extended by ``half`` cells each side (zero-padded cells get extrapolated centres)."""
    centres = np.asarray(centres, dtype=np.float64)
    pitch = float(centres[1] - centres[0]) if centres.size > 1 else 1.0
    steps = np.arange(1, half + 1) * pitch
    return np.concatenate([centres[0] - steps[::-1], centres, centres[-1] + steps])


def cluster_windows(cells: np.ndarray, centres_x: np.ndarray, centres_y: np.ndarray, window: int = 5,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``window x window`` block around each event's hottest cell.

    Args:
        cells: ``(N, y, x)`` or ``(N, layers, y, x)`` energies, MeV (layers are summed).
        centres_x, centres_y: cell centres of the grid, mm.
        window: odd block size in cells.

    Returns:
        ``(energies (N, w, w) MeV, x (N, w) mm, y (N, w) mm, seed (N, 2) mm)``: the block, the centres of its
        columns and rows, and the centre of the seed cell.
    """
    if window < 1 or window % 2 == 0:
        msg = f"window must be an odd number of cells >= 1, got {window}"
        raise ConfigError(msg)
    lateral = _lateral(cells)
    n, ny, nx = lateral.shape
    if (ny, nx) != (len(centres_y), len(centres_x)):
        msg = f"cells have a {ny} x {nx} grid (y, x) but {len(centres_y)} x {len(centres_x)} centres were given"
        raise ConfigError(msg)
    half = window // 2
    iy, ix = np.divmod(lateral.reshape(n, -1).argmax(axis=1), nx) if n else (np.zeros(0, int), np.zeros(0, int))
    padded = np.pad(lateral, ((0, 0), (half, half), (half, half)))
    rows = iy[:, None] + np.arange(window)[None, :]
    cols = ix[:, None] + np.arange(window)[None, :]
    block = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    x = _padded_centres(centres_x, half)[cols]
    y = _padded_centres(centres_y, half)[rows]
    seed = np.stack([np.asarray(centres_x, dtype=np.float64)[ix], np.asarray(centres_y, dtype=np.float64)[iy]],
                    axis=1)
    return block, x, y, seed


def _weighted_centre(weights: np.ndarray, x: np.ndarray, y: np.ndarray, seed: np.ndarray) -> np.ndarray:
    total = weights.sum(axis=(1, 2))
    has = total > 0
    safe = np.where(has, total, 1.0)
    cx = np.einsum("nyx,nx->n", weights, x) / safe
    cy = np.einsum("nyx,ny->n", weights, y) / safe
    return np.where(has[:, None], np.stack([cx, cy], axis=1), seed)


def log_weighted_position(cells: np.ndarray, centres_x: np.ndarray, centres_y: np.ndarray, *,
                          w0: float = W0_POSITION, window: int = 5) -> np.ndarray:
    """CMS log-weighted centre of gravity of the window around the hottest cell, ``(N, 2)`` (x, y) mm.

    ``w_i = max(0, w0 + ln(E_i / E_window))`` (REFERENCES.md "Cluster position"); a large ``w0`` tends to
    the linear centre of gravity, a small one to the seed cell's centre. An empty event gets the centre of
    its seed cell (the first cell).

    >>> import numpy as np
    >>> cells = np.zeros((1, 3, 3)); cells[0, 1, 1] = 9.0; cells[0, 1, 2] = 1.0
    >>> centres = np.array([-10.0, 0.0, 10.0])
    >>> log_weighted_position(cells, centres, centres, window=3).round(3).tolist()  # w = 4.2 + ln 0.9, 4.2 + ln 0.1
    [[3.167, 0.0]]
    """
    block, x, y, seed = cluster_windows(cells, centres_x, centres_y, window)
    total = block.sum(axis=(1, 2))
    fraction = np.divide(block, total[:, None, None], out=np.zeros_like(block), where=total[:, None, None] > 0)
    log_fraction = np.full(block.shape, -np.inf)
    np.log(fraction, out=log_fraction, where=fraction > 0)
    return _weighted_centre(np.maximum(0.0, w0 + log_fraction), x, y, seed)


def centre_of_gravity(cells: np.ndarray, centres_x: np.ndarray, centres_y: np.ndarray, *,
                      window: int = 5) -> np.ndarray:
    """Energy-weighted (linear) centre of the window around the hottest cell, ``(N, 2)`` (x, y) mm."""
    block, x, y, seed = cluster_windows(cells, centres_x, centres_y, window)
    return _weighted_centre(block, x, y, seed)


def _two_seeds(lateral: np.ndarray, search: int, min_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Row and column ``(N, 2)`` of the two seeds: the hottest cell and the hottest other local maximum
    (>= its 8 neighbours, > ``min_fraction`` of the seed) in the ``search x search`` block around it, else
    the hottest neighbour in its 3x3."""
    n, ny, nx = lateral.shape
    first = lateral.reshape(n, -1).argmax(axis=1)
    iy1, ix1 = np.divmod(first, nx)
    padded = np.pad(lateral, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    neighbours = np.full_like(lateral, -np.inf)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                np.maximum(neighbours, padded[:, 1 + dy:1 + dy + ny, 1 + dx:1 + dx + nx], out=neighbours)
    distance_y = np.abs(np.arange(ny)[None, :, None] - iy1[:, None, None])
    distance_x = np.abs(np.arange(nx)[None, None, :] - ix1[:, None, None])
    other = (distance_y > 0) | (distance_x > 0)
    seed_energy = lateral.reshape(n, -1)[np.arange(n), first][:, None, None]
    near = (distance_y <= search // 2) & (distance_x <= search // 2)
    candidate = (lateral >= neighbours) & (lateral > min_fraction * seed_energy) & (lateral > 0) & other & near
    neighbour = other & (distance_y <= 1) & (distance_x <= 1)
    best_maximum = np.where(candidate, lateral, -np.inf).reshape(n, -1).argmax(axis=1)
    best_neighbour = np.where(neighbour, lateral, -np.inf).reshape(n, -1).argmax(axis=1)  # the seed on a 1x1 grid
    second = np.where(candidate.reshape(n, -1).any(axis=1), best_maximum, best_neighbour)
    iy2, ix2 = np.divmod(second, nx)
    return np.stack([iy1, iy2], axis=1), np.stack([ix1, ix2], axis=1)


def _nearest(centres: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the cell centre nearest to each value (centres ascending)."""
    index = np.clip(np.searchsorted(centres, values), 1, max(centres.size - 1, 1))
    below = np.clip(index - 1, 0, centres.size - 1)
    index = np.clip(index, 0, centres.size - 1)
    return np.where(np.abs(values - centres[below]) <= np.abs(centres[index] - values), below, index)


def _split_block(lateral: np.ndarray, cx: np.ndarray, cy: np.ndarray, profile_length: float, w0: float,
                 iterations: int, search: int, min_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    n = lateral.shape[0]
    rows, cols = _two_seeds(lateral, search, min_fraction)
    events = np.arange(n)[:, None]
    position = np.stack([cx[cols], cy[rows]], axis=2)  # (n, 2, 2) mm
    energy = lateral[events, rows, cols]  # (n, 2) MeV
    padded_x, padded_y = _padded_centres(cx, 1), _padded_centres(cy, 1)
    offsets = np.arange(3)
    for _ in range(iterations):
        # share each cell between the photons: E_k exp(-d_k / profile_length), normalised over k (in logs)
        d = np.hypot(cx[None, None, None, :] - position[:, :, 0, None, None],
                     cy[None, None, :, None] - position[:, :, 1, None, None])  # (n, 2, y, x)
        log_profile = np.log(np.maximum(energy, 1e-300))[:, :, None, None] - d / profile_length
        profile = np.exp(log_profile - log_profile.max(axis=1, keepdims=True))
        shares = lateral[:, None] * (profile / profile.sum(axis=1, keepdims=True))
        energy = shares.sum(axis=(2, 3))
        # each photon's log-weighted centre over the 3x3 of its shares around the cell it is in
        ix, iy = _nearest(cx, position[:, :, 0]), _nearest(cy, position[:, :, 1])
        window_rows = iy[:, :, None] + offsets  # padded coordinates: (n, 2, 3)
        window_cols = ix[:, :, None] + offsets
        padded = np.pad(shares, ((0, 0), (0, 0), (1, 1), (1, 1)))
        block = padded[np.arange(n)[:, None, None, None], np.arange(2)[None, :, None, None],
                       window_rows[:, :, :, None], window_cols[:, :, None, :]]  # (n, 2, 3, 3)
        total = energy[:, :, None, None]
        fraction = np.divide(block, total, out=np.zeros_like(block), where=(block > 0) & (total > 0))
        log_fraction = np.full(block.shape, -np.inf)
        np.log(fraction, out=log_fraction, where=fraction > 0)
        weights = np.maximum(0.0, w0 + log_fraction)
        norm = weights.sum(axis=(2, 3))
        safe = np.where(norm > 0, norm, 1.0)
        new_x = np.einsum("nkyx,nkx->nk", weights, padded_x[window_cols]) / safe
        new_y = np.einsum("nkyx,nky->nk", weights, padded_y[window_rows]) / safe
        position = np.where((norm > 0)[:, :, None], np.stack([new_x, new_y], axis=2), position)
    order = np.argsort(-energy, axis=1, kind="stable")
    return np.take_along_axis(position, order[:, :, None], axis=1), np.take_along_axis(energy, order, axis=1)


def split_two_photons(cells: np.ndarray, centres_x: np.ndarray, centres_y: np.ndarray, *, profile_length: float,
                      w0: float = W0_POSITION, iterations: int = 5, search_window: int = 7,
                      min_fraction: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Split each event's cluster into two photons: positions and energies (shower-shape splitting).

    Seeds: the hottest (layer-summed) cell, and the hottest *other* local maximum (a cell >= its 8
    neighbours holding more than ``min_fraction`` of the first seed's energy) in the
    ``search_window x search_window`` block around it; when the showers are merged into one maximum, the
    hottest neighbour of the first seed in its 3x3. So there are always two photons. The default 7x7
    block finds a second photon up to 3 cells away along an axis (a 5x5 block misses pairs 2.5-3 cells
    apart); the 2% floor rejects the stray local maxima of a shower's sparse tails (on cms photon pairs
    they hold < 0.3% of the seed, a real second photon > 15%). Then ``iterations`` times:

    1. each cell's energy ``e_i`` is shared between the photons in proportion to
       ``E_k exp(-|r_i - x_k| / profile_length)`` (``r_i`` the cell centre, ``x_k`` photon ``k``);
    2. ``E_k`` = the sum of photon ``k``'s shares ``e_ik`` over the grid;
    3. ``x_k`` = the log-weighted centre of gravity (module docstring) of photon ``k``'s shares over the
       3x3 cells around the cell it is in, ``w_i = max(0, w0 + ln(e_ik / E_k))``.

    The photons start at the seed-cell centres with the seed cells' energies. Pure numpy, vectorised over
    events (in blocks of ``_SPLIT_BLOCK``).

    Args:
        cells: ``(N, y, x)`` or ``(N, layers, y, x)`` energies of one section, MeV (layers are summed).
        centres_x, centres_y: cell centres of the grid (ascending), mm.
        profile_length: decay length of the lateral profile, mm (> 0).
        w0: log-weight cut-off (CMS 4.2).
        iterations: sharing / update rounds (>= 1).
        search_window: odd size of the block searched for the second local maximum, cells (>= 3).
        min_fraction: least energy of the second local maximum, as a fraction of the first seed's.

    Returns:
        ``(positions (N, 2, 2) mm, energies (N, 2) MeV)``: (x, y) and energy of each photon, ordered by
        falling energy. The energies sum to the event's grid energy (the deposited energy, not calibrated).

    Raises:
        ConfigError: a bad cell shape, a grid that does not match the centres, ``profile_length <= 0``,
            ``iterations < 1``, an even or too small ``search_window`` or ``min_fraction`` outside [0, 1).

    >>> import numpy as np
    >>> centres = 22.0 * np.arange(-3, 4)
    >>> r = lambda x, y: np.hypot(centres[None, :] - x, centres[:, None] - y)
    >>> cells = 30e3 * np.exp(-r(-22.0, 0.0) / 8.0) + 10e3 * np.exp(-r(22.0, 0.0) / 8.0)
    >>> position, energy = split_two_photons(cells[None], centres, centres, profile_length=8.0)
    >>> position.round(1).tolist(), (energy / energy.sum()).round(2).tolist()
    ([[[-22.0, 0.0], [22.0, 0.0]]], [[0.75, 0.25]])
    """
    lateral = _lateral(cells)
    n, ny, nx = lateral.shape
    cx, cy = np.asarray(centres_x, dtype=np.float64), np.asarray(centres_y, dtype=np.float64)
    if (ny, nx) != (cy.size, cx.size):
        msg = f"cells have a {ny} x {nx} grid (y, x) but {cy.size} x {cx.size} centres were given"
        raise ConfigError(msg)
    if not profile_length > 0 or iterations < 1:
        msg = (f"split_two_photons: profile_length must be > 0 mm and iterations >= 1, got {profile_length} "
               f"and {iterations}")
        raise ConfigError(msg)
    if search_window < 3 or search_window % 2 == 0 or not 0.0 <= min_fraction < 1.0:
        msg = (f"split_two_photons: search_window must be an odd number of cells >= 3 and min_fraction in "
               f"[0, 1), got {search_window} and {min_fraction}")
        raise ConfigError(msg)
    position, energy = np.zeros((n, 2, 2)), np.zeros((n, 2))
    for start in range(0, n, _SPLIT_BLOCK):
        part = slice(start, min(start + _SPLIT_BLOCK, n))
        position[part], energy[part] = _split_block(lateral[part], cx, cy, float(profile_length), float(w0),
                                                    int(iterations), int(search_window), float(min_fraction))
    return position, energy


@dataclass(frozen=True)
class DepthCorrection:
    """Projective incidence: the depth shift of a shower that flies from a vertex before the face.

    A particle from a point vertex ``vertex_distance`` (L) before the face meets the face at ``x`` and
    reaches depth ``z`` at ``x (1 + z / L)``. The cluster's centre of gravity sits at the shower's
    energy-weighted depth, which grows like the depth of the shower maximum, ``d(E) = a + b ln(E / GeV)``
    (PDG: t_max = ln(E / E_c) - 0.5 radiation lengths); the estimate is divided by ``1 + d(E) / L``.

    Attributes:
        vertex_distance: L, mm.
        a: depth at 1 GeV, mm.
        b: depth per e-fold of energy, mm.
    """

    vertex_distance: float
    a: float
    b: float

    def depth(self, energy_mev: np.ndarray) -> np.ndarray:
        """The fitted depth ``d(E)``, mm, of showers of (deposited) energy ``energy_mev``."""
        return self.a + self.b * np.log(np.maximum(np.asarray(energy_mev, dtype=np.float64), 1.0) / 1000.0)

    def apply(self, estimate: np.ndarray, energy_mev: np.ndarray) -> np.ndarray:
        """Impact points ``(N, 2)`` mm on the face, from estimates ``(N, 2)`` mm and cluster energies ``(N,)`` MeV."""
        scale = 1.0 + self.depth(energy_mev) / self.vertex_distance
        return np.asarray(estimate, dtype=np.float64).reshape(-1, 2) / scale[:, None]

    @classmethod
    def fit(cls, estimate: np.ndarray, truth: np.ndarray, energy_mev: np.ndarray,
            vertex_distance: float) -> DepthCorrection:
        """Least squares of ``estimate - truth = truth (a + b ln E) / L`` over both axes of training showers.

        Raises:
            ConfigError: a non-positive vertex distance, mismatched shapes or fewer than 2 usable showers.
        """
        if not vertex_distance > 0:
            msg = f"vertex_distance must be > 0 mm, got {vertex_distance!r}"
            raise ConfigError(msg)
        estimate, truth = (np.asarray(a, dtype=np.float64).reshape(-1, 2) for a in (estimate, truth))
        energy = np.asarray(energy_mev, dtype=np.float64).reshape(-1)
        if not len(estimate) == len(truth) == len(energy):
            msg = (f"DepthCorrection.fit: estimate, truth and energy need the same number of showers, got "
                   f"{len(estimate)}, {len(truth)}, {len(energy)}")
            raise ConfigError(msg)
        good = np.all(np.isfinite(estimate), axis=1) & np.all(np.isfinite(truth), axis=1) & (energy > 0)
        if good.sum() < 2:
            msg = f"DepthCorrection.fit needs at least 2 showers with finite positions and energy, got {good.sum()}"
            raise ConfigError(msg)
        log_energy = np.log(energy[good] / 1000.0)[:, None]
        lever = truth[good] / vertex_distance  # (n, 2)
        design = np.stack([lever.ravel(), (lever * log_energy).ravel()], axis=1)
        (a, b), *_ = np.linalg.lstsq(design, (estimate[good] - truth[good]).ravel(), rcond=None)
        return cls(float(vertex_distance), float(a), float(b))

    def to_dict(self) -> dict[str, float]:
        return {"vertex_distance": self.vertex_distance, "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DepthCorrection:
        return cls(float(data["vertex_distance"]), float(data["a"]), float(data["b"]))


@dataclass
class SCurveCorrection:
    """Binned S-curve correction of a position estimate, per axis.

    Attributes:
        cell_size: ``(2,)`` cell pitch along x and y, mm.
        centres: ``(bins,)`` bin centres of the estimate's offset from its seed-cell centre, in cells
            (the bins span -0.5 .. 0.5).
        shift: ``(2, bins)`` median residual (true - estimate) per bin and axis, in cells; linearly
            interpolated between the bin centres and constant beyond them.
    """

    cell_size: np.ndarray
    centres: np.ndarray
    shift: np.ndarray

    @classmethod
    def fit(cls, estimate: np.ndarray, seed: np.ndarray, truth: np.ndarray, cell_size: Any, *, bins: int = 20,
            min_entries: int = 10) -> SCurveCorrection:
        """Learn the correction from training showers.

        Args:
            estimate: ``(N, 2)`` estimated (x, y), mm (e.g. :func:`log_weighted_position`).
            seed: ``(N, 2)`` centres of the seed cells, mm.
            truth: ``(N, 2)`` true impact points, mm.
            cell_size: pitch along x and y (mm), a number or a pair.
            bins: bins across the cell.
            min_entries: bins with fewer showers are interpolated from their neighbours.

        Raises:
            ConfigError: mismatched shapes, a non-positive cell size, or ``bins < 1``.
        """
        estimate, seed, truth = (np.asarray(a, dtype=np.float64).reshape(-1, 2) for a in (estimate, seed, truth))
        if not (len(estimate) == len(seed) == len(truth)):
            msg = (f"SCurveCorrection.fit: estimate, seed and truth need the same number of showers, got "
                   f"{len(estimate)}, {len(seed)}, {len(truth)}")
            raise ConfigError(msg)
        size = np.broadcast_to(np.asarray(cell_size, dtype=np.float64), (2,)).copy()
        if not np.all(size > 0) or bins < 1:
            msg = f"SCurveCorrection.fit: cell_size must be > 0 mm and bins >= 1, got {size.tolist()} and {bins}"
            raise ConfigError(msg)
        edges = np.linspace(-0.5, 0.5, bins + 1)
        centres = 0.5 * (edges[1:] + edges[:-1])
        shift = np.zeros((2, bins))
        good = np.all(np.isfinite(truth), axis=1) & np.all(np.isfinite(estimate), axis=1)
        offset = (estimate[good] - seed[good]) / size
        residual = (truth[good] - estimate[good]) / size
        for axis in range(2):
            which = np.clip(np.digitize(offset[:, axis], edges) - 1, 0, bins - 1)
            medians = np.full(bins, np.nan)
            for k in range(bins):
                chosen = residual[which == k, axis]
                if chosen.size >= min_entries:
                    medians[k] = np.median(chosen)
            filled = np.isfinite(medians)
            if filled.any():
                shift[axis] = np.interp(centres, centres[filled], medians[filled])
        return cls(size, centres, shift)

    def apply(self, estimate: np.ndarray, seed: np.ndarray) -> np.ndarray:
        """Corrected ``(N, 2)`` positions, mm, of estimates ``(N, 2)`` with seed-cell centres ``(N, 2)``."""
        estimate = np.asarray(estimate, dtype=np.float64).reshape(-1, 2)
        offset = (estimate - np.asarray(seed, dtype=np.float64).reshape(-1, 2)) / self.cell_size
        correction = np.stack([np.interp(offset[:, axis], self.centres, self.shift[axis]) for axis in range(2)],
                              axis=1)
        return estimate + correction * self.cell_size

    def to_dict(self) -> dict[str, list[Any]]:
        """JSON-able state."""
        return {"cell_size": self.cell_size.tolist(), "centres": self.centres.tolist(), "shift": self.shift.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SCurveCorrection:
        """The correction saved by :meth:`to_dict`."""
        return cls(np.asarray(data["cell_size"], dtype=np.float64), np.asarray(data["centres"], dtype=np.float64),
                   np.asarray(data["shift"], dtype=np.float64).reshape(2, -1))
