"""Evaluation of reconstruction models: energy resolution, particle ID and position performance.

Every model writes a :class:`~calolab.reco.predictions.Predictions` file; this package turns any
set of them into figures of merit:

* :mod:`~calolab.evaluate.core`: the iterative Gaussian core fit and the binning;
* :mod:`~calolab.evaluate.resolution`: bias and resolution vs true energy and the fit of
  ``sigma/E = a/sqrt(E) (+) b/E (+) c``; a paired bootstrap of two models' resolutions per bin;
* :mod:`~calolab.evaluate.classification`: ROC curve, AUC with its DeLong error, background
  rejection at fixed signal efficiency, accuracy vs energy and pseudorapidity; DeLong's test of
  two models' AUCs on the same events;
* :mod:`~calolab.evaluate.position`: position resolution vs energy and in-cell impact point, and
  per-photon resolution of overlap models vs separation;
* :mod:`~calolab.evaluate.evaluation`: :func:`evaluate_models`, all of it for several models and
  a JSON of figures.
"""

from __future__ import annotations

from calolab.evaluate.classification import (
    BinnedRate,
    ClassificationPerformance,
    PairedAUC,
    RocCurve,
    WorkingPoint,
    auc_with_error,
    classification_performance,
    discriminant,
    paired_auc,
    pseudorapidity,
    roc_curve,
    working_point,
)
from calolab.evaluate.core import GaussianCore, bin_index, energy_bins, fit_gaussian_core
from calolab.evaluate.evaluation import Evaluation, ModelEvaluation, evaluate_models
from calolab.evaluate.position import (
    OverlapBins,
    OverlapPerformance,
    PositionBins,
    PositionPerformance,
    match_photons,
    overlap_performance,
    position_in_cell,
    position_performance,
)
from calolab.evaluate.resolution import (
    EnergyPerformance,
    PairedResolution,
    ResolutionFit,
    energy_performance,
    fit_resolution,
    paired_resolution,
    relative_resolution,
    resolution_model,
)

__all__ = [
    "BinnedRate",
    "ClassificationPerformance",
    "PairedAUC",
    "EnergyPerformance",
    "PairedResolution",
    "Evaluation",
    "GaussianCore",
    "ModelEvaluation",
    "OverlapBins",
    "OverlapPerformance",
    "PositionBins",
    "PositionPerformance",
    "ResolutionFit",
    "RocCurve",
    "WorkingPoint",
    "auc_with_error",
    "bin_index",
    "classification_performance",
    "discriminant",
    "paired_auc",
    "energy_bins",
    "energy_performance",
    "evaluate_models",
    "fit_gaussian_core",
    "fit_resolution",
    "paired_resolution",
    "match_photons",
    "overlap_performance",
    "position_in_cell",
    "position_performance",
    "pseudorapidity",
    "relative_resolution",
    "resolution_model",
    "roc_curve",
    "working_point",
]
