"""Features on toy showers with hand-computed values, invariances, empty events and the file reader."""

from __future__ import annotations

import math

import numpy as np
import pytest

import calolab
from calolab.errors import ConfigError, DatasetError
from calolab.features import (
    RATIO_CAP,
    compute_features,
    feature_matrix,
    feature_names,
    features_from_file,
    stack_features,
)

CMS = calolab.load_detector("cms")  # 11 x 11 crystals of 22 mm, one layer
PITCH = 22.0


def _cms(*cells: tuple[int, int, float], n: int = 1) -> np.ndarray:
    """(n, 1, 11, 11) MeV with (iy, ix, energy) cells set in every event."""
    array = np.zeros((n, 1, 11, 11))
    for iy, ix, energy in cells:
        array[:, 0, iy, ix] = energy
    return array


def test_single_cell() -> None:
    f = compute_features({"ECAL": _cms((5, 5, 1000.0))}, CMS)
    assert f["ECAL_energy"][0] == pytest.approx(1000.0)
    assert f["energy_total"][0] == pytest.approx(1000.0)
    for name in ("ECAL_r9", "ECAL_e1_e9", "ECAL_e9_e25"):
        assert f[name][0] == pytest.approx(1.0)
    for name in ("ECAL_rms_x", "ECAL_rms_y", "ECAL_cov_xy", "ECAL_sigma_ieta_ieta", "ECAL_sigma_iphi_iphi"):
        assert f[name][0] == pytest.approx(0.0, abs=1e-12)
    assert f["ECAL_n_cells"][0] == 1
    # one crystal layer 0-230 mm: its centre (115 mm) lies in the middle third
    assert f["ECAL_depth_mean"][0] == pytest.approx(115.0)
    assert (f["ECAL_frac_front"][0], f["ECAL_frac_middle"][0], f["ECAL_frac_back"][0]) == (0.0, 1.0, 0.0)


def test_two_cells() -> None:
    f = compute_features({"ECAL": _cms((5, 5, 3000.0), (5, 6, 1000.0))}, CMS)
    # energy-weighted mean 0.25 cells = 5.5 mm right of the seed; variance (3 * 5.5^2 + 16.5^2) / 4 mm^2
    assert f["ECAL_cov_xx"][0] == pytest.approx((3 * 5.5**2 + 16.5**2) / 4)
    assert f["ECAL_rms_x"][0] == pytest.approx(math.sqrt(90.75))
    assert f["ECAL_rms_y"][0] == pytest.approx(0.0, abs=1e-12)
    assert f["ECAL_cov_xy"][0] == pytest.approx(0.0, abs=1e-9)
    assert f["ECAL_e1_e9"][0] == pytest.approx(0.75)
    assert f["ECAL_r9"][0] == pytest.approx(1.0)
    # CMS log weights w = 4.7 + ln(E_i / E_5x5) about the linear mean 0.25 cells
    w1, w2 = 4.7 + math.log(0.75), 4.7 + math.log(0.25)
    expected = math.sqrt((w1 * 0.25**2 + w2 * 0.75**2) / (w1 + w2))
    assert f["ECAL_sigma_iphi_iphi"][0] == pytest.approx(expected)
    assert f["ECAL_sigma_ieta_ieta"][0] == pytest.approx(0.0, abs=1e-12)


def test_three_by_three_pattern_and_rings() -> None:
    edges = [(4, 5, 50.0), (6, 5, 50.0), (5, 4, 50.0), (5, 6, 50.0)]
    corners = [(4, 4, 25.0), (4, 6, 25.0), (6, 4, 25.0), (6, 6, 25.0)]
    cells = _cms((5, 5, 600.0), *edges, *corners, (5, 7, 100.0), (5, 9, 250.0))
    f = compute_features({"ECAL": cells}, CMS)
    assert f["ECAL_energy"][0] == pytest.approx(1250.0)
    assert f["ECAL_r9"][0] == pytest.approx(900.0 / 1250.0)
    assert f["ECAL_e1_e9"][0] == pytest.approx(600.0 / 900.0)
    assert f["ECAL_e9_e25"][0] == pytest.approx(900.0 / 1000.0)
    # the 3x3 is symmetric in y: the y covariance is that of the 3x3 rows alone
    assert f["ECAL_cov_yy"][0] == pytest.approx(2 * (50 + 2 * 25) * PITCH**2 / 1250.0)
    assert f["ECAL_n_cells"][0] == 11
    assert compute_features({"ECAL": cells}, CMS, threshold_mev=60.0)["ECAL_n_cells"][0] == 3


def test_layers_depth_and_thirds() -> None:
    block = calolab.homogeneous_block("PbWO4", 6.0, 4.0, layers=6, cells=5)
    section = block.sections[0]
    cells = np.zeros((1, *section.shape))
    cells[0, :, 2, 2] = [100.0, 300.0, 200.0, 200.0, 100.0, 100.0]
    f = compute_features({"block": cells}, block)
    z = section.layer_z_centres()
    weights = cells[0, :, 2, 2] / 1000.0
    assert f["block_depth_mean"][0] == pytest.approx(float(weights @ z))
    assert f["block_depth_width"][0] == pytest.approx(math.sqrt(float(weights @ (z - weights @ z) ** 2)))
    assert f["block_depth_mean_layer"][0] == pytest.approx(float(weights @ np.arange(6)))
    assert [f[f"block_layer_{k}"][0] for k in range(6)] == [100.0, 300.0, 200.0, 200.0, 100.0, 100.0]
    # six equal layers: two per third
    assert f["block_frac_front"][0] == pytest.approx(0.4)
    assert f["block_frac_middle"][0] == pytest.approx(0.4)
    assert f["block_frac_back"][0] == pytest.approx(0.2)


