"""Particle identification performance: ROC curve, AUC, background rejection, accuracy.

A model's ``pid_score`` holds class probabilities for the PDG codes ``classes``. For a signal
PDG code ``s`` against background codes ``B`` the discriminant is ``p_s / (p_s + sum_B p_b)``
(``p_s`` alone when no background code is a class), computed on the events whose true PDG code
is ``s`` or in ``B``. The AUC uncertainty is DeLong's (DeLong, DeLong & Clarke-Pearson,
Biometrics 44 (1988) 837), computed with the rank formulation of Sun & Xu, IEEE SPL 21 (2014)
1389; it needs no resampling, so it is exactly reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from calolab.errors import ConfigError
from calolab.evaluate.core import bin_index, check_same_events
from calolab.reco.predictions import Predictions

__all__ = [
    "BinnedRate",
    "ClassificationPerformance",
    "PairedAUC",
    "RocCurve",
    "WorkingPoint",
    "auc_with_error",
    "classification_performance",
    "default_signal",
    "discriminant",
    "paired_auc",
    "pseudorapidity",
    "roc_curve",
    "working_point",
]

#: Signal efficiencies of the working points quoted by default.
DEFAULT_EFFICIENCIES = (0.5, 0.7, 0.9)


@dataclass(frozen=True)
class RocCurve:
    """Signal and background efficiency for every distinct threshold, loosest last.

    Attributes:
        signal_efficiency, background_efficiency: fractions passing ``score >= threshold``,
            from ``(0, 0)`` to ``(1, 1)``.
        thresholds: the score thresholds (``+inf`` for the first point).
    """

    signal_efficiency: np.ndarray
    background_efficiency: np.ndarray
    thresholds: np.ndarray

    def rejection(self) -> np.ndarray:
        """Background rejection ``1 / background_efficiency`` (``inf`` where no background passes)."""
        eff = self.background_efficiency
        return np.divide(1.0, eff, out=np.full(eff.shape, np.inf), where=eff > 0)


@dataclass(frozen=True)
class WorkingPoint:
    """The background efficiency at a fixed signal efficiency (interpolated on the ROC curve).

    ``rejection`` is ``inf`` (and its error NaN) when no background event passes.
    """

    signal_efficiency: float
    threshold: float
    background_efficiency: float
    background_efficiency_error: float
    rejection: float
    rejection_error: float
    n_background: int


@dataclass(frozen=True)
class BinnedRate:
    """A fraction (e.g. accuracy) in bins of a variable, with binomial errors (NaN in empty bins)."""

    variable: str
    edges: np.ndarray
    centres: np.ndarray
    counts: np.ndarray
    value: np.ndarray
    error: np.ndarray


@dataclass(frozen=True)
class ClassificationPerformance:
    """Signal-vs-background performance of one model.

    Attributes:
        model: the model's name.
        signal, background: the PDG codes compared.
        n_signal, n_background: events of each kind.
        auc, auc_error: area under the ROC curve and its DeLong uncertainty.
        roc: the ROC curve.
        working_points: the background rejection at fixed signal efficiencies.
        accuracy, accuracy_error: fraction classified right with the cut ``discriminant >= 0.5``.
        accuracy_vs_energy: accuracy in true-energy bins (MeV).
        accuracy_vs_eta: accuracy in pseudorapidity bins (``None`` without ``truth["theta"]`` or
            when every event has the same angle).
    """

    model: str
    signal: int
    background: tuple[int, ...]
    n_signal: int
    n_background: int
    auc: float
    auc_error: float
    roc: RocCurve
    working_points: tuple[WorkingPoint, ...]
    accuracy: float
    accuracy_error: float
    accuracy_vs_energy: BinnedRate
    accuracy_vs_eta: BinnedRate | None


def roc_curve(signal_scores: np.ndarray, background_scores: np.ndarray) -> RocCurve:
    """The ROC curve of a discriminant (higher = more signal-like); tied scores make one point.

    Raises:
        ConfigError: either sample is empty.
    """
    signal = np.asarray(signal_scores, dtype=float).ravel()
    background = np.asarray(background_scores, dtype=float).ravel()
    if signal.size == 0 or background.size == 0:
        msg = f"a ROC curve needs signal and background events, got {signal.size} and {background.size}"
        raise ConfigError(msg)
    scores = np.concatenate([signal, background])
    is_signal = np.concatenate([np.ones(signal.size), np.zeros(background.size)])
    order = np.argsort(-scores, kind="stable")
    scores, is_signal = scores[order], is_signal[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores) != 0), scores.size - 1]
    true_positive = np.cumsum(is_signal)[last_of_tie]
    false_positive = (last_of_tie + 1) - true_positive
    return RocCurve(np.r_[0.0, true_positive / signal.size], np.r_[0.0, false_positive / background.size],
                    np.r_[np.inf, scores[last_of_tie]])


def auc_with_error(signal_scores: np.ndarray, background_scores: np.ndarray) -> tuple[float, float]:
    """Area under the ROC curve (Mann-Whitney, ties count 1/2) and its DeLong standard error.

    Raises:
        ConfigError: fewer than 2 signal or 2 background events.
    """
    v10, v01 = _structural_components(signal_scores, background_scores)
    variance = v10.var(ddof=1) / v10.size + v01.var(ddof=1) / v01.size
    return float(v10.mean()), float(math.sqrt(max(variance, 0.0)))


def _structural_components(signal_scores: np.ndarray, background_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's components: per signal event the share of background below it, per background event the share of
    signal above it (ties count 1/2); their means are the AUC."""
    signal = np.asarray(signal_scores, dtype=float).ravel()
    background = np.asarray(background_scores, dtype=float).ravel()
    m, n = signal.size, background.size
    if m < 2 or n < 2:
        msg = f"the AUC needs at least 2 signal and 2 background events, got {m} and {n}"
        raise ConfigError(msg)
    ranks = rankdata(np.concatenate([signal, background]))
    v10 = (ranks[:m] - rankdata(signal)) / n
    v01 = 1.0 - (ranks[m:] - rankdata(background)) / m
    return v10, v01


