"""calolab.data.torch: shower files as tensors, windows, cell transforms, train-only standardisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from calolab.data.showerfile import write_showers
from calolab.data.torch import (
    DataConfig,
    ShowerArrays,
    ShowerDataModule,
    ShowerDataset,
    Standardizer,
    apply_cell_transform,
    load_showers,
    split_indices,
)
from calolab.detector import load_detector
from calolab.errors import ConfigError, DatasetError
from calolab.sim.events import Deposits, Primaries


def _toy_file(path, hot_cells, energies_mev, pdg, positions):
    """cms (1 x 11 x 11) events with 1 GeV in one hot cell (iy, ix) and 0.1 GeV in its right neighbour."""
    detector = load_detector("cms")
    n = len(hot_cells)
    cells = np.zeros((n, 1, 11, 11), dtype=np.float32)
    for i, (iy, ix) in enumerate(hot_cells):
        cells[i, 0, iy, ix] = 1000.0
        if ix + 1 < 11:
            cells[i, 0, iy, ix + 1] = 100.0
    position = np.zeros((n, 3))
    position[:, :2] = positions
    primaries = Primaries.single(np.asarray(pdg), np.asarray(energies_mev, dtype=float), position)
    deposits = Deposits(primaries, {"ECAL": cells}, {"ECAL": np.zeros_like(cells)}, np.zeros((n, 3), np.float32))
    write_showers(path, deposits, detector)
    return path


@pytest.fixture
def toy(tmp_path):
    return _toy_file(tmp_path / "toy.h5", [(5, 5), (0, 10), (3, 7)], [2000.0, 5000.0, 9000.0], [11, 22, 11],
                     [(1.0, 2.0), (-3.0, 0.5), (0.0, 0.0)])


def test_load_cells_totals_and_truth(toy):
    arrays = load_showers(toy, DataConfig(chunk=2))  # two chunks
    assert arrays.cells["ECAL"].shape == (3, 1, 11, 11) and arrays.cells["ECAL"].dtype == np.float32
    assert arrays.cells["ECAL"][0, 0, 5, 5] == pytest.approx(1.0)  # GeV
    np.testing.assert_allclose(arrays.totals[:, 0], [1.1, 1.0, 1.1], rtol=1e-6)  # (0, 10) has no right neighbour
    np.testing.assert_allclose(arrays.truth["energy"], [2000.0, 5000.0, 9000.0])
    np.testing.assert_array_equal(arrays.truth["pdg"], [11, 22, 11])
    np.testing.assert_allclose(arrays.truth["position"][1], [-3.0, 0.5])
    np.testing.assert_allclose(arrays.truth["theta"], 0.0, atol=1e-12)
    assert np.isnan(arrays.truth["photon_energy"][:, 1]).all()  # one particle per event


def test_window_around_hottest_cell_is_zero_padded(toy):
    arrays = load_showers(toy, DataConfig(window=3))
    window = arrays.cells["ECAL"]
    assert window.shape == (3, 1, 3, 3)
    np.testing.assert_allclose(window[0, 0], [[0, 0, 0], [0, 1.0, 0.1], [0, 0, 0]], atol=1e-7)
    np.testing.assert_allclose(window[1, 0], [[0, 0, 0], [0, 1.0, 0], [0, 0, 0]], atol=1e-7)  # corner: padded
    # seed-cell centres: (i + 0.5) * 22 mm - 121 mm on an 11-cell, 22 mm grid
    np.testing.assert_allclose(arrays.seed, [[0.0, 0.0], [110.0, -110.0], [44.0, -44.0]])
    targets = arrays.targets("linear")
    np.testing.assert_allclose(targets["position"][1], [-3.0 - 110.0, 0.5 + 110.0])
    np.testing.assert_allclose(targets["energy"], [2.0, 5.0, 9.0])


def test_window_keeps_the_other_sections_totals(tmp_path):
    """clic: the ECAL is cropped, the HCAL (whole) and the ECAL outside the window enter as scalars only."""
    detector = load_detector("clic")
    ecal = np.zeros((2, *detector.section("ECAL").shape), dtype=np.float32)
    hcal = np.zeros((2, *detector.section("HCAL").shape), dtype=np.float32)
    ecal[:, 3, 25, 25] = 2000.0  # MeV, the hottest cell
    ecal[:, 3, 25, 0] = 500.0  # far outside a 3 x 3 window
    hcal[0, 10, 2, 2] = 300.0
    hcal[1, 40, 8, 8] = 700.0
    primaries = Primaries.single(np.array([11, 22]), np.array([5000.0, 6000.0]), np.zeros((2, 3)))
    deposits = Deposits(primaries, {"ECAL": ecal, "HCAL": hcal},
                        {"ECAL": np.zeros_like(ecal), "HCAL": np.zeros_like(hcal)}, np.zeros((2, 3), np.float32))
    path = write_showers(tmp_path / "clic.h5", deposits, detector)
    arrays = load_showers(path, DataConfig(window=3, energy_target="ratio"))
    assert list(arrays.cells) == ["ECAL"] and arrays.cells["ECAL"].shape == (2, detector.section("ECAL").shape[0], 3, 3)
    np.testing.assert_allclose(arrays.totals, [[2.0, 0.3], [2.0, 0.7]], rtol=1e-6)  # GeV: window, whole HCAL
    np.testing.assert_allclose(arrays.scalars(position_input=False), arrays.totals)
    np.testing.assert_allclose(arrays.targets("ratio")["energy"], np.log([5.0 / 2.3, 6.0 / 2.7]), rtol=1e-6)
    with pytest.raises(DatasetError, match="layer_fractions=True"):
        arrays.scalars(position_input=False, layer_fractions=True)
    profiled = load_showers(path, DataConfig(window=3, layer_fractions=True))
    scalars = profiled.scalars(position_input=True, layer_fractions=True)
    assert scalars.shape == (2, 2 + 25 + 60 + 2)  # totals, ECAL and HCAL layers, seed x and y last
    fractions = scalars[:, 2:-2]
    np.testing.assert_allclose(fractions.sum(axis=1), 1.0, rtol=1e-6)  # the window's ECAL layers + whole HCAL
    np.testing.assert_allclose(fractions[0, [3, 25 + 10]], [2.0 / 2.3, 0.3 / 2.3], rtol=1e-6)
    np.testing.assert_allclose(fractions[1, [3, 25 + 40]], [2.0 / 2.7, 0.7 / 2.7], rtol=1e-6)
    assert profiled.subset(np.array([1])).layers.shape == (1, 85)
    assert profiled.layer_columns() == slice(2, 87)
    # one mean and std for the whole block: the HCAL layer only event 1 reaches is not blown up to many sigma
    standardizer = Standardizer.fit({"scalars": scalars}, {"scalars": profiled.layer_columns()})
    block = scalars[:, 2:-2]
    np.testing.assert_allclose(standardizer.mean["scalars"][2:-2], block.mean())
    np.testing.assert_allclose(standardizer.std["scalars"][2:-2], block.std())
    np.testing.assert_allclose(standardizer.std["scalars"][[0, 1]], [1.0, 0.2])  # totals: per column (constant -> 1)


def test_feature_inputs_are_the_feature_tables_columns(tmp_path):
    """DataConfig(feature_inputs=True): the scalars carry compute_features of the whole sections, before the seed."""
    from calolab.features import compute_features

    detector = load_detector("cms")
    ecal = np.zeros((3, *detector.section("ECAL").shape), dtype=np.float32)
    ecal[:, 0, 5, 5] = [1000.0, 3000.0, 500.0]
    ecal[0, 0, 5, 6], ecal[1, 0, 4, 5], ecal[2, 0, 0, 0] = 200.0, 900.0, 100.0  # outside a 1x1 window too
    primaries = Primaries.single(np.array([11, 22, 11]), np.full(3, 5000.0), np.zeros((3, 3)))
    deposits = Deposits(primaries, {"ECAL": ecal}, {"ECAL": np.zeros_like(ecal)}, np.zeros((3, 3), np.float32))
    path = write_showers(tmp_path / "cms.h5", deposits, detector)
    plain = load_showers(path, DataConfig(window=1))
    assert plain.features is None
    with pytest.raises(DatasetError, match="feature_inputs=True"):
        plain.scalars(position_input=False, feature_inputs=True)
    arrays = load_showers(path, DataConfig(window=1, feature_inputs=True, chunk=2))  # two chunks
    expected = compute_features({"ECAL": ecal}, detector)
    table = np.stack(list(expected.values()), axis=1)
    np.testing.assert_allclose(arrays.features, table, rtol=1e-6)
    assert expected["ECAL_energy"][0] == pytest.approx(1200.0)  # MeV: the whole section, not the 1x1 window
    scalars = arrays.scalars(position_input=True, feature_inputs=True)
    assert scalars.shape == (3, 1 + table.shape[1] + 2)
    np.testing.assert_allclose(scalars[:, 1:-2], table, rtol=1e-6)
    np.testing.assert_allclose(scalars[:, -2:], arrays.seed)  # the seed stays last (the mirroring moves it)
    assert arrays.subset(np.array([2])).features.shape == (1, table.shape[1])
    both = ShowerArrays.concatenate([arrays, arrays.subset(np.array([0]))])
    np.testing.assert_allclose(both.features[-1], table[0], rtol=1e-6)


def test_cell_transforms():
    cells = np.array([0.0, 1.0, 4.0, -1.0], dtype=np.float32)
    np.testing.assert_allclose(apply_cell_transform(cells.copy(), "log1p"), np.log1p([0, 1, 4, 0]), rtol=1e-6)
    np.testing.assert_allclose(apply_cell_transform(cells.copy(), "power:0.5"), [0, 1, 2, 0], rtol=1e-6)
    np.testing.assert_allclose(apply_cell_transform(cells.copy(), "none"), cells)
    with pytest.raises(ValueError, match="power:0.85"):  # pydantic's ValidationError carries the message
        DataConfig(cell_transform="sqrt")


def test_errors_name_the_fix(toy, tmp_path):
    with pytest.raises(DatasetError, match="calolab digitize"):
        load_showers(toy, DataConfig(signal="digitized"))
    with pytest.raises(DatasetError, match="does not exist"):
        load_showers(tmp_path / "missing.h5")
    with pytest.raises(ConfigError, match="window_section"):
        load_showers(toy, DataConfig(window=3, window_section="HCAL"))


def _synthetic(n, seed=0):
    rng = np.random.default_rng(seed)
    energy = rng.uniform(1e3, 1e4, n)
    cells = rng.exponential(1.0, (n, 2, 4, 4)).astype(np.float32)
    truth = {"energy": energy, "pdg": rng.choice([11, 22], n).astype(np.int32), "position": rng.normal(0, 3, (n, 2)),
             "theta": np.zeros(n), "photon_position": np.full((n, 2, 2), np.nan),
             "photon_energy": np.full((n, 2), np.nan)}
    return ShowerArrays({"ECAL": cells}, cells.sum(axis=(1, 2, 3))[:, None], np.zeros((n, 2)), truth)


def test_split_is_seeded_and_disjoint():
    a = split_indices(100, seed=3)
    b = split_indices(100, seed=3)
    c = split_indices(100, seed=4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[1], c[1])
    assert sorted(np.concatenate(a).tolist()) == list(range(100))
    assert [len(x) for x in a] == [70, 15, 15]


def test_standardisation_is_fitted_on_train_only():
    arrays = _synthetic(400)
    arrays.truth["energy"][:] = 1000.0
    module = ShowerDataModule(arrays=arrays, config=DataConfig(energy_target="linear"), seed=1)
    module.setup()
    arrays.truth["energy"][module.val_index] = 50_000.0  # validation differs wildly from train; setup already done
    train_mean = arrays.totals[module.train_index, 0].mean()
    all_mean = arrays.totals[:, 0].mean()
    assert module.standardizer.mean["scalars"][0] == pytest.approx(train_mean)
    assert abs(train_mean - all_mean) > 1e-4
    again = ShowerDataModule(arrays=arrays, config=DataConfig(energy_target="linear"), seed=1)
    again.setup()
    assert again.standardizer.mean["energy"] == pytest.approx(1.0)  # GeV: only training events count
    assert again.standardizer.std["energy"] == pytest.approx(1.0)  # constant -> 1, no division by zero
    scalars = again.dataset("train")[np.arange(len(again.train_index))]["scalars"].numpy()
    assert abs(scalars.mean()) < 1e-5 and scalars.std() == pytest.approx(1.0, rel=1e-4)


def test_dataset_items_and_batches():
    arrays = _synthetic(50)
    standardizer = Standardizer.fit({"scalars": arrays.scalars(False), **arrays.targets("log")})
    dataset = ShowerDataset(arrays, standardizer, (11,), DataConfig(), np.arange(10, 20))
    item = dataset[0]
    assert item["cells"]["ECAL"].shape == (1, 2, 4, 4) and item["scalars"].shape == (1,)
    assert int(item["index"]) == 10
    assert int(item["label"]) == (0 if arrays.truth["pdg"][10] == 11 else -1)  # 22 is not a class
    batch = dataset[np.array([0, 3, 5])]
    assert batch["cells"]["ECAL"].shape == (3, 1, 2, 4, 4) and batch["photons"].shape == (3, 2, 3)
    assert torch.isfinite(batch["photons"]).all()  # absent photons -> 0 after standardisation
    assert len(dataset) == 10


def test_standardizer_round_trip():
    fitted = Standardizer.fit({"x": np.array([[1.0, 10.0], [3.0, 10.0]])})
    again = Standardizer.from_dict(fitted.to_dict())
    np.testing.assert_allclose(again.transform("x", np.array([[2.0, 10.0]])), [[0.0, 0.0]])
    np.testing.assert_allclose(again.inverse("x", again.transform("x", np.array([[5.0, 7.0]]))), [[5.0, 7.0]])
