"""End-to-end training of the reconstruction networks: learning, checkpoints, CLI round trips, scans."""

from __future__ import annotations

import json

import lightning as L
import numpy as np
import pytest
from tests.cli_runner import run

import calolab
from calolab.data.torch import DataConfig, ShowerArrays, ShowerDataModule
from calolab.errors import ConfigError, DatasetError
from calolab.reco.inference import load_task, predictions_for, predictions_for_arrays
from calolab.reco.models import InputShapes
from calolab.reco.predictions import read_predictions
from calolab.reco.task import RecoTask
from calolab.reco.train import TrainConfig, make_logger, predict_dataset, quiet_lightning, train_reco


@pytest.fixture(scope="module")
def electrons(tmp_path_factory):
    """300 cms electrons of 2-20 GeV spread over the central crystals."""
    path = tmp_path_factory.mktemp("reco") / "electrons.h5"
    deposits = calolab.simulate("cms", particle="e-", energy="2-20GeV", n=300, seed=7, spread="5mm")
    calolab.write_showers(path, deposits, calolab.load_detector("cms"))
    return path


@pytest.fixture(scope="module")
def photons(tmp_path_factory):
    path = tmp_path_factory.mktemp("reco") / "photons.h5"
    deposits = calolab.simulate("cms", particle="gamma", energy="2-20GeV", n=80, seed=8)
    calolab.write_showers(path, deposits, calolab.load_detector("cms"))
    return path


def test_energy_regression_learns(electrons, tmp_path):
    config = TrainConfig.make(data=[electrons], model="cnn", model_options={"width": 8, "blocks": 2, "dense": 32},
                              task="energy", epochs=15, patience=15, batch_size=32, lr=3e-3, seed=1,
                              output=tmp_path / "cnn", progress=False)
    result = train_reco(config)
    assert result.epochs == 15
    losses = [row["val_loss"] for row in result.history]
    assert min(losses) < 0.2 * losses[0]  # standardised log-energy MSE starts near 1
    metrics = result.metrics
    # the energy sum of a contained e- shower in PbWO4 is a good estimator; the mean energy alone is not
    assert metrics["energy_resolution"] < 0.25 * metrics["energy_resolution_trivial"]
    assert metrics["energy_resolution"] < 0.2 and abs(metrics["energy_bias"]) < 0.1
    for name in ("best.ckpt", "config.json", "standardization.json", "classes.json", "metrics.json",
                 "logs/metrics.csv"):
        assert (tmp_path / "cnn" / name).is_file(), name
    assert json.loads((tmp_path / "cnn" / "classes.json").read_text()) == {"classes": [11]}
    with pytest.raises(DatasetError, match="--overwrite"):
        train_reco(config)


def _two_classes(n: int, seed: int) -> ShowerArrays:
    """Class 11: energy in the central cell; class 211: spread evenly over the 5 x 5 grid (same totals)."""
    rng = np.random.default_rng(seed)
    pdg = rng.choice([11, 211], n).astype(np.int32)
    energy = rng.uniform(1e3, 1e4, n)
    cells = rng.exponential(0.01, (n, 2, 5, 5)).astype(np.float32)
    narrow = pdg == 11
    cells[narrow, :, 2, 2] += (energy[narrow, None] / 2e3).astype(np.float32)
    cells[~narrow] += (energy[~narrow, None, None, None] / 2e3 / 25).astype(np.float32)
    truth = {"energy": energy, "pdg": pdg, "position": np.zeros((n, 2)), "theta": np.zeros(n),
             "photon_position": np.full((n, 2, 2), np.nan), "photon_energy": np.full((n, 2), np.nan)}
    return ShowerArrays({"ECAL": cells}, cells.sum(axis=(1, 2, 3))[:, None], np.zeros((n, 2)), truth)


def test_pid_on_two_synthetic_classes(tmp_path):
    config = TrainConfig.make(model="dnn", model_options={"width": 16}, task="pid", epochs=8, batch_size=32,
                              lr=3e-3, output=tmp_path / "pid", progress=False, logger="none")
    result = train_reco(config, arrays=_two_classes(400, 2))
    assert result.classes == (11, 211)
    assert result.metrics["accuracy"] > 0.9


