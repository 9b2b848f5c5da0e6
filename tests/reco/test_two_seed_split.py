"""Two overlapping photons: the shower-shape splitting kernel on toy showers, the two-seed baseline on cms pairs."""

from __future__ import annotations

import numpy as np
import pytest

import calolab
from calolab.errors import ConfigError, DatasetError
from calolab.evaluate import evaluate_models, match_photons
from calolab.reco.baselines import (
    BASELINES,
    LogWeightedPosition,
    TwoSeedSplit,
    fit_file,
    load_baseline,
    make_baseline,
    predict_file,
)
from calolab.reco.clustering import cluster_windows, split_two_photons
from calolab.reco.predictions import read_predictions, write_predictions

CELL = 22.0  # mm, the cms crystal pitch (REFERENCES.md "Geometries")
CENTRES = CELL * np.arange(-5, 6)


def _blob(x: float, y: float, energy: float, length: float = 0.35 * CELL, sub: int = 11) -> np.ndarray:
    """A photon at (x, y) mm: an exponential lateral density exp(-r / length) integrated over each cell of
    an 11 x 11 grid of 22 mm cells (sub x sub points per cell), normalised to ``energy`` MeV."""
    offsets = (np.arange(sub) + 0.5) / sub * CELL - CELL / 2
    points = (CENTRES[:, None] + offsets[None, :]).ravel()
    density = np.exp(-np.hypot(points[None, :] - x, points[:, None] - y) / length)
    cells = density.reshape(CENTRES.size, sub, CENTRES.size, sub).sum(axis=(1, 3))
    return energy * cells / cells.sum()


#: photon pairs two cells apart: (x1, y1), (x2, y2) mm and energies E1 > E2 MeV
SEPARATED = [((-18.0, 5.0), (26.0, -3.0), 30e3, 12e3),
             ((3.0, -7.0), (-6.0, 37.0), 20e3, 15e3),
             ((10.0, 10.0), (-21.0, -21.0), 8e3, 6e3)]


def test_split_recovers_photons_two_cells_apart() -> None:
    cells = np.stack([_blob(*p1, e1) + _blob(*p2, e2) for p1, p2, e1, e2 in SEPARATED])
    true_position = np.array([[p1, p2] for p1, p2, _, _ in SEPARATED])
    true_energy = np.array([[e1, e2] for _, _, e1, e2 in SEPARATED])
    position, energy = split_two_photons(cells, CENTRES, CENTRES, profile_length=0.3 * CELL)
    assert position.shape == (3, 2, 2) and energy.shape == (3, 2)
    # mm; photon 1 is the more energetic. The worst is the photon near a crystal corner (10, 10): the
    # log-weighted centre pulls it ~2.3 mm towards the crystal centre (the S-curve)
    np.testing.assert_allclose(position, true_position, atol=2.5)
    np.testing.assert_allclose(energy, true_energy, rtol=0.06)  # worst: the diagonal pair, 4-6%
    np.testing.assert_allclose(energy.sum(axis=1), cells.sum(axis=(1, 2)), rtol=1e-12)  # the shares add up
    # layers are summed: the same showers split over two layers give the same photons
    layered = np.stack([0.4 * cells, 0.6 * cells], axis=1)
    np.testing.assert_allclose(split_two_photons(layered, CENTRES, CENTRES, profile_length=0.3 * CELL)[0],
                               position, atol=1e-9)


def test_split_still_finds_two_photons_one_cell_apart() -> None:
    cells = _blob(-5.0, 3.0, 20e3) + _blob(17.0, 3.0, 10e3)  # one local maximum: the showers are merged
    position, energy = split_two_photons(cells[None], CENTRES, CENTRES, profile_length=0.35 * CELL)
    assert np.all(energy > 0) and energy[0, 0] >= energy[0, 1]
    assert np.linalg.norm(position[0, 0] - position[0, 1]) > 0.5 * CELL  # two photons, not one twice
    np.testing.assert_allclose(position[0], [[-5.0, 3.0], [17.0, 3.0]], atol=4.0)
    np.testing.assert_allclose(energy[0], [20e3, 10e3], rtol=0.05)


def test_split_empty_events_and_errors() -> None:
    position, energy = split_two_photons(np.zeros((2, 11, 11)), CENTRES, CENTRES, profile_length=5.0)
    assert np.isfinite(position).all() and np.all(energy == 0)
    with pytest.raises(ConfigError, match="profile_length"):
        split_two_photons(np.zeros((1, 11, 11)), CENTRES, CENTRES, profile_length=0.0)
    with pytest.raises(ConfigError, match="search_window"):
        split_two_photons(np.zeros((1, 11, 11)), CENTRES, CENTRES, profile_length=5.0, search_window=4)
    with pytest.raises(ConfigError, match="grid"):
        split_two_photons(np.zeros((1, 11, 11)), CENTRES[:5], CENTRES, profile_length=5.0)
    with pytest.raises(ConfigError, match="search_window"):
        TwoSeedSplit(search_window=6)
    with pytest.raises(ConfigError, match="profile_lengths"):
        make_baseline("two-seed", profile_lengths=[0.2, -0.1])


