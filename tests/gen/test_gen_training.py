"""A few training steps improve the models on toy showers; runs write what sampling needs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from gen_fixtures import TINY_FLOW, TINY_GAN, toy_arrays

from calolab.errors import ConfigError, DatasetError
from calolab.gen.checkpoint import load_generator
from calolab.gen.data import CellTransform
from calolab.gen.models import gan3d
from calolab.gen.task import FlowTask, ProfileStats, profile_distance
from calolab.gen.train import GenTrainConfig, train_generator


def test_flow_nll_falls_with_training() -> None:
    arrays = toy_arrays(128)
    spec = arrays.conditions()
    torch.manual_seed(0)
    task = FlowTask(model="flow", model_config=TINY_FLOW, shape=list(arrays.shape), conditions=spec.to_dict(),
                    detector_toml=arrays.detector_toml, section="ECAL", lr=3e-3)
    task.flow.fit_preprocessing(torch.from_numpy(arrays.cells), torch.from_numpy(arrays.energy))
    batch = {key: torch.from_numpy(value) for key, value in arrays.tensors(spec).items()}
    optimiser = torch.optim.Adam(task.parameters(), lr=3e-3)
    fixed = torch.Generator().manual_seed(0)
    before = float(task.nll(batch, torch.Generator().manual_seed(0)).detach())
    for _ in range(60):
        optimiser.zero_grad()
        task.nll(batch).backward()
        optimiser.step()
    after = float(task.nll(batch, fixed).detach())
    assert after < before - 0.3, (before, after)  # NLL per dimension, standardised coordinates


def test_gan_training_lowers_the_generator_and_total_energy_losses(tmp_path) -> None:  # noqa: ANN001
    arrays = toy_arrays(256)
    config = GenTrainConfig(model="gan", model_options=TINY_GAN, epochs=6, patience=10, batch_size=32, seed=2,
                            lr=2e-3, output=tmp_path / "gan")
    result = train_generator(config, arrays=arrays)
    first, last = result.history[0], result.history[-1]
    assert last["train_total_energy"] < 0.7 * first["train_total_energy"], result.history
    assert last["val_metric"] < first["val_metric"], result.history
    assert last["train_loss_g"] < first["train_loss_g"], result.history  # the D loss rises as G improves
    assert result.monitor == "val_metric" and np.isfinite(result.best_score)
    assert (tmp_path / "gan" / "model.pt").is_file() and (tmp_path / "gan" / "best.ckpt").is_file()
    assert (tmp_path / "gan" / "logs" / "metrics.csv").is_file()
    saved = json.loads((tmp_path / "gan" / "config.json").read_text())
    assert saved["model"] == "gan" and saved["seed"] == 2


def test_a_gan_with_energy_flow_learns_its_layer_energies_and_samples_the_training_response(tmp_path) -> None:  # noqa: ANN001
    arrays = toy_arrays(256)
    options = {**TINY_GAN, "energy_flow": True, "energy_blocks": 2, "energy_hidden": 16}
    config = GenTrainConfig(model="gan", model_options=options, epochs=6, patience=10, batch_size=32, seed=2,
                            lr=1e-2, output=tmp_path / "gan", logger="none")
    result = train_generator(config, arrays=arrays)
    assert result.history[-1]["train_energy_nll"] < result.history[0]["train_energy_nll"] - 0.05, result.history
    model = load_generator(tmp_path / "gan")
    cells = model.sample(arrays.energy, arrays.theta, arrays.pdg, seed=1)
    # the toy showers' response sum / E_inc is 0.9 with a 2% spread: the energy flow's quantile map gives it even
    # before the flow learns how it follows the conditions (the plain GAN made it 12% wide on pisa-csi showers)
    response, real = cells.sum(axis=(1, 2, 3)) / arrays.energy, arrays.cells.sum(axis=(1, 2, 3)) / arrays.energy
    assert response.mean() == pytest.approx(real.mean(), abs=0.01)
    assert response.std() == pytest.approx(real.std(), rel=0.3)
    hits, real_hits = (cells > 0).sum(axis=(1, 2, 3)), (arrays.cells > 0).sum(axis=(1, 2, 3))
    assert hits.mean() == pytest.approx(real_hits.mean(), rel=0.1)
    # bfloat16 hidden layers change the shares only: the energy flow (float32) draws the same layer energies and counts
    low = model.with_precision("bfloat16").sample(arrays.energy, arrays.theta, arrays.pdg, seed=1)
    assert np.array_equal((low > 0).sum(axis=(2, 3)), (cells > 0).sum(axis=(2, 3)))
    assert np.allclose(low.sum(axis=(2, 3)), cells.sum(axis=(2, 3)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("options", "logged", "attributes"), [
    ({"hit_logits": True, "share_profile_weight": 1.0}, "train_share_profile", ("hit_logit", "share_band")),
    ({"axis_shift": True, "centre_spread_weight": 1.0}, "train_centre_spread", ("axis_shift",))])
def test_a_gan_with_a_moment_loss_trains_logs_it_and_samples(tmp_path, options: dict, logged: str,  # noqa: ANN001
                                                             attributes: tuple[str, ...]) -> None:
    """The share profile loss (with hit logits) and the centre spread loss (with the axis shift): logged each
    epoch, finite; the fitted buffers and weights travel in model.pt (the axis shift fitted before training, not at
    its start); sampling is finite and reproducible by seed."""
    arrays = toy_arrays(64)
    options = {**TINY_GAN, "energy_flow": True, "energy_blocks": 1, "energy_hidden": 8, **options}
    config = GenTrainConfig(model="gan", model_options=options, epochs=2, batch_size=32, seed=2,
                            output=tmp_path / "gan", logger="none")
    result = train_generator(config, arrays=arrays)
    values = [row[logged] for row in result.history if logged in row]
    assert len(values) == 2 and all(np.isfinite(values) & (np.asarray(values) >= 0)), result.history
    model = load_generator(tmp_path / "gan")
    assert all(getattr(model.network, name) is not None for name in attributes)
    if model.network.axis_shift is not None:
        start = torch.full_like(model.network.axis_shift[0], math.log(gan3d.AXIS_SHIFT_START_SPREAD))
        assert not torch.equal(model.network.axis_shift[0], start)
    cells = model.sample(arrays.energy[:8], arrays.theta[:8], arrays.pdg[:8], seed=1)
    assert np.isfinite(cells).all() and (cells.sum(axis=(1, 2, 3)) > 0).all()
    assert np.array_equal(cells, model.sample(arrays.energy[:8], arrays.theta[:8], arrays.pdg[:8], seed=1))


def test_the_discriminator_log_view_is_the_classifier_compression_and_its_layer_view_the_log_share() -> None:
    """log_view: each cell as the low-level classifier compresses it (log(1 + E / (1e-4 E_inc))); layer_view:
    the same with the cell's layer energy in place of E_inc: 0 for an empty cell, 1 for a layer of one hit,
    unchanged when a layer's energy is scaled."""
    from calolab.gen.task import GanTask
    from calolab.validate.classifier import EPSILON, low_level_inputs

    arrays = toy_arrays(8)
    spec, transform = arrays.conditions(), CellTransform.fit(arrays.cells)
    task = GanTask(model="gan", model_config={**TINY_GAN, "log_view": True, "layer_view": True},
                   shape=list(arrays.shape), conditions=spec.to_dict(), detector_toml=arrays.detector_toml,
                   section="ECAL", lr=1e-3, transform=transform.to_dict())
    seen = []
    task.discriminator.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0]))
    cells = arrays.cells.copy()
    cells[0, 1] = 0.0
    cells[0, 1, 2, 3] = 7.0  # a layer of one hit
    x, energy = torch.from_numpy(transform.forward(cells))[:, None], torch.from_numpy(arrays.energy)
    task._discriminate(x, torch.ones(8), energy)
    assert EPSILON == 1e-4 and seen[0].shape == (8, 3, *arrays.shape)
    expected = low_level_inputs({"ECAL": cells}, arrays.energy)[:, :-1] / np.log1p(1 / EPSILON)
    assert np.allclose(seen[0][:, 1].reshape(8, -1).numpy(), expected, rtol=1e-4, atol=1e-6)
    assert torch.equal(seen[0][:, :1], x)
    shares = cells / cells.sum(axis=(2, 3), keepdims=True).clip(1e-30)
    layer_view = seen[0][:, 2].numpy()
    assert np.allclose(layer_view, np.log1p(shares / EPSILON) / np.log1p(1 / EPSILON), rtol=1e-4, atol=1e-6)
    assert layer_view[0, 1, 2, 3] == pytest.approx(1.0) and (layer_view[0, 1] > 0).sum() == 1
    assert np.array_equal(layer_view == 0, cells == 0)
    scaled = cells.copy()
    scaled[:, 2] *= 3.0
    task._discriminate(torch.from_numpy(transform.forward(scaled))[:, None], torch.ones(8), energy)
    assert np.allclose(seen[1][:, 2].numpy(), layer_view, rtol=1e-4, atol=1e-6)