def test_pid_with_antiparticles_merged_learns_two_classes(tmp_path):
    arrays = _two_classes(400, 4)
    narrow = arrays.truth["pdg"] == 11
    arrays.truth["pdg"] = np.where(np.arange(400) % 2 == 0, 1, -1) * arrays.truth["pdg"]  # e+-, pi+-
    config = TrainConfig.make(model="dnn", model_options={"width": 16}, task="pid", epochs=8, batch_size=32,
                              lr=3e-3, output=tmp_path / "pid", progress=False, logger="none",
                              inputs={"merge_antiparticles": True})
    result = train_reco(config, arrays=arrays)
    assert result.classes == (11, 211)
    assert json.loads((tmp_path / "pid" / "classes.json").read_text())["classes"] == [11, 211]
    assert result.metrics["accuracy"] > 0.9  # the charge-blind classes are learnt; the labels ignore the sign
    predictions = predictions_for_arrays(load_task(result.checkpoint), arrays)
    assert predictions.classes == (11, 211)
    electron_score = predictions.predicted["pid_score"][:, 0]
    assert np.mean(electron_score[narrow] > 0.5) > 0.9 and np.mean(electron_score[~narrow] < 0.5) > 0.9


def test_checkpoint_reload_gives_identical_predictions(tmp_path):
    arrays = _two_classes(200, 3)
    datamodule = ShowerDataModule(arrays=arrays, config=DataConfig(), batch_size=64, seed=0)
    datamodule.setup()
    L.seed_everything(0, verbose=False)
    module = RecoTask("cnn", {"width": 4, "blocks": 1}, InputShapes(datamodule.input_shapes, 1).to_dict(),
                      "pid+energy", list(datamodule.classes), datamodule.standardizer.to_dict(),
                      datamodule.config.model_dump(), {"pid": 1.0, "energy": 0.5}, 1e-3)
    with quiet_lightning():
        trainer = L.Trainer(max_epochs=1, logger=False, enable_progress_bar=False, enable_checkpointing=False,
                            enable_model_summary=False, accelerator="cpu")
        trainer.fit(module, datamodule=datamodule)
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    before = predict_dataset(module, datamodule.dataset("test"))
    reloaded = load_task(tmp_path / "m.ckpt")
    after = predict_dataset(reloaded, datamodule.dataset("test"))
    assert reloaded.weights.energy == 0.5 and reloaded.classes == (11, 211)
    for key in ("energy", "pid_score"):
        np.testing.assert_array_equal(before[key], after[key])


def test_cli_train_predict_round_trip(electrons, photons, tmp_path):
    out = tmp_path / "run"
    code, output, error = run("train", "reco", "--data", str(electrons), "--data", str(photons), "--model", "dnn",
                              "--model-config", "width=8", "--task", "pid+energy", "--epochs", "2",
                              "--batch-size", "64", "--seed", "3", "--augment", "flips", "--layer-fractions",
                              "-o", str(out), "-q")
    assert code == 0, (output, error)
    config = json.loads((out / "config.json").read_text())
    assert config["augment"] == "flips" and config["inputs"]["layer_fractions"] is True
    assert "test accuracy" in output and "best checkpoint" in output
    code, output, error = run("predict", "--model", str(out / "best.ckpt"), "--data", str(photons),
                              "-o", str(tmp_path / "pred.h5"))
    assert code == 0, (output, error)
    predictions = read_predictions(tmp_path / "pred.h5")
    assert len(predictions) == 80 and predictions.classes == (11, 22)
    assert predictions.predicted["pid_score"].shape == (80, 2)
    np.testing.assert_allclose(predictions.predicted["pid_score"].sum(axis=1), 1.0, rtol=1e-5)
    assert (predictions.predicted["energy"] > 0).all() and (predictions.truth["pdg"] == 22).all()
    assert predictions.attrs["task"] == "pid+energy" and predictions.model == "dnn"


