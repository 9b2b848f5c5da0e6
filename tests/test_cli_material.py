"""``calolab material``: property table, catalogue list, JSON output, unknown names."""

from __future__ import annotations

import json
import sys

import pytest
from cli_runner import run

from calolab import cli
from calolab.errors import MaterialError
from calolab.physics.materials import list_materials


def test_table() -> None:
    code, output, _ = run("material", "PWO")
    assert code == 0, output
    assert "PbWO4" in output
    # PDG lead_tungstate: X0 = 0.8903 cm, 7.39 g/cm2; I = 600.7 eV
    assert "0.8903" in output and "7.389" in output and "600.7" in output
    for unit in ("g/cm3", "cm", "g/cm2", "MeV", "eV"):
        assert unit in output
    assert "Pb 0.4553" in output


def test_json() -> None:
    code, output, _ = run("material", "lar", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["name"] == "LAr" and data["state"] == "liquid"
    assert data["density_g_cm3"] == 1.396  # PDG liquid_argon
    assert data["radiation_length_cm"] == pytest.approx(14.00, rel=0.003)  # PDG: 14.00 cm
    assert data["moliere_radius_cm"] == pytest.approx(9.043, rel=0.03)  # PDG: 9.043 cm
    assert data["composition"] == {"Ar": 1.0}


def test_list() -> None:
    code, output, _ = run("material", "--list")
    assert code == 0, output
    for name in ("PbWO4", "CsI", "polystyrene", "LAr", "vacuum"):
        assert name in output
    code, output, _ = run("material", "--list", "--json")
    assert code == 0 and list(json.loads(output)) == list_materials()


def test_unknown_material_raises() -> None:
    code, _, error = run("material", "PbW04")
    assert code != 0 and isinstance(error, MaterialError)
    assert "'PbWO4'" in str(error)


def test_unknown_material_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["calolab", "material", "PbW04"])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown material 'PbW04'" in err and "PbWO4" in err


def test_missing_name() -> None:
    code, output, _ = run("material")
    assert code == 2 and "--list" in output
