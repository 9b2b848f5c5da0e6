"""Window extraction on hand-made toy showers: barycentre, centring, padding, projection, angles."""

from __future__ import annotations

import numpy as np
import pytest

from calolab.data.windows import (
    CLIC_VERTEX_DISTANCE,
    WindowSize,
    WindowSpec,
    direction_angles,
    extract_windows,
)
from calolab.detector import Calorimeter, load_detector
from calolab.errors import ConfigError

R = CLIC_VERTEX_DISTANCE


@pytest.fixture(scope="module")
def clic() -> Calorimeter:
    return load_detector("clic")  # ECAL 25 x 51 x 51 (5.1 mm), HCAL 60 x 17 x 17 (30 mm)


def empty_cells(detector: Calorimeter, n: int = 1) -> dict[str, np.ndarray]:
    return {s.name: np.zeros((n, *s.shape), dtype=np.float32) for s in detector.sections}


def test_window_size_parsing() -> None:
    assert WindowSize.parse("51x51x25") == WindowSize(51, 51, 25)
    assert WindowSize.parse(" 11 X 11 x 60 ").shape == (60, 11, 11)
    assert WindowSize.parse((5, 7, 3)) == WindowSize(5, 7, 3)
    assert str(WindowSize(25, 25, 25)) == "25x25x25"
    for bad in ("51x51", "51x51x0", "axbxc", (1, 2)):
        with pytest.raises(ConfigError, match="window"):
            WindowSize.parse(bad)  # type: ignore[arg-type]


def test_spec_validation(clic: Calorimeter) -> None:
    spec = WindowSpec.clic(ecal="25x25x25")
    assert spec.describe() == "ECAL 25x25x25, HCAL 11x11x60"
    assert spec.resolve_centre(clic) == ("ECAL",)
    assert WindowSpec.default_for(clic).sizes == {"ECAL": WindowSize(51, 51, 25), "HCAL": WindowSize(11, 11, 60)}
    assert WindowSpec.parse({"ECAL": "5x5x5"}, centre_on="all").resolve_centre(clic) == ("ECAL", "HCAL")
    with pytest.raises(ConfigError, match="at least one section"):
        WindowSpec({})
    with pytest.raises(ConfigError, match="centre_on"):
        WindowSpec.parse({"ECAL": "5x5x5"}, centre_on="HCAL")
    with pytest.raises(ConfigError, match="projection"):
        WindowSpec.parse({"ECAL": "5x5x5"}, projection="sideways")  # type: ignore[arg-type]
    cells = empty_cells(clic)
    with pytest.raises(ConfigError, match=r"\['PRESHOWER'\] are not in detector 'clic'"):
        extract_windows(cells, clic, WindowSpec.parse({"PRESHOWER": "3x3x1"}))
    with pytest.raises(ConfigError, match="shape"):
        extract_windows({**cells, "ECAL": cells["ECAL"][:, :10]}, clic, spec)
    with pytest.raises(ConfigError, match="missing"):
        extract_windows({"HCAL": cells["HCAL"]}, clic, spec)
    with pytest.raises(ConfigError, match="vertex_distance"):
        extract_windows(cells, clic, spec, vertex_distance=0.0)


def test_single_hot_cell_is_the_barycentre_and_the_window_centre(clic: Calorimeter) -> None:
    ecal = clic.section("ECAL")
    cells = empty_cells(clic)
    cells["ECAL"][0, 3, 30, 20] = 1000.0  # layer 3, y cell 30, x cell 20
    w = extract_windows(cells, clic, WindowSpec.clic(ecal="25x25x25"))
    expected = [ecal.cell_centres_x()[20], ecal.cell_centres_y()[30], ecal.layer_z_centres()[3]]
    np.testing.assert_allclose(w.barycentre[0], expected)
    # cell centres: (20 + 0.5) * 5.1 - 130.05 = -25.5 mm, (30 + 0.5) * 5.1 - 130.05 = 25.5 mm
    np.testing.assert_allclose(w.barycentre[0, :2], [-25.5, 25.5])
    assert w.cells["ECAL"].shape == (1, 25, 25, 25)
    assert w.cells["ECAL"].dtype == np.float32
    assert w.cells["ECAL"][0, 3, 12, 12] == 1000.0  # the centre of a 25-cell window is cell 12
    assert w.cells["ECAL"].sum() == 1000.0
    np.testing.assert_array_equal(w.origin["ECAL"][0], [20 - 12, 30 - 12])
    assert w.cells["HCAL"].shape == (1, 60, 11, 11)
    assert not w.cells["HCAL"].any()


