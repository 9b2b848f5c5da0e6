"""A trained checkpoint as an engine: ``get_engine("model:PATH")``, ``generate``, and clear refusals."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import calolab
from calolab.errors import ConfigError, DatasetError, SimulationError
from calolab.gen.api import generate
from calolab.gen.engine import ModelEngine
from calolab.sim.engine import get_engine
from calolab.sim.events import Primaries


@pytest.mark.parametrize("model", ["gan", "flow"])
def test_checkpoint_to_engine_to_deposits(trained_models, model: str) -> None:  # noqa: ANN001
    engine = get_engine(f"model:{trained_models[model]}")
    assert isinstance(engine, ModelEngine) and engine.name == f"model:tiny-{model}"
    detector = calolab.load_detector("pisa-csi")
    primaries = Primaries.single(np.full(4, 11), np.array([2.5e3, 3e3, 4e3, 4.5e3]))
    deposits = engine.simulate(primaries, detector, np.random.SeedSequence(7))
    cells = deposits.active["ECAL"]
    assert cells.shape == (4, 12, 25, 25) and cells.dtype == np.float32
    assert bool((cells >= 0).all()) and bool((cells.sum(axis=(1, 2, 3)) > 0).all())
    assert not deposits.passive["ECAL"].any() and not deposits.leakage.any()
    assert deposits.engine == f"model:tiny-{model}"
    again = engine.simulate(primaries, detector, np.random.SeedSequence(7))
    other = engine.simulate(primaries, detector, np.random.SeedSequence(8))
    assert np.array_equal(again.active["ECAL"], cells)
    assert not np.array_equal(other.active["ECAL"], cells)


def test_generate_is_seeded_and_fills_the_request(trained_models) -> None:  # noqa: ANN001
    showers = generate(trained_models["flow"], "2.5-4.5GeV", "e-", 6, seed=3)
    assert showers.active["ECAL"].shape == (6, 12, 25, 25)
    assert bool(((showers.primaries.energy >= 2.5e3) & (showers.primaries.energy <= 4.5e3)).all())
    assert np.array_equal(generate(trained_models["flow"], "2.5-4.5GeV", "e-", 6, seed=3).active["ECAL"],
                          showers.active["ECAL"])
    # the model file itself and the Lightning checkpoint load too
    assert generate(trained_models["gan"] / "model.pt", "3GeV", "e-", 2, seed=1).active["ECAL"].shape[0] == 2
    assert generate(trained_models["gan"] / "best.ckpt", "3GeV", "e-", 2, seed=1).active["ECAL"].shape[0] == 2


def test_gan_sampling_is_the_inverse_transform_of_its_network_and_runs_in_bfloat16_on_request(trained_models) -> None:  # noqa: ANN001
    import torch

    from calolab.gen.checkpoint import load_generator

    model = load_generator(trained_models["gan"])
    energy = np.array([2.5e3, 3e3, 4e3, 4.5e3])
    cells = model.sample(energy, np.zeros(4), np.full(4, 11), seed=5)
    generator = torch.Generator().manual_seed(5)
    z = torch.randn(4, model.network.latent, generator=generator)
    conditions = torch.from_numpy(model.conditions.encode(energy, np.zeros(4), np.full(4, 11)))
    fraction = torch.from_numpy((energy / model.conditions.energy_range[1]).astype(np.float32))
    with torch.no_grad():
        expected = model.transform.inverse(model.network(z, conditions, fraction)[:, 0]).numpy()
    np.testing.assert_allclose(cells, expected, rtol=1e-5, atol=1e-6 * float(expected.max()))
    fast = model.with_precision("bfloat16")
    assert fast.precision == "bfloat16" and model.precision == "float32" and fast.network is model.network
    quick = fast.sample(energy, np.zeros(4), np.full(4, 11), seed=5)
    assert not np.array_equal(quick, cells)
    np.testing.assert_allclose(quick.sum(axis=(1, 2, 3)), cells.sum(axis=(1, 2, 3)), rtol=0.02)
    with pytest.raises(ConfigError, match="unknown sampling precision 'float16'"):
        model.with_precision("float16")
    with pytest.raises(ConfigError, match="samples in float32 only"):
        load_generator(trained_models["flow"]).with_precision("bfloat16")


@pytest.mark.parametrize(("kwargs", "phrase"), [
    ({"particle": "gamma"}, "model:tiny-flow was trained on e- (11) only; got gamma (22)"),
    ({"energy": "50GeV"}, "trained on incident energies"),
    ({"theta": "10"}, "trained on polar angles 0-0 degrees; got 10 degrees"),
])
def test_requests_outside_the_training_set_are_refused(trained_models, kwargs: dict, phrase: str) -> None:  # noqa: ANN001
    options = {"energy": "3GeV", "particle": "e-", "theta": 0.0} | kwargs
    with pytest.raises(SimulationError, match=re.escape(phrase)):
        generate(trained_models["flow"], options["energy"], options["particle"], 2, seed=1, theta=options["theta"])


def test_another_detector_is_refused(trained_models) -> None:  # noqa: ANN001
    with pytest.raises(SimulationError, match="trained on detector 'pisa-csi' .* got 'cms'.* -d pisa-csi"):
        calolab.simulate("cms", particle="e-", energy="3GeV", n=2, seed=1, engine=f"model:{trained_models['gan']}")


def test_missing_or_foreign_models_are_dataset_errors(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(DatasetError, match="no generative model at"):
        get_engine(f"model:{tmp_path / 'nothing'}")
    with pytest.raises(DatasetError, match="holds no model.pt"):
        get_engine(f"model:{tmp_path}")
    (tmp_path / "model.pt").write_bytes(b"not a model")
    with pytest.raises(DatasetError, match="is not a calolab generative model"):
        get_engine(f"model:{tmp_path / 'model.pt'}")
    with pytest.raises(ConfigError, match="needs a model"):
        get_engine("model")


def test_a_flow_saved_before_hit_counts_existed_loads_without_them(trained_models, tmp_path) -> None:  # noqa: ANN001
    """model.pt files written before FlowConfig.hit_counts have no such key: they rebuild as saved (hit_counts
    False); the same weights under a config that says True do not fit."""
    import torch

    from calolab.gen.checkpoint import load_generator
    from calolab.gen.models import CaloFlow, FlowConfig

    payload = torch.load(trained_models["flow"] / "model.pt", weights_only=True)
    options = {**payload["hparams"]["model_config"], "hit_counts": False}
    old = CaloFlow(tuple(payload["hparams"]["shape"]), 3, FlowConfig.model_validate(options))
    del options["hit_counts"]
    payload["hparams"]["model_config"] = options
    payload["state_dict"] = old.state_dict()
    torch.save(payload, tmp_path / "model.pt")
    assert load_generator(tmp_path / "model.pt").network.config.hit_counts is False
    payload["hparams"]["model_config"] = {**options, "hit_counts": True}
    torch.save(payload, tmp_path / "model.pt")
    with pytest.raises(DatasetError, match="do not fit the flow model"):
        load_generator(tmp_path / "model.pt")


def test_a_flow_saved_before_its_energy_flow_was_a_module_loads_and_samples_the_same(trained_models, tmp_path
                                                                                     ) -> None:  # noqa: ANN001
    """model.pt files written before CaloFlow held a LayerEnergyFlow name its MAF and quantile map
    ``energy_flow.*`` and ``energy_map.*``: they load (strictly) with those keys renamed, and sample exactly
    what the same weights under today's keys sample."""
    import torch

    from calolab.gen.checkpoint import load_generator

    payload = torch.load(trained_models["flow"] / "model.pt", weights_only=True)
    renamed = {key.replace("energies.flow.", "energy_flow.").replace("energies.map.", "energy_map."): value
               for key, value in payload["state_dict"].items()}
    assert any(key.startswith("energy_flow.") for key in renamed) and any(k.startswith("energy_map.") for k in renamed)
    torch.save({**payload, "state_dict": renamed}, tmp_path / "model.pt")
    old, today = load_generator(tmp_path / "model.pt"), load_generator(trained_models["flow"])
    energy = np.linspace(2e3, 5e3, 5)
    samples = [m.sample(energy, np.zeros(5), np.full(5, 11), seed=3) for m in (old, today)]
    np.testing.assert_array_equal(*samples)
    assert samples[0].sum() > 0