@dataclass(frozen=True)
class PairedAUC:
    """Two models' AUCs on the same events and DeLong's error of their difference (:func:`paired_auc`).

    Attributes:
        models: ``(first, second)``.
        auc: the two AUCs.
        difference: ``auc[0] - auc[1]`` (positive: the first model separates better).
        difference_error: its standard error, with the correlation of the two models on the same events.
    """

    models: tuple[str, str]
    auc: tuple[float, float]
    difference: float
    difference_error: float

    @property
    def significance(self) -> float:
        """``difference / difference_error`` (standard deviations; 0 for a zero error)."""
        return self.difference / self.difference_error if self.difference_error > 0 else 0.0


def paired_auc(first: Predictions, second: Predictions, signal: int | None = None,
               background: Sequence[int] | None = None) -> PairedAUC:
    """Is ``first`` a better classifier than ``second``? DeLong's test of two AUCs on the same events.

    The variance of the difference uses the covariance of the two models' structural components
    (DeLong, DeLong and Clarke-Pearson 1988), so the events both find easy or hard cancel.

    Raises:
        ConfigError: the predictions are not of the same events, or as :func:`classification_performance`.
    """
    check_same_events(first, second)
    components = []
    for predictions in (first, second):
        _, _, score, is_signal, is_background = _scored_events(predictions, signal, background)
        components.append(_structural_components(score[is_signal], score[is_background]))
    (v10_a, v01_a), (v10_b, v01_b) = components
    auc = (float(v10_a.mean()), float(v10_b.mean()))
    variance = (v10_a - v10_b).var(ddof=1) / v10_a.size + (v01_a - v01_b).var(ddof=1) / v01_a.size
    return PairedAUC((first.model, second.model), auc, auc[0] - auc[1], float(math.sqrt(max(variance, 0.0))))


