"""Batch-norm averages recomputed from training events ("precise BN", arXiv:2105.07576)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from calolab.data.torch import DataConfig, ShowerArrays, ShowerDataModule
from calolab.reco.batchnorm import batchnorm_layers, recompute_batchnorm
from calolab.reco.inference import load_task
from calolab.reco.train import TrainConfig, train_reco


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.BatchNorm1d(4), nn.Linear(4, 1))


def test_averages_become_the_mean_and_variance_of_the_batches() -> None:
    net = _net()
    rng = np.random.default_rng(1)
    inputs = torch.tensor(rng.normal([1.0, -2.0, 5.0], [0.5, 2.0, 3.0], (400, 3)), dtype=torch.float32)
    batches = [{"scalars": chunk} for chunk in inputs.split(100)]
    norm = net[2]
    norm.momentum = 0.3
    net.train()
    assert recompute_batchnorm(net, batches, lambda batch: net(batch["scalars"])) == 400
    with torch.no_grad():
        hidden = net[0](inputs)
    # equal-size batches: the cumulative average of the batch means is the mean over all events; the variance
    # is the average of the batches' unbiased variances (the dropout before the norm stayed off, or the
    # averages would be of randomly zeroed and rescaled values)
    np.testing.assert_allclose(norm.running_mean, hidden.mean(0), rtol=1e-5, atol=1e-6)
    expected_var = torch.stack([h.var(0, unbiased=True) for h in hidden.split(100)]).mean(0)
    np.testing.assert_allclose(norm.running_var, expected_var, rtol=1e-5)
    assert norm.momentum == 0.3 and net.training and norm.training  # modes and momentum restored
    net.eval()
    assert recompute_batchnorm(net, batches[:1], lambda batch: net(batch["scalars"])) == 100
    assert not net.training and not norm.training
    # two passes give the same averages (no random dropout)
    first = norm.running_mean.clone()
    recompute_batchnorm(net, batches[:1], lambda batch: net(batch["scalars"]))
    np.testing.assert_array_equal(norm.running_mean, first)


def test_a_network_without_batch_norm_is_left_alone() -> None:
    net = nn.Sequential(nn.Linear(3, 1))
    assert batchnorm_layers(net) == []
    assert recompute_batchnorm(net, [{"scalars": torch.ones(2, 3)}], lambda batch: 1 / 0) == 0  # never runs


def _arrays(n: int, seed: int) -> ShowerArrays:
    """Energy in a 2 x 5 x 5 grid with a scale spread over two decades (heavy-tailed activations)."""
    rng = np.random.default_rng(seed)
    energy = 10 ** rng.uniform(3, 5, n)
    cells = (rng.exponential(1.0, (n, 2, 5, 5)) * (energy / 25e3)[:, None, None, None]).astype(np.float32)
    truth = {"energy": energy, "pdg": np.full(n, 11, np.int32), "position": np.zeros((n, 2)),
             "theta": np.zeros(n), "photon_position": np.full((n, 2, 2), np.nan),
             "photon_energy": np.full((n, 2), np.nan)}
    return ShowerArrays({"ECAL": cells}, cells.sum(axis=(1, 2, 3))[:, None], np.zeros((n, 2)), truth)


def test_the_checkpoint_holds_the_averages_of_its_own_weights(tmp_path) -> None:
    arrays = _arrays(300, 2)
    common = {"model": "cnn", "model_options": {"width": 4, "blocks": 1, "dense": 16}, "task": "energy",
              "epochs": 3, "patience": 3, "batch_size": 32, "lr": 3e-3, "progress": False, "logger": "none",
              "seed": 4}
    precise = train_reco(TrainConfig.make(output=tmp_path / "precise", batchnorm_events=96, **common),
                         arrays=arrays)
    running = train_reco(TrainConfig.make(output=tmp_path / "running", batchnorm_events=0, **common),
                         arrays=arrays)
    datamodule = ShowerDataModule(arrays=arrays, config=DataConfig(), batch_size=32, seed=4)
    datamodule.setup()
    for result, exact in ((precise, True), (running, False)):
        task = load_task(result.checkpoint)
        saved = [layer.running_mean.clone() for layer in batchnorm_layers(task)]
        assert recompute_batchnorm(task, datamodule.statistics_loader(96),
                                   lambda batch, task=task: task(batch["cells"], batch["scalars"])) == 96
        for before, layer in zip(saved, batchnorm_layers(task), strict=True):
            if exact:  # recomputed before the validation that chose the checkpoint: nothing changes
                np.testing.assert_allclose(before, layer.running_mean, rtol=1e-5, atol=1e-6)
            else:  # exponential running averages of the batches seen while training
                assert not np.allclose(before, layer.running_mean, rtol=1e-3, atol=1e-5)
