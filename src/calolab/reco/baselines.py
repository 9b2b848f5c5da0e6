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
:mod:`calolab.reco.baseline_core`, the tree models in :mod:`calolab.reco.trees` (re-exported here).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator

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
from calolab.reco.clustering import (
    W0_POSITION,
    DepthCorrection,
    SCurveCorrection,
    cluster_windows,
    log_weighted_position,
    split_two_photons,
)
from calolab.reco.predictions import Predictions
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


class PositionConfig(_Config):
    w0: float = Field(default=W0_POSITION, description="Log-weight cut-off (CMS 4.2).")
    window: int = Field(default=5, ge=1, description="Cluster window, odd number of cells.")
    section: str | None = Field(default=None, description="Section (default: the first).")
    scurve: bool = Field(default=True, description="Apply the S-curve correction learned in fit.")
    bins: int = Field(default=20, ge=1)
    min_entries: int = Field(default=10, ge=1)
    vertex_distance: float | None = Field(default=None, gt=0, description=(
        "mm: showers fly from a vertex this far before the face (projective incidence); fit the depth "
        "correction of the estimate (DepthCorrection). None: normal incidence."))

    @field_validator("window")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            msg = f"window must be an odd number of cells, got {value}"
            raise ValueError(msg)
        return value


class TwoSeedConfig(_Config):
    section: str | None = Field(default=None, description="Section (default: the first).")
    w0: float = Field(default=W0_POSITION, description="Log-weight cut-off of the photon positions (CMS 4.2).")
    iterations: int = Field(default=5, ge=1, description="Sharing / update rounds.")
    search_window: int = Field(default=7, ge=3, description="Block searched for the second maximum, odd, cells.")
    min_fraction: float = Field(default=0.02, ge=0, lt=1,
                                description="Least energy of the second maximum, fraction of the first seed's.")
    profile_lengths: list[float] = Field(default=[0.15, 0.2, 0.3, 0.4, 0.6], min_length=1,
                                         description="Profile decay lengths scanned in fit, in cells.")

    @field_validator("search_window")
    @classmethod
    def _odd_window(cls, value: int) -> int:
        if value % 2 == 0:
            msg = f"search_window must be an odd number of cells, got {value}"
            raise ValueError(msg)
        return value

    @field_validator("profile_lengths")
    @classmethod
    def _lengths(cls, value: list[float]) -> list[float]:
        if any(not v > 0 for v in value) or len(set(value)) != len(value):
            msg = f"profile_lengths must be distinct lengths > 0 (in cells), e.g. [0.2, 0.3, 0.4], got {value}"
            raise ValueError(msg)
        return value

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

# ---------------------------------------------------------------- position

