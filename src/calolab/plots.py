"""Figures: the event display and its panels (matplotlib, Agg; no pyplot state).

Plot functions that draw one panel take ``ax=None`` (a new figure is made when ``None``) and
return a small NamedTuple of what they drew; :func:`plot_event` composes them into a full
display of one event::

    >>> display = plot_event(deposits, detector, event=3, path="event3.png")  # doctest: +SKIP
    >>> display.figure                                                        # doctest: +SKIP

Energies are in MeV, lengths in mm.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D

from calolab.data.atomic import atomic_path
from calolab.errors import ConfigError
from calolab.sim.events import Deposits, Primaries
from calolab.units import format_energy

__all__ = [
    "EventDisplay",
    "LayerImage",
    "LongitudinalProfile",
    "group_layers",
    "particle_name",
    "plot_event",
    "plot_layer_image",
    "plot_longitudinal_profile",
]

#: Most layer panels drawn per section; beyond this neighbouring layers are summed.
MAX_LAYER_PANELS = 30
_PANEL_COLUMNS = 10
_COLORMAP = "viridis"

_PARTICLE_NAMES = {
    11: "e-", -11: "e+", 13: "mu-", -13: "mu+", 22: "gamma", 111: "pi0", 211: "pi+", -211: "pi-",
    130: "K0L", 310: "K0S", 321: "K+", -321: "K-", 2212: "p", -2212: "pbar", 2112: "n", -2112: "nbar",
    12: "nu_e", -12: "nu_e~", 14: "nu_mu", -14: "nu_mu~", 0: "geantino",
}


class LayerImage(NamedTuple):
    """What :func:`plot_layer_image` drew."""

    ax: Axes
    image: AxesImage


class LongitudinalProfile(NamedTuple):
    """What :func:`plot_longitudinal_profile` drew."""

    ax: Axes
    line: Line2D


class EventDisplay(NamedTuple):
    """What :func:`plot_event` drew.

    Attributes:
        figure: the figure.
        profile_axes: the longitudinal profiles, ``(vs layer, vs depth)``.
        layer_axes: section name -> the axes of its layer images, front to back.
        path: the PNG written, or ``None``.
    """

    figure: Figure
    profile_axes: tuple[Axes, Axes]
    layer_axes: dict[str, list[Axes]]
    path: Path | None


def particle_name(pdg: int) -> str:
    """A short name for a PDG code (``11 -> 'e-'``); unknown codes give ``'pdg <code>'``."""
    return _PARTICLE_NAMES.get(int(pdg), f"pdg {int(pdg)}")


def _new_axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=(5, 4), layout="constrained").add_subplot()


def plot_layer_image(
    image: np.ndarray,
    ax: Axes | None = None,
    *,
    extent: tuple[float, float, float, float] | None = None,
    norm: Normalize | None = None,
    cmap: str = _COLORMAP,
    title: str | None = None,
) -> LayerImage:
    """Draw the transverse energy map of one layer, log colour scale.

    Args:
        image: energy per cell, MeV, shape ``(y, x)``; empty cells are left blank.
        ax: axes to draw on; a new figure when ``None``.
        extent: ``(x_min, x_max, y_min, y_max)`` in mm; cell indices when ``None``.
        norm: colour normalisation (shared between panels); a log scale spanning four decades
            below the maximum when ``None``.
        cmap: matplotlib colormap name.
        title: panel title.
    """
    ax = _new_axes(ax)
    cells = np.asarray(image, dtype=float)
    if cells.ndim != 2:
        msg = f"a layer image must be 2-d (y, x), got shape {cells.shape}"
        raise ConfigError(msg)
    norm = norm if norm is not None else _log_norm(cells)
    drawn = ax.imshow(np.ma.masked_less_equal(cells, 0.0), origin="lower", extent=extent, norm=norm,
                      cmap=cmap, interpolation="nearest", aspect="equal")
    ax.set_facecolor("#f2f2f2")
    if title:
        ax.set_title(title, fontsize="small")
    return LayerImage(ax, drawn)


def plot_longitudinal_profile(
    energy_per_layer: np.ndarray,
    ax: Axes | None = None,
    *,
    x: np.ndarray | None = None,
    xlabel: str = "layer",
    label: str | None = None,
    **style: Any,
) -> LongitudinalProfile:
    """Draw energy per layer against layer index (or against ``x``, e.g. depth in mm).

    Args:
        energy_per_layer: MeV per layer, shape ``(layers,)``.
        ax: axes to draw on; a new figure when ``None``.
        x: abscissa per layer (default: the layer index).
        xlabel: label of the abscissa.
        label: legend label of the line.
        **style: passed on to :meth:`matplotlib.axes.Axes.plot`.
    """
    ax = _new_axes(ax)
    energy = np.asarray(energy_per_layer, dtype=float)
    if energy.ndim != 1:
        msg = f"energy_per_layer must be 1-d (layers,), got shape {energy.shape}"
        raise ConfigError(msg)
    abscissa = np.arange(energy.size) if x is None else np.asarray(x, dtype=float)
    options = {"marker": "o", "markersize": 3, "linewidth": 1.2, **style}
    (line,) = ax.plot(abscissa, energy, label=label, **options)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("energy per layer (MeV)")
    if abscissa.size:
        ax.update_datalim([(float(abscissa[0]), 0.0)])  # the energy axis starts at zero
    line.sticky_edges.y.append(0.0)  # and autoscale never pads below it
    ax.grid(alpha=0.3)
    return LongitudinalProfile(ax, line)


def group_layers(cells: np.ndarray, max_panels: int = MAX_LAYER_PANELS) -> tuple[np.ndarray, int]:
    """Sum neighbouring layers so that at most ``max_panels`` remain.

    Args:
        cells: ``(layers, y, x)``.
        max_panels: most groups wanted.

    Returns:
        the grouped ``(groups, y, x)`` array and the number of layers per group (the last
        group may hold fewer).
    """
    layers = cells.shape[0]
    size = max(1, math.ceil(layers / max_panels))
    if size == 1:
        return cells, 1
    starts = np.arange(0, layers, size)
    return np.add.reduceat(cells, starts, axis=0), size


def _log_norm(*arrays: np.ndarray) -> LogNorm:
    positive = np.concatenate([np.ravel(a)[np.ravel(a) > 0] for a in arrays]) if arrays else np.zeros(0)
    if positive.size == 0:
        return LogNorm(vmin=1e-3, vmax=1.0)
    vmax = float(positive.max())
    vmin = max(float(positive.min()), vmax * 1e-4)
    return LogNorm(vmin=min(vmin, vmax / 10), vmax=vmax)


def _event_cells(data: Any, event: int) -> tuple[dict[str, np.ndarray], Primaries | None, np.ndarray | None]:
    """Per-section ``(layers, y, x)`` arrays, primaries and leakage of one event."""
    if isinstance(data, Deposits) or hasattr(data, "read"):
        n = len(data)
        if not -n <= event < n:
            msg = f"event {event} is out of range: there are {n} events (0 to {n - 1})"
            raise ConfigError(msg)
        deposits = data.select(np.array([event])) if isinstance(data, Deposits) else data.read([event])
        cells = {name: np.asarray(array[0], dtype=float) for name, array in deposits.active.items()}
        return cells, deposits.primaries, deposits.leakage[0]
    if isinstance(data, Mapping):
        cells = {}
        for name, array in data.items():
            array = np.asarray(array, dtype=float)
            if array.ndim == 4:
                if not -array.shape[0] <= event < array.shape[0]:
                    msg = f"event {event} is out of range: {name!r} has {array.shape[0]} events"
                    raise ConfigError(msg)
                array = array[event]
            if array.ndim != 3:
                msg = (f"section {name!r}: expected (N, layers, y, x) or (layers, y, x), "
                       f"got shape {array.shape}")
                raise ConfigError(msg)
            cells[name] = array
        return cells, None, None
    msg = f"plot_event takes Deposits, a ShowerFile or a dict of section arrays, not {type(data).__name__}"
    raise ConfigError(msg)


def _energy_text(energy: float) -> str:
    return format_energy(float(f"{energy:.4g}"))


def _primary_text(primaries: Primaries | None) -> str:
    if primaries is None or primaries.n_particles == 0:
        return "primary unknown"
    parts = [f"{particle_name(p)} {_energy_text(e)}"
             for p, e in zip(primaries.pdg, primaries.energy, strict=True)]
    if len(parts) == 1:
        return parts[0]
    shown = ", ".join(parts[:3]) + (", ..." if len(parts) > 3 else "")
    return f"{len(parts)} primaries ({_energy_text(float(primaries.energy.sum()))}): {shown}"


@contextlib.contextmanager
def _style(name: str | None) -> Iterator[None]:
    if name is None:
        yield
        return
    import matplotlib.style
    import mplhep

    try:
        sheet = getattr(mplhep.style, name)
    except AttributeError:
        msg = f"unknown mplhep style {name!r}: use e.g. 'ATLAS', 'CMS', 'LHCb2' or 'ROOT'"
        raise ConfigError(msg) from None
    with matplotlib.style.context(sheet):
        yield


def plot_event(
    deposits_or_arrays: Deposits | Mapping[str, np.ndarray] | Any,
    detector: Any,
    event: int = 0,
    *,
    path: str | os.PathLike[str] | None = None,
    max_panels: int = MAX_LAYER_PANELS,
    style: str | None = None,
    dpi: int = 110,
) -> EventDisplay:
    """Event display: per section a grid of transverse layer images, plus the longitudinal profile.

    Args:
        deposits_or_arrays: :class:`~calolab.sim.events.Deposits`, a
            :class:`~calolab.data.showerfile.ShowerFile`, or a dict section name -> energy array
            (MeV) of shape ``(N, layers, y, x)`` or ``(layers, y, x)``.
        detector: the :class:`~calolab.detector.geometry.Calorimeter` (cell sizes and layer depths).
        event: the event to draw.
        path: write the figure to this PNG when given.
        max_panels: most layer images per section; neighbouring layers are summed beyond it
            (the panel and section titles say so).
        style: an mplhep style name (``"ATLAS"``, ``"CMS"``, ...) or ``None`` for matplotlib's.
        dpi: resolution of the PNG.

    Raises:
        ConfigError: the event is out of range or the arrays do not match the detector.
    """
    cells, primaries, leakage = _event_cells(deposits_or_arrays, event)
    sections = {section.name: section for section in detector.sections}
    for name, array in cells.items():
        if name not in sections:
            msg = f"section {name!r} is not in detector {detector.name!r} (sections {list(sections)})"
            raise ConfigError(msg)
        if tuple(array.shape) != tuple(sections[name].shape):
            msg = (f"section {name!r}: energy array has shape {array.shape} but the detector has "
                   f"{tuple(sections[name].shape)}")
            raise ConfigError(msg)

    grouped = {name: group_layers(array, max_panels) for name, array in cells.items()}
    rows = {name: math.ceil(g.shape[0] / _PANEL_COLUMNS) for name, (g, _) in grouped.items()}
    columns = {name: min(_PANEL_COLUMNS, g.shape[0]) for name, (g, _) in grouped.items()}
    aspect = {name: sections[name].shape[1] * sections[name].cell_size_y
              / (sections[name].shape[2] * sections[name].cell_size_x) for name in cells}
    width = 15.0
    panel = min(width / _PANEL_COLUMNS, 3.0)
    heights = [3.6] + [rows[name] * panel * min(aspect[name], 2.0) + 0.9 for name in cells]

    with _style(style):
        figure = Figure(figsize=(width, sum(heights)), layout="constrained")
        subfigures = figure.subfigures(len(heights), 1, height_ratios=heights, squeeze=False)[:, 0]
        total = sum(float(a.sum()) for a in cells.values())
        title = f"{detector.name}, event {event}: {_primary_text(primaries)}; active energy {total:.4g} MeV"
        if leakage is not None:
            title += f", leakage {float(np.sum(leakage)):.3g} MeV"
        figure.suptitle(title, fontsize="large")

        by_layer, by_depth = subfigures[0].subplots(1, 2)
        offset = 0
        for name, array in cells.items():
            profile = array.sum(axis=(1, 2))
            layers = np.arange(offset, offset + profile.size)
            drawn = plot_longitudinal_profile(profile, by_layer, x=layers, label=name)
            plot_longitudinal_profile(profile, by_depth, x=sections[name].layer_z_centres(),
                                      xlabel="depth z of the layer centre (mm)", label=name,
                                      color=drawn.line.get_color())
            if offset:
                by_layer.axvline(offset - 0.5, color="grey", linestyle="--", linewidth=0.8)
            offset += profile.size
        by_layer.set_xlabel("layer (all sections, front to back)")
        by_layer.set_title("longitudinal profile vs layer", fontsize="medium")
        by_depth.set_title("longitudinal profile vs depth", fontsize="medium")
        if len(cells) > 1:
            by_layer.legend(fontsize="small")

        layer_axes: dict[str, list[Axes]] = {}
        for subfigure, (name, (images, size)) in zip(subfigures[1:], grouped.items(), strict=True):
            section = sections[name]
            n_layers, ny, nx = section.shape
            half_x, half_y = nx * section.cell_size_x / 2, ny * section.cell_size_y / 2
            extent = (-half_x, half_x, -half_y, half_y)
            norm = _log_norm(images)
            axes = subfigure.subplots(rows[name], columns[name], squeeze=False)
            drawn_axes: list[Axes] = []
            image = None
            for index, ax in enumerate(axes.ravel()):
                if index >= images.shape[0]:
                    ax.set_visible(False)
                    continue
                first = index * size
                last = min(first + size, n_layers) - 1
                label = f"layer {first}" if first == last else f"layers {first}-{last}"
                image = plot_layer_image(images[index], ax, extent=extent, norm=norm, title=label).image
                ax.tick_params(labelsize="x-small")
                if index != (rows[name] - 1) * columns[name]:
                    ax.set_xticklabels([])
                    ax.set_yticklabels([])
                else:
                    ax.set_xlabel("x (mm)", fontsize="small")
                    ax.set_ylabel("y (mm)", fontsize="small")
                drawn_axes.append(ax)
            layer_axes[name] = drawn_axes
            if image is not None:
                subfigure.colorbar(image, ax=axes, label="energy per cell (MeV)", shrink=0.9)
            grouping = f"; {size} neighbouring layers summed per panel" if size > 1 else ""
            subfigure.suptitle(
                f"{name}: {n_layers} layers, {nx} x {ny} cells of {section.cell_size_x:g} x "
                f"{section.cell_size_y:g} mm, {float(cells[name].sum()):.4g} MeV{grouping}",
                fontsize="medium",
            )
        written = None
        if path is not None:
            written = Path(path)
            with atomic_path(written) as temporary:
                figure.savefig(temporary, format=written.suffix.lstrip(".") or "png", dpi=dpi)
    return EventDisplay(figure, (by_layer, by_depth), layer_axes, written)