def working_point(roc: RocCurve, signal_efficiency: float, n_background: int) -> WorkingPoint:
    """The background efficiency and rejection at ``signal_efficiency``, interpolated on ``roc``.

    Args:
        roc: the ROC curve.
        signal_efficiency: the target signal efficiency in (0, 1].
        n_background: background events behind the curve (for the binomial error).

    Raises:
        ConfigError: ``signal_efficiency`` outside (0, 1].
    """
    if not 0.0 < signal_efficiency <= 1.0:
        msg = f"a signal efficiency must be in (0, 1], got {signal_efficiency}"
        raise ConfigError(msg)
    # several points share a signal efficiency when only background passes between thresholds:
    # keep the first (lowest background efficiency)
    eff_s, first = np.unique(roc.signal_efficiency, return_index=True)
    eff_b = float(np.interp(signal_efficiency, eff_s, roc.background_efficiency[first]))
    finite = np.isfinite(roc.thresholds[first])
    threshold = float(np.interp(signal_efficiency, eff_s[finite], roc.thresholds[first][finite]))
    error = math.sqrt(max(eff_b * (1.0 - eff_b), 0.0) / n_background) if n_background else math.nan
    if eff_b > 0:
        rejection, rejection_error = 1.0 / eff_b, error / eff_b**2
    else:
        rejection, rejection_error = math.inf, math.nan
    return WorkingPoint(float(signal_efficiency), threshold, eff_b, error, rejection, rejection_error, n_background)


def pseudorapidity(theta: np.ndarray) -> np.ndarray:
    """Pseudorapidity ``eta = -ln tan(theta / 2)`` of polar angles ``theta`` (rad, in (0, pi))."""
    theta = np.asarray(theta, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):  # theta = 0 or pi: infinite eta, dropped by the binning
        return -np.log(np.tan(theta / 2.0))


def discriminant(scores: np.ndarray, classes: Sequence[int], signal: int, background: Sequence[int]) -> np.ndarray:
    """``p_s / (p_s + sum_B p_b)`` from class probabilities ``scores`` (N, classes).

    Raises:
        ConfigError: ``signal`` is not one of ``classes``.
    """
    classes = [int(c) for c in classes]
    if signal not in classes:
        msg = f"signal PDG code {signal} is not a class of the model (classes {classes}): choose --signal among them"
        raise ConfigError(msg)
    scores = np.asarray(scores, dtype=float)
    p_signal = scores[:, classes.index(signal)]
    columns = [classes.index(b) for b in background if b in classes]
    if not columns:
        return p_signal
    total = p_signal + scores[:, columns].sum(axis=1)
    return np.divide(p_signal, total, out=np.full(p_signal.shape, 0.5), where=total > 0)


def _binned_rate(variable: str, values: np.ndarray, passed: np.ndarray, edges: np.ndarray) -> BinnedRate:
    index = bin_index(values, edges)
    n_bins = edges.size - 1
    counts = np.bincount(index[index >= 0], minlength=n_bins)
    hits = np.bincount(index[index >= 0], weights=passed[index >= 0].astype(float), minlength=n_bins)
    value = np.divide(hits, counts, out=np.full(n_bins, np.nan), where=counts > 0)
    error = np.sqrt(np.divide(value * (1 - value), counts, out=np.full(n_bins, np.nan), where=counts > 0))
    return BinnedRate(variable, edges, 0.5 * (edges[1:] + edges[:-1]), counts, value, error)


def default_signal(classes: Sequence[int]) -> tuple[int, tuple[int, ...]]:
    """The default signal (the first class) and background (the others) of a model."""
    if len(classes) < 2:
        msg = f"particle ID needs at least 2 classes, the model has {list(classes)}"
        raise ConfigError(msg)
    return int(classes[0]), tuple(int(c) for c in classes[1:])


