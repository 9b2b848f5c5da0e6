"""Closure test: a trained energy network sees a +5% energy scale of the candidate, and nothing between twins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from validate_helpers import block

import calolab
from calolab.reco.train import TrainConfig, train_reco
from calolab.validate import run_validation
from calolab.validate.closure import closure_test, response_by_energy


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """e- of 0.5-3 GeV in the CsI block: training (seed 3), reference (seed 1), twin (seed 2) and the twin's
    cells scaled by 1.05. A spread of energies, so the network must read the energy from the cells."""
    folder = tmp_path_factory.mktemp("closure")
    detector = block()
    paths = {}
    for name, n, seed in (("train", 800, 3), ("reference", 500, 1), ("same", 500, 2)):
        deposits = calolab.simulate(detector, n=n, particle="e-", energy="0.5-3GeV", seed=seed)
        paths[name] = calolab.write_showers(folder / f"{name}.h5", deposits, detector)
    deposits.active["block"] = deposits.active["block"] * np.float32(1.05)
    paths["scale"] = calolab.write_showers(folder / "scale.h5", deposits, detector)
    return paths


@pytest.fixture(scope="module")
def network(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small energy network (ratio target) trained on its own sample."""
    config = TrainConfig.make(data=[files["train"]], model="dnn", task="energy", epochs=8, patience=8,
                              batch_size=64, lr=3e-3, seed=0, output=tmp_path_factory.mktemp("closure") / "dnn",
                              progress=False, inputs={"energy_target": "ratio"})
    return train_reco(config).checkpoint


def test_twin_samples_close_and_a_scaled_sample_does_not(files: dict[str, Path], network: Path) -> None:
    twins = closure_test(network, files["reference"], files["same"])
    scaled = closure_test(network, files["reference"], files["scale"])
    assert twins.n_reference == twins.n_candidate == 500 and twins.task == "energy"
    response = {c.observable.name: c for c in twins.comparisons}["energy_response"]
    assert response.mean_candidate / response.mean_reference == pytest.approx(1.0, abs=0.005)
    assert response.separation < 0.1
    shifted = {c.observable.name: c for c in scaled.comparisons}["energy_response"]
    # the cells are scaled by 1.05 and the network multiplies their sum by its learnt factor
    assert shifted.mean_candidate / shifted.mean_reference == pytest.approx(1.05, abs=0.01)
    assert shifted.separation > 0.4 > 4 * response.separation
    assert shifted.chi2.p_value < 1e-6
    assert set(scaled.figures()["separation_power"]) == {"energy_response", "energy_reco"}


def test_the_suite_runs_the_closure_and_reports_it(files: dict[str, Path], network: Path) -> None:
    result = run_validation(files["reference"], files["scale"],
                            config={"classifier": False, "distances": False, "closure_model": network})
    assert result.closure is not None
    comparison = result.histogram("closure/dnn/energy_response")
    assert comparison.separation > 0.4
    figures = result.figures()
    assert figures["closure"]["response"]["candidate"]["mean"][2] == pytest.approx(
        1.05 * figures["closure"]["response"]["reference"]["mean"][2], rel=0.02)


def test_response_by_energy_bins() -> None:
    true = np.array([1.0, 1.0, 1.0, 5.0, 5.0, 9.0])
    summary = response_by_energy(true, true * np.array([1.0, 1.1, 0.9, 2.0, 2.0, 1.0]), np.array([0.0, 2.0, 6.0, 10.0]))
    assert summary["counts"] == [3, 2, 1]
    np.testing.assert_allclose(summary["mean"][:2], [1.0, 2.0])
    np.testing.assert_allclose(summary["std"][:2], [0.1, 0.0], atol=1e-12)
    assert np.isnan(summary["mean"][2])
