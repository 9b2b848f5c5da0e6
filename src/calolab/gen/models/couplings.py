"""Coupling flows over a 2D grid of cells: affine (RealNVP) or rational-quadratic spline couplings.

A coupling keeps the cells of a mask fixed and transforms the others elementwise, with parameters
computed from the fixed cells and a context vector; its inverse costs one pass too.

* affine (Dinh et al., arXiv:1605.08803): ``z = (x - shift) exp(-log_scale)``; the conditional
  density of a cell given the rest stays unimodal in each coupling;
* rational-quadratic spline (Durkan et al., "Neural Spline Flows", arXiv:1906.04032): a monotone
  spline of ``bins`` rational-quadratic pieces on ``[-bound, bound]`` with the identity outside, so
  one coupling can make a cell's conditional density multimodal -- as for a cell at the edge of a
  shower, either empty or hit. CaloFlow (arXiv:2106.05285) uses these splines.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

__all__ = ["CouplingFlow", "AffineCoupling", "SplineCoupling", "rational_quadratic_spline",
           "standard_normal_log_density"]

_LOG_2PI = math.log(2 * math.pi)
#: smallest bin width and height (fraction of the interval) and knot derivative of the splines
_MIN_BIN = 1e-3
_MIN_DERIVATIVE = 1e-3


def standard_normal_log_density(z: torch.Tensor) -> torch.Tensor:
    """Log-density of ``z`` ``(N, D)`` under the D-dimensional standard normal, per row."""
    return -0.5 * (z**2 + _LOG_2PI).sum(dim=1)


def _coupling_network(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    """Two hidden ReLU layers; the output layer starts at zero so that a new coupling is the identity."""
    network = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                            nn.Linear(hidden, n_out))
    last = cast(nn.Linear, network[-1])
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return network


class AffineCoupling(nn.Module):
    """RealNVP affine coupling: the free cells get ``z = (x - shift) exp(-log_scale)``, with the
    log-scales bounded by ``clamp * tanh``."""

    mask: torch.Tensor

    def __init__(self, mask: torch.Tensor, context: int, hidden: int, clamp: float) -> None:
        super().__init__()
        dim = mask.numel()
        self.register_buffer("mask", mask)
        self.net = _coupling_network(dim + context, hidden, 2 * dim)
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


def rational_quadratic_spline(x: torch.Tensor, widths: torch.Tensor, heights: torch.Tensor,
                              derivatives: torch.Tensor, bound: float, inverse: bool = False
                              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Monotone rational-quadratic spline (Durkan et al. 2019, eqs. 4-8) with identity tails.

    Args:
        x: values ``(..., )`` (the outputs when ``inverse``).
        widths, heights: unnormalised bin widths and heights ``(..., K)`` (softmax over the last axis).
        derivatives: unnormalised derivatives at the ``K - 1`` inner knots ``(..., K - 1)`` (softplus; a
            raw 0 gives a derivative of 1); the derivative at ``+-bound`` is 1, matching the tails.
        bound: the spline acts on ``[-bound, bound]``; outside it is the identity.
        inverse: evaluate the inverse map.

    Returns:
        The mapped values and ``log |dy/dx|`` of the forward map at each point (negated when ``inverse``).
    """
    bins = widths.shape[-1]
    inside = (x >= -bound) & (x <= bound)
    x_in = x.clamp(-bound, bound)

    def knots(unnormalised: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = torch.exp(unnormalised - unnormalised.detach().amax(dim=-1, keepdim=True))  # a softmax, written
        sizes = _MIN_BIN + (1 - _MIN_BIN * bins) * weights / weights.sum(dim=-1, keepdim=True)  # out: 2x faster
        edges = nn.functional.pad(torch.cumsum(sizes, dim=-1), (1, 0))
        edges = 2 * bound * edges - bound  # the first edge is -bound exactly; the last is set to +bound
        edges = torch.cat([edges[..., :-1], torch.full_like(edges[..., -1:], bound)], dim=-1)
        return edges, edges[..., 1:] - edges[..., :-1]

    x_knots, bin_widths = knots(widths)
    y_knots, bin_heights = knots(heights)
    slopes = _MIN_DERIVATIVE + nn.functional.softplus(derivatives + math.log(math.expm1(1 - _MIN_DERIVATIVE)))
    ones = torch.ones_like(slopes[..., :1])
    slopes = torch.cat([ones, slopes, ones], dim=-1)

    search = y_knots if inverse else x_knots
    index = (torch.searchsorted(search.contiguous(), x_in[..., None].contiguous(), right=True) - 1)
    index = index.clamp(0, bins - 1)

    def at(values: torch.Tensor) -> torch.Tensor:
        return values.gather(-1, index)[..., 0]

    x_k, width, y_k, height = at(x_knots), at(bin_widths), at(y_knots), at(bin_heights)
    d_k, d_k1 = at(slopes), at(slopes[..., 1:])
    s = height / width
    if inverse:
        dy = x_in - y_k
        curvature = d_k1 + d_k - 2 * s
        a = height * (s - d_k) + dy * curvature
        b = height * d_k - dy * curvature
        c = -s * dy
        discriminant = (b**2 - 4 * a * c).clamp_min(0)
        xi = (2 * c / (-b - torch.sqrt(discriminant))).clamp(0, 1)
        out = x_k + xi * width
    else:
        xi = ((x_in - x_k) / width).clamp(0, 1)
    one_minus = 1 - xi
    denominator = s + (d_k1 + d_k - 2 * s) * xi * one_minus
    if not inverse:
        out = y_k + height * (s * xi**2 + d_k * xi * one_minus) / denominator
    derivative = s**2 * (d_k1 * xi**2 + 2 * s * xi * one_minus + d_k * one_minus**2) / denominator**2
    log_det = torch.log(derivative)
    if inverse:
        log_det = -log_det
    return torch.where(inside, out, x), torch.where(inside, log_det, torch.zeros_like(log_det))


class SplineCoupling(nn.Module):
    """A coupling whose free cells pass through their own rational-quadratic spline (``bins`` pieces on
    ``[-bound, bound]``), its knots computed from the fixed cells and the context."""

    mask: torch.Tensor
    free: torch.Tensor

    def __init__(self, mask: torch.Tensor, context: int, hidden: int, bins: int, bound: float) -> None:
        super().__init__()
        dim = mask.numel()
        self.register_buffer("mask", mask)
        self.register_buffer("free", torch.nonzero(mask == 0).ravel())
        self.net = _coupling_network(dim + context, hidden, self.free.numel() * (3 * bins - 1))
        self.bins = bins
        self.bound = bound

    def _transform(self, x: torch.Tensor, context: torch.Tensor, inverse: bool
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        bins = self.bins
        params = self.net(torch.cat([x * self.mask, context], dim=1)).view(x.shape[0], self.free.numel(), 3 * bins - 1)
        widths, heights, derivatives = params.split([bins, bins, bins - 1], dim=2)
        moved, log_det = rational_quadratic_spline(x[:, self.free], widths, heights, derivatives, self.bound, inverse)
        out = x.clone()
        out[:, self.free] = moved
        return out, log_det.sum(dim=1)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """data -> noise direction and its log-determinant."""
        return self._transform(x, context, inverse=False)

    def inverse(self, z: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self._transform(z, context, inverse=True)[0]


class CouplingFlow(nn.Module):
    """Couplings over a 2D grid; masks alternate a checkerboard, its complement and seeded random halves.

    Args:
        grid: ``(y, x)`` cells.
        context: length of the context vector.
        couplings: number of couplings.
        hidden: width of each coupling network's two hidden layers.
        clamp: bound of the affine log-scales.
        spline_bins: rational-quadratic pieces per cell (0: affine couplings).
        spline_bound: the splines act on ``[-bound, bound]``.
    """

    def __init__(self, grid: tuple[int, int], context: int, couplings: int, hidden: int, clamp: float,
                 spline_bins: int = 0, spline_bound: float = 5.0) -> None:
        super().__init__()
        ny, nx = grid
        checker = ((torch.arange(ny)[:, None] + torch.arange(nx)[None, :]) % 2).float().ravel()
        generator = torch.Generator().manual_seed(20211)  # fixed masks: part of the architecture
        masks: list[torch.Tensor] = []
        for i in range(couplings):
            if i % 4 in (0, 1):
                mask = checker if i % 2 == 0 else 1.0 - checker
            else:
                mask = (torch.rand(ny * nx, generator=generator) < 0.5).float() if i % 2 == 0 else 1.0 - masks[-1]
            masks.append(mask)
        self.couplings = nn.ModuleList([
            SplineCoupling(m, context, hidden, spline_bins, spline_bound) if spline_bins
            else AffineCoupling(m, context, hidden, clamp) for m in masks])
        self.dim = ny * nx

    def log_prob(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        log_det = torch.zeros(x.shape[0], device=x.device)
        for coupling in self.couplings:
            x, step = coupling(x, context)
            log_det = log_det + step
        return standard_normal_log_density(x) + log_det

    def sample(self, context: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        z = torch.randn(context.shape[0], self.dim, generator=generator, device=context.device)
        for coupling in reversed(self.couplings):
            z = cast(AffineCoupling | SplineCoupling, coupling).inverse(z, context)
        return z