def test_hcal_ecal_ratio_and_names() -> None:
    clic = calolab.load_detector("clic")
    ecal = np.zeros((3, *clic.section("ECAL").shape))
    hcal = np.zeros((3, *clic.section("HCAL").shape))
    ecal[0, 3, 25, 25] = 800.0
    hcal[0, 2, 8, 8] = 200.0
    hcal[1, 2, 8, 8] = 50.0  # nothing in the ECAL
    f = compute_features({"ECAL": ecal, "HCAL": hcal}, clic)
    assert f["hcal_ecal_ratio"].tolist() == [pytest.approx(0.25), RATIO_CAP, 0.0]
    assert f["energy_total"].tolist() == [pytest.approx(1000.0), pytest.approx(50.0), 0.0]
    assert list(f) == feature_names(clic)
    X, names = feature_matrix({"ECAL": ecal}, clic)
    assert names == feature_names(clic, ["ECAL"]) and "hcal_ecal_ratio" not in names
    assert X.shape == (3, len(names))
    assert np.array_equal(stack_features(f, names[:3]), np.stack([f[n] for n in names[:3]], axis=1))


def test_translation_by_whole_cells_keeps_shapes() -> None:
    rng = np.random.default_rng(3)
    cells = np.zeros((20, 1, 11, 11))
    cells[:, 0, 3:8, 3:8] = rng.exponential(100.0, (20, 5, 5))
    cells[:, 0, 5, 5] += 2000.0  # a clear seed
    shifted = np.zeros_like(cells)
    shifted[:, :, 1:9, 5:11] = cells[:, :, 2:10, 2:8]  # three cells along x, one back along y; nothing leaves the grid
    a = compute_features({"ECAL": cells}, CMS)
    b = compute_features({"ECAL": shifted}, CMS)
    for name in ("ECAL_rms_x", "ECAL_rms_y", "ECAL_cov_xy", "ECAL_r9", "ECAL_e1_e9", "ECAL_e9_e25",
                 "ECAL_sigma_ieta_ieta", "ECAL_sigma_iphi_iphi", "ECAL_n_cells"):
        np.testing.assert_allclose(b[name], a[name], rtol=1e-10, atol=1e-9, err_msg=name)


def test_translation_of_simulated_showers() -> None:
    block = calolab.homogeneous_block("PbWO4", 20.0, 8.0, layers=4, cells=16)
    showers = calolab.simulate(block, n=20, particle="e-", energy="2GeV", seed=5)
    cells = showers.active["block"]
    shifted = np.zeros_like(cells)
    shifted[..., :, 2:] = cells[..., :, :-2]
    a = compute_features({"block": cells}, block)
    b = compute_features({"block": shifted}, block)
    lost = 1 - b["block_energy"] / a["block_energy"]
    assert np.all(lost < 0.01)
    for name in ("block_rms_y", "block_r9", "block_sigma_ieta_ieta", "block_sigma_iphi_iphi", "block_depth_mean"):
        np.testing.assert_allclose(b[name], a[name], rtol=0.05, err_msg=name)


def test_empty_events_are_finite() -> None:
    clic = calolab.load_detector("clic")
    empty = {name: np.zeros((2, *clic.section(name).shape), dtype=np.float32) for name in ("ECAL", "HCAL")}
    f = compute_features(empty, clic)  # pytest turns any numpy warning into an error
    for name, values in f.items():
        assert np.all(np.isfinite(values)), name
        assert np.all(values == 0.0), name


def test_bad_input() -> None:
    with pytest.raises(ConfigError, match="HCAL"):
        compute_features({"HCAL": np.zeros((1, 1, 11, 11))}, CMS)
    with pytest.raises(DatasetError, match=r"expected \(N, 1, 11, 11\)"):
        compute_features({"ECAL": np.zeros((1, 11, 11))}, CMS)
    with pytest.raises(ConfigError, match="threshold_mev"):
        compute_features({"ECAL": _cms()}, CMS, threshold_mev=-1.0)


def test_features_from_file(tmp_path) -> None:
    showers = calolab.simulate("cms", n=12, particle="gamma", energy="2GeV", seed=2)
    path = calolab.write_showers(tmp_path / "g.h5", showers, CMS)
    direct = compute_features(showers.active, CMS)
    chunked = features_from_file(path, chunk=5)
    assert list(chunked) == list(direct)
    for name in direct:
        np.testing.assert_allclose(chunked[name], direct[name], rtol=1e-12, err_msg=name)
    picked = features_from_file(path, np.array([7, 2, 3]), chunk=2)
    np.testing.assert_allclose(picked["ECAL_r9"], direct["ECAL_r9"][[7, 2, 3]])
    with pytest.raises(DatasetError, match="no digitized signal"):
        features_from_file(path, signal="digitized")
    with pytest.raises(DatasetError, match="does not exist"):
        features_from_file(tmp_path / "missing.h5")
