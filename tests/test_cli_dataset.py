"""``calolab inspect`` and ``calolab show`` on a small seeded shower file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from cli_runner import run

from calolab.data.showerfile import write_showers
from calolab.detector import load_detector
from calolab.errors import DatasetError
from calolab.sim.events import Deposits, Primaries


@pytest.fixture
def showers(tmp_path: Path) -> tuple[Path, Deposits]:
    rng = np.random.default_rng(7)
    n = 6
    active = rng.exponential(0.5, (n, 30, 18, 18)).astype(np.float32)
    active[:, :, 8:10, 8:10] += np.linspace(1.0, 30.0, 30, dtype=np.float32)[None, :, None, None]
    deposits = Deposits(Primaries.single(np.full(n, 11), np.full(n, 10_000.0)), {"ECAL": active},
                        {"ECAL": 20 * active}, rng.uniform(0, 40, (n, 3)), engine="mc", engine_version="0.1")
    path = write_showers(tmp_path / "electrons.h5", deposits, load_detector("calice-siw"),
                         gun={"particle": "e-", "energy": "10GeV"}, seed=123)
    return path, deposits


def test_inspect_table(showers) -> None:
    path, deposits = showers
    code, output, _ = run("inspect", str(path))
    assert code == 0, output
    for text in (str(path), "calice-siw", "mc 0.1", "123", '"particle": "e-"', "18 x 18", "10 x 10",
                 "ECAL: mean energy per layer (MeV)", f"numpy {np.__version__}"):
        assert text in output
    assert re.search(r"^events +6 *$", output, re.MULTILINE)
    means = deposits.active["ECAL"].sum(axis=(2, 3), dtype=np.float64).mean(axis=0)
    assert f"{means[29]:.4g}" in output
    total = deposits.total_active()
    assert f"mean {total.mean():.4g} MeV, std {total.std():.4g} MeV" in output


def test_inspect_json(showers) -> None:
    path, deposits = showers
    code, output, _ = run("inspect", str(path), "--json")
    assert code == 0, output
    summary = json.loads(output)
    assert summary["n_events"] == 6 and summary["detector"] == "calice-siw" and summary["seed"] == 123
    assert summary["gun"] == {"particle": "e-", "energy": "10GeV"}
    ecal = summary["sections"]["ECAL"]
    assert ecal["shape"] == [30, 18, 18] and ecal["cell_size"] == [10.0, 10.0]
    want = deposits.active["ECAL"].sum(axis=(2, 3), dtype=np.float64).mean(axis=0)
    np.testing.assert_allclose(ecal["layer_means"], want, rtol=1e-10)
    leakage = list(summary["totals"]["leakage_mean"].values())
    np.testing.assert_allclose(leakage, deposits.leakage.mean(axis=0), rtol=1e-6)


def test_inspect_refuses_foreign_file(tmp_path) -> None:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    code, _, error = run("inspect", str(path))
    assert code != 0 and isinstance(error, DatasetError) and "not a calolab shower file" in str(error)


def test_show_writes_png(showers, tmp_path) -> None:
    path, _ = showers
    code, output, _ = run("show", str(path), "--event", "2")
    expected = tmp_path / "electrons_event2.png"
    assert code == 0, output
    assert output.strip() == str(expected)
    assert expected.stat().st_size > 30_000
    out = tmp_path / "ev.png"
    code, output, _ = run("show", str(path), "-e", "5", "-o", str(out))
    assert code == 0 and output.strip() == str(out) and out.read_bytes()[:4] == b"\x89PNG"


def test_show_bad_event_and_folder(showers, tmp_path) -> None:
    path, _ = showers
    code, output, _ = run("show", str(path), "--event", "6")
    assert code == 2
    assert "event 6 is out of range" in output and "choose --event from 0 to 5" in output
    code, _, error = run("show", str(path), "-o", str(tmp_path / "missing" / "ev.png"))
    assert isinstance(error, DatasetError) and "does not exist: create it" in str(error)
    assert not list(tmp_path.glob("*.png"))