def test_runs_are_refused_over_an_existing_one_and_bad_configs_are_named(tmp_path) -> None:  # noqa: ANN001
    arrays = toy_arrays(40)
    config = GenTrainConfig(model="flow", model_options=TINY_FLOW, epochs=1, output=tmp_path / "run", logger="none")
    train_generator(config, arrays=arrays)
    with pytest.raises(DatasetError, match="already holds a run"):
        train_generator(config, arrays=arrays)
    with pytest.raises(ConfigError, match="unknown generative model 'diffusion'"):
        GenTrainConfig.make(model="diffusion")
    with pytest.raises(ConfigError, match="no shower files"):
        train_generator(GenTrainConfig(model="gan", output=tmp_path / "x"))


def test_profile_distance_is_zero_for_the_same_showers_and_grows_with_a_distortion() -> None:
    arrays = toy_arrays(64)
    same, other, scaled = ProfileStats(), ProfileStats(), ProfileStats()
    same.add(arrays.cells, arrays.energy)
    other.add(arrays.cells, arrays.energy)
    scaled.add(arrays.cells * 1.05, arrays.energy)
    assert profile_distance(same, other) == 0.0
    assert profile_distance(same, scaled) == pytest.approx(0.05 * 0.9 * 4, rel=0.1)  # 3 profiles + the mean


