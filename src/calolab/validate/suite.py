"""The validation suite: compare a candidate shower file with a reference, observable by observable.

>>> result = run_validation("geant4.h5", "gan.h5", config={"max_events": 10_000})  # doctest: +SKIP
>>> result.classifiers["low-level"].auc                                           # doctest: +SKIP
>>> Path("figures.json").write_text(result.to_json())                             # doctest: +SKIP

For every section and particle group (``all`` events, and each primary species when the files
hold more than one) it compares the observables of :mod:`calolab.validate.observables`: the
per-event ones as histograms (separation power and chi2), the shower shapes as mean profiles
(chi2). Then, over all events, the classifier two-sample tests on low-level (cell) and high-level
inputs (:mod:`calolab.validate.classifier`) and FPD/KPD on the high-level features,
standardised with the reference (:mod:`calolab.validate.distances`).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from calolab import __version__
from calolab.data.showerfile import ShowerFile
from calolab.errors import ConfigError, DatasetError, format_validation_error
from calolab.serialise import to_jsonable
from calolab.validate.classifier import ClassifierConfig, ClassifierResult, classifier_test, low_level_inputs
from calolab.validate.closure import ClosureResult, closure_test
from calolab.validate.comparison import HistogramComparison, ProfileComparison, compare_histograms, compare_profiles
from calolab.validate.distances import Distance, fpd, kpd, standardise
from calolab.validate.observables import OBSERVABLES, ShowerObservables, high_level_features, read_observables

__all__ = ["ValidationConfig", "ValidationResult", "file_metadata", "run_validation"]

_PROFILE_SOURCES = {"profile_z": "layer_energy", "profile_x": "profile_x", "profile_y": "profile_y",
                    "profile_cell_energy": "layer_mean_cell_energy"}


class ValidationConfig(BaseModel):
    """Settings of :func:`run_validation` (validated; unknown fields are refused).

    Attributes:
        max_events: events read from each file (the first ones; all when ``None``).
        bins: bins per histogram.
        threshold_mev: cells at or below this energy count as empty (MeV).
        signal: ``energy`` (active energy) or ``digitized`` (the readout signal, when both files have it).
        per_particle: also compare each primary species on its own when the files hold several.
        classifier: run the classifier tests.
        low_level: include the low-level (cell) classifier.
        classifier_options: network and training settings (its seed is replaced by ``seed``).
        max_cells: most ``events x cells`` values per sample held for the low-level classifier.
        distances: compute FPD and KPD.
        fpd_max_samples, fpd_points, fpd_batches: FPD subsample sizes and repetitions.
        kpd_batch_size, kpd_batches: KPD batches.
        seed: seed of every random choice (classifier split and weights, FPD/KPD subsamples).
        chunk: events read at a time.
        blas_threads: numpy BLAS threads during the run (restored afterwards; ``None``: the library's
            default). The matrices here are small: one thread is fastest, and threads competing for
            busy cores slow covariances and eigendecompositions down by factors of 10 to 100.
        closure_model: a trained reconstruction checkpoint run on both files (the closure test of
            :mod:`calolab.validate.closure`); ``None`` skips it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_events: int | None = Field(default=None, ge=1)
    bins: int = Field(default=30, ge=2, le=1000)
    threshold_mev: float = Field(default=0.0, ge=0.0)
    signal: Literal["energy", "digitized"] = "energy"
    per_particle: bool = True
    classifier: bool = True
    low_level: bool = True
    classifier_options: ClassifierConfig = Field(default_factory=ClassifierConfig)
    max_cells: int = Field(default=25_000_000, ge=1000)
    distances: bool = True
    fpd_max_samples: int = Field(default=50_000, ge=10)
    fpd_points: int = Field(default=10, ge=2)
    fpd_batches: int = Field(default=10, ge=1)
    kpd_batch_size: int = Field(default=5_000, ge=2)
    kpd_batches: int = Field(default=10, ge=1)
    seed: int = 0
    chunk: int = Field(default=1024, ge=1)
    blas_threads: int | None = Field(default=1, ge=1)
    closure_model: Path | None = None

    @classmethod
    def make(cls, values: ValidationConfig | Mapping[str, Any] | None = None, **overrides: Any) -> ValidationConfig:
        """Validate a config (or a mapping of its fields, with overrides); errors become :class:`ConfigError`."""
        data = values.model_dump() if isinstance(values, BaseModel) else dict(values or {})
        try:
            return cls(**(data | overrides))
        except ValidationError as error:
            raise ConfigError(format_validation_error(error, what="validation config")) from None


