"""A CaloFlow-style conditional normalising flow (Krause and Shih, arXiv:2106.05285).

Two flows, trained together by maximum likelihood and sampled one after the other:

* **energy flow** (CaloFlow's "flow I"): a masked autoregressive flow (MAF, Papamakarios et al.,
  arXiv:1705.07057) with affine MADE blocks over the layer energies, parametrised as in CaloFlow:
  ``u_0 = E_tot / E_inc`` and ``u_i = E_i / (E_i + ... + E_last)`` for the other layers, so the
  narrow total-energy response is one coordinate of its own (``log``; the fractions logit-transformed;
  each then mapped to a standard normal by its quantiles, :class:`Gaussianiser`), and after them each
  layer's number of hit cells (dequantised with ``[0, 1)`` noise; ``hit_counts``);
* **shape flow** (CaloFlow's "flow II", here layer by layer): a coupling flow (rational-quadratic
  spline couplings, Durkan et al., arXiv:1906.04032, as in CaloFlow; or RealNVP affine couplings, Dinh
  et al., arXiv:1605.08803) over the normalised cells of one layer, ``x_v = e_v / E_layer``
  (logit-transformed with ``alpha = 1e-6``, then mapped per cell to a standard normal by its
  empirical quantiles, :class:`Gaussianiser`), conditioned on the shower's conditions, the layer
  (one-hot), all its (encoded) layer energies and hit counts, the layer's own hit count, and a learnt
  projection of the previous layer's coordinates (layer to layer, as in L2LFlows, Buss et al.,
  arXiv:2302.11594). Training feeds the true previous layer, so all layers of a batch go through the
  flow as one batch; sampling goes layer by layer, one pass per coupling and layer.

Why the quantile map: three quarters of the cells are empty. In logit space they form a spike far
below the hit cells, and affine couplings smear it: before the map, a flow trained on 4250 showers
put 58% of its cells above the 1 keV noise floor against the Monte Carlo's 24%, and only 15% above
0.1 MeV against 22%. Mapped by quantiles, the spike becomes the lower part of a standard normal,
and whatever the flow samples there maps back into the spike (and to zero); the map keeps the gap
between the spike and the hit cells (see :class:`Gaussianiser`).

Cells are dequantised with uniform noise (CaloFlow section 3): ``[0, cell_noise)`` MeV per cell in
the layer energies, and ``[0, fraction_noise)`` in each cell's share of its layer, so that an empty
cell's share (and its place in the quantile map) does not depend on the layer's energy. Sampling
takes the noise's mean off the layer energies and empties a layer left within three standard
deviations of it (before, a layer the Monte Carlo leaves empty came back with ~0.3 MeV in a few
cells: the last layer of pisa-csi showers had too many hits), and sets shares below
``fraction_noise`` and cells below ``cell_noise`` to zero. With the hit counts, sampling makes
exactly ``floor(count)`` cells of each layer hits: those whose mapped coordinate lies furthest above
(or least below) the cell's empty-cell gap (:func:`_choose_hits`), so the number of hits per
layer follows the energy flow (without that choice the shape flow left the last layers of 20-30 GeV
showers with 25% fewer hits than the count asked for).

Why a flow for the "stronger" model on CPU: it trains by exact likelihood (stable, no adversarial
balance, and its validation NLL is a cheap early-stopping metric), and it samples in one pass of
small dense networks -- a diffusion model (CaloDiffusion) needs a 3D U-Net evaluated at each of
tens of steps, which neither trains usefully in minutes nor samples fast on two CPU cores.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

from calolab.gen.models.couplings import CouplingFlow
from calolab.gen.models.energy_flow import MAF, LayerEnergyFlow, largest
from calolab.gen.models.quantile_map import Gaussianiser, expit, logit

__all__ = ["FlowConfig", "CaloFlow", "MAF", "CouplingFlow", "Gaussianiser"]


class FlowConfig(BaseModel):
    """Sizes and preprocessing of the CaloFlow-style model.

    Attributes:
        energy_blocks: MADE blocks of the energy flow.
        energy_hidden: width of each MADE's two hidden layers.
        shape_couplings: couplings of the shape flow.
        shape_hidden: width of each coupling network's two hidden layers.
        cell_noise: dequantisation noise per cell in the layer energies, MeV; generated cells below it are zero.
        fraction_noise: dequantisation noise of each cell's share of its layer energy; generated shares below
            it are zero. Empty cells thus sit in ``[0, fraction_noise)`` whatever the layer's energy.
        alpha: logit regulariser.
        scale_clamp: bound of the affine coupling log-scales (``clamp * tanh``).
        spline_bins: rational-quadratic spline pieces per cell in each shape coupling (Neural Spline
            Flows, arXiv:1906.04032, as in CaloFlow); 0 uses affine couplings. 4 by default: trained 40 min on
            one core (constant learning rate, no hit counts), the high-level classifier AUC against 10000
            Monte Carlo showers was 0.93 with them and 0.99 with affine couplings (bench/generation_quality.py),
            at less than half the sampling speed.
        spline_bound: the splines act on ``[-bound, bound]`` of the mapped coordinates, the identity outside.
        quantile_knots: knots of the per-coordinate quantile map to a standard normal (energy and
            shape coordinates); 0 standardises them (mean 0, variance 1) instead.
        previous_layer_features: width of the learnt projection of the previous layer's shape that
            conditions each layer's shape; 0 makes the layers independent given their energies.
        previous_layer_hidden: width of a hidden layer (SiLU) in that projection; 0 keeps it linear.
        previous_layer_hits_only: the projection sees only the previous layer's hit cells: an empty cell
            enters at its gap's normal score, not at its random (dequantised) place below the gap (three
            quarters of the cells are empty, so a plain projection reads mostly noise), and in sampling each
            layer's hits are chosen before the next layer reads it. Neither option is on by default: trained
            55 min on one core (12 epochs against 13), the low-level classifier AUC was 0.631 with hits only and
            0.635 with a hidden layer of 128 as well, against 0.634 (+- 0.009); high-level 0.863 and 0.859
            against 0.869 (+- 0.006) (bench/generation_quality.py).
        hit_counts: the energy flow also models each layer's number of hit cells (dequantised), each
            layer's shape is conditioned on it, and sampling makes exactly that many of the layer's cells hits.
            Without it, the hit counts of the last layers varied too little with energy (twice the Monte
            Carlo's at 1-10 GeV, too few at 20-30 GeV); with it (16 min, cosine learning rate) the high-level
            classifier AUC fell from 0.984 to 0.936.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    energy_blocks: int = Field(default=5, ge=1)
    energy_hidden: int = Field(default=64, ge=2)
    shape_couplings: int = Field(default=6, ge=1)
    shape_hidden: int = Field(default=96, ge=2)
    cell_noise: float = Field(default=1e-3, gt=0)
    fraction_noise: float = Field(default=1e-7, gt=0, lt=0.01)
    alpha: float = Field(default=1e-6, gt=0, lt=0.1)
    scale_clamp: float = Field(default=3.0, gt=0)
    spline_bins: int = Field(default=4, ge=0)
    spline_bound: float = Field(default=5.0, gt=0)
    quantile_knots: int = Field(default=256, ge=0)
    previous_layer_features: int = Field(default=32, ge=0)
    previous_layer_hidden: int = Field(default=0, ge=0)
    previous_layer_hits_only: bool = False
    hit_counts: bool = True

    @field_validator("quantile_knots")
    @classmethod
    def _knots(cls, value: int) -> int:
        if value == 1:
            msg = "quantile_knots must be 0 (standardise) or at least 2"
            raise ValueError(msg)
        return value


class CaloFlow(nn.Module):
    """Energy flow (:class:`~calolab.gen.models.energy_flow.LayerEnergyFlow`, ``energies``) + shape flow; the
    maps of their coordinates are fitted by :meth:`fit_preprocessing`.

    Models saved before the energy flow was its own module (state-dict keys ``energy_flow.*`` and
    ``energy_map.*``) load as saved: :meth:`_rename_old_keys` renames their keys.

    Args:
        shape: ``(layers, y, x)`` of the section.
        n_conditions: length of the condition vector.
        config: the sizes.
    """

    def __init__(self, shape: tuple[int, int, int], n_conditions: int, config: FlowConfig) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.config = config
        layers, ny, nx = self.shape
        features = config.previous_layer_features
        self.energies = LayerEnergyFlow(layers, ny * nx, n_conditions, blocks=config.energy_blocks,
                                        hidden=config.energy_hidden, knots=config.quantile_knots,
                                        cell_noise=config.cell_noise, alpha=config.alpha, hit_counts=config.hit_counts)
        self.energy_dim = self.energies.dim  # layer energies, then the hit counts
        context = n_conditions + self.energy_dim + layers + features + int(config.hit_counts)
        self.shape_flow = CouplingFlow((ny, nx), context, config.shape_couplings, config.shape_hidden,
                                       config.scale_clamp, config.spline_bins, config.spline_bound)
        self.previous_layer: nn.Module | None = None
        if features and config.previous_layer_hidden:
            hidden = config.previous_layer_hidden
            self.previous_layer = nn.Sequential(nn.Linear(ny * nx, hidden), nn.SiLU(), nn.Linear(hidden, features))
        elif features:
            self.previous_layer = nn.Linear(ny * nx, features)
        empty = float(logit(torch.tensor(config.fraction_noise, dtype=torch.float64), config.alpha))
        self.shape_map = Gaussianiser(layers * ny * nx, config.quantile_knots, split=empty)  # empty cells below
        self.register_load_state_dict_pre_hook(CaloFlow._rename_old_keys)

    @staticmethod
    def _rename_old_keys(module: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any) -> None:
        """Load hook: the keys of a model saved before the energy flow was a :class:`LayerEnergyFlow`
        (``energy_flow.*``, ``energy_map.*``) renamed to its (``energies.flow.*``, ``energies.map.*``)."""
        for old, new in (("energy_flow.", "energies.flow."), ("energy_map.", "energies.map.")):
            for key in [k for k in state_dict if k.startswith(prefix + old)]:
                state_dict[prefix + new + key[len(prefix + old):]] = state_dict.pop(key)

    # ---------------------------------------------------------------- preprocessing

    def _encode(self, cells: torch.Tensor, energy: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Cells ``(N, L, Y, X)`` MeV -> energy coordinates ``(N, L)`` (``(N, 2 L)`` with the hit counts)
        and shape coordinates ``(N, L, Y X)``, before their maps, dequantised with noise from ``generator``:
        ``cell_noise`` MeV per cell in the layer energies, ``fraction_noise`` in each cell's share of its
        layer, ``[0, 1)`` in each hit count."""
        n, layers = cells.shape[:2]
        flat = cells.reshape(n, layers, -1).clamp_min(0).double()
        u, layer_energy = self.energies.coordinates_and_energies(flat, energy, generator)
        noise = torch.rand(flat.shape, generator=generator, dtype=torch.float64, device=flat.device)
        shares = flat / layer_energy[:, :, None] + self.config.fraction_noise * noise
        x = logit(shares.clamp(0, 1), self.config.alpha).float()
        return u, x

    def fit_preprocessing(self, cells: torch.Tensor, energy: torch.Tensor, seed: int = 0) -> None:
        """Fit the maps of both flows' coordinates on training cells (MeV) and energies (MeV)."""
        generator = torch.Generator().manual_seed(seed)
        energies, shapes = [], []
        for start in range(0, len(cells), 1024):  # encode in blocks: the doubles of all cells at once are large
            part = slice(start, start + 1024)
            u, x = self._encode(cells[part], energy[part], generator)
            energies.append(u)
            shapes.append(x.reshape(len(u), -1))
        self.energies.map.fit(torch.cat(energies))
        self.shape_map.fit(torch.cat(shapes))

    def _shape_context(self, conditions: torch.Tensor, energies: torch.Tensor, layers: slice,
                       previous: torch.Tensor) -> torch.Tensor:
        """Context of the rows (event, layer) of ``layers``: the per-event conditions ``(N, C)`` and mapped
        energy coordinates ``energies`` (``(N, L)``, or ``(N, 2 L)`` with the hit counts), the layer one-hot,
        the layer's own mapped hit count (with the hit counts) and the projection of the previous layer's
        shape coordinates ``previous`` ``(N, m, Y X)`` (zeros before the first layer)."""
        n, n_layers = conditions.shape[0], self.shape[0]
        per_event = torch.cat([conditions, energies], dim=1)
        one_hot = torch.eye(n_layers, device=per_event.device)[layers]
        rows = one_hot.shape[0]
        parts = [per_event[:, None, :].expand(n, rows, per_event.shape[1]), one_hot.expand(n, rows, one_hot.shape[1])]
        if self.config.hit_counts:
            parts.append(energies[:, n_layers:][:, layers, None])
        if self.previous_layer is not None:
            parts.append(self.previous_layer(previous))
        return torch.cat(parts, dim=2).reshape(n * rows, -1)

    # ---------------------------------------------------------------- likelihood and sampling

    def log_prob(self, cells: torch.Tensor, conditions: torch.Tensor, energy: torch.Tensor,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-event log-densities ``(energy flow, shape flow)`` of cells ``(N, L, Y, X)`` MeV (dequantised
        here with noise from ``generator``), in the mapped (standard-normal) coordinates."""
        u, x = self._encode(cells, energy, generator)
        n, layers = x.shape[:2]
        u = self.energies.map(u)
        z = self.shape_map(x.reshape(n, -1)).view(n, layers, -1)
        log_p_energy = self.energies.flow.log_prob(u, conditions)
        context = self._shape_context(conditions, u, slice(None), self._previous_layers(z))
        log_p_shape = self.shape_flow.log_prob(z.reshape(n * layers, -1), context)
        return log_p_energy, log_p_shape.view(n, layers).sum(dim=1)

    def _previous_layers(self, z: torch.Tensor) -> torch.Tensor:
        """What each layer's projection reads in training, ``(N, L, Y X)``: the true previous layer's mapped
        shape coordinates (zeros before the first layer); with ``previous_layer_hits_only`` every empty cell
        at its gap."""
        seen = z[:, :-1]
        if self.config.previous_layer_hits_only:
            seen = torch.maximum(seen, self.shape_map.split_score().view(self.shape[0], -1)[:-1])
        return torch.cat([torch.zeros_like(z[:, :1]), seen], dim=1)

    def sample(self, conditions: torch.Tensor, energy: torch.Tensor, generator: torch.Generator | None
               ) -> torch.Tensor:
        """Cells ``(N, L, Y, X)`` MeV for conditions ``(N, C)`` and incident energies ``energy`` (MeV)."""
        layers, ny, nx = self.shape
        pixels = ny * nx
        u_mapped, layer_energy, counts = self.energies.sample(conditions, energy, generator)
        gap = self.shape_map.split_score().view(layers, pixels)
        z = torch.empty(conditions.shape[0], layers, pixels, device=conditions.device)
        previous = torch.zeros(conditions.shape[0], 1, pixels, device=conditions.device)
        for layer in range(layers):  # each layer's shape depends on the one before
            context = self._shape_context(conditions, u_mapped, slice(layer, layer + 1), previous)
            sampled = self.shape_flow.sample(context, generator)
            z[:, layer] = sampled if counts is None else _choose_hits(sampled, gap[layer], counts[:, layer])
            # hits only: the next layer reads this one as its hits were chosen (in training: the true layer)
            previous = (torch.maximum(z[:, layer], gap[layer]) if self.config.previous_layer_hits_only
                        else sampled)[:, None]
        x = self.shape_map.inverse(z.view(len(z), -1)).view(z.shape)
        return self._decode(layer_energy, counts, x)

    def _decode(self, layer_energy: torch.Tensor, counts: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        """Layer energies ``(N, L)`` MeV and hit counts ``(N, L)`` (``None`` without them) from the energy
        flow (:meth:`LayerEnergyFlow.sample`) and shape coordinates ``x`` ``(N, L, Y X)`` (before their map)
        -> cells ``(N, L, Y, X)`` MeV; undoes :meth:`_encode` up to its noise.

        With the hit counts, only a layer's ``count`` largest shares stay (sampling has already chosen that
        many cells, :func:`_choose_hits`, so it sorts no layer a second time). Shares below ``fraction_noise``
        and cells below ``cell_noise`` are zero."""
        layers, ny, nx = self.shape
        n, config = x.shape[0], self.config
        if counts is not None:  # only layers with more cells above the empty-cell gap than their count need a sort
            split = self.shape_map.split
            assert split is not None  # the shape map is built with its empty-cell gap
            excess = (x >= split).sum(dim=2) > counts
            if bool(excess.any()):
                rows = x[excess]
                x = x.clone()
                keep = largest(rows[None], counts[excess][None])[0]
                x[excess] = torch.where(keep, rows, torch.full_like(rows, -torch.inf))
        shapes = expit(x.double(), config.alpha)
        shapes = torch.where(shapes < config.fraction_noise, torch.zeros_like(shapes), shapes)
        shapes = shapes / shapes.sum(dim=2, keepdim=True).clamp_min(1e-30)
        cells = (shapes * layer_energy[:, :, None]).float()
        cells = torch.where(cells < config.cell_noise, torch.zeros_like(cells), cells)
        return cells.view(n, layers, ny, nx)


def _choose_hits(z: torch.Tensor, gap: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Shape coordinates ``z`` ``(..., P)`` (mapped) with exactly ``counts`` ``(...)`` cells above their
    empty-cell gap ``gap`` ``(P,)``: the cells of largest margin ``z - gap`` (each cell's gap is the normal
    score of its empty-cell spike's edge). A chosen cell below its gap is mirrored across it, so a cell the
    flow left just short of a hit becomes one of that cell's smallest hits; the others above it are emptied
    (set to the bottom of the spike)."""
    margin = z - gap
    hits = largest(margin, counts)
    z = torch.where(hits & (margin < 0), gap - margin, z)
    return torch.where(~hits & (margin >= 0), torch.full_like(z, -torch.inf), z)


