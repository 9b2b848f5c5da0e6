"""Every preset loads, has the documented depth and shape, and survives a TOML round trip."""

from __future__ import annotations

import numpy as np
import pytest

from calolab.detector import Calorimeter, list_presets, load_detector

# Radiation and interaction lengths in mm, PDG "Atomic and nuclear properties of materials"
# (as listed in /work/shared/REFERENCES.md); the hand computations below use only these.
X0 = {
    "W": 3.504,
    "Si": 93.70,
    "Fe": 17.57,
    "polystyrene": 413.1,
    "PbWO4": 8.903,
    "CsI": 18.6,
    "Pb": 5.612,
    "LAr": 140.0,
}
LAMBDA = {"Fe": 167.7, "polystyrene": 770.7, "W": 99.46, "Si": 465.2}
REL = 0.005  # the materials module computes X0 itself (Tsai); 0.5% covers that, not one layer too many

EXPECTED_X0 = {
    # CLIC ECAL: 17 x 2.4 + 8 x 4.8 = 79.2 mm W, 25 x 0.5 mm Si (~23 X0, REFERENCES.md [R])
    ("clic", "ECAL"): 79.2 / X0["W"] + 12.5 / X0["Si"],  # 22.74
    # CLIC HCAL: 60 x (19 mm steel + 3 mm polystyrene)
    ("clic", "HCAL"): 60 * 19.0 / X0["Fe"] + 60 * 3.0 / X0["polystyrene"],  # 65.3
    # CMS crystal: 230 mm PbWO4 = 25.8 X0 (CMS ECAL TDR)
    ("cms", "ECAL"): 230.0 / X0["PbWO4"],
    ("pisa-csi", "ECAL"): 12 * 50.0 / X0["CsI"],  # 32.3
    ("compass-shashlik", "ECAL"): 109 * (0.8 / X0["Pb"] + 1.5 / X0["polystyrene"]),  # 15.9
    # CALICE Si-W: 10 x (1.4 + 2.8 + 4.2) = 84 mm W (24 X0 quoted in NIM A608 (2009) 372)
    ("calice-siw", "ECAL"): 84.0 / X0["W"] + 30 * 0.525 / X0["Si"],  # 24.1
    ("calice-ahcal", "HCAL"): 38 * 20.0 / X0["Fe"] + 38 * 5.0 / X0["polystyrene"],  # 43.7
    # ATLAS-like: 1.53 mm Pb + 4.2 mm LAr per sampling layer, 14 / 53 / 25 layers
    ("atlas-like", "EMB1"): 14 * (1.53 / X0["Pb"] + 4.2 / X0["LAr"]),
    ("atlas-like", "EMB2"): 53 * (1.53 / X0["Pb"] + 4.2 / X0["LAr"]),
    ("atlas-like", "EMB3"): 25 * (1.53 / X0["Pb"] + 4.2 / X0["LAr"]),
}

EXPECTED_SHAPES = {
    "clic": {"ECAL": (25, 51, 51), "HCAL": (60, 17, 17)},
    "cms": {"ECAL": (1, 11, 11)},
    "pisa-csi": {"ECAL": (12, 25, 25)},
    "compass-shashlik": {"ECAL": (1, 9, 9)},
    "calice-siw": {"ECAL": (30, 18, 18)},
    "calice-ahcal": {"HCAL": (38, 24, 24), "TCMT": (16, 20, 20)},
    "atlas-like": {"EMB1": (1, 3, 96), "EMB2": (1, 12, 12), "EMB3": (1, 12, 6)},
}

EXPECTED_DEPTH_MM = {
    "clic": 17 * 2.9 + 8 * 5.3 + 20.0 + 60 * 22.0,  # ECAL + air gap + HCAL
    "cms": 230.0,
    "pisa-csi": 600.0,
    "compass-shashlik": 109 * 2.3,
    "calice-siw": 10 * (1.4 + 2.8 + 4.2) + 30 * 0.525,
    "calice-ahcal": 38 * 25.0 + 50.0 + 8 * 25.0 + 8 * 105.0,  # AHCAL + gap + tail catcher
    "atlas-like": 92 * 5.73,
}


def test_preset_list() -> None:
    assert list_presets() == sorted(EXPECTED_SHAPES)


@pytest.mark.parametrize(("preset", "section"), sorted(EXPECTED_X0))
def test_section_depth_in_radiation_lengths(preset: str, section: str) -> None:
    depth = load_detector(preset).section(section).depth_radiation_lengths
    assert depth == pytest.approx(EXPECTED_X0[(preset, section)], rel=REL)


def test_headline_depths() -> None:
    # published headline figures: CLIC ECAL ~23 X0 [R], CMS crystal 25.8 X0, ATLAS-like stack ~27.6 X0 [R]
    assert load_detector("clic").section("ECAL").depth_radiation_lengths == pytest.approx(22.74, abs=0.3)
    assert load_detector("cms").section("ECAL").depth_radiation_lengths == pytest.approx(25.8, abs=0.2)
    atlas = load_detector("atlas-like")
    assert sum(s.depth_radiation_lengths for s in atlas.sections) == pytest.approx(27.8, abs=0.4)


def test_hcal_depth_in_interaction_lengths() -> None:
    # CLIC HCAL: 60 x 19 mm Fe / 167.7 mm + 60 x 3 mm polystyrene / 770.7 mm = 7.03 lambda_I
    hcal = load_detector("clic").section("HCAL")
    expected = 60 * 19.0 / LAMBDA["Fe"] + 60 * 3.0 / LAMBDA["polystyrene"]
    assert hcal.depth_interaction_lengths == pytest.approx(expected, rel=REL)


@pytest.mark.parametrize("preset", sorted(EXPECTED_SHAPES))
def test_shapes_and_depth(preset: str) -> None:
    detector = load_detector(preset)
    assert detector.shapes == EXPECTED_SHAPES[preset]
    assert detector.depth == pytest.approx(EXPECTED_DEPTH_MM[preset], rel=1e-12)
    assert detector.description and detector.name == preset


@pytest.mark.parametrize("preset", sorted(EXPECTED_SHAPES))
def test_slabs_contiguous_and_ordered(preset: str) -> None:
    detector = load_detector(preset)
    arrays = detector.slab_arrays()
    assert arrays["z_front"][0] == 0.0
    np.testing.assert_array_equal(arrays["z_back"][:-1], arrays["z_front"][1:])  # exactly contiguous
    assert np.all(arrays["thickness"] > 0)
    assert arrays["z_back"][-1] == pytest.approx(detector.depth)
    for section in detector.sections:
        assert section.slabs[0].z_front == section.z_front
        assert section.layers[-1].z_back == section.z_back
        # every readout layer has an active slab
        assert all(any(slab.active for slab in layer.slabs) for layer in section.layers)


@pytest.mark.parametrize("preset", sorted(EXPECTED_SHAPES))
def test_round_trip(preset: str) -> None:
    detector = load_detector(preset)
    again = Calorimeter.from_toml(detector.to_toml())
    assert again == detector
    assert again.to_toml() == detector.to_toml()
    np.testing.assert_array_equal(again.slab_arrays()["z_back"], detector.slab_arrays()["z_back"])


def test_repeat_sums_sub_layers() -> None:
    shashlik = load_detector("compass-shashlik").sections[0]
    (layer,) = shashlik.layers
    assert layer.repeat == 109 and len(layer.slabs) == 218
    assert layer.active_thickness == pytest.approx(109 * 1.5)
    assert [s.material.name for s in layer.slabs[:3]] == ["Pb", "polystyrene", "Pb"]
    assert all(slab.layer == 0 for slab in layer.slabs)
