"""The protocol every classical baseline follows, and what the feature-table baselines share.

See :mod:`calolab.reco.baselines` for the models, the registry and the file helpers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from calolab.errors import ConfigError, DatasetError
from calolab.features import feature_matrix

__all__ = ["Baseline", "FORMAT", "FORMAT_VERSION", "GEV"]

FORMAT = "calolab-baseline"
FORMAT_VERSION = 1
GEV = 1000.0  # MeV per GeV
Target = Literal["energy", "pid", "position"]


# ---------------------------------------------------------------- configs

class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _FeatureConfig(_Config):
    features: list[str] | None = Field(default=None, description="Columns to use (default: the model's choice).")
    threshold_mev: float = Field(default=0.1, ge=0, description="Cell threshold of the n_cells features, MeV.")

def _validated(config_class: type[_Config], config: Any, options: Mapping[str, Any], kind: str) -> Any:
    if isinstance(config, config_class) and not options:
        return config
    data = {**(config.model_dump() if isinstance(config, BaseModel) else dict(config or {})), **options}
    try:
        return config_class.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in error.errors())
        msg = f"{kind} baseline options: {problems} (valid options: {sorted(config_class.model_fields)})"
        raise ConfigError(msg) from None

# ---------------------------------------------------------------- the protocol

class Baseline:
    """Common protocol: ``table`` -> ``fit`` -> ``predict``, ``save`` / :func:`load_baseline`.

    Attributes:
        kind: the name in :data:`BASELINES` and model files.
        target: ``energy`` (predicts MeV), ``pid`` (PDG codes / class probabilities) or ``position`` (mm).
        config: the validated options.
        meta: provenance filled by :func:`fit_file` (data, signal, detector, section shapes, events).
    """

    kind: ClassVar[str] = ""
    target: ClassVar[Target]
    config_class: ClassVar[type[_Config]]

    def __init__(self, config: Any = None, **options: Any) -> None:
        self.config = _validated(self.config_class, config, options, self.kind)
        self.meta: dict[str, Any] = {}
        self.fitted = False

    def sections(self, detector: Any) -> list[str]:
        """The sections whose cells :meth:`table` needs."""
        return [section.name for section in detector.sections]

    def table(self, cells: Mapping[str, np.ndarray], detector: Any) -> tuple[np.ndarray, list[str]]:
        """The input table ``(N, F)`` and its column names, from cell arrays ``(N, layers, y, x)`` MeV."""
        raise NotImplementedError

    def fit(self, X: np.ndarray, y: np.ndarray, names: Sequence[str] | None = None) -> Baseline:
        raise NotImplementedError

    def predict(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        raise NotImplementedError

    def predicted_fields(self, X: np.ndarray, names: Sequence[str] | None) -> tuple[dict[str, np.ndarray],
                                                                                  tuple[int, ...]]:
        """What goes into a predictions file: ``predicted`` arrays and the PID classes."""
        return {self.target: self.predict(X, names)}, ()

    def summary(self) -> str:
        """One line on what was fitted (coefficients, cuts, trees), for the command line."""
        return ""

    def _check_fitted(self) -> None:
        if not self.fitted:
            msg = f"the {self.kind} baseline is not fitted: call fit (or calolab baseline fit) first"
            raise ConfigError(msg)

    def _state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _set_state(self, state: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to a JSON file (atomically); :func:`load_baseline` reads it back."""
        from calolab.data.atomic import atomic_path

        self._check_fitted()
        document = {"format": FORMAT, "version": FORMAT_VERSION, "kind": self.kind,
                    "config": self.config.model_dump(), "meta": self.meta, "state": self._state()}
        target = Path(path)
        with atomic_path(target) as temporary:
            temporary.write_text(json.dumps(document))
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Baseline:
        """A model saved by :meth:`save`; refuses a file of another kind."""
        from calolab.reco.baselines import load_baseline

        model = load_baseline(path)
        if cls is not Baseline and not isinstance(model, cls):
            msg = f"{path} holds a {model.kind!r} baseline, not {cls.kind!r}: load it with load_baseline"
            raise DatasetError(msg)
        return model


def _names(X: np.ndarray, names: Sequence[str] | None) -> list[str]:
    if X.ndim != 2:
        msg = f"the input table must be 2-d (events, columns), got shape {X.shape}"
        raise ConfigError(msg)
    if names is None:
        return [f"x{k}" for k in range(X.shape[1])]
    if len(names) != X.shape[1]:
        msg = f"{len(names)} column names for a table of {X.shape[1]} columns"
        raise ConfigError(msg)
    return list(names)


def _take(X: np.ndarray, names: Sequence[str], wanted: Sequence[str], what: str) -> np.ndarray:
    index = {name: k for k, name in enumerate(names)}
    missing = [name for name in wanted if name not in index]
    if missing:
        msg = (f"{what}: columns {missing} are not in the table (a model of another detector, or wrong "
               f"--features?); the table has {list(names)[:10]}{'...' if len(names) > 10 else ''}")
        raise DatasetError(msg)
    return np.asarray(X, dtype=np.float64)[:, [index[name] for name in wanted]]


class _FeatureBaseline(Baseline):
    """A baseline on the feature table: it keeps the names of its columns."""

    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.input_names: list[str] = []
        self.columns: list[str] = []

    def table(self, cells: Mapping[str, np.ndarray], detector: Any) -> tuple[np.ndarray, list[str]]:
        return feature_matrix(cells, detector, threshold_mev=self.config.threshold_mev)

    def _default_columns(self, names: list[str]) -> list[str]:
        return names

    def _fit_columns(self, X: np.ndarray, names: Sequence[str] | None) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        self.input_names = _names(X, names)
        self.columns = list(self.config.features or self._default_columns(self.input_names))
        return _take(X, self.input_names, self.columns, f"{self.kind} fit")

    def _columns(self, X: np.ndarray, names: Sequence[str] | None, wanted: Sequence[str] | None = None,
                 ) -> np.ndarray:
        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        if names is None:
            if X.ndim == 2 and X.shape[1] == len(self.input_names):
                names = self.input_names
            elif X.ndim == 2 and X.shape[1] == len(self.columns) and wanted is None:
                return X
            else:
                msg = (f"{self.kind}: a table of shape {X.shape} without column names; the model was fitted on "
                       f"{len(self.input_names)} columns: pass names=")
                raise ConfigError(msg)
        return _take(X, _names(X, names), self.columns if wanted is None else wanted, f"{self.kind} predict")

    def _feature_state(self) -> dict[str, Any]:
        return {"input_names": self.input_names, "columns": self.columns}

    def _set_feature_state(self, state: Mapping[str, Any]) -> None:
        self.input_names, self.columns = list(state["input_names"]), list(state["columns"])
