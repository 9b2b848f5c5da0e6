"""``calolab windows`` on a small simulated clic file: LCD layout, summary, options and errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from cli_runner import run

import calolab
from calolab.data.formats.lcd import read_lcd
from calolab.errors import ConfigError, DatasetError


@pytest.fixture(scope="module")
def clic_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    deposits = calolab.simulate("clic", n=10, particle="e-", energy="20GeV", seed=1)
    path = tmp_path_factory.mktemp("windows") / "electrons.h5"
    return calolab.write_showers(path, deposits, calolab.load_detector("clic"), seed=1)


def test_windows_writes_the_lcd_layout(clic_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "electrons_lcd.h5"
    code, output, error = run("windows", str(clic_file), "-o", str(out), "--ecal", "25x25x25", "-q")
    assert code == 0, (output, error)
    assert output.strip().endswith(str(out))
    assert "10 events" in output and "25 x 25 x 25" in output and "11 x 11 x 60" in output
    with h5py.File(out, "r") as f:
        assert f["ECAL"].shape == (10, 25, 25, 25) and f["HCAL"].shape == (10, 11, 11, 60)
        np.testing.assert_allclose(f["energy"][:], 20.0)  # GeV
        np.testing.assert_array_equal(f["pdgID"][:], 11)
        np.testing.assert_allclose(f["theta"][:], np.pi / 2, rtol=1e-6)  # the gun fires along z: 90 deg to the beam
        # 20 GeV e- at the face centre: the barycentre lies within a cell of the axis, ~1 mrad from 90 deg
        np.testing.assert_allclose(f["recoTheta"][:], np.pi / 2, atol=2e-3)
        assert f.attrs["vertex_distance_mm"] == 1500.0
    with calolab.ShowerFile(clic_file) as showers:
        ecal_total = showers.energy("ECAL").sum(axis=(1, 2, 3), dtype=np.float64)
    data = read_lcd(out)
    window_total = data.cells["ECAL"].sum(axis=(1, 2, 3), dtype=np.float64)
    assert np.all(window_total <= ecal_total * (1 + 1e-6))
    # +-64 mm around the axis is several Moliere radii of the Si-W stack (R_M(W) = 9.3 mm, PDG): EM showers fit
    assert np.all(window_total > 0.97 * ecal_total)
    assert "%" in output and "recoTheta - true theta" in output


def test_windows_options_drop_and_rename_sections(clic_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "ecal_only.h5"
    code, output, error = run("windows", str(clic_file), "-o", str(out), "--hcal", "none", "-w", "ECAL=5x7x25",
                              "--vertex-distance", "2m", "--centre-on", "all", "--cell-scale", "50")
    assert code == 0, (output, error)
    assert "windows ECAL 5x7x25, vertex 2000 mm" in output  # the header (progress bar on stderr)
    with h5py.File(out, "r") as f:
        assert "HCAL" not in f and f["ECAL"].shape == (10, 7, 5, 25)
        assert f.attrs["vertex_distance_mm"] == 2000.0 and f.attrs["cell_scale"] == 50.0


def test_windows_errors(clic_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.h5"
    code, _, error = run("windows", str(clic_file), "-o", str(out), "-w", "PRESHOWER=3x3x1", "-q")
    assert code != 0 and isinstance(error, ConfigError) and "not in detector 'clic'" in str(error)
    code, _, error = run("windows", str(clic_file), "-o", str(out), "--ecal", "51x51", "-q")
    assert isinstance(error, ConfigError) and "NXxNYxLAYERS" in str(error)
    code, _, error = run("windows", str(clic_file), "-o", str(out), "--format", "npz", "-q")
    assert isinstance(error, ConfigError) and "only 'lcd'" in str(error)
    code, _, error = run("windows", str(tmp_path / "missing.h5"), "-o", str(out), "-q")
    assert isinstance(error, DatasetError) and "does not exist" in str(error)
    assert not out.exists()
    code, _, _ = run("windows", str(clic_file), "-o", str(out), "-q")
    assert code == 0
    code, _, error = run("windows", str(clic_file), "-o", str(out), "-q")
    assert isinstance(error, DatasetError) and "--overwrite" in str(error)