def file_metadata(showers: ShowerFile) -> dict[str, Any]:
    """What the report shows of a file: path, events, detector, engine, seed, gun, sections (no data read)."""
    meta = showers.metadata
    return {
        "path": str(showers.path), "n_events": showers.n_events, "detector": showers.detector_name,
        "engine": meta.get("engine"), "engine_version": meta.get("engine_version"), "seed": meta.get("seed"),
        "created": meta.get("created"), "calolab_version": meta.get("calolab_version"), "gun": meta.get("gun"),
        "sections": {name: list(showers.shape(name)) for name in showers.sections},
        "digitized": showers.has_digitized,
    }


@dataclass
class ValidationResult:
    """Everything the suite measured; :meth:`figures` / :meth:`to_json` give it as JSON.

    Attributes:
        reference, candidate: :func:`file_metadata` of the two files.
        config: the settings used.
        n_reference, n_candidate: events compared.
        groups: particle group -> (reference events, candidate events).
        histograms: one :class:`~calolab.validate.comparison.HistogramComparison` per group,
            section, observable (and layer).
        profiles: the mean shower shapes.
        classifiers: ``low-level`` / ``high-level`` -> result (empty without the classifier tests).
        fpd, kpd: the distances on the high-level features (``None`` when skipped).
        closure: the reconstruction network's view of both samples (``None`` without ``closure_model``);
            its comparisons are also in ``histograms`` (group ``closure``).
        feature_names: the high-level features.
        notes: what was skipped or capped, and why.
        seconds: wall time.
    """

    reference: dict[str, Any]
    candidate: dict[str, Any]
    config: ValidationConfig
    n_reference: int
    n_candidate: int
    groups: dict[str, tuple[int, int]]
    histograms: list[HistogramComparison]
    profiles: list[ProfileComparison]
    classifiers: dict[str, ClassifierResult] = field(default_factory=dict)
    fpd: Distance | None = None
    kpd: Distance | None = None
    closure: ClosureResult | None = None
    feature_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def histogram(self, key: str) -> HistogramComparison:
        """The comparison ``group/section/observable`` (``[layer]`` for a per-layer one)."""
        for comparison in self.histograms:
            if comparison.key == key:
                return comparison
        msg = f"no histogram {key!r}; keys look like 'all/ECAL/energy_ratio' or 'all/ECAL/layer_energy[0]'"
        raise KeyError(msg)

    def profile(self, key: str) -> ProfileComparison:
        """The profile ``group/section/profile_*``."""
        for comparison in self.profiles:
            if comparison.key == key:
                return comparison
        msg = f"no profile {key!r}; keys look like 'all/ECAL/profile_z'"
        raise KeyError(msg)

    def summary(self) -> list[dict[str, Any]]:
        """One row per group, section and observable; per-layer observables give their worst layer."""
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        for c in self.histograms:
            key = (c.group, c.section, c.observable.name)
            row = rows.get(key)
            if row is None or (math.isfinite(c.separation) and not c.separation <= row["separation_power"]):
                rows[key] = {"group": c.group, "section": c.section, "observable": c.observable.name,
                             "layer": c.layer, "separation_power": c.separation,
                             "separation_power_expected": c.separation_expected, "chi2": c.chi2.chi2,
                             "ndf": c.chi2.ndf, "p_value": c.chi2.p_value}
        return list(rows.values())

    def figures(self) -> dict[str, Any]:
        """Every figure of merit, histogram and profile as JSON-able data (NaN and infinities -> ``None``)."""
        return to_jsonable({
            "calolab_version": __version__,
            "reference": self.reference,
            "candidate": self.candidate,
            "config": self.config.model_dump(mode="json"),
            "n_reference": self.n_reference,
            "n_candidate": self.n_candidate,
            "groups": {name: {"reference": a, "candidate": b} for name, (a, b) in self.groups.items()},
            "classifiers": {name: result.figures() for name, result in self.classifiers.items()},
            "fpd": None if self.fpd is None else self.fpd.figures(),
            "kpd": None if self.kpd is None else self.kpd.figures(),
            "closure": None if self.closure is None else self.closure.figures(),
            "feature_names": self.feature_names,
            "summary": self.summary(),
            "histograms": {c.key: c.figures() for c in self.histograms},
            "profiles": {c.key: c.figures() for c in self.profiles},
            "notes": self.notes,
            "seconds": self.seconds,
        })

    def to_json(self, indent: int | None = 1) -> str:
        """:meth:`figures` as JSON text."""
        return json.dumps(self.figures(), indent=indent, allow_nan=False)


