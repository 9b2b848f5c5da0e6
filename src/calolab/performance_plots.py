"""Figures of reconstruction performance for several models side by side (matplotlib, Agg).

Each panel function takes the results of :mod:`calolab.evaluate` for any number of models,
``ax=None`` (a new figure when ``None``) and ``colors`` (model name -> colour, so a model keeps
its colour across panels), and returns a small NamedTuple of what it drew.
:func:`write_evaluation_plots` draws every panel an :class:`~calolab.evaluate.Evaluation`
supports into PNG files::

    >>> paths = write_evaluation_plots(evaluation, "eval/")  # doctest: +SKIP
    >>> paths["resolution"]                                  # doctest: +SKIP
    PosixPath('eval/resolution.png')

Energies are drawn in GeV, lengths in mm.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from calolab.data.atomic import atomic_path
from calolab.errors import ConfigError
from calolab.evaluate import (
    ClassificationPerformance,
    EnergyPerformance,
    Evaluation,
    OverlapPerformance,
    PositionPerformance,
)
from calolab.plots import _style, particle_name

__all__ = [
    "AccuracyPlot",
    "BiasPlot",
    "OverlapPlot",
    "PositionPlot",
    "ResolutionPlot",
    "RocPlot",
    "plot_accuracy",
    "plot_bias",
    "plot_overlap",
    "plot_position",
    "plot_resolution",
    "plot_roc",
    "write_evaluation_plots",
]


class ResolutionPlot(NamedTuple):
    """What :func:`plot_resolution` drew: the measured points and the fitted curves, per model."""

    ax: Axes
    points: list[ErrorbarContainer]
    curves: list[Line2D]


class BiasPlot(NamedTuple):
    """What :func:`plot_bias` drew."""

    ax: Axes
    points: list[ErrorbarContainer]


class RocPlot(NamedTuple):
    """What :func:`plot_roc` drew: one line per model."""

    ax: Axes
    lines: list[Line2D]


class AccuracyPlot(NamedTuple):
    """What :func:`plot_accuracy` drew."""

    ax: Axes
    points: list[ErrorbarContainer]


class PositionPlot(NamedTuple):
    """What :func:`plot_position` drew: x points (filled) and y points (open), per model."""

    ax: Axes
    points_x: list[ErrorbarContainer]
    points_y: list[ErrorbarContainer]


class OverlapPlot(NamedTuple):
    """What :func:`plot_overlap` drew."""

    ax: Axes
    points: list[ErrorbarContainer]


def _new_axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=(6.4, 4.8), layout="constrained").add_subplot()


def _color(colors: Mapping[str, str] | None, model: str, index: int) -> str:
    return colors[model] if colors is not None and model in colors else f"C{index % 10}"


def _finish(ax: Axes, xlabel: str, ylabel: str, *, log_x: bool = False, log_y: bool = False) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log_x and np.all(np.isfinite(ax.dataLim.intervalx)) and ax.dataLim.intervalx[0] > 0:
        ax.set_xscale("log")
    if log_y and np.all(np.isfinite(ax.dataLim.intervaly)) and ax.dataLim.intervaly[0] > 0:
        ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both" if (log_x or log_y) else "major")
    if any(not label.startswith("_") for label in ax.get_legend_handles_labels()[1]):
        ax.legend(fontsize="small")


def plot_resolution(
    performances: Sequence[EnergyPerformance],
    ax: Axes | None = None,
    *,
    colors: Mapping[str, str] | None = None,
) -> ResolutionPlot:
    """Relative energy resolution (%) vs true energy (GeV) per model, with the fitted curves.

    The legend gives each fit: ``a`` in %·sqrt(GeV), ``b`` in GeV, ``c`` in %.
    """
    ax = _new_axes(ax)
    points, curves = [], []
    for index, performance in enumerate(performances):
        color = _color(colors, performance.model, index)
        energy = performance.energy / 1000.0
        label = performance.model
        fit = performance.fit
        if fit is not None:
            label += (f": a = {100 * fit.a:.3g}%, b = {fit.b:.2g} GeV, c = {100 * fit.c:.2g}%")
        points.append(ax.errorbar(energy, 100 * performance.resolution, yerr=100 * performance.resolution_error,
                                  fmt="o", color=color, markersize=4, capsize=2, label=label))
        good = np.isfinite(energy) & (energy > 0)
        if fit is not None and good.any():
            grid = np.geomspace(energy[good].min(), energy[good].max(), 200)
            (curve,) = ax.plot(grid, 100 * fit(grid), color=color, linewidth=1.2)
            curves.append(curve)
    _finish(ax, "true energy (GeV)", r"$\sigma_E / E$ (%)", log_x=True)
    ax.set_ylim(bottom=0)
    return ResolutionPlot(ax, points, curves)


def plot_bias(
    performances: Sequence[EnergyPerformance],
    ax: Axes | None = None,
    *,
    colors: Mapping[str, str] | None = None,
) -> BiasPlot:
    """Energy bias ``<E_pred / E_true> - 1`` (%) of the Gaussian core vs true energy (GeV)."""
    ax = _new_axes(ax)
    ax.axhline(0.0, color="grey", linewidth=0.8)
    points = [ax.errorbar(p.energy / 1000.0, 100 * p.bias, yerr=100 * p.bias_error, fmt="o", markersize=4,
                          capsize=2, color=_color(colors, p.model, i), label=p.model)
              for i, p in enumerate(performances)]
    _finish(ax, "true energy (GeV)", r"bias $\langle E_{pred}/E_{true}\rangle - 1$ (%)", log_x=True)
    return BiasPlot(ax, points)


def _pid_title(classification: ClassificationPerformance) -> str:
    background = ", ".join(particle_name(b) for b in classification.background)
    return f"{particle_name(classification.signal)} vs {background}"


def plot_roc(
    classifications: Sequence[ClassificationPerformance],
    ax: Axes | None = None,
    *,
    colors: Mapping[str, str] | None = None,
) -> RocPlot:
    """Background rejection ``1 / eff_bkg`` (log) vs signal efficiency per model, AUC in the legend."""
    ax = _new_axes(ax)
    lines = []
    for index, c in enumerate(classifications):
        rejection = c.roc.rejection()
        keep = np.isfinite(rejection) & (c.roc.signal_efficiency > 0)
        (line,) = ax.plot(c.roc.signal_efficiency[keep], rejection[keep], color=_color(colors, c.model, index),
                          linewidth=1.4, label=f"{c.model} (AUC = {c.auc:.4f} ± {c.auc_error:.4f})")
        lines.append(line)
    if classifications:
        ax.set_title(_pid_title(classifications[0]), fontsize="medium")
    _finish(ax, "signal efficiency", "background rejection 1 / efficiency", log_y=True)
    ax.set_xlim(0.0, 1.0)
    return RocPlot(ax, lines)


def plot_accuracy(
    classifications: Sequence[ClassificationPerformance],
    ax: Axes | None = None,
    *,
    variable: str = "energy",
    colors: Mapping[str, str] | None = None,
) -> AccuracyPlot:
    """Classification accuracy vs true energy (GeV, ``variable="energy"``) or pseudorapidity (``"eta"``).

    Models without pseudorapidity bins are left out of the ``"eta"`` panel.

    Raises:
        ConfigError: an unknown ``variable``.
    """
    if variable not in ("energy", "eta"):
        msg = f"plot_accuracy: variable must be 'energy' or 'eta', got {variable!r}"
        raise ConfigError(msg)
    ax = _new_axes(ax)
    points = []
    for index, c in enumerate(classifications):
        rate = c.accuracy_vs_energy if variable == "energy" else c.accuracy_vs_eta
        if rate is None:
            continue
        x = rate.centres / 1000.0 if variable == "energy" else rate.centres
        points.append(ax.errorbar(x, 100 * rate.value, yerr=100 * rate.error, fmt="o", markersize=4, capsize=2,
                                  color=_color(colors, c.model, index), label=c.model))
    if classifications:
        ax.set_title(_pid_title(classifications[0]), fontsize="medium")
    _finish(ax, "true energy (GeV)" if variable == "energy" else r"pseudorapidity $\eta$", "accuracy (%)",
            log_x=variable == "energy")
    return AccuracyPlot(ax, points)


def plot_position(
    positions: Sequence[PositionPerformance],
    ax: Axes | None = None,
    *,
    variable: str = "energy",
    quantity: str = "sigma",
    colors: Mapping[str, str] | None = None,
) -> PositionPlot:
    """Position resolution or bias (mm) in x (filled) and y (open markers) per model.

    Args:
        positions: the models' position performances.
        ax: axes to draw on; a new figure when ``None``.
        variable: ``"energy"`` (vs true energy, GeV) or ``"cell"`` (vs impact point in the cell, mm;
            models without in-cell bins are left out).
        quantity: ``"sigma"`` (core resolution) or ``"bias"`` (core mean: the S-curve vs ``"cell"``).
        colors: model name -> colour.

    Raises:
        ConfigError: an unknown ``variable`` or ``quantity``.
    """
    if variable not in ("energy", "cell") or quantity not in ("sigma", "bias"):
        msg = f"plot_position: variable 'energy'|'cell' and quantity 'sigma'|'bias', got {variable!r}, {quantity!r}"
        raise ConfigError(msg)
    ax = _new_axes(ax)
    points_x: list[ErrorbarContainer] = []
    points_y: list[ErrorbarContainer] = []
    for index, p in enumerate(positions):
        bins = p.vs_energy if variable == "energy" else p.vs_cell
        if bins is None:
            continue
        color = _color(colors, p.model, index)
        x = bins.centres / 1000.0 if variable == "energy" else bins.centres
        for axis, drawn, face in (("x", points_x, color), ("y", points_y, "white")):
            value, error = getattr(bins, f"{quantity}_{axis}"), getattr(bins, f"{quantity}_{axis}_error")
            drawn.append(ax.errorbar(x, value, yerr=error, fmt="o" if axis == "x" else "s", color=color,
                                     markerfacecolor=face, markersize=4, capsize=2, label=f"{p.model} ({axis})"))
    if quantity == "bias":
        ax.axhline(0.0, color="grey", linewidth=0.8)
    xlabel = "true energy (GeV)" if variable == "energy" else "true impact point - cell centre (mm)"
    ylabel = "position resolution (mm)" if quantity == "sigma" else "position bias (mm)"
    _finish(ax, xlabel, ylabel, log_x=variable == "energy")
    if quantity == "sigma":
        ax.set_ylim(bottom=0)
    return PositionPlot(ax, points_x, points_y)


def plot_overlap(
    overlaps: Sequence[OverlapPerformance],
    ax: Axes | None = None,
    *,
    quantity: str = "position",
    colors: Mapping[str, str] | None = None,
) -> OverlapPlot:
    """Per-photon position resolution (mm, ``quantity="position"``) or relative energy resolution
    (%, ``"energy"``) of overlap models vs the true photon separation (mm).

    Raises:
        ConfigError: an unknown ``quantity``.
    """
    if quantity not in ("position", "energy"):
        msg = f"plot_overlap: quantity must be 'position' or 'energy', got {quantity!r}"
        raise ConfigError(msg)
    ax = _new_axes(ax)
    points = []
    for index, o in enumerate(overlaps):
        bins = o.vs_separation
        if quantity == "position":
            value, error = bins.position_sigma, bins.position_sigma_error
        else:
            value, error = 100 * bins.energy_resolution, 100 * bins.energy_resolution_error
        points.append(ax.errorbar(bins.centres, value, yerr=error, fmt="o", markersize=4, capsize=2,
                                  color=_color(colors, o.model, index), label=f"{o.model} ({o.photons} photons)"))
    ylabel = "position resolution per photon (mm)" if quantity == "position" else r"$\sigma_E / E$ per photon (%)"
    _finish(ax, "true separation (mm)", ylabel)
    ax.set_ylim(bottom=0)
    return OverlapPlot(ax, points)


def write_evaluation_plots(
    evaluation: Evaluation,
    folder: str | os.PathLike[str],
    *,
    style: str | None = None,
    dpi: int = 110,
) -> dict[str, Path]:
    """Draw every panel ``evaluation`` supports into ``folder/<name>.png`` (written atomically).

    Panels: ``resolution``, ``bias`` (models with energy); ``roc``, ``accuracy_energy``,
    ``accuracy_eta`` (with particle ID; eta when the truth has angles); ``position_energy``,
    ``position_cell``, ``position_scurve`` (single-particle positions; in-cell with a cell size);
    ``overlap_position``, ``overlap_energy`` (overlap models).

    Args:
        evaluation: the result of :func:`~calolab.evaluate.evaluate_models`.
        folder: an existing folder.
        style: an mplhep style name (``"CMS"``, ``"ATLAS"``, ...) or ``None`` for matplotlib's.
        dpi: resolution of the PNGs.

    Returns:
        panel name -> PNG path, for the panels drawn.
    """
    colors = {m.model: f"C{i % 10}" for i, m in enumerate(evaluation.models)}
    energy = [m.energy for m in evaluation.models if m.energy is not None]
    pid = [m.classification for m in evaluation.models if m.classification is not None]
    position = [m.position for m in evaluation.models if m.position is not None]
    overlap = [m.overlap for m in evaluation.models if m.overlap is not None]
    panels: dict[str, Callable[[Axes], object]] = {}
    if energy:
        panels["resolution"] = lambda ax: plot_resolution(energy, ax, colors=colors)
        panels["bias"] = lambda ax: plot_bias(energy, ax, colors=colors)
    if pid:
        panels["roc"] = lambda ax: plot_roc(pid, ax, colors=colors)
        panels["accuracy_energy"] = lambda ax: plot_accuracy(pid, ax, variable="energy", colors=colors)
        if any(c.accuracy_vs_eta is not None for c in pid):
            panels["accuracy_eta"] = lambda ax: plot_accuracy(pid, ax, variable="eta", colors=colors)
    if position:
        panels["position_energy"] = lambda ax: plot_position(position, ax, colors=colors)
        if any(p.vs_cell is not None for p in position):
            panels["position_cell"] = lambda ax: plot_position(position, ax, variable="cell", colors=colors)
            panels["position_scurve"] = lambda ax: plot_position(position, ax, variable="cell", quantity="bias",
                                                                 colors=colors)
    if overlap:
        panels["overlap_position"] = lambda ax: plot_overlap(overlap, ax, colors=colors)
        if any(o.energy is not None for o in overlap):
            panels["overlap_energy"] = lambda ax: plot_overlap(overlap, ax, quantity="energy", colors=colors)
    written: dict[str, Path] = {}
    target = Path(folder)
    with _style(style):
        for name, draw in panels.items():
            figure = Figure(figsize=(6.4, 4.8), layout="constrained")
            draw(figure.add_subplot())
            path = target / f"{name}.png"
            with atomic_path(path) as temporary:
                figure.savefig(temporary, format="png", dpi=dpi)
            written[name] = path
    return written
