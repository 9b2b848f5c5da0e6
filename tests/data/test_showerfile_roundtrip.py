"""Shower file: Deposits -> file -> Deposits, metadata, partial reads, layout of the datasets."""

from __future__ import annotations

import json
from datetime import datetime

import h5py
import numpy as np
import pytest

from calolab import __version__
from calolab.data.showerfile import (
    FORMAT,
    ShowerFile,
    ShowerFileWriter,
    open_dataset,
    software_versions,
    summarize,
    write_showers,
)
from calolab.detector import Calorimeter
from calolab.sim.events import Deposits


def assert_same(got: Deposits, want: Deposits) -> None:
    assert len(got) == len(want)
    for name in want.active:
        np.testing.assert_array_equal(got.active[name], want.active[name])
        np.testing.assert_array_equal(got.passive[name], want.passive[name])
    np.testing.assert_array_equal(got.leakage, want.leakage)
    for field in ("pdg", "energy", "position", "direction", "event_offsets", "status", "parent"):
        np.testing.assert_array_equal(getattr(got.primaries, field), getattr(want.primaries, field))
    assert sorted(got.extra) == sorted(want.extra)
    for key in want.extra:
        np.testing.assert_array_equal(got.extra[key], want.extra[key])
    assert (got.engine, got.engine_version) == (want.engine, want.engine_version)


def test_round_trip_several_appends(tmp_path, detector, make_deposits) -> None:
    parts = [make_deposits(7, seed=1, particles_per_event=2), make_deposits(1, seed=2, particles_per_event=2),
             make_deposits(12, seed=3, particles_per_event=2)]
    whole = Deposits.concatenate(parts)
    path = tmp_path / "showers.h5"
    with ShowerFileWriter(path, detector, seed=5) as writer:
        for part in parts:
            writer.append(part)
    with ShowerFile(path) as showers:
        assert len(showers) == showers.n_events == 20
        assert showers.sections == ["ECAL"]
        assert_same(showers.read(), whole)
        assert_same(showers.read(slice(5, 9)), whole.select(slice(5, 9)))
        assert_same(showers.read(slice(1, 19, 4)), whole.select(slice(1, 19, 4)))
        picks = np.array([19, 0, 8, 8, 3])
        assert_same(showers.read(picks), whole.select(picks))
        assert_same(showers.read(-1), whole.select([19]))
        assert showers.energy("ECAL", 7).shape == (1, 30, 18, 18)
        np.testing.assert_array_equal(showers.passive_energy("ECAL", slice(18, None)),
                                      whole.passive["ECAL"][18:])
        np.testing.assert_array_equal(showers.leakage([2, 4]), whole.leakage[[2, 4]])
        assert showers.primaries(slice(6, 8)).n_particles == 4
        assert len(showers.read(slice(4, 4))) == 0


def test_metadata_kept(tmp_path, detector, make_deposits) -> None:
    gun = {"particle": "e-", "energy": [1000.0, 100000.0], "spectrum": "uniform"}
    path = write_showers(tmp_path / "meta.h5", make_deposits(3), detector, gun=gun, engine="mc",
                         engine_version="0.3", seed=42,
                         attrs={"campaign": "test", "shard": 7, "tags": ["a", "b"]})
    with open_dataset(path) as showers:
        meta = showers.metadata
        assert meta["format"] == FORMAT and meta["format_version"] == 1
        assert meta["gun"] == gun
        assert (meta["engine"], meta["engine_version"], meta["seed"]) == ("mc", "0.3", 42)
        assert meta["calolab_version"] == __version__
        assert meta["software"] == software_versions() and meta["software"]["numpy"] == np.__version__
        assert summarize(showers)["software"] == meta["software"]
        assert datetime.fromisoformat(meta["created"]).utcoffset().total_seconds() == 0
        assert (meta["campaign"], meta["shard"], json.loads(meta["tags"])) == ("test", 7, ["a", "b"])
        assert meta["detector"] == detector.to_toml()
        assert isinstance(showers.detector, Calorimeter) and showers.detector == detector
        assert showers.detector_name == "calice-siw"
    with h5py.File(path, "a") as f:  # a file from before the attribute existed
        del f.attrs["software"]
    with open_dataset(path) as showers:
        assert showers.metadata["software"] is None and summarize(showers)["software"] is None
        # engine name and version come from the deposits when the writer was not told
    path = write_showers(tmp_path / "engine.h5", make_deposits(2), detector)
    with ShowerFile(path) as showers:
        assert (showers.metadata["engine"], showers.metadata["engine_version"], showers.metadata["seed"]) \
            == ("toy", "1.2", None)
        assert showers.metadata["gun"] is None


