"""Physics validation of showers: compare a candidate shower file with a reference.

The CaloChallenge metrics (Krause et al., arXiv:2410.21611) and the physics plots of the seed
projects: observables per section and particle type (:mod:`~calolab.validate.observables`),
histograms on the reference's bins (:mod:`~calolab.validate.histograms`) with separation power
and chi2 (:mod:`~calolab.validate.separation`, :mod:`~calolab.validate.comparison`), classifier
two-sample tests (:mod:`~calolab.validate.classifier`), FPD and KPD
(:mod:`~calolab.validate.distances`), all run by :func:`run_validation`
(:mod:`~calolab.validate.suite`); figures in :mod:`~calolab.validate.plots` and the HTML page in
:mod:`calolab.report`.
"""

from calolab.validate.classifier import ClassifierConfig, ClassifierResult, classifier_test, low_level_inputs
from calolab.validate.comparison import HistogramComparison, ProfileComparison, compare_histograms, compare_profiles
from calolab.validate.distances import Distance, fpd, frechet_distance, kpd, mmd_polynomial, standardise
from calolab.validate.histograms import histogram, reference_edges
from calolab.validate.observables import (
    OBSERVABLES,
    Observable,
    SectionGeometry,
    ShowerObservables,
    high_level_features,
    read_observables,
    section_observables,
)
from calolab.validate.separation import (
    Chi2,
    chi2_histograms,
    chi2_profiles,
    expected_separation,
    separation_power,
)
from calolab.validate.suite import ValidationConfig, ValidationResult, file_metadata, run_validation

__all__ = [
    "OBSERVABLES",
    "Chi2",
    "ClassifierConfig",
    "ClassifierResult",
    "Distance",
    "HistogramComparison",
    "Observable",
    "ProfileComparison",
    "SectionGeometry",
    "ShowerObservables",
    "ValidationConfig",
    "ValidationResult",
    "chi2_histograms",
    "chi2_profiles",
    "classifier_test",
    "compare_histograms",
    "compare_profiles",
    "expected_separation",
    "file_metadata",
    "fpd",
    "frechet_distance",
    "high_level_features",
    "histogram",
    "kpd",
    "low_level_inputs",
    "mmd_polynomial",
    "read_observables",
    "reference_edges",
    "run_validation",
    "section_observables",
    "separation_power",
    "standardise",
]