def test_zero_padding_at_the_grid_corner_keeps_every_cell(clic: Calorimeter) -> None:
    rng = np.random.default_rng(3)
    cells = empty_cells(clic)
    cells["ECAL"][0, :, 47:, :4] = rng.uniform(1.0, 2.0, (25, 4, 4))  # a cluster in the corner x = 0, y = 50
    w = extract_windows(cells, clic, WindowSpec.clic())
    window = w.cells["ECAL"][0]
    start_x, start_y = w.origin["ECAL"][0]
    assert start_x < 0 and start_y + 51 > 51  # the window runs off the grid on both sides
    # every in-grid window cell equals the source cell; off-grid cells are zero
    ix, iy = start_x + np.arange(51), start_y + np.arange(51)
    inside = ((iy >= 0) & (iy < 51))[:, None] & ((ix >= 0) & (ix < 51))[None, :]
    source = cells["ECAL"][0][:, np.clip(iy, 0, 50)][:, :, np.clip(ix, 0, 50)]
    np.testing.assert_array_equal(window[:, inside], source[:, inside])
    assert not window[:, ~inside].any()
    assert window.sum(dtype=np.float64) == pytest.approx(cells["ECAL"].sum(dtype=np.float64), rel=1e-6)


def test_even_window_is_symmetric_about_a_cell_boundary(clic: Calorimeter) -> None:
    cells = empty_cells(clic)
    cells["ECAL"][0, 0, 25, 10] = cells["ECAL"][0, 0, 25, 11] = 5.0  # barycentre on the boundary of x cells 10, 11
    w = extract_windows(cells, clic, WindowSpec.parse({"ECAL": "4x3x2"}))
    assert w.cells["ECAL"].shape == (1, 2, 3, 4)
    np.testing.assert_array_equal(w.origin["ECAL"][0], [9, 24])  # x cells 9..12, y cells 24..26
    np.testing.assert_array_equal(w.cells["ECAL"][0, 0, 1], [0.0, 5.0, 5.0, 0.0])


def test_energy_is_conserved_when_the_window_covers_the_shower(clic: Calorimeter) -> None:
    rng = np.random.default_rng(7)
    n = 6
    cells = empty_cells(clic, n)
    for i in range(n):  # compact random clusters at random places inside the grid
        x0, y0 = rng.integers(10, 35, 2)
        cells["ECAL"][i, :, y0: y0 + 6, x0: x0 + 6] = rng.exponential(1.0, (25, 6, 6))
        hx, hy = rng.integers(5, 10, 2)
        cells["HCAL"][i, :, hy - 1: hy + 2, hx - 1: hx + 2] = rng.exponential(1.0, (60, 3, 3))
    w = extract_windows(cells, clic, WindowSpec.parse({"ECAL": "25x25x25", "HCAL": "17x17x60"}))
    for name in ("ECAL", "HCAL"):
        np.testing.assert_allclose(w.cells[name].sum(axis=(1, 2, 3), dtype=np.float64),
                                   cells[name].sum(axis=(1, 2, 3), dtype=np.float64), rtol=1e-5)


def test_hcal_window_follows_the_line_from_the_vertex(clic: Calorimeter) -> None:
    ecal, hcal = clic.section("ECAL"), clic.section("HCAL")
    cells = empty_cells(clic)
    cells["ECAL"][0, 12, 25, 40] = 100.0  # x = (40.5 * 5.1) - 130.05 = 76.5 mm, y = 2.55 mm
    bx, _, bz = ecal.cell_centres_x()[40], ecal.cell_centres_y()[25], ecal.layer_z_centres()[12]
    z_mid = (hcal.z_front + hcal.z_back) / 2
    x_hcal = bx * (R + z_mid) / (R + bz)  # similar triangles from the vertex at z = -R
    ix_expected = int(np.floor((x_hcal + hcal.width_x / 2) / hcal.cell_size_x))
    assert ix_expected != int(np.floor((bx + hcal.width_x / 2) / hcal.cell_size_x))  # the test can tell them apart
    pointing = extract_windows(cells, clic, WindowSpec.clic())
    assert pointing.origin["HCAL"][0, 0] + 5 == ix_expected  # the 11-cell window centres on that cell
    straight = extract_windows(cells, clic, WindowSpec.parse(
        {"ECAL": "51x51x25", "HCAL": "11x11x60"}, projection="straight"))
    assert straight.origin["HCAL"][0, 0] + 5 == int(np.floor((bx + hcal.width_x / 2) / hcal.cell_size_x))


