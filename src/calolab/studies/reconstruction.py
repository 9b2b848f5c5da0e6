"""Reconstruction comparisons: feature baselines and networks trained and tested on the same simulated events.

A comparison simulates its sample (one shower file per gun, kept in a work folder so a rerun reuses
them), reads it once into memory, splits the events by seed into train / validation / test with
:func:`calolab.data.torch.split_indices` (the split the networks' training uses), fits every model on the
training share (the baselines also get the validation share, which the trees split again for their own
early stopping; the networks use it for early stopping and the best checkpoint) and evaluates all of them
on the same test events with :func:`calolab.evaluate.evaluate_models`.

>>> sample = simulate_sample("cms", [{"particle": "e-", "energy": "5-100GeV"}], 2000, "work/")  # doctest: +SKIP
>>> result = compare_models(sample, "energy", [ModelSpec("linear"), ModelSpec("cnn")])           # doctest: +SKIP
>>> result.evaluation["cnn"].energy.fit.a                                                           # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calolab.data.torch import DataConfig, ShowerArrays, load_showers, split_indices
from calolab.errors import ConfigError, DatasetError
from calolab.evaluate import Evaluation, evaluate_models
from calolab.reco.baselines import BASELINES, file_table, fit_target, make_baseline
from calolab.reco.predictions import Predictions, prediction_truth

#: the kind of a :class:`ModelSpec` that averages other models' predictions
ENSEMBLE = "ensemble"

__all__ = ["Sample", "ModelSpec", "Comparison", "simulate_files", "simulate_sample", "compare_models",
           "write_comparison"]



@dataclass
class Sample:
    """Simulated events in memory: the networks' arrays, the feature table, and where each event came from.

    Attributes:
        arrays: cells, totals and truth as the networks read them (see :mod:`calolab.data.torch`).
        features: ``(N, F)`` feature table of :func:`calolab.features.compute_features` (raw signal).
        feature_names: its F column names.
        data_config: how ``arrays`` were read (a network trained on them uses the same).
        files: the shower files, one per gun.
        rows: ``(N,)`` for each event its row in its file.
        source: ``(N,)`` for each event the index of its file.
    """

    arrays: ShowerArrays
    features: np.ndarray
    feature_names: list[str]
    data_config: DataConfig
    files: list[Path]
    rows: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.arrays)

    def feature(self, name: str) -> np.ndarray:
        """One feature column ``(N,)`` by name (e.g. ``hcal_ecal_ratio``)."""
        if name not in self.feature_names:
            msg = f"no feature {name!r}: the sample has {self.feature_names[:6]}..."
            raise ConfigError(msg)
        return self.features[:, self.feature_names.index(name)]

    def subset(self, index: np.ndarray) -> Sample:
        """The events ``index`` (index array or boolean mask), e.g. a selection on a feature."""
        return Sample(self.arrays.subset(index), self.features[index], list(self.feature_names), self.data_config,
                      list(self.files), self.rows[index], self.source[index])


@dataclass(frozen=True)
class ModelSpec:
    """One model of a comparison.

    Attributes:
        kind: a baseline kind (``linear``, ``xgboost``, ``bdt``, ``cut-id``, ``log-position``), a network
            (``dnn``, ``cnn``, ``inception``, ``cluster``, ``overlap``) or ``ensemble``: the average of other
            models of the comparison (``options={"members": ["cnn", "cnn-mirrored"]}``,
            :func:`~calolab.reco.predictions.average_predictions`).
        name: its name in the results (default: ``kind``).
        options: the baseline's or network's config fields.
        inputs: a network's changes to the sample's :class:`~calolab.data.torch.DataConfig` that keep the
            arrays as read (``{"position_input": True}``: the seed cell's absolute position as an input;
            ``{"start_from": "none"}`` on a sample read with a two-seed start).
        training: a network's own :class:`~calolab.reco.train.TrainConfig` fields, over the comparison's
            (``{"huber_delta": 0.05}``).
    """

    kind: str
    name: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.kind

    @property
    def is_baseline(self) -> bool:
        return self.kind in BASELINES

    @property
    def is_ensemble(self) -> bool:
        return self.kind == ENSEMBLE


@dataclass
class Comparison:
    """The result of :func:`compare_models`.

    Attributes:
        evaluation: every model on the common test events.
        predictions: model name -> its test predictions.
        training: model name -> ``{"seconds", "epochs", "n_train", ...}``.
        split: event counts ``{"train", "val", "test"}``.
        settings: what was compared (task, seed, fractions, training options).
    """

    evaluation: Evaluation
    predictions: dict[str, Predictions]
    training: dict[str, dict[str, Any]]
    split: dict[str, int]
    settings: dict[str, Any]

    def figures(self) -> dict[str, Any]:
        """Everything as JSON-ready figures."""
        return {"settings": self.settings, "split": self.split, "training": self.training,
                "evaluation": self.evaluation.figures()}


def _gun_label(gun: Mapping[str, Any], k: int) -> str:
    text = str(gun.get("particle", "gun")).replace(",", "_").replace("+", "plus").replace("-", "minus")
    return f"sample{k}_{text}"


def simulate_files(detector: Any, guns: Sequence[Mapping[str, Any]], n: int | Sequence[int],
                   workdir: str | os.PathLike[str], *, seed: int = 0, workers: int = 1,
                   progress: bool = False, selections: Sequence[str | None] | None = None) -> list[Path]:
    """Simulate ``n`` events per gun into ``workdir/sample<k>_<particle>.h5``; files already there are reused.

    Args:
        detector: a preset name, a detector TOML path or a :class:`~calolab.detector.geometry.Calorimeter`.
        guns: gun configs (dicts of :class:`~calolab.sim.gun.GunConfig` fields); gun ``k`` uses seed ``seed + k``.
        n: events per gun, one number for all or one per gun (simulated: a selection keeps fewer).
        workdir: folder of the shower files (created).
        workers: local processes.
        progress: show the simulation's progress bar.
        selections: per gun, ``None`` or the cuts its events must pass to be kept, e.g. ``"hcal_ecal_ratio<0.1"``
            (:class:`~calolab.sim.selection.EventSelection`).

    Raises:
        DatasetError: a file in ``workdir`` was made with another number of events, gun, seed or selection than
            asked (delete it or choose another folder).
    """
    from calolab.data.showerfile import ShowerFile
    from calolab.sim.campaign import Campaign
    from calolab.sim.gun import make_gun
    from calolab.sim.selection import as_selection

    counts = _counts(guns, n)
    cuts = [as_selection(text) for text in (selections or [None] * len(guns))]
    if len(cuts) != len(guns):
        msg = f"give one selection (or None) per gun: {len(guns)} guns, {len(cuts)} selections"
        raise ConfigError(msg)
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for k, (gun, count, cut) in enumerate(zip(guns, counts, cuts, strict=True)):
        path = folder / f"{_gun_label(gun, k)}.h5"
        selection = None if cut is None else cut.describe()
        if path.exists():
            with ShowerFile(path) as showers:
                stored = showers.metadata.get("gun")
                made_with = (showers.metadata.get("n_simulated", showers.n_events),
                             None if stored is None else make_gun(stored).to_dict(),  # with today's defaults
                             showers.metadata.get("seed"), showers.metadata.get("selection"))
            wanted = (count, make_gun(dict(gun)).to_dict(), seed + k, selection)
            if made_with != wanted:
                what = ["events", "gun", "seed", "selection"][next(i for i in range(4) if made_with[i] != wanted[i])]
                msg = (f"{path} was made with other {what} ({made_with[0]} events simulated, seed {made_with[2]}, "
                       f"selection {made_with[3]}) than asked ({count} events, seed {seed + k}, selection "
                       f"{selection}): delete it or choose another work folder")
                raise DatasetError(msg)
        else:
            if workers > 1:  # compile (or load) the transport kernels once here, not in every worker at once
                Campaign(detector, dict(gun), 1, seed=seed + k).simulate()
            Campaign(detector, dict(gun), count, seed=seed + k, workers=workers, selection=cut).write(
                path, progress=progress)
        files.append(path)
    return files


def _counts(guns: Sequence[Mapping[str, Any]], n: int | Sequence[int]) -> list[int]:
    counts = [int(n)] * len(guns) if isinstance(n, int | np.integer) else [int(v) for v in n]
    if not guns or len(counts) != len(guns) or min(counts) < 1:
        msg = f"give at least one gun and a positive event count per gun, got {len(guns)} guns and n = {n}"
        raise ConfigError(msg)
    return counts


def simulate_sample(detector: Any, guns: Sequence[Mapping[str, Any]], n: int | Sequence[int],
                    workdir: str | os.PathLike[str], *, seed: int = 0, workers: int = 1,
                    data_config: DataConfig | None = None, progress: bool = False,
                    selections: Sequence[str | None] | None = None) -> Sample:
    """:func:`simulate_files`, then read every event into memory as a :class:`Sample`.

    Args:
        detector, guns, n, workdir, seed, workers, progress, selections: as in :func:`simulate_files`.
        data_config: how the networks read the events (window, cell transform, ...).
    """
    from calolab.features import concatenate_features, feature_names, features_from_file, features_in_chunks

    files = simulate_files(detector, guns, n, workdir, seed=seed, workers=workers, progress=progress,
                           selections=selections)
    config = data_config or DataConfig()
    if config.signal == "raw" and config.feature_inputs:  # the networks' inputs hold the table: computed once
        counts = [0] * len(files)  # events kept in each file (a selection keeps fewer)
        detectors: list[Any] = []

        def count(k: int, cells: Mapping[str, np.ndarray], detector: Any) -> None:
            counts[k] += len(next(iter(cells.values())))
            detectors[:] = [detector]

        arrays = load_showers(files, config, on_chunk=count)
        names = feature_names(detectors[0])
        features = np.asarray(arrays.features, dtype=np.float64)
    else:
        if config.signal == "raw":  # the features come from the same pass over the files as the arrays
            chunks: list[list[dict[str, np.ndarray]]] = [[] for _ in files]
            arrays = load_showers(files, config, on_chunk=lambda k, cells, detector: chunks[k].append(
                features_in_chunks(cells, detector)))
            tables = [concatenate_features(parts) for parts in chunks]
        else:  # the baselines' features read the raw signal, the networks the digitised one
            arrays = load_showers(files, config)
            tables = [features_from_file(path) for path in files]
        names = list(tables[0])
        counts = [len(table[names[0]]) for table in tables]  # events kept in each file
        features = np.concatenate([np.stack([t[name] for name in names], axis=1) for t in tables])
    rows = np.concatenate([np.arange(count) for count in counts])
    source = np.concatenate([np.full(count, k) for k, count in enumerate(counts)])
    return Sample(arrays, features, names, config, files, rows, source)


def _baseline_table(model: Any, sample: Sample) -> tuple[np.ndarray, list[str]]:
    """The baseline's input table for every event of the sample."""
    from calolab.reco.baseline_core import _FeatureBaseline

    if isinstance(model, _FeatureBaseline):
        return sample.features, sample.feature_names
    tables = {k: file_table(model, path)[:2] for k, path in enumerate(sample.files)}
    names = tables[0][1]
    return np.stack([tables[int(k)][0][row] for k, row in zip(sample.source, sample.rows, strict=True)]), names


