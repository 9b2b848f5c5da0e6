"""A fixed monotone map of each coordinate to a standard normal (:class:`Gaussianiser`), and the
regularised logit of shares in ``[0, 1]``; used by the flows' energy and shape coordinates."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Gaussianiser", "logit", "expit"]


def logit(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """``log(x' / (1 - x'))`` of ``x' = alpha + (1 - 2 alpha) x``: a share in ``[0, 1]`` on the real line."""
    x = alpha + (1 - 2 * alpha) * x
    return torch.log(x) - torch.log1p(-x)


def expit(y: torch.Tensor, alpha: float) -> torch.Tensor:
    """The inverse of :func:`logit`, clamped to ``[0, 1]``."""
    return ((torch.sigmoid(y) - alpha) / (1 - 2 * alpha)).clamp(0.0, 1.0)



class Gaussianiser(nn.Module):
    """A fixed monotone map of each column to a standard normal, and back.

    With ``knots >= 2`` the map is the column's empirical distribution function, piecewise linear
    between quantiles, followed by the normal quantile function. The knots sit at probabilities
    evenly spaced in normal score between those of the fitted sample's minimum and maximum (Hazen
    positions ``1/2N`` and ``1 - 1/2N``), so the tails get as many knots as the core: with knots
    evenly spaced in probability, the last one spans the top 0.4% of a column (256 knots), and a
    sample drawn there lands anywhere up to the largest value seen -- a flow's far cells then got
    five times the Monte Carlo's 99.9% quantile. Values outside the fitted range are clamped.

    ``split`` marks a gap in every column: values below it (an empty-cell spike) and above it get a
    knot each at the last sample below and the first above, one sample's probability ``1/N`` apart, so
    the map sends almost nothing into the gap between them (without that pair, the knot interval across
    the gap holds 0.4-1% of a column's mass, and a flow's draws there become cells of a few keV).

    With ``knots = 0`` the map standardises each column (mean 0, variance 1).

    Args:
        dim: number of columns.
        knots: quantiles per column (0: standardise); with ``split``, two more.
        split: value between the spike and the rest of each column (``None``: no gap).
    """

    quantiles: torch.Tensor
    levels: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, dim: int, knots: int, split: float | None = None) -> None:
        super().__init__()
        if knots == 1:
            msg = "a quantile map needs at least 2 knots (or 0 to standardise)"
            raise ValueError(msg)
        self.gap_knots = 2 if split is not None and knots else 0
        self.knots = knots + self.gap_knots
        self.split = split
        self.register_buffer("quantiles", torch.zeros(dim, self.knots))
        self.register_buffer("levels", torch.zeros(dim, self.knots))  # probabilities of the knots, per column
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def fit(self, x: torch.Tensor) -> None:
        """Fit the map on samples ``x`` ``(N, dim)``, ``N >= 2``."""
        if not self.knots:
            self.mean.copy_(x.mean(0))
            self.std.copy_(x.std(0).clamp_min(1e-3))
            return
        n, dim = x.shape
        edge = float(torch.special.ndtri(torch.tensor(0.5 / n, dtype=torch.float64)))
        base = torch.special.ndtr(torch.linspace(edge, -edge, self.knots - self.gap_knots, dtype=torch.float64))
        for start in range(0, dim, 256):  # sort a block of columns at a time
            ordered = x[:, start:start + 256].sort(dim=0).values.double()
            levels = base.expand(ordered.shape[1], -1)
            if self.gap_knots:
                assert self.split is not None  # gap knots come with a split
                below = (ordered < self.split).sum(dim=0).double()  # samples in the spike
                gap = torch.stack([below - 0.5, below + 0.5], dim=1).clamp(0.5, n - 0.5) / n
                levels = torch.cat([levels, gap], dim=1).sort(dim=1).values
            position = (levels * n - 0.5).clamp(0, n - 1)  # Hazen positions in the sorted sample
            low = position.floor().long()
            high = (low + 1).clamp_max(n - 1)
            weight = position - low
            columns = ordered.T
            values = columns.gather(1, low) * (1 - weight) + columns.gather(1, high) * weight
            self.quantiles[start:start + 256] = values.float()
            self.levels[start:start + 256] = levels.float()

    def split_score(self) -> torch.Tensor:
        """The normal score of ``split`` (the edge of the spike) in each column ``(D,)``."""
        if self.split is None:
            msg = "this map has no split"
            raise ValueError(msg)
        return self(torch.full((1, self.quantiles.shape[0]), self.split, device=self.quantiles.device))[0]

    def forward(self, x: torch.Tensor, columns: slice = slice(None)) -> torch.Tensor:
        """Samples ``x`` ``(N, D)`` of the columns ``columns`` -> standard-normal coordinates."""
        if not self.knots:
            return (x - self.mean[columns]) / self.std[columns]
        return torch.special.ndtri(_interpolate(x.T.contiguous(), self.quantiles[columns], self.levels[columns])).T

    def inverse(self, z: torch.Tensor, columns: slice = slice(None)) -> torch.Tensor:
        """Standard-normal coordinates ``z`` ``(N, D)`` of the columns ``columns`` -> samples."""
        if not self.knots:
            return z * self.std[columns] + self.mean[columns]
        return _interpolate(torch.special.ndtr(z.T).contiguous(), self.levels[columns], self.quantiles[columns]).T


def _interpolate(values: torch.Tensor, knots: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear map of each row of ``values`` ``(D, N)`` through the increasing ``knots``
    ``(D, K)`` onto ``targets`` ``(D, K)``; clamped to the end knots."""
    above = torch.searchsorted(knots, values).clamp(1, knots.shape[1] - 1)
    below = above - 1
    low, high = knots.gather(1, below), knots.gather(1, above)
    t = ((values - low) / (high - low).clamp_min(1e-12)).clamp(0.0, 1.0)
    start = targets.gather(1, below)
    return start + t * (targets.gather(1, above) - start)
