"""Classifier two-sample test: can a small network tell the candidate from the reference?

A fully connected network (torch, CPU) is trained to separate reference showers (label 0)
from candidate showers (label 1), as in the CaloChallenge (Krause et al., arXiv:2410.21611,
after CaloFlow, Krause & Shih, arXiv:2106.05285). Both samples are cut to the same size, each
split into fixed train / validation / test parts; the epoch with the lowest validation loss is
kept, its outputs are calibrated by isotonic regression fitted on the validation part, and on
the test part we report

- the AUC of the network output (0.5: indistinguishable; 1: fully separated), with its DeLong
  standard error;
- the Jensen-Shannon divergence estimated from the binary cross-entropy of the calibrated
  output, ``JSD = (ln 2 - BCE) / ln 2`` in bits (0: indistinguishable; 1: fully separated).
  For balanced classes the optimal classifier's BCE is ``ln 2 - JSD`` (nats), so the estimate
  is a lower bound; it is clipped at 0 (a BCE above ln 2 means no difference was found).

Everything is seeded (split, initial weights, batch order, dropout) without touching global
random state, so a result reproduces for the same inputs, config and torch build.

Inputs: :func:`low_level_inputs` (cell energies over the incident energy, log-compressed, and
``log E_inc``) or the high-level features of :func:`~calolab.validate.observables.high_level_features`;
each column is standardised with the training part's mean and standard deviation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from calolab.errors import ConfigError, format_validation_error

__all__ = ["ClassifierConfig", "ClassifierResult", "classifier_test", "low_level_inputs"]

#: cell energies are compressed as log(1 + E_cell / (EPSILON E_inc))
EPSILON = 1e-4
_OUTPUT_BINS = 20


class ClassifierConfig(BaseModel):
    """Settings of the classifier test (validated).

    Attributes:
        hidden: widths of the hidden layers.
        dropout: dropout after each hidden layer.
        epochs: maximum number of epochs; ``patience`` epochs without a lower validation loss stop early.
        batch_size, lr, weight_decay: Adam optimisation.
        max_events: most events used from each sample.
        train_fraction, val_fraction: shares of each sample for training and validation; the rest is the test.
        seed: seed of the subsample, the split, the initial weights, the batch order and the dropout.
        threads: torch CPU threads while training (restored afterwards); small networks run fastest on one,
            and more threads than free cores slow training down many times.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden: tuple[int, ...] = (256, 256)
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    epochs: int = Field(default=40, ge=1)
    patience: int = Field(default=6, ge=1)
    batch_size: int = Field(default=128, ge=1)
    lr: float = Field(default=5e-4, gt=0.0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    max_events: int = Field(default=10_000, ge=10)
    train_fraction: float = Field(default=0.6, gt=0.0, lt=1.0)
    val_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: int = 0
    threads: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _fractions(self) -> ClassifierConfig:
        if self.train_fraction + self.val_fraction >= 1.0:
            msg = (f"train_fraction + val_fraction = {self.train_fraction + self.val_fraction:g} leaves no test "
                   f"events: keep the sum below 1 (default 0.6 + 0.2)")
            raise ValueError(msg)
        if any(width < 1 for width in self.hidden):
            msg = f"hidden layer widths must be >= 1, got {self.hidden}"
            raise ValueError(msg)
        return self

    @classmethod
    def make(cls, values: ClassifierConfig | Mapping[str, Any] | None = None, **overrides: Any) -> ClassifierConfig:
        """Validate a config (or a mapping of its fields); errors become :class:`ConfigError`."""
        data = values.model_dump() if isinstance(values, BaseModel) else dict(values or {})
        try:
            return cls(**(data | overrides))
        except ValidationError as error:
            raise ConfigError(format_validation_error(error, what="classifier config")) from None


@dataclass(frozen=True)
class ClassifierResult:
    """The outcome of one classifier test.

    Attributes:
        name: which inputs (``low-level``, ``high-level``).
        auc, auc_error: AUC of the test part and its DeLong standard error.
        jsd: Jensen-Shannon divergence estimate, bits, ``max(0, (ln 2 - bce) / ln 2)``.
        bce: binary cross-entropy of the calibrated output on the test part, nats.
        n_features: input width.
        n_train, n_val, n_test: events per part (both samples together).
        epochs, best_epoch: epochs run and the one kept (1-based).
        seconds: wall time.
        seed: the seed used.
        output_edges: bin edges of the calibrated output (0 to 1).
        output_reference, output_candidate: test-part histograms of the calibrated output.
    """

    name: str
    auc: float
    auc_error: float
    jsd: float
    bce: float
    n_features: int
    n_train: int
    n_val: int
    n_test: int
    epochs: int
    best_epoch: int
    seconds: float
    seed: int
    output_edges: np.ndarray
    output_reference: np.ndarray
    output_candidate: np.ndarray

    def figures(self) -> dict[str, Any]:
        """JSON-able figures of merit and the output histograms."""
        return {
            "name": self.name, "auc": self.auc, "auc_error": self.auc_error, "jsd": self.jsd,
            "bce": self.bce, "n_features": self.n_features, "n_train": self.n_train, "n_val": self.n_val,
            "n_test": self.n_test,
            "epochs": self.epochs, "best_epoch": self.best_epoch, "seconds": self.seconds, "seed": self.seed,
            "output_edges": self.output_edges.tolist(), "output_reference": self.output_reference.tolist(),
            "output_candidate": self.output_candidate.tolist(),
        }


def low_level_inputs(cells: Mapping[str, np.ndarray], e_inc: np.ndarray, epsilon: float = EPSILON) -> np.ndarray:
    """Cell-level classifier inputs: ``log(1 + E_cell / (epsilon E_inc))`` of every cell, and ``log(E_inc / MeV)``.

    Args:
        cells: section -> ``(n, layers, y, x)`` cell energies, MeV.
        e_inc: ``(n,)`` incident energies, MeV (non-positive values count as 1 MeV).
        epsilon: the compression scale relative to ``E_inc``.

    Returns:
        ``(n, cells + 1)`` float32.
    """
    scale = epsilon * np.clip(np.asarray(e_inc, dtype=np.float64), 1.0, None)
    parts = [np.log1p(np.clip(array.reshape(array.shape[0], -1), 0.0, None) / scale[:, None]).astype(np.float32)
             for array in cells.values()]
    parts.append(np.log(np.clip(np.asarray(e_inc, dtype=np.float64), 1.0, None)).astype(np.float32)[:, None])
    return np.concatenate(parts, axis=1)


def _split(n: int, config: ClassifierConfig, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    order = rng.permutation(n)
    n_train = max(1, int(round(config.train_fraction * n)))
    n_val = max(1, int(round(config.val_fraction * n)))
    return order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]


def _train(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
           config: ClassifierConfig) -> tuple[Any, int, int]:
    """Train the network; returns (model at the best validation loss, epochs run, best epoch)."""
    import torch
    from torch import nn

    torch.manual_seed(config.seed)
    layers: list[nn.Module] = []
    width = x_train.shape[1]
    for hidden in config.hidden:
        layers += [nn.Linear(width, hidden), nn.LeakyReLU(), nn.Dropout(config.dropout)]
        width = hidden
    layers.append(nn.Linear(width, 1))
    model = nn.Sequential(*layers)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val)
    generator = torch.Generator().manual_seed(config.seed)
    best_loss, best_epoch, best_state, epoch = math.inf, 0, None, 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        for batch in torch.randperm(len(xt), generator=generator).split(config.batch_size):
            optimiser.zero_grad()
            loss = loss_fn(model(xt[batch]).squeeze(1), yt[batch])
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            val_loss = float(loss_fn(model(xv).squeeze(1), yv))
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {key: value.clone() for key, value in model.state_dict().items()}
        elif epoch - best_epoch >= config.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, epoch, best_epoch


