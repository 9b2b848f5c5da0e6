"""Detector geometry: sections of layered slabs and transverse cell grids, presets and TOML configs.

>>> from calolab.detector import load_detector, list_presets
>>> "clic" in list_presets()
True
"""

from __future__ import annotations

from calolab.detector.config import CalorimeterConfig, GapConfig, LayerConfig, SectionConfig, SlabConfig
from calolab.detector.geometry import (
    Calorimeter,
    Layer,
    Section,
    Slab,
    homogeneous_block,
    list_presets,
    load_detector,
)

__all__ = [
    "Calorimeter",
    "CalorimeterConfig",
    "GapConfig",
    "Layer",
    "LayerConfig",
    "Section",
    "SectionConfig",
    "Slab",
    "SlabConfig",
    "homogeneous_block",
    "list_presets",
    "load_detector",
]
