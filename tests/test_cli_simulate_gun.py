"""``calolab simulate`` gun options: pi0 with an opening-angle cut, photon pairs, collider-frame angles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_runner import run

from calolab.data.showerfile import open_dataset


def test_pi0_with_an_opening_angle_cut_and_barrel_angles(tmp_path: Path) -> None:
    code, output, error = run("simulate", "-d", "pisa-csi", "-p", "pi0", "-E", "30-40GeV", "-n", "3", "--seed", "2",
                              "--opening-angle", "<0.01", "--polar-angle", "80-100", "--quiet",
                              "-o", str(tmp_path / "pi0.h5"))
    assert code == 0, output + str(error)
    with open_dataset(tmp_path / "pi0.h5") as showers:
        primaries = showers.primaries()
        assert np.all(showers.read().extra["opening_angle"] <= 0.01)
        assert showers.metadata["gun"]["opening_angle"] == {"low": 0.0, "high": 0.01}
    np.testing.assert_array_equal(primaries.status, np.tile([2, 1, 1], 3))
    polar = np.degrees(np.arccos(primaries.direction[0::3, 0]))
    assert np.all((polar >= 80) & (polar <= 100))


def test_photon_pairs_in_cells(tmp_path: Path) -> None:
    code, output, error = run("simulate", "-d", "cms", "-p", "gamma", "-E", "1GeV", "-n", "2", "--seed", "2",
                              "--separation", "2cells", "--energy-sharing", "0.25", "--quiet",
                              "-o", str(tmp_path / "pairs.h5"))
    assert code == 0, output + str(error)
    with open_dataset(tmp_path / "pairs.h5") as showers:
        np.testing.assert_allclose(showers.read().extra["separation"], 44.0)  # 2 x 22 mm crystals
        np.testing.assert_allclose(showers.primaries().energy, [250.0, 750.0, 250.0, 750.0])


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (("--energy-sharing", "0.5"), "--energy-sharing applies to pairs: give --separation too"),
        (("-p", "gamma", "--opening-angle", "<0.01"), "gun.opening_angle: selects pi0"),
        (("--polar-angle", "60-120", "--theta", "5"), "gun.polar_angle"),
    ],
)
def test_bad_gun_options_write_nothing(tmp_path: Path, options: tuple[str, ...], fragment: str) -> None:
    code, output, error = run("simulate", "-d", "cms", "-E", "1GeV", "-n", "1", "--quiet",
                              "-o", str(tmp_path / "x.h5"), *options)
    assert code != 0
    assert fragment in output + str(error)
    assert list(tmp_path.iterdir()) == []
