"""Classical reconstruction baselines: calibration, boosted trees, cut-based ID and cluster positions.

Every baseline follows one small protocol (:class:`Baseline`)::

    model = XGBoostEnergy(seed=1)                  # keyword options or a config, validated (pydantic)
    X, names = model.table(cells, detector)        # its input table from cell arrays (MeV)
    model.fit(X, y, names)                         # y: energy MeV (N,), PDG codes (N,) or (x, y) mm (N, 2)
    model.predict(X, names)                        # energy MeV, PDG codes or (x, y) mm
    model.save("model.json"); load_baseline("model.json")

and :func:`fit_file` / :func:`predict_file` run it on shower files chunk by chunk; the predictions file
(:mod:`calolab.reco.predictions`) is what ``calolab evaluate`` compares with the neural networks.

=================== ============================================================================
kind                model
=================== ============================================================================
``linear``          :class:`LinearCalibration`: E = a E_ECAL + b E_HCAL + c (least squares)
``xgboost``         :class:`XGBoostEnergy`: gradient-boosted trees on the features
``bdt``             :class:`BDTParticleID`: gradient-boosted multi-class classifier on the features
``cut-id``          :class:`CutBasedPhotonID`: cuts on shower shapes at a target signal efficiency
``log-position``    :class:`LogWeightedPosition`: CMS log-weighted centre + S-curve correction
``two-seed``        :class:`TwoSeedSplit`: two overlapping photons by shower-shape cluster splitting
=================== ============================================================================

The feature models read the table of :func:`calolab.features.feature_matrix`; a model keeps the names of
the columns it was trained on, so it refuses a table of another detector. The protocol lives in
:mod:`calolab.reco.baseline_core`, the tree models in :mod:`calolab.reco.trees` and the cluster models in
:mod:`calolab.reco.cluster_baselines` (both re-exported here).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from calolab.errors import ConfigError, DatasetError
from calolab.features import check_reading
from calolab.reco.baseline_core import (
    FORMAT,
    FORMAT_VERSION,
    Baseline,
    _Config,
    _FeatureBaseline,
    _FeatureConfig,
    _names,
    _take,
)
from calolab.reco.cluster_baselines import LogWeightedPosition, PositionConfig, TwoSeedConfig, TwoSeedSplit
from calolab.reco.predictions import Predictions, prediction_truth
from calolab.reco.trees import BDTParticleID, XGBoostEnergy

__all__ = [
    "BASELINES",
    "Baseline",
    "BDTParticleID",
    "CutBasedPhotonID",
    "CutIDConfig",
    "LinearCalibration",
    "LinearConfig",
    "LogWeightedPosition",
    "PositionConfig",
    "TwoSeedConfig",
    "TwoSeedSplit",
    "XGBoostEnergy",
    "file_table",
    "fit_file",
    "fit_target",
    "load_baseline",
    "make_baseline",
    "predict_file",
    "read_truth",
]

# ---------------------------------------------------------------- configs

class LinearConfig(_FeatureConfig):
    """Linear calibration: default columns are the section energies ``<S>_energy``."""

    fit_intercept: bool = True

class CutIDConfig(_Config):
    signal: int = Field(default=22, description="PDG code of the signal (photons).")
    efficiency: float = Field(default=0.9, gt=0, le=1, description="Signal efficiency on the training data.")
    variables: list[str] | None = Field(default=None, description="Shower shapes to cut on (default: "
                                        "sigma_ieta_ieta, R9, E1/E9 of the first section and HCAL/ECAL).")
    threshold_mev: float = Field(default=0.1, ge=0)


# ---------------------------------------------------------------- energy

class LinearCalibration(_FeatureBaseline):
    """E = a E_ECAL + b E_HCAL + c (one coefficient per section energy; ``a E + c`` for one section).

    Least squares on the training events, energies in MeV. ``coefficients`` maps each column to its
    factor, ``intercept`` is ``c`` (MeV).
    """

    kind = "linear"
    target = "energy"
    config_class = LinearConfig

    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.coefficients: dict[str, float] = {}
        self.intercept = 0.0

    def _default_columns(self, names: list[str]) -> list[str]:
        sections = [n for n in names if n.endswith("_energy") and n != "energy_total"]
        return sections or names

    def fit(self, X: np.ndarray, y: np.ndarray, names: Sequence[str] | None = None) -> LinearCalibration:
        """Fit on inputs ``X`` (N, F) and true energies ``y`` (N,) MeV."""
        inputs = self._fit_columns(X, names)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        good = np.all(np.isfinite(inputs), axis=1) & np.isfinite(y)
        needed = inputs.shape[1] + int(self.config.fit_intercept)
        if good.sum() < needed:
            msg = f"linear calibration needs at least {needed} events with finite inputs, got {int(good.sum())}"
            raise DatasetError(msg)
        design = np.column_stack([inputs[good], np.ones(int(good.sum()))]) if self.config.fit_intercept \
            else inputs[good]
        solution, *_ = np.linalg.lstsq(design, y[good], rcond=None)
        self.coefficients = {name: float(v) for name, v in zip(self.columns, solution, strict=False)}
        self.intercept = float(solution[-1]) if self.config.fit_intercept else 0.0
        self.fitted = True
        return self

    def summary(self) -> str:
        terms = ", ".join(f"{name} x {value:.4g}" for name, value in self.coefficients.items())
        return f"E = {terms} + {self.intercept:.4g} MeV"

    def predict(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Energies (N,) MeV."""
        inputs = self._columns(X, names)
        return inputs @ np.array([self.coefficients[c] for c in self.columns]) + self.intercept

    def _state(self) -> dict[str, Any]:
        return {**self._feature_state(), "coefficients": self.coefficients, "intercept": self.intercept}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self._set_feature_state(state)
        self.coefficients = {k: float(v) for k, v in state["coefficients"].items()}
        self.intercept = float(state["intercept"])

