"""The runtime geometry: slab arrays, sections, cell and slab lookup, homogeneous blocks."""

from __future__ import annotations

import numpy as np
import pytest

from calolab.detector import Calorimeter, homogeneous_block, load_detector
from calolab.errors import ConfigError

TWO_SECTIONS = """
name = "test"
description = "two sections with a gap, general slabs form and a readout table"
[[sections]]
name = "ECAL"
cells = [4, 2]
cell_size = [10.0, 5.0]
  [[sections.layers]]
  count = 2
  absorber = { material = "W", thickness = 2.0 }
  active = { material = "Si", thickness = 0.5 }
  [[sections.layers]]
  count = 1
  repeat = 2
  slabs = [{ material = "Pb", thickness = 1.0 }, { material = "Si", thickness = 0.5, active = true },
           { material = "W", thickness = 0.25 }]
[[sections]]
name = "HCAL"
cells = [3, 3]
cell_size = [30.0, 30.0]
gap_before = { thickness = 10.0 }
  [[sections.layers]]
  count = 2
  absorber = { material = "Fe", thickness = 20.0 }
  active = { material = "polystyrene", thickness = 5.0 }
  [sections.readout]
  sampling_fraction = 0.0254
  photoelectrons_per_mev = 15
  noise_mev = 0.1
  threshold_mev = 0.5
"""


@pytest.fixture
def detector() -> Calorimeter:
    return Calorimeter.from_toml(TWO_SECTIONS)


def test_slab_arrays(detector: Calorimeter) -> None:
    arrays = detector.slab_arrays()
    # ECAL: 2 x (W, Si) + 2 x (Pb, Si, W); gap; HCAL: 2 x (Fe, polystyrene)
    assert len(detector.slabs) == 4 + 6 + 1 + 4
    expected_thickness = [2.0, 0.5, 2.0, 0.5, 1.0, 0.5, 0.25, 1.0, 0.5, 0.25, 10.0, 20.0, 5.0, 20.0, 5.0]
    np.testing.assert_allclose(arrays["thickness"], expected_thickness)
    np.testing.assert_allclose(arrays["z_front"], np.concatenate([[0.0], np.cumsum(expected_thickness)[:-1]]))
    np.testing.assert_array_equal(arrays["section"], [0] * 10 + [1] * 5)
    np.testing.assert_array_equal(arrays["layer"], [0, 0, 1, 1, 2, 2, 2, 2, 2, 2, -1, 0, 0, 1, 1])
    np.testing.assert_array_equal(arrays["active"], [0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1])
    names = [m.name for m in detector.materials()]
    assert names == ["W", "Si", "Pb", "air", "Fe", "polystyrene"]  # order of first use in z
    np.testing.assert_array_equal(arrays["material"], [0, 1, 0, 1, 2, 1, 0, 2, 1, 0, 3, 4, 5, 4, 5])
    assert all(
        detector.material_index(s) == i for s, i in zip(detector.slabs, arrays["material"], strict=True)
    )
    with pytest.raises(ValueError, match="read-only"):
        arrays["z_front"][0] = 1.0


def test_gap_slab(detector: Calorimeter) -> None:
    gap = detector.slabs[10]
    assert (gap.section, gap.layer, gap.active, gap.material.name) == (1, -1, False, "air")
    hcal = detector.section("HCAL")
    assert hcal.gap is gap
    assert hcal.z_front == gap.z_back == pytest.approx(8.5 + 10.0)  # ECAL 2 x 2.5 + 2 x 1.75 mm
    assert hcal.index == 1 and hcal.slabs[0].z_front == hcal.z_front
    # the gap counts in the calorimeter's depth but not in the section's
    assert hcal.depth_radiation_lengths == pytest.approx(sum(s.radiation_lengths for s in hcal.slabs))
    assert detector.depth == pytest.approx(18.5 + 50.0)


def test_section_geometry(detector: Calorimeter) -> None:
    ecal = detector.section("ECAL")
    assert (ecal.n_layers, ecal.n_cells_x, ecal.n_cells_y) == (3, 4, 2)
    assert ecal.shape == (3, 2, 4)
    assert (ecal.width_x, ecal.width_y) == (40.0, 10.0)
    assert (ecal.z_front, ecal.z_back) == (0.0, pytest.approx(8.5))
    # layer 0: 0..2.5, layer 1: 2.5..5, layer 2 (2 x 1.75 mm summed): 5..8.5
    np.testing.assert_allclose(ecal.layer_z_centres(), [1.25, 3.75, 6.75])
    np.testing.assert_allclose(ecal.cell_centres_x(), [-15.0, -5.0, 5.0, 15.0])
    np.testing.assert_allclose(ecal.cell_centres_y(), [-2.5, 2.5])
    assert ecal.layers[2].repeat == 2 and ecal.layers[2].active_thickness == pytest.approx(1.0)