def test_gan_preprocessing_scale_is_the_mean_hottest_cell() -> None:
    arrays = toy_arrays(32)
    transform = CellTransform.fit(arrays.cells)
    assert transform.scale == pytest.approx(arrays.cells.reshape(32, -1).max(axis=1).mean())


def test_a_run_continued_from_another_starts_from_its_weights_and_keeps_its_encoding(tmp_path) -> None:  # noqa: ANN001
    from calolab.gen.checkpoint import load_generator

    arrays = toy_arrays(96)
    first = train_generator(GenTrainConfig(model="flow", model_options=TINY_FLOW, epochs=6, lr=3e-3, seed=1,
                                           batch_size=16, output=tmp_path / "first", logger="none"), arrays=arrays)
    # a learning rate too small to move the weights: the first validation loss is the first run's best
    frozen = train_generator(GenTrainConfig(model="flow", epochs=1, lr=1e-12, seed=1, output=tmp_path / "frozen",
                                            logger="none", init_from=tmp_path / "first"), arrays=arrays)
    assert frozen.history[0]["val_loss"] == pytest.approx(first.best_score, abs=1e-4)
    fresh = train_generator(GenTrainConfig(model="flow", model_options=TINY_FLOW, epochs=1, lr=1e-12, seed=1,
                                           output=tmp_path / "fresh", logger="none"), arrays=arrays)
    assert fresh.history[0]["val_loss"] > first.best_score + 0.01, (fresh.history, first.best_score)
    # continued on the lower-energy half only: the condition encoding stays the first run's
    low = arrays.select(np.flatnonzero(arrays.energy < np.median(arrays.energy)))
    train_generator(GenTrainConfig(model="flow", model_options=TINY_FLOW, epochs=1, seed=1, output=tmp_path / "low",
                                   logger="none", init_from=tmp_path / "first" / "model.pt"), arrays=low)
    assert load_generator(tmp_path / "low").conditions == load_generator(tmp_path / "first").conditions
    assert load_generator(tmp_path / "low").conditions != low.conditions()


def test_a_continued_run_refuses_another_model_other_options_and_data_outside_its_conditions(tmp_path) -> None:  # noqa: ANN001
    arrays = toy_arrays(40)
    train_generator(GenTrainConfig(model="flow", model_options=TINY_FLOW, epochs=1, output=tmp_path / "first",
                                   logger="none"), arrays=arrays)
    continued = {"epochs": 1, "logger": "none", "init_from": tmp_path / "first", "output": tmp_path / "next"}
    with pytest.raises(ConfigError, match="is a flow model, not a gan: pass --model flow"):
        train_generator(GenTrainConfig(model="gan", **continued), arrays=arrays)
    with pytest.raises(ConfigError, match=r"model options \['shape_hidden'\] differ"):
        train_generator(GenTrainConfig(model="flow", model_options={**TINY_FLOW, "shape_hidden": 32}, **continued),
                        arrays=arrays)
    hotter = toy_arrays(40)
    hotter.energy[:] *= 3  # showers of 3-30 GeV for a model of 1-10 GeV
    with pytest.raises(DatasetError, match="outside the conditions of the run to continue"):
        train_generator(GenTrainConfig(model="flow", **continued), arrays=hotter)
    assert not (tmp_path / "next").exists()  # refused before the output folder is made
    with pytest.raises(ConfigError, match="is the output folder"):
        train_generator(GenTrainConfig(model="flow", **{**continued, "output": tmp_path / "first"}, overwrite=True),
                        arrays=arrays)
    assert (tmp_path / "first" / "model.pt").is_file()  # the run to continue is kept
    with pytest.raises(DatasetError, match="no generative model at"):
        train_generator(GenTrainConfig(model="flow", **{**continued, "init_from": tmp_path / "missing"}), arrays=arrays)
