"""calolab evaluate: plots and figures.json for several models, the comparison table, clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from cli_runner import run
from synthetic_predictions import synthetic, synthetic_overlap

from calolab import cli
from calolab.errors import ConfigError, DatasetError
from calolab.reco.predictions import write_predictions

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("predictions")
    models = {"cnn": synthetic("cnn", seed=1, n=4_000, abc=(0.10, 0.3, 0.005), separation=3.0),
              "linear": synthetic("linear", seed=2, n=4_000, abc=(0.20, 0.5, 0.02), separation=None,
                                  position_sigma_mm=None),
              "pairnet": synthetic_overlap("pairnet", seed=3, n=1_000)}
    return {name: write_predictions(folder / f"{name}.h5", p) for name, p in models.items()}


def test_evaluate_writes_plots_json_and_table(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "eval" / "run1"  # created, parents too
    code, output, error = run("evaluate", str(files["cnn"]), str(files["linear"]), str(files["pairnet"]),
                              "-o", str(out), "--signal", "22", "--background", "111",
                              "--bins", "7,15,30,70,150,300,700GeV", "--cell-size", "22mm")
    assert code == 0, (output, error)
    for name in ("resolution", "bias", "roc", "accuracy_energy", "accuracy_eta", "position_energy",
                 "position_cell", "overlap_position", "overlap_energy"):
        assert (out / f"{name}.png").read_bytes()[:8] == PNG_MAGIC, name
    figures = json.loads((out / "figures.json").read_text())
    assert figures["energy_bins_mev"] == [7e3, 15e3, 30e3, 70e3, 150e3, 300e3, 700e3]
    assert figures["signal"] == 22 and figures["background"] == [111]
    cnn, linear = figures["models"]["cnn"], figures["models"]["linear"]
    assert cnn["energy"]["fit"]["a"] == pytest.approx(0.10, abs=4 * cnn["energy"]["fit"]["a_error"])
    assert linear["energy"]["fit"]["c"] == pytest.approx(0.02, abs=4 * linear["energy"]["fit"]["c_error"])
    assert cnn["classification"]["auc"] > 0.95 and cnn["position"]["cell_size_mm"] == 22.0
    assert figures["models"]["pairnet"]["overlap"]["photons"] == 2
    # the table: one row per model, a in %, rejection at the highest efficiency, "-" where not predicted
    assert "rejection @ 90%" in output and "AUC" in output
    rows = {line.split("│")[1].strip(): line for line in output.splitlines() if line.count("│") > 5}
    assert set(rows) >= {"cnn", "linear", "pairnet"}
    fit = cnn["energy"]["fit"]
    assert rows["cnn"].split("│")[3].strip() == f"{100 * fit['a']:.3g} ± {100 * fit['a_error']:.2g}"  # a in %
    assert rows["linear"].split("│")[6].strip() == "-"  # no AUC for the energy-only model
    assert str(out / "figures.json") in output


def test_same_model_names_are_told_apart(tmp_path: Path, files: dict[str, Path]) -> None:
    other = write_predictions(tmp_path / "cnn-v2.h5", synthetic("cnn", seed=5, n=2_000))
    code, output, error = run("evaluate", str(files["cnn"]), str(other), "-o", str(tmp_path / "out"))
    assert code == 0, (output, error)
    models = json.loads((tmp_path / "out" / "figures.json").read_text())["models"]
    assert set(models) == {"cnn (cnn)", "cnn (cnn-v2)"}


def test_a_signal_the_model_lacks_is_a_note(tmp_path: Path, files: dict[str, Path]) -> None:
    code, output, _ = run("evaluate", str(files["cnn"]), "-o", str(tmp_path), "--signal", "11")
    assert code == 0
    assert "particle ID skipped" in output and "not a class" in output
    assert not (tmp_path / "roc.png").exists() and (tmp_path / "resolution.png").exists()


def test_foreign_and_missing_files_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "showers.h5"
    with h5py.File(foreign, "w") as f:
        f["sections/ECAL/energy"] = np.zeros((2, 3, 3, 3))
    code, _, error = run("evaluate", str(foreign), "-o", str(tmp_path / "out"))
    assert code != 0 and isinstance(error, DatasetError) and "not a calolab predictions file" in str(error)
    (tmp_path / "text.h5").write_text("not hdf5")
    monkeypatch.setattr(sys, "argv", ["calolab", "evaluate", str(tmp_path / "text.h5"), "-o", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 2
    assert "cannot read" in capsys.readouterr().err
    code, _, error = run("evaluate", str(tmp_path / "missing.h5"), "-o", str(tmp_path / "out"))
    assert isinstance(error, DatasetError) and "does not exist" in str(error)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("option", "value", "fragment"), [
    ("--bins", "100,50GeV", "increasing"),
    ("--background", "pi0", "comma-separated int"),
    ("--efficiency", "1.5", "(0, 1]"),
])
def test_bad_options_are_config_errors(tmp_path: Path, files: dict[str, Path], option: str, value: str,
                                       fragment: str) -> None:
    code, _, error = run("evaluate", str(files["cnn"]), "-o", str(tmp_path / "out"), option, value)
    assert code != 0 and isinstance(error, ConfigError) and fragment in str(error)
    assert not (tmp_path / "out").exists()
