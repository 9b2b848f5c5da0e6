"""Layer energies and hit counts as a conditional density: CaloFlow's "flow I" (Krause and Shih,
arXiv:2106.05285), shared by the flow (:class:`~calolab.gen.models.flow.CaloFlow`) and the GAN's
``energy_flow`` option (:class:`~calolab.gen.models.gan3d.Generator`).

Coordinates, as in CaloFlow: ``u_0 = log(E_tot / E_inc)`` and ``u_i = logit(E_i / (E_i + ... + E_last))``
for the other layers, so the narrow total-energy response is one coordinate of its own; after them,
optionally, each layer's number of hit cells, dequantised with ``[0, 1)`` noise. The layer energies are
dequantised with ``[0, cell_noise)`` MeV per cell (an empty layer keeps a finite logit). The density is
a masked autoregressive flow (MAF, Papamakarios et al., arXiv:1705.07057) of affine MADE blocks over the
coordinates mapped to standard normals by their quantiles (:class:`~calolab.gen.models.quantile_map.Gaussianiser`).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from torch import nn

from calolab.gen.models.couplings import standard_normal_log_density
from calolab.gen.models.quantile_map import Gaussianiser, expit, logit

__all__ = ["MAF", "LayerEnergyFlow", "layer_energy_coordinates", "layer_energies_from_coordinates", "largest"]


class _MaskedLinear(nn.Linear):
    mask: torch.Tensor

    def __init__(self, n_in: int, n_out: int, mask: torch.Tensor) -> None:
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class _MADE(nn.Module):
    """A conditional MADE (Germain et al., arXiv:1502.03509): ``(y, context) -> (shift, log_scale)``,
    output ``i`` depending on ``y_<i`` only."""

    def __init__(self, dim: int, context: int, hidden: int) -> None:
        super().__init__()
        degrees_in = torch.arange(1, dim + 1)
        degrees_hidden = torch.arange(hidden) % max(dim - 1, 1) + 1
        self.first = _MaskedLinear(dim, hidden, (degrees_hidden[:, None] >= degrees_in[None, :]).float())
        self.context = nn.Linear(context, hidden)
        self.second = _MaskedLinear(hidden, hidden, (degrees_hidden[:, None] >= degrees_hidden[None, :]).float())
        out_mask = (degrees_in[:, None] > degrees_hidden[None, :]).float()
        self.out = _MaskedLinear(hidden, 2 * dim, torch.cat([out_mask, out_mask]))
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.dim = dim

    def forward(self, y: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.first(y) + self.context(context))
        h = torch.relu(self.second(h))
        shift, log_scale = self.out(h).split(self.dim, dim=1)
        return shift, 3.0 * torch.tanh(log_scale / 3.0)

    def invert(self, u: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """The ``y`` ``(N, dim)`` that this block maps to ``u`` (``u = (y - shift) exp(-log_scale)``), one
        coordinate at a time: ``y_i = u_i exp(log_scale_i) + shift_i`` of ``y_<i``. Computes :meth:`forward`
        with the masked weights and the context's share of the first layer made once, and of the output layer
        only the two rows of coordinate ``i`` (about twice as fast as calling :meth:`forward` per coordinate)."""
        first = (self.first.weight * self.first.mask).T
        second = (self.second.weight * self.second.mask).T
        out = (self.out.weight * self.out.mask).view(2, self.dim, -1).transpose(0, 1)  # (dim, 2, hidden)
        out_bias = self.out.bias.view(2, self.dim).T  # (dim, 2)
        base = self.context(context) + self.first.bias
        y = torch.zeros_like(u)
        for i in range(self.dim):
            h = torch.relu(torch.addmm(base, y, first))
            h = torch.relu(torch.addmm(self.second.bias, h, second))
            shift, log_scale = torch.addmm(out_bias[i], h, out[i].T).unbind(dim=1)
            y[:, i] = u[:, i] * torch.exp(3.0 * torch.tanh(log_scale / 3.0)) + shift
        return y


class MAF(nn.Module):
    """Masked autoregressive flow: ``log_prob`` in one pass, ``sample`` in ``dim`` passes per block."""

    def __init__(self, dim: int, context: int, blocks: int, hidden: int) -> None:
        super().__init__()
        self.dim = dim
        self.blocks = nn.ModuleList([_MADE(dim, context, hidden) for _ in range(blocks)])

    def log_prob(self, y: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        log_det = torch.zeros(y.shape[0], device=y.device)
        for block in self.blocks:
            shift, log_scale = block(y, context)
            y = ((y - shift) * torch.exp(-log_scale)).flip(1)  # reverse the order between blocks
            log_det = log_det - log_scale.sum(dim=1)
        return standard_normal_log_density(y) + log_det

    def sample(self, context: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        z = torch.randn(context.shape[0], self.dim, generator=generator, device=context.device)
        for block in reversed(self.blocks):
            z = cast(_MADE, block).invert(z.flip(1), context)
        return z


def largest(values: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Mask ``(..., P)`` of the ``counts`` ``(...)`` largest ``values`` ``(..., P)`` of each row (ties at
    the last chosen value are chosen too)."""
    size = values.shape[-1]
    counts = counts.clamp(0, size)
    if values.device.type == "cpu" and not values.requires_grad:  # numpy's vectorised sort: ~9x torch's on CPU
        ascending = torch.from_numpy(np.sort(values.numpy(), axis=-1))
    else:
        ascending = values.sort(dim=-1).values
    last = ascending.gather(-1, (size - counts).clamp_max(size - 1)[..., None])  # the count-th largest
    return (values >= last) & (counts[..., None] > 0)


