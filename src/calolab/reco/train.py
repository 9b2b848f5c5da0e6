"""Training a reconstruction network: seeded splits, early stopping, best checkpoint, logs and test figures.

>>> from calolab.reco.train import TrainConfig, train_reco  # doctest: +SKIP
>>> result = train_reco(TrainConfig(data=["e.h5"], model="cnn", task="energy", epochs=20, output="runs/cnn"))
>>> result.checkpoint, result.metrics["energy_resolution"]  # doctest: +SKIP

The output folder holds ``best.ckpt`` (lowest validation loss; it carries the config, the class list and the
standardisation), ``config.json``, ``standardization.json``, ``classes.json``, ``metrics.json`` and the logs
(``logs/metrics.csv`` with the default CSV logger). Several ``data`` files are concatenated: give one file
per particle for particle ID or mixed training, one particle for particle-specific training; a model trained
on one particle is evaluated on another by predicting on that file (:func:`calolab.reco.inference.predict_file`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from calolab.data.augment import Augmentation, check_augmentation
from calolab.data.torch import DataConfig, ShowerArrays, ShowerDataModule, batch_loader
from calolab.errors import ConfigError, DatasetError, format_validation_error
from calolab.reco.batchnorm import PreciseBatchNorm, batchnorm_layers
from calolab.reco.models import LossWeights
from calolab.reco.models import model_config as validate_model_config
from calolab.reco.task import TASKS, LrSchedule, RecoTask, check_start, check_task
from calolab.schedule import CosineBudget

__all__ = ["TrainConfig", "TrainResult", "train_reco", "make_logger", "quiet_lightning", "split_metrics"]

LOGGERS = ("csv", "tensorboard", "wandb", "mlflow", "none")
_LOGGER_PACKAGES = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",), "mlflow": ("mlflow",)}
_WINDOW_MODELS = ("cluster", "overlap")
DEFAULT_WINDOW = 5


class TrainConfig(BaseModel):
    """Everything a training run needs (validated; saved as ``config.json`` next to the checkpoint).

    Attributes:
        data: shower files, concatenated (may be empty when :func:`train_reco` is given arrays).
        model: ``dnn``, ``cnn``, ``inception``, ``cluster`` or ``overlap``.
        model_options: the model's config fields (``width``, ``dropout``, ...; see :mod:`calolab.reco.models`).
        task: ``energy``, ``pid``, ``pid+energy``, ``position``, ``cluster`` or ``overlap``.
        inputs: how files become tensors (signal, cell transform, classes, window, ...). The cluster and
            overlap models and tasks crop a 5 x 5 window unless ``inputs.window`` says otherwise.
        epochs: maximum number of epochs; ``patience`` epochs without a better validation loss stop early.
        max_minutes: stop training after this wall time (the best checkpoint so far is kept); ``None``: no limit.
        batch_size, lr, weight_decay: optimisation (Adam).
        lr_schedule: ``plateau`` (default) halves the learning rate after 3 epochs without a better validation
            loss; ``cosine`` anneals it to 1% of ``lr`` over the run's budget, whichever of ``epochs`` and
            ``max_minutes`` runs out first (:class:`~calolab.schedule.CosineBudget`). With a long ``patience``
            the cosine run uses its whole budget and ends at a low rate instead of at the last halving.
        seed: seed of the split, the shuffling and the initial weights.
        val_fraction, test_fraction: shares of the events held out.
        loss_weights: weights of the heads' losses (``pid+energy``).
        huber_delta: the regression losses are squared errors up to this error (standardised units), linear
            beyond (Huber), so the few events a classical start got badly wrong do not dominate the fit;
            ``None`` (default): squared errors throughout.
        augment: show each training event mirrored at random: ``"none"`` (default), ``"flips"`` (x and y
            mirrors) or ``"dihedral"`` (also x <-> y; square cells). Only for a detector and sample symmetric
            about the axis (:mod:`calolab.data.augment`).
        batchnorm_events: before every validation the batch-norm layers' running averages are recomputed over
            this many training events (a fixed subset) with the weights of the moment, so the validation loss
            and the checkpoint do not suffer from averages that lag the weights (:mod:`calolab.reco.batchnorm`;
            15% more time per epoch on the clic study); 0 keeps the running averages. Models without batch
            norm ignore it.
        output: the run folder (created).
        logger: ``csv`` (default), ``tensorboard``, ``wandb``, ``mlflow`` or ``none``.
        accelerator: ``cpu`` (default) or anything Lightning takes (``auto``, ``gpu``).
        deterministic: ask torch for deterministic kernels.
        progress: show Lightning's progress bar.
        overwrite: reuse an output folder that already holds a checkpoint.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    data: list[Path] = Field(default_factory=list)
    model: str = "cnn"
    model_options: dict[str, Any] = Field(default_factory=dict)
    task: str = "energy"
    inputs: DataConfig = Field(default_factory=DataConfig)
    epochs: int = Field(default=20, ge=1)
    patience: int = Field(default=5, ge=1)
    batch_size: int = Field(default=256, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    lr_schedule: LrSchedule = "plateau"
    weight_decay: float = Field(default=0.0, ge=0)
    seed: int = 0
    max_minutes: float | None = Field(default=None, gt=0)
    val_fraction: float = Field(default=0.15, gt=0, lt=1)
    test_fraction: float = Field(default=0.15, ge=0, lt=1)
    loss_weights: LossWeights = Field(default_factory=LossWeights)
    huber_delta: float | None = Field(default=None, gt=0)
    augment: Augmentation = "none"
    batchnorm_events: int = Field(default=8192, ge=0)
    output: Path = Path("runs/reco")
    logger: Literal["csv", "tensorboard", "wandb", "mlflow", "none"] = "csv"
    accelerator: str = "cpu"
    deterministic: bool = True
    progress: bool = True
    overwrite: bool = False

    @classmethod
    def make(cls, **fields: Any) -> TrainConfig:
        """Validate ``fields``, raising a :class:`ConfigError` that names the bad field."""
        try:
            return cls.model_validate(fields)
        except ValidationError as error:
            raise ConfigError(format_validation_error(error, what="training config")) from None

    def data_config(self) -> DataConfig:
        """``inputs`` with the default window of the cluster/overlap models filled in."""
        if self.inputs.window is None and (self.model in _WINDOW_MODELS or self.task in _WINDOW_MODELS):
            return self.inputs.model_copy(update={"window": DEFAULT_WINDOW})
        return self.inputs


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes:
        output: the run folder.
        checkpoint: the best checkpoint (lowest validation loss).
        best_val_loss: its validation loss.
        epochs: epochs run (early stopping may end before ``TrainConfig.epochs``).
        history: per epoch ``{"epoch", "train_loss", "val_loss"}``.
        metrics: figures on the test split in physical units (see :func:`split_metrics`).
        n_events: events per split (``train``, ``val``, ``test``).
        classes: PDG codes of the PID classes.
        seconds: wall time of the fit.
    """

    output: Path
    checkpoint: Path
    best_val_loss: float
    epochs: int
    history: list[dict[str, float]]
    metrics: dict[str, float]
    n_events: dict[str, int]
    classes: tuple[int, ...]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        """Short lines for the end of ``calolab train reco``."""
        lines = [f"epochs: {self.epochs}, best validation loss {self.best_val_loss:.4g}, {self.seconds:.1f} s",
                 "events: " + ", ".join(f"{k} {v}" for k, v in self.n_events.items())]
        metrics = self.metrics
        if "energy_resolution" in metrics:
            lines.append(f"test energy resolution (std of dE/E): {100 * metrics['energy_resolution']:.2f}% "
                         f"(bias {100 * metrics['energy_bias']:+.2f}%; the mean energy alone gives "
                         f"{100 * metrics['energy_resolution_trivial']:.2f}%)")
        if "accuracy" in metrics:
            lines.append(f"test accuracy: {100 * metrics['accuracy']:.2f}% over classes {list(self.classes)}")
        if "position_rms" in metrics:
            lines.append(f"test position resolution (rms per axis): {metrics['position_rms']:.3g} mm "
                         f"(seed-cell centre alone: {metrics['position_rms_trivial']:.3g} mm)")
        if "photon_position_rms" in metrics:
            lines.append(f"test photon position rms {metrics['photon_position_rms']:.3g} mm, photon energy "
                         f"resolution {100 * metrics['photon_energy_resolution']:.2f}%")
        lines.append(f"best checkpoint: {self.checkpoint}")
        return lines


def make_logger(name: str, output: Path, run: str) -> Any:
    """A Lightning logger; the optional ones are imported only when asked for.

    Raises:
        ConfigError: unknown logger, or its package is not installed (the message names it).
    """
    if name not in LOGGERS:
        msg = f"unknown logger {name!r}: choose one of {list(LOGGERS)}"
        raise ConfigError(msg)
    if name == "none":
        return False
    if name == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=output, name="logs", version="")
    packages = _LOGGER_PACKAGES[name]
    if not any(importlib.util.find_spec(package) for package in packages):
        msg = f"--logger {name} needs the {packages[0]!r} package: pip install {packages[0]} (or use --logger csv)"
        raise ConfigError(msg)
    if name == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger

        return TensorBoardLogger(save_dir=output, name="logs", version="")
    if name == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        return WandbLogger(name=run, save_dir=output, project="calolab")
    from lightning.pytorch.loggers import MLFlowLogger

    return MLFlowLogger(experiment_name="calolab", run_name=run, save_dir=str(output / "mlruns"))


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's advice that does not apply here (worker counts, tiny epochs, info lines)."""
    import logging

    from lightning.fabric.utilities.warnings import PossibleUserWarning

    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric", "lightning")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PossibleUserWarning)
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*Checkpoint directory.*exists and is not empty.*")
        warnings.filterwarnings("ignore", message=".*Experiment logs directory.*exists and is not empty.*")
        warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
        warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")  # lightning 2.6 on torch 2.13
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


class _History(L.Callback):
    """Per-epoch train and validation loss."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        metrics = trainer.callback_metrics
        row = {"epoch": float(trainer.current_epoch)}
        for key in ("train_loss", "val_loss"):
            if key in metrics:
                row[key] = float(metrics[key])
        self.rows.append(row)


def _prepare_output(output: Path, overwrite: bool) -> None:
    if output.exists() and not output.is_dir():
        msg = f"--output {output} is a file: give a folder for the run (e.g. runs/cnn)"
        raise ConfigError(msg)
    if (output / "best.ckpt").exists():
        if not overwrite:
            msg = f"{output} already holds a run (best.ckpt): choose another --output or pass --overwrite"
            raise DatasetError(msg)
        (output / "best.ckpt").unlink()
    output.mkdir(parents=True, exist_ok=True)


def predict_dataset(module: RecoTask, dataset: Any, batch_size: int = 1024) -> dict[str, np.ndarray]:
    """Physical predictions of ``module`` (on its device) on every event of a :class:`ShowerDataset`, in order."""
    module.eval()
    parts: list[dict[str, np.ndarray]] = []
    seeds, energy_sums = dataset.arrays.seed, dataset.arrays.energy_sum()
    device = next(module.parameters()).device
    with torch.no_grad():
        for batch in batch_loader(dataset, batch_size, shuffle=False):
            cells = {name: array.to(device) for name, array in batch["cells"].items()}
            start = batch.get("start")
            outputs = module(cells, batch["scalars"].to(device), None if start is None else start.to(device))
            rows = batch["index"].numpy()
            parts.append(module.decode(outputs, seeds[rows], energy_sums[rows]))
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]} if parts else {}


def split_metrics(predicted: dict[str, np.ndarray], arrays: ShowerArrays, index: np.ndarray,
                  train_index: np.ndarray, classes: tuple[int, ...], merge_antiparticles: bool = False,
                  ) -> dict[str, float]:
    """Test-split figures in physical units, next to a trivial predictor.

    ``energy_resolution`` / ``energy_bias``: std / mean of ``(E_pred - E) / E``; ``energy_resolution_trivial``:
    the same for always predicting the training mean energy. ``accuracy`` over the events of known class.
    ``position_rms``: rms over both axes of the impact-point error (mm); ``position_rms_trivial``: predicting
    the seed cell's centre (or the origin without a window). ``photon_*``: the two-photon figures, photons
    matched by energy order.
    """
    truth = arrays.truth
    metrics: dict[str, float] = {}
    if "energy" in predicted:
        energy = truth["energy"][index]
        relative = predicted["energy"] / energy - 1.0
        trivial = truth["energy"][train_index].mean() / energy - 1.0
        metrics |= {"energy_resolution": float(np.std(relative)), "energy_bias": float(np.mean(relative)),
                    "energy_resolution_trivial": float(np.std(trivial))}
    if "pid_score" in predicted:
        from calolab.data.pid_classes import class_labels

        labels = class_labels(truth["pdg"][index], classes, merge_antiparticles)
        known = labels >= 0
        if known.any():
            metrics["accuracy"] = float(np.mean(predicted["pid_score"][known].argmax(axis=1) == labels[known]))
    if "position" in predicted:
        true = truth["position"][index]
        metrics["position_rms"] = float(np.sqrt(np.mean((predicted["position"] - true) ** 2)))
        metrics["position_rms_trivial"] = float(np.sqrt(np.mean((arrays.seed[index] - true) ** 2)))
    if "photon_position" in predicted:
        true_position, true_energy = truth["photon_position"][index], truth["photon_energy"][index]
        ok = np.isfinite(true_energy).all(axis=1)
        if ok.any():
            error = predicted["photon_position"][ok] - true_position[ok]
            metrics["photon_position_rms"] = float(np.sqrt(np.mean(error ** 2)))
            metrics["photon_energy_resolution"] = float(np.std(predicted["photon_energy"][ok] / true_energy[ok] - 1))
    return metrics


def train_reco(config: TrainConfig, *, arrays: ShowerArrays | None = None) -> TrainResult:
    """Train ``config.model`` on ``config.task``; write the run folder; return the result.

    Args:
        config: the run.
        arrays: events already in memory (used instead of reading ``config.data``; scans and tests).

    Raises:
        ConfigError: a bad model, task, logger or option.
        DatasetError: unreadable data, or the output folder holds a run (without ``overwrite``).
    """
    if config.task not in TASKS:
        msg = f"unknown task {config.task!r}: choose one of {list(TASKS)}"
        raise ConfigError(msg)
    validate_model_config(config.model, config.model_options)  # fail before reading any data
    if arrays is None and not config.data:
        msg = "no shower files to train on: pass --data FILE.h5 (repeat it to combine files)"
        raise ConfigError(msg)
    data_config = config.data_config()
    check_start(data_config, config.task)
    check_augmentation(config.augment, {}, data_config.window)  # the grid's shape is checked once it is read
    if data_config.feature_inputs and config.augment != "none":
        msg = (f"augment {config.augment!r} mirrors the cells but not the shower-shape features among the inputs "
               "(feature_inputs): train with augment 'none', or without the features")
        raise ConfigError(msg)
    output = Path(config.output)
    _prepare_output(output, config.overwrite)
    logger = make_logger(config.logger, output, output.name)
    L.seed_everything(config.seed, verbose=False)
    datamodule = ShowerDataModule(None if arrays is not None else config.data, data_config,
                                  batch_size=config.batch_size, seed=config.seed, val_fraction=config.val_fraction,
                                  test_fraction=config.test_fraction, arrays=arrays, augment=config.augment)
    datamodule.setup()
    check_task(config.task, datamodule.classes)
    assert datamodule.standardizer is not None  # set by setup()
    from calolab.reco.models import InputShapes

    module = RecoTask(
        model=config.model, model_config=dict(config.model_options),
        input_shapes=InputShapes(datamodule.input_shapes, datamodule.n_scalars).to_dict(), task=config.task,
        classes=list(datamodule.classes), standardizer=datamodule.standardizer.to_dict(),
        data_config=json.loads(data_config.model_dump_json()), loss_weights=config.loss_weights.model_dump(),
        lr=config.lr, weight_decay=config.weight_decay, huber_delta=config.huber_delta,
        lr_schedule=config.lr_schedule,
    )
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    checkpoint = ModelCheckpoint(dirpath=output, filename="best", monitor="val_loss", mode="min", save_top_k=1,
                                 enable_version_counter=False)
    history = _History()
    callbacks: list[L.Callback] = [checkpoint, EarlyStopping(monitor="val_loss", patience=config.patience, mode="min"),
                                   history]
    if config.lr_schedule == "cosine":
        callbacks.append(CosineBudget(config.epochs * len(datamodule.train_dataloader()),
                                      None if config.max_minutes is None else 60 * config.max_minutes))
    if config.batchnorm_events and batchnorm_layers(module):  # the DNN and cluster networks have none
        callbacks.append(PreciseBatchNorm(lambda: datamodule.statistics_loader(config.batchnorm_events)))
    with quiet_lightning():
        trainer = L.Trainer(
            max_epochs=config.epochs, max_time=None if config.max_minutes is None else
            {"seconds": round(60 * config.max_minutes)}, accelerator=config.accelerator, devices=1, logger=logger,
            callbacks=callbacks, deterministic=config.deterministic, enable_progress_bar=config.progress,
            enable_model_summary=False, log_every_n_steps=1, num_sanity_val_steps=0, default_root_dir=output,
        )
        start = time.perf_counter()
        trainer.fit(module, datamodule=datamodule)
        seconds = time.perf_counter() - start
    best_path = Path(checkpoint.best_model_path)
    best_score = checkpoint.best_model_score
    best = RecoTask.load_from_checkpoint(best_path, map_location="cpu")
    test_index = datamodule.test_index if datamodule.test_index.size else datamodule.val_index
    test_set = datamodule.dataset("test") if datamodule.test_index.size else datamodule.dataset("val")
    metrics = split_metrics(predict_dataset(best, test_set), datamodule.arrays, test_index,  # type: ignore[arg-type]
                            datamodule.train_index, datamodule.classes, datamodule.config.merge_antiparticles)
    result = TrainResult(
        output=output, checkpoint=best_path, best_val_loss=float("nan") if best_score is None else float(best_score),
        epochs=len(history.rows), history=history.rows, metrics=metrics,
        n_events={"train": int(datamodule.train_index.size), "val": int(datamodule.val_index.size),
                  "test": int(datamodule.test_index.size)},
        classes=datamodule.classes, seconds=seconds,
    )
    _write_json(output / "config.json", json.loads(config.model_dump_json()))
    _write_json(output / "standardization.json", datamodule.standardizer.to_dict())
    _write_json(output / "classes.json", {"classes": list(datamodule.classes)})
    _write_json(output / "metrics.json", {"best_val_loss": result.best_val_loss, "epochs": result.epochs,
                                          "seconds": seconds, "n_events": result.n_events, "test": metrics,
                                          "history": history.rows})
    return result


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
