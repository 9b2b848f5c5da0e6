"""``calolab digitize`` and the digitised signal in shower files: round trip, seeds, refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run

import calolab
from calolab.data.showerfile import ShowerFile, ShowerFileWriter, write_showers
from calolab.detector.readout import Readout
from calolab.errors import DatasetError
from calolab.sim.campaign import Campaign


@pytest.fixture(scope="module")
def raw_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 electrons of 2 GeV in the cms preset (homogeneous: no calibration run needed)."""
    path = tmp_path_factory.mktemp("raw") / "cms.h5"
    detector = calolab.load_detector("cms")
    write_showers(path, calolab.simulate(detector, n=20, particle="e-", energy="2GeV", seed=5), detector, seed=5)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_digitize_round_trip(raw_file: Path, tmp_path: Path) -> None:
    before = digest(raw_file)
    out = tmp_path / "digi.h5"
    code, output, error = run("digitize", str(raw_file), "-o", str(out), "--seed", "3")
    assert code == 0, output + str(error)
    assert "digitized 20 events" in output and str(out) in output
    assert digest(raw_file) == before  # the input is never modified
    with ShowerFile(raw_file) as raw, ShowerFile(out) as digi:
        assert not raw.has_digitized and digi.has_digitized
        np.testing.assert_array_equal(digi.energy("ECAL"), raw.energy("ECAL"))  # raw deposits kept
        np.testing.assert_array_equal(digi.primaries().energy, raw.primaries().energy)
        signal = digi.digitized("ECAL")
        assert signal.dtype == np.float32 and signal.shape == raw.energy("ECAL").shape
        # cms readout: 4.5 p.e./MeV (F = 2), 40 MeV noise per crystal; the 121-crystal sum of 2 GeV
        # showers scatters by ~sqrt(2%^2*2 GeV + (11 * 40 MeV)^2) ~ 0.45 GeV around the raw energy
        difference = signal.sum(axis=(1, 2, 3)) - raw.energy("ECAL").sum(axis=(1, 2, 3))
        assert abs(difference.mean()) < 0.3e3 and 0.2e3 < difference.std() < 0.8e3
        assert digi.metadata["digitize_seed"] == 3
        settings = digi.readout_settings()["ECAL"]
        assert settings["noise_mev"] == 40.0 and settings["sampling_fraction"] == 1.0
        assert json.loads(digi.metadata["readout"])["ECAL"] == settings
        assert digi.detector == raw.detector
        assert raw.readout_settings() is None
        with pytest.raises(DatasetError, match="run calolab digitize"):
            raw.digitized("ECAL")


def test_same_seed_same_signal_and_overrides(raw_file: Path, tmp_path: Path) -> None:
    paths = [tmp_path / name for name in ("a.h5", "b.h5", "c.h5")]
    for path, seed in zip(paths, ("7", "7", "8"), strict=True):
        code, output, error = run("digitize", str(raw_file), "-o", str(path), "--seed", seed, "--quiet")
        assert code == 0, output + str(error)
    with ShowerFile(paths[0]) as a, ShowerFile(paths[1]) as b, ShowerFile(paths[2]) as c:
        np.testing.assert_array_equal(a.digitized("ECAL"), b.digitized("ECAL"))
        assert not np.array_equal(a.digitized("ECAL"), c.digitized("ECAL"))
    out = tmp_path / "cut.h5"
    code, output, error = run("digitize", str(raw_file), "-o", str(out), "--seed", "1", "--noise", "0.01GeV",
                              "--threshold", "100MeV")
    assert code == 0, output + str(error)
    with ShowerFile(out) as digi:
        signal = digi.digitized("ECAL")
        assert np.all((signal == 0) | (signal >= 100.0))
        assert 0 < np.count_nonzero(signal) < signal.size
        assert digi.readout_settings()["ECAL"]["noise_mev"] == 10.0


def test_digitize_refuses_and_writes_nothing(raw_file: Path, tmp_path: Path) -> None:
    before = digest(raw_file)
    code, output, error = run("digitize", str(raw_file), "-o", str(raw_file))
    assert code != 0 and "is the input file" in output + str(error)
    code, output, error = run("digitize", str(raw_file), "-o", str(tmp_path / "x.h5"), "--noise", "-5MeV")
    assert code != 0 and "noise" in output + str(error)
    code, output, error = run("digitize", str(raw_file), "-o", str(tmp_path / "x.h5"), "--excess-noise-factor", "0.5")
    assert code != 0 and "readout.excess_noise_factor: must be >= 1" in output + str(error)
    target = tmp_path / "kept.h5"
    target.write_bytes(b"precious")
    code, output, error = run("digitize", str(raw_file), "-o", str(target))
    assert code != 0 and "already exists" in output + str(error)
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.h5"]  # no partial files left
    assert digest(raw_file) == before
    code, output, error = run("digitize", str(raw_file), "-o", str(target), "--overwrite", "-q")
    assert code == 0, output + str(error)
    with ShowerFile(target) as digi:
        assert digi.has_digitized


def test_redigitizing_replaces_the_signal(raw_file: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "1.h5", tmp_path / "2.h5"
    assert run("digitize", str(raw_file), "-o", str(first), "--seed", "1", "-q")[0] == 0
    assert run("digitize", str(first), "-o", str(second), "--seed", "1", "--noise", "0MeV", "-q")[0] == 0
    with ShowerFile(second) as digi:
        assert digi.readout_settings()["ECAL"]["noise_mev"] == 0.0
        assert digi.metadata["digitize_source"] == "1.h5"


def test_writer_takes_digitized_arrays(tmp_path: Path) -> None:
    detector = calolab.load_detector("cms")
    showers = calolab.simulate(detector, n=4, particle="gamma", energy="1GeV", seed=2)
    hits = Readout.from_detector(detector).digitize(showers, np.random.default_rng(0))
    path = write_showers(tmp_path / "w.h5", showers, detector, digitized=hits)
    with ShowerFile(path) as f:
        np.testing.assert_array_equal(f.digitized("ECAL", [1, 3]), hits.energy["ECAL"][[1, 3]])
        assert f.readout_settings()["ECAL"]["photoelectrons_per_mev"] == 4.5
    with ShowerFileWriter(tmp_path / "mixed.h5", detector) as writer:
        writer.append(showers, hits)
        with pytest.raises(DatasetError, match="digitise every append or none"):
            writer.append(showers)
        with pytest.raises(DatasetError, match="digitized\\['ECAL'\\] has shape"):
            writer.append(showers, {"ECAL": hits.energy["ECAL"][:2]})


def test_campaign_digitizes_each_shard(tmp_path: Path) -> None:
    def make(name: str, digitize: bool) -> Path:
        campaign = Campaign("cms", {"particle": "e-", "energy": "1GeV"}, 6, seed=9, shard_size=4, digitize=digitize)
        return campaign.write(tmp_path / name)

    a, b, plain = make("a.h5", True), make("b.h5", True), make("plain.h5", False)
    with ShowerFile(a) as fa, ShowerFile(b) as fb, ShowerFile(plain) as fp:
        assert fa.has_digitized and not fp.has_digitized
        np.testing.assert_array_equal(fa.digitized("ECAL"), fb.digitized("ECAL"))  # shard seeds (k, 2)
        np.testing.assert_array_equal(fa.energy("ECAL"), fp.energy("ECAL"))  # the raw events do not change
        assert fa.metadata["digitize_seed"] == 9
        assert not np.array_equal(fa.digitized("ECAL"), fa.energy("ECAL"))
