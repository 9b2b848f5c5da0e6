"""Figures of the validation suite (matplotlib, Agg; no pyplot state).

Each panel function draws from a result alone, takes ``ax=None`` (a new figure when ``None``)
and an optional ``ratio_ax`` for the candidate / reference ratio, and returns a small
NamedTuple of what it drew. :func:`write_validation_plots` writes every figure of a
:class:`~calolab.validate.suite.ValidationResult` as PNG files::

    >>> paths = write_validation_plots(result, "report/")  # doctest: +SKIP
    >>> paths["all/ECAL/energy_ratio"]                       # doctest: +SKIP
    PosixPath('report/all_ECAL_energy_ratio.png')

Histograms are drawn normalised to unit area; error bars are the statistical errors.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch

from calolab.data.atomic import atomic_path
from calolab.validate.classifier import ClassifierResult
from calolab.validate.comparison import HistogramComparison, ProfileComparison

if TYPE_CHECKING:
    from calolab.validate.suite import ValidationResult

__all__ = [
    "ClassifierPlot",
    "HistogramPlot",
    "ProfilePlot",
    "figure_name",
    "plot_classifier",
    "plot_histogram",
    "plot_profile",
    "write_validation_plots",
]

REFERENCE_COLOR = "0.25"
CANDIDATE_COLOR = "C1"
#: most layer panels drawn for a per-layer observable (layers in between are spread evenly)
MAX_LAYER_PANELS = 12


class HistogramPlot(NamedTuple):
    """What :func:`plot_histogram` drew: the two histograms and, with a ratio axis, the ratio points."""

    ax: Axes
    reference: StepPatch
    candidate: StepPatch
    candidate_errors: ErrorbarContainer
    ratio_ax: Axes | None
    ratio: ErrorbarContainer | None


class ProfilePlot(NamedTuple):
    """What :func:`plot_profile` drew."""

    ax: Axes
    reference: ErrorbarContainer
    candidate: ErrorbarContainer
    ratio_ax: Axes | None
    ratio: ErrorbarContainer | None


class ClassifierPlot(NamedTuple):
    """What :func:`plot_classifier` drew: the calibrated output histograms of the test events."""

    ax: Axes
    reference: StepPatch
    candidate: StepPatch


def _new_axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=(5.0, 4.0), layout="constrained").add_subplot()


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.full(np.shape(numerator), np.nan), where=denominator > 0)


def _density(counts: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = counts.sum()
    if total <= 0:
        return np.zeros_like(counts), np.zeros_like(counts)
    return counts / total / widths, np.sqrt(counts) / total / widths


def _metric_text(separation: float, chi2: float, ndf: int) -> str:
    parts = [f"S = {separation:.3g}" if math.isfinite(separation) else "S = -"]
    if ndf > 0 and math.isfinite(chi2):
        parts.append(f"$\\chi^2$/ndf = {chi2:.3g}/{ndf}")
    return ", ".join(parts)


def _ratio_panel(ratio_ax: Axes, x: np.ndarray, ratio: np.ndarray, error: np.ndarray, xlabel: str) -> ErrorbarContainer:
    ratio_ax.axhline(1.0, color=REFERENCE_COLOR, lw=0.8)
    points = ratio_ax.errorbar(x, ratio, yerr=error, fmt="o", ms=2.5, color=CANDIDATE_COLOR, elinewidth=0.8)
    finite = ratio[np.isfinite(ratio)]
    spread = float(np.max(np.abs(finite - 1.0))) if finite.size else 0.2
    half = min(max(0.1, 1.15 * spread), 1.0)
    ratio_ax.set_ylim(1.0 - half, 1.0 + half)
    ratio_ax.set_ylabel("cand./ref.", fontsize="small")
    ratio_ax.set_xlabel(xlabel)
    ratio_ax.grid(alpha=0.3)
    return points


def plot_histogram(comparison: HistogramComparison, ax: Axes | None = None, ratio_ax: Axes | None = None, *,
                   log_y: bool = False, labels: Sequence[str] = ("reference", "candidate"),
                   title: bool = True) -> HistogramPlot:
    """Both samples' normalised histograms of one observable, the metrics in the title, and the ratio.

    Args:
        comparison: the result of :func:`~calolab.validate.comparison.compare_histograms`.
        ax: where to draw (a new figure when ``None``).
        ratio_ax: an axis for candidate / reference per bin (none drawn when ``None``).
        log_y: logarithmic density axis.
        labels: legend names of the reference and the candidate.
        title: show the observable, the separation power and the chi2 as the title.
    """
    ax = _new_axes(ax)
    edges = comparison.edges
    widths = np.diff(edges)
    ref, ref_err = _density(comparison.reference, widths)
    cand, cand_err = _density(comparison.candidate, widths)
    reference = ax.stairs(ref, edges, color=REFERENCE_COLOR, fill=True, alpha=0.25, label=labels[0])
    candidate = ax.stairs(cand, edges, color=CANDIDATE_COLOR, lw=1.5, label=labels[1])
    log_x = comparison.observable.scale == "log"
    centres = np.sqrt(edges[:-1] * edges[1:]) if log_x else 0.5 * (edges[:-1] + edges[1:])
    errors = ax.errorbar(centres, cand, yerr=cand_err, fmt="none", ecolor=CANDIDATE_COLOR, elinewidth=0.8)
    if comparison.observable.scale == "log":
        ax.set_xscale("log")
    if log_y and np.any(ref > 0):
        ax.set_yscale("log")
    ax.set_ylabel("normalised")
    label = comparison.observable.axis_label()
    if title:
        where = comparison.section + ("" if comparison.layer is None else f", layer {comparison.layer}")
        ax.set_title(f"{where} ({comparison.group}): "
                     f"{_metric_text(comparison.separation, comparison.chi2.chi2, comparison.chi2.ndf)}",
                     fontsize="small")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    ratio = None
    if ratio_ax is not None:
        value = _ratio(cand, ref)
        error = np.abs(value) * np.sqrt(_ratio(cand_err, cand) ** 2 + _ratio(ref_err, ref) ** 2)
        ratio = _ratio_panel(ratio_ax, centres, value, error, label)
        ax.tick_params(labelbottom=False)
    else:
        ax.set_xlabel(label)
    return HistogramPlot(ax, reference, candidate, errors, ratio_ax, ratio)


def plot_profile(profile: ProfileComparison, ax: Axes | None = None, ratio_ax: Axes | None = None, *,
                 log_y: bool = False, labels: Sequence[str] = ("reference", "candidate")) -> ProfilePlot:
    """Mean shower shape of both samples with standard errors (``log_y`` for the log view) and the ratio."""
    ax = _new_axes(ax)
    x = profile.positions
    reference = ax.errorbar(x, profile.mean_reference, yerr=profile.error_reference, fmt="s-", ms=3, lw=1,
                            color=REFERENCE_COLOR, label=labels[0])
    candidate = ax.errorbar(x, profile.mean_candidate, yerr=profile.error_candidate, fmt="o--", ms=3, lw=1,
                            color=CANDIDATE_COLOR, label=labels[1])
    if log_y and np.any(profile.mean_reference > 0):
        ax.set_yscale("log")
    ax.set_ylabel(profile.observable.axis_label())
    ax.set_title(f"{profile.section} ({profile.group}): "
                 f"{_metric_text(profile.separation, profile.chi2.chi2, profile.chi2.ndf)}", fontsize="small")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    ratio = None
    if ratio_ax is not None:
        value = _ratio(profile.mean_candidate, profile.mean_reference)
        error = np.abs(value) * np.sqrt(_ratio(profile.error_candidate, profile.mean_candidate) ** 2
                                        + _ratio(profile.error_reference, profile.mean_reference) ** 2)
        ratio = _ratio_panel(ratio_ax, x, value, error, profile.position_label)
        ax.tick_params(labelbottom=False)
    else:
        ax.set_xlabel(profile.position_label)
    return ProfilePlot(ax, reference, candidate, ratio_ax, ratio)


def plot_classifier(result: ClassifierResult, ax: Axes | None = None, *,
                    labels: Sequence[str] = ("reference", "candidate")) -> ClassifierPlot:
    """Calibrated classifier output of the held-out reference and candidate events, AUC and JSD in the title."""
    ax = _new_axes(ax)
    edges = result.output_edges
    reference = ax.stairs(result.output_reference, edges, color=REFERENCE_COLOR, fill=True, alpha=0.25,
                          label=labels[0])
    candidate = ax.stairs(result.output_candidate, edges, color=CANDIDATE_COLOR, lw=1.5, label=labels[1])
    ax.set_xlabel("calibrated classifier output p(candidate)")
    ax.set_ylabel("test events")
    ax.set_title(f"{result.name} classifier: AUC = {result.auc:.3f} ± {result.auc_error:.3f}, "
                 f"JSD = {result.jsd:.3g}", fontsize="small")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ClassifierPlot(ax, reference, candidate)


def figure_name(key: str) -> str:
    """A file name for a figure key: ``all/ECAL/energy_ratio`` -> ``all_ECAL_energy_ratio.png``."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", key).strip("_") + ".png"