def _predict(model: Any, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return torch.sigmoid(model(torch.from_numpy(x)).squeeze(1)).double().numpy()


def classifier_test(reference: np.ndarray, candidate: np.ndarray, *, config: ClassifierConfig | None = None,
                    name: str = "classifier") -> ClassifierResult:
    """Train a classifier to separate ``candidate`` from ``reference`` and score it on held-out events.

    Args:
        reference, candidate: ``(n, d)`` inputs of the two samples (same ``d``).
        config: the settings (defaults when ``None``).
        name: a name for the result (``low-level``, ``high-level``).

    Raises:
        ConfigError: the inputs differ in width, are not 2-d, or hold fewer than 10 events per sample.
    """
    import torch
    from sklearn.isotonic import IsotonicRegression

    from calolab.evaluate.classification import auc_with_error

    config = config or ClassifierConfig()
    ref, cand = np.asarray(reference), np.asarray(candidate)
    if ref.ndim != 2 or cand.ndim != 2 or ref.shape[1] != cand.shape[1]:
        msg = (f"classifier {name!r}: inputs of shapes {ref.shape} and {cand.shape}; give (n, d) arrays "
               f"with the same d")
        raise ConfigError(msg)
    n = min(len(ref), len(cand), config.max_events)
    if n < 10:
        msg = (f"classifier {name!r}: {len(ref)} reference and {len(cand)} candidate events; the test needs at "
               f"least 10 of each")
        raise ConfigError(msg)
    start = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    ref = ref[np.sort(rng.choice(len(ref), n, replace=False))]
    cand = cand[np.sort(rng.choice(len(cand), n, replace=False))]
    parts_ref, parts_cand = _split(n, config, rng), _split(n, config, rng)
    x = [np.concatenate([ref[a], cand[b]]).astype(np.float32) for a, b in zip(parts_ref, parts_cand, strict=True)]
    y = [np.concatenate([np.zeros(len(a)), np.ones(len(b))]).astype(np.float32)
         for a, b in zip(parts_ref, parts_cand, strict=True)]
    mean = x[0].mean(axis=0, dtype=np.float64)
    std = x[0].std(axis=0, dtype=np.float64)
    std[std <= 0] = 1.0
    x = [((part - mean) / std).astype(np.float32) for part in x]
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        with torch.random.fork_rng(devices=[]):
            model, epochs, best_epoch = _train(x[0], y[0], x[1], y[1], config)
            raw_val, raw_test = _predict(model, x[1]), _predict(model, x[2])
    finally:
        torch.set_num_threads(threads)
    test_ref, test_cand = raw_test[y[2] == 0], raw_test[y[2] == 1]
    auc, auc_error = auc_with_error(test_cand, test_ref) if min(len(test_ref), len(test_cand)) >= 2 \
        else (float("nan"), float("nan"))
    calibration = IsotonicRegression(y_min=1e-6, y_max=1 - 1e-6, out_of_bounds="clip").fit(raw_val, y[1])
    calibrated = np.clip(calibration.predict(raw_test), 1e-6, 1 - 1e-6)
    bce = -float(np.mean(y[2] * np.log(calibrated) + (1 - y[2]) * np.log(1 - calibrated)))
    edges = np.linspace(0.0, 1.0, _OUTPUT_BINS + 1)
    return ClassifierResult(
        name=name, auc=float(auc), auc_error=float(auc_error), jsd=max(0.0, (math.log(2) - bce) / math.log(2)), bce=bce,
        n_features=int(ref.shape[1]), n_train=len(y[0]), n_val=len(y[1]), n_test=len(y[2]), epochs=epochs,
        best_epoch=best_epoch, seconds=time.perf_counter() - start, seed=config.seed, output_edges=edges,
        output_reference=np.histogram(calibrated[y[2] == 0], edges)[0].astype(float),
        output_candidate=np.histogram(calibrated[y[2] == 1], edges)[0].astype(float))
