"""Reconstruction comparisons: one seeded split for every model, baselines and networks side by side."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calolab.data.torch import DataConfig, split_indices
from calolab.errors import ConfigError, DatasetError
from calolab.studies.reconstruction import ModelSpec, compare_models, simulate_files, simulate_sample, write_comparison

GUNS = [{"particle": "e-", "energy": "5-50GeV", "spread": 11.0, "spread_shape": "uniform"},
        {"particle": "gamma", "energy": "5-50GeV"}]
TRAINING = {"epochs": 4, "patience": 4, "batch_size": 32, "lr": 3e-3}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return simulate_sample("cms", GUNS, [90, 60], tmp_path_factory.mktemp("study"), seed=3)


def test_sample_holds_every_event_with_features_and_origin(sample) -> None:
    assert len(sample) == 150
    assert sample.features.shape == (150, len(sample.feature_names))
    np.testing.assert_array_equal(np.bincount(sample.source), [90, 60])
    np.testing.assert_array_equal(sample.arrays.truth["pdg"], np.repeat([11, 22], [90, 60]))
    # the feature table and the network arrays describe the same events: the summed energy agrees
    np.testing.assert_allclose(sample.feature("energy_total"), sample.arrays.totals[:, 0] * 1000.0, rtol=1e-5)
    photons = sample.subset(sample.arrays.truth["pdg"] == 22)
    assert len(photons) == 60 and set(photons.source) == {1} and list(photons.rows) == list(range(60))
    with pytest.raises(ConfigError, match="no feature"):
        sample.feature("hcal_ecal_ratio")  # one section: no ratio


def test_features_read_with_the_arrays_equal_those_read_from_the_files(sample, tmp_path) -> None:
    # simulate_sample takes the features from the arrays' pass over the files; features_from_file reads again
    from calolab.features import features_from_file

    for k, path in enumerate(sample.files):
        alone = features_from_file(path)
        rows = sample.source == k
        for name in sample.feature_names:
            np.testing.assert_array_equal(sample.feature(name)[rows], alone[name], err_msg=name)
    # with chunks of 40 events the visitor sees three chunks of the first file: the table is unchanged
    chunked = simulate_sample("cms", GUNS, [90, 60], sample.files[0].parent, seed=3,
                              data_config=DataConfig(chunk=40))
    np.testing.assert_array_equal(chunked.features, sample.features)
    # networks that read the features carry the table already: the sample takes it (float32) from them
    with_inputs = simulate_sample("cms", GUNS, [90, 60], sample.files[0].parent, seed=3,
                                  data_config=DataConfig(chunk=40, feature_inputs=True))
    assert with_inputs.feature_names == sample.feature_names
    np.testing.assert_array_equal(with_inputs.source, sample.source)
    np.testing.assert_array_equal(with_inputs.rows, sample.rows)
    np.testing.assert_allclose(with_inputs.features, sample.features, rtol=1e-6, atol=1e-6)


def test_files_are_reused_and_a_changed_count_is_refused(sample, tmp_path) -> None:
    folder = sample.files[0].parent
    stamps = [path.stat().st_mtime_ns for path in sample.files]
    assert simulate_files("cms", GUNS, [90, 60], folder, seed=3) == sample.files
    assert [path.stat().st_mtime_ns for path in sample.files] == stamps
    with pytest.raises(DatasetError, match="other events"):
        simulate_files("cms", GUNS, [91, 60], folder, seed=3)
    with pytest.raises(DatasetError, match="other gun"):
        simulate_files("cms", [{**GUNS[0], "energy": "5-60GeV"}, GUNS[1]], [90, 60], folder, seed=3)
    with pytest.raises(DatasetError, match="other seed"):
        simulate_files("cms", GUNS, [90, 60], folder, seed=4)


def test_every_model_is_tested_on_the_same_events(sample, tmp_path) -> None:
    models = [ModelSpec("linear"), ModelSpec("xgboost", options={"n_estimators": 200, "n_jobs": 1}),
              ModelSpec("dnn", "dnn-ratio", inputs={"energy_target": "ratio"})]
    result = compare_models(sample, "energy", models, workdir=tmp_path / "runs", seed=5, training=TRAINING)
    _, _, test = split_indices(len(sample), 5, 0.15, 0.25)
    assert result.split == {"train": 90, "val": 22, "test": 38}
    for name in ("linear", "xgboost", "dnn-ratio"):
        np.testing.assert_array_equal(result.predictions[name].truth["energy"], sample.arrays.truth["energy"][test])
        relative = result.predictions[name].predicted["energy"] / result.predictions[name].truth["energy"] - 1
        # contained e-/gamma showers in PbWO4: every model is within a few percent; a constant guess is ~60% off
        assert np.std(relative) < 0.05, name
    assert result.training["linear"]["n_train"] == 90 + 22  # baselines also get the validation events
    assert result.training["dnn-ratio"]["n_train"] == 90 and result.training["dnn-ratio"]["epochs"] == 4
    assert result.settings["models"][2]["inputs"] == {"energy_target": "ratio"}
    path = write_comparison(result, tmp_path / "out", extra={"study": "unit"})
    figures = json.loads(path.read_text())
    assert figures["study"] == "unit" and set(figures["evaluation"]["models"]) == {"linear", "xgboost", "dnn-ratio"}
    assert (tmp_path / "out" / "resolution.png").is_file()


def test_an_ensemble_averages_its_members_and_finished_runs_are_reused(sample, tmp_path) -> None:
    from calolab.reco.predictions import Predictions, average_predictions

    models = [ModelSpec("linear"), ModelSpec("dnn", "dnn-a", inputs={"energy_target": "ratio"}),
              ModelSpec("ensemble", "both", options={"members": ["dnn-a", "dnn-b"]}),
              ModelSpec("dnn", "dnn-b", inputs={"energy_target": "ratio"}, training={"lr": 1e-3})]
    first = compare_models(sample, "energy", models, workdir=tmp_path / "runs", seed=5, training=TRAINING)
    members = [first.predictions["dnn-a"].predicted["energy"], first.predictions["dnn-b"].predicted["energy"]]
    assert not np.allclose(members[0], members[1])
    np.testing.assert_allclose(first.predictions["both"].predicted["energy"], (members[0] + members[1]) / 2)
    assert first.training["both"]["members"] == ["dnn-a", "dnn-b"]
    assert [m.model for m in first.evaluation.models] == ["linear", "dnn-a", "both", "dnn-b"]  # in the order asked
    stamp = (tmp_path / "runs" / "dnn-a" / "best.ckpt").stat().st_mtime_ns
    again = compare_models(sample, "energy", models, workdir=tmp_path / "runs", seed=5, training=TRAINING,
                           reuse_runs=True)
    assert again.training["dnn-a"]["reused"] and again.training["dnn-b"]["reused"]
    assert again.training["dnn-a"]["epochs"] == first.training["dnn-a"]["epochs"]
    assert (tmp_path / "runs" / "dnn-a" / "best.ckpt").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.predictions["both"].predicted["energy"],
                                  first.predictions["both"].predicted["energy"])
    # a run saved before a config field existed is reused when the field is at its default
    saved_path = tmp_path / "runs" / "dnn-a" / "config.json"
    saved = json.loads(saved_path.read_text())
    del saved["inputs"]["feature_inputs"]
    saved_path.write_text(json.dumps(saved))
    older = compare_models(sample, "energy", models[1:2], workdir=tmp_path / "runs", seed=5, training=TRAINING,
                           reuse_runs=True)
    assert older.training["dnn-a"]["reused"]
    # another training config is trained afresh, not reused
    changed = compare_models(sample, "energy", models[1:2], workdir=tmp_path / "runs", seed=5,
                             training={**TRAINING, "epochs": 2}, reuse_runs=True)
    assert "reused" not in changed.training["dnn-a"] and changed.training["dnn-a"]["epochs"] == 2
    with pytest.raises(ConfigError, match="needs two or more members among the models before it"):
        compare_models(sample, "energy", [models[0], ModelSpec("ensemble", options={"members": ["linear", "x"]})],
                       workdir=tmp_path / "runs")
    linear = first.predictions["linear"]
    fewer = Predictions("fewer", {k: v[:5] for k, v in linear.truth.items()},
                        {k: v[:5] for k, v in linear.predicted.items()})
    with pytest.raises(DatasetError, match="other events"):
        average_predictions([linear, fewer], "x")


def test_pid_comparison_and_bad_model_lists(sample, tmp_path) -> None:
    result = compare_models(sample, "pid", [ModelSpec("bdt", options={"n_estimators": 100, "n_jobs": 1})],
                            workdir=tmp_path, seed=1, evaluation={"signal": 11, "background": [22]})
    classification = result.evaluation["bdt"].classification
    assert classification is not None and 0.5 <= classification.auc <= 1.0
    with pytest.raises(ConfigError, match="unique names"):
        compare_models(sample, "pid", [ModelSpec("bdt"), ModelSpec("bdt")], workdir=tmp_path)


def test_window_sample_with_position_input(tmp_path) -> None:
    gun = {"particle": "gamma", "energy": "10-30GeV", "spread": 22.0, "spread_shape": "uniform",
           "vertex_distance": 300.0}
    sample = simulate_sample("cms", [gun], 120, tmp_path, seed=2, data_config=DataConfig(window=5))
    assert sample.arrays.shapes == {"ECAL": (1, 5, 5)}
    result = compare_models(sample, "cluster", [
        ModelSpec("log-position"), ModelSpec("cluster", "net+position", inputs={"position_input": True})],
        workdir=tmp_path / "runs", seed=0, training=TRAINING)
    assert result.settings["models"][1]["inputs"] == {"position_input": True}
    for name in ("log-position", "net+position"):
        error = result.predictions[name].predicted["position"] - result.predictions[name].truth["position"]
        assert np.sqrt(np.mean(error ** 2)) < 22.0 / np.sqrt(12) * 1.5, name  # not worse than the cell's flat rms


def test_overlap_comparison_puts_both_models_on_the_photons(tmp_path) -> None:
    gun = {"particle": "gamma", "energy": "5-15GeV", "pair": {"separation": "1.5-3cells"}, "spread": 11.0,
           "spread_shape": "uniform"}
    sample = simulate_sample("cms", [gun], 120, tmp_path, seed=4, data_config=DataConfig(window=7))
    result = compare_models(sample, "overlap", [ModelSpec("two-seed", options={"profile_lengths": [0.2, 0.4]}),
                                                ModelSpec("overlap")], workdir=tmp_path / "runs", training=TRAINING)
    for name in ("two-seed", "overlap"):
        predictions = result.predictions[name]
        assert predictions.truth["position"].shape == predictions.predicted["position"].shape == (30, 2, 2), name
        assert result.evaluation[name].overlap is not None, name
    # the tuned split finds both photons to a few mm in 22 mm crystals
    assert result.evaluation["two-seed"].overlap.position.sigma < 4.0
