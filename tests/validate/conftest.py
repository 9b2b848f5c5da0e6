"""Small shower files for the validation tests: a reference, an independent sample of the same
configuration, and two known distortions of it (energy scale +5%, every layer shifted one deeper)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from validate_helpers import block, tiny

import calolab


def _write(path: Path, deposits: calolab.Deposits, detector: calolab.Calorimeter) -> Path:
    calolab.write_showers(path, deposits, detector)
    return path


@pytest.fixture(scope="session")
def shower_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """600 e- of 1 GeV per file: reference (seed 1), same (seed 2), scale (seed 2, cells x 1.05), shift."""
    folder = tmp_path_factory.mktemp("showers")
    detector = block()
    reference = calolab.simulate(detector, n=600, particle="e-", energy="1GeV", seed=1)
    other = calolab.simulate(detector, n=600, particle="e-", energy="1GeV", seed=2)
    files = {"reference": _write(folder / "reference.h5", reference, detector),
             "same": _write(folder / "same.h5", other, detector)}
    cells = other.active["block"]
    other.active["block"] = cells * np.float32(1.05)
    files["scale"] = _write(folder / "scale.h5", other, detector)
    shifted = np.zeros_like(cells)
    shifted[:, 1:] = cells[:, :-1]  # every layer one deeper; the last layer's energy is lost
    other.active["block"] = shifted
    files["shift"] = _write(folder / "shift.h5", other, detector)
    return files


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """200 e- of 1 GeV in the tiny detector: reference (seed 1) and candidate (seed 2)."""
    folder = tmp_path_factory.mktemp("tiny")
    detector = tiny()
    return {name: _write(folder / f"{name}.h5",
                         calolab.simulate(detector, n=200, particle="e-", energy="1GeV", seed=seed), detector)
            for name, seed in (("reference", 1), ("candidate", 2))}