def _with_ratio(figure: Figure, columns: int = 1) -> list[tuple[Axes, Axes]]:
    grid = figure.add_gridspec(2, columns, height_ratios=(3, 1), hspace=0.05)
    pairs = []
    for column in range(columns):
        top = figure.add_subplot(grid[0, column])
        pairs.append((top, figure.add_subplot(grid[1, column], sharex=top)))
    return pairs


def _layer_panels(comparisons: list[HistogramComparison], figure: Figure) -> None:
    if len(comparisons) > MAX_LAYER_PANELS:
        keep = np.unique(np.linspace(0, len(comparisons) - 1, MAX_LAYER_PANELS).round().astype(int))
        comparisons = [comparisons[i] for i in keep]
    columns = min(4, len(comparisons))
    rows = math.ceil(len(comparisons) / columns)
    figure.set_size_inches(3.2 * columns, 2.6 * rows + 0.5)
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.08 / rows, top=1 - 0.8 / (2.6 * rows + 0.5),
                           wspace=0.3, hspace=0.45)
    first = comparisons[0]
    figure.suptitle(f"{first.section} ({first.group}): {first.observable.axis_label()} per layer", fontsize="medium")
    for index, comparison in enumerate(comparisons):
        ax = figure.add_subplot(rows, columns, index + 1)
        plot_histogram(comparison, ax, title=False)
        ax.set_title(f"layer {comparison.layer}: "
                     f"{_metric_text(comparison.separation, comparison.chi2.chi2, comparison.chi2.ndf)}",
                     fontsize="x-small")
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(labelsize="x-small")
        if index:
            legend = ax.get_legend()
            if legend is not None:
                legend.remove()


