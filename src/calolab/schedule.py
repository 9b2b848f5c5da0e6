"""A learning-rate schedule that knows the training budget: :class:`CosineBudget`.

The generative and reconstruction runs stop at whichever comes first of ``epochs`` and a wall-time
budget (``max_minutes``), so the number of steps is not known in advance. The schedule follows the
cosine annealing of Loshchilov and Hutter (SGDR, arXiv:1608.03983, without restarts) over the
*progress* of the run, the larger of the share of the steps done and the share of the time spent:

    lr = lr_0 * (floor + (1 - floor) * (1 + cos(pi * progress)) / 2)

so the rate reaches ``floor * lr_0`` when either budget runs out. Under a time budget the schedule
(like the number of epochs) depends on the machine's speed.
"""

from __future__ import annotations

import math
import time

import lightning as L

__all__ = ["CosineBudget", "cosine_factor"]


def cosine_factor(progress: float, floor: float) -> float:
    """Learning-rate factor at ``progress`` in ``[0, 1]`` (clamped): 1 at the start, ``floor`` at the end."""
    progress = min(max(progress, 0.0), 1.0)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class CosineBudget(L.Callback):
    """Sets every optimiser's learning rate before each training batch from the run's progress.

    Args:
        total_steps: training batches of the whole run (``epochs`` times batches per epoch).
        seconds: the wall-time budget of the fit (``None``: steps only).
        floor: the final rate as a share of the initial one.
    """

    def __init__(self, total_steps: int, seconds: float | None, floor: float = 0.01) -> None:
        if total_steps < 1:
            msg = f"total_steps must be at least 1, got {total_steps}"
            raise ValueError(msg)
        self.total_steps = total_steps
        self.seconds = seconds
        self.floor = floor
        self.start: float | None = None
        self.initial: list[list[float]] = []

    def progress(self, step: int, now: float) -> float:
        """The run's progress after ``step`` batches at time ``now`` (``time.perf_counter``)."""
        done = step / self.total_steps
        if self.seconds is not None and self.start is not None:
            done = max(done, (now - self.start) / self.seconds)
        return min(done, 1.0)

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.start = time.perf_counter()
        self.initial = [[group["lr"] for group in optimiser.param_groups] for optimiser in trainer.optimizers]

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch: object,
                             batch_idx: int) -> None:
        factor = cosine_factor(self.progress(_batches_done(trainer), time.perf_counter()), self.floor)
        for optimiser, rates in zip(trainer.optimizers, self.initial, strict=True):
            for group, rate in zip(optimiser.param_groups, rates, strict=True):
                group["lr"] = rate * factor


def _batches_done(trainer: L.Trainer) -> int:
    """Training batches finished before the current one (not ``global_step``: the GAN's two optimisers
    step twice per batch)."""
    return max(trainer.fit_loop.epoch_loop.batch_progress.total.ready - 1, 0)
