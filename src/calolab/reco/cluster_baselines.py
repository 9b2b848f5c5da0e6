"""Cluster baselines: the CMS log-weighted position and the two-seed split of overlapping photons.

``log-position`` (:class:`LogWeightedPosition`): log-weighted centre of gravity of the cluster window with
the S-curve correction, and the depth correction of projective incidence (showers from a vertex).
``two-seed`` (:class:`TwoSeedSplit`): two photons from one merged cluster by shower-shape splitting.
Both follow the :class:`~calolab.reco.baseline_core.Baseline` protocol and are registered in
:data:`calolab.reco.baselines.BASELINES` (which re-exports them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from calolab.errors import ConfigError, DatasetError
from calolab.reco.baseline_core import Baseline, _Config, _names, _take
from calolab.reco.clustering import (
    W0_POSITION,
    DepthCorrection,
    SCurveCorrection,
    cluster_windows,
    log_weighted_position,
    split_two_photons,
)

__all__ = ["LogWeightedPosition", "PositionConfig", "TwoSeedConfig", "TwoSeedSplit"]


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


# ---------------------------------------------------------------- position

class _ClusterBaseline(Baseline):
    """A baseline on one section's cell grid; it remembers the cell pitch it was fitted on."""

    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.cell_size: tuple[float, float] | None = None

    def _section(self, detector: Any) -> Any:
        return detector.section(self.config.section) if self.config.section else detector.sections[0]

    def sections(self, detector: Any) -> list[str]:
        return [self._section(detector).name]

    def _grid(self, cells: Mapping[str, np.ndarray], detector: Any,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]]:
        """The section's cells and its cell centres x, y (mm) and pitch (mm); refuses another pitch.

        Raises:
            ConfigError: ``cells`` lacks the section.
            DatasetError: the section's cells differ from those the model was fitted on.
        """
        section = self._section(detector)
        if section.name not in cells:
            msg = f"{self.kind} needs the cells of section {section.name!r}, got {list(cells)}"
            raise ConfigError(msg)
        size = (float(section.cell_size_x), float(section.cell_size_y))
        if self.cell_size is not None and not np.allclose(size, self.cell_size):
            msg = (f"section {section.name!r} has {size[0]:g} x {size[1]:g} mm cells but the model was fitted on "
                   f"{self.cell_size[0]:g} x {self.cell_size[1]:g} mm: use a file of the training detector")
            raise DatasetError(msg)
        self.cell_size = size
        return cells[section.name], section.cell_centres_x(), section.cell_centres_y(), size


class LogWeightedPosition(_ClusterBaseline):
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
        self.correction: SCurveCorrection | None = None
        self.depth: DepthCorrection | None = None

    def table(self, cells: Mapping[str, np.ndarray], detector: Any) -> tuple[np.ndarray, list[str]]:
        array, x, y, _ = self._grid(cells, detector)
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

class TwoSeedSplit(_ClusterBaseline):
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
        self.profile_length = math.nan  # cells, set by fit
        self.energy_scale = 1.0
        self.rms_mm: dict[str, float] = {}

    @staticmethod
    def column_names(length: float) -> list[str]:
        """The six columns of one profile length (cells)."""
        return [f"split{length:g}_{column}" for column in TwoSeedSplit.COLUMNS]

    def _all_names(self) -> list[str]:
        return [name for length in self.config.profile_lengths for name in self.column_names(length)]

    def table(self, cells: Mapping[str, np.ndarray], detector: Any) -> tuple[np.ndarray, list[str]]:
        array, x, y, size = self._grid(cells, detector)
        pitch = 0.5 * (size[0] + size[1])
        columns = []
        for length in self.config.profile_lengths:
            position, energy = split_two_photons(
                array, x, y, profile_length=length * pitch, w0=self.config.w0,
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
