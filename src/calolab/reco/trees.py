"""Gradient-boosted trees (XGBoost) on the feature table: energy regression and particle ID."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from calolab.data.pid_classes import check_merged_classes
from calolab.errors import ConfigError, DatasetError
from calolab.reco.baseline_core import GEV, _FeatureBaseline, _FeatureConfig, _take

__all__ = ["BDTConfig", "BDTParticleID", "XGBoostEnergy", "XGBoostEnergyConfig"]


class _TreeConfig(_FeatureConfig):
    n_estimators: int = Field(default=1000, ge=1)
    max_depth: int = Field(default=6, ge=1)
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    subsample: float = Field(default=0.8, gt=0, le=1)
    min_child_weight: float = Field(default=1.0, ge=0)
    early_stopping_rounds: int = Field(default=30, ge=1)
    val_fraction: float = Field(default=0.2, ge=0, lt=1, description="Held-out share for early stopping.")
    seed: int = 0
    n_jobs: int | None = Field(default=None, ge=1, description="Threads (default: all cores).")


class XGBoostEnergyConfig(_TreeConfig):
    """``target``: ``ratio`` learns E_true / energy_total (a correction factor of the raw sum; default) or
    ``energy`` learns E_true in GeV directly."""

    target: Literal["ratio", "energy"] = "ratio"


class BDTConfig(_TreeConfig):
    classes: list[int] | None = Field(default=None, description="PDG codes (default: those in the training data).")
    merge_antiparticles: bool = Field(default=False, description="A particle and its antiparticle make one class, "
                                      "named |pdg| (e+- 11, pi+- 211).")

    @model_validator(mode="after")
    def _positive_classes_when_merged(self) -> BDTConfig:
        check_merged_classes(self.classes, self.merge_antiparticles)
        return self


def _split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, validation) indices; no validation when it would hold fewer than 2 events."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(fraction * n))
    if n_val < 2 or n - n_val < 2:
        return order, order[:0]
    return order[n_val:], order[:n_val]


def _booster_json(booster: Any) -> Any:
    return json.loads(bytes(booster.save_raw(raw_format="json")).decode())


def _booster_from_json(document: Any) -> Any:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(json.dumps(document).encode()))
    return booster


def _tree_options(config: _TreeConfig, validation: bool) -> dict[str, Any]:
    options: dict[str, Any] = {
        "n_estimators": config.n_estimators, "max_depth": config.max_depth, "learning_rate": config.learning_rate,
        "subsample": config.subsample, "min_child_weight": config.min_child_weight, "random_state": config.seed,
        "tree_method": "hist", "verbosity": 0,
    }
    if config.n_jobs is not None:
        options["n_jobs"] = config.n_jobs
    if validation:
        options["early_stopping_rounds"] = config.early_stopping_rounds
    return options


class _TreeBaseline(_FeatureBaseline):
    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.booster: Any = None
        self.best_iteration = 0

    def _train(self, estimator_class: Any, inputs: np.ndarray, targets: np.ndarray, **extra: Any) -> None:
        train, val = _split(len(inputs), self.config.val_fraction, self.config.seed)
        estimator = estimator_class(**_tree_options(self.config, val.size > 0), **extra)
        eval_set = [(inputs[val], targets[val])] if val.size else None
        estimator.fit(inputs[train], targets[train], eval_set=eval_set, verbose=False)
        self.booster = estimator.get_booster()
        self.best_iteration = int(estimator.best_iteration) if val.size else self.config.n_estimators - 1
        self.meta["trees"] = self.best_iteration + 1

    def summary(self) -> str:
        classes = getattr(self, "classes", ())
        return f"{self.best_iteration + 1} trees" + (f", classes {list(classes)}" if classes else "")

    def _raw_predict(self, inputs: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(inputs, iteration_range=(0, self.best_iteration + 1)),
                          dtype=np.float64)

    def _tree_state(self) -> dict[str, Any]:
        return {**self._feature_state(), "best_iteration": self.best_iteration,
                "booster": _booster_json(self.booster)}

    def _set_tree_state(self, state: Mapping[str, Any]) -> None:
        self._set_feature_state(state)
        self.best_iteration = int(state["best_iteration"])
        self.booster = _booster_from_json(state["booster"])


class XGBoostEnergy(_TreeBaseline):
    """Energy regression with gradient-boosted trees (XGBoost) on the feature table.

    With ``target="ratio"`` (default) the trees learn the factor E_true / energy_total (the table must
    hold ``energy_total``), so the squared loss is a relative one and the model extrapolates in scale;
    ``target="energy"`` learns E_true / GeV. Early stopping on a seeded validation share of the training
    events (``val_fraction``) picks the number of trees.
    """

    kind = "xgboost"
    target = "energy"
    config_class = XGBoostEnergyConfig

    def _sums(self, X: np.ndarray, names: Sequence[str] | None) -> np.ndarray:
        if names is None and X.shape[1] == len(self.input_names):
            names = self.input_names
        if names is None or "energy_total" not in names:
            msg = ("xgboost target 'ratio' needs the column 'energy_total' in the table (pass names=, or use "
                   "target='energy')")
            raise ConfigError(msg)
        return _take(X, list(names), ["energy_total"], "xgboost")[:, 0]

    def fit(self, X: np.ndarray, y: np.ndarray, names: Sequence[str] | None = None) -> XGBoostEnergy:
        """Fit on inputs ``X`` (N, F) and true energies ``y`` (N,) MeV."""
        import xgboost

        X = np.asarray(X, dtype=np.float64)
        inputs = self._fit_columns(X, names)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if self.config.target == "ratio":
            sums = self._sums(X, self.input_names)
            good = np.isfinite(y) & (sums > 0)
            targets = np.divide(y, sums, out=np.zeros_like(y), where=sums > 0)
        else:
            good = np.isfinite(y)
            targets = y / GEV
        if good.sum() < 2:
            msg = f"xgboost energy regression needs at least 2 events with energy in the detector, got {good.sum()}"
            raise DatasetError(msg)
        self._train(xgboost.XGBRegressor, inputs[good], targets[good], objective="reg:squarederror")
        self.fitted = True
        return self

    def predict(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Energies (N,) MeV (0 for an empty event with ``target="ratio"``)."""
        raw = self._raw_predict(self._columns(X, names))
        if self.config.target == "ratio":
            return raw * np.maximum(self._sums(np.asarray(X, dtype=np.float64), names), 0.0)
        return raw * GEV

    def _state(self) -> dict[str, Any]:
        return self._tree_state()

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self._set_tree_state(state)