#: photon pairs 1-3 crystals apart over the central crystal (the gun's pair option)
PAIRS = {"particle": "gamma", "energy": "5-20GeV", "pair": {"separation": "1-3cells"}, "spread": 11.0,
         "spread_shape": "uniform"}


@pytest.fixture(scope="module")
def pair_files(tmp_path_factory) -> dict[str, object]:
    cms = calolab.load_detector("cms")
    folder = tmp_path_factory.mktemp("pairs")
    test = calolab.simulate(cms, PAIRS, n=80, seed=22)
    return {"train": calolab.write_showers(folder / "train.h5", calolab.simulate(cms, PAIRS, n=120, seed=21), cms),
            "test": calolab.write_showers(folder / "test.h5", test, cms), "cells": test.active["ECAL"],
            "x": cms.sections[0].cell_centres_x(), "y": cms.sections[0].cell_centres_y()}


def test_two_seed_baseline_beats_the_seed_cell(pair_files, tmp_path) -> None:
    assert BASELINES["two-seed"] is TwoSeedSplit
    model = fit_file(TwoSeedSplit(), pair_files["train"])
    assert model.profile_length in model.config.profile_lengths and set(model.rms_mm) == {"0.15", "0.2", "0.3",
                                                                                          "0.4", "0.6"}
    assert 0.9 < model.energy_scale < 1.1  # PbWO4 crystals contain most of a photon's energy
    predictions = predict_file(model, pair_files["test"])
    true = predictions.truth["photon_position"]
    assert predictions.predicted["photon_position"].shape == (80, 2, 2) == predictions.truth["position"].shape
    assert predictions.predicted["photon_energy"].shape == (80, 2)
    assert np.all(np.diff(predictions.predicted["photon_energy"], axis=1) <= 0)  # by falling energy

    def rms(predicted: np.ndarray) -> float:
        matched = np.take_along_axis(predicted, match_photons(predicted, true)[:, :, None], axis=1)
        return float(np.sqrt(np.mean((matched - true) ** 2)))

    seed = cluster_windows(pair_files["cells"], pair_files["x"], pair_files["y"], 1)[3]
    trivial = rms(np.repeat(seed[:, None], 2, axis=1))  # both photons at the hottest crystal's centre
    split = rms(predictions.predicted["photon_position"])
    assert trivial > 15.0  # mm: the photons are 22-66 mm apart
    assert split < 4.0 and split < 0.25 * trivial

    path = write_predictions(tmp_path / "two-seed.h5", predictions)
    evaluation = evaluate_models([read_predictions(path)])
    overlap = evaluation["two-seed"].overlap
    assert overlap is not None and overlap.photons == 2 and overlap.n_events == 80
    assert overlap.position.sigma < 2.0  # mm, core of the per-coordinate residuals
    assert overlap.energy is not None and abs(overlap.energy.mean - 1.0) < 0.03
    assert overlap.energy.sigma < 0.05


def test_two_seed_save_load_and_truth_of_other_models(pair_files, tmp_path) -> None:
    model = fit_file(TwoSeedSplit(profile_lengths=[0.2, 0.4], iterations=3), pair_files["train"])
    again = load_baseline(model.save(tmp_path / "two-seed.json"))
    assert isinstance(again, TwoSeedSplit) and again.config == model.config
    assert (again.profile_length, again.energy_scale, again.rms_mm) == (model.profile_length, model.energy_scale,
                                                                        model.rms_mm)
    assert "profile length" in again.summary()
    X, names = again.table({"ECAL": pair_files["cells"]}, calolab.load_detector("cms"))
    assert names[:6] == TwoSeedSplit.column_names(0.2) and X.shape == (80, 12)
    np.testing.assert_array_equal(again.predict(X, names), model.predict(X))  # names default to the grid's
    assert isinstance(TwoSeedSplit.load(tmp_path / "two-seed.json"), TwoSeedSplit)
    with pytest.raises(ConfigError, match=r"\(N=80, 2, 3\)"):
        TwoSeedSplit().fit(X, np.zeros((80, 2, 2)), names)
    with pytest.raises(DatasetError, match="no event has two true photons"):
        TwoSeedSplit(profile_lengths=[0.2, 0.4]).fit(X, np.full((80, 2, 3), np.nan), names)
    # the photon truth stays out of the predictions of single-particle models
    position = predict_file(fit_file(LogWeightedPosition(), pair_files["train"]), pair_files["test"])
    assert position.truth["position"].shape == (80, 2)
    assert not any(key.startswith("photon_") for key in position.truth)
