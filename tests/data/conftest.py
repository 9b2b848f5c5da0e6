"""Fixtures of the shower-file tests: a detector and seeded synthetic deposits for it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from calolab.detector import Calorimeter, load_detector
from calolab.sim.events import Deposits, Primaries


def synthetic_deposits(detector: Calorimeter, n: int, seed: int, particles_per_event: int = 1) -> Deposits:
    """Seeded random deposits with the detector's section shapes, ragged primaries and one extra array."""
    rng = np.random.default_rng(seed)
    m = n * particles_per_event
    offsets = np.arange(0, m + 1, particles_per_event)
    primaries = Primaries(
        pdg=rng.choice([11, -11, 22], m),
        energy=rng.uniform(1e3, 1e5, m),
        position=rng.normal(0.0, 5.0, (m, 3)),
        direction=np.tile([0.0, 0.0, 1.0], (m, 1)),
        event_offsets=offsets,
    )
    active = {s.name: rng.exponential(1.0, (n, *s.shape)).astype(np.float32) for s in detector.sections}
    passive = {s.name: rng.exponential(20.0, (n, *s.shape)).astype(np.float32) for s in detector.sections}
    return Deposits(primaries, active, passive, rng.uniform(0.0, 50.0, (n, 3)), engine="toy",
                    engine_version="1.2", extra={"n_steps": rng.integers(0, 1000, n)})


@pytest.fixture(scope="session")
def detector() -> Calorimeter:
    return load_detector("calice-siw")  # one section "ECAL", 30 layers of 18 x 18 cells


@pytest.fixture
def make_deposits(detector: Calorimeter) -> Callable[..., Deposits]:
    def make(n: int, seed: int = 0, particles_per_event: int = 1) -> Deposits:
        return synthetic_deposits(detector, n, seed, particles_per_event)

    return make
