"""Primaries.status / parent: defaults, validation, select / concatenate / single, transported()."""

from __future__ import annotations

import numpy as np
import pytest

from calolab.errors import SimulationError
from calolab.sim.events import Primaries


def record() -> Primaries:
    """Event 0: a pi0 (status 2) and its two photons; event 1: one electron; event 2: empty."""
    return Primaries(
        pdg=[111, 22, 22, 11],
        energy=[1000.0, 600.0, 534.9768, 50.0],
        position=np.zeros((4, 3)),
        direction=np.tile([0.0, 0.0, 1.0], (4, 1)),
        event_offsets=[0, 3, 4, 4],
        status=[2, 1, 1, 1],
        parent=[-1, 0, 0, -1],
    )


def test_defaults_are_transported_without_parents() -> None:
    plain = Primaries.single([11, 22], [1.0, 2.0])
    np.testing.assert_array_equal(plain.status, [1, 1])
    np.testing.assert_array_equal(plain.parent, [-1, -1])
    assert plain.status.dtype == np.int8 and plain.parent.dtype == np.int32
    old_style = Primaries([11], [1.0], np.zeros((1, 3)), [[0.0, 0.0, 1.0]], [0, 1])  # five arguments, as before
    assert old_style.status.tolist() == [1] and old_style.parent.tolist() == [-1]


def test_transported_keeps_status_one_and_events() -> None:
    transported = record().transported()
    np.testing.assert_array_equal(transported.pdg, [22, 22, 11])
    np.testing.assert_array_equal(transported.event_offsets, [0, 2, 3, 3])
    np.testing.assert_array_equal(transported.parent, [-1, -1, -1])
    np.testing.assert_allclose(transported.event_energy(), [1134.9768, 50.0, 0.0])
    np.testing.assert_allclose(record().event_energy(), [1134.9768, 50.0, 0.0])  # the pi0 counts through its photons


def test_select_and_concatenate_carry_status_and_parent() -> None:
    full = record()
    picked = full.select(np.array([1, 0]))
    np.testing.assert_array_equal(picked.pdg, [11, 111, 22, 22])
    np.testing.assert_array_equal(picked.status, [1, 2, 1, 1])
    np.testing.assert_array_equal(picked.parent, [-1, -1, 0, 0])  # event-relative: unchanged
    both = Primaries.concatenate([full, full.select(slice(0, 1))])
    np.testing.assert_array_equal(both.status, [2, 1, 1, 1, 2, 1, 1])
    np.testing.assert_array_equal(both.parent, [-1, 0, 0, -1, -1, 0, 0])
    np.testing.assert_array_equal(both.event_offsets, [0, 3, 4, 4, 7])


@pytest.mark.parametrize(("parent", "fragment"), [([-1, 0, 3, -1], "parent[2] = 3"), ([-1, 1, 0, -1], "parent[1] = 1"),
                                                  ([-1, 0, 0, 0], "parent[3] = 0"), ([-2, 0, 0, -1], "parent[0] = -2")])
def test_parents_must_be_other_particles_of_the_same_event(parent: list[int], fragment: str) -> None:
    good = record()
    with pytest.raises(SimulationError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        Primaries(good.pdg, good.energy, good.position, good.direction, good.event_offsets, good.status, parent)


def test_status_length_is_checked() -> None:
    good = record()
    with pytest.raises(SimulationError, match="one entry per particle"):
        Primaries(good.pdg, good.energy, good.position, good.direction, good.event_offsets, [1, 1])
