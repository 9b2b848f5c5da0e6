"""Fully connected network on the flattened cells of every section and the total energies.

Large sections are first average-pooled to at most ``max_cells`` per axis so the first layer stays small.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from pydantic import Field
from torch import nn

from calolab.reco.models.common import InputShapes, ModelConfig, capped, mlp

__all__ = ["DNNConfig", "DNN"]


class DNNConfig(ModelConfig):
    """``layers`` hidden layers of ``width * 4, width * 2, width, ...`` units (at least ``width``)."""

    width: int = Field(default=64, ge=2, le=4096)
    layers: int = Field(default=3, ge=1, le=10)
    max_cells: tuple[int, int, int] = (32, 32, 32)


class DNN(nn.Module):
    def __init__(self, config: DNNConfig, shapes: InputShapes) -> None:
        super().__init__()
        self.pools = nn.ModuleDict({name: nn.AdaptiveAvgPool3d(capped(shape, config.max_cells))
                                    for name, shape in shapes.sections.items()})
        n_cells = sum(int(torch.tensor(capped(shape, config.max_cells)).prod())
                      for shape in shapes.sections.values())
        hidden = [config.width * 2 ** max(config.layers - 1 - i, 0) for i in range(config.layers)]
        self.body = mlp([n_cells + shapes.n_scalars, *hidden], config.dropout)
        self.n_features = hidden[-1]

    def forward(self, cells: Mapping[str, torch.Tensor], scalars: torch.Tensor) -> torch.Tensor:
        flat = [pool(cells[name]).flatten(1) for name, pool in self.pools.items()]
        return self.body(torch.cat([*flat, scalars], dim=1))
