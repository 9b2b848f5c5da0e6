"""Performance plots: each panel draws what it is given, and write_evaluation_plots writes valid PNGs."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_predictions import ENERGIES_GEV, synthetic, synthetic_overlap

from calolab.errors import ConfigError
from calolab.evaluate import evaluate_models
from calolab.performance_plots import (
    plot_accuracy,
    plot_bias,
    plot_overlap,
    plot_position,
    plot_resolution,
    plot_roc,
    write_evaluation_plots,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def evaluation():
    models = [synthetic("cnn", seed=1, n=6_000, abc=(0.10, 0.3, 0.005), separation=3.0),
              synthetic("bdt", seed=2, n=6_000, abc=(0.20, 0.5, 0.01), separation=1.5, position_sigma_mm=(3.0, 3.0)),
              synthetic_overlap("pairnet", seed=3, n=2_000)]
    return evaluate_models(models, cell_size_mm=22.0)


def test_resolution_and_bias_panels(evaluation) -> None:
    energy = [m.energy for m in evaluation.models if m.energy is not None]
    drawn = plot_resolution(energy)
    assert len(drawn.points) == 2 and len(drawn.curves) == 2
    assert drawn.ax.get_xscale() == "log"
    x, y = drawn.points[0].lines[0].get_data()
    np.testing.assert_allclose(x, ENERGIES_GEV)
    np.testing.assert_allclose(y, 100 * energy[0].resolution)
    np.testing.assert_allclose(drawn.curves[1].get_ydata(), 100 * energy[1].fit(drawn.curves[1].get_xdata()))
    labels = drawn.ax.get_legend_handles_labels()[1]
    assert labels[0].startswith("cnn: a = ") and "GeV" in labels[0]
    bias = plot_bias(energy)
    np.testing.assert_allclose(bias.points[1].lines[0].get_ydata(), 100 * energy[1].bias)


def test_roc_and_accuracy_panels(evaluation) -> None:
    pid = [m.classification for m in evaluation.models if m.classification is not None]
    roc = plot_roc(pid)
    assert len(roc.lines) == 2 and roc.ax.get_yscale() == "log"
    assert roc.ax.get_title() == "gamma vs pi0"
    x, y = roc.lines[0].get_data()
    assert np.all((x > 0) & (x <= 1)) and np.all(np.isfinite(y)) and np.all(y >= 1)
    assert "AUC = " in roc.lines[0].get_label()
    # the better-separated model rejects more background at 90% signal efficiency
    at_90 = [np.interp(0.9, line.get_xdata(), line.get_ydata()) for line in roc.lines]
    assert at_90[0] > 2 * at_90[1]
    accuracy = plot_accuracy(pid, variable="eta")
    assert len(accuracy.points) == 2
    np.testing.assert_allclose(accuracy.points[0].lines[0].get_ydata(), 100 * pid[0].accuracy_vs_eta.value)
    with pytest.raises(ConfigError):
        plot_accuracy(pid, variable="phi")


def test_position_and_overlap_panels(evaluation) -> None:
    position = [m.position for m in evaluation.models if m.position is not None]
    drawn = plot_position(position)
    assert len(drawn.points_x) == len(drawn.points_y) == 2
    np.testing.assert_allclose(drawn.points_y[1].lines[0].get_ydata(), position[1].vs_energy.sigma_y)
    cell = plot_position(position, variable="cell", quantity="bias")
    assert cell.points_x[0].lines[0].get_xdata().max() < 11.0
    overlap = [m.overlap for m in evaluation.models if m.overlap is not None]
    drawn_overlap = plot_overlap(overlap, quantity="energy")
    np.testing.assert_allclose(drawn_overlap.points[0].lines[0].get_ydata(),
                               100 * overlap[0].vs_separation.energy_resolution)
    with pytest.raises(ConfigError):
        plot_position(position, quantity="rms")


def test_write_evaluation_plots(tmp_path, evaluation) -> None:
    paths = write_evaluation_plots(evaluation, tmp_path)
    assert set(paths) == {"resolution", "bias", "roc", "accuracy_energy", "accuracy_eta", "position_energy",
                          "position_cell", "position_scurve", "overlap_position", "overlap_energy"}
    for path in paths.values():
        assert path.parent == tmp_path and path.read_bytes()[:8] == PNG_MAGIC
        assert path.stat().st_size > 10_000
    assert not list(tmp_path.glob(".*partial"))
    (tmp_path / "cms").mkdir()
    energy_only = evaluate_models([synthetic("only", seed=4, n=2_000, separation=None, position_sigma_mm=None)])
    styled = write_evaluation_plots(energy_only, tmp_path / "cms", style="CMS")
    assert set(styled) == {"resolution", "bias"} and styled["bias"].read_bytes()[:8] == PNG_MAGIC