class LogWeightedPosition(Baseline):
    """CMS log-weighted centre of gravity of the cluster window, with an optional S-curve correction.

    The table holds ``(lw_x, lw_y, seed_x, seed_y)`` mm: the log-weighted estimate and the centre of the
    seed cell (:func:`calolab.reco.clustering.log_weighted_position`), and ``energy`` (MeV, the section's
    sum); :meth:`fit` learns the :class:`~calolab.reco.clustering.SCurveCorrection` from true impact points
    ``(N, 2)`` mm, after the :class:`~calolab.reco.clustering.DepthCorrection` of projective incidence when
    the config gives a ``vertex_distance``.
    """

    kind = "log-position"
    target = "position"
    config_class = PositionConfig
    NAMES = ("lw_x", "lw_y", "seed_x", "seed_y")
    ENERGY = "energy"

    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.cell_size: tuple[float, float] | None = None
        self.correction: SCurveCorrection | None = None
        self.depth: DepthCorrection | None = None

    def _section(self, detector: Any) -> Any:
        return detector.section(self.config.section) if self.config.section else detector.sections[0]

    def sections(self, detector: Any) -> list[str]:
        return [self._section(detector).name]

    def table(self, cells: Mapping[str, np.ndarray], detector: Any) -> tuple[np.ndarray, list[str]]:
        section = self._section(detector)
        if section.name not in cells:
            msg = f"log-position needs the cells of section {section.name!r}, got {list(cells)}"
            raise ConfigError(msg)
        size = (float(section.cell_size_x), float(section.cell_size_y))
        if self.cell_size is not None and not np.allclose(size, self.cell_size):
            msg = (f"section {section.name!r} has {size[0]:g} x {size[1]:g} mm cells but the model was fitted on "
                   f"{self.cell_size[0]:g} x {self.cell_size[1]:g} mm: use a file of the training detector")
            raise DatasetError(msg)
        self.cell_size = size
        x, y = section.cell_centres_x(), section.cell_centres_y()
        array = cells[section.name]
        estimate = log_weighted_position(array, x, y, w0=self.config.w0, window=self.config.window)
        seed = cluster_windows(array, x, y, 1)[3]
        energy = array.sum(axis=tuple(range(1, array.ndim)), dtype=np.float64)[:, None]
        return np.concatenate([estimate, seed, energy], axis=1), [*self.NAMES, self.ENERGY]

    def _layout(self, X: np.ndarray) -> list[str]:
        """Column names of an unnamed table: the table's own layout (4 columns: no energy)."""
        return [*self.NAMES, self.ENERGY][:np.shape(X)[1]] if np.ndim(X) == 2 else list(self.NAMES)

    def _estimate(self, X: np.ndarray, names: Sequence[str] | None, what: str) -> tuple[np.ndarray, np.ndarray]:
        """The (depth-corrected) estimate and the seed-cell centres, each ``(N, 2)`` mm."""
        X = np.asarray(X, dtype=np.float64)
        wanted = [*self.NAMES, self.ENERGY] if self.config.vertex_distance is not None else list(self.NAMES)
        X = _take(X, _names(X, names or self._layout(X)), wanted, what)
        estimate = X[:, :2] if self.depth is None else self.depth.apply(X[:, :2], X[:, 4])
        return estimate, X[:, 2:4]

    def fit(self, X: np.ndarray, y: np.ndarray, names: Sequence[str] | None = None) -> LogWeightedPosition:
        """Learn the corrections from the table ``X`` (N, 5) and true impact points ``y`` (N, 2) mm."""
        self.depth = None
        if self.config.vertex_distance is not None:
            raw = _take(np.asarray(X, dtype=np.float64), _names(np.asarray(X), names or self._layout(X)),
                        [*self.NAMES, self.ENERGY], "log-position fit")
            self.depth = DepthCorrection.fit(raw[:, :2], y, raw[:, 4], self.config.vertex_distance)
        estimate, seed = self._estimate(X, names, "log-position fit")
        if self.config.scurve:
            if self.cell_size is None:
                msg = "log-position: the cell size is unknown: build the table with table(cells, detector) first"
                raise ConfigError(msg)
            self.correction = SCurveCorrection.fit(estimate, seed, y, self.cell_size, bins=self.config.bins,
                                                   min_entries=self.config.min_entries)
        self.fitted = True
        return self

    def predict(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Impact points (N, 2) mm (depth and S-curve corrected when fitted with them)."""
        self._check_fitted()
        estimate, seed = self._estimate(X, names, "log-position predict")
        return estimate if self.correction is None else self.correction.apply(estimate, seed)

    def summary(self) -> str:
        text = f"w0 {self.config.w0:g}, {self.config.window}x{self.config.window} window"
        if self.depth is not None:
            text += f", depth {self.depth.a:.1f} + {self.depth.b:.1f} ln(E/GeV) mm"
        if self.correction is not None:
            largest = float(np.abs(self.correction.shift).max())
            text += f", S-curve correction up to {largest:.3f} cells"
        return text

    def predicted_fields(self, X: np.ndarray, names: Sequence[str] | None) -> tuple[dict[str, np.ndarray],
                                                                                  tuple[int, ...]]:
        return {"position": self.predict(X, names), "position_raw": np.asarray(X, dtype=np.float64)[:, :2]}, ()

    def _state(self) -> dict[str, Any]:
        return {"cell_size": self.cell_size,
                "correction": None if self.correction is None else self.correction.to_dict(),
                "depth": None if self.depth is None else self.depth.to_dict()}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.cell_size = None if state["cell_size"] is None else tuple(state["cell_size"])  # type: ignore[assignment]
        self.correction = None if state["correction"] is None else SCurveCorrection.from_dict(state["correction"])
        self.depth = None if state.get("depth") is None else DepthCorrection.from_dict(state["depth"])

# ---------------------------------------------------------------- overlapping photons

class TwoSeedSplit(Baseline):
    """Two overlapping photons in one cluster by shower-shape splitting, tuned on simulated pairs.

    :func:`calolab.reco.clustering.split_two_photons` shares the section's cells between two seeds with an
    exponential lateral profile. The table holds its result for each profile length of the config's grid
    (in cells of the section: ``profile_length_mm = length * cell size``), six columns each, named
    ``split<length>_<column>`` for ``x1, y1, x2, y2`` (mm) and ``e1, e2`` (MeV, uncalibrated deposits),
    photon 1 the more energetic. :meth:`fit` takes the true photons ``(N, 2, 3)`` ``[x mm, y mm, E MeV]``,
    keeps the profile length with the smallest rms position error (each coordinate of each photon; photons
    matched to the truth by the pairing of least summed distance, events without two true photons
    skipped) and the energy scale (least squares ``E_true ~ scale * E_measured`` of the matched photons,
    the containment calibration).

    Its predictions have the layout of the ``overlap`` network's: ``photon_position`` (N, 2, 2) mm,
    ``photon_energy`` (N, 2) MeV by falling energy, and ``position`` = ``photon_position``.
    """

    kind = "two-seed"
    target = "photons"  # type: ignore[assignment]  # baseline_core.Target lists energy, pid, position
    config_class = TwoSeedConfig
    COLUMNS = ("x1", "y1", "x2", "y2", "e1", "e2")

    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.cell_size: tuple[float, float] | None = None
        self.profile_length = math.nan  # cells, set by fit
        self.energy_scale = 1.0
        self.rms_mm: dict[str, float] = {}

    @staticmethod
    def column_names(length: float) -> list[str]:
        """The six columns of one profile length (cells)."""
        return [f"split{length:g}_{column}" for column in TwoSeedSplit.COLUMNS]

    def _all_names(self) -> list[str]:
        return [name for length in self.config.profile_lengths for name in self.column_names(length)]

    def _section(self, detector: Any) -> Any:
        return detector.section(self.config.section) if self.config.section else detector.sections[0]

    def sections(self, detector: Any) -> list[str]:
        return [self._section(detector).name]

    def table(self, cells: Mapping[str, np.ndarray], detector: Any) -> tuple[np.ndarray, list[str]]:
        section = self._section(detector)
        if section.name not in cells:
            msg = f"two-seed needs the cells of section {section.name!r}, got {list(cells)}"
            raise ConfigError(msg)
        size = (float(section.cell_size_x), float(section.cell_size_y))
        if self.cell_size is not None and not np.allclose(size, self.cell_size):
            msg = (f"section {section.name!r} has {size[0]:g} x {size[1]:g} mm cells but the model was fitted on "
                   f"{self.cell_size[0]:g} x {self.cell_size[1]:g} mm: use a file of the training detector")
            raise DatasetError(msg)
        self.cell_size = size
        x, y = section.cell_centres_x(), section.cell_centres_y()
        pitch = 0.5 * (size[0] + size[1])
        columns = []
        for length in self.config.profile_lengths:
            position, energy = split_two_photons(
                cells[section.name], x, y, profile_length=length * pitch, w0=self.config.w0,
                iterations=self.config.iterations, search_window=self.config.search_window,
                min_fraction=self.config.min_fraction)
            columns.append(np.concatenate([position.reshape(-1, 4), energy], axis=1))
        return np.concatenate(columns, axis=1), self._all_names()

    def _photons(self, X: np.ndarray, names: Sequence[str] | None, length: float, what: str,
                 ) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float64)
        if names is None and X.ndim == 2 and X.shape[1] == len(self._all_names()):
            names = self._all_names()
        block = _take(X, _names(X, names), self.column_names(length), what)
        return block[:, :4].reshape(-1, 2, 2), block[:, 4:]

    def fit(self, X: np.ndarray, y: np.ndarray, names: Sequence[str] | None = None) -> TwoSeedSplit:
        """Choose the profile length and the energy scale from true photons ``y`` (N, 2, 3) [x mm, y mm, E MeV].

        Raises:
            ConfigError: ``y`` is not (N, 2, 3) for the N events of the table.
            DatasetError: no event with two true photons.
        """
        from calolab.evaluate.position import match_photons

        truth = np.asarray(y, dtype=np.float64)
        if truth.shape != (len(X), 2, 3):
            msg = (f"two-seed fit: y must be the true photons (N={len(X)}, 2, 3) [x mm, y mm, E MeV], got shape "
                   f"{truth.shape}")
            raise ConfigError(msg)
        good = np.all(np.isfinite(truth), axis=(1, 2)) & np.all(truth[:, :, 2] > 0, axis=1)
        if not good.any():
            msg = "two-seed fit: no event has two true photons: fit on photon pairs or pi0 decays"
            raise DatasetError(msg)
        true_position, true_energy = truth[good, :, :2], truth[good, :, 2]
        results = []  # (rms mm, length cells, energy scale)
        for length in self.config.profile_lengths:
            position, energy = self._photons(X, names, length, "two-seed fit")
            order = match_photons(position[good], true_position)
            matched = np.take_along_axis(position[good], order[:, :, None], axis=1)
            measured = np.take_along_axis(energy[good], order, axis=1)
            denominator = float(np.sum(measured ** 2))
            scale = float(np.sum(measured * true_energy)) / denominator if denominator > 0 else 1.0
            results.append((float(np.sqrt(np.mean((matched - true_position) ** 2))), float(length), scale))
        self.rms_mm = {f"{length:g}": rms for rms, length, _ in results}
        _, self.profile_length, self.energy_scale = min(results, key=lambda result: result[0])
        self.fitted = True
        return self

    def predict(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """The two photons ``(N, 2, 3)`` ``[x mm, y mm, E MeV]`` (calibrated), by falling energy."""
        self._check_fitted()
        position, energy = self._photons(X, names, self.profile_length, "two-seed predict")
        return np.concatenate([position, self.energy_scale * energy[:, :, None]], axis=2)

    def predicted_fields(self, X: np.ndarray, names: Sequence[str] | None) -> tuple[dict[str, np.ndarray],
                                                                                  tuple[int, ...]]:
        photons = self.predict(X, names)
        position = np.ascontiguousarray(photons[:, :, :2])
        return {"photon_position": position, "photon_energy": np.ascontiguousarray(photons[:, :, 2]),
                "position": position}, ()

    def summary(self) -> str:
        if not self.fitted:
            return ""
        pitch = "" if self.cell_size is None else f" ({self.profile_length * 0.5 * sum(self.cell_size):.3g} mm)"
        rms = self.rms_mm.get(f"{self.profile_length:g}", float("nan"))
        return (f"profile length {self.profile_length:g} cells{pitch}, photon position rms {rms:.3g} mm per "
                f"coordinate, energy scale {self.energy_scale:.4f}, w0 {self.config.w0:g}")

    def _state(self) -> dict[str, Any]:
        return {"cell_size": self.cell_size, "profile_length": self.profile_length,
                "energy_scale": self.energy_scale, "rms_mm": self.rms_mm}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.cell_size = None if state["cell_size"] is None else tuple(state["cell_size"])  # type: ignore[assignment]
        self.profile_length = float(state["profile_length"])
        self.energy_scale = float(state["energy_scale"])
        self.rms_mm = {str(k): float(v) for k, v in state["rms_mm"].items()}

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


def fit_file(model: Baseline, data: str | os.PathLike[str], *, signal: str = "raw", max_events: int | None = None,
             chunk: int = 256) -> Baseline:
    """Fit ``model`` on a shower file: its target truth per event.

    The targets: energy MeV, PDG code, impact point (x, y) mm, or for ``photons`` the two leading
    primaries ``(N, 2, 3)`` ``[x mm, y mm, E MeV]``.

    Raises:
        DatasetError: a missing or foreign file, no events, no digitised signal when asked for.
    """
    X, names, truth, info = file_table(model, data, signal, max_events, chunk)
    if model.target == "photons":
        target = np.concatenate([truth["photon_position"], truth["photon_energy"][:, :, None]], axis=2)
    else:
        target = {"energy": truth["energy"], "pid": truth["pdg"], "position": truth["position"]}[model.target]
    model.fit(X, target, names)
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
    if model.target == "photons":
        truth["position"] = truth["photon_position"]
    else:
        truth = {key: value for key, value in truth.items() if not key.startswith("photon_")}
    predicted, classes = model.predicted_fields(X, names)
    return Predictions(model=name or model.kind, truth=truth, predicted=predicted, classes=classes,
                       attrs={"model_path": str(model_path), "data": str(data), "task": model.target,
                              "signal": signal, "n_events": info["n_events"]})
