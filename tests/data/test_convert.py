"""File conversions: native <-> CaloChallenge (energy, bins, round trips), LCD, format detection."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from calolab.data.convert import (
    auto_binning,
    calochallenge_to_native,
    convert_file,
    detect_format,
    native_to_calochallenge,
)
from calolab.data.formats.calochallenge import calochallenge_detector, read_calochallenge, write_calochallenge
from calolab.data.showerfile import ShowerFile, write_showers
from calolab.detector import Calorimeter
from calolab.errors import ConfigError, DatasetError
from calolab.sim.events import Deposits, Primaries


@pytest.fixture(scope="module")
def ds2_detector() -> Calorimeter:
    return calochallenge_detector("dataset2")  # 45 layers of 18 x 18 cells of 4.65 mm


def toy_showers(detector: Calorimeter, n: int, seed: int, offsets: np.ndarray | None = None) -> Deposits:
    """Gaussian-profile showers (sigma 6 mm) around each primary's impact point, random layer energies, MeV."""
    rng = np.random.default_rng(seed)
    section = detector.sections[0]
    offsets = np.zeros((n, 2)) if offsets is None else offsets
    x, y = section.cell_centres_x(), section.cell_centres_y()
    r2 = (x[None, None, :] - offsets[:, 0, None, None]) ** 2 + (y[None, :, None] - offsets[:, 1, None, None]) ** 2
    profile = np.exp(-r2 / (2 * 6.0**2))  # (n, ny, nx)
    scale = rng.uniform(1.0, 50.0, (n, section.n_layers, 1, 1))
    active = (scale * profile[:, None]).astype(np.float32)
    position = np.column_stack([offsets, np.zeros(n)])
    primaries = Primaries.single(np.full(n, 11), rng.uniform(1e3, 1e5, n), position=position)
    return Deposits(primaries, {section.name: active}, {section.name: np.zeros_like(active)},
                    np.zeros((n, 3), np.float32), engine="toy")


def test_native_to_calochallenge_conserves_energy_per_event(tmp_path: Path, ds2_detector: Calorimeter) -> None:
    offsets = np.random.default_rng(2).normal(0.0, 3.0, (8, 2))  # impact points off the grid centre
    deposits = toy_showers(ds2_detector, 8, seed=1, offsets=offsets)
    native = write_showers(tmp_path / "native.h5", deposits, ds2_detector)
    summary = native_to_calochallenge(native, tmp_path / "cc.h5", "dataset2", chunk=3)
    assert summary.n_events == 8 and summary.target == "calochallenge"
    data = read_calochallenge(summary.path)
    native_total = deposits.active["ECAL"].sum(axis=(1, 2, 3), dtype=np.float64)
    np.testing.assert_allclose(data.showers.sum(axis=1, dtype=np.float64), native_total, rtol=1e-5)
    np.testing.assert_allclose(data.layer_energies(), deposits.active["ECAL"].sum(axis=(2, 3), dtype=np.float64),
                               rtol=1e-5)
    np.testing.assert_array_equal(data.incident_energies, deposits.primaries.energy)
    # showers centred on the primary: the radial profile falls from the axis out (sigma 6 mm vs 4.65 mm bins)
    radial = data.voxels().sum(axis=(1, 3))  # (N, 9)
    assert np.all(radial[:, 1] > radial[:, 4]) and np.all(radial[:, 2] > radial[:, 5])
    assert np.all(np.argmax(radial, axis=1) <= 2)


def test_single_cell_toy_shower_lands_in_its_bin(tmp_path: Path, ds2_detector: Calorimeter) -> None:
    section = ds2_detector.sections[0]
    active = np.zeros((1, *section.shape), dtype=np.float32)
    ix, iy = 12, 9  # cell centre ((12.5 - 9) x 4.65, (9.5 - 9) x 4.65) = (16.275, 2.325) mm
    active[0, 6, iy, ix] = 100.0
    primaries = Primaries.single([11], [5000.0])  # at the origin along +z: the axis is the grid centre
    deposits = Deposits(primaries, {"ECAL": active}, {"ECAL": np.zeros_like(active)}, np.zeros((1, 3), np.float32))
    native = write_showers(tmp_path / "one.h5", deposits, ds2_detector)
    native_to_calochallenge(native, tmp_path / "one_cc.h5", "dataset2", subdivisions=8)
    voxels = read_calochallenge(tmp_path / "one_cc.h5").voxels()[0]  # (45, 9, 16)
    assert voxels.sum() == pytest.approx(100.0, rel=1e-6) and voxels[6].sum() == pytest.approx(100.0, rel=1e-6)
    # the cell spans x 13.95-18.6 mm, y 0-4.65 mm: r 13.95-19.2 mm (r bin 3, a corner in bin 4 beyond 18.6 mm),
    # alpha 0-0.32 rad (alpha bin 8 = [0, 22.5 deg))
    hit = np.argwhere(voxels[6] > 0)
    assert set(hit[:, 1].tolist()) == {8} and set(hit[:, 0].tolist()) == {3, 4}
    assert voxels[6, 3, 8] > 0.9 * 100.0


