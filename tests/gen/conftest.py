"""Shared fixtures of the generative-model tests: tiny simulated pisa-csi showers and tiny trained models."""

from __future__ import annotations

from pathlib import Path

import pytest
from gen_fixtures import TINY_FLOW, TINY_GAN

from calolab.gen.data import GenArrays


@pytest.fixture(scope="session")
def pisa_showers() -> GenArrays:
    """60 e- of 2-5 GeV in pisa-csi (the Monte Carlo, seed 3)."""
    import calolab
    from calolab.gen.data import primary_conditions

    deposits = calolab.simulate("pisa-csi", particle="e-", energy="2-5GeV", n=60, seed=3)
    energy, theta, pdg = primary_conditions(deposits.primaries)
    return GenArrays(deposits.active["ECAL"], energy, theta, pdg, calolab.load_detector("pisa-csi").to_toml(), "ECAL")


@pytest.fixture(scope="session")
def trained_models(pisa_showers: GenArrays, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run folders of a tiny GAN and a tiny flow trained for one epoch on :func:`pisa_showers`."""
    from calolab.gen.train import GenTrainConfig, train_generator

    root = tmp_path_factory.mktemp("gen-models")
    runs = {}
    for model, options in (("gan", TINY_GAN), ("flow", TINY_FLOW)):
        config = GenTrainConfig(model=model, model_options=options, epochs=1, batch_size=16, seed=1,
                                output=root / f"tiny-{model}", logger="none")
        runs[model] = train_generator(config, arrays=pisa_showers).output
    return runs
