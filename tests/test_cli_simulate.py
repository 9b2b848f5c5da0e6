"""``calolab simulate`` and ``calolab demo``: happy paths and bad input that loses nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_runner import run

from calolab.data.showerfile import open_dataset


def test_simulate_writes_a_reproducible_file(tmp_path: Path) -> None:
    args = ("simulate", "-d", "pisa-csi", "-p", "gamma", "-E", "1-2GeV", "-n", "12", "--seed", "4",
            "--shard-size", "5", "--quiet")
    code, output, _ = run(*args, "-o", str(tmp_path / "a.h5"))
    assert code == 0, output
    code, output, _ = run(*args, "-o", str(tmp_path / "b.h5"), "--workers", "2")
    assert code == 0, output
    with open_dataset(tmp_path / "a.h5") as a, open_dataset(tmp_path / "b.h5") as b:
        assert a.n_events == 12
        assert np.all(a.primaries().pdg == 22)
        assert a.metadata["seed"] == 4
        np.testing.assert_array_equal(a.energy("ECAL"), b.energy("ECAL"))


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"-E": "abc"}, "gun.energy: cannot read energy 'abc'"),
        ({"-p": "kaon"}, "unknown particle 'kaon'"),
        ({"-d": "cmz"}, "did you mean 'cms'"),
        ({"--theta": "120"}, "gun.theta"),
        ({"--engine": "geant5"}, "unknown engine"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(tmp_path: Path, options: dict[str, str], fragment: str) -> None:
    arguments = {"-d": "pisa-csi", "-E": "1GeV", "-n": "3", "-o": str(tmp_path / "x.h5")} | options
    code, output, error = run("simulate", *(item for pair in arguments.items() for item in pair))
    assert code != 0
    assert fragment in output + str(error)
    assert list(tmp_path.iterdir()) == []


def test_output_in_a_missing_folder_is_refused_before_simulating(tmp_path: Path) -> None:
    code, output, error = run("simulate", "-d", "cms", "-n", "1000000", "-o", str(tmp_path / "no" / "x.h5"))
    assert code != 0
    assert "does not exist" in output + str(error)


def test_existing_output_is_kept_without_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "x.h5"
    target.write_bytes(b"precious")
    code, output, error = run("simulate", "-d", "pisa-csi", "-n", "2", "-o", str(target), "--quiet")
    assert code != 0 and "already exists" in output + str(error)
    assert target.read_bytes() == b"precious"


def test_demo_writes_its_files_and_measures_the_resolution(tmp_path: Path) -> None:
    code, output, _ = run("demo", "-o", str(tmp_path / "demo"), "-n", "100", "-j", "1")
    assert code == 0, output
    for name in ("showers.h5", "event0.png", "response.png"):
        path = tmp_path / "demo" / name
        assert path.stat().st_size > 1000, name
    assert (tmp_path / "demo" / "event0.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "e- resolution" in output and "a = " in output and "response: weighted Si energy" in output
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["event0.png", "response.png", "showers.h5"]


def test_one_command_makes_a_clic_style_mixed_dataset(tmp_path: Path) -> None:
    # the CLIC study's sample in one command: e-, gamma, pi0, pi+- at polar angles 60-120 degrees,
    # with the detector response stored next to the raw cells (small here: 8 events of 10-20 GeV)
    out = tmp_path / "clic.h5"
    code, output, _ = run("simulate", "-d", "clic", "-p", "e-,gamma,pi0,pi+,pi-", "-E", "10-20GeV",
                          "--polar-angle", "60-120", "-n", "8", "--seed", "2", "--digitize", "-q", "-o", str(out))
    assert code == 0, output
    with open_dataset(out) as f:
        pdg = f.primaries().pdg
        assert set(pdg.tolist()) <= {11, 22, 111, 211, -211} and len(set(pdg.tolist())) >= 2
        assert f.has_digitized and "opening_angle" in f.extra_keys()
        assert f.digitized("HCAL").shape == f.energy("HCAL").shape


def test_simulate_command_keeps_the_selected_events(tmp_path: Path) -> None:
    args = ("simulate", "-d", "pisa-csi", "-p", "e-", "-E", "0.5-2GeV", "-n", "16", "--seed", "4", "--quiet")
    code, output, _ = run(*args, "-o", str(tmp_path / "kept.h5"), "--select", "energy_total>1000")
    assert code == 0, output
    with open_dataset(tmp_path / "kept.h5") as showers:
        assert 0 < showers.n_events < 16
        assert showers.metadata["selection"] == "energy_total > 1000"
        assert (showers.energy("ECAL").sum(axis=(1, 2, 3)) > 1000.0).all()
    code, output, error = run(*args, "-o", str(tmp_path / "bad.h5"), "--select", "hcal_ecal_ratio<0.1")
    assert code != 0 and "does not have" in output + str(error)
    assert not (tmp_path / "bad.h5").exists()