def test_angles_of_a_straight_track_from_the_vertex_match_the_analytic_direction(clic: Calorimeter) -> None:
    ecal = clic.section("ECAL")
    theta, phi = np.radians(87.0), np.radians(2.0)  # polar angle to the beam (x) axis and azimuth
    d = np.array([np.cos(theta), np.sin(theta) * np.sin(phi), np.sin(theta) * np.cos(phi)])
    cells = empty_cells(clic)
    for layer, z in enumerate(ecal.layer_z_centres()):  # one cell per layer, where the line crosses
        t = (z + R) / d[2]
        ix, iy = ecal.cell_index(t * d[0], t * d[1])
        cells["ECAL"][0, layer, int(iy), int(ix)] = 10.0
    w = extract_windows(cells, clic, WindowSpec.clic())
    # cells are 5.1 mm wide at ~1.6 m from the vertex: the estimate is good to ~1.6 mrad
    assert w.theta[0] == pytest.approx(theta, abs=2e-3)
    assert w.phi[0] == pytest.approx(phi, abs=2e-3)
    assert w.eta[0] == pytest.approx(-np.log(np.tan(theta / 2)), abs=2e-3)
    # and exactly the barycentre's direction, computed by hand
    v = w.barycentre[0] + [0.0, 0.0, R]
    assert w.theta[0] == pytest.approx(np.arccos(v[0] / np.linalg.norm(v)), rel=1e-12)
    assert w.phi[0] == pytest.approx(np.arctan2(v[1], v[2]), rel=1e-12)


def test_direction_angles_analytic_values() -> None:
    theta, phi, eta = direction_angles(np.array([[0.5, 0.0, np.sqrt(0.75)],   # 60 deg to the beam
                                                 [0.0, np.sin(0.3), np.cos(0.3)],  # azimuth 0.3 rad
                                                 [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(theta[:2], [np.pi / 3, np.pi / 2])
    np.testing.assert_allclose(phi[:2], [0.0, 0.3], atol=1e-15)
    np.testing.assert_allclose(eta[:2], [-np.log(np.tan(np.pi / 6)), 0.0], atol=1e-15)  # 0.5493
    assert np.isnan([theta[2], phi[2], eta[2]]).all()


def test_empty_event_gets_nan_direction_and_zero_windows(clic: Calorimeter) -> None:
    cells = empty_cells(clic, 2)
    cells["ECAL"][1, 0, 25, 25] = 1.0
    w = extract_windows(cells, clic, WindowSpec.clic())
    assert np.isnan(w.barycentre[0]).all() and np.isnan([w.theta[0], w.phi[0], w.eta[0]]).all()
    assert not w.cells["ECAL"][0].any()
    np.testing.assert_array_equal(w.origin["ECAL"][0], [0, 0])  # centred on the grid: 51 cells from 0
    assert w.theta[1] == pytest.approx(np.pi / 2)


def test_hcal_only_energy_falls_back_to_all_sections(clic: Calorimeter) -> None:
    cells = empty_cells(clic)
    cells["HCAL"][0, 30, 4, 12] = 50.0  # nothing in the ECAL (a late pion shower)
    w = extract_windows(cells, clic, WindowSpec.clic())
    hcal = clic.section("HCAL")
    np.testing.assert_allclose(w.barycentre[0, :2], [hcal.cell_centres_x()[12], hcal.cell_centres_y()[4]])
    assert w.cells["HCAL"].sum() == 50.0


def test_single_section_detector_full_grid_default() -> None:
    det = load_detector("calice-siw")  # one section, 30 layers of 18 x 18 cells
    section = det.sections[0]
    cells = {section.name: np.zeros((1, *section.shape), dtype=np.float32)}
    cells[section.name][0, :, 8:10, 8:10] = 1.0  # symmetric about the grid centre
    w = extract_windows(cells, det)
    assert w.spec.sizes[section.name] == WindowSize(18, 18, 30)
    np.testing.assert_array_equal(w.cells[section.name], cells[section.name])


def test_more_layers_than_the_section_are_zero_padded(clic: Calorimeter) -> None:
    cells = empty_cells(clic)
    cells["ECAL"][0, 24, 25, 25] = 3.0
    w = extract_windows(cells, clic, WindowSpec.parse({"ECAL": "3x3x30"}))
    assert w.cells["ECAL"].shape == (1, 30, 3, 3)
    assert w.cells["ECAL"][0, 24, 1, 1] == 3.0 and not w.cells["ECAL"][0, 25:].any()
