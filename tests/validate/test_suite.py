"""run_validation on two simulations of one configuration, species groups, JSON, and refused inputs."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from validate_helpers import tiny

import calolab
from calolab.errors import ConfigError, DatasetError
from calolab.validate import ValidationConfig, run_validation

FAST = {"classifier": False}


@pytest.fixture(scope="module")
def same(shower_files: dict[str, Path]) -> calolab.validate.ValidationResult:
    return run_validation(shower_files["reference"], shower_files["same"], config=FAST)


def test_identical_configurations_show_only_statistical_differences(same: calolab.validate.ValidationResult) -> None:
    assert same.n_reference == same.n_candidate == 600 and list(same.groups) == ["all"]
    scalars = [c for c in same.histograms if c.layer is None]
    assert {c.observable.name for c in scalars} >= {"energy_ratio", "n_hits", "depth_mean", "depth_width",
                                                     "lateral_width", "fraction_back", "cell_energy"}
    for c in same.histograms:
        assert c.separation < 0.1, c.key
    assert all(c.reference.sum() == c.candidate.sum() == 600 for c in scalars if c.observable.kind == "scalar")
    energy = same.histogram("all/block/energy_ratio")
    assert energy.separation < 3 * energy.separation_expected and energy.chi2.p_value > 0.001
    # 600 + 600 events, ~25 filled bins: statistics alone give S ~ 0.02
    assert 0.01 < energy.separation_expected < 0.04
    assert same.profile("all/block/profile_z").chi2.p_value > 0.001
    assert same.fpd is not None and same.kpd is not None
    assert abs(same.fpd.value) < 1.0 and abs(same.kpd.value) < 0.05
    assert same.classifiers == {}


def test_json_holds_every_figure(same: calolab.validate.ValidationResult) -> None:
    figures = json.loads(same.to_json())
    assert figures["n_reference"] == 600 and figures["reference"]["detector"] == "CsI-block"
    assert figures["reference"]["sections"] == {"block": [10, 10, 10]}
    assert len(figures["histograms"]) == len(same.histograms) and "all/block/layer_energy[9]" in figures["histograms"]
    entry = figures["histograms"]["all/block/energy_ratio"]
    assert len(entry["edges"]) == len(entry["reference"]) + 1 and entry["separation_power"] >= 0
    assert set(figures["profiles"]) == {f"all/block/profile_{p}" for p in ("z", "x", "y", "cell_energy")}
    assert figures["fpd"]["value"] == same.fpd.value and figures["config"]["classifier"] is False
    assert {row["observable"] for row in figures["summary"]} >= {"energy_ratio", "layer_energy"}
    with pytest.raises(KeyError, match="keys look like"):
        same.histogram("all/block/nothing")


def test_species_are_compared_one_by_one(tmp_path: Path) -> None:
    detector = tiny()
    paths = []
    for seed in (1, 2):
        deposits = calolab.simulate(detector, n=120, particle="e-,gamma", energy="1GeV", seed=seed)
        paths.append(calolab.write_showers(tmp_path / f"mix{seed}.h5", deposits, detector))
    result = run_validation(*paths, config={"classifier": False, "distances": False, "max_events": 100})
    assert list(result.groups) == ["all", "e-", "gamma"]
    assert sum(result.groups[p][0] for p in ("e-", "gamma")) == result.groups["all"][0] == 100
    gamma = result.histogram("gamma/block/energy_ratio")
    assert gamma.reference.sum() == result.groups["gamma"][0]
    assert result.fpd is None and result.kpd is None


def test_refused_inputs(tmp_path: Path, shower_files: dict[str, Path]) -> None:
    detector = tiny()
    other = calolab.write_showers(tmp_path / "tiny.h5", calolab.simulate(detector, n=20, energy="1GeV", seed=1),
                                  detector)
    with pytest.raises(DatasetError, match="different detectors"):
        run_validation(shower_files["reference"], other, config=FAST)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["showers"] = np.zeros((3, 4))
    with pytest.raises(DatasetError, match="candidate file: .*not a calolab shower file"):
        run_validation(shower_files["reference"], foreign, config=FAST)
    with pytest.raises(DatasetError, match="reference file: .*does not exist"):
        run_validation(tmp_path / "missing.h5", shower_files["reference"], config=FAST)
    with pytest.raises(DatasetError, match="no digitized signal"):
        run_validation(shower_files["reference"], shower_files["same"], config={"signal": "digitized"})
    with pytest.raises(ConfigError, match="bins"):
        ValidationConfig.make(bins=1)
