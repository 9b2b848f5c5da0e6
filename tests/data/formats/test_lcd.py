"""The CLIC/LCD layout: write/read round trips, axis order and units, public-style files, errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from calolab.data.formats.lcd import native_to_lcd, primary_truth, read_lcd, write_lcd
from calolab.data.showerfile import write_showers
from calolab.data.windows import WindowSize, WindowSpec, direction_angles, extract_windows
from calolab.detector import Calorimeter, load_detector
from calolab.errors import ConfigError, DatasetError
from calolab.sim.events import Deposits, Primaries


@pytest.fixture(scope="module")
def clic() -> Calorimeter:
    return load_detector("clic")


def toy_cells(detector: Calorimeter, n: int, seed: int) -> dict[str, np.ndarray]:
    """Random compact showers near the grid centre (MeV)."""
    rng = np.random.default_rng(seed)
    cells = {s.name: np.zeros((n, *s.shape), dtype=np.float32) for s in detector.sections}
    cells["ECAL"][:, :, 22:29, 20:30] = rng.exponential(5.0, (n, 25, 7, 10))
    cells["HCAL"][:, :, 7:10, 7:10] = rng.exponential(2.0, (n, 60, 3, 3))
    return cells


def directions(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta, phi = rng.uniform(np.radians(60), np.radians(120), n), rng.uniform(-0.1, 0.1, n)
    return np.stack([np.cos(theta), np.sin(theta) * np.sin(phi), np.sin(theta) * np.cos(phi)], axis=1)


def test_round_trip_keeps_cells_truth_and_axis_order(tmp_path: Path, clic: Calorimeter) -> None:
    n = 5
    cells = toy_cells(clic, n, seed=1)
    spec = WindowSpec.parse({"ECAL": "9x7x25", "HCAL": "5x3x60"})  # non-square: catches swapped axes
    windows = extract_windows(cells, clic, spec)
    energy = np.array([10e3, 20e3, 50e3, 100e3, 510e3])  # MeV
    pdg = np.array([11, 22, 111, 211, -211])
    direction = directions(n, seed=2)
    path = write_lcd(tmp_path / "lcd.h5", windows, energy, pdg, direction=direction)

    with h5py.File(path, "r") as f:  # the public layout: (N, a1 = y, a2 = x, layer), GeV
        assert f["ECAL"].shape == (n, 7, 9, 25) and f["HCAL"].shape == (n, 3, 5, 60)
        assert f["ECAL"].attrs["unit"] == "GeV"
        ecal = windows.cells["ECAL"]
        assert f["ECAL"][2, 3, 4, 10] == pytest.approx(ecal[2, 10, 3, 4] / 1000.0, rel=1e-6)
        np.testing.assert_allclose(f["energy"][:], [10, 20, 50, 100, 510])
        np.testing.assert_allclose(f["ECAL_E"][:], ecal.sum(axis=(1, 2, 3)) / 1000.0, rtol=1e-5)
        hcal_e = windows.cells["HCAL"].sum(axis=(1, 2, 3)) / 1000.0
        np.testing.assert_allclose(f["HCAL_ECAL_ERatio"][:], hcal_e / (ecal.sum(axis=(1, 2, 3)) / 1000.0), rtol=1e-5)
        assert f.attrs["calolab_format"] == "calolab-lcd"
        assert f.attrs["windows"] == "ECAL 9x7x25, HCAL 5x3x60"

    data = read_lcd(path)
    assert len(data) == n
    for name in ("ECAL", "HCAL"):
        np.testing.assert_allclose(data.cells[name], windows.cells[name], rtol=1e-6)
    np.testing.assert_allclose(data.energy, energy, rtol=1e-6)
    np.testing.assert_array_equal(data.pdg, pdg)
    theta, phi, eta = direction_angles(direction)
    np.testing.assert_allclose(data.theta, theta, rtol=1e-6)
    np.testing.assert_allclose(data.phi, phi, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(data.eta, eta, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(data.reco_theta, windows.theta, rtol=1e-6)
    np.testing.assert_allclose(data.reco_eta, windows.eta, rtol=1e-5, atol=1e-7)
    assert set(data.extra) == {"ECAL_E", "HCAL_E", "HCAL_ECAL_ERatio", "barycentre"}
    part = read_lcd(path, slice(1, 3))
    np.testing.assert_allclose(part.cells["ECAL"], windows.cells["ECAL"][1:3], rtol=1e-6)
    np.testing.assert_array_equal(part.pdg, pdg[1:3])


def test_cell_scale_50_mimics_the_public_files_and_is_undone(tmp_path: Path, clic: Calorimeter) -> None:
    windows = extract_windows(toy_cells(clic, 2, seed=3), clic, WindowSpec.parse({"ECAL": "5x5x25"}))
    path = write_lcd(tmp_path / "x50.h5", windows, np.full(2, 1e4), np.full(2, 11), cell_scale=50.0)
    with h5py.File(path, "r") as f:
        # the CLIC converter stores deposited GeV x 50 ("/1000.*50" in Convert_to_h5.py)
        np.testing.assert_allclose(f["ECAL_E"][:], windows.cells["ECAL"].sum(axis=(1, 2, 3)) * 50 / 1000, rtol=1e-5)
        assert f["ECAL"].attrs["unit"] == "GeV x 50"
        assert "theta" not in f  # no truth direction given
    data = read_lcd(path)
    assert data.cell_scale == 50.0 and data.theta is None
    np.testing.assert_allclose(data.cells["ECAL"], windows.cells["ECAL"], rtol=1e-5)
    np.testing.assert_allclose(read_lcd(path, cell_scale=1.0).cells["ECAL"], 50 * windows.cells["ECAL"], rtol=1e-5)


def test_reads_public_style_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ecal = rng.exponential(0.01, (3, 51, 51, 25)).astype(np.float32)  # GeV, (N, a1, a2, layer)
    with h5py.File(tmp_path / "EleEscan_1_1.h5", "w") as f:  # the CLIC-study / 3DGAN names
        f["ECAL"] = ecal
        f["HCAL"] = rng.exponential(0.01, (3, 11, 11, 60)).astype(np.float32)
        f["energy"] = np.array([[12.5], [100.0], [400.0]])  # some files store (N, 1)
        f["pdgID"] = np.array([11, 11, 11])
        f["theta"] = np.radians([80.0, 90.0, 100.0])
        f["recoEta"] = np.array([0.1, 0.0, -0.1])
        f["openingAngle"] = np.zeros(3)
    data = read_lcd(tmp_path / "EleEscan_1_1.h5")
    assert data.cells["ECAL"].shape == (3, 25, 51, 51) and data.cells["HCAL"].shape == (3, 60, 11, 11)
    assert data.cells["ECAL"][1, 7, 2, 30] == pytest.approx(ecal[1, 2, 30, 7] * 1000, rel=1e-6)
    np.testing.assert_allclose(data.energy, [12.5e3, 100e3, 400e3])
    np.testing.assert_array_equal(data.pdg, [11, 11, 11])
    assert data.reco_eta is not None and data.phi is None and data.cell_scale == 1.0
    assert set(data.extra) == {"openingAngle"}

    with h5py.File(tmp_path / "old3dgan.h5", "w") as f:  # early 3DGAN files: energy in target[:, 1]
        f["ECAL"] = ecal[:, :25, :25, :]
        f["target"] = np.array([[11, 50.0], [11, 60.0], [11, 70.0]])
    np.testing.assert_allclose(read_lcd(tmp_path / "old3dgan.h5").energy, [50e3, 60e3, 70e3])


def test_bad_files_raise_clear_dataset_errors(tmp_path: Path, clic: Calorimeter) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        read_lcd(tmp_path / "missing.h5")
    (tmp_path / "empty.h5").write_bytes(b"")
    with pytest.raises(DatasetError, match="is empty"):
        read_lcd(tmp_path / "empty.h5")
    (tmp_path / "text.h5").write_text("ECAL,HCAL\n1,2\n")
    with pytest.raises(DatasetError, match="not an HDF5 file"):
        read_lcd(tmp_path / "text.h5")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["incident_energies"] = np.ones((4, 1))
        f["showers"] = np.ones((4, 368))
    with pytest.raises(DatasetError, match=r"not an LCD/3DGAN file.*\['incident_energies', 'showers'\]"):
        read_lcd(tmp_path / "foreign.h5")
    with h5py.File(tmp_path / "noenergy.h5", "w") as f:
        f["ECAL"] = np.ones((2, 5, 5, 3), dtype=np.float32)
    with pytest.raises(DatasetError, match="no 'energy'"):
        read_lcd(tmp_path / "noenergy.h5")
    with h5py.File(tmp_path / "mismatch.h5", "w") as f:
        f["ECAL"] = np.ones((2, 5, 5, 3), dtype=np.float32)
        f["energy"] = np.ones(3)
    with pytest.raises(DatasetError, match="disagree on the number of events"):
        read_lcd(tmp_path / "mismatch.h5")

    windows = extract_windows(toy_cells(clic, 20, seed=4), clic, WindowSpec.clic())
    good = write_lcd(tmp_path / "good.h5", windows, np.full(20, 1e4), np.full(20, 11), compression=None)
    data = good.read_bytes()
    (tmp_path / "truncated.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="truncated"):
        read_lcd(tmp_path / "truncated.h5")
    with pytest.raises(DatasetError, match="already exists"):
        write_lcd(good, windows, np.full(20, 1e4), np.full(20, 11))
    with pytest.raises(DatasetError, match="does not exist"):
        write_lcd(tmp_path / "no" / "dir.h5", windows, np.full(20, 1e4), np.full(20, 11))
    with pytest.raises(DatasetError, match="first axis N = 20"):
        write_lcd(tmp_path / "short.h5", windows, np.full(19, 1e4), np.full(20, 11))
    assert not (tmp_path / "short.h5").exists() and not list(tmp_path.glob(".*.partial"))
    with pytest.raises(ConfigError, match="cell_scale"):
        write_lcd(tmp_path / "scale.h5", windows, np.full(20, 1e4), np.full(20, 11), cell_scale=0.0)


def clic_deposits(detector: Calorimeter, n: int) -> Deposits:
    """Toy deposits with known primaries: e- at 20 GeV and a two-photon event."""
    cells = toy_cells(detector, n, seed=5)
    direction = directions(n, seed=6)
    m = n + 1  # the last event holds two photons
    offsets = np.append(np.arange(n), m)
    dirs = np.vstack([direction, direction[-1:]])
    primaries = Primaries(pdg=np.array([11] * (n - 1) + [22, 22]), energy=np.array([20e3] * (n - 1) + [6e3, 4e3]),
                          position=np.zeros((m, 3)), direction=dirs, event_offsets=offsets)
    passive = {k: np.zeros_like(v) for k, v in cells.items()}
    return Deposits(primaries, cells, passive, np.zeros((n, 3), np.float32), engine="toy")


def test_native_to_lcd_converts_a_shower_file_in_chunks(tmp_path: Path, clic: Calorimeter) -> None:
    n = 7
    deposits = clic_deposits(clic, n)
    source = write_showers(tmp_path / "native.h5", deposits, clic)
    seen: list[int] = []
    summary = native_to_lcd(source, tmp_path / "lcd.h5", WindowSpec.clic(ecal="25x25x25"), chunk=3,
                            progress=seen.append)
    assert seen == [3, 6, 7] and summary.n_events == n
    assert summary.windows == {"ECAL": WindowSize(25, 25, 25), "HCAL": WindowSize(11, 11, 60)}
    assert summary.containment["ECAL"] == pytest.approx(1.0, rel=1e-6)  # the toy showers fit in the windows
    data = read_lcd(summary.path)
    expected = extract_windows(deposits.active, clic, WindowSpec.clic(ecal="25x25x25"))
    np.testing.assert_allclose(data.cells["ECAL"], expected.cells["ECAL"], rtol=1e-6)
    np.testing.assert_allclose(data.energy, [20e3] * (n - 1) + [10e3])
    np.testing.assert_array_equal(data.pdg, [11] * (n - 1) + [22])
    np.testing.assert_allclose(data.theta, direction_angles(deposits.primaries.direction[:n])[0], rtol=1e-6)
    assert data.attrs["source"] == "native.h5" and "[[sections]]" in data.attrs["detector"]
    with pytest.raises(DatasetError, match="calolab shower file, not an LCD file"):
        read_lcd(source)
    with pytest.raises(ConfigError, match="not in detector"):
        native_to_lcd(source, tmp_path / "bad.h5", WindowSpec.parse({"PS": "3x3x1"}))
    assert not (tmp_path / "bad.h5").exists()


def test_primary_truth_sums_energy_and_weights_directions() -> None:
    primaries = Primaries(pdg=np.array([111, 22, 22]), energy=np.array([5e3, 3e3, 1e3]),
                          position=np.zeros((3, 3)),
                          direction=np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
                          event_offsets=np.array([0, 1, 3, 3]))
    energy, pdg, direction = primary_truth(primaries)
    np.testing.assert_allclose(energy, [5e3, 4e3, 0.0])
    np.testing.assert_array_equal(pdg, [111, 22, 0])
    expected = np.array([3.0, 1.0, 0.0]) / np.sqrt(10)  # 3 GeV along x + 1 GeV along y
    np.testing.assert_allclose(direction[:2], [[0, 0, 1], expected])
    assert np.isnan(direction[2]).all()
