"""Primaries.leading: the k most energetic transported particles of each event, against a plain loop."""

from __future__ import annotations

import numpy as np
import pytest

from calolab.errors import SimulationError
from calolab.sim.events import Primaries


def _record() -> Primaries:
    """Four events: a decayed pi0 (status 2) with its two photons, one electron, none, three photons."""
    pdg = [111, 22, 22, 11, 22, 22, 22]
    energy = [5000.0, 1500.0, 3635.0, 800.0, 10.0, 30.0, 20.0]
    position = np.column_stack([np.arange(7.0), -np.arange(7.0), np.zeros(7)])
    direction = np.tile([0.0, 0.0, 1.0], (7, 1))
    status = [2, 1, 1, 1, 1, 1, 1]
    parent = [-1, 0, 0, -1, -1, -1, -1]
    return Primaries(pdg, energy, position, direction, [0, 3, 4, 4, 7], status, parent)


def _loop(primaries: Primaries, k: int) -> tuple[np.ndarray, np.ndarray]:
    position, energy = np.full((primaries.n_events, k, 2), np.nan), np.full((primaries.n_events, k), np.nan)
    for event in range(primaries.n_events):
        rows = [i for i in range(primaries.event_offsets[event], primaries.event_offsets[event + 1])
                if primaries.status[i] == 1]
        rows.sort(key=lambda i: -primaries.energy[i])
        for slot, i in enumerate(rows[:k]):
            position[event, slot], energy[event, slot] = primaries.position[i, :2], primaries.energy[i]
    return position, energy


@pytest.mark.parametrize("k", [1, 2, 3])
def test_leading_matches_a_loop(k: int) -> None:
    primaries = _record()
    position, energy = primaries.leading(k)
    expected_position, expected_energy = _loop(primaries, k)
    assert position.shape == (4, k, 2) and energy.shape == (4, k)
    np.testing.assert_array_equal(position, expected_position)
    np.testing.assert_array_equal(energy, expected_energy)


def test_leading_pi0_photons_and_missing_particles() -> None:
    position, energy = _record().leading()  # k = 2
    # the pi0 (status 2) is truth only: its photons, the harder first
    np.testing.assert_array_equal(energy[0], [3635.0, 1500.0])
    np.testing.assert_array_equal(position[0], [[2.0, -2.0], [1.0, -1.0]])
    assert energy[1, 0] == 800.0 and np.isnan(energy[1, 1]) and np.isnan(position[1, 1]).all()
    assert np.isnan(energy[2]).all() and np.isnan(position[2]).all()  # an empty event
    np.testing.assert_array_equal(energy[3], [30.0, 20.0])  # the softest of three is dropped


def test_leading_needs_a_positive_k() -> None:
    with pytest.raises(SimulationError, match="k is the number of particles"):
        _record().leading(0)
