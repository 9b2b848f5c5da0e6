"""Selections applied as events are simulated: the kept events, their file records, bad cuts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calolab.data.showerfile import open_dataset
from calolab.detector import load_detector
from calolab.errors import ConfigError, DatasetError
from calolab.features import compute_features
from calolab.sim.campaign import Campaign, simulate
from calolab.sim.selection import Cut, EventSelection

GUN = {"particle": "e-", "energy": "0.5-2GeV", "spread": "5mm"}
CUT = "energy_total > 1000"  # MeV of the raw active energy: about half of these electrons


@pytest.fixture(scope="module")
def detector():
    return load_detector("pisa-csi")


@pytest.fixture(scope="module")
def everything(detector):
    return Campaign(detector, GUN, 30, seed=11, shard_size=8).simulate()


def test_parse_reads_every_form_and_describe_reads_back() -> None:
    selection = EventSelection.parse(" hcal_ecal_ratio<0.1 ,0.5 < ECAL_r9 < 0.95,energy_total>2e3")
    assert selection.cuts == (Cut("hcal_ecal_ratio", below=0.1), Cut("ECAL_r9", above=0.5, below=0.95),
                              Cut("energy_total", above=2000.0))
    assert selection.describe() == "hcal_ecal_ratio < 0.1, 0.5 < ECAL_r9 < 0.95, energy_total > 2000"
    assert EventSelection.parse(selection.describe()) == selection


@pytest.mark.parametrize(("text", "fragment"), [
    ("hcal_ecal_ratio=0.1", "cannot read the selection cut 'hcal_ecal_ratio=0.1'"),
    ("hcal_ecal_ratio<0.1,", "cannot read the selection cut ''"),
    ("0.9 < ECAL_r9 < 0.5", "keeps nothing"),
    ("energy_total < inf", "cannot read"),
])
def test_unreadable_cuts_name_the_cut_and_the_syntax(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as error:
        EventSelection.parse(text)
    assert fragment in str(error.value)


def test_a_cut_passes_strictly_inside_its_bounds() -> None:
    values = np.array([0.4, 0.5, 0.7, 0.95, 1.2])
    np.testing.assert_array_equal(Cut("x", above=0.5, below=0.95).passes(values), [False, False, True, False, False])
    np.testing.assert_array_equal(Cut("x", below=0.5).passes(values), [True, False, False, False, False])


def test_the_campaign_keeps_exactly_the_events_that_pass(detector, everything) -> None:
    wanted = compute_features(everything.active, detector)["energy_total"] > 1000.0
    assert 5 < wanted.sum() < 25  # the cut keeps some and drops some: the test can fail both ways
    for workers in (1, 2):  # the cut runs in the worker processes too
        campaign = Campaign(detector, GUN, 30, seed=11, shard_size=8, workers=workers, selection=CUT)
        kept = campaign.simulate()
        assert campaign.n_kept == wanted.sum() == len(kept)
        np.testing.assert_array_equal(kept.active["ECAL"], everything.active["ECAL"][wanted])
        np.testing.assert_array_equal(kept.primaries.energy, everything.primaries.energy[wanted])
    assert len(simulate(detector, GUN, 30, seed=11, shard_size=8, selection=CUT)) == wanted.sum()


def test_the_file_records_the_cut_and_the_events_simulated(tmp_path: Path, detector, everything) -> None:
    path = Campaign(detector, GUN, 30, seed=11, shard_size=8, selection=CUT).write(tmp_path / "kept.h5")
    wanted = compute_features(everything.active, detector)["energy_total"] > 1000.0
    with open_dataset(path) as showers:
        assert showers.n_events == wanted.sum()
        assert showers.metadata["selection"] == "energy_total > 1000"
        assert showers.metadata["n_simulated"] == 30
        np.testing.assert_array_equal(showers.energy("ECAL"), everything.active["ECAL"][wanted])
    nothing = Campaign(detector, GUN, 8, seed=11, selection="energy_total > 1e9").write(tmp_path / "none.h5")
    with open_dataset(nothing) as showers:
        assert showers.n_events == 0 and showers.metadata["n_simulated"] == 8


def test_an_unknown_feature_fails_before_simulating(detector) -> None:
    with pytest.raises(ConfigError, match=r"does not have: \['hcal_ecal_ratio'\].*ECAL_energy"):
        Campaign(detector, GUN, 10**6, seed=1, selection="hcal_ecal_ratio<0.1")  # one section: no ratio


def test_study_files_remember_their_selection(tmp_path: Path) -> None:
    from calolab.studies.reconstruction import simulate_files, simulate_sample

    guns = [GUN, {**GUN, "particle": "gamma"}]
    sample = simulate_sample("pisa-csi", guns, 20, tmp_path, seed=3, selections=[CUT, None])
    kept = int((sample.source == 0).sum())
    assert 0 < kept < 20 and (sample.source == 1).sum() == 20
    assert list(sample.rows[sample.source == 0]) == list(range(kept))
    assert (sample.feature("energy_total")[sample.source == 0] > 1000.0).all()
    assert simulate_files("pisa-csi", guns, 20, tmp_path, seed=3, selections=[CUT, None]) == sample.files
    with pytest.raises(DatasetError, match="other selection"):
        simulate_files("pisa-csi", guns, 20, tmp_path, seed=3)
    with pytest.raises(ConfigError, match="one selection"):
        simulate_files("pisa-csi", guns, 20, tmp_path / "other", seed=3, selections=[CUT])