def test_cluster_model_predicts_absolute_positions(electrons, tmp_path):
    config = TrainConfig.make(data=[electrons], model="cluster", model_options={"width": 4, "dense": 16},
                              task="cluster", epochs=2, batch_size=64, output=tmp_path / "cl", progress=False,
                              logger="none", inputs={"position_input": True}, augment="dihedral")
    result = train_reco(config)
    assert {"position_rms", "energy_resolution"} <= set(result.metrics)
    task = load_task(result.output)
    assert task.data_config.window == 5 and task.shapes.sections == {"ECAL": (1, 5, 5)}
    assert task.shapes.n_scalars == 3  # window total + seed x, y
    predictions = predictions_for(task, electrons, max_events=20)
    assert predictions.predicted["position"].shape == (20, 2)
    assert np.abs(predictions.predicted["position"]).max() < 121.0  # inside the 11 x 22 mm matrix


def test_scan_runs_two_trials(electrons, tmp_path):
    code, output, error = run("scan", "--data", str(electrons), "--model", "dnn", "--trials", "2", "--epochs", "1",
                              "--max-events", "100", "-o", str(tmp_path / "scan"))
    assert code == 0, (output, error)
    summary = json.loads((tmp_path / "scan" / "scan.json").read_text())
    assert len(summary["trials"]) == 2 and summary["best"]["number"] in (0, 1)
    assert {"lr", "width", "dropout"} == set(summary["best"]["params"])
    assert "best: trial" in output


def test_errors_name_the_fix(electrons, tmp_path):
    with pytest.raises(ConfigError, match="pip install wandb"):
        make_logger("wandb", tmp_path, "run")
    with pytest.raises(ConfigError, match="two particle classes"):
        train_reco(TrainConfig.make(data=[electrons], model="dnn", task="pid", epochs=1, output=tmp_path / "x",
                                    inputs={"max_events": 50}, progress=False))
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig.make(data=[electrons], epochs=0)
    with pytest.raises(ConfigError, match="odd --window"):
        train_reco(TrainConfig.make(data=[electrons], model="cluster", task="cluster", epochs=1, augment="flips",
                                    inputs={"window": 4, "max_events": 50}, output=tmp_path / "w", progress=False))
    with pytest.raises(ConfigError, match="mirrors the cells but not the shower-shape features"):
        train_reco(TrainConfig.make(data=[electrons], model="cnn", epochs=1, augment="flips",
                                    inputs={"feature_inputs": True}, output=tmp_path / "f", progress=False))
    assert not (tmp_path / "f").exists()  # refused before the output folder is made
    code, output, _ = run("predict", "--model", str(tmp_path / "none.ckpt"), "--data", str(electrons), "-o",
                          str(tmp_path / "p.h5"))
    assert code != 0
    code, output, error = run("train", "reco", "--data", str(electrons), "--task", "pid", "--classes", "11,-211",
                              "--merge-antiparticles", "-o", str(tmp_path / "m"), "-q")
    assert code != 0 and "give [11, 211]" in output + str(error)
    assert not (tmp_path / "m").exists()


def test_ratio_energy_target_learns_the_calibration_factor(electrons, tmp_path):
    # log(E / summed cells) is nearly constant for contained e- showers in PbWO4 (about log(1/0.9)), so a
    # short fit already predicts the energy to a few percent: far better than the log-energy target does
    config = TrainConfig.make(data=[electrons], model="dnn", task="energy", epochs=8, patience=8, batch_size=32,
                              lr=3e-3, seed=1, output=tmp_path / "ratio", progress=False,
                              inputs={"energy_target": "ratio"})
    result = train_reco(config)
    arrays = calolab.data.torch.load_showers(electrons)
    target = arrays.targets("ratio")["energy"]
    np.testing.assert_allclose(np.exp(target) * arrays.energy_sum() * 1000.0, arrays.truth["energy"], rtol=1e-9)
    assert 0.0 < np.median(target) < 0.2  # E / sum: containment about 90-95% in 25.8 X0 of PbWO4 crystals
    assert result.metrics["energy_resolution"] < 0.05
    assert abs(result.metrics["energy_bias"]) < 0.02
    predictions = predictions_for(load_task(result.checkpoint), electrons)
    np.testing.assert_allclose(np.median(predictions.predicted["energy"] / predictions.truth["energy"]), 1.0,
                               atol=0.02)


