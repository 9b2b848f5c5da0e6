"""Two-photon network: (x, y, E) of each of two photons whose showers merge into one cluster.

The same window tower as the cluster network with a deeper dense part; trained with the permutation-
invariant loss of :func:`calolab.reco.models.heads.photon_pair_loss` (task ``overlap``), since nothing
tells the two photons apart. Positions are relative to the window's seed cell.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from pydantic import Field
from torch import nn

from calolab.reco.models.cluster import window_tower
from calolab.reco.models.common import InputShapes, ModelConfig, mlp

__all__ = ["OverlapConfig", "OverlapNet"]


class OverlapConfig(ModelConfig):
    """``convs`` convolutions of ``width`` channels, then three dense layers of ``dense``, dense/2, dense/2.

    No dropout by default, as for :class:`calolab.reco.models.cluster.ClusterConfig` (on cms-overlap: 3.3 mm
    with dropout 0.1, 3.0 mm without). Cell x, y as extra input channels ("CoordConv") gave 2.96 mm: not
    kept.
    """

    width: int = Field(default=32, ge=2, le=512)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    convs: int = Field(default=3, ge=0, le=6)
    dense: int = Field(default=128, ge=2)
    max_cells: tuple[int, int, int] = (8, 7, 7)


class OverlapNet(nn.Module):
    def __init__(self, config: OverlapConfig, shapes: InputShapes) -> None:
        super().__init__()
        towers, n_features = {}, 0
        for name, shape in shapes.sections.items():
            towers[name], n = window_tower(shape, config.width, config.convs, config.max_cells)
            n_features += n
        self.towers = nn.ModuleDict(towers)
        half = config.dense // 2
        self.dense = mlp([n_features + shapes.n_scalars, config.dense, half, half], config.dropout)
        self.n_features = half

    def forward(self, cells: Mapping[str, torch.Tensor], scalars: torch.Tensor) -> torch.Tensor:
        flat = [tower(cells[name]).flatten(1) for name, tower in self.towers.items()]
        return self.dense(torch.cat([*flat, scalars], dim=1))
