"""Classical baselines: known coefficients, trees beat a linear fit, ID separation, cluster positions, files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import calolab
from calolab.errors import ConfigError, DatasetError
from calolab.reco.baselines import (
    BASELINES,
    BDTParticleID,
    CutBasedPhotonID,
    LinearCalibration,
    LogWeightedPosition,
    TwoSeedSplit,
    XGBoostEnergy,
    fit_file,
    load_baseline,
    make_baseline,
    predict_file,
)
from calolab.reco.clustering import SCurveCorrection, centre_of_gravity, cluster_windows, log_weighted_position

GEV = 1000.0
TREES = {"n_estimators": 300, "n_jobs": 1, "learning_rate": 0.1}
NAMES = ["energy_total", "ECAL_energy", "HCAL_energy", "ECAL_depth_mean"]


def _calorimeter(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic (table with NAMES, true E MeV): a nonlinear ECAL response and rear leakage set by the depth."""
    rng = np.random.default_rng(seed)
    energy = rng.uniform(10, 100, n) * GEV
    depth = rng.uniform(0.0, 1.0, n)  # observed shower depth: deeper showers leak more
    visible = energy * (0.95 - 0.3 * np.exp(-energy / (20 * GEV))) * (1 - 0.25 * depth ** 2)
    visible *= 1 + 0.005 * rng.normal(size=n)
    ecal = visible * rng.uniform(0.85, 0.95, n)
    hcal = visible - ecal
    return np.stack([ecal + hcal, ecal, hcal, depth], axis=1), energy