def test_layout_units_chunks_and_compression(tmp_path, detector, make_deposits) -> None:
    path = write_showers(tmp_path / "layout.h5", make_deposits(5), detector)
    with h5py.File(path, "r") as f:
        assert f.attrs["n_events"] == 5
        energy = f["sections/ECAL/energy"]
        assert energy.shape == (5, 30, 18, 18) and energy.dtype == np.float32
        assert energy.attrs["unit"] == "MeV"
        assert energy.attrs["description"] == "energy deposited in the active material"
        assert energy.compression == "gzip" and energy.compression_opts == 4 and energy.shuffle
        assert energy.chunks[1:] == (30, 18, 18) and energy.maxshape[0] is None
        assert f["truth/sections/ECAL/passive_energy"].attrs["unit"] == "MeV"
        assert f["truth/leakage"].attrs["columns"] == "front,lateral,rear"
        assert f["primaries/event_offsets"].shape == (6,) and f["primaries/event_offsets"].dtype == np.int64
        assert f["primaries/pdg"].dtype == np.int32 and f["primaries/position"].attrs["unit"] == "mm"
        units = {}
        f.visititems(lambda name, item: units.update({name: item.attrs.get("unit")})
                     if isinstance(item, h5py.Dataset) else None)
        assert len(units) == 11 and None not in units.values()  # 2 section, leakage, n_steps, 7 primaries


def test_blosc_compression_round_trip(tmp_path, detector, make_deposits) -> None:
    deposits = make_deposits(4)
    path = write_showers(tmp_path / "blosc.h5", deposits, detector, compression="blosc")
    with ShowerFile(path) as showers:
        assert_same(showers.read(), deposits)


def test_layer_means_chunkwise(tmp_path, detector, make_deposits) -> None:
    deposits = make_deposits(11, seed=9)
    path = write_showers(tmp_path / "means.h5", deposits, detector)
    want = deposits.active["ECAL"].sum(axis=(2, 3), dtype=np.float64).mean(axis=0)
    with ShowerFile(path) as showers:
        for chunk in (1, 3, 1024):
            np.testing.assert_allclose(showers.layer_means("ECAL", chunk=chunk), want, rtol=1e-12)
        np.testing.assert_allclose(showers.event_totals(chunk=4), deposits.total_active(), rtol=1e-12)
        summary = summarize(showers, chunk=4)
    assert summary["n_events"] == 11 and summary["sections"]["ECAL"]["cell_size"] == [10.0, 10.0]
    assert summary["totals"]["active_mean"] == pytest.approx(deposits.total_active().mean(), rel=1e-12)
    assert summary["totals"]["leakage_mean"]["rear"] == pytest.approx(deposits.leakage[:, 2].mean(), rel=1e-6)


def test_file_without_events(tmp_path, detector) -> None:
    with ShowerFileWriter(tmp_path / "empty.h5", detector):
        pass
    with ShowerFile(tmp_path / "empty.h5") as showers:
        assert len(showers) == 0 and showers.energy("ECAL").shape == (0, 30, 18, 18)
        assert np.all(np.isnan(showers.layer_means("ECAL")))
