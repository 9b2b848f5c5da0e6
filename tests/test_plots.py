"""Event display and its panels: PNG written, panels laid out, many layers grouped, bad input refused."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from calolab.detector import homogeneous_block, load_detector
from calolab.errors import ConfigError
from calolab.plots import (
    group_layers,
    particle_name,
    plot_event,
    plot_layer_image,
    plot_longitudinal_profile,
)
from calolab.sim.events import Deposits, Primaries


def shower_like(shape: tuple[int, int, int], n: int, seed: int) -> np.ndarray:
    """Seeded gamma-like longitudinal x Gaussian transverse profile with Poisson-ish fluctuations, MeV."""
    rng = np.random.default_rng(seed)
    layers, ny, nx = shape
    t = np.arange(layers, dtype=float)[:, None, None] + 0.5
    y = np.arange(ny)[None, :, None] - (ny - 1) / 2
    x = np.arange(nx)[None, None, :] - (nx - 1) / 2
    mean = 50.0 * t**2 * np.exp(-t / 3.0) * np.exp(-(x**2 + y**2) / 4.0)
    return rng.gamma(2.0, mean[None] / 2.0 + 1e-12, (n, *shape)).astype(np.float32)


def test_event_display_png(tmp_path) -> None:
    detector = load_detector("calice-siw")
    active = shower_like((30, 18, 18), 3, seed=1)
    deposits = Deposits(Primaries.single([11, 11, 22], [10_000.0, 20_000.0, 5_000.0]), {"ECAL": active},
                        {"ECAL": 10 * active}, np.zeros((3, 3)))
    display = plot_event(deposits, detector, event=1, path=tmp_path / "event.png")
    assert display.path == tmp_path / "event.png"
    assert display.path.stat().st_size > 50_000  # 30 coloured maps + profiles, not a blank canvas
    assert display.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(display.layer_axes["ECAL"]) == 30
    assert display.layer_axes["ECAL"][4].get_title() == "layer 4"
    title = display.figure.get_suptitle()
    assert "event 1: e- 20 GeV" in title and "calice-siw" in title
    by_layer, by_depth = display.profile_axes
    np.testing.assert_allclose(by_layer.lines[0].get_ydata(), active[1].sum(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(by_depth.lines[0].get_xdata(), detector.sections[0].layer_z_centres())


def test_many_layers_are_grouped(tmp_path) -> None:
    block = homogeneous_block("PbWO4", 25.0, 5.0, layers=45, cells=6)
    cells = shower_like((45, 6, 6), 1, seed=2)[0]
    display = plot_event({"block": cells}, block, path=tmp_path / "grouped.png")
    axes = display.layer_axes["block"]
    assert len(axes) == 23 and axes[0].get_title() == "layers 0-1" and axes[-1].get_title() == "layer 44"
    assert "2 neighbouring layers summed per panel" in display.figure.subfigs[1].get_suptitle()
    np.testing.assert_allclose(axes[3].images[0].get_array().sum(), cells[6:8].sum(), rtol=1e-5)


def test_group_layers() -> None:
    cells = np.arange(7 * 2 * 2, dtype=float).reshape(7, 2, 2)
    same, size = group_layers(cells, max_panels=10)
    assert size == 1 and same is cells
    grouped, size = group_layers(cells, max_panels=3)
    assert size == 3 and grouped.shape == (3, 2, 2)
    np.testing.assert_array_equal(grouped[2], cells[6])
    np.testing.assert_array_equal(grouped.sum(axis=0), cells.sum(axis=0))


def test_panels_draw_on_given_axes_and_return_artists() -> None:
    ax = Figure().add_subplot()
    profile = plot_longitudinal_profile(np.array([0.0, 5.0, 3.0, 1.0]), ax, label="ECAL")
    assert profile.ax is ax and list(profile.line.get_ydata()) == [0.0, 5.0, 3.0, 1.0]
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] > 5.0
    image = plot_layer_image(np.array([[0.0, 1.0], [10.0, 100.0]]))
    assert isinstance(image.image.norm, LogNorm) and image.image.norm.vmax == 100.0
    assert image.image.get_array().mask[0, 0]  # empty cells are blank, not the lowest colour
    with pytest.raises(ConfigError, match="must be 2-d"):
        plot_layer_image(np.zeros(3))


def test_bad_input() -> None:
    detector = load_detector("calice-siw")
    with pytest.raises(ConfigError, match="event 5 is out of range: 'ECAL' has 2 events"):
        plot_event({"ECAL": np.zeros((2, 30, 18, 18))}, detector, event=5)
    with pytest.raises(ConfigError, match=r"shape \(30, 18, 17\) but the detector has \(30, 18, 18\)"):
        plot_event({"ECAL": np.zeros((30, 18, 17))}, detector)
    assert particle_name(-11) == "e+" and particle_name(999) == "pdg 999"