def _resolution(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float(np.std(predicted / truth - 1))


def test_linear_calibration_recovers_coefficients() -> None:
    rng = np.random.default_rng(1)
    ecal, hcal = rng.uniform(0, 50e3, 500), rng.uniform(0, 20e3, 500)
    table = np.stack([ecal + hcal, ecal, hcal, rng.normal(size=500)], axis=1)
    truth = 1.25 * ecal + 2.5 * hcal + 300.0 + rng.normal(0, 1.0, 500)
    model = LinearCalibration().fit(table, truth, NAMES)
    assert model.columns == ["ECAL_energy", "HCAL_energy"]  # the section energies by default
    assert model.coefficients["ECAL_energy"] == pytest.approx(1.25, rel=1e-4)
    assert model.coefficients["HCAL_energy"] == pytest.approx(2.5, rel=1e-4)
    assert model.intercept == pytest.approx(300.0, abs=1.0)
    single = LinearCalibration().fit(ecal[:, None], 1.1 * ecal - 50.0)
    assert (single.coefficients["x0"], single.intercept) == (pytest.approx(1.1), pytest.approx(-50.0, abs=1e-6))
    np.testing.assert_allclose(single.predict(np.array([[1000.0]])), [1050.0])


@pytest.mark.parametrize("target", ["ratio", "energy"])
def test_xgboost_beats_linear_on_a_nonlinear_response(target: str) -> None:
    train, test = _calorimeter(3000, 2), _calorimeter(1000, 3)
    linear = LinearCalibration().fit(*train, NAMES)
    trees = XGBoostEnergy(target=target, seed=4, **TREES).fit(*train, NAMES)
    linear_resolution = _resolution(linear.predict(test[0], NAMES), test[1])
    tree_resolution = _resolution(trees.predict(test[0], NAMES), test[1])
    assert linear_resolution > 0.02  # the leakage is invisible to a sum of section energies
    assert tree_resolution < 0.6 * linear_resolution
    assert 1 <= trees.meta["trees"] <= TREES["n_estimators"]  # early stopping on the validation share


def test_xgboost_ratio_needs_the_sum() -> None:
    with pytest.raises(ConfigError, match="energy_total"):
        XGBoostEnergy(**TREES).fit(np.ones((10, 2)), np.ones(10))


def _two_classes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pdg = np.where(rng.random(n) < 0.5, 11, 211)
    X = rng.normal(size=(n, 5))
    X[pdg == 211, :3] += 1.2  # three of five features separate the classes
    return X, pdg


def test_bdt_separates_two_classes() -> None:
    model = BDTParticleID(seed=0, **TREES).fit(*_two_classes(2000, 5))
    X, pdg = _two_classes(1000, 6)
    proba = model.predict_proba(X)
    assert model.classes == (11, 211) and proba.shape == (1000, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert roc_auc_score(pdg == 211, proba[:, 1]) > 0.9
    assert np.mean(model.predict(X) == pdg) > 0.8


def test_bdt_three_classes() -> None:
    rng = np.random.default_rng(7)
    pdg = rng.choice([22, 111, 211], 1500)
    X = rng.normal(size=(1500, 3)) + np.select([pdg == 22, pdg == 111], [0.0, 2.0], 4.0)[:, None]
    model = BDTParticleID(seed=0, **TREES).fit(X, pdg)
    assert model.classes == (22, 111, 211) and model.predict_proba(X).shape == (1500, 3)
    assert np.mean(model.predict(X) == pdg) > 0.9


def test_bdt_with_antiparticles_merged_has_one_class_per_pair() -> None:
    X, pdg = _two_classes(1500, 8)
    charged = np.where(np.arange(pdg.size) % 2 == 0, 1, -1) * pdg  # e+- and pi+-
    model = BDTParticleID(seed=0, merge_antiparticles=True, **TREES).fit(X, charged)
    assert model.classes == (11, 211) and model.predict_proba(X).shape == (1500, 2)
    assert np.mean(model.predict(X) == pdg) > 0.8
    assert BDTParticleID(seed=0, **TREES).fit(X, charged).classes == (-211, -11, 11, 211)
    with pytest.raises(ConfigError, match="merge_antiparticles"):
        BDTParticleID(classes=[11, -211], merge_antiparticles=True)


def _photons_and_pizeros(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    pdg = np.where(rng.random(n) < 0.5, 22, 111)
    pi0 = pdg == 111
    sigma = rng.normal(np.where(pi0, 1.2, 0.8), 0.15)  # merged pi0 photons: wider, less peaked
    r9 = np.clip(rng.normal(np.where(pi0, 0.85, 0.95), 0.03), 0, 1)
    e1_e9 = np.clip(rng.normal(np.where(pi0, 0.6, 0.75), 0.05), 0, 1)
    names = ["ECAL_sigma_ieta_ieta", "ECAL_r9", "ECAL_e1_e9", "ECAL_energy"]
    return np.stack([sigma, r9, e1_e9, rng.uniform(1, 2, n)], axis=1), pdg, names


def test_cut_based_photon_id_reaches_its_efficiency() -> None:
    X, pdg, names = _photons_and_pizeros(4000, 8)
    model = CutBasedPhotonID(efficiency=0.8).fit(X, pdg, names)
    assert model.columns == names[:3]  # the default shower shapes
    cuts = model.cuts()
    assert cuts["ECAL_sigma_ieta_ieta"][0] == "<" and cuts["ECAL_r9"][0] == ">" and cuts["ECAL_e1_e9"][0] == ">"
    assert np.mean(model.predict(X, names)[pdg == 22]) == pytest.approx(0.8, abs=0.005)
    X_test, pdg_test, _ = _photons_and_pizeros(4000, 9)
    passed = model.predict(X_test, names)
    assert np.mean(passed[pdg_test == 22]) == pytest.approx(0.8, abs=0.03)
    assert np.mean(passed[pdg_test == 111]) < 0.05
    assert roc_auc_score(pdg_test == 22, model.score(X_test, names)) > 0.95
    fields, classes = model.predicted_fields(X_test, names)
    assert classes == (22, 111) and fields["pid_score"].shape == (4000, 2)


@pytest.fixture(scope="module")
def cms_photons() -> dict[str, np.ndarray]:
    """2 GeV photons on the cms crystals, uniform over the central crystal (22 mm)."""
    cms = calolab.load_detector("cms")
    showers = calolab.simulate(cms, n=700, particle="gamma", energy="2GeV", seed=11, spread=11.0,
                               spread_shape="uniform")
    first = showers.primaries.event_offsets[:-1]
    section = cms.sections[0]
    return {"cells": showers.active["ECAL"], "truth": showers.primaries.position[first, :2],
            "x": section.cell_centres_x(), "y": section.cell_centres_y()}


def test_log_weighted_position_beats_the_energy_weighted_centre(cms_photons) -> None:
    c = cms_photons
    log_weighted = log_weighted_position(c["cells"], c["x"], c["y"])  # CMS w0 = 4.2
    linear = centre_of_gravity(c["cells"], c["x"], c["y"])
    rms_log = np.sqrt(np.mean((log_weighted - c["truth"]) ** 2))
    rms_linear = np.sqrt(np.mean((linear - c["truth"]) ** 2))
    assert rms_log < 0.75 * rms_linear
    assert rms_log < 0.15 * 22.0  # well inside the 22 mm crystal


def _edge_bias(estimate: np.ndarray, truth: np.ndarray, seed: np.ndarray) -> float:
    """Mean |signed bias| of x in the outer 20% of the seed crystal on each side (true position), mm."""
    offset = (truth[:, 0] - seed[:, 0]) / 22.0
    residual = estimate[:, 0] - truth[:, 0]
    return 0.5 * (abs(np.mean(residual[offset > 0.3])) + abs(np.mean(residual[offset < -0.3])))


@pytest.mark.parametrize("w0", [3.0, 3.5])
def test_s_curve_correction_reduces_the_edge_bias(cms_photons, w0: float) -> None:
    # a smaller w0 weights the seed more and pulls the estimate to the crystal centre: a clear S-curve
    c = cms_photons
    estimate = log_weighted_position(c["cells"], c["x"], c["y"], w0=w0)
    seed = cluster_windows(c["cells"], c["x"], c["y"], 1)[3]
    train, test = slice(0, 450), slice(450, None)
    correction = SCurveCorrection.fit(estimate[train], seed[train], c["truth"][train], 22.0, bins=10)
    corrected = correction.apply(estimate[test], seed[test])
    raw_bias = _edge_bias(estimate[test], c["truth"][test], seed[test])
    assert raw_bias > 1.0  # mm
    assert _edge_bias(corrected, c["truth"][test], seed[test]) < 0.5 * raw_bias
    rms = lambda p: np.sqrt(np.mean((p - c["truth"][test]) ** 2))  # noqa: E731
    assert rms(corrected) < rms(estimate[test])


def test_position_model_with_cms_w0(cms_photons) -> None:
    c = cms_photons
    cms = calolab.load_detector("cms")
    model = LogWeightedPosition(bins=10)
    X, names = model.table({"ECAL": c["cells"]}, cms)
    model.fit(X[:450], c["truth"][:450], names)
    raw = np.sqrt(np.mean((X[450:, :2] - c["truth"][450:]) ** 2))
    corrected = np.sqrt(np.mean((model.predict(X[450:]) - c["truth"][450:]) ** 2))
    assert corrected < 1.03 * raw  # at w0 = 4.2 the S-curve of a crystal is small: the correction must not hurt


def _fitted_models(cms_photons) -> list[tuple[object, np.ndarray, list[str]]]:
    table, energy = _calorimeter(400, 12)
    X2, pdg2 = _two_classes(400, 13)
    X3, pdg3, names3 = _photons_and_pizeros(400, 14)
    position = LogWeightedPosition()
    Xp, names_p = position.table({"ECAL": cms_photons["cells"]}, calolab.load_detector("cms"))
    split = TwoSeedSplit(profile_lengths=[0.2, 0.4])
    Xs, names_s = split.table({"ECAL": cms_photons["cells"]}, calolab.load_detector("cms"))
    partner = cms_photons["truth"] + [22.0, 0.0]  # a made-up second photon: only the round trip matters here
    photons = np.stack([np.column_stack([cms_photons["truth"], np.full(len(partner), 1500.0)]),
                        np.column_stack([partner, np.full(len(partner), 500.0)])], axis=1)
    return [
        (LinearCalibration().fit(table, energy, NAMES), table, NAMES),
        (XGBoostEnergy(**TREES).fit(table, energy, NAMES), table, NAMES),
        (BDTParticleID(**TREES).fit(X2, pdg2), X2, [f"x{k}" for k in range(5)]),
        (CutBasedPhotonID().fit(X3, pdg3, names3), X3, names3),
        (position.fit(Xp, cms_photons["truth"], names_p), Xp, names_p),
        (split.fit(Xs, photons, names_s), Xs, names_s),
    ]


def test_save_load_round_trips(tmp_path, cms_photons) -> None:
    models = _fitted_models(cms_photons)
    assert sorted(m.kind for m, _, _ in models) == sorted(BASELINES)
    field = {"pid": "pid_score", "photons": "photon_position"}
    for model, X, names in models:
        path = model.save(tmp_path / f"{model.kind}.json")
        again = load_baseline(path)
        assert type(again) is type(model)
        np.testing.assert_array_equal(again.predict(X, names), model.predict(X, names))
        key = field.get(model.target, model.target)
        np.testing.assert_array_equal(again.predicted_fields(X, names)[0][key],
                                      model.predicted_fields(X, names)[0][key])
    assert isinstance(XGBoostEnergy.load(tmp_path / "xgboost.json"), XGBoostEnergy)
    with pytest.raises(DatasetError, match="holds a 'linear' baseline"):
        XGBoostEnergy.load(tmp_path / "linear.json")


def test_errors(tmp_path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_baseline(tmp_path / "missing.json")
    (tmp_path / "foreign.json").write_text(json.dumps({"weights": [1, 2]}))
    with pytest.raises(DatasetError, match="not a calolab baseline model"):
        load_baseline(tmp_path / "foreign.json")
    (tmp_path / "binary.json").write_bytes(b"\x89HDF\r\n\x1a\n\x00\xff")
    with pytest.raises(DatasetError, match="not a JSON file"):
        load_baseline(tmp_path / "binary.json")
    with pytest.raises(ConfigError, match="not fitted"):
        LinearCalibration().predict(np.ones((2, 2)))
    with pytest.raises(ConfigError, match="max_depth"):
        make_baseline("xgboost", max_depth=0)
    with pytest.raises(ConfigError, match="unknown baseline"):
        make_baseline("forest")
    with pytest.raises(ConfigError, match="odd"):
        LogWeightedPosition(window=4)
    with pytest.raises(DatasetError, match="two classes"):
        BDTParticleID(**TREES).fit(np.ones((10, 2)), np.full(10, 11))
    model = LinearCalibration().fit(*_calorimeter(50, 1), NAMES)
    with pytest.raises(DatasetError, match="not in the table"):
        model.predict(np.ones((3, 2)), ["ECAL_energy", "other"])


def test_files(tmp_path) -> None:
    cms = calolab.load_detector("cms")
    showers = calolab.simulate(cms, n=120, particle="gamma,e-", energy="1-3GeV", seed=15)
    path = calolab.write_showers(tmp_path / "mix.h5", showers, cms)
    model = fit_file(LinearCalibration(), path, chunk=50)
    assert model.meta["n_events"] == 120 and model.meta["shapes"] == {"ECAL": [1, 11, 11]}
    predictions = predict_file(model, path, chunk=32)
    assert len(predictions) == 120 and predictions.model == "linear"
    np.testing.assert_allclose(predictions.truth["energy"], showers.primaries.event_energy())
    np.testing.assert_array_equal(predictions.truth["pdg"], showers.primaries.pdg)
    assert _resolution(predictions.predicted["energy"], predictions.truth["energy"]) < 0.03
    ident = fit_file(BDTParticleID(**TREES), path)
    assert predict_file(ident, path, max_events=10).predicted["pid_score"].shape == (10, 2)
    other = calolab.load_detector("clic")
    foreign = calolab.write_showers(tmp_path / "clic.h5", calolab.simulate(other, n=2, energy="1GeV", seed=1),
                                    other)
    with pytest.raises(DatasetError, match="training detector"):
        predict_file(model, foreign)
    with pytest.raises(DatasetError, match="no digitized signal"):
        fit_file(LinearCalibration(), path, signal="digitized")
