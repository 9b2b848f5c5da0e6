"""A CaloFlow-style conditional normalising flow (Krause and Shih, arXiv:2106.05285).

Two flows, trained together by maximum likelihood and sampled one after the other:

* **energy flow** (CaloFlow's "flow I"): a masked autoregressive flow (MAF, Papamakarios et al.,
  arXiv:1705.07057) with affine MADE blocks over the layer energies, parametrised as in CaloFlow:
  ``u_0 = E_tot / E_inc`` and ``u_i = E_i / (E_i + ... + E_last)`` for the other layers, so the
  narrow total-energy response is one coordinate of its own (``log`` then standardised; the
  fractions are logit-transformed then standardised);
* **shape flow** (CaloFlow's "flow II", here layer by layer): a RealNVP affine-coupling flow (Dinh
  et al., arXiv:1605.08803) over the normalised cells of one layer, ``x_v = e_v / E_layer``
  (logit-transformed with ``alpha = 1e-6`` and standardised per cell), conditioned on the shower's
  conditions, the layer (one-hot) and all its (encoded) layer energies. The layers of a batch go
  through it as one batch, so sampling costs one pass per coupling.

Cells are dequantised with uniform noise in ``[0, cell_noise)`` MeV before normalising (CaloFlow
section 3); generated cells below ``cell_noise`` are set to zero.

Why a flow for the "stronger" model on CPU: it trains by exact likelihood (stable, no adversarial
balance, and its validation NLL is a cheap early-stopping metric), and it samples in one pass of
small dense networks -- a diffusion model (CaloDiffusion) needs a 3D U-Net evaluated at each of
tens of steps, which neither trains usefully in minutes nor samples fast on two CPU cores.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

__all__ = ["FlowConfig", "CaloFlow", "MAF", "CouplingFlow"]

_LOG_2PI = math.log(2 * math.pi)


class FlowConfig(BaseModel):
    """Sizes and preprocessing of the CaloFlow-style model.

    Attributes:
        energy_blocks: MADE blocks of the energy flow.
        energy_hidden: width of each MADE's two hidden layers.
        shape_couplings: affine couplings of the shape flow.
        shape_hidden: width of each coupling network's two hidden layers.
        cell_noise: dequantisation noise per cell, MeV; generated cells below it are zero.
        alpha: logit regulariser.
        scale_clamp: bound of the coupling log-scales (``clamp * tanh``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    energy_blocks: int = Field(default=5, ge=1)
    energy_hidden: int = Field(default=64, ge=2)
    shape_couplings: int = Field(default=6, ge=1)
    shape_hidden: int = Field(default=96, ge=2)
    cell_noise: float = Field(default=1e-3, gt=0)
    alpha: float = Field(default=1e-6, gt=0, lt=0.1)
    scale_clamp: float = Field(default=3.0, gt=0)


def _logit(x: torch.Tensor, alpha: float) -> torch.Tensor:
    x = alpha + (1 - 2 * alpha) * x
    return torch.log(x) - torch.log1p(-x)


def _expit(y: torch.Tensor, alpha: float) -> torch.Tensor:
    return ((torch.sigmoid(y) - alpha) / (1 - 2 * alpha)).clamp(0.0, 1.0)


def _standard_normal_logp(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (z**2 + _LOG_2PI).sum(dim=1)


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
        return _standard_normal_logp(y) + log_det

    def sample(self, context: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        z = torch.randn(context.shape[0], self.dim, generator=generator, device=context.device)
        for block in reversed(self.blocks):
            u = z.flip(1)
            y = torch.zeros_like(u)
            for i in range(self.dim):
                shift, log_scale = block(y, context)
                y[:, i] = u[:, i] * torch.exp(log_scale[:, i]) + shift[:, i]
            z = y
        return z


class _Coupling(nn.Module):
    mask: torch.Tensor

    def __init__(self, mask: torch.Tensor, context: int, hidden: int, clamp: float) -> None:
        super().__init__()
        dim = mask.numel()
        self.register_buffer("mask", mask)
        self.net = nn.Sequential(nn.Linear(dim + context, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2 * dim))
        last = self.net[-1]
        assert isinstance(last, nn.Linear)  # the line above built it
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.clamp = clamp
        self.dim = dim

    def _params(self, x: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shift, log_scale = self.net(torch.cat([x * self.mask, context], dim=1)).split(self.dim, dim=1)
        free = 1.0 - self.mask
        return shift * free, self.clamp * torch.tanh(log_scale / self.clamp) * free

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """data -> noise direction and its log-determinant."""
        shift, log_scale = self._params(x, context)
        return (x - shift) * torch.exp(-log_scale), -log_scale.sum(dim=1)

    def inverse(self, z: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        shift, log_scale = self._params(z, context)
        return z * torch.exp(log_scale) + shift


class CouplingFlow(nn.Module):
    """RealNVP affine couplings over a 2D grid; masks alternate a checkerboard, its complement and
    seeded random halves."""

    def __init__(self, grid: tuple[int, int], context: int, couplings: int, hidden: int, clamp: float) -> None:
        super().__init__()
        ny, nx = grid
        checker = ((torch.arange(ny)[:, None] + torch.arange(nx)[None, :]) % 2).float().ravel()
        generator = torch.Generator().manual_seed(20211)  # fixed masks: part of the architecture
        masks: list[torch.Tensor] = []
        for i in range(couplings):
            if i % 4 in (0, 1):
                mask = checker if i % 2 == 0 else 1.0 - checker
            else:
                previous = (torch.rand(ny * nx, generator=generator) < 0.5).float() if i % 2 == 0 else 1.0 - masks[-1]
                mask = previous
            masks.append(mask)
        self.couplings = nn.ModuleList([_Coupling(m, context, hidden, clamp) for m in masks])
        self.dim = ny * nx

    def log_prob(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        log_det = torch.zeros(x.shape[0], device=x.device)
        for coupling in self.couplings:
            x, step = coupling(x, context)
            log_det = log_det + step
        return _standard_normal_logp(x) + log_det

    def sample(self, context: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        z = torch.randn(context.shape[0], self.dim, generator=generator, device=context.device)
        for coupling in reversed(self.couplings):
            z = cast(_Coupling, coupling).inverse(z, context)
        return z


class CaloFlow(nn.Module):
    """Energy flow + shape flow; preprocessing statistics are buffers fitted by :meth:`fit_preprocessing`.

    Args:
        shape: ``(layers, y, x)`` of the section.
        n_conditions: length of the condition vector.
        config: the sizes.
    """

    u_mean: torch.Tensor
    u_std: torch.Tensor
    x_mean: torch.Tensor
    x_std: torch.Tensor

    def __init__(self, shape: tuple[int, int, int], n_conditions: int, config: FlowConfig) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.config = config
        layers, ny, nx = self.shape
        self.energy_flow = MAF(layers, n_conditions, config.energy_blocks, config.energy_hidden)
        self.shape_flow = CouplingFlow((ny, nx), n_conditions + 2 * layers, config.shape_couplings,
                                       config.shape_hidden, config.scale_clamp)
        self.register_buffer("u_mean", torch.zeros(layers))
        self.register_buffer("u_std", torch.ones(layers))
        self.register_buffer("x_mean", torch.zeros(layers, ny * nx))
        self.register_buffer("x_std", torch.ones(layers, ny * nx))

    # ---------------------------------------------------------------- preprocessing

    def _dequantise(self, cells: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.rand(cells.shape, generator=generator, device=cells.device)
        return cells.clamp_min(0) + self.config.cell_noise * noise

    def _encode(self, cells: torch.Tensor, energy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Dequantised cells ``(N, L, Y, X)`` MeV -> raw (unstandardised) energy and shape coordinates."""
        n, layers = cells.shape[:2]
        alpha = self.config.alpha
        flat = cells.reshape(n, layers, -1).double()
        layer_energy = flat.sum(dim=2)
        remaining = layer_energy.flip(1).cumsum(1).flip(1)  # E_i + ... + E_last
        total = remaining[:, 0]
        u0 = torch.log(total / energy.double())
        fractions = (layer_energy[:, :-1] / remaining[:, :-1]).clamp(0, 1)
        u = torch.cat([u0[:, None], _logit(fractions, alpha)], dim=1).float()
        x = _logit((flat / layer_energy[:, :, None]).clamp(0, 1), alpha).float()
        return u, x

    def fit_preprocessing(self, cells: torch.Tensor, energy: torch.Tensor, seed: int = 0) -> None:
        """Fit the standardisation of both flows' inputs on training cells (MeV) and energies (MeV)."""
        generator = torch.Generator().manual_seed(seed)
        u, x = self._encode(self._dequantise(cells, generator), energy)
        self.u_mean.copy_(u.mean(0))
        self.u_std.copy_(u.std(0).clamp_min(1e-3))
        self.x_mean.copy_(x.mean(0))
        self.x_std.copy_(x.std(0).clamp_min(1e-3))

    def _shape_context(self, conditions: torch.Tensor, u_std: torch.Tensor) -> torch.Tensor:
        """Context of every (event, layer) row: conditions, standardised layer energies, layer one-hot."""
        n, layers = u_std.shape
        one_hot = torch.eye(layers, device=u_std.device).expand(n, layers, layers)
        per_event = torch.cat([conditions, u_std], dim=1)
        per_event = per_event[:, None, :].expand(n, layers, per_event.shape[1])
        return torch.cat([per_event, one_hot], dim=2).reshape(n * layers, -1)

    # ---------------------------------------------------------------- likelihood and sampling

    def log_prob(self, cells: torch.Tensor, conditions: torch.Tensor, energy: torch.Tensor,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-event log-densities ``(energy flow, shape flow)`` of cells ``(N, L, Y, X)`` MeV (dequantised
        here with noise from ``generator``), in the standardised coordinates."""
        u, x = self._encode(self._dequantise(cells, generator), energy)
        u = (u - self.u_mean) / self.u_std
        x = (x - self.x_mean) / self.x_std
        n, layers = u.shape
        log_p_energy = self.energy_flow.log_prob(u, conditions)
        log_p_shape = self.shape_flow.log_prob(x.reshape(n * layers, -1), self._shape_context(conditions, u))
        return log_p_energy, log_p_shape.view(n, layers).sum(dim=1)

    def sample(self, conditions: torch.Tensor, energy: torch.Tensor, generator: torch.Generator | None
               ) -> torch.Tensor:
        """Cells ``(N, L, Y, X)`` MeV for conditions ``(N, C)`` and incident energies ``energy`` (MeV)."""
        layers, ny, nx = self.shape
        n = conditions.shape[0]
        alpha = self.config.alpha
        u_std = self.energy_flow.sample(conditions, generator)
        u = u_std * self.u_std + self.u_mean
        total = torch.exp(u[:, 0].double()) * energy.double()
        fractions = _expit(u[:, 1:].double(), alpha)
        layer_energy = torch.empty(n, layers, dtype=torch.float64, device=conditions.device)
        remaining = total
        for i in range(layers - 1):
            layer_energy[:, i] = fractions[:, i] * remaining
            remaining = remaining - layer_energy[:, i]
        layer_energy[:, -1] = remaining
        x = self.shape_flow.sample(self._shape_context(conditions, u_std), generator).view(n, layers, -1)
        shapes = _expit(x * self.x_std + self.x_mean, alpha).double()
        shapes = shapes / shapes.sum(dim=2, keepdim=True).clamp_min(1e-30)
        cells = (shapes * layer_energy[:, :, None]).float()
        cells = torch.where(cells < self.config.cell_noise, torch.zeros_like(cells), cells)
        return cells.view(n, layers, ny, nx)
