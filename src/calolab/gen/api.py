"""``calolab.generate``: showers from a trained generative model in one call."""

from __future__ import annotations

import os
from typing import Any

from calolab.gen.checkpoint import TrainedGenerator, load_generator
from calolab.sim.events import Deposits

__all__ = ["generate"]


def generate(model: str | os.PathLike[str] | TrainedGenerator, energy: str | float = "10GeV",
             particle: str = "e-", n: int = 1000, *, seed: int | None = None, theta: str | float = 0.0,
             progress: bool = False, precision: str | None = None) -> Deposits:
    """Generate ``n`` showers with a trained model, like :func:`calolab.simulate` with ``engine="model:PATH"``.

    >>> showers = generate("runs/flow", "10-30GeV", "e-", 100, seed=1)  # doctest: +SKIP
    >>> showers.active["ECAL"].shape  # doctest: +SKIP
    (100, 12, 25, 25)

    Args:
        model: a run folder of ``calolab train gen``, its ``model.pt``, or a loaded model.
        energy: kinetic energy: MeV as a number, or ``"10GeV"``, ``"10-100GeV"`` (uniform), ``"log:1-10GeV"``.
        particle: the particle (``"e-"``, ``"gamma"``, ...; see :class:`~calolab.sim.gun.GunConfig`).
        n: number of showers.
        seed: the seed (the same seed gives the same showers); ``None`` = fresh.
        theta: polar angle to the detector axis, degrees, as :class:`~calolab.sim.gun.GunConfig` (``"0-10"``).
        progress: show a progress bar.
        precision: ``float32``, or ``bfloat16`` for a GAN's hidden layers (:attr:`TrainedGenerator.precision`);
            ``None`` keeps the model's.

    Returns:
        the showers: the model's section filled, everything else zero; engine ``model:<name>``.

    Raises:
        ConfigError: a bad particle, energy, angle or precision.
        SimulationError: a particle, energy or angle the model was not trained on.
        DatasetError: no model at ``model``.
    """
    from calolab.gen.engine import ModelEngine
    from calolab.sim.campaign import Campaign
    from calolab.sim.gun import make_gun

    loaded = load_generator(model)
    if precision is not None:
        loaded = loaded.with_precision(precision)
    engine = ModelEngine(loaded)
    options: dict[str, Any] = {"particle": particle, "energy": energy, "theta": theta}
    campaign = Campaign(loaded.detector, make_gun(**options), n, seed=seed, engine=engine,
                        shard_size=max(n, 1))
    deposits = campaign.simulate(progress=progress)
    deposits.engine = engine.name
    return deposits

