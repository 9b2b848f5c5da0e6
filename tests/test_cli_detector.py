"""``calolab detector``: summary table, preset list, TOML output, errors."""

from __future__ import annotations

import tomllib

from cli_runner import run

from calolab.detector import Calorimeter, list_presets, load_detector
from calolab.errors import ConfigError


def test_summary_table() -> None:
    code, output, _ = run("detector", "clic")
    assert code == 0, output
    assert "ECAL" in output and "HCAL" in output
    assert "17 x (2.4 W + 0.5 Si*), 8 x (4.8 W + 0.5 Si*)" in output
    assert "51 x 51" in output and "5.1 x 5.1" in output and "17 x 17" in output
    ecal = load_detector("clic").section("ECAL")
    assert f"{ecal.depth_radiation_lengths:.2f}" in output  # 22.74 X0
    assert f"{ecal.z_back:.2f}" in output  # 91.70 mm
    assert "after 20 mm gap" in output


def test_list() -> None:
    code, output, _ = run("detector", "--list")
    assert code == 0, output
    for name in list_presets():
        assert name in output
    assert "PbWO4" in output  # the cms description


def test_toml_output_round_trips(tmp_path) -> None:
    code, output, _ = run("detector", "calice-siw", "--toml")
    assert code == 0
    assert tomllib.loads(output)["name"] == "calice-siw"
    assert Calorimeter.from_toml(output) == load_detector("calice-siw")
    path = tmp_path / "mine.toml"
    path.write_text(output)
    code, output, _ = run("detector", str(path))
    assert code == 0 and "calice-siw" in output and "30" in output


def test_unknown_preset_is_a_config_error() -> None:
    code, _, error = run("detector", "nope")
    assert code != 0
    assert isinstance(error, ConfigError)  # main() prints it as one line, exit code 2
    assert "choose one of" in str(error) and "clic" in str(error)


def test_no_argument() -> None:
    code, output, _ = run("detector")
    assert code == 2
    assert "--list" in output