def _scored_events(predictions: Predictions, signal: int | None, background: Sequence[int] | None,
                   ) -> tuple[int, tuple[int, ...], np.ndarray, np.ndarray, np.ndarray]:
    """``(signal, background, discriminant, is_signal, is_background)`` of a model's events.

    Raises:
        ConfigError: no pid_score, the signal is not a class or is also background, or fewer than 2 signal
            or background events.
    """
    if "pid_score" not in predictions.predicted:
        msg = f"model {predictions.model!r} predicts no particle ID (no predicted['pid_score'])"
        raise ConfigError(msg)
    default_s, default_b = default_signal(predictions.classes)
    signal = default_s if signal is None else int(signal)
    background = tuple(int(b) for b in (default_b if background is None else background))
    if signal in background:
        msg = f"signal PDG code {signal} is also among the background codes {list(background)}"
        raise ConfigError(msg)
    score = discriminant(predictions.predicted["pid_score"], predictions.classes, signal, background)
    pdg = np.asarray(predictions.truth["pdg"]).astype(int)
    is_signal, is_background = pdg == signal, np.isin(pdg, background)
    n_signal, n_background = int(is_signal.sum()), int(is_background.sum())
    if n_signal < 2 or n_background < 2:
        msg = (f"model {predictions.model!r}: {n_signal} signal (PDG {signal}) and {n_background} background "
               f"(PDG {list(background)}) events in the truth; choose --signal/--background among the true "
               f"codes {sorted(set(pdg.tolist()))}")
        raise ConfigError(msg)
    return signal, background, score, is_signal, is_background


def classification_performance(
    predictions: Predictions,
    signal: int | None = None,
    background: Sequence[int] | None = None,
    *,
    efficiencies: Sequence[float] = DEFAULT_EFFICIENCIES,
    energy_edges: np.ndarray | None = None,
    n_eta_bins: int = 8,
) -> ClassificationPerformance:
    """ROC, AUC, rejection at fixed signal efficiency and accuracy of one model.

    Args:
        predictions: predictions with ``predicted["pid_score"]`` and ``classes``.
        signal: the signal PDG code; default the model's first class.
        background: background PDG codes; default the model's other classes.
        efficiencies: signal efficiencies of the working points.
        energy_edges: true-energy bins (MeV) of the accuracy; default 10 log bins over the sample.
        n_eta_bins: pseudorapidity bins of the accuracy (when ``truth["theta"]`` exists).

    Raises:
        ConfigError: no pid_score, the signal is not a class, or no signal / background events.
    """
    signal, background, score, is_signal, is_background = _scored_events(predictions, signal, background)
    selected = is_signal | is_background
    n_signal, n_background = int(is_signal.sum()), int(is_background.sum())
    roc = roc_curve(score[is_signal], score[is_background])
    auc, auc_error = auc_with_error(score[is_signal], score[is_background])
    points = tuple(working_point(roc, eff, n_background) for eff in efficiencies)
    correct = (score >= 0.5) == is_signal
    accuracy = float(correct[selected].mean())
    accuracy_error = math.sqrt(accuracy * (1 - accuracy) / int(selected.sum()))

    true_energy = np.asarray(predictions.truth["energy"], dtype=float)
    true_energy = true_energy.sum(axis=1) if true_energy.ndim == 2 else true_energy
    if energy_edges is None:
        positive = true_energy[selected & (true_energy > 0)]
        low, high = (positive.min(), positive.max()) if positive.size else (1.0, 2.0)
        energy_edges = np.geomspace(low, high, 11) if high > low else np.array([low * 0.9, low * 1.1])
    vs_energy = _binned_rate("energy", true_energy[selected], correct[selected], np.asarray(energy_edges, float))
    vs_eta = None
    if "theta" in predictions.truth:
        eta = pseudorapidity(predictions.truth["theta"])[selected]
        finite = eta[np.isfinite(eta)]
        if finite.size and finite.max() > finite.min():
            edges = np.linspace(finite.min(), finite.max(), n_eta_bins + 1)
            vs_eta = _binned_rate("eta", eta, correct[selected], edges)
    return ClassificationPerformance(predictions.model, signal, background, n_signal, n_background, auc, auc_error,
                                     roc, points, accuracy, accuracy_error, vs_energy, vs_eta)
