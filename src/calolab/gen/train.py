"""Training a generative model of one detector section: :func:`train_generator`.

>>> from calolab.gen.train import GenTrainConfig, train_generator  # doctest: +SKIP
>>> result = train_generator(GenTrainConfig(data=["e.h5"], model="flow", epochs=30, output="runs/flow"))
>>> result.model_file  # doctest: +SKIP   (use it as: calolab simulate --engine model:runs/flow)

The run folder holds ``best.ckpt`` (the Lightning checkpoint with the best validation figure),
``model.pt`` (what sampling needs: the sampling network's weights plus the model config, condition
ranges, cell preprocessing, detector TOML and section; read by :func:`calolab.gen.checkpoint.load_generator`),
``config.json``, ``metrics.json`` and ``logs/metrics.csv`` (CSV logger).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, cast

import lightning as L
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from calolab.errors import ConfigError, DatasetError, SimulationError, format_validation_error
from calolab.gen.checkpoint import FORMAT, FORMAT_VERSION, TrainedGenerator, load_generator
from calolab.gen.data import CellTransform, GenArrays, load_gen_arrays, split_indices
from calolab.gen.models import MODELS, model_config
from calolab.gen.task import TASKS, GenTask, build_task
from calolab.schedule import CosineBudget

__all__ = ["GenTrainConfig", "GenTrainResult", "train_generator", "DEFAULT_LR", "MONITOR"]

#: default learning rate of each model
DEFAULT_LR = {"gan": 5e-4, "flow": 1e-3}
#: validation figure watched by early stopping and checkpointing, per model
MONITOR = {"gan": "val_metric", "flow": "val_loss"}


class GenTrainConfig(BaseModel):
    """A generative training run (validated; saved as ``config.json``).

    Attributes:
        data: native shower files of one detector, single-particle events, concatenated.
        model: ``gan`` (3DGAN-style) or ``flow`` (CaloFlow-style).
        model_options: fields of :class:`~calolab.gen.models.GanConfig` / :class:`~calolab.gen.models.FlowConfig`.
        section: the section to learn (default: the detector's first).
        max_events: read at most this many events per file.
        epochs: maximum epochs; ``patience`` epochs without a better validation figure stop early.
        max_minutes: wall-time budget of the fit (``None`` = none).
        batch_size, lr: optimisation (``lr=None``: 5e-4 for the GAN, 1e-3 for the flow).
        lr_schedule: ``cosine`` anneals the learning rate to 1% of ``lr`` over the run's budget, whichever of
            ``epochs`` and ``max_minutes`` runs out first (:class:`~calolab.schedule.CosineBudget`);
            ``constant`` keeps ``lr``. The flow's low-level classifier AUC against the Monte Carlo fell from
            0.873 to 0.726 with it (16 min on one core, bench/generation_quality.py): the last weights of a
            constant rate most likely carry the noise of its last steps.
        seed: seed of the split, initial weights, noise and validation samples.
        val_fraction: share of the events held out for validation.
        output: the run folder (created).
        logger: ``csv`` or ``none``.
        accelerator: ``cpu`` (default) or anything Lightning takes (``gpu``, ``auto``).
        progress: show Lightning's progress bar.
        overwrite: reuse a run folder that already holds a checkpoint.
        init_from: a previous run (its folder or ``model.pt``) whose weights start this fit: training goes on
            from where that run ended, on the same or on more data. The run keeps that run's model options,
            condition encoding and cell preprocessing; ``model_options`` may be left empty or must equal them,
            and the training events must be of the same detector section and particles, within its energy range (1%
            margin) and angle range.
            The flow carries on whole; the GAN's discriminator starts afresh (``model.pt`` holds only the
            generator).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    data: list[Path] = Field(default_factory=list)
    model: str = "flow"
    model_options: dict[str, Any] = Field(default_factory=dict)
    section: str | None = None
    max_events: int | None = Field(default=None, ge=2)
    epochs: int = Field(default=30, ge=1)
    patience: int = Field(default=5, ge=1)
    max_minutes: float | None = Field(default=None, gt=0)
    batch_size: int = Field(default=128, ge=2)
    lr: float | None = Field(default=None, gt=0)
    lr_schedule: Literal["cosine", "constant"] = "cosine"
    seed: int = 0
    val_fraction: float = Field(default=0.15, gt=0, lt=1)
    output: Path = Path("runs/gen")
    logger: Literal["csv", "none"] = "csv"
    accelerator: str = "cpu"
    progress: bool = False
    overwrite: bool = False
    init_from: Path | None = None

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in MODELS:
            msg = f"unknown generative model {value!r}: choose one of {list(MODELS)}"
            raise ValueError(msg)
        return value

    @classmethod
    def make(cls, **fields: Any) -> GenTrainConfig:
        """Validate ``fields``, raising a :class:`ConfigError` that names the bad field."""
        try:
            return cls.model_validate(fields)
        except ValidationError as error:
            raise ConfigError(format_validation_error(error, what="generative training config")) from None

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.model]


