"""Shower observables on hand-made showers (exact values) and read from a file in chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calolab.data.showerfile import ShowerFile
from calolab.validate import SectionGeometry, high_level_features, read_observables, section_observables

GEOMETRY = SectionGeometry("ECAL", z=np.array([10.0, 30.0, 50.0, 70.0, 90.0, 110.0]), y=np.array([-10.0, 0.0, 10.0]),
                           x=np.array([-10.0, 0.0, 10.0]))


def test_single_cell_and_two_cell_showers() -> None:
    cells = np.zeros((3, 6, 3, 3), np.float32)
    cells[0, 2, 1, 2] = 500.0  # one cell: layer 2 (z = 50), y = 0, x = +10
    cells[1, 0, 1, 0] = 100.0  # two cells in x, layers 0 and 5
    cells[1, 5, 1, 2] = 100.0
    out = section_observables(cells, np.array([1000.0, 400.0, 1000.0]), GEOMETRY)
    assert out["energy"].tolist() == [500.0, 200.0, 0.0]
    assert out["energy_ratio"].tolist() == [0.5, 0.5, 0.0]
    assert out["n_hits"].tolist() == [1, 2, 0]
    assert out["centre_x"][0] == 10.0 and out["centre_y"][0] == 0.0 and out["width_x"][0] == 0.0
    assert out["depth_mean"][0] == 50.0 and out["depth_width"][0] == 0.0
    assert out["centre_x"][1] == 0.0 and out["width_x"][1] == pytest.approx(10.0)  # +-10 mm, equal energies
    assert out["lateral_width"][1] == pytest.approx(10.0)
    assert out["depth_mean"][1] == 60.0 and out["depth_width"][1] == pytest.approx(50.0)
    # thirds of 6 layers: 0-1, 2-3, 4-5
    assert [out[f"fraction_{p}"][1] for p in ("front", "middle", "back")] == [0.5, 0.0, 0.5]
    assert out["fraction_middle"][0] == 1.0
    assert out["layer_energy"].shape == (3, 6) and out["layer_energy"][0, 2] == 500.0
    assert out["layer_mean_cell_energy"][1, 0] == 100.0 and np.isnan(out["layer_mean_cell_energy"][1, 1])
    assert np.isnan(out["layer_centre_x"][0, 0]) and out["layer_centre_x"][0, 2] == 10.0
    assert out["profile_x"][1].tolist() == [100.0, 0.0, 100.0]
    assert out["cell_energy"].tolist() == [500.0, 100.0, 100.0] and out["cell_event"].tolist() == [0, 1, 1]
    assert np.all(np.isnan(out["centre_x"][2:]))  # an empty event has no centre


def test_threshold_and_short_sections() -> None:
    cells = np.zeros((1, 6, 3, 3), np.float32)
    cells[0, 0, 1, 1], cells[0, 0, 0, 0] = 10.0, 0.4
    out = section_observables(cells, np.array([100.0]), GEOMETRY, threshold_mev=0.5)
    assert out["n_hits"][0] == 1 and out["energy"][0] == 10.0 and out["width_x"][0] == 0.0
    one_layer = SectionGeometry.from_shape("crystal", (1, 3, 3))
    out = section_observables(np.ones((2, 1, 3, 3)), np.ones(2), one_layer)
    assert "depth_mean" not in out and "fraction_front" not in out  # no longitudinal shape with one layer
    assert out["centre_x"].tolist() == [1.0, 1.0]  # index coordinates: the middle column


def test_read_observables_matches_arrays_and_chunking(shower_files: dict[str, Path]) -> None:
    with ShowerFile(shower_files["reference"]) as showers:
        whole = read_observables(showers, max_events=250)
        chunked = read_observables(showers, max_events=250, chunk=37)
        cells = showers.energy("block", slice(0, 250))
        e_inc = showers.primaries(slice(0, 250)).event_energy()
        geometry = SectionGeometry.from_section(showers.detector.section("block"))
    assert whole.n_events == 250 and whole.geometry["block"].unit == "mm"
    direct = section_observables(cells, e_inc, geometry)
    for key, values in direct.items():
        np.testing.assert_array_equal(whole.sections["block"][key], values, err_msg=key)
        np.testing.assert_allclose(chunked.sections["block"][key], values, rtol=1e-12, err_msg=key)  # BLAS order
    assert np.all(whole.pdg == 11) and np.allclose(whole.e_inc, 1000.0)
    # 1 GeV e- in 25 X0 of CsI, 6 R_M wide: nearly contained; the mean depth is a few X0 (X0 = 18.6 mm, PDG)
    assert 0.9 < np.nanmean(whole.sections["block"]["energy_ratio"]) < 1.0
    assert 3 * 18.6 < np.nanmean(whole.sections["block"]["depth_mean"]) < 8 * 18.6
    features, names = high_level_features(whole)
    assert features.shape == (250, len(names)) and np.all(np.isfinite(features))
    assert names[0] == "log_e_inc" and "block/layer_energy_ratio[9]" in names
