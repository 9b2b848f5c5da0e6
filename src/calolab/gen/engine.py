"""A trained generative model as a simulation engine: ``--engine model:PATH``.

:class:`ModelEngine` implements the :class:`~calolab.sim.engine.Engine` protocol, so generated
showers go through campaigns, shower files, validation and reconstruction like simulated ones::

    calolab simulate -d pisa-csi -p e- -E 10-30GeV -n 1000 --engine model:runs/flow -o gen.h5

It fills ``Deposits.active`` of the section it learnt; the other sections, all passive energy and
the leakage are zero (the model does not know them). It refuses detectors, particles, energies and
angles it was not trained for with a :class:`~calolab.errors.SimulationError`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from calolab import __version__
from calolab.errors import ConfigError, SimulationError
from calolab.gen.checkpoint import TrainedGenerator, load_generator
from calolab.gen.data import primary_conditions
from calolab.sim.engine import register_engine
from calolab.sim.events import LEAKAGE_COLUMNS, Deposits, Primaries

if TYPE_CHECKING:
    from calolab.detector.geometry import Calorimeter

__all__ = ["ModelEngine", "model_engine"]


class ModelEngine:
    """Showers sampled from a trained generative model.

    Args:
        model: a run folder of ``calolab train gen``, its ``model.pt``, or a loaded model.

    Attributes:
        name: ``model:<run name>``.
        version: calolab version + the model kind.
    """

    def __init__(self, model: str | os.PathLike[str] | TrainedGenerator) -> None:
        self.model = load_generator(model)
        self.name = f"model:{self.model.name}"
        self.version = f"{__version__}+{self.model.model}"
        self._trained = self.model.detector
        self._trained_toml = self._trained.to_toml()

    def check_detector(self, detector: Calorimeter) -> None:
        """Refuse a detector other than the one the model learnt.

        Raises:
            SimulationError: another detector (the message names both and the fix).
        """
        trained = self._trained
        if detector is trained or detector.to_toml() == self._trained_toml:
            return
        ours = {s.name: tuple(s.shape) for s in trained.sections}
        theirs = {s.name: tuple(s.shape) for s in detector.sections}
        layers, ny, nx = self.model.shape
        msg = (f"{self.name} was trained on detector {trained.name!r} (section {self.model.section}: {layers} layers "
               f"of {ny} x {nx} cells); got {detector.name!r}"
               f"{'' if theirs == ours else f' with sections {theirs}'}"
               f"{' whose geometry differs' if trained.name == detector.name else ''}. "
               f"Simulate with -d {trained.name} (the same geometry) or train a model on showers of this detector.")
        raise SimulationError(msg)

    def simulate(self, primaries: Primaries, detector: Calorimeter, seed: np.random.SeedSequence) -> Deposits:
        """Sample one shower per event (one transported particle per event).

        Raises:
            SimulationError: another detector, several particles in an event, or a particle, energy or
                angle outside the training conditions.
        """
        self.check_detector(detector)
        energy, theta, pdg = primary_conditions(primaries)
        self.model.conditions.check(energy, theta, pdg, what=self.name)
        if not isinstance(seed, np.random.SeedSequence):
            seed = np.random.SeedSequence(seed)
        state = int(seed.generate_state(1, dtype=np.uint64)[0])
        cells = self.model.sample(energy, theta, pdg, state)
        n = len(energy)
        active = {s.name: np.zeros((n, *s.shape), dtype=np.float32) for s in detector.sections}
        passive = {s.name: np.zeros((n, *s.shape), dtype=np.float32) for s in detector.sections}
        active[self.model.section] = cells
        return Deposits(primaries=primaries, active=active, passive=passive,
                        leakage=np.zeros((n, len(LEAKAGE_COLUMNS)), dtype=np.float32), engine=self.name,
                        engine_version=self.version)


def model_engine(spec: str) -> ModelEngine:
    """The engine of ``spec`` = ``model:PATH`` (the factory registered for ``model``).

    Raises:
        ConfigError: ``model`` without a path.
    """
    _, _, path = spec.partition(":")
    if not path:
        msg = f"engine {spec!r} needs a model: --engine model:PATH (a run folder of 'calolab train gen')"
        raise ConfigError(msg)
    return ModelEngine(path)


register_engine("model", model_engine)