def _open(source: ShowerFile | str | os.PathLike[str], role: str) -> tuple[ShowerFile, bool]:
    if isinstance(source, ShowerFile):
        return source, False
    try:
        return ShowerFile(source), True
    except DatasetError as error:
        msg = f"{role} file: {error}"
        raise DatasetError(msg) from None


def _check_compatible(reference: ShowerFile, candidate: ShowerFile, signal: str) -> None:
    shapes_ref = {name: reference.shape(name) for name in reference.sections}
    shapes_cand = {name: candidate.shape(name) for name in candidate.sections}
    if shapes_ref != shapes_cand:
        msg = (f"the files hold different detectors: reference {reference.path} has sections {shapes_ref} "
               f"(layers, y, x) but candidate {candidate.path} has {shapes_cand}: compare showers of the same "
               f"detector geometry (convert or window one of them first)")
        raise DatasetError(msg)
    for showers, role in ((reference, "reference"), (candidate, "candidate")):
        if showers.n_events < 2:
            msg = f"{role} file {showers.path} holds {showers.n_events} events: the comparison needs at least 2"
            raise DatasetError(msg)
        if signal == "digitized" and not showers.has_digitized:
            msg = (f"signal 'digitized' but the {role} file {showers.path} has no digitized signal: run calolab "
                   f"digitize on it, or compare the active energy (signal 'energy')")
            raise DatasetError(msg)


