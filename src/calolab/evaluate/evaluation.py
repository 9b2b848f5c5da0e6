"""Evaluate a set of models side by side: everything each one predicts, and a JSON of figures.

>>> evaluation = evaluate_models([read_predictions("cnn.h5"), read_predictions("xgb.h5")])  # doctest: +SKIP
>>> evaluation["cnn"].energy.fit.a                                                            # doctest: +SKIP
>>> Path("figures.json").write_text(evaluation.to_json())                                     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from calolab import __version__
from calolab.errors import ConfigError
from calolab.evaluate.classification import (
    DEFAULT_EFFICIENCIES,
    ClassificationPerformance,
    classification_performance,
    default_signal,
)
from calolab.evaluate.core import GaussianCore, energy_bins
from calolab.evaluate.position import (
    OverlapPerformance,
    PositionPerformance,
    overlap_performance,
    position_performance,
)
from calolab.evaluate.resolution import EnergyPerformance, energy_performance, predicted_total_energy
from calolab.reco.predictions import Predictions
from calolab.serialise import to_jsonable

__all__ = ["Evaluation", "ModelEvaluation", "evaluate_models"]

#: Signal efficiencies at which the ROC curve is stored in the JSON.
_ROC_GRID = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True)
class ModelEvaluation:
    """What applies to one model; a part is ``None`` when the model does not predict it.

    Attributes:
        model: the model's name.
        n_events: events in its predictions.
        energy, classification, position, overlap: the performances.
        notes: what was skipped and why.
    """

    model: str
    n_events: int
    energy: EnergyPerformance | None
    classification: ClassificationPerformance | None
    position: PositionPerformance | None
    overlap: OverlapPerformance | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evaluation:
    """The evaluation of several models on common bins.

    Attributes:
        models: one :class:`ModelEvaluation` per model, in the order given.
        energy_edges: the true-energy bins shared by all models, MeV.
        signal, background: the PDG codes of the particle-ID comparison (``None`` without PID).
        efficiencies: signal efficiencies of the rejection working points.
    """

    models: tuple[ModelEvaluation, ...]
    energy_edges: np.ndarray
    signal: int | None
    background: tuple[int, ...] | None
    efficiencies: tuple[float, ...]

    def __getitem__(self, name: str) -> ModelEvaluation:
        for model in self.models:
            if model.model == name:
                return model
        msg = f"no model {name!r} in this evaluation (models {[m.model for m in self.models]})"
        raise KeyError(msg)

    def figures(self) -> dict[str, Any]:
        """The figures of merit as plain JSON-able data (NaN and infinity become ``None``)."""
        figures = {
            "calolab_version": __version__,
            "energy_bins_mev": self.energy_edges,
            "signal": self.signal,
            "background": self.background,
            "efficiencies": self.efficiencies,
            "models": {m.model: _model_figures(m) for m in self.models},
        }
        return to_jsonable(figures)

    def to_json(self, indent: int = 2) -> str:
        """:meth:`figures` as JSON text."""
        return json.dumps(self.figures(), indent=indent, allow_nan=False)


def _core(prefix: str, core: GaussianCore, unit: str = "") -> dict[str, Any]:
    suffix = f"_{unit}" if unit else ""
    return {f"{prefix}mean{suffix}": core.mean, f"{prefix}mean_error{suffix}": core.mean_error,
            f"{prefix}sigma{suffix}": core.sigma, f"{prefix}sigma_error{suffix}": core.sigma_error,
            f"{prefix}core_fraction": core.core_fraction}


def _arrays(result: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)
            if f.name not in skip and not isinstance(getattr(result, f.name), tuple | GaussianCore)}


def _model_figures(m: ModelEvaluation) -> dict[str, Any]:
    out: dict[str, Any] = {"n_events": m.n_events, "notes": m.notes}
    if m.energy is not None:
        e = m.energy
        fit = None if e.fit is None else {
            "a": e.fit.a, "a_error": e.fit.a_error, "b_gev": e.fit.b, "b_error_gev": e.fit.b_error,
            "c": e.fit.c, "c_error": e.fit.c_error, "chi2": e.fit.chi2, "ndof": e.fit.ndof,
            "model": "sigma/E = a/sqrt(E/GeV) (+) b/E (+) c"}
        out["energy"] = {"fit": fit, "bins": {
            "energy_mev": e.energy, "counts": e.counts, "bias": e.bias, "bias_error": e.bias_error,
            "median_bias": e.median_bias, "resolution": e.resolution, "resolution_error": e.resolution_error}}
    if m.classification is not None:
        c = m.classification
        roc = c.roc
        eff_s, first = np.unique(roc.signal_efficiency, return_index=True)
        grid_b = np.interp(_ROC_GRID, eff_s, roc.background_efficiency[first])
        out["classification"] = {
            "signal": c.signal, "background": c.background, "n_signal": c.n_signal, "n_background": c.n_background,
            "auc": c.auc, "auc_error": c.auc_error, "accuracy": c.accuracy, "accuracy_error": c.accuracy_error,
            "working_points": [dataclasses.asdict(p) for p in c.working_points],
            "roc": {"signal_efficiency": _ROC_GRID, "background_efficiency": grid_b},
            "accuracy_vs_energy": _arrays(c.accuracy_vs_energy),
            "accuracy_vs_eta": None if c.accuracy_vs_eta is None else _arrays(c.accuracy_vs_eta),
        }
    if m.position is not None:
        p = m.position
        out["position"] = {"n_events": p.n_events, "sigma_mm": p.sigma, **_core("x_", p.x, "mm"),
                           **_core("y_", p.y, "mm"), "cell_size_mm": p.cell_size_mm,
                           "vs_energy": _arrays(p.vs_energy),
                           "vs_cell": None if p.vs_cell is None else _arrays(p.vs_cell)}
    if m.overlap is not None:
        o = m.overlap
        out["overlap"] = {"photons": o.photons, "n_events": o.n_events,
                          "position_sigma_mm": o.position.sigma, "position_sigma_error_mm": o.position.sigma_error,
                          "energy": None if o.energy is None else {
                              "bias": o.energy.mean - 1.0, "bias_error": o.energy.mean_error,
                              "resolution": o.energy.sigma / o.energy.mean if o.energy.mean else math.nan},
                          "vs_separation": _arrays(o.vs_separation)}
    return out


def _shared_energy_edges(predictions: Sequence[Predictions]) -> np.ndarray:
    """Bins of the true energies of the models binned in energy (all but overlap-only models)."""
    binned = [p for p in predictions if "energy" in p.predicted or "pid_score" in p.predicted
              or np.ndim(p.predicted.get("position", np.zeros((0, 0, 0)))) == 2]
    energies = []
    for p in binned or predictions:
        energy = np.asarray(p.truth["energy"], dtype=float)
        energies.append(energy.sum(axis=1) if energy.ndim == 2 else energy)
    return energy_bins(np.concatenate(energies))


def evaluate_models(
    predictions: Sequence[Predictions],
    *,
    energy_edges: Sequence[float] | np.ndarray | None = None,
    signal: int | None = None,
    background: Sequence[int] | None = None,
    efficiencies: Sequence[float] = DEFAULT_EFFICIENCIES,
    cell_size_mm: float | None = None,
    cell_origin_mm: float = 0.0,
    fix_noise: float | None = None,
    n_sigma: float = 2.0,
) -> Evaluation:
    """Evaluate every model on what it predicts: energy, particle ID, position, overlapping photons.

    Args:
        predictions: one :class:`~calolab.reco.predictions.Predictions` per model (names unique).
        energy_edges: true-energy bins, MeV, shared by all models; default
            :func:`~calolab.evaluate.core.energy_bins` of the true energies of all models but
            overlap-only ones (binned in separation instead).
        signal, background: PDG codes compared in the particle ID; default the classes of the
            first model with a ``pid_score`` (its first class against the others).
        efficiencies: signal efficiencies of the rejection working points.
        cell_size_mm, cell_origin_mm: cell pitch and a cell centre for the in-cell position
            binning (default: the predictions' ``cell_size_mm`` attribute, when present).
        fix_noise: hold the noise term ``b`` (GeV) in the resolution fits.
        n_sigma: half-width of the Gaussian core-fit windows, in sigma.

    Raises:
        ConfigError: no predictions, two with the same model name, or an efficiency outside (0, 1].
    """
    predictions = list(predictions)
    if not predictions:
        msg = "evaluate_models needs at least one model's predictions"
        raise ConfigError(msg)
    names = [p.model for p in predictions]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        msg = f"model names must be unique, {duplicates} appear more than once: rename the models"
        raise ConfigError(msg)
    bad = [e for e in efficiencies if not 0.0 < e <= 1.0]
    if bad:
        msg = f"signal efficiencies must be in (0, 1], got {bad}: e.g. 0.5, 0.7, 0.9"
        raise ConfigError(msg)
    edges = _shared_energy_edges(predictions) if energy_edges is None else np.asarray(energy_edges, dtype=float)
    if signal is None:
        with_pid = [p for p in predictions if "pid_score" in p.predicted and len(p.classes) >= 2]
        if with_pid:
            signal, default_background = default_signal(with_pid[0].classes)
            background = default_background if background is None else background
    if signal is not None and background is None:
        codes = {int(c) for p in predictions for c in p.classes} | {
            int(c) for p in predictions if "pid_score" in p.predicted for c in np.unique(p.truth["pdg"])}
        background = tuple(sorted(codes - {int(signal)}))
    background = None if background is None else tuple(int(b) for b in background)

    models = []
    for p in predictions:
        notes: list[str] = []
        energy = classification = position = overlap = None
        if predicted_total_energy(p) is not None:
            energy = energy_performance(p, edges, n_sigma=n_sigma, fix_noise=fix_noise)
        if "pid_score" in p.predicted:
            try:
                classification = classification_performance(p, signal, background, efficiencies=efficiencies,
                                                             energy_edges=edges)
            except ConfigError as error:
                notes.append(f"particle ID skipped: {error}")
        if "position" in p.predicted:
            if "position" not in p.truth:
                notes.append("position skipped: the truth has no position")
            else:
                try:
                    if np.ndim(p.predicted["position"]) == 3:
                        overlap = overlap_performance(p, n_sigma=n_sigma)
                    else:
                        position = position_performance(p, edges, cell_size_mm=cell_size_mm,
                                                        cell_origin_mm=cell_origin_mm, n_sigma=n_sigma)
                except ConfigError as error:
                    notes.append(f"position skipped: {error}")
        if energy is classification is position is overlap is None and not notes:
            notes.append("nothing to evaluate: no predicted energy, pid_score or position")
        models.append(ModelEvaluation(p.model, len(p), energy, classification, position, overlap, tuple(notes)))
    return Evaluation(tuple(models), edges, None if signal is None else int(signal), background,
                      tuple(float(e) for e in efficiencies))