@dataclass
class GenTrainResult:
    """What a generative training run produced.

    Attributes:
        output: the run folder.
        checkpoint: the best Lightning checkpoint.
        model_file: ``model.pt``, what ``--engine model:PATH`` and :func:`calolab.gen.api.generate` load.
        monitor: the validation figure that chose it (``val_metric`` or ``val_loss``).
        best_score: its value.
        epochs: epochs run.
        history: per epoch the logged figures.
        n_events: events per split (``train``, ``val``).
        seconds: wall time of the fit.
    """

    output: Path
    checkpoint: Path
    model_file: Path
    monitor: str
    best_score: float
    epochs: int
    history: list[dict[str, float]]
    n_events: dict[str, int]
    seconds: float

    def summary_lines(self) -> list[str]:
        """Short lines for the end of ``calolab train gen``."""
        return [f"epochs: {self.epochs}, best {self.monitor} {self.best_score:.4g}, {self.seconds:.1f} s",
                "events: " + ", ".join(f"{k} {v}" for k, v in self.n_events.items()),
                f"model: {self.model_file}  (use it as --engine model:{self.output})"]


class _Tensors(torch.utils.data.Dataset):
    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        self.tensors = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in tensors.items()}
        self.n = len(next(iter(self.tensors.values())))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {key: value[index] for key, value in self.tensors.items()}


class _History(L.Callback):
    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        row = {"epoch": float(trainer.current_epoch)}
        row.update({key: float(value) for key, value in trainer.callback_metrics.items()})
        self.rows.append(row)


def _prepare_output(output: Path, overwrite: bool) -> None:
    if output.exists() and not output.is_dir():
        msg = f"--output {output} is a file: give a folder for the run (e.g. runs/flow)"
        raise ConfigError(msg)
    for name in ("best.ckpt", "model.pt"):
        if (output / name).exists():
            if not overwrite:
                msg = f"{output} already holds a run ({name}): choose another --output or pass --overwrite"
                raise DatasetError(msg)
            (output / name).unlink()
    output.mkdir(parents=True, exist_ok=True)


def export_model(task: GenTask, path: Path) -> Path:
    """Write what sampling needs (``model.pt``): the sampling network's weights and the hyperparameters."""
    hparams = {key: (list(value) if isinstance(value, tuple) else value) for key, value in dict(task.hparams).items()}
    state = {key: value.detach().cpu().clone() for key, value in task.sampler().state_dict().items()}
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "hparams": json.loads(json.dumps(hparams)),
               "state_dict": state}
    partial = path.with_name(f".{path.name}.partial")
    torch.save(payload, partial)
    partial.replace(path)
    return path


def _starting_model(config: GenTrainConfig, options: BaseModel) -> TrainedGenerator:
    """The run ``config.init_from``, checked against this run's model, ``options`` and output folder."""
    start = load_generator(cast(Path, config.init_from))
    where = f"--init-from {config.init_from}"
    if start.path.parent.resolve() == Path(config.output).resolve():
        msg = f"{where} is the output folder: write the continued run to another folder, keeping the one it starts from"
        raise ConfigError(msg)
    if start.model != config.model:
        msg = f"{where} is a {start.model} model, not a {config.model}: pass --model {start.model}"
        raise ConfigError(msg)
    saved = start.model_config.model_dump(mode="json")
    asked = options.model_dump(mode="json")
    changed = sorted(key for key in config.model_options if asked.get(key) != saved.get(key))
    if changed:
        msg = (f"model options {changed} differ from those of {where}: a continued run keeps its model's options "
               f"(drop --model-config)")
        raise ConfigError(msg)
    return start


def _check_starting_data(start: TrainedGenerator, arrays: GenArrays) -> None:
    """Refuse training events that the run to continue cannot take: another section, particle or range."""
    where = f"--init-from {start.path}"
    if (start.section, start.shape) != (arrays.section, tuple(arrays.shape)) or (
            start.detector_toml != arrays.detector_toml):
        msg = (f"{where} was trained on section {start.section} {start.shape} of another detector or section than "
               f"the data ({arrays.section} {tuple(arrays.shape)}): continue it on showers of its own detector")
        raise DatasetError(msg)
    try:
        start.conditions.check(arrays.energy, arrays.theta, arrays.pdg, what=where)
    except SimulationError as error:
        msg = f"the data lie outside the conditions of the run to continue: {error}"
        raise DatasetError(msg) from None


