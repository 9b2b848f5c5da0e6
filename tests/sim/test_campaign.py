"""Sharded generation: shard seeds, independence of the worker count, Dask, files, interruptions."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from calolab.data.showerfile import open_dataset
from calolab.detector import load_detector
from calolab.errors import ConfigError, DatasetError, SimulationError
from calolab.sim.campaign import Campaign, plan_shards, simulate, simulate_shard
from calolab.sim.events import Deposits

GUN = {"particle": "e-", "energy": "0.5-2GeV", "spread": "5mm"}


@pytest.fixture(scope="module")
def detector():
    return load_detector("pisa-csi")  # a small homogeneous block: quick showers


@pytest.fixture(scope="module")
def reference(detector) -> Deposits:
    """30 events in shards of 8 (the last shard has 6), generated in this process."""
    return Campaign(detector, GUN, 30, seed=11, shard_size=8).simulate()


def assert_same(a: Deposits, b: Deposits) -> None:
    np.testing.assert_array_equal(a.primaries.energy, b.primaries.energy)
    for name in a.active:
        np.testing.assert_array_equal(a.active[name], b.active[name])
        np.testing.assert_array_equal(a.passive[name], b.passive[name])
    np.testing.assert_array_equal(a.leakage, b.leakage)


def test_plan_shards_covers_every_event_once() -> None:
    shards = plan_shards(30, 8)
    assert [s.n_events for s in shards] == [8, 8, 8, 6]
    assert [s.start for s in shards] == [0, 8, 16, 24]
    assert plan_shards(0, 8) == []
    with pytest.raises(ConfigError, match="shard size"):
        plan_shards(10, 0)
    with pytest.raises(ConfigError, match="number of events"):
        plan_shards(-1, 10)


def test_any_shard_regenerates_alone(detector, reference) -> None:
    shard = plan_shards(30, 8)[2]
    alone = simulate_shard(detector, GUN, "mc", 11, shard)
    assert_same(alone, reference.select(slice(16, 24)))
    via_toml = simulate_shard(detector.to_toml(), GUN, "mc", 11, shard)  # what other processes get
    assert_same(via_toml, alone)


def test_shards_are_independent(detector, reference) -> None:
    first, second = reference.select(slice(0, 8)), reference.select(slice(8, 16))
    assert not np.array_equal(first.primaries.energy, second.primaries.energy)
    assert not np.array_equal(first.active["ECAL"], second.active["ECAL"])


def test_seed_changes_the_events(detector, reference) -> None:
    other = Campaign(detector, GUN, 8, seed=12, shard_size=8).simulate()
    assert not np.array_equal(other.primaries.energy, reference.primaries.energy[:8])


def test_local_processes_give_the_same_events(detector, reference) -> None:
    parallel = Campaign(detector, GUN, 30, seed=11, shard_size=8, workers=2).simulate()
    assert_same(parallel, reference)


def test_dask_local_cluster_gives_the_same_events(detector, reference) -> None:
    distributed = Campaign(detector, GUN, 30, seed=11, shard_size=8, workers=2, scheduler="local").simulate()
    assert_same(distributed, reference)


def test_unreachable_scheduler_is_a_clear_error(detector, monkeypatch) -> None:
    monkeypatch.setattr("calolab.sim.campaign.SCHEDULER_TIMEOUT", "1s")
    campaign = Campaign(detector, GUN, 4, seed=1, scheduler="tcp://127.0.0.1:9")
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        campaign.simulate()


def test_write_records_provenance_and_matches_memory(tmp_path: Path, detector, reference) -> None:
    path = Campaign(detector, GUN, 30, seed=11, shard_size=8).write(tmp_path / "showers.h5")
    with open_dataset(path) as showers:
        assert showers.n_events == 30
        np.testing.assert_array_equal(showers.energy("ECAL"), reference.active["ECAL"])
        metadata = showers.metadata
        assert metadata["seed"] == 11 and metadata["engine"] == "mc"
        assert metadata["gun"]["energy"] == {"kind": "uniform", "low": 500.0, "high": 2000.0}
    with h5py.File(path) as f:
        assert int(f.attrs["shard_size"]) == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["showers.h5"]


def test_output_problems_are_found_before_simulating(tmp_path: Path, detector, monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("simulated although the output is bad")

    monkeypatch.setattr("calolab.sim.campaign.simulate_shard", fail)
    campaign = Campaign(detector, GUN, 4, seed=1)
    with pytest.raises(DatasetError, match="does not exist"):
        campaign.write(tmp_path / "missing" / "showers.h5")
    (tmp_path / "taken.h5").write_bytes(b"keep me")
    with pytest.raises(DatasetError, match="already exists"):
        campaign.write(tmp_path / "taken.h5")
    assert (tmp_path / "taken.h5").read_bytes() == b"keep me"


class FailingEngine:
    """An engine that breaks on its second shard, like a run killed half-way."""

    name = "failing"
    version = "1"

    def __init__(self) -> None:
        self.calls = 0

    def simulate(self, primaries, detector, seed):
        self.calls += 1
        if self.calls == 2:
            raise SimulationError("boom")
        from calolab.sim.mc.engine import MonteCarloEngine

        return MonteCarloEngine().simulate(primaries, detector, seed)


def test_interrupted_run_leaves_no_file(tmp_path: Path, detector) -> None:
    campaign = Campaign(detector, GUN, 16, seed=1, shard_size=8, engine=FailingEngine())
    with pytest.raises(SimulationError, match="boom"):
        campaign.write(tmp_path / "showers.h5")
    assert list(tmp_path.iterdir()) == []


def test_simulate_api_with_gun_options(detector) -> None:
    showers = simulate(detector, n=5, seed=3, particle="gamma", energy="1GeV")
    assert len(showers) == 5 and np.all(showers.primaries.pdg == 22)
    again = simulate("pisa-csi", {"particle": "gamma", "energy": "1GeV"}, n=5, seed=3)
    assert_same(showers, again)
    # pisa-csi is 60 cm of CsI (32 X0) and 25 x 25 cm wide: a 1 GeV photon shower is contained
    assert np.all(showers.total_deposited() > 0.9 * 1000.0)


def test_zero_events(detector) -> None:
    assert len(simulate(detector, n=0, seed=1)) == 0


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"workers": 0}, "workers must be >= 1"),
        ({"seed": -1}, "seed must be an integer"),
        ({"engine": "geant5"}, "unknown engine 'geant5'"),
    ],
)
def test_bad_campaign_options(detector, options: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        Campaign(detector, GUN, 4, **options)
