"""The CaloChallenge layout: built-in binnings, XML parsing, bit-exact write/read, voxel order, errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from calolab.data.formats.calochallenge import (
    BUILTIN_BINNINGS,
    CaloChallengeBinning,
    calochallenge_detector,
    read_calochallenge,
    write_calochallenge,
)
from calolab.errors import ConfigError, DatasetError

TINY_XML = """<Bins>
   <Bin pid="22" name="photon">
      <Layer id="0" r_edges="0,5,10,30" n_bin_alpha="1" />
      <Layer id="1" r_edges="0" n_bin_alpha="1" />
      <Layer id="2" r_edges="0,2,4,8,16" n_bin_alpha="4"/>
   </Bin>
</Bins>
"""


@pytest.mark.parametrize(("name", "voxels", "layers"), [
    # voxel counts quoted by the challenge README (calochallenge.github.io/homepage): 368, 533, 9x16x45, 18x50x45
    ("dataset1-photons", 368, 5), ("dataset1-pions", 533, 7), ("dataset2", 6480, 45), ("dataset3", 40500, 45),
])
def test_builtin_binnings_have_the_challenge_voxel_counts(name: str, voxels: int, layers: int) -> None:
    binning = CaloChallengeBinning.builtin(name)
    assert binning.n_voxels == voxels and binning.n_layers == layers
    assert CaloChallengeBinning.matching(voxels) == [binning]
    assert f"{voxels} voxels" in binning.describe(short=True)


def test_dataset2_description_and_detector() -> None:
    binning = CaloChallengeBinning.builtin("ds2")
    assert binning.describe(short=True) == \
        "dataset2: 45 layers x 9 r (0-41.85 mm, 4.65 mm wide) x 16 alpha (22.5 deg) = 6480 voxels"
    detector = calochallenge_detector(binning)
    section = detector.sections[0]
    assert section.shape == (45, 18, 18) and section.cell_size_x == pytest.approx(4.65)
    assert section.width_x / 2 >= binning.r_max - 1e-9  # the grid covers the cylinder
    assert calochallenge_detector("dataset3").sections[0].shape == (45, 36, 36)
    with pytest.raises(ConfigError, match="unknown CaloChallenge binning 'dataset9'"):
        CaloChallengeBinning.builtin("dataset9")


def test_binning_xml_parse(tmp_path: Path) -> None:
    path = tmp_path / "tiny.xml"
    path.write_text(TINY_XML)
    binning = CaloChallengeBinning.resolve(str(path))
    assert binning.name == "tiny" and binning.pdg == 22 and binning.particle == "photon"
    assert [layer.index for layer in binning.layers] == [0, 2] and binning.empty_layers == (1,)
    assert binning.n_voxels == 3 * 1 + 4 * 4 and binning.offsets == (0, 3, 19)
    assert binning.layers[1].r_edges == (0.0, 2.0, 4.0, 8.0, 16.0) and binning.layers[1].n_alpha == 4
    assert not binning.uniform and "layer 2: 4 r (edges 0, 2, 4, 8, 16 mm) x 4 alpha (90 deg)" in binning.describe()
    again = CaloChallengeBinning.from_xml(binning.to_xml())  # to_xml keeps the empty layer
    assert again.layers == binning.layers and again.empty_layers == (1,)
    with pytest.raises(ConfigError, match="not valid XML"):
        CaloChallengeBinning.from_xml("<Bins><Bin>")
    with pytest.raises(ConfigError, match="strictly increasing"):
        CaloChallengeBinning.from_xml('<Bins><Bin><Layer id="0" r_edges="0,5,3" n_bin_alpha="2"/></Bin></Bins>')
    with pytest.raises(ConfigError, match="no <Bin> for particle 'pion'"):
        CaloChallengeBinning.from_xml(path, particle="pion")
    with pytest.raises(ConfigError, match="does not exist"):
        CaloChallengeBinning.resolve(str(tmp_path / "missing.xml"))


def test_write_read_round_trip_is_bit_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for name in ("dataset2", "dataset1-photons"):
        binning = BUILTIN_BINNINGS[name]
        energies = 10 ** rng.uniform(3, 6, 7)  # MeV, float64
        showers = (rng.exponential(1.0, (7, binning.n_voxels)) * (rng.random((7, binning.n_voxels)) < 0.3)).astype(
            np.float32)
        path = write_calochallenge(tmp_path / f"{name}.h5", energies, showers, binning)
        with h5py.File(path, "r") as f:  # the public layout
            assert f["incident_energies"].shape == (7, 1) and f["showers"].shape == (7, binning.n_voxels)
            assert f["showers"].attrs["unit"] == "MeV"
        data = read_calochallenge(path)  # binning found from the stored XML / the voxel count
        assert data.binning.name == name and data.binning.layers == binning.layers
        assert data.showers.dtype == np.float32 and data.incident_energies.dtype == np.float64
        np.testing.assert_array_equal(data.showers, showers)
        np.testing.assert_array_equal(data.incident_energies, energies)
        part = read_calochallenge(path, name, events=slice(2, 5))
        np.testing.assert_array_equal(part.showers, showers[2:5])
    assert not list(tmp_path.glob(".*partial"))


def test_voxel_order_is_r_fastest_then_alpha_then_layer(tmp_path: Path) -> None:
    binning = BUILTIN_BINNINGS["dataset2"]
    layer, i_r, j_alpha = 3, 7, 11
    grid = np.zeros((1, 45, 9, 16), dtype=np.float32)
    grid[0, layer, i_r, j_alpha] = 1.0
    flat = binning.flatten(grid)
    column = layer * 144 + j_alpha * 9 + i_r  # the README: radial bins of one angular slice, then the next slice
    assert np.flatnonzero(flat[0]).tolist() == [column]
    path = write_calochallenge(tmp_path / "one.h5", [5000.0], grid, binning)
    data = read_calochallenge(path)
    np.testing.assert_array_equal(data.voxels(), grid)
    np.testing.assert_array_equal(data.layer(layer)[0], grid[0, layer])
    assert data.layer_energies()[0, layer] == 1.0
    layer_of, radius, alpha = binning.voxel_centres()
    assert layer_of[column] == layer and radius[column] == pytest.approx(4.65 * 7.5)
    assert alpha[column] == pytest.approx(-np.pi + (11.5) * 2 * np.pi / 16)


def test_read_errors(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["images"] = np.zeros((2, 5))
    with pytest.raises(DatasetError, match=r"not a CaloChallenge file: no 'incident_energies' or 'showers'"):
        read_calochallenge(foreign)
    odd = tmp_path / "odd.h5"
    with h5py.File(odd, "w") as f:
        f["incident_energies"] = np.ones((2, 1))
        f["showers"] = np.zeros((2, 100))
    with pytest.raises(DatasetError, match="100 voxels, which match no built-in CaloChallenge binning"):
        read_calochallenge(odd)
    good = write_calochallenge(tmp_path / "good.h5", np.ones(2), np.zeros((2, 6480), np.float32), "dataset2")
    with pytest.raises(DatasetError, match="6480 voxels but binning 'dataset3' has 40500: give --binning dataset2"):
        read_calochallenge(good, "dataset3")
    with pytest.raises(DatasetError, match="showers of shape"):
        write_calochallenge(tmp_path / "bad.h5", np.ones(2), np.zeros((2, 6000)), "dataset2")
    with pytest.raises(DatasetError, match="one energy"):
        write_calochallenge(tmp_path / "bad.h5", np.ones(3), np.zeros((2, 6480)), "dataset2")
    with pytest.raises(DatasetError, match="already exists"):
        write_calochallenge(good, np.ones(2), np.zeros((2, 6480)), "dataset2")
    with pytest.raises(DatasetError, match="does not exist: create it"):
        write_calochallenge(tmp_path / "no" / "x.h5", np.ones(2), np.zeros((2, 6480)), "dataset2")
    assert not (tmp_path / "bad.h5").exists()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[:1500])
    with pytest.raises(DatasetError, match="truncated|cannot"):
        read_calochallenge(truncated)
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(DatasetError, match="not an HDF5 file"):
        read_calochallenge(tmp_path / "text.h5")