def _score(value: Any) -> float:
    return float("nan") if value is None else float(value)


def train_generator(config: GenTrainConfig, *, arrays: GenArrays | None = None) -> GenTrainResult:
    """Train ``config.model`` on the showers of one section; write the run folder; return the result.

    Args:
        config: the run.
        arrays: showers already in memory (used instead of reading ``config.data``; tests, studies).

    Raises:
        ConfigError: a bad model option or logger, or a run to continue (``init_from``) of another model or
            options, or in the output folder.
        DatasetError: unreadable data, too few events, the output folder holds a run (without ``overwrite``),
            or training events that the run to continue cannot take.
    """
    options = model_config(config.model, config.model_options)  # fail before reading any data
    previous = None if config.init_from is None else _starting_model(config, options)  # before the data are read
    if arrays is None:
        if not config.data:
            msg = "no shower files to train on: pass --data FILE.h5 (repeat it to combine files)"
            raise ConfigError(msg)
        arrays = load_gen_arrays(config.data, config.section, config.max_events)
    train_index, val_index = split_indices(len(arrays), config.val_fraction, config.seed)
    train, val = arrays.select(train_index), arrays.select(val_index)
    if previous is None:
        spec = train.conditions()
        transform = CellTransform.fit(train.cells, getattr(options, "power", 0.85)) if config.model == "gan" else None
    else:
        _check_starting_data(previous, train)
        options, spec, transform = previous.model_config, previous.conditions, previous.transform
    output = Path(config.output)
    _prepare_output(output, config.overwrite)
    L.seed_everything(config.seed, verbose=False)
    task = build_task(config.model, model_config=options.model_dump(mode="json"), shape=list(arrays.shape),
                      conditions=spec.to_dict(), detector_toml=arrays.detector_toml, section=arrays.section,
                      lr=config.learning_rate, name=output.resolve().name,
                      transform=None if transform is None else transform.to_dict(), val_seed=config.seed)
    if previous is not None:
        task.sampler().load_state_dict(previous.network.state_dict())
    else:
        task.fit_preprocessing(torch.from_numpy(train.cells), torch.from_numpy(train.energy), seed=config.seed)
    loader_seed = torch.Generator().manual_seed(config.seed)
    train_loader = torch.utils.data.DataLoader(
        _Tensors(train.tensors(spec, transform)), batch_size=config.batch_size, shuffle=True, generator=loader_seed,
        drop_last=len(train) > config.batch_size)
    val_loader = torch.utils.data.DataLoader(_Tensors(val.tensors(spec, transform)), batch_size=512, shuffle=False)

    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from calolab.reco.train import make_logger, quiet_lightning

    monitor = MONITOR[config.model]
    checkpoint = ModelCheckpoint(dirpath=output, filename="best", monitor=monitor, mode="min", save_top_k=1,
                                 enable_version_counter=False)
    history = _History()
    callbacks: list[L.Callback] = [checkpoint, EarlyStopping(monitor=monitor, patience=config.patience, mode="min"),
                                   history]
    if config.lr_schedule == "cosine":
        callbacks.append(CosineBudget(config.epochs * len(train_loader),
                                      None if config.max_minutes is None else 60 * config.max_minutes))
    with quiet_lightning():
        trainer = L.Trainer(
            max_epochs=config.epochs, max_time=None if config.max_minutes is None else timedelta(
                minutes=config.max_minutes),
            accelerator=config.accelerator, devices=1, logger=make_logger(config.logger, output, output.name),
            callbacks=callbacks,
            gradient_clip_val=5.0 if config.model == "flow" else None, enable_progress_bar=config.progress,
            enable_model_summary=False, log_every_n_steps=1, num_sanity_val_steps=0, default_root_dir=output,
        )
        start = time.perf_counter()
        trainer.fit(task, train_dataloaders=train_loader, val_dataloaders=val_loader)
        seconds = time.perf_counter() - start
    best_path = Path(checkpoint.best_model_path)
    best = TASKS[config.model].load_from_checkpoint(best_path, map_location="cpu")
    model_file = export_model(best, output / "model.pt")
    result = GenTrainResult(output=output, checkpoint=best_path, model_file=model_file, monitor=monitor,
                            best_score=_score(checkpoint.best_model_score), epochs=len(history.rows),
                            history=history.rows, n_events={"train": len(train), "val": len(val)}, seconds=seconds)
    (output / "config.json").write_text(config.model_dump_json(indent=2) + "\n")
    (output / "metrics.json").write_text(json.dumps(
        {"monitor": monitor, "best_score": result.best_score, "epochs": result.epochs, "seconds": seconds,
         "n_events": result.n_events, "history": history.rows}, indent=2) + "\n")
    return result
