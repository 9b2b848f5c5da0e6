"""The budget-aware cosine learning-rate schedule of the generative and reconstruction runs."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from calolab.reco.train import quiet_lightning
from calolab.schedule import CosineBudget, cosine_factor


def test_cosine_factor_runs_from_one_to_the_floor() -> None:
    assert cosine_factor(0.0, 0.01) == 1.0
    assert cosine_factor(1.0, 0.01) == pytest.approx(0.01)
    assert cosine_factor(0.5, 0.01) == pytest.approx(0.505)
    assert cosine_factor(2.0, 0.1) == pytest.approx(0.1)  # clamped past the end
    with pytest.raises(ValueError, match="total_steps must be at least 1"):
        CosineBudget(0, None)


def test_progress_is_the_larger_of_steps_and_time() -> None:
    schedule = CosineBudget(total_steps=100, seconds=60.0)
    schedule.start = 1000.0
    assert schedule.progress(10, now=1030.0) == pytest.approx(0.5)  # time ahead of the steps
    assert schedule.progress(80, now=1030.0) == pytest.approx(0.8)  # steps ahead of the time
    assert schedule.progress(10, now=2000.0) == 1.0


class _Line(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.rates: list[float] = []

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        self.rates.append(self.trainer.optimizers[0].param_groups[0]["lr"])
        return ((self.layer(batch[0]) - batch[1]) ** 2).mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_each_batch_gets_the_rate_of_the_batches_before_it(tmp_path) -> None:  # noqa: ANN001
    """2 epochs of 4 batches: batch k (from 0) trains at 0.1 * cosine_factor(k / 8); the rate the optimiser
    was made with is restored as the base, not compounded."""
    data = torch.utils.data.TensorDataset(torch.randn(16, 2), torch.randn(16, 1))
    module = _Line()
    trainer = L.Trainer(max_epochs=2, callbacks=[CosineBudget(8, None, floor=0.01)], logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=tmp_path, accelerator="cpu")
    with quiet_lightning():
        trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=4))
    expected = [0.1 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * k / 8))) for k in range(8)]
    assert module.rates == pytest.approx(expected)
