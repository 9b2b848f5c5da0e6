"""calolab baseline fit / predict: round trips to predictions files, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_runner import run

import calolab
from calolab.errors import ConfigError, DatasetError
from calolab.reco.predictions import read_predictions


@pytest.fixture(scope="module")
def showers(tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("baseline")
    cms = calolab.load_detector("cms")
    train = calolab.simulate(cms, n=160, particle="gamma,e-", energy="1-3GeV", seed=21, spread=11.0,
                             spread_shape="uniform")
    test = calolab.simulate(cms, n=60, particle="gamma,e-", energy="1-3GeV", seed=22, spread=11.0,
                            spread_shape="uniform")
    return {"folder": folder, "train": calolab.write_showers(folder / "train.h5", train, cms),
            "test": calolab.write_showers(folder / "test.h5", test, cms)}


@pytest.mark.parametrize(("model", "extra", "field"), [
    ("linear", [], "energy"),
    ("xgboost", ["--option", "n_estimators=50", "--option", "n_jobs=1"], "energy"),
    ("bdt", ["--option", "n_estimators=20", "--option", "n_jobs=1"], "pid_score"),
    ("cut-id", ["--option", "efficiency=0.8"], "pid_score"),
    ("log-position", ["--option", "bins=5"], "position"),
])
def test_fit_predict_round_trip(showers, tmp_path, model: str, extra: list[str], field: str) -> None:
    model_path, predictions_path = tmp_path / f"{model}.json", tmp_path / f"{model}.h5"
    code, output, error = run("baseline", "fit", "--data", str(showers["train"]), "--model", model,
                              "-o", str(model_path), "--seed", "3", *extra)
    assert code == 0, (output, error)
    assert model_path.is_file() and str(model_path) in output and "fitted on 160 events" in output
    code, output, error = run("baseline", "predict", "--model", str(model_path), "--data", str(showers["test"]),
                              "-o", str(predictions_path), "--name", f"my-{model}")
    assert code == 0, (output, error)
    predictions = read_predictions(predictions_path)
    assert predictions.model == f"my-{model}" and len(predictions) == 60
    assert field in predictions.predicted
    assert predictions.attrs["model_path"] == str(model_path)
    assert set(np.unique(predictions.truth["pdg"])) == {11, 22}
    if field == "energy":
        relative = predictions.predicted["energy"] / predictions.truth["energy"] - 1
        assert np.std(relative) < 0.05
    if field == "pid_score":
        assert predictions.predicted["pid_score"].shape == (60, 2) and set(predictions.classes) == {11, 22}
    if field == "position":
        assert np.sqrt(np.mean((predictions.predicted["position"] - predictions.truth["position"]) ** 2)) < 4.0


def test_xgboost_with_pid_target_is_the_bdt(showers, tmp_path) -> None:
    path = tmp_path / "pid.json"
    code, output, error = run("baseline", "fit", "--data", str(showers["train"]), "--model", "xgboost",
                              "--target", "pid", "--option", "n_estimators=10", "--option", "n_jobs=1", "-o", str(path))
    assert code == 0, (output, error)
    assert json.loads(path.read_text())["kind"] == "bdt"


@pytest.mark.parametrize(("args", "kind", "fragment"), [
    (["--model", "forest"], ConfigError, "is not a baseline"),
    (["--model", "linear", "--target", "pid"], ConfigError, "cannot predict --target 'pid'"),
    (["--model", "linear", "--option", "fit_intercept"], ConfigError, "is not KEY=VALUE"),
    (["--model", "xgboost", "--option", "depth=3"], ConfigError, "depth"),
    (["--model", "linear", "--signal", "digitized"], DatasetError, "no digitized signal"),
])
def test_fit_errors(showers, tmp_path, args: list[str], kind: type, fragment: str) -> None:
    code, _, error = run("baseline", "fit", "--data", str(showers["train"]), "-o", str(tmp_path / "m.json"), *args)
    assert code != 0 and isinstance(error, kind) and fragment in str(error), error


def test_missing_and_foreign_files(showers, tmp_path) -> None:
    code, _, error = run("baseline", "fit", "--data", str(tmp_path / "none.h5"), "--model", "linear",
                         "-o", str(tmp_path / "m.json"))
    assert code != 0 and isinstance(error, DatasetError) and "does not exist" in str(error)
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"layers": [64, 64]}')
    code, _, error = run("baseline", "predict", "--model", str(foreign), "--data", str(showers["test"]),
                         "-o", str(tmp_path / "p.h5"))
    assert code != 0 and isinstance(error, DatasetError) and "not a calolab baseline model" in str(error)
    code, _, error = run("baseline", "predict", "--model", str(showers["test"]), "--data", str(showers["test"]),
                         "-o", str(tmp_path / "p.h5"))
    assert code != 0 and isinstance(error, DatasetError) and "not a JSON file" in str(error)
    existing = tmp_path / "exists.json"
    existing.write_text("{}")
    code, _, error = run("baseline", "fit", "--data", str(showers["train"]), "--model", "linear", "-o", str(existing))
    assert code != 0 and isinstance(error, DatasetError) and "--overwrite" in str(error)


def test_two_seed_split_from_the_command_line(tmp_path) -> None:
    cms = calolab.load_detector("cms")
    gun = {"particle": "gamma", "energy": "3-8GeV", "pair": {"separation": "1.5-3cells"}, "spread": 11.0,
           "spread_shape": "uniform"}
    files = {name: calolab.write_showers(tmp_path / f"{name}.h5", calolab.simulate(cms, gun, n=n, seed=seed), cms)
             for name, n, seed in (("train", 80, 31), ("test", 40, 32))}
    code, output, error = run("baseline", "fit", "--data", str(files["train"]), "--model", "two-seed",
                              "-o", str(tmp_path / "split.json"), "--option", "profile_lengths=0.2,0.4")
    assert code == 0, (output, error)
    code, output, error = run("baseline", "predict", "-m", str(tmp_path / "split.json"), "--data",
                              str(files["test"]), "-o", str(tmp_path / "split.h5"))
    assert code == 0, (output, error)
    predictions = read_predictions(tmp_path / "split.h5")
    assert predictions.predicted["photon_position"].shape == predictions.truth["position"].shape == (40, 2, 2)
    code, output, error = run("evaluate", str(tmp_path / "split.h5"), "-o", str(tmp_path / "eval"))
    assert code == 0, (output, error)
    figures = json.loads((tmp_path / "eval" / "figures.json").read_text())
    overlap = figures["models"]["two-seed"]["overlap"]
    assert overlap["photons"] == 2 and overlap["position_sigma_mm"] < 4.0  # 22 mm crystals; the split gives ~1.3 mm
