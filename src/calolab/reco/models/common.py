"""Building blocks shared by the reconstruction networks: input shapes, MLPs, 3D kernel and pooling plans."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

__all__ = ["InputShapes", "ModelConfig", "mlp", "kernel_3d", "pool_kernel", "capped", "SectionTowers"]


@dataclass(frozen=True)
class InputShapes:
    """What a network sees: section -> ``(layers, y, x)`` cell grids and the number of scalar inputs."""

    sections: Mapping[str, tuple[int, int, int]]
    n_scalars: int

    def to_dict(self) -> dict[str, object]:
        return {"sections": {k: list(v) for k, v in self.sections.items()}, "n_scalars": self.n_scalars}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> InputShapes:
        sections: Mapping[str, Sequence[int]] = data["sections"]  # type: ignore[assignment]
        shapes = {str(k): (int(v[0]), int(v[1]), int(v[2])) for k, v in sections.items()}
        return cls(shapes, int(data["n_scalars"]))  # type: ignore[call-overload]


class ModelConfig(BaseModel):
    """Fields every network has: ``width`` (base number of channels / units), ``dropout`` and the
    hidden units of each output head."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(default=32, ge=2, le=4096)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    head_hidden: int = Field(default=32, ge=1)


def mlp(sizes: Sequence[int], dropout: float) -> nn.Sequential:
    """Linear -> ReLU -> Dropout for each consecutive pair of ``sizes`` (the output ends on a ReLU)."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def kernel_3d(shape: Sequence[int], size: int = 3) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A ``size``-wide kernel on each axis longer than 1 cell (1 on flat axes) and its 'same' padding."""
    kernel = tuple(size if n > 1 else 1 for n in shape)
    return kernel, tuple(k // 2 for k in kernel)  # type: ignore[return-value]


def pool_kernel(shape: Sequence[int], minimum: int = 6) -> tuple[int, int, int]:
    """Halve each axis of at least ``minimum`` cells."""
    return tuple(2 if n >= minimum else 1 for n in shape)  # type: ignore[return-value]


def capped(shape: Sequence[int], limit: Sequence[int]) -> tuple[int, int, int]:
    """``shape`` with each axis at most ``limit`` (the output size of an adaptive pooling)."""
    return tuple(min(n, m) for n, m in zip(shape, limit, strict=True))  # type: ignore[return-value]


class SectionTowers(nn.Module):
    """One tower per detector section; their flattened outputs are concatenated in section order."""

    def __init__(self, towers: Mapping[str, nn.Module], n_features: int) -> None:
        super().__init__()
        self.names = list(towers)
        self.towers = nn.ModuleDict(dict(towers))
        self.n_features = n_features

    def forward(self, cells: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([self.towers[name](cells[name]).flatten(1) for name in self.names], dim=1)