# ---------------------------------------------------------------- particle ID

class BDTParticleID(_TreeBaseline):
    """Multi-class particle ID with gradient-boosted trees on the feature table.

    ``classes`` are PDG codes (sorted, or as configured); :meth:`predict_proba` has one column per class.
    Events of other particles are left out of the training.
    """

    kind = "bdt"
    target = "pid"
    config_class = BDTConfig

    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.classes: tuple[int, ...] = ()

    def fit(self, X: np.ndarray, y: np.ndarray, names: Sequence[str] | None = None) -> BDTParticleID:
        """Fit on inputs ``X`` (N, F) and PDG codes ``y`` (N,)."""
        import xgboost

        inputs = self._fit_columns(X, names)
        pdg = np.asarray(y).reshape(-1).astype(np.int64)
        if self.config.merge_antiparticles:
            pdg = np.abs(pdg)
        classes = tuple(int(c) for c in (self.config.classes or np.unique(pdg)))
        if len(set(classes)) < 2:
            msg = f"particle ID needs at least two classes, the training data has PDG codes {sorted(set(classes))}"
            raise DatasetError(msg)
        lookup = {c: k for k, c in enumerate(classes)}
        labels = np.array([lookup.get(int(p), -1) for p in pdg])
        keep = labels >= 0
        if len(np.unique(labels[keep])) < len(classes):
            msg = f"particle ID: some of the classes {list(classes)} have no training events"
            raise DatasetError(msg)
        extra = {"objective": "binary:logistic"} if len(classes) == 2 else \
            {"objective": "multi:softprob", "num_class": len(classes)}
        self._train(xgboost.XGBClassifier, inputs[keep], labels[keep], **extra)
        self.classes = classes
        self.fitted = True
        return self

    def predict_proba(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Class probabilities (N, classes), columns in the order of ``classes``."""
        raw = self._raw_predict(self._columns(X, names))
        if len(self.classes) == 2:
            return np.stack([1.0 - raw, raw], axis=1)
        return raw.reshape(len(raw), len(self.classes))

    def predict(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """The most probable PDG code of each event (N,)."""
        return np.asarray(self.classes)[self.predict_proba(X, names).argmax(axis=1)]

    def predicted_fields(self, X: np.ndarray, names: Sequence[str] | None) -> tuple[dict[str, np.ndarray],
                                                                                  tuple[int, ...]]:
        return {"pid_score": self.predict_proba(X, names).astype(np.float32)}, self.classes

    def _state(self) -> dict[str, Any]:
        return {**self._tree_state(), "classes": list(self.classes)}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self._set_tree_state(state)
        self.classes = tuple(int(c) for c in state["classes"])
