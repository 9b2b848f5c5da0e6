"""Shower file: atomic writes and refusal of missing, truncated, foreign or inconsistent files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from calolab.data.showerfile import ShowerFile, ShowerFileWriter, write_showers
from calolab.errors import ConfigError, DatasetError
from calolab.sim.events import Deposits


def test_interrupted_write_leaves_nothing(tmp_path, detector, make_deposits) -> None:
    path = tmp_path / "run.h5"
    with pytest.raises(KeyboardInterrupt), ShowerFileWriter(path, detector) as writer:
        writer.append(make_deposits(3))
        assert writer.partial_path.exists() and not path.exists()  # work in progress is hidden
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_interrupted_overwrite_keeps_the_old_file(tmp_path, detector, make_deposits) -> None:
    path = write_showers(tmp_path / "run.h5", make_deposits(2, seed=1), detector)
    before = path.read_bytes()
    writer = ShowerFileWriter(path, detector, overwrite=True)
    with pytest.raises(RuntimeError, match="boom"), writer:
        writer.append(make_deposits(5, seed=2))
        raise RuntimeError("boom")
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]
    write_showers(path, make_deposits(5, seed=2), detector, overwrite=True)
    assert len(ShowerFile(path)) == 5


def test_writer_refuses_bad_destinations(tmp_path, detector, make_deposits) -> None:
    with pytest.raises(DatasetError, match=r"folder .*nowhere does not exist: create it or choose another"):
        ShowerFileWriter(tmp_path / "nowhere" / "run.h5", detector)
    path = write_showers(tmp_path / "run.h5", make_deposits(1), detector)
    with pytest.raises(DatasetError, match="already exists.*--overwrite"):
        ShowerFileWriter(path, detector)
    with pytest.raises(DatasetError, match="is a folder"):
        ShowerFileWriter(tmp_path, detector)
    with pytest.raises(ConfigError, match="unknown compression 'lz4'"):
        ShowerFileWriter(tmp_path / "other.h5", detector, compression="lz4")
    with pytest.raises(ConfigError, match=r"\['seed'\] are set by the writer"):
        ShowerFileWriter(tmp_path / "other.h5", detector, attrs={"seed": 3})
    with pytest.raises(ConfigError, match=r"\['software'\] are set by the writer"):
        ShowerFileWriter(tmp_path / "other.h5", detector, attrs={"software": "mine"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]


def test_append_checks_sections_against_the_detector(tmp_path, detector, make_deposits) -> None:
    good = make_deposits(2)
    wrong_shape = Deposits(good.primaries, {"ECAL": np.zeros((2, 30, 18, 17), np.float32)},
                           {"ECAL": np.zeros((2, 30, 18, 17), np.float32)}, good.leakage)
    wrong_name = Deposits(good.primaries, {"HCAL": good.active["ECAL"]}, {"HCAL": good.passive["ECAL"]},
                          good.leakage)
    path = tmp_path / "run.h5"
    with ShowerFileWriter(path, detector) as writer:
        with pytest.raises(DatasetError, match=r"\(layers, y, x\) = \(30, 18, 17\).*'ECAL' has \(30, 18, 18"):
            writer.append(wrong_shape)
        with pytest.raises(DatasetError, match=r"sections \['HCAL'\] but the detector has \['ECAL'\]"):
            writer.append(wrong_name)
        writer.append(good)  # a refused append writes nothing
        with pytest.raises(DatasetError, match="same truth arrays"):
            writer.append(Deposits(good.primaries, good.active, good.passive, good.leakage))
    assert len(ShowerFile(path)) == 2


def test_missing_and_non_hdf5_files(tmp_path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        ShowerFile(tmp_path / "absent.h5")
    text = tmp_path / "notes.h5"
    text.write_text("not a shower file\n")
    with pytest.raises(DatasetError, match="is not an HDF5 file.*regenerate"):
        ShowerFile(text)
    (tmp_path / "empty.h5").write_bytes(b"")
    with pytest.raises(DatasetError, match="is empty"):
        ShowerFile(tmp_path / "empty.h5")


def test_truncated_file(tmp_path, detector, make_deposits) -> None:
    path = write_showers(tmp_path / "run.h5", make_deposits(20), detector)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    want = rf"run\.h5 is truncated: {len(data) // 2} of {len(data)} bytes.*regenerate it"
    with pytest.raises(DatasetError, match=want):
        ShowerFile(path)


def test_foreign_hdf5_file(tmp_path) -> None:
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f["showers"] = np.zeros((3, 10))
        f["incident_energy"] = np.ones(3)
    want = r"not a calolab shower file .*format = None.*\['incident_energy', 'showers'\]"
    with pytest.raises(DatasetError, match=want):
        ShowerFile(path)


def test_newer_version_and_missing_dataset(tmp_path, detector, make_deposits) -> None:
    path = write_showers(tmp_path / "run.h5", make_deposits(3), detector)
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 2
    with pytest.raises(DatasetError, match="format_version 2 is not supported.*upgrade calolab"):
        ShowerFile(path)
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 1
        del f["truth/leakage"]
    with pytest.raises(DatasetError, match=r"missing datasets \['/truth/leakage'\]"):
        ShowerFile(path)


def test_inconsistent_event_counts(tmp_path, detector, make_deposits) -> None:
    path = write_showers(tmp_path / "run.h5", make_deposits(3), detector)
    with h5py.File(path, "a") as f:
        f["truth/leakage"].resize(2, axis=0)
    with pytest.raises(DatasetError, match=r"n_events = 3 but .*'/truth/leakage': 2"):
        ShowerFile(path)


def test_bad_event_selection(tmp_path, detector, make_deposits) -> None:
    path = write_showers(tmp_path / "run.h5", make_deposits(4), detector)
    with ShowerFile(path) as showers:
        with pytest.raises(DatasetError, match=r"event 4 is out of range: the file has 4 events \(indices 0"):
            showers.energy("ECAL", [1, 4])
        with pytest.raises(DatasetError, match=r"no section 'HCAL': choose one of \['ECAL'\]"):
            showers.energy("HCAL")