def test_a_gan_checkpoint_saved_before_spectral_norm_existed_loads_with_a_plain_discriminator(
        trained_models, tmp_path) -> None:  # noqa: ANN001
    """best.ckpt files written before GanConfig.spectral_norm and energy_flow have no such keys, a plain
    discriminator and no energy flow: they rebuild as saved (both False), not with today's defaults."""
    import torch

    from calolab.gen.task import GanTask

    checkpoint = torch.load(trained_models["gan"] / "best.ckpt", map_location="cpu", weights_only=False)
    hparams = checkpoint["hyper_parameters"]
    assert hparams["model_config"]["spectral_norm"] is True  # the tiny run: today's default
    old = GanTask(**{**hparams, "model_config": {**hparams["model_config"], "spectral_norm": False}})
    saved_options = {k: v for k, v in hparams["model_config"].items() if k not in ("spectral_norm", "energy_flow")}
    loaded = _saved_as_then_and_loaded(checkpoint, old, saved_options, tmp_path / "best.ckpt")
    assert loaded.model_config.spectral_norm is False and loaded.model_config.energy_flow is False


@pytest.mark.parametrize(("option", "before", "attribute"), [("share_noise", False, "share_spread"),
                                                             ("hit_logits", False, "hit_logit"),
                                                             ("share_profile_weight", 0.0, "share_band"),
                                                             ("axis_shift", False, "axis_shift")])
