"""``calolab train gen``: a tiny flow trained from the command line samples through ``calolab generate``."""

from __future__ import annotations

import json

from tests.cli_runner import run

import calolab


def test_train_gen_then_generate(tmp_path) -> None:  # noqa: ANN001
    data = tmp_path / "csi.h5"
    calolab.write_showers(data, calolab.simulate("pisa-csi", n=48, particle="e-", energy="1-3GeV", seed=5,
                                                 progress=False), calolab.load_detector("pisa-csi"))
    tiny = json.dumps({"energy_blocks": 2, "energy_hidden": 16, "shape_couplings": 2, "shape_hidden": 16})
    run_dir = tmp_path / "flow"
    code, output, error = run("train", "gen", "--data", str(data), "--model", "flow", "--epochs", "1",
                              "--batch-size", "16", "--model-config", tiny, "-o", str(run_dir), "-q")
    assert code == 0, (output, error)
    assert (run_dir / "model.pt").is_file()
    code, output, error = run("train", "gen", "--data", str(data), "--init-from", str(run_dir), "--epochs", "1",
                              "--batch-size", "16", "-o", str(tmp_path / "more"), "-q")
    assert code == 0, (output, error)
    assert json.loads((tmp_path / "more" / "config.json").read_text())["init_from"] == str(run_dir)
    out = tmp_path / "gen.h5"
    code, output, error = run("generate", "--model", str(run_dir), "-E", "2GeV", "-n", "3", "-o", str(out),
                              "--seed", "1")
    assert code == 0, (output, error)
    with calolab.ShowerFile(out) as showers:
        assert len(showers) == 3


def test_train_gen_names_a_bad_model(tmp_path) -> None:  # noqa: ANN001
    code, output, error = run("train", "gen", "--data", str(tmp_path / "missing.h5"), "--model", "diffusion",
                              "-o", str(tmp_path / "run"))
    assert code != 0
    assert "unknown generative model 'diffusion'" in output + str(error)
    assert not (tmp_path / "run").exists()