def test_cell_index() -> None:
    ecal = load_detector("clic").section("ECAL")  # 51 x 51 cells of 5.1 mm, centred
    ix, iy = ecal.cell_index(np.array([0.0, -130.0, 130.0, 131.0, 2.6]), np.array([0.0, 0.0, 0.0, 0.0, -2.6]))
    np.testing.assert_array_equal(ix, [25, 0, 50, -1, 26])
    np.testing.assert_array_equal(iy, [25, 25, 25, -1, 24])


def test_slab_index(detector: Calorimeter) -> None:
    index = detector.slab_index(np.array([-1.0, 0.0, 1.0, 2.0, 2.1, 68.4, 68.5]))
    np.testing.assert_array_equal(index, [-1, 0, 0, 1, 1, 14, -1])


def test_readout_table_kept(detector: Calorimeter) -> None:
    readout = detector.section("HCAL").readout
    assert readout.sampling_fraction == 0.0254
    assert (readout.photoelectrons_per_mev, readout.noise_mev, readout.threshold_mev) == (15.0, 0.1, 0.5)
    assert readout.excess_noise_factor == 1.0  # a default
    assert detector.section("ECAL").readout.is_default
    assert detector.to_toml().count("[sections.readout]") == 1  # a default table is not written
    again = Calorimeter.from_toml(detector.to_toml())
    assert again == detector
    assert again.section("HCAL").readout == readout


def test_round_trip_through_file(detector: Calorimeter, tmp_path) -> None:
    path = tmp_path / "det.toml"
    path.write_text(detector.to_toml())
    assert load_detector(path) == detector
    assert load_detector(str(path)) == detector
    assert Calorimeter.from_toml(path) == detector


def test_equality_and_load_passthrough(detector: Calorimeter) -> None:
    assert load_detector(detector) is detector
    assert load_detector(detector.config) == detector
    assert Calorimeter.from_config(detector.config) == detector
    assert detector != load_detector("clic")


def test_section_lookup_error(detector: Calorimeter) -> None:
    with pytest.raises(ConfigError, match=r"no section 'FCAL': choose one of \['ECAL', 'HCAL'\]"):
        detector.section("FCAL")


def test_summary_rows() -> None:
    rows = load_detector("clic").summary()
    assert [row["section"] for row in rows] == ["ECAL", "HCAL"]
    assert rows[0]["composition"] == "17 x (2.4 W + 0.5 Si*), 8 x (4.8 W + 0.5 Si*)"
    assert rows[0]["cells"] == (51, 51) and rows[1]["gap"] == 20.0
    assert rows[1]["z_front"] == pytest.approx(91.7 + 20.0)
    shashlik = load_detector("compass-shashlik").summary()[0]
    assert shashlik["composition"] == "1 x [109 x (0.8 Pb + 1.5 polystyrene*)]"


def test_homogeneous_block() -> None:
    block = homogeneous_block(
        "PbWO4", depth_radiation_lengths=25.0, width_moliere_radii=10.0, layers=25, cells=20
    )
    section = block.sections[0]
    assert section.shape == (25, 20, 20)
    assert section.depth_radiation_lengths == pytest.approx(25.0, rel=1e-12)
    x0 = section.slabs[0].material.radiation_length
    rm = section.slabs[0].material.moliere_radius
    assert section.slabs[0].thickness == pytest.approx(x0)
    assert section.width_x == pytest.approx(10.0 * rm)
    assert all(slab.active for slab in section.slabs)
    assert Calorimeter.from_toml(block.to_toml()) == block


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depth_radiation_lengths": 0.0}, "depth_radiation_lengths must be > 0, got 0.0"),
        ({"layers": 0}, "layers must be an integer >= 1, got 0"),
        ({"cells": 2.5}, "cells must be an integer >= 1, got 2.5"),
        ({"material": "Unobtainium"}, "Unobtainium"),
    ],
)
def test_homogeneous_block_errors(kwargs: dict, message: str) -> None:
    arguments = {
        "material": "W",
        "depth_radiation_lengths": 20.0,
        "width_moliere_radii": 5.0,
        "layers": 10,
        "cells": 5,
    } | kwargs
    with pytest.raises(ConfigError, match=message):
        homogeneous_block(**arguments)


def test_material_aliases_share_one_entry() -> None:
    text = TWO_SECTIONS.replace('material = "W", thickness = 0.25', 'material = "tungsten", thickness = 0.25')
    detector = Calorimeter.from_toml(text)
    assert [m.name for m in detector.materials()] == ["W", "Si", "Pb", "air", "Fe", "polystyrene"]
    assert detector.slabs[6].material.name == "W"
    assert detector.slab_arrays()["material"][6] == 0
    assert "tungsten" in detector.to_toml()  # the config keeps the name as written