class CutBasedPhotonID(_FeatureBaseline):
    """Rectangular cuts on shower shapes, tuned on training data to a target signal efficiency.

    Each variable keeps the side where the signal lies (``<`` when the signal's median is below the
    background's, else ``>``). Its score is the share of training signal beyond the event's value on the
    background side (1 deep in the signal side, 0 past the whole signal), and the event's score is the
    minimum over the variables: cutting every variable at the same per-variable efficiency is the same as
    cutting the score, and the threshold is set so that ``efficiency`` of the training signal passes.
    ``pid_score`` columns: ``(signal, *background codes)`` with ``(score, (1 - score) / K, ...)``.
    """

    kind = "cut-id"
    target = "pid"
    config_class = CutIDConfig
    _LEVELS = 1001  # stored signal quantiles per variable

    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.directions: dict[str, str] = {}
        self.quantiles: dict[str, list[float]] = {}
        self.threshold = 0.0
        self.classes: tuple[int, ...] = ()

    def _default_columns(self, names: list[str]) -> list[str]:
        first = next((n[: -len("_sigma_ieta_ieta")] for n in names if n.endswith("_sigma_ieta_ieta")), None)
        if first is None:
            return names
        chosen = [f"{first}_sigma_ieta_ieta", f"{first}_r9", f"{first}_e1_e9"]
        return [*chosen, "hcal_ecal_ratio"] if "hcal_ecal_ratio" in names else chosen

    def _fit_columns(self, X: np.ndarray, names: Sequence[str] | None) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        self.input_names = _names(X, names)
        self.columns = list(self.config.variables or self._default_columns(self.input_names))
        return _take(X, self.input_names, self.columns, "cut-id fit")

    def _variable_scores(self, inputs: np.ndarray) -> np.ndarray:
        scores = np.empty_like(inputs)
        for k, name in enumerate(self.columns):
            sorted_signal = np.asarray(self.quantiles[name])
            n = sorted_signal.size
            if self.directions[name] == "<":  # keep small values: share of signal at or above x
                scores[:, k] = (n - np.searchsorted(sorted_signal, inputs[:, k], side="left")) / n
            else:
                scores[:, k] = np.searchsorted(sorted_signal, inputs[:, k], side="right") / n
        return scores

    def score(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """The photon score (N,) in [0, 1]; events with ``score >= threshold`` pass the cuts."""
        return self._variable_scores(self._columns(X, names)).min(axis=1)

    def fit(self, X: np.ndarray, y: np.ndarray, names: Sequence[str] | None = None) -> CutBasedPhotonID:
        """Tune the cuts on inputs ``X`` (N, F) and PDG codes ``y`` (N,)."""
        inputs = self._fit_columns(X, names)
        pdg = np.asarray(y).reshape(-1).astype(np.int64)
        signal = pdg == self.config.signal
        if signal.sum() < 2 or (~signal).sum() < 1:
            msg = (f"cut-based ID needs signal (PDG {self.config.signal}) and background events, got "
                   f"{int(signal.sum())} and {int((~signal).sum())}")
            raise DatasetError(msg)
        levels = np.linspace(0.0, 1.0, self._LEVELS)
        for k, name in enumerate(self.columns):
            values = inputs[:, k]
            below = np.median(values[signal]) <= np.median(values[~signal])
            self.directions[name] = "<" if below else ">"
            self.quantiles[name] = np.quantile(values[signal], levels).tolist()
        signal_scores = self._variable_scores(inputs[signal]).min(axis=1)
        self.threshold = float(np.quantile(signal_scores, 1.0 - self.config.efficiency, method="lower"))
        self.classes = (int(self.config.signal), *(int(c) for c in np.unique(pdg[~signal])))
        self.fitted = True
        return self

    def cuts(self) -> dict[str, tuple[str, float]]:
        """The equivalent cut on each variable: name -> (``<`` or ``>``, value)."""
        self._check_fitted()
        out = {}
        for name in self.columns:
            q = np.asarray(self.quantiles[name])
            level = 1.0 - self.threshold if self.directions[name] == "<" else self.threshold
            out[name] = (self.directions[name], float(np.quantile(q, min(max(level, 0.0), 1.0))))
        return out

    def summary(self) -> str:
        cuts = ", ".join(f"{name} {side} {value:.4g}" for name, (side, value) in self.cuts().items())
        return f"{cuts} ({self.config.efficiency:.0%} of PDG {self.config.signal} on the training data)"

    def predict(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Whether each event passes the cuts (N,) bool."""
        return self.score(X, names) >= self.threshold

    def predicted_fields(self, X: np.ndarray, names: Sequence[str] | None) -> tuple[dict[str, np.ndarray],
                                                                                  tuple[int, ...]]:
        score = self.score(X, names)
        k = max(len(self.classes) - 1, 1)
        columns = [score, *([(1.0 - score) / k] * (len(self.classes) - 1))]
        return {"pid_score": np.stack(columns, axis=1).astype(np.float32),
                "passed": (score >= self.threshold).astype(np.int8)}, self.classes

    def _state(self) -> dict[str, Any]:
        return {**self._feature_state(), "directions": self.directions, "quantiles": self.quantiles,
                "threshold": self.threshold, "classes": list(self.classes)}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self._set_feature_state(state)
        self.directions = dict(state["directions"])
        self.quantiles = {k: list(v) for k, v in state["quantiles"].items()}
        self.threshold = float(state["threshold"])
        self.classes = tuple(int(c) for c in state["classes"])

# ---------------------------------------------------------------- registry and files

#: kind -> class
BASELINES: dict[str, type[Baseline]] = {cls.kind: cls for cls in (
    LinearCalibration, XGBoostEnergy, BDTParticleID, CutBasedPhotonID, LogWeightedPosition, TwoSeedSplit)}


def make_baseline(kind: str, config: Any = None, **options: Any) -> Baseline:
    """A new, unfitted baseline of ``kind`` (a key of :data:`BASELINES`).

    Raises:
        ConfigError: an unknown kind or invalid options.
    """
    if kind not in BASELINES:
        msg = f"unknown baseline {kind!r}: choose one of {sorted(BASELINES)}"
        raise ConfigError(msg)
    return BASELINES[kind](config, **options)


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    """A fitted baseline from a file written by :meth:`Baseline.save`.

    Raises:
        DatasetError: the file is missing, not JSON, not a calolab baseline, or from a newer calolab.
    """
    source = Path(path)
    if not source.is_file():
        msg = f"baseline model {source} does not exist: fit one with calolab baseline fit"
        raise DatasetError(msg)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        msg = f"{source} is not a calolab baseline model (not a JSON file): give the -o file of calolab baseline fit"
        raise DatasetError(msg) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        msg = f"{source} is a JSON file but not a calolab baseline model (no format {FORMAT!r})"
        raise DatasetError(msg)
    if int(document.get("version", 0)) > FORMAT_VERSION:
        msg = f"{source} was written by a newer calolab (format {document['version']}): upgrade calolab"
        raise DatasetError(msg)
    kind = document.get("kind")
    if kind not in BASELINES:
        msg = f"{source}: unknown baseline kind {kind!r} (known: {sorted(BASELINES)})"
        raise DatasetError(msg)
    model = BASELINES[kind](document["config"])
    try:
        model._set_state(document["state"])
    except (KeyError, TypeError, ValueError) as error:
        msg = f"{source}: the {kind} model state is damaged ({type(error).__name__}: {error}); fit it again"
        raise DatasetError(msg) from None
    model.meta = dict(document.get("meta", {}))
    model.fitted = True
    return model


def read_truth(showers: Any, events: slice) -> dict[str, np.ndarray]:
    """Per-event truth of a :class:`~calolab.data.showerfile.ShowerFile` slice.

    ``energy`` (MeV): sum of the transported primaries' kinetic energies; ``pdg``: the first primary's code;
    ``position`` (N, 2) mm: its impact point on the front face; ``theta`` rad: its polar angle to z;
    ``photon_position`` (N, 2, 2) mm and ``photon_energy`` (N, 2) MeV: the two most energetic transported
    primaries (:meth:`~calolab.sim.events.Primaries.leading`, NaN where absent); and the file's numeric
    1-d ``/truth`` arrays (``opening_angle``, ``separation``, ...).
    """
    primaries = showers.primaries(events)
    n = primaries.n_events
    counts = np.diff(primaries.event_offsets)
    first = np.minimum(primaries.event_offsets[:-1], max(primaries.n_particles - 1, 0))
    has = counts > 0
    if primaries.n_particles:
        pdg = np.where(has, primaries.pdg[first], 0)
        position = np.where(has[:, None], primaries.position[first][:, :2], np.nan)
        cos_theta = np.clip(primaries.direction[first][:, 2], -1.0, 1.0)
        theta = np.where(has, np.arccos(cos_theta), np.nan)
    else:
        pdg, position, theta = np.zeros(n, dtype=np.int32), np.full((n, 2), np.nan), np.full(n, np.nan)
    photon_position, photon_energy = primaries.leading(2)
    truth = {"energy": primaries.event_energy(), "pdg": pdg.astype(np.int32), "position": position,
             "theta": theta, "photon_position": photon_position, "photon_energy": photon_energy}
    for key in showers.extra_keys():
        array = np.asarray(showers._rows(showers._file[f"truth/{key}"], events))
        if array.ndim == 1 and array.dtype.kind in "iuf" and key not in truth:
            truth[key] = array
    return truth


def file_table(model: Baseline, data: str | os.PathLike[str], signal: str = "raw", max_events: int | None = None,
               chunk: int = 256) -> tuple[np.ndarray, list[str], dict[str, np.ndarray], dict[str, Any]]:
    """The model's input table ``(N, F)`` with its column names, the truth and facts of a shower file.

    Read ``chunk`` events at a time; the facts are the file, signal, detector, section shapes and events.
    """
    from calolab.data.showerfile import ShowerFile

    check_reading(signal, chunk)
    with ShowerFile(data) as showers:
        n = showers.n_events if max_events is None else min(max_events, showers.n_events)
        if n == 0:
            msg = f"{showers.path} has no events: simulate some first"
            raise DatasetError(msg)
        if signal == "digitized" and not showers.has_digitized:
            msg = (f"{showers.path} has no digitized signal (--signal digitized): run calolab digitize first, "
                   f"or use --signal raw")
            raise DatasetError(msg)
        detector = showers.detector
        sections = model.sections(detector)
        read = showers.digitized if signal == "digitized" else showers.energy
        tables: list[np.ndarray] = []
        truths: list[dict[str, np.ndarray]] = []
        names: list[str] = []
        for start in range(0, n, chunk):
            part = slice(start, min(start + chunk, n))
            table, names = model.table({name: read(name, part) for name in sections}, detector)
            tables.append(table)
            truths.append(read_truth(showers, part))
        shapes = {name: list(showers.shape(name)) for name in sections}
        info = {"data": str(data), "signal": signal, "detector": showers.detector_name, "shapes": shapes,
                "n_events": n}
    truth = {key: np.concatenate([t[key] for t in truths]) for key in truths[0]}
    return np.concatenate(tables), names, truth, info


def fit_target(truth: Mapping[str, np.ndarray], target: str) -> np.ndarray:
    """What a baseline of ``target`` is fitted to, from per-event truth (:func:`read_truth`): energy MeV
    (``energy``), PDG code (``pid``), impact point (N, 2) mm (``position``) or the two leading primaries
    ``(N, 2, 3)`` ``[x mm, y mm, E MeV]`` (``photons``)."""
    if target == "photons":
        return np.concatenate([truth["photon_position"], truth["photon_energy"][:, :, None]], axis=2)
    return truth[{"energy": "energy", "pid": "pdg", "position": "position"}[target]]


def fit_file(model: Baseline, data: str | os.PathLike[str], *, signal: str = "raw", max_events: int | None = None,
             chunk: int = 256) -> Baseline:
    """Fit ``model`` on a shower file: its target truth per event.

    The targets: energy MeV, PDG code, impact point (x, y) mm, or for ``photons`` the two leading
    primaries ``(N, 2, 3)`` ``[x mm, y mm, E MeV]``.

    Raises:
        DatasetError: a missing or foreign file, no events, no digitised signal when asked for.
    """
    X, names, truth, info = file_table(model, data, signal, max_events, chunk)
    model.fit(X, fit_target(truth, model.target), names)
    model.meta.update(info)
    return model


def predict_file(model: Baseline, data: str | os.PathLike[str], *, signal: str | None = None,
                 name: str | None = None, max_events: int | None = None, chunk: int = 256,
                 model_path: str | os.PathLike[str] = "") -> Predictions:
    """Predict every event of a shower file; truth as in :func:`read_truth`. Write it with ``write_predictions``.

    As the networks' predictions do, the truth keeps ``photon_position`` / ``photon_energy`` only for a
    two-photon model (target ``photons``), whose truth ``position`` is then the photons' (N, 2, 2), the
    layout :func:`calolab.evaluate.overlap_performance` compares with its predicted ``position``.

    Args:
        model: a fitted baseline.
        data: the shower file.
        signal: ``raw`` or ``digitized``; default the signal the model was fitted on.
        name: model name in the predictions (default: the kind).
        max_events: only the first events.
        chunk: events per read.
        model_path: recorded in the predictions' attributes.

    Raises:
        DatasetError: a foreign file, or sections of other shapes than the training file's.
    """
    model._check_fitted()
    signal = signal or str(model.meta.get("signal", "raw"))
    X, names, truth, info = file_table(model, data, signal, max_events, chunk)
    trained = model.meta.get("shapes")
    if trained is not None and {k: list(v) for k, v in trained.items()} != info["shapes"]:
        msg = (f"{data} has sections {info['shapes']} but the {model.kind} model was fitted on {trained}: "
               f"predict on files of the training detector")
        raise DatasetError(msg)
    predicted, classes = model.predicted_fields(X, names)
    return Predictions(model=name or model.kind, truth=prediction_truth(truth, model.target == "photons"),
                       predicted=predicted, classes=classes,
                       attrs={"model_path": str(model_path), "data": str(data), "task": model.target,
                              "signal": signal, "n_events": info["n_events"]})
