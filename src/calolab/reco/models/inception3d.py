"""A GoogLeNet-like 3D network: inception blocks of parallel 1, 3 and 5 (two 3s) cell-wide convolutions.

Each block runs four branches on the same input -- a 1x1x1 convolution, 1x1x1 then 3x3x3, 1x1x1 then two
3x3x3 (a factorised 5x5x5) and 3x3x3 max pooling then 1x1x1 -- and concatenates them (Szegedy et al.,
arXiv:1409.4842, with the factorisation of arXiv:1512.00567). Flat axes (one layer) use 1-wide kernels.
Between blocks, axes of >= 6 cells are halved; an adaptive pooling ends each section's tower.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from pydantic import Field
from torch import nn

from calolab.reco.models.common import InputShapes, ModelConfig, SectionTowers, capped, kernel_3d, mlp, pool_kernel

__all__ = ["InceptionConfig", "Inception3D", "InceptionBlock"]


class InceptionConfig(ModelConfig):
    """A stem of ``width`` channels, ``blocks`` inception blocks of four ``branch``-channel branches."""

    width: int = Field(default=16, ge=2, le=512)
    branch: int = Field(default=8, ge=1, le=512)
    blocks: int = Field(default=2, ge=1, le=6)
    dense: int = Field(default=64, ge=2)
    pooled: tuple[int, int, int] = (2, 2, 2)


def _conv(n_in: int, n_out: int, kernel: tuple[int, int, int], padding: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(n_in, n_out, kernel, padding=padding), nn.BatchNorm3d(n_out), nn.ReLU())


class InceptionBlock(nn.Module):
    """Four parallel branches of ``branch`` channels each, concatenated (``4 * branch`` channels out)."""

    def __init__(self, n_in: int, branch: int, shape: tuple[int, int, int]) -> None:
        super().__init__()
        k3, p3 = kernel_3d(shape)
        one, zero = (1, 1, 1), (0, 0, 0)
        self.branches = nn.ModuleList([
            _conv(n_in, branch, one, zero),
            nn.Sequential(_conv(n_in, branch, one, zero), _conv(branch, branch, k3, p3)),
            nn.Sequential(_conv(n_in, branch, one, zero), _conv(branch, branch, k3, p3), _conv(branch, branch, k3, p3)),
            nn.Sequential(nn.MaxPool3d(k3, stride=1, padding=p3), _conv(n_in, branch, one, zero)),
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def inception_tower(shape: tuple[int, int, int], config: InceptionConfig) -> tuple[nn.Sequential, int]:
    kernel, padding = kernel_3d(shape)
    layers: list[nn.Module] = [_conv(1, config.width, kernel, padding)]
    channels, current = config.width, tuple(shape)
    for _ in range(config.blocks):
        pool = pool_kernel(current)
        if max(pool) > 1:
            layers.append(nn.MaxPool3d(pool))
            current = tuple(n // p for n, p in zip(current, pool, strict=True))
        layers.append(InceptionBlock(channels, config.branch, current))  # type: ignore[arg-type]
        channels = 4 * config.branch
    target = capped(current, config.pooled)
    layers.append(nn.AdaptiveAvgPool3d(target))
    return nn.Sequential(*layers), channels * int(torch.tensor(target).prod())


class Inception3D(nn.Module):
    def __init__(self, config: InceptionConfig, shapes: InputShapes) -> None:
        super().__init__()
        towers, n_features = {}, 0
        for name, shape in shapes.sections.items():
            towers[name], n = inception_tower(shape, config)
            n_features += n
        self.towers = SectionTowers(towers, n_features)
        self.dense = mlp([n_features + shapes.n_scalars, config.dense], config.dropout)
        self.n_features = config.dense

    def forward(self, cells: Mapping[str, torch.Tensor], scalars: torch.Tensor) -> torch.Tensor:
        return self.dense(torch.cat([self.towers(cells), scalars], dim=1))
