"""Conditions, the 3DGAN cell preprocessing, splits and reading shower files for generative training."""

from __future__ import annotations

import re

import numpy as np
import pytest

import calolab
from calolab.errors import DatasetError, SimulationError
from calolab.gen.data import CellTransform, ConditionSpec, load_gen_arrays, primary_conditions, split_indices
from calolab.sim.events import Primaries

SPEC = ConditionSpec((1e3, 1e5), (0.0, 0.2), (-11, 11, 22))


def test_conditions_are_log_scaled_with_one_hot_classes() -> None:
    encoded = SPEC.encode(np.array([1e3, 1e4, 1e5]), np.array([0.0, 0.1, 0.2]), np.array([11, 22, -11]))
    np.testing.assert_allclose(encoded[:, 0], [0.0, 0.5, 1.0], atol=1e-6)  # log10 1e4 is half-way
    np.testing.assert_allclose(encoded[:, 1], [0.0, 0.5, 1.0], atol=1e-6)
    np.testing.assert_array_equal(encoded[:, 2:], [[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    assert ConditionSpec.from_dict(SPEC.to_dict()) == SPEC


def test_a_single_training_energy_and_angle_encode_to_constants() -> None:
    spec = ConditionSpec((5e3, 5e3), (0.0, 0.0), (11,))
    np.testing.assert_allclose(spec.encode(np.array([5e3]), np.array([0.0]), np.array([11])), [[0.5, 0.0, 1.0]])


@pytest.mark.parametrize(("energy", "theta", "pdg", "phrase"), [
    (5e3, 0.0, 2212, "trained on e+ (-11), e- (11), gamma (22) only; got proton (2212)"),
    (2e5, 0.0, 11, "incident energies 1-100 GeV; got 200 GeV"),
    (5e3, 0.5, 11, "polar angles 0-11.4592 degrees"),
])
def test_conditions_outside_the_training_set_are_refused(energy: float, theta: float, pdg: int,
                                                          phrase: str) -> None:
    with pytest.raises(SimulationError, match=re.escape(phrase)):
        SPEC.check(np.array([energy]), np.array([theta]), np.array([pdg]))
    SPEC.check(np.array([1e5 * 1.005]), np.array([0.2]), np.array([22]))  # within the 1% margin


def test_cell_transform_round_trip_and_power() -> None:
    cells = np.array([[0.0, 1.0, 10.0, 1234.5]], dtype=np.float64)
    transform = CellTransform.fit(cells)
    assert transform.scale == pytest.approx(1234.5)
    x = transform.forward(cells)
    np.testing.assert_allclose(x, (cells / 1234.5) ** 0.85)  # 3DGAN: E^0.85
    np.testing.assert_allclose(transform.inverse(x), cells, rtol=1e-12)
    fast = transform.inverse_in_place(np.array([[-0.1, *x[0]]], dtype=np.float32))  # sampling's fast path
    np.testing.assert_allclose(fast, [[0.0, *cells[0]]], rtol=1e-6)
    assert CellTransform.from_dict(transform.to_dict()) == transform


def test_split_is_seeded_disjoint_and_complete() -> None:
    train, val = split_indices(100, 0.2, seed=4)
    assert len(val) == 20 and len(train) == 80
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(100))
    again, _ = split_indices(100, 0.2, seed=4)
    other, _ = split_indices(100, 0.2, seed=5)
    assert np.array_equal(train, again) and not np.array_equal(train, other)
    with pytest.raises(DatasetError, match="cannot be split"):
        split_indices(1, 0.2, seed=0)


def test_primary_conditions_give_the_polar_angle() -> None:
    direction = np.array([[0.0, 0.0, 1.0], [np.sin(0.3), 0.0, np.cos(0.3)]])
    energy, theta, pdg = primary_conditions(Primaries.single(np.array([11, 22]), np.array([1e3, 2e3]),
                                                             direction=direction))
    np.testing.assert_allclose(theta, [0.0, 0.3])
    np.testing.assert_array_equal(pdg, [11, 22])
    np.testing.assert_allclose(energy, [1e3, 2e3])
    pair = Primaries(np.array([11, 11]), np.array([1e3, 1e3]), np.zeros((2, 3)), np.tile([0, 0, 1.0], (2, 1)),
                     np.array([0, 2]))
    with pytest.raises(SimulationError, match="one particle per event"):
        primary_conditions(pair)


def test_load_gen_arrays_reads_cells_and_conditions(tmp_path, pisa_showers) -> None:  # noqa: ANN001
    from calolab.sim.events import Deposits

    n = len(pisa_showers)
    primaries = Primaries.single(pisa_showers.pdg, pisa_showers.energy)
    cells = pisa_showers.cells
    deposits = Deposits(primaries, {"ECAL": cells}, {"ECAL": np.zeros_like(cells)}, np.zeros((n, 3)))
    path = calolab.write_showers(tmp_path / "e.h5", deposits, calolab.load_detector("pisa-csi"))
    arrays = load_gen_arrays([path, path], max_events=10)
    assert arrays.cells.shape == (20, 12, 25, 25) and arrays.section == "ECAL"
    np.testing.assert_array_equal(arrays.cells[:10], cells[:10])
    np.testing.assert_allclose(arrays.energy[:10], pisa_showers.energy[:10])
    with pytest.raises(DatasetError, match="no section 'HCAL'"):
        load_gen_arrays([path], section="HCAL")
    tensors = arrays.tensors(arrays.conditions(), CellTransform.fit(arrays.cells))
    assert tensors["cells"].shape == (20, 1, 12, 25, 25) and tensors["conditions"].shape == (20, 3)
