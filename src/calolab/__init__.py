"""calolab: calorimeter physics and machine learning for high-energy physics.

Energies are in MeV and lengths in mm throughout the library (see :mod:`calolab.units`).

The public API, importable from ``calolab`` directly (loaded on first use, so
``import calolab`` stays quick)::

    import calolab
    showers = calolab.simulate("cms", particle="e-", energy="10-100GeV", n=100, seed=1)
    calolab.get_material("PbWO4").moliere_radius   # mm
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # materials and detectors
    "Material": "calolab.physics.materials",
    "get_material": "calolab.physics.materials",
    "list_materials": "calolab.physics.materials",
    "Calorimeter": "calolab.detector.geometry",
    "load_detector": "calolab.detector.geometry",
    "list_presets": "calolab.detector.geometry",
    "homogeneous_block": "calolab.detector.geometry",
    # simulation
    "GunConfig": "calolab.sim.gun",
    "Gun": "calolab.sim.gun",
    "make_gun": "calolab.sim.gun",
    "Campaign": "calolab.sim.campaign",
    "simulate": "calolab.sim.campaign",
    "Primaries": "calolab.sim.events",
    "Deposits": "calolab.sim.events",
    "get_engine": "calolab.sim.engine",
    "register_engine": "calolab.sim.engine",
    # generative fast simulation
    "generate": "calolab.gen.api",
    # datasets
    "ShowerFile": "calolab.data.showerfile",
    "ShowerFileWriter": "calolab.data.showerfile",
    "open_dataset": "calolab.data.showerfile",
    "write_showers": "calolab.data.showerfile",
    "extract_windows": "calolab.data.windows",
    "WindowSpec": "calolab.data.windows",
    "read_lcd": "calolab.data.formats.lcd",
    "write_lcd": "calolab.data.formats.lcd",
    "read_calochallenge": "calolab.data.formats.calochallenge",
    "write_calochallenge": "calolab.data.formats.calochallenge",
    # detector response
    "Readout": "calolab.detector.readout",
    "calibrate_sampling_fraction": "calolab.detector.readout",
    # reconstruction
    "compute_features": "calolab.features",
    "Predictions": "calolab.reco.predictions",
    "read_predictions": "calolab.reco.predictions",
    "write_predictions": "calolab.reco.predictions",
    # validation of generated showers
    "run_validation": "calolab.validate.suite",
    # evaluation and plots
    "evaluate_models": "calolab.evaluate.evaluation",
    "fit_resolution": "calolab.evaluate",
    "ResolutionFit": "calolab.evaluate",
    "plot_event": "calolab.plots",
    # errors
    "CalolabError": "calolab.errors",
    "ConfigError": "calolab.errors",
    "DatasetError": "calolab.errors",
    "MaterialError": "calolab.errors",
    "SimulationError": "calolab.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'calolab' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # static checkers and IDEs see the real names
    from calolab.data.formats.calochallenge import read_calochallenge, write_calochallenge
    from calolab.data.formats.lcd import read_lcd, write_lcd
    from calolab.data.showerfile import ShowerFile, ShowerFileWriter, open_dataset, write_showers
    from calolab.data.windows import WindowSpec, extract_windows
    from calolab.detector.geometry import Calorimeter, homogeneous_block, list_presets, load_detector
    from calolab.detector.readout import Readout, calibrate_sampling_fraction
    from calolab.errors import CalolabError, ConfigError, DatasetError, MaterialError, SimulationError
    from calolab.evaluate import ResolutionFit, fit_resolution
    from calolab.evaluate.evaluation import evaluate_models
    from calolab.features import compute_features
    from calolab.gen.api import generate
    from calolab.physics.materials import Material, get_material, list_materials
    from calolab.plots import plot_event
    from calolab.reco.predictions import Predictions, read_predictions, write_predictions
    from calolab.sim.campaign import Campaign, simulate
    from calolab.sim.engine import get_engine, register_engine
    from calolab.sim.events import Deposits, Primaries
    from calolab.sim.gun import Gun, GunConfig, make_gun
    from calolab.validate.suite import run_validation
