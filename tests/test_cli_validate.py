"""calolab validate: the report folder (index.html, figures.json, PNGs), the summary table, clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from cli_runner import run

import calolab
from calolab import cli
from calolab.detector.geometry import homogeneous_block
from calolab.errors import ConfigError, DatasetError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("showers")
    detector = homogeneous_block("CsI", 25.0, 5.0, layers=3, cells=5)
    return {name: calolab.write_showers(folder / f"{name}.h5",
                                        calolab.simulate(detector, n=150, particle="e-", energy="1GeV", seed=seed),
                                        detector)
            for name, seed in (("reference", 1), ("candidate", 2))}


def test_validate_writes_the_report_and_prints_a_summary(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "report" / "run1"  # created, parents too
    code, output, error = run("validate", "--reference", str(files["reference"]), "--candidate",
                              str(files["candidate"]), "-o", str(out), "--max-events", "120", "--bins", "12",
                              "--epochs", "3", "--no-low-level", "--seed", "5")
    assert code == 0, (output, error)
    assert (out / "index.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    figures = json.loads((out / "figures.json").read_text())
    assert figures["n_reference"] == figures["n_candidate"] == 120
    assert figures["config"]["seed"] == 5 and figures["config"]["bins"] == 12
    assert set(figures["classifiers"]) == {"high-level"} and figures["classifiers"]["high-level"]["seed"] == 5
    assert figures["classifiers"]["high-level"]["epochs"] <= 3
    assert len(figures["histograms"]["all/block/energy_ratio"]["reference"]) <= 12
    assert (out / "all_block_energy_ratio.png").read_bytes()[:8] == PNG_MAGIC
    assert (out / "classifier_high-level.png").read_bytes()[:8] == PNG_MAGIC
    assert len(list(out.glob("*.png"))) > 20
    # the table: worst-separated observables with S, the statistical floor, chi2/ndf; then AUC, FPD, KPD
    assert "worst separated" in output and "energy_ratio" in output and "chi2/ndf" in output
    assert "classifier high-level: AUC = " in output and "seed 5" in output
    assert "FPD = " in output and "KPD = " in output
    assert str(out / "index.html") in output


def test_missing_and_foreign_files_exit_2(tmp_path: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "calochallenge.h5"
    with h5py.File(foreign, "w") as f:
        f["showers"] = np.zeros((2, 10), np.float32)
        f["incident_energies"] = np.ones((2, 1), np.float32)
    monkeypatch.setattr(sys, "argv", ["calolab", "validate", "--reference", str(files["reference"]),
                                      "--candidate", str(foreign), "-o", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 2
    message = capsys.readouterr().err
    assert "candidate file" in message and "not a calolab shower file" in message
    assert not (tmp_path / "out").exists()
    code, _, error = run("validate", "--reference", str(tmp_path / "missing.h5"), "--candidate",
                         str(files["candidate"]), "-o", str(tmp_path / "out"))
    assert code != 0 and isinstance(error, DatasetError) and "--reference" in str(error)
    assert "does not exist" in str(error)


def test_other_detector_and_bad_options(tmp_path: Path, files: dict[str, Path]) -> None:
    detector = homogeneous_block("CsI", 25.0, 5.0, layers=4, cells=5)
    other = calolab.write_showers(tmp_path / "other.h5", calolab.simulate(detector, n=5, energy="1GeV", seed=1),
                                  detector)
    code, _, error = run("validate", "-r", str(files["reference"]), "-c", str(other), "-o", str(tmp_path / "o"))
    assert isinstance(error, DatasetError) and "different detectors" in str(error)
    (tmp_path / "file").write_text("")
    code, _, error = run("validate", "-r", str(files["reference"]), "-c", str(files["candidate"]), "-o",
                         str(tmp_path / "file"))
    assert isinstance(error, ConfigError) and "is a file" in str(error)
    code, _, error = run("validate", "-r", str(files["reference"]), "-c", str(files["candidate"]), "-o",
                         str(tmp_path / "o"), "--signal", "adc")
    assert isinstance(error, ConfigError) and "--signal 'adc'" in str(error)
    code, _, error = run("validate", "-r", str(files["reference"]), "-c", str(files["candidate"]), "-o",
                         str(tmp_path / "o"), "--threshold", "fast")
    assert isinstance(error, ConfigError) and code != 0


def test_validate_with_a_closure_model(tmp_path: Path, files: dict[str, Path]) -> None:
    code, output, error = run("train", "reco", "--data", str(files["reference"]), "--model", "dnn", "--task",
                              "energy", "--epochs", "2", "--energy-target", "ratio", "-o", str(tmp_path / "dnn"),
                              "--max-minutes", "1", "-q")
    assert code == 0, (output, error)
    code, output, error = run("validate", "--reference", str(files["reference"]), "--candidate",
                              str(files["candidate"]), "-o", str(tmp_path / "report"), "--no-classifier",
                              "--closure-model", str(tmp_path / "dnn"))
    assert code == 0, (output, error)
    assert "closure dnn energy_response" in output
    figures = json.loads((tmp_path / "report" / "figures.json").read_text())
    assert figures["closure"]["task"] == "energy"
    assert "closure/dnn/energy_response" in figures["histograms"]
    assert "energy_response" in (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