def test_a_gan_saved_before_an_option_existed_loads_without_it(trained_models, tmp_path, option: str, before: Any,
                                                                attribute: str) -> None:  # noqa: ANN001
    """best.ckpt files written before GanConfig.share_noise (hit_logits, share_profile_weight, axis_shift) have no
    such key and no ``share_spread`` weights (``hit_logit``, ``share_band`` buffers, ``axis_shift`` weights): an
    energy-flow GAN of that time rebuilds as saved (the option off), not with today's default."""
    import torch

    from calolab.gen.task import GanTask

    checkpoint = torch.load(trained_models["gan"] / "best.ckpt", map_location="cpu", weights_only=False)
    hparams = checkpoint["hyper_parameters"]
    options = {**hparams["model_config"], "energy_flow": True, "energy_blocks": 1, "energy_hidden": 4}
    assert getattr(GanTask(**{**hparams, "model_config": options}).generator, attribute) is not None  # today's default
    old = GanTask(**{**hparams, "model_config": {**options, option: before}})
    saved_options = {k: v for k, v in options.items() if k != option}
    loaded = _saved_as_then_and_loaded(checkpoint, old, saved_options, tmp_path / "best.ckpt")
    assert getattr(loaded.model_config, option) == before and getattr(loaded.network, attribute) is None


def test_a_gan_with_hit_logits_saves_and_loads_them_and_samples(trained_models, tmp_path) -> None:  # noqa: ANN001
    """The fitted hit logits are a buffer of the generator, not a learnt weight: model.pt must carry them."""
    import torch

    from calolab.gen.checkpoint import load_generator
    from calolab.gen.task import GanTask
    from calolab.gen.train import export_model

    checkpoint = torch.load(trained_models["gan"] / "best.ckpt", map_location="cpu", weights_only=False)
    hparams = checkpoint["hyper_parameters"]
    options = {**hparams["model_config"], "energy_flow": True, "energy_blocks": 1, "energy_hidden": 4,
               "hit_logits": True}
    task = GanTask(**{**hparams, "model_config": options})
    assert task.generator.hit_logit is not None
    task.generator.hit_logit.copy_(torch.randn_like(task.generator.hit_logit))
    loaded = load_generator(export_model(task, tmp_path / "model.pt"))
    assert loaded.model_config.hit_logits is True
    assert torch.equal(loaded.network.hit_logit, task.generator.hit_logit)
    cells = loaded.sample(np.full(5, 3e3), np.zeros(5), np.full(5, 11), seed=0)
    assert cells.shape == (5, *loaded.shape) and np.isfinite(cells).all() and (cells >= 0).all()


def _saved_as_then_and_loaded(checkpoint: dict, old: Any, saved_options: dict, path: Path) -> Any:
    """``checkpoint`` (a GAN's best.ckpt) rewritten as an older calolab saved it -- the weights of the
    ``GanTask`` ``old`` and the model options ``saved_options`` (without the keys added since) -- at ``path``,
    loaded with today's :func:`~calolab.gen.checkpoint.load_generator`, and checked to hold ``old``'s generator
    weights."""
    import torch

    from calolab.gen.checkpoint import load_generator

    checkpoint["hyper_parameters"] = {**checkpoint["hyper_parameters"], "model_config": saved_options}
    checkpoint["state_dict"] = old.state_dict()
    torch.save(checkpoint, path)
    loaded = load_generator(path)
    generator = old.generator.state_dict()
    assert all(torch.equal(value, generator[key]) for key, value in loaded.network.state_dict().items())
    return loaded