def _groups(ref: ShowerObservables, cand: ShowerObservables, per_particle: bool
            ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from calolab.plots import particle_name

    groups = {"all": (np.ones(ref.n_events, bool), np.ones(cand.n_events, bool))}
    species = sorted(set(np.unique(ref.pdg).tolist()) | set(np.unique(cand.pdg).tolist()))
    if per_particle and len(species) > 1:
        for pdg in species:
            groups[particle_name(int(pdg))] = (ref.pdg == pdg, cand.pdg == pdg)
    return groups


def _compare_group(name: str, masks: tuple[np.ndarray, np.ndarray], ref: ShowerObservables,
                   cand: ShowerObservables, bins: int) -> tuple[list[HistogramComparison], list[ProfileComparison]]:
    mask_ref, mask_cand = masks
    histograms: list[HistogramComparison] = []
    profiles: list[ProfileComparison] = []
    for section, values_ref in ref.sections.items():
        values_cand = cand.sections[section]
        geometry = ref.geometry[section]
        for observable in OBSERVABLES.values():
            if observable.kind == "scalar" and observable.name in values_ref:
                histograms.append(compare_histograms(values_ref[observable.name][mask_ref],
                                                     values_cand[observable.name][mask_cand], observable,
                                                     group=name, section=section, bins=bins))
            elif observable.kind == "layer":
                a, b = values_ref[observable.name][mask_ref], values_cand[observable.name][mask_cand]
                histograms += [compare_histograms(a[:, layer], b[:, layer], observable, group=name, section=section,
                                                  layer=layer, bins=bins) for layer in range(a.shape[1])]
            elif observable.kind == "cells":
                a = values_ref["cell_energy"][mask_ref[values_ref["cell_event"]]]
                b = values_cand["cell_energy"][mask_cand[values_cand["cell_event"]]]
                histograms.append(compare_histograms(a, b, observable, group=name, section=section, bins=bins))
            elif observable.kind == "profile":
                source = _PROFILE_SOURCES[observable.name]
                axis = {"profile_x": (geometry.x, "x"), "profile_y": (geometry.y, "y")}.get(observable.name,
                                                                                           (geometry.z, "depth z"))
                label = f"{axis[1]} ({geometry.unit})"
                profiles.append(compare_profiles(values_ref[source][mask_ref], values_cand[source][mask_cand],
                                                 observable, positions=axis[0], position_label=label, group=name,
                                                 section=section))
    return histograms, profiles


def _read_cells(showers: ShowerFile, n: int, signal: str) -> dict[str, np.ndarray]:
    read = showers.digitized if signal == "digitized" else showers.energy
    return {name: read(name, slice(0, n)) for name in showers.sections}


def _classifiers(reference: ShowerFile, candidate: ShowerFile, ref: ShowerObservables, cand: ShowerObservables,
                 features: tuple[np.ndarray, np.ndarray], config: ValidationConfig, notes: list[str]
                 ) -> dict[str, ClassifierResult]:
    options = ClassifierConfig.make(config.classifier_options, seed=config.seed)
    results: dict[str, ClassifierResult] = {}
    if config.low_level:
        n_cells = sum(int(np.prod(reference.shape(name))) for name in reference.sections)
        n = min(ref.n_events, cand.n_events, options.max_events)
        cap = max(10, config.max_cells // max(n_cells, 1))
        if n > cap:
            notes.append(f"low-level classifier: {cap} events per sample ({n_cells} cells each; max_cells "
                         f"{config.max_cells})")
            n = cap
        x_ref = low_level_inputs(_read_cells(reference, n, config.signal), ref.e_inc[:n])
        x_cand = low_level_inputs(_read_cells(candidate, n, config.signal), cand.e_inc[:n])
        results["low-level"] = classifier_test(x_ref, x_cand, config=options, name="low-level")
    results["high-level"] = classifier_test(*features, config=options, name="high-level")
    return results


def run_validation(reference: ShowerFile | str | os.PathLike[str], candidate: ShowerFile | str | os.PathLike[str],
                   *, config: ValidationConfig | Mapping[str, Any] | None = None) -> ValidationResult:
    """Compare a candidate shower file with a reference one.

    Args:
        reference: the reference showers (a path or an open :class:`~calolab.data.showerfile.ShowerFile`).
        candidate: the showers to judge, of the same detector geometry.
        config: a :class:`ValidationConfig` or a mapping of its fields.

    Raises:
        DatasetError: a file is missing, foreign or broken, the two detectors differ, or a file
            lacks the digitised signal asked for.
        ConfigError: a bad config field.
    """
    from threadpoolctl import threadpool_limits

    config = ValidationConfig.make(config)
    with threadpool_limits(limits=config.blas_threads):
        return _run(reference, candidate, config)


def _run(reference: ShowerFile | str | os.PathLike[str], candidate: ShowerFile | str | os.PathLike[str],
         config: ValidationConfig) -> ValidationResult:
    start = time.perf_counter()
    ref_file, close_ref = _open(reference, "reference")
    try:
        cand_file, close_cand = _open(candidate, "candidate")
    except BaseException:
        if close_ref:
            ref_file.close()
        raise
    try:
        _check_compatible(ref_file, cand_file, config.signal)
        ref, cand = (read_observables(showers, max_events=config.max_events, threshold_mev=config.threshold_mev,
                                      signal=config.signal, chunk=config.chunk) for showers in (ref_file, cand_file))
        notes = [*ref.notes, *cand.notes]
        groups = _groups(ref, cand, config.per_particle)
        histograms: list[HistogramComparison] = []
        profiles: list[ProfileComparison] = []
        for name, masks in groups.items():
            if masks[0].sum() < 2 or masks[1].sum() < 2:
                notes.append(f"group {name}: {int(masks[0].sum())} reference and {int(masks[1].sum())} candidate "
                             f"events; skipped (needs 2 of each)")
                continue
            h, p = _compare_group(name, masks, ref, cand, config.bins)
            histograms += h
            profiles += p
        closure = None
        if config.closure_model is not None:
            closure = closure_test(config.closure_model, ref_file.path, cand_file.path, max_events=config.max_events,
                                   bins=config.bins)
            histograms += closure.comparisons
        features_ref, names = high_level_features(ref)
        features_cand, _ = high_level_features(cand)
        result = ValidationResult(
            reference=file_metadata(ref_file), candidate=file_metadata(cand_file), config=config,
            n_reference=ref.n_events, n_candidate=cand.n_events,
            groups={name: (int(a.sum()), int(b.sum())) for name, (a, b) in groups.items()},
            histograms=histograms, profiles=profiles, feature_names=names, notes=notes, closure=closure)
        if config.classifier:
            if min(ref.n_events, cand.n_events) >= 10:
                result.classifiers = _classifiers(ref_file, cand_file, ref, cand, (features_ref, features_cand),
                                                  config, notes)
            else:
                notes.append("classifier tests skipped: they need at least 10 events in each file")
        if config.distances:
            a, b = standardise(features_ref, features_cand)
            if min(len(a), len(b)) >= a.shape[1] + 2:
                result.fpd = fpd(a, b, max_samples=config.fpd_max_samples, num_points=config.fpd_points,
                                 num_batches=config.fpd_batches, seed=config.seed)
            else:
                notes.append(f"FPD skipped: {min(len(a), len(b))} events for {a.shape[1]} features (needs "
                             f"{a.shape[1] + 2})")
            result.kpd = kpd(a, b, batch_size=config.kpd_batch_size, num_batches=config.kpd_batches, seed=config.seed)
        result.seconds = time.perf_counter() - start
        return result
    finally:
        if close_ref:
            ref_file.close()
        if close_cand:
            cand_file.close()
