"""Energy-conserving resampling between calolab's Cartesian cell grids and CaloChallenge (r, alpha) bins.

Pure numpy, no I/O; one layer at a time.

**Cartesian -> polar** (:func:`cartesian_to_polar`). Each cell's energy is spread uniformly over
its area and sampled at ``s x s`` sub-cell points (the centres of an ``s x s`` split of the cell),
each carrying ``1/s^2`` of the cell's energy; each point goes to the (r, alpha) bin it falls in,
with ``r`` and ``alpha = atan2(y - y0, x - x0)`` measured from the shower axis ``(x0, y0)`` (one
per event). The result is the area overlap of cells and bins up to the sampling step
``cell / s``; the total is conserved exactly. Points beyond the last radial edge (or inside the
first, if it is not 0) are folded into the nearest radial bin at their alpha (``overflow="fold"``,
energy conserved) or dropped (``"drop"``); their energy is returned either way.

**Polar -> Cartesian** (:func:`polar_to_cartesian`). The reverse: each bin's energy is spread
uniformly over the area of its annular sector, sampled at ``m_r x m_a`` points placed at equal-area
radii ``sqrt(r0^2 + (i + 1/2)/m_r (r1^2 - r0^2))`` and equal steps in alpha, with ``m_r`` and
``m_a`` chosen so that the points lie at most half a cell apart; each point goes to the cell it
falls in. Points outside the grid go to the nearest edge cell (``"fold"``) or are dropped. The map
is the same for every event, so it is built once per layer as a matrix.

Neither direction can restore detail finer than the coarser of the two binnings: a
Cartesian -> polar -> Cartesian round trip keeps each layer's energy (with ``"fold"``) and smooths
the transverse profile over a bin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from calolab.errors import ConfigError

__all__ = ["Overflow", "Resampled", "cartesian_to_polar", "default_subdivisions", "polar_matrix", "polar_to_cartesian"]

#: What happens to energy beyond the target binning: folded into the nearest bin, or dropped.
Overflow = Literal["fold", "drop"]

_MAX_POINTS = 4_000_000  # sub-points handled at once (memory ~ 100 MB)


@dataclass(frozen=True)
class Resampled:
    """One resampled layer.

    Attributes:
        values: the resampled energies, MeV: ``(N, n_r, n_alpha)`` (polar) or ``(N, ny, nx)``
            (Cartesian), float64.
        outside: ``(N,)`` energy that fell outside the target binning (folded or dropped), MeV.
    """

    values: np.ndarray
    outside: np.ndarray


def _check_overflow(overflow: str) -> None:
    if overflow not in ("fold", "drop"):
        msg = f"overflow = {overflow!r}: choose 'fold' (keep the energy in the nearest bin) or 'drop'"
        raise ConfigError(msg)


def default_subdivisions(cell_size: tuple[float, float], r_edges: Sequence[float] | np.ndarray) -> int:
    """Sub-cell points per cell side: about two per narrowest radial bin, between 2 and 8."""
    narrowest = float(np.min(np.diff(np.asarray(r_edges, dtype=float))))
    return int(min(8, max(2, math.ceil(2 * max(cell_size) / narrowest))))


def _polar_index(dx: np.ndarray, dy: np.ndarray, r_edges: np.ndarray, n_alpha: int,
                 overflow: Overflow) -> tuple[np.ndarray, np.ndarray]:
    """Flat bin index (alpha * n_r + r) of points relative to the axis; and whether each was outside."""
    n_r = r_edges.size - 1
    r = np.hypot(dx, dy)
    ir = np.searchsorted(r_edges, r, side="right") - 1
    outside = (ir < 0) | (ir >= n_r)
    ir = np.clip(ir, 0, n_r - 1)
    ia = np.floor((np.arctan2(dy, dx) + np.pi) * (n_alpha / (2 * np.pi))).astype(np.int64)
    ia = np.clip(ia, 0, n_alpha - 1)  # alpha = pi exactly belongs to the last bin
    index = ia * n_r + ir
    if overflow == "drop":
        index = np.where(outside, -1, index)
    return index, outside


def cartesian_to_polar(
    cells: np.ndarray,
    cell_size: tuple[float, float],
    r_edges: Sequence[float],
    n_alpha: int,
    axis: np.ndarray | None = None,
    *,
    subdivisions: int | None = None,
    overflow: Overflow = "fold",
) -> Resampled:
    """Resample one layer of Cartesian cells onto (r, alpha) bins around the shower axis.

    Args:
        cells: ``(N, ny, nx)`` energies, MeV, on a grid centred on ``x = y = 0`` (calolab's
            convention: cell ``ix`` is centred at ``(ix + 1/2) dx - nx dx / 2``).
        cell_size: ``(dx, dy)`` mm.
        r_edges: radial bin edges, mm.
        n_alpha: alpha bins over ``[-pi, pi)``.
        axis: ``(N, 2)`` shower axis ``(x0, y0)`` per event in this layer, mm; ``None`` = the grid centre.
        subdivisions: sub-cell points per cell side (``None``: :func:`default_subdivisions`).
        overflow: ``"fold"`` or ``"drop"`` for energy beyond the radial edges.

    Returns:
        :class:`Resampled` with values ``(N, n_r, n_alpha)``.

    Raises:
        ConfigError: a bad ``subdivisions``, ``overflow``, or axis shape.
    """
    _check_overflow(overflow)
    cells = np.asarray(cells)
    n, ny, nx = cells.shape
    dx, dy = (float(c) for c in cell_size)
    edges = np.asarray(r_edges, dtype=np.float64)
    s = default_subdivisions((dx, dy), edges) if subdivisions is None else int(subdivisions)
    if s < 1:
        msg = f"subdivisions = {subdivisions!r}: give at least 1 point per cell side"
        raise ConfigError(msg)
    centre = np.zeros((n, 2)) if axis is None else np.asarray(axis, dtype=np.float64)
    if centre.shape != (n, 2):
        msg = f"axis has shape {centre.shape}, expected ({n}, 2): one (x0, y0) in mm per event"
        raise ConfigError(msg)
    n_r = edges.size - 1
    n_bins = n_r * n_alpha
    offsets = ((np.arange(s) + 0.5) / s - 0.5)
    sub_x = np.tile(offsets * dx, s)      # (s*s,) x offsets within a cell
    sub_y = np.repeat(offsets * dy, s)    # (s*s,) y offsets
    x_centres = (np.arange(nx) + 0.5) * dx - nx * dx / 2
    y_centres = (np.arange(ny) + 0.5) * dy - ny * dy / 2
    event, iy, ix = np.nonzero(cells)
    energy = cells[event, iy, ix].astype(np.float64) / (s * s)
    totals = np.zeros(n * n_bins)
    outside = np.zeros(n)
    step = max(1, _MAX_POINTS // (s * s))
    for lo in range(0, event.size, step):
        hi = min(event.size, lo + step)
        ev = event[lo:hi]
        px = (x_centres[ix[lo:hi]] - centre[ev, 0])[:, None] + sub_x[None, :]
        py = (y_centres[iy[lo:hi]] - centre[ev, 1])[:, None] + sub_y[None, :]
        index, out = _polar_index(px, py, edges, n_alpha, overflow)
        weights = np.broadcast_to(energy[lo:hi, None], index.shape)
        events = np.broadcast_to(ev[:, None], index.shape)
        keep = index >= 0
        totals += np.bincount((events * n_bins + index)[keep], weights=weights[keep], minlength=n * n_bins)
        outside += np.bincount(events[out], weights=weights[out], minlength=n)
    values = totals.reshape(n, n_alpha, n_r).swapaxes(1, 2)
    return Resampled(values=np.ascontiguousarray(values), outside=outside)


def polar_matrix(r_edges: Sequence[float], n_alpha: int, shape: tuple[int, int], cell_size: tuple[float, float],
                 *, overflow: Overflow = "fold", max_points_per_side: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The linear map of :func:`polar_to_cartesian`: ``(n_bins, ny * nx)`` fractions and ``(n_bins,)`` outside.

    Row ``alpha * n_r + r`` (file order) gives the fraction of that bin's area in each cell
    (row-major ``(ny, nx)``); ``outside`` the fraction beyond the grid (kept in the edge cells
    with ``"fold"``, so rows then sum to 1).
    """
    _check_overflow(overflow)
    edges = np.asarray(r_edges, dtype=np.float64)
    ny, nx = shape
    dx, dy = (float(c) for c in cell_size)
    spacing = min(dx, dy) / 2
    n_r = edges.size - 1
    width = 2 * np.pi / n_alpha
    matrix = np.zeros((n_r * n_alpha, ny * nx))
    outside = np.zeros(n_r * n_alpha)
    for i in range(n_r):
        r0, r1 = edges[i], edges[i + 1]
        m_r = int(min(max_points_per_side, max(1, math.ceil((r1 - r0) / spacing))))
        m_a = int(min(max_points_per_side, max(1, math.ceil(r1 * width / spacing))))
        radii = np.sqrt(r0**2 + (np.arange(m_r) + 0.5) / m_r * (r1**2 - r0**2))
        for j in range(n_alpha):
            angles = -np.pi + width * (j + (np.arange(m_a) + 0.5) / m_a)
            px = (radii[:, None] * np.cos(angles)[None, :]).ravel()
            py = (radii[:, None] * np.sin(angles)[None, :]).ravel()
            cx = np.floor((px + nx * dx / 2) / dx).astype(np.int64)
            cy = np.floor((py + ny * dy / 2) / dy).astype(np.int64)
            out = (cx < 0) | (cx >= nx) | (cy < 0) | (cy >= ny)
            row = j * n_r + i
            outside[row] = out.mean()
            if overflow == "fold":
                cx, cy, weight = np.clip(cx, 0, nx - 1), np.clip(cy, 0, ny - 1), np.full(px.size, 1.0 / px.size)
            else:
                cx, cy, weight = cx[~out], cy[~out], np.full(int((~out).sum()), 1.0 / px.size)
            matrix[row] = np.bincount(cy * nx + cx, weights=weight, minlength=ny * nx)
    return matrix, outside


