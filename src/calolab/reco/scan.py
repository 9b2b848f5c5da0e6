"""Optuna hyperparameter scans of a reconstruction network: learning rate, width and dropout.

Each trial is a full :func:`calolab.reco.train.train_reco` run in ``output/trial_<k>`` on the same events
(read once) and the same seeded split; the objective is the best validation loss. The summary -- every
trial's parameters, loss and test figures, and the best trial -- goes to ``output/scan.json``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from calolab.data.torch import load_showers
from calolab.errors import ConfigError
from calolab.reco.train import TrainConfig, train_reco

__all__ = ["ScanSpace", "ScanResult", "run_scan"]


class ScanSpace(BaseModel):
    """The searched ranges: ``lr`` log-uniform, ``width`` one of the choices, ``dropout`` uniform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lr: tuple[float, float] = (1e-4, 1e-2)
    width: tuple[int, ...] = (8, 16, 32, 64)
    dropout: tuple[float, float] = (0.0, 0.4)


@dataclass
class ScanResult:
    """All trials (``number``, ``params``, ``val_loss``, ``metrics``, ``output``) and the best one."""

    trials: list[dict[str, Any]]
    best: dict[str, Any]
    summary_path: Path
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary_path"] = str(self.summary_path)
        return data


def run_scan(base: TrainConfig, trials: int, output: str | Path, *, space: ScanSpace | None = None,
             seed: int | None = None) -> ScanResult:
    """Run ``trials`` Optuna (TPE, seeded) trials of ``base`` with sampled lr, width and dropout.

    Args:
        base: the training run to vary (its ``output`` is replaced by ``output/trial_<k>``).
        trials: number of trials (>= 1).
        output: the scan folder (created); ``scan.json`` is written there.
        space: the ranges searched.
        seed: sampler seed (default: ``base.seed``).
    """
    import optuna

    if trials < 1:
        msg = f"--trials {trials}: run at least 1 trial"
        raise ConfigError(msg)
    space = space or ScanSpace()
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = load_showers(base.data, base.data_config())
    records: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        params = {"lr": trial.suggest_float("lr", *space.lr, log=True),
                  "width": trial.suggest_categorical("width", list(space.width)),
                  "dropout": trial.suggest_float("dropout", *space.dropout)}
        options = {**base.model_options, "width": params["width"], "dropout": params["dropout"]}
        config = base.model_copy(update={"lr": params["lr"], "model_options": options,
                                         "output": folder / f"trial_{trial.number}", "overwrite": True})
        result = train_reco(TrainConfig.model_validate(config.model_dump()), arrays=arrays)
        loss = result.best_val_loss if math.isfinite(result.best_val_loss) else float("inf")
        records.append({"number": trial.number, "params": params, "val_loss": loss, "metrics": result.metrics,
                        "epochs": result.epochs, "output": str(result.output)})
        return loss

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize",
                                sampler=optuna.samplers.TPESampler(seed=base.seed if seed is None else seed))
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    seconds = time.perf_counter() - start
    best = next(r for r in records if r["number"] == study.best_trial.number)
    summary = folder / "scan.json"
    result = ScanResult(records, best, summary, seconds)
    summary.write_text(json.dumps({"model": base.model, "task": base.task, "data": [str(p) for p in base.data],
                                   "space": space.model_dump(), **result.to_dict()}, indent=2, default=float) + "\n")
    return result