def _panels(result: ValidationResult, labels: Sequence[str]) -> dict[str, Callable[[Figure], object]]:
    """Figure key -> drawing function; per-layer grids (``.../layer_*``) want a figure without layout engine."""
    from functools import partial

    def classifier_panel(c: ClassifierResult, figure: Figure) -> object:
        return plot_classifier(c, figure.add_subplot(), labels=labels)

    def histogram_panel(c: HistogramComparison, figure: Figure) -> object:
        return plot_histogram(c, *_with_ratio(figure)[0], log_y=c.observable.kind == "cells", labels=labels)

    def profile_panel(p: ProfileComparison, figure: Figure) -> object:
        figure.set_size_inches(9.0, 4.0)
        (lin, lin_ratio), (log, log_ratio) = _with_ratio(figure, 2)
        plot_profile(p, lin, lin_ratio, labels=labels)
        return plot_profile(p, log, log_ratio, log_y=True, labels=labels)

    panels: dict[str, Callable[[Figure], object]] = {}
    for name, classifier in result.classifiers.items():
        panels[f"classifier/{name}"] = partial(classifier_panel, classifier)
    per_layer: dict[str, list[HistogramComparison]] = {}
    for comparison in result.histograms:
        if comparison.layer is not None:
            key = f"{comparison.group}/{comparison.section}/{comparison.observable.name}"
            per_layer.setdefault(key, []).append(comparison)
        else:
            panels[comparison.key] = partial(histogram_panel, comparison)
    for profile in result.profiles:
        panels[profile.key] = partial(profile_panel, profile)
    for key, comparisons in per_layer.items():
        panels[key] = partial(_layer_panels, comparisons)
    return panels


def write_validation_plots(result: ValidationResult, folder: str | os.PathLike[str], *, style: str | None = None,
                           dpi: int = 80, labels: Sequence[str] = ("reference", "candidate")) -> dict[str, Path]:
    """Draw every figure of a validation result into ``folder`` as PNG files (written atomically).

    Figures: one per histogram (with the ratio), one grid per per-layer observable, one per
    profile (linear and log side by side), one per classifier.

    Args:
        result: the result of :func:`~calolab.validate.suite.run_validation`.
        folder: an existing folder.
        style: an mplhep style name (``"CMS"``, ``"ATLAS"``, ...) or ``None`` for matplotlib's.
        dpi: resolution of the PNGs.
        labels: legend names of the reference and the candidate.

    Returns:
        figure key (``classifier/low-level``, ``all/ECAL/energy_ratio``, ``all/ECAL/layer_energy``,
        ``all/ECAL/profile_z``, ...) -> PNG path, in the order drawn.
    """
    from calolab.plots import _style

    written: dict[str, Path] = {}
    target = Path(folder)
    with _style(style):
        for key, draw in _panels(result, labels).items():
            grid = key.rsplit("/", 1)[-1].startswith("layer_")
            # a per-layer grid is placed by hand: the constrained layout would double its drawing time
            figure = Figure(figsize=(5.0, 4.4), layout=None if grid else "constrained")
            draw(figure)
            path = target / figure_name(key)
            with atomic_path(path) as temporary:
                figure.savefig(temporary, format="png", dpi=dpi)
            written[key] = path
    return written
