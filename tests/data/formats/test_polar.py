"""Cartesian <-> (r, alpha) resampling: the right bin for a single cell, energy conservation, overflow."""

from __future__ import annotations

import numpy as np
import pytest

from calolab.data.formats.calochallenge import BUILTIN_BINNINGS
from calolab.data.formats.polar import cartesian_to_polar, polar_matrix, polar_to_cartesian
from calolab.errors import ConfigError

DS2 = BUILTIN_BINNINGS["dataset2"].layers[0]  # 9 r bins of 4.65 mm, 16 alpha bins of 22.5 deg


def single_cell(x: float, y: float, n: int = 40, size: float = 1.0) -> np.ndarray:
    cells = np.zeros((1, n, n), dtype=np.float32)
    ix, iy = int(np.floor((x + n * size / 2) / size)), int(np.floor((y + n * size / 2) / size))
    cells[0, iy, ix] = 7.0
    return cells


@pytest.mark.parametrize(("x", "y", "axis", "r_bin", "alpha_bin"), [
    # r = 20 mm is in [18.6, 23.25) -> bin 4; alpha = 0.2 rad is in [0, 22.5 deg) -> bin 8 (bins start at -pi)
    (20 * np.cos(0.2), 20 * np.sin(0.2), (0.0, 0.0), 4, 8),
    # alpha = -2.9 rad: bin floor((pi - 2.9) / (2 pi / 16)) = 0; r = 6.5 mm -> bin 1
    (6.5 * np.cos(-2.9), 6.5 * np.sin(-2.9), (0.0, 0.0), 1, 0),
    # the same cell seen from an axis at (-5, 3): r and alpha are measured from the axis
    (-5 + 20 * np.cos(0.2), 3 + 20 * np.sin(0.2), (-5.0, 3.0), 4, 8),
])
def test_single_cell_lands_in_its_bin(x: float, y: float, axis: tuple[float, float], r_bin: int,
                                      alpha_bin: int) -> None:
    result = cartesian_to_polar(single_cell(x, y), (1.0, 1.0), DS2.r_edges, DS2.n_alpha, np.array([axis]),
                                subdivisions=4)
    assert result.values.shape == (1, 9, 16)
    assert np.argwhere(result.values[0] > 0).tolist() == [[r_bin, alpha_bin]]
    assert result.values[0, r_bin, alpha_bin] == pytest.approx(7.0) and result.outside[0] == 0.0


def test_cartesian_to_polar_conserves_energy_and_reports_overflow() -> None:
    rng = np.random.default_rng(5)
    cells = rng.exponential(1.0, (6, 24, 24)).astype(np.float32)  # 24 x 5 mm = 120 mm wide: corners beyond 41.85 mm
    axis = rng.normal(0.0, 4.0, (6, 2))
    total = cells.sum(axis=(1, 2), dtype=np.float64)
    folded = cartesian_to_polar(cells, (5.0, 5.0), DS2.r_edges, DS2.n_alpha, axis)
    np.testing.assert_allclose(folded.values.sum(axis=(1, 2)), total, rtol=1e-12)
    assert np.all(folded.outside > 0.3 * total)  # most of the square lies beyond 41.85 mm
    dropped = cartesian_to_polar(cells, (5.0, 5.0), DS2.r_edges, DS2.n_alpha, axis, overflow="drop")
    np.testing.assert_allclose(dropped.values.sum(axis=(1, 2)) + dropped.outside, total, rtol=1e-12)
    np.testing.assert_allclose(dropped.outside, folded.outside, rtol=1e-12)
    # only the outermost radial bin differs between fold and drop
    np.testing.assert_allclose(dropped.values[:, :-1], folded.values[:, :-1], rtol=1e-12)
    with pytest.raises(ConfigError, match="overflow"):
        cartesian_to_polar(cells, (5.0, 5.0), DS2.r_edges, DS2.n_alpha, overflow="keep")  # type: ignore[arg-type]


def test_polar_to_cartesian_spreads_a_bin_over_its_area() -> None:
    voxels = np.zeros((1, 9, 16))
    voxels[0, 0, :] = 1.0  # the inner disc r < 4.65 mm, all alpha: 16 MeV
    result = polar_to_cartesian(voxels, DS2.r_edges, DS2.n_alpha, (20, 20), (1.0, 1.0))
    cells = result.values[0]
    assert cells.sum() == pytest.approx(16.0)
    centres = (np.arange(20) + 0.5) - 10
    radius = np.hypot(centres[None, :], centres[:, None])
    assert cells[radius > 4.65 + 0.75].sum() == 0.0  # nothing beyond the disc (plus half a cell diagonal)
    # uniform density: a cell well inside the disc holds ~ 16 MeV x 1 mm^2 / (pi 4.65^2 mm^2)
    assert cells[10, 10] == pytest.approx(16.0 / (np.pi * 4.65**2), rel=0.1)
    matrix, outside = polar_matrix(DS2.r_edges, DS2.n_alpha, (4, 4), (5.0, 5.0))
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)  # fold: every bin keeps its energy
    assert outside[-1] > 0.5 and outside[0] == 0.0  # a 20 mm grid misses most of the outer ring