def test_calochallenge_native_calochallenge_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n = 6
    r_centres = (np.arange(9) + 0.5) * 4.65
    radial = np.exp(-r_centres / 8.0)  # an exponential lateral profile, MeV per voxel
    grid = (rng.uniform(1.0, 20.0, (n, 45, 1, 1)) * radial[None, None, :, None]
            * rng.uniform(0.8, 1.2, (n, 45, 9, 16))).astype(np.float32)
    source = write_calochallenge(tmp_path / "cc.h5", rng.uniform(1e3, 1e6, n), grid, "dataset2")
    to_native = calochallenge_to_native(source, tmp_path / "native.h5")
    assert to_native.energy_out == pytest.approx(to_native.energy_in, rel=1e-6)
    with ShowerFile(to_native.path) as showers:
        assert showers.detector.name == "calochallenge-dataset2" and showers.n_events == n
        np.testing.assert_allclose(showers.primaries().energy, read_calochallenge(source).incident_energies)
        assert np.all(showers.primaries().pdg == 11)
    back = native_to_calochallenge(to_native.path, tmp_path / "back.h5", "dataset2")
    before, after = read_calochallenge(source), read_calochallenge(back.path)
    np.testing.assert_allclose(after.layer_energies(), before.layer_energies(), rtol=1e-5)
    # the radial profile survives the two resamplings to 20% per bin: the 4.65 mm grid smooths it over a cell
    # (energy near a bin edge crosses it), which moves ~10% of the inner disc outwards
    r_before, r_after = before.voxels().sum(axis=(0, 1, 3)), after.voxels().sum(axis=(0, 1, 3))
    np.testing.assert_allclose(r_after, r_before, rtol=0.2)
    r_centres = (np.arange(9) + 0.5) * 4.65
    mean_before, mean_after = (r_before * r_centres).sum() / r_before.sum(), (r_after * r_centres).sum() / r_after.sum()
    assert mean_before < mean_after < 1.1 * mean_before  # smoothing widens the shower a little (+7% here)


def test_auto_binning_and_layer_mismatch(tmp_path: Path, ds2_detector: Calorimeter) -> None:
    binning = auto_binning(ds2_detector)
    assert binning.n_layers == 45 and binning.layers[0].r_max == pytest.approx(41.85)
    assert binning.layers[0].n_r == 9 and binning.layers[0].n_alpha == 16
    native = write_showers(tmp_path / "n.h5", toy_showers(ds2_detector, 2, seed=0), ds2_detector)
    with pytest.raises(ConfigError, match="45 layers in sections \\['ECAL'\\] but binning 'custom' has 2"):
        native_to_calochallenge(native, tmp_path / "x.h5",
                                '<Bins><Bin name="tiny"><Layer id="0" r_edges="0,5" n_bin_alpha="1"/>'
                                '<Layer id="1" r_edges="0,5" n_bin_alpha="1"/></Bin></Bins>')
    assert not (tmp_path / "x.h5").exists()


def test_detect_format_and_lcd_routes(tmp_path: Path, ds2_detector: Calorimeter) -> None:
    deposits = toy_showers(ds2_detector, 4, seed=3)
    native = write_showers(tmp_path / "n.h5", deposits, ds2_detector)
    assert detect_format(native) == "native"
    lcd = convert_file(native, tmp_path / "lcd.h5", "lcd")
    assert detect_format(lcd.path) == "lcd" and lcd.n_events == 4
    with h5py.File(lcd.path, "r") as f:  # the whole 18 x 18 x 45 grid is the window (smaller than 51 x 51 x 25)
        assert f["ECAL"].shape == (4, 18, 18, 45)
    cc = convert_file(lcd.path, tmp_path / "cc.h5", "calochallenge", binning="dataset2")  # via a native file
    assert detect_format(cc.path) == "calochallenge"
    np.testing.assert_allclose(read_calochallenge(cc.path).showers.sum(axis=1),
                               deposits.active["ECAL"].sum(axis=(1, 2, 3)), rtol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cc.h5", "lcd.h5", "n.h5"]  # no temporary left
    with pytest.raises(ConfigError, match="already in the native layout"):
        convert_file(native, tmp_path / "y.h5", "native")
    with pytest.raises(ConfigError, match="--to 'root'"):
        convert_file(native, tmp_path / "y.h5", "root")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["table"] = np.zeros(3)
    with pytest.raises(DatasetError, match="none of the layouts calolab converts"):
        detect_format(foreign)
