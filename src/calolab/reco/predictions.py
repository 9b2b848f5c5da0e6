"""Predictions of a reconstruction model on a shower file: the currency of ``calolab evaluate``.

Every reconstruction model -- a classical baseline or a neural network -- writes the same
predictions file, so the evaluation compares any set of models side by side. HDF5 layout::

    /truth/energy         (N,) float64, MeV: true (kinetic) energy of the event's primaries
    /truth/pdg            (N,) int32: PDG code of the event's first primary
    /truth/position       (N, 2) float64, mm: impact point of the first primary (optional)
    /truth/theta          (N,) float64, rad: polar angle of the first primary to the z axis (optional)
    /truth/<key>          any other per-event truth (opening_angle, separation, ...)
    /predicted/energy     (N,) float64, MeV (optional)
    /predicted/pid_score  (N, classes) float32: class probabilities (optional), with the attribute
                          ``classes`` (PDG codes of the columns)
    /predicted/position   (N, 2) or (N, k, 2) float64, mm (optional; k photons of an overlap model)
    /predicted/<key>      anything else the model predicts
    attrs: model (name), model_path, data (the shower file), task, calolab_version, created
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from calolab import __version__
from calolab.data.atomic import atomic_path
from calolab.errors import DatasetError

__all__ = ["Predictions", "average_predictions", "prediction_truth", "write_predictions", "read_predictions"]


@dataclass
class Predictions:
    """What a model predicted for ``N`` events, next to the truth.

    Attributes:
        model: the model's name (``"cnn"``, ``"xgboost"``, ...), used in plots and tables.
        truth: per-event truth arrays, first axis N (``energy`` MeV and ``pdg`` required).
        predicted: per-event predictions, first axis N (``energy`` MeV, ``pid_score``, ``position`` mm, ...).
        classes: PDG codes of the columns of ``predicted["pid_score"]`` (empty without PID).
        attrs: provenance (model path, data file, task, ...).
    """

    model: str
    truth: dict[str, np.ndarray]
    predicted: dict[str, np.ndarray]
    classes: tuple[int, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("energy", "pdg"):
            if key not in self.truth:
                msg = f"Predictions of {self.model!r}: truth[{key!r}] is required"
                raise DatasetError(msg)
        n = len(self.truth["energy"])
        for group, arrays in (("truth", self.truth), ("predicted", self.predicted)):
            for key, array in arrays.items():
                if len(array) != n:
                    msg = (f"Predictions of {self.model!r}: {group}[{key!r}] has {len(array)} rows, "
                           f"truth['energy'] has {n}")
                    raise DatasetError(msg)
        if "pid_score" in self.predicted and self.predicted["pid_score"].shape[1] != len(self.classes):
            msg = (f"Predictions of {self.model!r}: pid_score has {self.predicted['pid_score'].shape[1]} columns "
                   f"but {len(self.classes)} classes")
            raise DatasetError(msg)

    def __len__(self) -> int:
        return len(self.truth["energy"])


def average_predictions(members: Sequence[Predictions], name: str) -> Predictions:
    """An ensemble of models: each predicted quantity averaged over ``members`` (predictions of the same events).

    The energies, PID scores and positions of the members are averaged event by event; an ensemble of networks
    trained apart (other seeds, other augmentation) has a smaller variance than each of them.

    Raises:
        DatasetError: fewer than two members, or members of other events, classes or predicted quantities.
    """
    if len(members) < 2:
        msg = f"an ensemble needs two or more models' predictions, got {len(members)}"
        raise DatasetError(msg)
    first = members[0]
    for other in members[1:]:
        if len(other) != len(first) or not np.array_equal(other.truth["energy"], first.truth["energy"]):
            msg = f"{other.model!r} predicted other events than {first.model!r}: an ensemble needs the same events"
            raise DatasetError(msg)
        if other.classes != first.classes or set(other.predicted) != set(first.predicted):
            msg = (f"{other.model!r} predicted {sorted(other.predicted)} for classes {list(other.classes)}, "
                   f"{first.model!r} {sorted(first.predicted)} for {list(first.classes)}: average models of one task")
            raise DatasetError(msg)
    predicted = {key: np.mean([member.predicted[key] for member in members], axis=0) for key in first.predicted}
    attrs = {**first.attrs, "members": ",".join(member.model for member in members)}
    return Predictions(name, {key: value.copy() for key, value in first.truth.items()}, predicted, first.classes,
                       attrs)


def prediction_truth(truth: Mapping[str, np.ndarray], photons: bool) -> dict[str, np.ndarray]:
    """The truth a model's predictions keep (a new dict).

    ``photon_position`` / ``photon_energy`` stay only for a two-photon model (``photons``), whose truth
    ``position`` becomes the photons' (N, 2, 2): the layout :func:`calolab.evaluate.overlap_performance`
    compares with the predicted ``position``. Every other model drops them.
    """
    kept = {key: value for key, value in truth.items() if photons or not key.startswith("photon_")}
    if photons:
        kept["position"] = kept["photon_position"]
    return kept


def write_predictions(path: str | os.PathLike[str], predictions: Predictions, *, overwrite: bool = False) -> Path:
    """Write ``predictions`` to an HDF5 file atomically.

    Raises:
        DatasetError: the file exists (and not ``overwrite``) or its folder is missing.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        msg = f"{target} exists: pass overwrite=True (--overwrite) or choose another path"
        raise DatasetError(msg)
    with atomic_path(target) as temporary, h5py.File(temporary, "w") as f:
        for group, arrays in (("truth", predictions.truth), ("predicted", predictions.predicted)):
            g = f.create_group(group)
            for key, array in arrays.items():
                g.create_dataset(key, data=np.asarray(array))
        if "pid_score" in predictions.predicted:
            f["predicted/pid_score"].attrs["classes"] = np.asarray(predictions.classes, dtype=np.int32)
        f.attrs["model"] = predictions.model
        f.attrs["calolab_version"] = __version__
        f.attrs["created"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for key, value in predictions.attrs.items():
            f.attrs[key] = value if isinstance(value, (int, float, str, np.ndarray)) else str(value)
    return target


def read_predictions(path: str | os.PathLike[str]) -> Predictions:
    """Read a predictions file written by :func:`write_predictions`.

    Raises:
        DatasetError: the file is missing, not HDF5, or not a predictions file.
    """
    source = Path(path)
    if not source.is_file():
        msg = f"predictions file {source} does not exist"
        raise DatasetError(msg)
    try:
        with h5py.File(source, "r") as f:
            if "truth" not in f or "predicted" not in f or "model" not in f.attrs:
                msg = f"{source} is not a calolab predictions file (no /truth, /predicted or model attribute)"
                raise DatasetError(msg)
            truth = {key: f[f"truth/{key}"][...] for key in f["truth"]}
            predicted = {key: f[f"predicted/{key}"][...] for key in f["predicted"]}
            classes = tuple(int(c) for c in f["predicted/pid_score"].attrs["classes"]) if "pid_score" in predicted \
                else ()
            attrs = {key: (value.decode() if isinstance(value, bytes) else value) for key, value in f.attrs.items()}
    except OSError as error:
        msg = f"cannot read {source} as HDF5 ({error}); was it written completely?"
        raise DatasetError(msg) from None
    model = str(attrs.pop("model"))
    return Predictions(model, truth, predicted, classes, attrs)