def _fit_baseline(spec: ModelSpec, sample: Sample, fit_index: np.ndarray, test_index: np.ndarray,
                  ) -> tuple[Predictions, dict[str, Any]]:
    model = make_baseline(spec.kind, **dict(spec.options))
    start = time.perf_counter()
    X, names = _baseline_table(model, sample)
    model.fit(X[fit_index], fit_target(sample.arrays.truth, model.target)[fit_index], names)
    seconds = time.perf_counter() - start
    predicted, classes = model.predicted_fields(X[test_index], names)
    truth = prediction_truth({key: value[test_index] for key, value in sample.arrays.truth.items()},
                             model.target == "photons")
    predictions = Predictions(spec.label, truth, predicted, classes,
                              attrs={"model_path": "", "data": ",".join(map(str, sample.files)),
                                     "task": model.target, "n_events": int(test_index.size)})
    return predictions, {"kind": spec.kind, "seconds": seconds, "n_train": int(fit_index.size),
                         "summary": model.summary()}


#: fields of a network's TrainConfig that do not change what it learns (ignored when a run is reused)
_RUN_ONLY_FIELDS = ("output", "overwrite", "progress", "logger")


def _finished_run(config: Any) -> dict[str, Any] | None:
    """The facts of a finished run in ``config.output`` trained with the same config (up to its folder and
    logging), or ``None``."""
    import json

    folder = Path(config.output)
    try:
        saved = json.loads((folder / "config.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    wanted = json.loads(config.model_dump_json())
    try:  # a run saved before a field existed has it at its default
        saved = {**saved, **json.loads(type(config).model_validate(saved).model_dump_json())}
    except ValueError:
        return None
    same = all(saved.get(key) == value for key, value in wanted.items() if key not in _RUN_ONLY_FIELDS)
    if not same or not (folder / "best.ckpt").is_file():
        return None
    return {**_run_facts(metrics, folder / "best.ckpt"), "reused": True}


def _run_facts(metrics: Mapping[str, Any], checkpoint: Path) -> dict[str, Any]:
    """A network's training facts from its ``metrics.json`` fields (or a result's same-named attributes)."""
    return {"seconds": metrics["seconds"], "epochs": metrics["epochs"], "n_train": metrics["n_events"]["train"],
            "n_val": metrics["n_events"]["val"], "best_val_loss": metrics["best_val_loss"],
            "checkpoint": str(checkpoint)}


def _train_network(spec: ModelSpec, sample: Sample, task: str, test_index: np.ndarray, workdir: Path,
                   training: Mapping[str, Any], reuse: bool = False) -> tuple[Predictions, dict[str, Any]]:
    from calolab.reco.inference import load_task, predictions_for_arrays
    from calolab.reco.train import TrainConfig, train_reco

    options = {"logger": "csv", "progress": False, **training, **dict(spec.training)}
    options.setdefault("deterministic", str(options.get("accelerator", "cpu")) == "cpu")
    inputs = sample.data_config.model_copy(update=dict(spec.inputs))
    config = TrainConfig.make(model=spec.kind, model_options=dict(spec.options), task=task, inputs=inputs,
                              output=workdir / spec.label, overwrite=True, **options)
    finished = _finished_run(config) if reuse else None
    if finished is None:
        result = train_reco(config, arrays=sample.arrays)
        finished = _run_facts(vars(result), result.checkpoint)
    network = load_task(finished["checkpoint"])
    if str(options.get("accelerator", "cpu")) != "cpu":
        import torch

        if torch.cuda.is_available():
            network.to("cuda")
    predictions = predictions_for_arrays(network, sample.arrays.subset(test_index), name=spec.label,
                                         attrs={"model_path": finished["checkpoint"], "data": ",".join(
                                             map(str, sample.files))})
    return predictions, {"kind": spec.kind, **finished, "parameters": sum(p.numel() for p in network.parameters()),
                         "device": str(next(network.parameters()).device)}


def _ensemble(spec: ModelSpec, predictions: Mapping[str, Predictions]) -> tuple[Predictions, dict[str, Any]]:
    from calolab.reco.predictions import average_predictions

    members = list(spec.options.get("members", ()))
    missing = [name for name in members if name not in predictions]
    if len(members) < 2 or missing:
        msg = (f"ensemble {spec.label!r} needs two or more members among the models before it "
               f"({sorted(predictions)}); got members {members}")
        raise ConfigError(msg)
    start = time.perf_counter()
    averaged = average_predictions([predictions[name] for name in members], spec.label)
    return averaged, {"kind": spec.kind, "members": members, "seconds": time.perf_counter() - start}


def compare_models(sample: Sample, task: str, models: Sequence[ModelSpec], *, workdir: str | os.PathLike[str],
                   seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.25,
                   training: Mapping[str, Any] | None = None, evaluation: Mapping[str, Any] | None = None,
                   log: Any = None, reuse_runs: bool = False) -> Comparison:
    """Fit and test every model on one seeded split of ``sample``.

    Args:
        sample: the events (:func:`simulate_sample`, possibly a :meth:`Sample.subset`).
        task: the networks' task (``energy``, ``pid``, ``pid+energy``, ``position``, ``cluster``, ``overlap``).
        models: baselines and networks; names must be unique.
        workdir: folder of the networks' run folders.
        seed: seed of the split and of the networks' training.
        val_fraction, test_fraction: shares of the events for validation and test.
        training: further :class:`~calolab.reco.train.TrainConfig` fields for the networks (epochs, batch_size,
            lr, accelerator, max_minutes, ...).
        evaluation: keyword arguments of :func:`~calolab.evaluate.evaluate_models` (signal, background, ...).
        log: called with a line of progress per model (``print``), or ``None``.
        reuse_runs: a network whose run folder holds a finished run of the same config (up to its folder and
            logging; same sample, split and seed assumed) is not trained again but loaded; its facts say
            ``reused``.

    Raises:
        ConfigError: duplicate names, an unknown kind, an ensemble without two earlier members, or bad training
            options.
    """
    labels = [spec.label for spec in models]
    if not models or len(set(labels)) != len(labels):
        msg = f"give one or more models with unique names, got {labels}"
        raise ConfigError(msg)
    train_index, val_index, test_index = split_indices(len(sample), seed, val_fraction, test_fraction)
    fit_index = np.sort(np.concatenate([train_index, val_index]))
    training = {"seed": seed, "val_fraction": val_fraction, "test_fraction": test_fraction, **(training or {})}
    predictions: dict[str, Predictions] = {}
    facts: dict[str, dict[str, Any]] = {}
    for spec in sorted(models, key=lambda spec: spec.is_ensemble):  # ensembles after the models they average
        if spec.is_baseline:
            predictions[spec.label], facts[spec.label] = _fit_baseline(spec, sample, fit_index, test_index)
        elif spec.is_ensemble:
            predictions[spec.label], facts[spec.label] = _ensemble(spec, predictions)
        else:
            predictions[spec.label], facts[spec.label] = _train_network(spec, sample, task, test_index,
                                                                        Path(workdir), training, reuse_runs)
        if log is not None:
            reused = " (a finished run, loaded)" if facts[spec.label].get("reused") else ""
            log(f"{spec.label}: fitted in {facts[spec.label]['seconds']:.1f} s{reused}")
    result = evaluate_models([predictions[label] for label in labels], **dict(evaluation or {}))
    settings = {"task": task, "seed": seed, "val_fraction": val_fraction, "test_fraction": test_fraction,
                "models": [{"name": s.label, "kind": s.kind, "options": dict(s.options), "inputs": dict(s.inputs),
                            "training": dict(s.training)} for s in models],
                "training": {k: v for k, v in training.items() if k not in ("seed",)},
                "files": [str(path) for path in sample.files]}
    split = {"train": int(train_index.size), "val": int(val_index.size), "test": int(test_index.size)}
    return Comparison(result, predictions, facts, split, settings)


def write_comparison(comparison: Comparison, folder: str | os.PathLike[str], *, extra: Mapping[str, Any] | None = None,
                     ) -> Path:
    """Write ``figures.json`` (with ``extra`` facts merged in) and the evaluation's plots into ``folder``."""
    import json

    from calolab.data.atomic import atomic_path
    from calolab.performance_plots import write_evaluation_plots
    from calolab.serialise import to_jsonable

    output = Path(folder)
    output.mkdir(parents=True, exist_ok=True)
    write_evaluation_plots(comparison.evaluation, output)
    path = output / "figures.json"
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(to_jsonable({**dict(extra or {}), **comparison.figures()}), indent=2) + "\n")
    return path
