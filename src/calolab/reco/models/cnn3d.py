"""3D convolutional network with the total energies skipped into the dense layers (the CLIC study's CNN).

Each section gets its own tower of ``blocks`` convolution blocks (3x3x3 convolutions on the axes longer than
one cell, batch normalisation, ReLU, 2x max pooling of axes of >= 6 cells); an adaptive average pooling
brings any section shape to at most ``pooled`` cells per axis. The flattened towers are concatenated with the
scalar inputs (total energy per section) before the dense layers, and the heads see the scalars again:
the energy sum reaches the last layer directly (arXiv:1912.06794, Sec. 4).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from pydantic import Field
from torch import nn

from calolab.reco.models.common import InputShapes, ModelConfig, SectionTowers, capped, kernel_3d, mlp, pool_kernel

__all__ = ["CNNConfig", "CNN3D", "conv_tower"]


class CNNConfig(ModelConfig):
    """Channels ``width, 2 width, 4 width, ...`` over ``blocks`` blocks; ``dense`` units after the towers."""

    width: int = Field(default=16, ge=2, le=512)
    blocks: int = Field(default=3, ge=1, le=6)
    dense: int = Field(default=128, ge=2)
    pooled: tuple[int, int, int] = (2, 3, 3)


def conv_tower(shape: tuple[int, int, int], width: int, blocks: int, pooled: tuple[int, int, int],
               ) -> tuple[nn.Sequential, int]:
    """Convolution blocks for one section grid; returns the tower and its number of output features."""
    layers: list[nn.Module] = []
    channels, current = 1, tuple(shape)
    for block in range(blocks):
        out = width * 2 ** block
        kernel, padding = kernel_3d(current)
        layers += [nn.Conv3d(channels, out, kernel, padding=padding), nn.BatchNorm3d(out), nn.ReLU()]
        pool = pool_kernel(current)
        if max(pool) > 1:
            layers.append(nn.MaxPool3d(pool))
            current = tuple(n // p for n, p in zip(current, pool, strict=True))
        channels = out
    target = capped(current, pooled)
    layers.append(nn.AdaptiveAvgPool3d(target))
    return nn.Sequential(*layers), channels * int(torch.tensor(target).prod())


class CNN3D(nn.Module):
    def __init__(self, config: CNNConfig, shapes: InputShapes) -> None:
        super().__init__()
        towers, n_features = {}, 0
        for name, shape in shapes.sections.items():
            towers[name], n = conv_tower(shape, config.width, config.blocks, config.pooled)
            n_features += n
        self.towers = SectionTowers(towers, n_features)
        self.dense = mlp([n_features + shapes.n_scalars, config.dense, config.dense // 2], config.dropout)
        self.n_features = config.dense // 2

    def forward(self, cells: Mapping[str, torch.Tensor], scalars: torch.Tensor) -> torch.Tensor:
        return self.dense(torch.cat([self.towers(cells), scalars], dim=1))
