"""Bad detector configs are refused with a message naming the file, the field path and the value."""

from __future__ import annotations

import re

import pytest

from calolab.detector import Calorimeter, load_detector
from calolab.errors import ConfigError

GOOD = """
name = "good"
[[sections]]
name = "ECAL"
cells = [18, 18]
cell_size = [10.0, 10.0]
  [[sections.layers]]
  count = 10
  absorber = { material = "W", thickness = 1.4 }
  active = { material = "Si", thickness = 0.525 }
  [[sections.layers]]
  count = 10
  absorber = { material = "W", thickness = 2.8 }
  active = { material = "Si", thickness = 0.525 }
"""


def broken(old: str, new: str, count: int = 1) -> str:
    """GOOD with the ``count``-th occurrence of ``old`` replaced by ``new``."""
    head, *parts = GOOD.split(old)
    assert len(parts) >= count, f"{old!r} occurs fewer than {count} times"
    before = old.join([head, *parts[: count - 1]])
    after = old.join(parts[count - 1 :])
    return before + new + after


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        Calorimeter.from_toml(text)
    return str(info.value)


def test_good_config_loads() -> None:
    assert Calorimeter.from_toml(GOOD).section("ECAL").n_layers == 20


def test_negative_thickness() -> None:
    message = error_of(broken("thickness = 2.8", "thickness = -2.4"))
    assert message == "sections[0].layers[1].absorber.thickness: must be > 0 mm, got -2.4"


def test_unknown_material() -> None:
    message = error_of(broken('material = "W"', 'material = "Tungstin"', count=2))
    assert message.startswith("sections[0].layers[1].absorber.material: unknown material 'Tungstin'")


def test_zero_cells() -> None:
    message = error_of(broken("cells = [18, 18]", "cells = [18, 0]"))
    assert message == "sections[0].cells[1]: must be >= 1, got 0"


def test_zero_cell_size() -> None:
    message = error_of(broken("cell_size = [10.0, 10.0]", "cell_size = [0.0, 10.0]"))
    assert message == "sections[0].cell_size[0]: must be > 0 mm, got 0"


def test_missing_active() -> None:
    message = error_of(broken('  active = { material = "Si", thickness = 0.525 }\n', "", count=2))
    assert message.startswith("sections[0].layers[1].active: missing `active`")


def test_duplicate_section_names() -> None:
    text = GOOD + GOOD[GOOD.index("[[sections]]") :]
    message = error_of(text)
    assert "sections[1].name: duplicate section name 'ECAL'" in message
    assert "sections[0]" in message


def test_unknown_field_is_named() -> None:
    message = error_of(broken("count = 10", "cont = 10"))
    assert "sections[0].layers[0].cont: unknown field 'cont'" in message


def test_several_problems_listed() -> None:
    text = broken("cells = [18, 18]", "cells = [0, 18]").replace("thickness = 2.8", "thickness = -1")
    message = error_of(text)
    assert message.startswith("2 problems in the detector config:")
    assert "sections[0].cells[0]: must be >= 1, got 0" in message
    assert "sections[0].layers[1].absorber.thickness: must be > 0 mm, got -1" in message


def test_slabs_form_needs_an_active_slab() -> None:
    shorthand = (
        'absorber = { material = "W", thickness = 1.4 }\n  active = { material = "Si", thickness = 0.525 }'
    )
    message = error_of(broken(shorthand, 'slabs = [{ material = "W", thickness = 1.4 }]'))
    assert message.startswith("sections[0].layers[0].slabs: no slab is active")


def test_slabs_and_shorthand_exclusive() -> None:
    layer = 'count = 10\n  slabs = [{ material = "Si", thickness = 0.5, active = true }]'
    message = error_of(broken("count = 10", layer))
    assert message.startswith("sections[0].layers[0].absorber: give either `slabs` or `absorber`/`active`")


def test_gap_in_front_of_first_section_refused() -> None:
    message = error_of(
        broken("cell_size = [10.0, 10.0]", "cell_size = [10.0, 10.0]\ngap_before = { thickness = 5.0 }")
    )
    assert message.startswith("sections[0].gap_before: ")


def test_missing_required_field() -> None:
    message = error_of(GOOD.replace('name = "good"\n', ""))
    assert message == "name: missing required field"


def test_file_name_in_validation_error(tmp_path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(broken("thickness = 2.8", "thickness = -2.4"))
    with pytest.raises(ConfigError) as info:
        load_detector(path)
    assert str(info.value) == f"{path}: sections[0].layers[1].absorber.thickness: must be > 0 mm, got -2.4"


def test_toml_syntax_error_names_file(tmp_path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text(GOOD.replace("cells = [18, 18]", "cells = [18, 18"))
    with pytest.raises(ConfigError, match=re.escape(str(path)) + ": invalid TOML: .*line"):
        load_detector(str(path))


def test_missing_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_detector(tmp_path / "nothere.toml")


def test_unknown_preset_lists_presets() -> None:
    with pytest.raises(ConfigError) as info:
        load_detector("clik")
    message = str(info.value)
    assert "unknown detector preset 'clik'" in message
    assert "did you mean 'clic'" in message
    for name in ("atlas-like", "calice-siw", "cms", "compass-shashlik"):
        assert repr(name) in message
