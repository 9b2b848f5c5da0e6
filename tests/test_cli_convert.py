"""``calolab convert``: native -> CaloChallenge / LCD and back, format detection, summary, errors (exit 2)."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from cli_runner import run

from calolab import cli
from calolab.data.formats.calochallenge import calochallenge_detector, read_calochallenge, write_calochallenge
from calolab.data.formats.lcd import read_lcd
from calolab.data.showerfile import ShowerFile, write_showers
from calolab.errors import ConfigError, DatasetError
from calolab.sim.events import Deposits, Primaries


@pytest.fixture(scope="module")
def native_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five toy showers in the dataset 2 grid (45 layers of 18 x 18 cells of 4.65 mm), MeV."""
    detector = calochallenge_detector("dataset2")
    rng = np.random.default_rng(7)
    section = detector.sections[0]
    x, y = section.cell_centres_x(), section.cell_centres_y()
    profile = np.exp(-(x[None, :] ** 2 + y[:, None] ** 2) / (2 * 5.0**2))
    active = (rng.uniform(1.0, 30.0, (5, 45, 1, 1)) * profile).astype(np.float32)
    primaries = Primaries.single(np.full(5, 22), rng.uniform(1e3, 1e5, 5))
    deposits = Deposits(primaries, {"ECAL": active}, {"ECAL": np.zeros_like(active)}, np.zeros((5, 3), np.float32))
    return write_showers(tmp_path_factory.mktemp("convert") / "native.h5", deposits, detector)


def test_native_to_calochallenge_and_back(native_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "cc.h5"
    code, output, error = run("convert", str(native_file), "-o", str(out), "--to", "calochallenge",
                              "--binning", "dataset2", "-q")
    assert code == 0, (output, error)
    assert output.strip().endswith(str(out))
    assert "5 events, native -> calochallenge (dataset2: 45 layers x 9 r" in output
    assert "energy written / read 100.0000%" in output
    data = read_calochallenge(out)
    with ShowerFile(native_file) as showers:
        totals = showers.energy("ECAL").sum(axis=(1, 2, 3), dtype=np.float64)
        np.testing.assert_array_equal(data.incident_energies, showers.primaries().energy)
    np.testing.assert_allclose(data.showers.sum(axis=1), totals, rtol=1e-5)
    back = tmp_path / "back.h5"
    code, output, error = run("convert", str(out), "-o", str(back), "--to", "native")
    assert code == 0, (output, error)
    assert "calochallenge -> native (detector calochallenge-dataset2" in output
    with ShowerFile(back) as showers:
        np.testing.assert_allclose(showers.energy("ECAL").sum(axis=(1, 2, 3)), totals, rtol=1e-5)
        assert np.all(showers.primaries().pdg == 11)  # the dataset 2 binning's pid (electrons)


def test_native_to_lcd(native_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "lcd.h5"
    code, output, error = run("convert", str(native_file), "-o", str(out), "--to", "lcd", "-q")
    assert code == 0, (output, error)
    assert "native -> lcd (windows ECAL 18x18x45; energy in windows ECAL 100.00%)" in output
    data = read_lcd(out)
    assert data.cells["ECAL"].shape == (5, 45, 18, 18) and np.all(data.pdg == 22)
    with ShowerFile(native_file) as showers:
        np.testing.assert_allclose(data.cells["ECAL"], showers.energy("ECAL"), rtol=1e-6)  # GeV in the file, MeV here
        np.testing.assert_allclose(data.energy, showers.primaries().energy, rtol=1e-6)


def test_custom_binning_xml(native_file: Path, tmp_path: Path) -> None:
    layers = "".join(f'<Layer id="{i}" r_edges="0,10,20,40" n_bin_alpha="4"/>' for i in range(45))
    xml = tmp_path / "coarse.xml"
    xml.write_text(f'<Bins><Bin pid="22" name="photon">{layers}</Bin></Bins>')
    out = tmp_path / "coarse.h5"
    code, output, error = run("convert", str(native_file), "-o", str(out), "--to", "calochallenge",
                              "--binning", str(xml), "--overflow", "drop", "-q")
    assert code == 0, (output, error)
    data = read_calochallenge(out)  # the binning is stored in the file
    assert data.binning.n_voxels == 45 * 3 * 4 and data.binning.pdg == 22
    assert "outside the target dropped" in output


def test_errors_exit_2(native_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["images"] = np.zeros((2, 4))
    odd = tmp_path / "odd.h5"
    with h5py.File(odd, "w") as f:
        f["incident_energies"] = np.ones((2, 1))
        f["showers"] = np.zeros((2, 1234), np.float32)
    cases = [
        ([str(foreign), "-o", str(tmp_path / "a.h5"), "--to", "native"], "none of the layouts calolab converts"),
        ([str(odd), "-o", str(tmp_path / "b.h5"), "--to", "native"], "1234 voxels, which match no built-in"),
        ([str(native_file), "-o", str(tmp_path / "missing" / "c.h5"), "--to", "calochallenge"],
         "does not exist: create it"),
        ([str(native_file), "-o", str(tmp_path / "d.h5"), "--to", "calochallenge", "--binning", "dataset3x"],
         "unknown CaloChallenge binning 'dataset3x'"),
        ([str(native_file), "-o", str(tmp_path / "e.h5"), "--to", "hepmc"], "choose one of"),
    ]
    for args, fragment in cases:
        monkeypatch.setattr(sys, "argv", ["calolab", "convert", *args, "-q"])
        with pytest.raises(SystemExit) as info:
            cli.main()
        assert info.value.code == 2, args
        assert fragment in capsys.readouterr().err.replace("\n", " ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.h5", "odd.h5"]  # nothing written
    cc = write_calochallenge(tmp_path / "cc.h5", np.ones(2), np.zeros((2, 6480), np.float32), "dataset2")
    code, _, error = run("convert", str(cc), "-o", str(tmp_path / "f.h5"), "--to", "native", "--binning", "dataset3")
    assert isinstance(error, DatasetError) and "give --binning dataset2" in str(error)
    code, _, error = run("convert", str(cc), "-o", str(tmp_path / "g.h5"), "--to", "native", "--detector", "clic")
    assert isinstance(error, ConfigError)
    assert "detector 'clic' has 85 layers but binning 'dataset2' has 45" in str(error)
    code, _, error = run("convert", str(native_file), "-o", str(cc), "--to", "calochallenge", "-q")
    assert isinstance(error, DatasetError) and "already exists" in str(error) and "--overwrite" in str(error)
    code, _, error = run("convert", str(native_file), "-o", str(tmp_path / "h.h5"), "--to", "native")
    assert isinstance(error, ConfigError) and "already in the native layout" in str(error)
