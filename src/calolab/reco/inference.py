"""Using a trained network: load a checkpoint, predict on a shower file, write a predictions file.

The checkpoint carries the data config, the class list and the training standardisation, so a model
trained on one particle predicts on a file of another particle (or a mixture) as it is: events whose PDG
code is not one of the classes still get scores; their truth ``pdg`` tells the evaluation what they were.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from calolab.data.torch import ShowerArrays, ShowerDataset, load_showers
from calolab.errors import DatasetError
from calolab.reco.predictions import Predictions, prediction_truth, write_predictions
from calolab.reco.task import RecoTask

__all__ = ["load_task", "predict_file", "predictions_for", "predictions_for_arrays"]


def load_task(checkpoint: str | os.PathLike[str]) -> RecoTask:
    """A trained :class:`RecoTask` from a ``.ckpt`` file (or a run folder holding ``best.ckpt``), on the CPU.

    Raises:
        DatasetError: the file is missing or not a calolab reconstruction checkpoint.
    """
    path = Path(checkpoint)
    if path.is_dir():
        path = path / "best.ckpt"
    if not path.is_file():
        msg = f"checkpoint {path} does not exist: give runs/NAME/best.ckpt of a calolab train reco run"
        raise DatasetError(msg)
    try:
        from calolab.reco.train import quiet_lightning

        with quiet_lightning():
            task = RecoTask.load_from_checkpoint(path, map_location="cpu")
    except (KeyError, TypeError, RuntimeError, OSError, EOFError) as error:
        msg = f"{path} is not a calolab reconstruction checkpoint ({type(error).__name__}: {error})"
        raise DatasetError(msg) from None
    task.eval()
    return task


def predictions_for(task: RecoTask, data: str | os.PathLike[str], *, name: str | None = None,
                    batch_size: int = 1024, max_events: int | None = None,
                    model_path: str | os.PathLike[str] = "") -> Predictions:
    """Predict every event of shower file ``data`` with ``task``; truth and predictions in physical units.

    Truth: ``energy`` MeV, ``pdg``, ``position`` mm, ``theta`` rad, the file's 1-d ``/truth`` arrays and, for
    the overlap task, ``photon_position`` (N, 2, 2) mm and ``photon_energy`` (N, 2) MeV. Predicted: what
    the task's heads give (``energy``, ``pid_score``, ``position``, ``photon_position``, ``photon_energy``);
    the two-photon model also writes ``position`` = ``photon_position`` (N, 2, 2).
    """
    config = task.data_config
    if max_events is not None:
        config = config.model_copy(update={"max_events": max_events})
    arrays = load_showers(data, config)
    shapes = {k: tuple(v) for k, v in arrays.shapes.items()}
    if shapes != dict(task.shapes.sections):
        msg = (f"{data} has sections {shapes} but the model was trained on {dict(task.shapes.sections)}: "
               f"predict on files of the training detector")
        raise DatasetError(msg)
    return predictions_for_arrays(task, arrays, name=name, batch_size=batch_size,
                                  attrs={"model_path": str(model_path), "data": str(data)})


def predictions_for_arrays(task: RecoTask, arrays: ShowerArrays, *, name: str | None = None,
                           batch_size: int = 1024, attrs: dict[str, Any] | None = None) -> Predictions:
    """Predict events already in memory (read with the task's data config), as :func:`predictions_for` does."""
    from calolab.reco.train import predict_dataset

    dataset = ShowerDataset(arrays, task.standardizer, task.classes, task.data_config)
    predicted = predict_dataset(task, dataset, batch_size)
    if "photon_position" in predicted:
        predicted["position"] = predicted["photon_position"]
    return Predictions(
        model=name or str(task.hparams["model"]), truth=prediction_truth(arrays.truth, task.task_name == "overlap"),
        predicted=predicted,
        classes=task.classes if "pid_score" in predicted else (),
        attrs={**(attrs or {}), "task": task.task_name, "n_events": len(arrays)},
    )


def predict_file(checkpoint: str | os.PathLike[str], data: str | os.PathLike[str],
                 output: str | os.PathLike[str], *, name: str | None = None, batch_size: int = 1024,
                 max_events: int | None = None, overwrite: bool = False) -> Predictions:
    """Load ``checkpoint``, predict on ``data`` and write the predictions file ``output``; returns them.

    Raises:
        DatasetError: a missing/invalid checkpoint or shower file, a file of another detector, or
            ``output`` exists without ``overwrite``.
    """
    task = load_task(checkpoint)
    predictions = predictions_for(task, data, name=name, batch_size=batch_size, max_events=max_events,
                                  model_path=checkpoint)
    write_predictions(output, predictions, overwrite=overwrite)
    return predictions
