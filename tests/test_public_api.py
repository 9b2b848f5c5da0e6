"""The public API: the names ``calolab`` exports are pinned, so removing one is a conscious change."""

from __future__ import annotations

import subprocess
import sys

import pytest

import calolab

PUBLIC_API = [
    "CalolabError",
    "Calorimeter",
    "Campaign",
    "ConfigError",
    "DatasetError",
    "Deposits",
    "Gun",
    "GunConfig",
    "Material",
    "MaterialError",
    "Predictions",
    "Primaries",
    "Readout",
    "ResolutionFit",
    "ShowerFile",
    "ShowerFileWriter",
    "SimulationError",
    "WindowSpec",
    "__version__",
    "calibrate_sampling_fraction",
    "compute_features",
    "evaluate_models",
    "extract_windows",
    "fit_resolution",
    "generate",
    "get_engine",
    "get_material",
    "homogeneous_block",
    "list_materials",
    "list_presets",
    "load_detector",
    "make_gun",
    "open_dataset",
    "plot_event",
    "read_calochallenge",
    "read_lcd",
    "read_predictions",
    "register_engine",
    "run_validation",
    "simulate",
    "write_calochallenge",
    "write_lcd",
    "write_predictions",
    "write_showers",
]


def test_public_api_is_pinned() -> None:
    assert sorted(calolab.__all__) == PUBLIC_API
    assert dir(calolab) == PUBLIC_API


@pytest.mark.parametrize("name", [n for n in PUBLIC_API if n != "__version__"])
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(calolab, name)
    assert value.__name__ == name


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'simulat'"):
        calolab.simulat  # noqa: B018


def test_import_is_light() -> None:
    # importing calolab must not pull in numba, h5py or matplotlib (the CLI starts fast)
    code = "import sys, calolab; print(sorted(m for m in ('numba', 'h5py', 'matplotlib') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