def test_ratio_decoding_needs_the_energy_sum():
    import torch

    from calolab.data.torch import Standardizer
    from calolab.reco.task import decode_outputs

    standardizer = Standardizer({"energy": np.array(0.1)}, {"energy": np.array(2.0)})
    outputs = {"energy": torch.tensor([0.0, 0.5])}
    decoded = decode_outputs(outputs, np.zeros((2, 2)), standardizer, "ratio", np.array([10.0, 20.0]))
    np.testing.assert_allclose(decoded["energy"], [10e3 * np.exp(0.1), 20e3 * np.exp(1.1)], rtol=1e-6)
    with pytest.raises(ConfigError, match="energy_sum"):
        decode_outputs(outputs, np.zeros((2, 2)), standardizer, "ratio")


def test_fraction_cells_and_photon_shares_round_trip():
    import torch

    from calolab.data.torch import Standardizer, apply_cell_transform
    from calolab.reco.task import decode_outputs

    cells = np.random.default_rng(2).exponential(1.0, (4, 2, 3, 3)).astype(np.float32)
    fractions = apply_cell_transform(cells.copy(), "fraction")
    np.testing.assert_allclose(fractions.sum(axis=(1, 2, 3)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(fractions * cells.sum(axis=(1, 2, 3))[:, None, None, None], cells, rtol=1e-5)
    truth = {"energy": np.full(2, 30e3), "pdg": np.full(2, 22), "position": np.zeros((2, 2)), "theta": np.zeros(2),
             "photon_position": np.array([[[1.0, 2.0], [5.0, 6.0]], [[0.0, 0.0], [3.0, 0.0]]]),
             "photon_energy": np.array([[20e3, 10e3], [15e3, 12e3]])}
    arrays = ShowerArrays({"ECAL": cells[:2]}, np.array([[25.0], [30.0]], dtype=np.float32), np.zeros((2, 2)), truth)
    shares = arrays.targets("ratio")["photons"][:, :, 2]
    np.testing.assert_allclose(shares, [[0.8, 0.4], [0.5, 0.4]])
    identity = Standardizer({"photons": np.zeros(3)}, {"photons": np.ones(3)})
    outputs = {"photons": torch.tensor(arrays.targets("ratio")["photons"][:, ::-1].copy())}  # reversed order
    decoded = decode_outputs(outputs, np.zeros((2, 2)), identity, "ratio", arrays.energy_sum())
    np.testing.assert_allclose(decoded["photon_energy"], truth["photon_energy"])  # sorted back, in MeV
    np.testing.assert_allclose(decoded["photon_position"], truth["photon_position"])


@pytest.mark.parametrize("schedule", ["plateau", "cosine"])
def test_learning_rate_schedules(electrons, tmp_path, schedule):
    # the cosine run's rate at its best checkpoint follows lr_0 * cosine_factor(batches done / all batches);
    # the plateau run keeps lr_0 until 3 epochs pass without a better validation loss
    import torch

    from calolab.schedule import cosine_factor

    epochs, lr = 4, 3e-3
    config = TrainConfig.make(data=[electrons], model="dnn", task="energy", epochs=epochs, patience=epochs,
                              batch_size=64, lr=lr, lr_schedule=schedule, seed=1, output=tmp_path / schedule,
                              progress=False, inputs={"energy_target": "ratio"})
    result = train_reco(config)
    assert result.epochs == epochs
    assert result.metrics["energy_resolution"] < 0.5 * result.metrics["energy_resolution_trivial"]
    saved = torch.load(result.checkpoint, map_location="cpu", weights_only=False)
    rate = saved["optimizer_states"][0]["param_groups"][0]["lr"]
    batches = -(-result.n_events["train"] // 64)
    if schedule == "cosine":
        assert not saved["lr_schedulers"]
        done = (saved["epoch"] + 1) * batches - 1  # the rate set before the epoch's last batch
        assert rate == pytest.approx(lr * cosine_factor(done / (epochs * batches), 0.01), rel=1e-9)
        assert rate < lr
    else:
        assert rate == pytest.approx(lr)
        assert saved["lr_schedulers"][0]["patience"] == 3
    with pytest.raises(ConfigError, match="lr_schedule"):
        TrainConfig.make(data=[electrons], lr_schedule="linear")
