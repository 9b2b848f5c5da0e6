"""Multi-task output heads and their losses: particle ID logits, energy, impact position, two photons.

Every head sees the backbone's features concatenated with the (standardised) scalar inputs, so the
total energies reach the last layers directly (the skip connection of the CLIC CNN, arXiv:1912.06794).
Targets are standardised (:class:`calolab.data.torch.Standardizer`); the regression losses are mean
squared errors in those units (or their Huber form, ``huber_delta``), the PID loss a cross entropy that
ignores events outside the class list (label -1). The two-photon loss takes the better of the two photon
orderings per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

__all__ = ["HeadSpec", "LossWeights", "MultiTaskHead", "TASK_HEADS", "heads_for_task", "multitask_loss",
           "photon_pair_loss", "squared_error"]


@dataclass(frozen=True)
class HeadSpec:
    """Which outputs a network has: ``n_classes`` PID logits (0: none), ``energy`` (1 value),
    ``position`` (x, y) and ``photons`` photons of (x, y, E) each."""

    n_classes: int = 0
    energy: bool = False
    position: bool = False
    photons: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


#: task -> the outputs it trains
TASK_HEADS = {
    "energy": ("energy",),
    "pid": ("pid",),
    "pid+energy": ("pid", "energy"),
    "position": ("position",),
    "cluster": ("position", "energy"),
    "overlap": ("photons",),
}


def heads_for_task(task: str, n_classes: int) -> HeadSpec:
    """The :class:`HeadSpec` of a task (``n_classes`` is used by the PID tasks only)."""
    outputs = TASK_HEADS[task]
    return HeadSpec(n_classes=n_classes if "pid" in outputs else 0, energy="energy" in outputs,
                    position="position" in outputs, photons=2 if "photons" in outputs else 0)


class LossWeights(BaseModel):
    """Weight of each head's loss in the total (``pid`` cross entropy, standardised MSE of the others).

    In the two-photon loss (task ``overlap``) ``position`` and ``energy`` also weight each photon's ``x, y``
    against its ``E`` (:func:`photon_pair_loss`); ``photons`` weights that loss as a whole.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pid: float = Field(default=1.0, ge=0.0)
    energy: float = Field(default=1.0, ge=0.0)
    position: float = Field(default=1.0, ge=0.0)
    photons: float = Field(default=1.0, ge=0.0)


class MultiTaskHead(nn.Module):
    """One small MLP per output on ``concat(features, scalars)``.

    Output dict: ``logits`` (B, classes), ``energy`` (B,), ``position`` (B, 2), ``photons`` (B, k, 3),
    each present only if the spec asks for it.
    """

    def __init__(self, n_features: int, n_scalars: int, spec: HeadSpec, hidden: int = 32) -> None:
        super().__init__()
        if not (spec.n_classes or spec.energy or spec.position or spec.photons):
            msg = "a network needs at least one output head (PID, energy, position or photons)"
            raise ValueError(msg)
        self.spec = spec
        n_in = n_features + n_scalars
        sizes = {"logits": spec.n_classes, "energy": int(spec.energy), "position": 2 * spec.position,
                 "photons": 3 * spec.photons}
        self.heads = nn.ModuleDict({key: nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, size))
                                    for key, size in sizes.items() if size})

    def forward(self, features: torch.Tensor, scalars: torch.Tensor) -> dict[str, torch.Tensor]:
        joined = torch.cat([features, scalars], dim=1)
        out = {key: head(joined) for key, head in self.heads.items()}
        if "energy" in out:
            out["energy"] = out["energy"].squeeze(1)
        if "photons" in out:
            out["photons"] = out["photons"].view(-1, self.spec.photons, 3)
        return out


def squared_error(predicted: torch.Tensor, target: torch.Tensor, huber_delta: float | None = None) -> torch.Tensor:
    """Elementwise ``(predicted - target)^2``; with ``huber_delta`` the Huber form, twice torch's: the same
    square up to ``|error| = huber_delta``, then ``2 delta |error| - delta^2`` (linear), so a few events with
    large errors do not outweigh the many with small ones."""
    if huber_delta is None:
        return (predicted - target) ** 2
    return 2.0 * F.huber_loss(predicted, target, reduction="none", delta=huber_delta)


def photon_pair_loss(predicted: torch.Tensor, target: torch.Tensor, position_weight: float = 1.0,
                     energy_weight: float = 1.0, huber_delta: float | None = None) -> torch.Tensor:
    """Permutation-invariant MSE of two photons ``(B, 2, 3)``: per event the smaller of the two orderings.

    Each photon's ``x, y`` count with ``position_weight`` and its ``E`` with ``energy_weight`` (the mean
    of the weights is 1); the ordering is chosen on the weighted error. Equal weights by default: on the
    cms-overlap study (``bench/reco_studies.py``) weighting the positions 10 times up made both the
    positions (6.1 vs 3.3 mm) and the energies (43% vs 4.7%) worse -- learning the energy shares helps
    the shared layers. ``huber_delta``: the Huber form of :func:`squared_error`.
    """
    weights = torch.tensor([position_weight, position_weight, energy_weight], dtype=predicted.dtype,
                           device=predicted.device)
    weights = 3 * weights / weights.sum().clamp_min(1e-12)
    direct = (weights * squared_error(predicted, target, huber_delta)).mean(dim=(1, 2))
    swapped = (weights * squared_error(predicted.flip(1), target, huber_delta)).mean(dim=(1, 2))
    return torch.minimum(direct, swapped).mean()


def multitask_loss(outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor],
                   weights: LossWeights, huber_delta: float | None = None,
                   ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum of the losses of the heads present in ``outputs``; also each part (unweighted).

    ``huber_delta`` (standardised units): the regression losses take the Huber form of :func:`squared_error`.
    """
    parts: dict[str, torch.Tensor] = {}
    if "logits" in outputs:
        labels = batch["label"]
        if bool((labels >= 0).any()):
            parts["pid"] = F.cross_entropy(outputs["logits"], labels, ignore_index=-1)
    for key in ("energy", "position"):
        if key in outputs:
            parts[key] = squared_error(outputs[key], batch[key], huber_delta).mean()
    if "photons" in outputs:
        parts["photons"] = photon_pair_loss(outputs["photons"], batch["photons"], weights.position, weights.energy,
                                            huber_delta)
    total = sum((getattr(weights, key) * value for key, value in parts.items()),
                start=torch.zeros((), device=next(iter(outputs.values())).device))
    return total, parts
