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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from calolab.errors import ConfigError

__all__ = [
    "W0_POSITION",
    "SCurveCorrection",
    "centre_of_gravity",
    "cluster_windows",
    "log_weighted_position",
]

#: CMS cut-off of the position log weights (REFERENCES.md "Cluster position")
W0_POSITION = 4.2


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
