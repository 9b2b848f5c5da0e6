"""A 3DGAN-style conditional GAN (Khattak et al., EPJC 82 (2022) 386; arXiv:2109.07388).

Generator: a latent vector multiplied by the scaled incident energy (as in 3DGAN) and joined to
the condition vector -> a dense layer -> a coarse 3D grid -> two 3D transposed convolutions (kernel =
stride = 2) -> ReLU
cells in the transformed space ``(E / s)^0.85`` (:class:`~calolab.gen.data.CellTransform`).

Discriminator: 3D convolutions -> a real/fake logit plus auxiliary regressions of the scaled
incident energy and angle and a particle-class classifier (the ACGAN heads of 3DGAN); it also
sees the shower's total energy over ``E_inc`` (3DGAN's "ECAL sum" input). The total-energy
loss -- the relative difference of the summed cells to the real shower's sum at the same
conditions -- is computed by the training task (:mod:`calolab.gen.task`).

Any section shape works: each axis is padded up to a multiple of ``2^k`` (``k`` = 2 for 12 or
more cells, 1 for 6 or more, else 0), generated at that size and cropped back.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

__all__ = ["GanConfig", "Generator", "Discriminator", "Deconv", "upsampling_plan"]


class GanConfig(BaseModel):
    """Sizes of the 3DGAN-style networks and the weights of its auxiliary losses.

    Attributes:
        latent: size of the latent vector.
        gen_channels: channels of the generator's coarse grid and after its first transposed convolution.
        disc_channels: channels of the discriminator's three convolutions.
        hidden: width of the discriminator's dense layer.
        energy_weight, angle_weight, class_weight: auxiliary regression/classification losses.
        total_energy_weight: the total-energy (sum of cells vs the real shower's) loss of the generator.
        power: exponent of the cell preprocessing (0.85 in 3DGAN).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    latent: int = Field(default=64, ge=1)
    gen_channels: tuple[int, int] = (32, 16)
    disc_channels: tuple[int, int, int] = (8, 16, 16)
    hidden: int = Field(default=64, ge=1)
    energy_weight: float = Field(default=0.2, ge=0)
    angle_weight: float = Field(default=0.1, ge=0)
    class_weight: float = Field(default=0.1, ge=0)
    total_energy_weight: float = Field(default=1.0, ge=0)
    power: float = Field(default=0.85, gt=0)


def upsampling_plan(shape: tuple[int, int, int]) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(halvings per axis, padded shape): each axis is generated at ``ceil(n / 2^k) 2^k`` cells."""
    halvings = tuple(2 if n >= 12 else 1 if n >= 6 else 0 for n in shape)
    padded = tuple(math.ceil(n / 2**k) * 2**k for n, k in zip(shape, halvings, strict=True))
    return halvings, padded  # type: ignore[return-value]


class Deconv(nn.Module):
    """A 3D transposed convolution whose kernel equals its stride (``factor`` per axis, 1 or 2).

    Equal to ``nn.ConvTranspose3d(c_in, c_out, kernel_size=factor, stride=factor)``, written as one matrix
    product per voxel followed by a voxel shuffle, which runs several times faster on CPU.
    """

    def __init__(self, c_in: int, c_out: int, factor: tuple[int, int, int]) -> None:
        super().__init__()
        self.factor = factor
        self.c_out = c_out
        self.linear = nn.Linear(c_in, c_out * math.prod(factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, d, h, w = x.shape
        fd, fh, fw = self.factor
        y = self.linear(x.permute(0, 2, 3, 4, 1))  # (n, d, h, w, c_out * fd * fh * fw)
        y = y.view(n, d, h, w, self.c_out, fd, fh, fw).permute(0, 4, 1, 5, 2, 6, 3, 7)
        return y.reshape(n, self.c_out, d * fd, h * fh, w * fw)


def _crop(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """Centre crop of the last three axes of ``x`` to ``shape``."""
    slices = []
    for size, target in zip(x.shape[-3:], shape, strict=True):
        start = (size - target) // 2
        slices.append(slice(start, start + target))
    return x[..., slices[0], slices[1], slices[2]]


class Generator(nn.Module):
    """``(z, conditions, energy_fraction) -> cells (N, 1, layers, y, x)`` in the transformed space.

    Args:
        shape: ``(layers, y, x)`` of the section.
        n_conditions: length of the condition vector.
        config: the sizes.
    """

    shuffle: torch.Tensor

    def __init__(self, shape: tuple[int, int, int], n_conditions: int, config: GanConfig) -> None:
        super().__init__()
        self.shape = (int(shape[0]), int(shape[1]), int(shape[2]))
        self.latent = config.latent
        halvings, padded = upsampling_plan(self.shape)
        self.coarse = tuple(p // 2**k for p, k in zip(padded, halvings, strict=True))
        c0, c1 = config.gen_channels
        self.c0 = c0
        self.dense = nn.Sequential(nn.Linear(config.latent + n_conditions, c0 * math.prod(self.coarse)),
                                   nn.LeakyReLU(0.2))
        # 3DGAN's transposed ("de-") convolutions, here with kernel = stride = 2 along each axis that grows:
        # per coarse voxel a matrix product gives its 2 x 2 x 2 children (fast on CPU); forward runs the two
        # layers fused, with the same weights and the same LeakyReLU(0.2) and ReLU
        first = (2 if halvings[0] == 2 else 1, 2 if halvings[1] == 2 else 1, 2 if halvings[2] == 2 else 1)
        last = (2 if halvings[0] else 1, 2 if halvings[1] else 1, 2 if halvings[2] else 1)
        self.body = nn.Sequential(
            Deconv(c0, c1, first), nn.LeakyReLU(0.2),
            Deconv(c1, 1, last), nn.ReLU(),
        )
        output = self.body[2]
        assert isinstance(output, Deconv)  # built just above
        # where each kept cell sits in the fused layer's output (see forward): its voxel shuffle and centre crop
        # as one gather; a 10-axis permute with runs of 2 elements cost 20x more on CPU
        grandchildren = torch.arange(math.prod(padded)).view(*self.coarse, *first, *last)
        order = grandchildren.permute(0, 3, 6, 1, 4, 7, 2, 5, 8).reshape(padded)
        self.register_buffer("shuffle", _crop(order, self.shape).reshape(-1).clone(), persistent=False)
        with torch.no_grad():  # start near the data: summed cells ~0.5 E_inc, half the cells zero
            output.linear.weight.mul_(0.03)
            output.linear.bias.zero_()

    def forward(self, z: torch.Tensor, conditions: torch.Tensor, energy_fraction: torch.Tensor) -> torch.Tensor:
        """Cells for latent ``z`` ``(N, latent)``, ``conditions`` ``(N, C)`` and ``E_inc / E_max`` ``(N,)``.

        Computes ``crop(body(dense(...)))`` without its intermediate voxel shuffle: a kernel = stride
        transposed convolution maps each voxel to its own block of children, so the two of them act on each
        coarse voxel as a small two-layer network whose outputs are the voxel's 4 x 4 x 4 grandchildren, put in
        place (and cropped) by one gather at the end. With sampling in blocks (``checkpoint.GAN_BLOCK``) it took
        ``bench/generation.py`` from 1600 to 2900 showers/s on one core (with a permute for the shuffle).
        """
        h = torch.cat([z * energy_fraction[:, None], conditions], dim=1)  # 3DGAN: latent times the energy
        n, (d, height, width) = h.shape[0], self.coarse
        grid = self.dense(h).view(n, self.c0, d * height * width).transpose(1, 2)  # (N, voxels, c0)
        first, last = cast(Deconv, self.body[0]), cast(Deconv, self.body[2])
        children = math.prod(first.factor)
        # the first deconvolution's outputs are ordered (channel, child): reorder them to (child, channel)
        weight = first.linear.weight.view(first.c_out, children, -1).transpose(0, 1).reshape(-1, self.c0)
        bias = first.linear.bias.view(first.c_out, children).T.reshape(-1)
        hidden = nn.functional.leaky_relu(nn.functional.linear(grid, weight, bias), 0.2)
        cells = nn.functional.linear(hidden.view(n, -1, children, first.c_out), last.linear.weight, last.linear.bias)
        cells = cells.reshape(n, -1).index_select(1, self.shuffle)  # (coarse voxel, child, grandchild) -> cells
        return torch.relu(cells).view(n, 1, *self.shape)  # the body's final ReLU, on the kept cells only


class Discriminator(nn.Module):
    """``(cells, total_over_einc) -> {"logit", "energy", "angle", "class_logits"}``.

    Args:
        shape: ``(layers, y, x)`` of the section.
        n_classes: number of particle classes.
        config: the sizes.
    """

    def __init__(self, shape: tuple[int, int, int], n_classes: int, config: GanConfig) -> None:
        super().__init__()
        _, self.padded = upsampling_plan(tuple(shape))  # type: ignore[arg-type]
        self.shape = tuple(shape)
        c1, c2, c3 = config.disc_channels
        self.body = nn.Sequential(
            nn.Conv3d(1, c1, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv3d(c1, c2, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv3d(c2, c3, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.body(torch.zeros(1, 1, *self.padded)).shape[1]
        self.dense = nn.Sequential(nn.Linear(flat, config.hidden), nn.LeakyReLU(0.2))
        features = config.hidden + 2  # + the ECAL-sum inputs
        self.real_fake = nn.Linear(features, 1)
        self.energy = nn.Linear(features, 1)
        self.angle = nn.Linear(features, 1)
        self.particle = nn.Linear(features, max(n_classes, 1))

    def forward(self, cells: torch.Tensor, total_over_einc: torch.Tensor) -> dict[str, torch.Tensor]:
        pad = []
        for size, target in zip(reversed(cells.shape[-3:]), reversed(self.padded), strict=True):
            extra = target - size
            pad += [extra // 2, extra - extra // 2]
        h = self.dense(self.body(nn.functional.pad(cells, pad)))
        ratio = total_over_einc[:, None].float()
        h = torch.cat([h, ratio, torch.log(ratio.clamp_min(1e-6))], dim=1)
        return {"logit": self.real_fake(h)[:, 0], "energy": self.energy(h)[:, 0], "angle": self.angle(h)[:, 0],
                "class_logits": self.particle(h)}