def layer_energy_coordinates(cells: torch.Tensor, energy: torch.Tensor, *, cell_noise: float, alpha: float,
                             hit_counts: bool, generator: torch.Generator | None = None
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Energy coordinates ``u`` ``(N, L)`` (``(N, 2 L)`` with the hit counts; before their map) of cells
    ``(N, L, P)`` MeV with incident energies ``(N,)`` MeV, dequantised with noise from ``generator``
    (``cell_noise`` MeV per cell, then ``[0, 1)`` per hit count); also the dequantised layer energies
    ``(N, L)`` MeV, float64."""
    flat = cells.clamp_min(0).double()
    noise = torch.rand(flat.shape, generator=generator, dtype=torch.float64, device=flat.device)
    layer_energy = (flat + cell_noise * noise).sum(dim=2)  # > 0 even for an empty layer
    remaining = layer_energy.flip(1).cumsum(1).flip(1)  # E_i + ... + E_last
    u0 = torch.log(remaining[:, 0] / energy.double())
    fractions = (layer_energy[:, :-1] / remaining[:, :-1]).clamp(0, 1)
    parts = [u0[:, None], logit(fractions, alpha)]
    if hit_counts:
        hits = (flat > 0).sum(dim=2).double()
        parts.append(hits + torch.rand(hits.shape, generator=generator, dtype=torch.float64, device=flat.device))
    return torch.cat(parts, dim=1).float(), layer_energy


def layer_energies_from_coordinates(u: torch.Tensor, energy: torch.Tensor, *, layers: int, pixels: int,
                                    cell_noise: float, alpha: float) -> torch.Tensor:
    """Layer energies ``(N, layers)`` MeV (float64) of energy coordinates ``u`` (before their map; layers
    of ``pixels`` cells) and incident energies ``(N,)`` MeV; undoes :func:`layer_energy_coordinates` up to
    its noise: each layer loses the noise's mean (``cell_noise / 2`` per cell), so that the total is
    unbiased, and a layer left with less than three standard deviations of that noise is empty."""
    total = torch.exp(u[:, 0].double()) * energy.double()
    fractions = expit(u[:, 1:layers].double(), alpha)
    layer_energy = torch.empty(u.shape[0], layers, dtype=torch.float64, device=u.device)
    remaining = total
    for i in range(layers - 1):
        layer_energy[:, i] = fractions[:, i] * remaining
        remaining = remaining - layer_energy[:, i]
    layer_energy[:, -1] = remaining
    noise_mean, noise_std = cell_noise * pixels / 2, cell_noise * (pixels / 12) ** 0.5
    layer_energy = layer_energy - noise_mean
    return torch.where(layer_energy < 3 * noise_std, torch.zeros_like(layer_energy), layer_energy)


class LayerEnergyFlow(nn.Module):
    """The conditional density of a shower's layer energies (and hit counts): a :class:`MAF` over the
    coordinates of :func:`layer_energy_coordinates`, mapped to standard normals (fitted by :meth:`fit`).

    Args:
        layers: layers of the section.
        pixels: cells per layer.
        n_conditions: length of the condition vector.
        blocks, hidden: MADE blocks and the width of their hidden layers.
        knots: quantile knots of the coordinate map (0: standardise).
        cell_noise: dequantisation noise per cell, MeV.
        alpha: logit regulariser.
        hit_counts: model each layer's number of hit cells too.
    """

    def __init__(self, layers: int, pixels: int, n_conditions: int, *, blocks: int, hidden: int, knots: int,
                 cell_noise: float, alpha: float, hit_counts: bool = True) -> None:
        super().__init__()
        self.layers, self.pixels = layers, pixels
        self.cell_noise, self.alpha, self.hit_counts = cell_noise, alpha, hit_counts
        self.dim = 2 * layers if hit_counts else layers
        self.flow = MAF(self.dim, n_conditions, blocks, hidden)
        self.map = Gaussianiser(self.dim, knots)

    def coordinates(self, cells: torch.Tensor, energy: torch.Tensor, generator: torch.Generator | None = None
                    ) -> torch.Tensor:
        """Energy coordinates ``(N, dim)`` (before the map) of cells ``(N, L, ...)`` MeV."""
        return self.coordinates_and_energies(cells, energy, generator)[0]

    def coordinates_and_energies(self, cells: torch.Tensor, energy: torch.Tensor,
                                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Energy coordinates ``(N, dim)`` (before the map) of cells ``(N, L, ...)`` MeV and the dequantised
        layer energies ``(N, L)`` MeV (float64) of the same noise draw (:func:`layer_energy_coordinates`)."""
        flat = cells.reshape(cells.shape[0], self.layers, -1)
        return layer_energy_coordinates(flat, energy, cell_noise=self.cell_noise, alpha=self.alpha,
                                        hit_counts=self.hit_counts, generator=generator)

    def fit(self, cells: torch.Tensor, energy: torch.Tensor, seed: int = 0) -> None:
        """Fit the coordinate map on training cells ``(N, L, ...)`` MeV and incident energies (MeV)."""
        generator = torch.Generator().manual_seed(seed)
        self.map.fit(torch.cat([self.coordinates(cells[start:start + 1024], energy[start:start + 1024], generator)
                                for start in range(0, len(cells), 1024)]))

    def log_prob(self, cells: torch.Tensor, conditions: torch.Tensor, energy: torch.Tensor,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-event log-density ``(N,)`` of the layer energies of cells ``(N, L, ...)`` MeV in the mapped
        coordinates, and those mapped coordinates ``(N, dim)``."""
        mapped = self.map(self.coordinates(cells, energy, generator))
        return self.flow.log_prob(mapped, conditions), mapped

    def decode(self, u: torch.Tensor, energy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The layer energies ``(N, L)`` MeV (float64; :func:`layer_energies_from_coordinates`) and the hit counts
        ``(N, L)`` (the floor of the dequantised ones; ``None`` without them) of energy coordinates ``u`` (before
        the map) and incident energies ``(N,)`` MeV."""
        layer_energy = layer_energies_from_coordinates(u, energy, layers=self.layers, pixels=self.pixels,
                                                       cell_noise=self.cell_noise, alpha=self.alpha)
        counts = u[:, self.layers:].floor().long() if self.hit_counts else None
        return layer_energy, counts

    def sample(self, conditions: torch.Tensor, energy: torch.Tensor, generator: torch.Generator | None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """For conditions ``(N, C)`` and incident energies ``(N,)`` MeV: the mapped coordinates ``(N, dim)``,
        the layer energies ``(N, L)`` MeV (float64) and the hit counts ``(N, L)`` (``None`` without them)."""
        mapped = self.flow.sample(conditions, generator)
        return (mapped, *self.decode(self.map.inverse(mapped), energy))
