"""The Lightning module of every reconstruction network: losses, optimiser, and decoding to physical units.

A :class:`RecoTask` holds the network *and* everything needed to use it on a new file -- the model name and
config, the input shapes, the class list, the data config and the standardisation fitted on the training
split -- as hyperparameters, so ``RecoTask.load_from_checkpoint(path)`` alone predicts on any shower file of
the same detector (:mod:`calolab.reco.inference`).

Tasks and their outputs (:data:`calolab.reco.models.heads.TASK_HEADS`)::

    energy       energy
    pid          class probabilities
    pid+energy   both (loss weights configurable)
    position     impact x, y
    cluster      impact x, y and energy (cluster network on a cell window)
    overlap      (x, y, E) of two photons (permutation-invariant loss)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast, get_args

import lightning as L
import numpy as np
import torch

from calolab.data.torch import GEV, DataConfig, Standardizer
from calolab.errors import ConfigError
from calolab.reco.models import InputShapes, LossWeights, get_model, heads_for_task, multitask_loss
from calolab.reco.models.heads import TASK_HEADS

__all__ = ["LR_SCHEDULES", "RecoTask", "TASKS", "check_start", "decode_outputs"]

#: the task names
TASKS = tuple(TASK_HEADS)
#: how the learning rate evolves: halved on validation plateaus, or annealed over the run's budget
LrSchedule = Literal["plateau", "cosine"]
LR_SCHEDULES: tuple[str, ...] = get_args(LrSchedule)
START_INPUTS = 6  # a two-seed start's x, y, E of two photons, read among the scalar inputs


def check_task(task: str, classes: Sequence[int]) -> None:
    """Refuse an unknown task, or a PID task with fewer than two classes."""
    if task not in TASK_HEADS:
        msg = f"unknown task {task!r}: choose one of {list(TASK_HEADS)}"
        raise ConfigError(msg)
    if "pid" in TASK_HEADS[task] and len(classes) < 2:
        msg = (f"task {task!r} needs at least two particle classes but the training data hold only "
               f"{list(classes)}: give several --data files (one per particle) or a mixed file")
        raise ConfigError(msg)


def check_start(config: DataConfig, task: str) -> None:
    """Refuse a two-seed start (``start_from``) outside the two-photon task."""
    if config.start_from != "none" and task != "overlap":
        msg = (f"start_from {config.start_from!r} gives the network two photons to correct, which only the "
               f"'overlap' task predicts (got task {task!r}): drop start_from or train --task overlap")
        raise ConfigError(msg)


class RecoTask(L.LightningModule):
    """A reconstruction network trained on one task.

    With ``data_config.start_from = "two-seed"`` (task ``overlap``) the network corrects the classical
    two-seed split: it reads the split's photons among its scalar inputs and its photon outputs are added
    to them (in standardised units), starting from zero corrections.

    Args:
        model: network name (``dnn``, ``cnn``, ``inception``, ``cluster``, ``overlap``).
        model_config: its config fields (width, dropout, ...).
        input_shapes: :meth:`InputShapes.to_dict` of the inputs.
        task: one of :data:`TASKS`.
        classes: PDG codes of the PID classes (column order of the scores).
        standardizer: :meth:`Standardizer.to_dict` fitted on the training split.
        data_config: the :class:`DataConfig` fields the inputs were made with.
        loss_weights: :class:`LossWeights` fields.
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        huber_delta: regression losses in Huber form from this error on (standardised units); ``None``: MSE.
        lr_schedule: ``plateau`` halves the rate after 3 epochs without a better validation loss; ``cosine``
            leaves the rate to a :class:`~calolab.schedule.CosineBudget` callback of the trainer.
    """

    def __init__(self, model: str, model_config: Mapping[str, Any], input_shapes: Mapping[str, Any], task: str,
                 classes: Sequence[int], standardizer: Mapping[str, Any], data_config: Mapping[str, Any],
                 loss_weights: Mapping[str, Any] | None = None, lr: float = 1e-3, weight_decay: float = 0.0,
                 huber_delta: float | None = None, lr_schedule: str = "plateau") -> None:
        super().__init__()
        check_task(task, classes)
        if not lr > 0:
            msg = f"lr = {lr}: the learning rate must be positive (e.g. 1e-3)"
            raise ConfigError(msg)
        if lr_schedule not in LR_SCHEDULES:
            msg = f"lr_schedule {lr_schedule!r}: choose one of {list(LR_SCHEDULES)}"
            raise ConfigError(msg)
        self.save_hyperparameters()
        self.task_name = task
        self.classes = tuple(int(c) for c in classes)
        self.data_config = DataConfig(**dict(data_config))
        check_start(self.data_config, task)
        self.shapes = InputShapes.from_dict(input_shapes)
        self.starts = self.data_config.start_from != "none"
        net_shapes = InputShapes(self.shapes.sections, self.shapes.n_scalars + START_INPUTS * self.starts)
        self.net = get_model(model, model_config, net_shapes, heads_for_task(task, len(self.classes)))
        if self.starts:  # zero corrections at first: the untrained network *is* the two-seed split
            last = cast(torch.nn.Linear, cast(torch.nn.Sequential, self.net.head.heads["photons"])[-1])
            torch.nn.init.zeros_(last.weight)
            torch.nn.init.zeros_(last.bias)
        self.weights = LossWeights(**dict(loss_weights or {}))
        if huber_delta is not None and not huber_delta > 0:
            msg = f"huber_delta = {huber_delta}: give a positive error (standardised units, e.g. 0.05) or None"
            raise ConfigError(msg)
        self.huber_delta = huber_delta
        self.standardizer = Standardizer.from_dict(standardizer)

    def forward(self, cells: Mapping[str, torch.Tensor], scalars: torch.Tensor,
                start: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The network's outputs (standardised); with a two-seed ``start`` (B, 2, 3) the photons are the start
        plus the network's corrections, and the network reads the start among its scalar inputs."""
        if not self.starts:
            return self.net(cells, scalars)
        if start is None:
            msg = "this network corrects a two-seed start (data_config.start_from): pass the batch's 'start'"
            raise ConfigError(msg)
        outputs = self.net(cells, torch.cat([scalars, start.flatten(1)], dim=1))
        return {**outputs, "photons": outputs["photons"] + start}

    def _step(self, batch: Mapping[str, Any], stage: str) -> torch.Tensor:
        outputs = self(batch["cells"], batch["scalars"], batch.get("start"))
        loss, parts = multitask_loss(outputs, batch, self.weights, self.huber_delta)
        size = int(batch["scalars"].shape[0])
        self.log(f"{stage}_loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=size)
        if len(parts) > 1:
            for key, value in parts.items():
                self.log(f"{stage}_{key}_loss", value, on_step=False, on_epoch=True, batch_size=size)
        return loss

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "test")

    def predict_step(self, batch: Mapping[str, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        return {**self(batch["cells"], batch["scalars"], batch.get("start")), "index": batch["index"]}

    def configure_optimizers(self) -> Any:
        hparams = self.hparams
        optimizer = torch.optim.Adam(self.parameters(), lr=hparams["lr"], weight_decay=hparams["weight_decay"])
        if hparams["lr_schedule"] == "cosine":  # the trainer's CosineBudget sets the rate
            return optimizer
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}

    def decode(self, outputs: Mapping[str, torch.Tensor], seed: np.ndarray,
               energy_sum: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Network outputs -> physical predictions (see :func:`decode_outputs`)."""
        return decode_outputs(outputs, seed, self.standardizer, self.data_config.energy_target, energy_sum)


def decode_outputs(outputs: Mapping[str, torch.Tensor], seed: np.ndarray, standardizer: Standardizer,
                   energy_target: str, energy_sum: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Undo the standardisation: ``energy`` MeV, ``pid_score`` probabilities, ``position`` mm (absolute),
    ``photon_position`` (B, 2, 2) mm and ``photon_energy`` (B, 2) MeV ordered by falling energy.

    Args:
        outputs: the network's outputs for B events.
        seed: ``(B, 2)`` mm, the window's seed-cell centre (zeros without a window).
        standardizer: the training standardisation.
        energy_target: ``"log"``, ``"linear"`` or ``"ratio"``, as trained.
        energy_sum: ``(B,)`` GeV, the events' summed cell energy (:meth:`ShowerArrays.energy_sum`); needed
            by the ``ratio`` target.
    """
    decoded: dict[str, np.ndarray] = {}
    if "energy" in outputs:
        value = standardizer.inverse("energy", outputs["energy"].detach().cpu().numpy())
        if energy_target == "ratio":
            if energy_sum is None:
                msg = "decoding the 'ratio' energy target needs the events' summed cell energy (energy_sum)"
                raise ConfigError(msg)
            decoded["energy"] = np.exp(value) * np.asarray(energy_sum, dtype=np.float64) * GEV
        else:
            decoded["energy"] = (np.exp(value) if energy_target == "log" else value) * GEV
    if "logits" in outputs:
        decoded["pid_score"] = torch.softmax(outputs["logits"].detach().float(), dim=1).cpu().numpy()
    if "position" in outputs:
        decoded["position"] = standardizer.inverse("position", outputs["position"].detach().cpu().numpy()) + seed
    if "photons" in outputs:
        photons = standardizer.inverse("photons", outputs["photons"].detach().cpu().numpy())
        order = np.argsort(-photons[:, :, 2], axis=1, kind="stable")
        photons = np.take_along_axis(photons, order[:, :, None], axis=1)
        decoded["photon_position"] = photons[:, :, :2] + seed[:, None, :]
        share = photons[:, :, 2]
        if energy_target == "ratio":
            if energy_sum is None:
                msg = "decoding the 'ratio' photon energies needs the events' summed cell energy (energy_sum)"
                raise ConfigError(msg)
            share = share * np.asarray(energy_sum, dtype=np.float64)[:, None]
        decoded["photon_energy"] = share * GEV
    return decoded
