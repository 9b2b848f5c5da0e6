"""``calolab generate`` and ``calolab simulate --engine model:PATH`` end to end."""

from __future__ import annotations

import numpy as np
from tests.cli_runner import run

from calolab.data.showerfile import ShowerFile


def test_simulate_with_a_model_engine(trained_models, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "f.h5"
    code, output, error = run("simulate", "-d", "pisa-csi", "-E", "3GeV", "--engine", f"model:{trained_models['gan']}",
                              "-n", "5", "-o", str(out), "--seed", "2", "-q")
    assert code == 0, (output, error)
    with ShowerFile(out) as showers:
        assert len(showers) == 5 and showers.metadata["engine"] == "model:tiny-gan"
        cells = showers.energy("ECAL")
    assert cells.shape == (5, 12, 25, 25) and bool((cells >= 0).all()) and cells.sum() > 0


def test_generate_command_writes_a_shower_file(trained_models, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "gen.h5"
    code, output, error = run("generate", "--model", str(trained_models["flow"]), "-p", "e-", "-E", "2.5-4.5GeV",
                              "-n", "7", "-o", str(out), "--seed", "4")
    assert code == 0, (output, error)
    assert str(out) in output
    with ShowerFile(out) as showers:
        assert len(showers) == 7 and showers.metadata["seed"] == 4
        energy = showers.primaries().energy
        assert showers.energy("ECAL").shape == (7, 12, 25, 25)
    assert bool(((energy >= 2.5e3) & (energy <= 4.5e3)).all())
    again = tmp_path / "again.h5"
    assert run("generate", "--model", str(trained_models["flow"]), "-E", "2.5-4.5GeV", "-n", "7", "-o", str(again),
               "--seed", "4")[0] == 0
    with ShowerFile(out) as a, ShowerFile(again) as b:
        assert np.array_equal(a.energy("ECAL"), b.energy("ECAL"))


def test_generate_refuses_a_particle_it_was_not_trained_on(trained_models, tmp_path) -> None:  # noqa: ANN001
    code, output, error = run("generate", "--model", str(trained_models["flow"]), "-p", "pi-", "-n", "2",
                              "-o", str(tmp_path / "x.h5"), "-E", "3GeV")
    assert code != 0 and not (tmp_path / "x.h5").exists()
    assert "trained on e- (11) only; got pi- (-211)" in str(error)