def polar_to_cartesian(
    voxels: np.ndarray,
    r_edges: Sequence[float],
    n_alpha: int,
    shape: tuple[int, int],
    cell_size: tuple[float, float],
    *,
    overflow: Overflow = "fold",
    matrix: tuple[np.ndarray, np.ndarray] | None = None,
) -> Resampled:
    """Resample one layer of (r, alpha) voxels onto a Cartesian grid centred on the axis.

    Args:
        voxels: ``(N, n_r, n_alpha)`` energies, MeV.
        r_edges: radial bin edges, mm.
        n_alpha: alpha bins.
        shape: ``(ny, nx)`` cells of the target grid.
        cell_size: ``(dx, dy)`` mm.
        overflow: ``"fold"`` (energy beyond the grid into the nearest edge cell) or ``"drop"``.
        matrix: a precomputed :func:`polar_matrix` for these arguments (reused across layers).

    Returns:
        :class:`Resampled` with values ``(N, ny, nx)``.
    """
    voxels = np.asarray(voxels)
    n, n_r, n_a = voxels.shape
    if (n_r, n_a) != (len(r_edges) - 1, n_alpha):
        msg = f"voxels of shape {voxels.shape} do not fit {len(r_edges) - 1} r x {n_alpha} alpha bins"
        raise ConfigError(msg)
    weights, outside = polar_matrix(r_edges, n_alpha, shape, cell_size, overflow=overflow) if matrix is None else matrix
    flat = np.swapaxes(voxels, 1, 2).reshape(n, -1).astype(np.float64)
    values = (flat @ weights).reshape(n, *shape)
    return Resampled(values=values, outside=flat @ outside)
