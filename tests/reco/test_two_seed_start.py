"""The overlap network that starts from the two-seed split and learns corrections to it (``start_from``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tests.cli_runner import run

from calolab.data.augment import GridSymmetry
from calolab.data.showerfile import ShowerFile
from calolab.data.torch import DataConfig, ShowerDataModule, load_showers
from calolab.errors import ConfigError, DatasetError
from calolab.reco.clustering import split_two_photons
from calolab.reco.inference import load_task, predictions_for, predictions_for_arrays
from calolab.reco.models import InputShapes
from calolab.reco.task import RecoTask
from calolab.reco.train import TrainConfig, train_reco
from calolab.sim.campaign import Campaign

PAIRS = {"particle": "gamma", "energy": "5-15GeV", "pair": {"separation": "1.5-3cells"}, "spread": 11.0,
         "spread_shape": "uniform"}
START = DataConfig(window=7, cell_transform="fraction", energy_target="ratio", start_from="two-seed",
                   split_profile_length=0.2)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    path = tmp_path_factory.mktemp("pairs") / "pairs.h5"
    Campaign("cms", PAIRS, 120, seed=11).write(path)
    return path


def test_start_is_the_split_of_the_whole_section(pairs) -> None:
    arrays = load_showers(pairs, START)
    with ShowerFile(pairs) as showers:
        section = showers.detector.section("ECAL")
        cells = showers.energy("ECAL", slice(None))
    # the split on the 11 x 11 crystals, not on the 7 x 7 window the network reads; 0.2 of a 22 mm crystal
    position, energy = split_two_photons(cells, section.cell_centres_x(), section.cell_centres_y(),
                                         profile_length=0.2 * 22.0)
    assert arrays.start is not None and arrays.start.shape == (120, 2, 3)
    np.testing.assert_allclose(arrays.start[:, :, :2], position, atol=1e-3)  # float32 cells in GeV
    np.testing.assert_allclose(arrays.start[:, :, 2], energy, rtol=1e-4)
    # ratio target: each photon's share of the window's summed cells, positions from the seed crystal
    start = arrays.start_targets("ratio")
    np.testing.assert_allclose(start[:, :, :2], position - arrays.seed[:, None, :], atol=1e-3)
    np.testing.assert_allclose(start[:, :, 2].sum(axis=1), energy.sum(axis=1) / 1000.0 / arrays.energy_sum(),
                               rtol=1e-4)
    assert np.all(start[:, :, 2].sum(axis=1) >= 0.999)  # the window holds at most the whole section
    plain = load_showers(pairs, DataConfig(window=7))
    assert plain.start is None and arrays.subset(np.arange(5)).start.shape == (5, 2, 3)  # type: ignore[union-attr]
    with pytest.raises(DatasetError, match="start_from='two-seed'"):
        plain.start_targets("ratio")


def test_untrained_network_is_the_split_and_training_corrects_it(pairs, tmp_path) -> None:
    datamodule = ShowerDataModule(arrays=load_showers(pairs, START), config=START, seed=0)
    datamodule.setup()
    assert datamodule.standardizer is not None
    task = RecoTask("overlap", {"width": 4, "dense": 16}, InputShapes(datamodule.input_shapes,
                    datamodule.n_scalars).to_dict(), "overlap", list(datamodule.classes),
                    datamodule.standardizer.to_dict(), START.model_dump())
    predicted = predictions_for_arrays(task, datamodule.arrays).predicted
    arrays = datamodule.arrays
    # zero corrections at first: decoding the start gives back the split's photons in mm and MeV
    np.testing.assert_allclose(np.sort(predicted["photon_position"], axis=1), np.sort(arrays.start[:, :, :2], axis=1),
                               atol=1e-3)
    np.testing.assert_allclose(predicted["photon_energy"], arrays.start[:, :, 2], rtol=1e-4)

    out = tmp_path / "run"
    code, output, error = run("train", "reco", "--data", str(pairs), "--model", "overlap", "--task", "overlap",
                              "--window", "7", "--cell-transform", "fraction", "--energy-target", "ratio",
                              "--start-from", "two-seed", "--model-config", "width=8,dense=32", "--epochs", "6",
                              "--patience", "6", "--batch-size", "16", "--lr", "3e-3", "--augment", "dihedral",
                              "--huber-delta", "0.1", "-o", str(out), "-q")
    assert code == 0, (output, error)
    assert load_task(out).huber_delta == 0.1
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    trained = predictions_for(load_task(out), pairs)  # the Huber loss reached the module, and its checkpoint
    moved = np.abs(trained.predicted["photon_energy"] - arrays.start[:, :, 2]) / arrays.start[:, :, 2]
    assert moved.max() > 1e-3  # the corrections are no longer zero: the deposits are calibrated to the truth
    truth = trained.truth["photon_energy"].sum(axis=1)
    # the split's energies are deposits (about 1% below the photons' energy in 11 x 11 PbWO4 crystals);
    # the trained corrections bring the pair's summed energy nearer the truth (measured: 1.1% -> 0.06%)
    start_bias = abs(np.median(arrays.start[:, :, 2].sum(axis=1) / truth - 1))
    trained_bias = abs(np.median(trained.predicted["photon_energy"].sum(axis=1) / truth - 1))
    assert trained_bias < start_bias


def test_start_only_for_the_overlap_task_and_mirrored_with_the_photons(pairs, tmp_path) -> None:
    config = TrainConfig.make(data=[pairs], model="cluster", task="cluster", inputs=START, output=tmp_path / "run")
    with pytest.raises(ConfigError, match="only the 'overlap' task"):
        train_reco(config)
    code, _, exception = run("train", "reco", "--data", str(pairs), "--model", "overlap", "--task", "overlap",
                         "--start-from", "three-seed", "-o", str(tmp_path / "bad"), "-q")
    assert code != 0 and "start_from" in str(exception) and "two-seed" in str(exception)
    symmetry = GridSymmetry("flips", seed=1)
    photons = torch.tensor([[[3.0, -2.0, 0.6], [-5.0, 4.0, 0.4]]]).repeat(16, 1, 1)
    cells = {"ECAL": torch.zeros(16, 1, 1, 3, 3)}
    _, _, moved = symmetry(cells, torch.zeros(16, 1), {"photons": photons, "start": photons.clone()})
    torch.testing.assert_close(moved["start"], moved["photons"])  # the same image for the start and the truth
    assert not torch.equal(moved["start"], photons)
