"""A 3DGAN-style conditional GAN (Khattak et al., EPJC 82 (2022) 386; arXiv:2109.07388).

Generator: a latent vector multiplied by the scaled incident energy (as in 3DGAN) and joined to
the condition vector -> a dense layer -> a coarse 3D grid -> two 3D transposed convolutions (kernel =
stride = 2) -> ReLU
cells in the transformed space ``(E / s)^0.85`` (:class:`~calolab.gen.data.CellTransform`).

Discriminator: 3D convolutions -> a real/fake logit plus auxiliary regressions of the scaled
incident energy and angle and a particle-class classifier (the ACGAN heads of 3DGAN), with spectral
normalisation of its convolutions and real/fake path (not in 3DGAN; :class:`GanConfig`); it also
sees the shower's total energy over ``E_inc`` (3DGAN's "ECAL sum" input). The total-energy
loss -- the relative difference of the summed cells to the real shower's sum at the same
conditions -- is computed by the training task (:mod:`calolab.gen.task`).

With ``energy_flow`` (:class:`GanConfig`) the GAN draws only the shapes: an energy flow (CaloFlow's
flow I, :class:`~calolab.gen.models.energy_flow.LayerEnergyFlow`) draws the layer energies and hit
counts, the generator (conditioned on them too) gives a logit per cell, each layer's ``count`` hit cells
are drawn by their logits (``sampled_hits``; or are those of largest logit) and share the layer's energy
by the softmax of their logits (with ``share_noise``, each logit of a share plus noise of a learnt spread per
cell, so that a cell's energy fluctuates from shower to shower as in the Monte Carlo).

Any section shape works: each axis is padded up to a multiple of ``2^k`` (``k`` = 2 for 12 or
more cells, 1 for 6 or more, else 0), generated at that size and cropped back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from calolab.gen.models.energy_flow import LayerEnergyFlow, largest
from calolab.gen.models.noise import gumbel, standardised_log_exponential

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
        spectral_norm: spectral normalisation of the discriminator's convolutions, dense layer and real/fake
            head (Miyato et al., ICLR 2018, arXiv:1802.05957; not in 3DGAN): each layer's weight is divided by
            its largest singular value, which bounds the discriminator's slope so it cannot outrun the
            generator. On pisa-csi e- of 1-30 GeV (30 minutes on one core, seed 0) the profile distance
            ``val_metric`` fell to 0.43 with it, while without it the training diverged after its best of 1.42
            at epoch 4 (bench/results/generation_quality.json, runs ``gan-sn-30min`` and ``gan-30min``).
        energy_flow: the layer energies and per-layer hit counts come from a CaloFlow-style energy flow
            (:class:`~calolab.gen.models.energy_flow.LayerEnergyFlow`, trained by likelihood alongside the
            GAN) and the generator draws only how each layer's energy is shared among its cells: it is
            conditioned on the energy flow's coordinates as well, its outputs are logits, and each layer keeps
            ``count`` cells (see ``sampled_hits``), their shares the softmax of their logits times the layer's
            energy. Each cell's logit has a learnt offset started at the log of its mean share in the training
            showers (a 1.5-minute run reached a profile distance of 0.11 with that start, 2.7 without), then
            fitted to it (``matched_start``).
            Training feeds the real shower's layer energies and counts (as CaloFlow trains its shape flow).
            On by default: on pisa-csi e- of 1-30 GeV (30 minutes on one core, seed 0) the response came out
            0.983 +- 0.003 (Monte Carlo 0.983 +- 0.0025) against +- 0.118 without it, 23.3% of the cells hit
            (Monte Carlo 23.4%) against 2.5%, the profile distance ``val_metric`` 0.085 against 0.43, and the
            median separation power of the validation observables 0.023 against 0.58 (runs ``gan-ef-30min``
            and ``gan-sn-30min`` of bench/generation_quality.py).
        energy_blocks, energy_hidden: MADE blocks and width of the energy flow.
        log_view: the discriminator also sees each cell as ``log(1 + E / (1e-4 E_inc)) / log(1 + 1e4)`` (the
            low-level classifier test's compression, :mod:`calolab.validate.classifier`), a second input
            channel: the power transform leaves the halo's cells of ``1e-6``-``1e-4 E_inc`` near zero. Not on
            by default: 30 min with ``energy_flow`` gave classifier AUCs of 1.0 / 1.0 with it as without, the
            same median separation power of the validation observables (0.022 against 0.023) and a worse
            profile distance (0.176 against 0.085; run ``gan-ef-logview-30min``).
        minibatch_std: the discriminator also reads the standard deviation over the batch of its dense
            features, averaged (the minibatch standard deviation of Karras et al., ICLR 2018,
            arXiv:1710.10196), so that a generator whose showers vary too little from event to event is
            told apart: trained 30 min with ``energy_flow``, the shower centres in a layer varied ten times
            less than the Monte Carlo's. Not on by default: with it (and ``log_view``), 30 min, the centres of
            layer 4 varied by 0.08 cells against 0.06 without it and 0.32 in the Monte Carlo, AUC 1.0 / 1.0
            (run ``gan-ef-logview-mbstd-30min``).
        sampled_hits: with ``energy_flow``, each layer's hit cells are drawn at random without replacement
            with probabilities ``softmax(logits)`` (Gumbel top-k, Kool et al., ICML 2019, arXiv:1903.06059)
            instead of being the ``count`` cells of largest logit, so that the hits need not form one compact
            blob around the core; the kept cells still share the energy by the softmax of their logits. On by
            default: 30 min with ``energy_flow`` (seed 0), the mean separation power of the 21 validation
            observables fell from 0.266 to 0.207, the profile distance from 0.085 to 0.073, and the showers'
            lateral widths and their spread came closer to the Monte Carlo's (layer 8: 3.64 +- 0.80 cells
            against 2.69 +- 0.60; Monte Carlo 4.31 +- 1.17); classifier AUC still 1.0 (runs
            ``gan-ef-sampledhits-30min`` and ``gan-ef-30min``).
        scaled_latent: the latent vector is multiplied by ``E_inc / E_max`` before the dense layer (3DGAN's
            conditioning), so a 1 GeV shower of a 1-30 GeV training range gets a latent 30 times smaller than a
            30 GeV one. On by default, as in 3DGAN: without it (30 min with ``energy_flow`` and
            ``sampled_hits``, seed 0) the showers did not vary more from event to event where they varied too
            little (spread of the layer-4 centres 0.13 cells against 0.09 with it, Monte Carlo 0.32; layer 8:
            0.61 against 0.73, Monte Carlo 1.71), the first layer stayed as narrow (0.57 cells against 0.59,
            Monte Carlo 1.19), and the profile distance was 0.075 against 0.073 (run
            ``gan-ef-sh-unscaled-30min``; with ``minibatch_std`` as well, ``gan-ef-sh-unscaled-mbstd-30min``:
            0.08 and 0.61).
        layer_view: the discriminator also sees each cell's share of its layer's energy,
            ``log(1 + E / (1e-4 E_layer)) / log(1 + 1e4)``, a channel in which the weak first layer's halo
            counts as much as the core of the shower maximum. Not on by default: it unsettles the training
            (30 min with ``energy_flow`` and ``sampled_hits``, seed 0: the profile distance ``val_metric`` was
            best at the first epoch, 0.11, and then wandered between 0.15 and 0.23; with ``matched_start`` as
            well it rose from 0.12 to 0.25 in five epochs; runs ``gan-ef-sh-layerview-30min`` and
            ``gan-ef-sh-matched-layerview-30min``).
        matched_start: with ``energy_flow``, before training, each cell's learnt logit is fitted so that the
            mean share of its layer's energy that the generator's hit choice and softmax give it, with the
            training showers' layer energies and hit counts and the network's output left out, matches the
            training showers' (Adam, :data:`MATCHED_START_STEPS` steps of :data:`MATCHED_START_BATCH` showers,
            on the log of the mean shares, so the halo's small shares count as much as the core's). Without it
            each logit starts at the log of the cell's mean share over all showers, which, as the hits are
            only some of the cells, gives the few hits of the first layer's halo too small a share: at the
            start the halo held 2.9% of the first layer's energy against the Monte Carlo's 7.5% (fitted: 7.5%),
            and after 30 min of training still 3.2%. On by default: 30 min with ``energy_flow`` and
            ``sampled_hits`` (seed 0), the profile distance ``val_metric`` fell from 0.073 to 0.051, the mean
            separation power of the 21 validation observables from 0.207 to 0.103, and the energy-weighted
            widths came to the Monte Carlo's (layer 0: 1.01 cells against 0.59, Monte Carlo 1.19; layer 4:
            2.47 +- 0.44 against 2.19 +- 0.35, Monte Carlo 2.52 +- 0.45); classifier AUCs 0.99999 / 0.99998
            against 1.0 / 0.9999992 (runs ``gan-ef-sh-matched-30min`` and ``gan-ef-sampledhits-30min``); with
            seed 1 (25 min): mean separation power 0.122 against 0.229, first-layer width 1.03 against 0.62.
        share_noise: with ``energy_flow``, each kept cell's logit of its share of the layer's energy gets noise:
            the log of an exponential variable, scaled to mean 0 and a standard deviation per cell of
            ``exp(a + b log(E_inc / 1 GeV))`` (:meth:`Generator.share_sigma`), its ``a`` and ``b`` started from the
            training showers (:meth:`Generator._fit_share_spread`) and then learnt with the network. A Monte Carlo
            cell's energy fluctuates from shower to shower: at 20-25 GeV the log of the share of a first-layer
            cell next to the axis spreads by 0.85, skewed to small shares (skewness -0.3 to -1.2 across the
            layers; the log of an exponential variable: -1.16). Without the noise each kept cell got nearly the
            same share in every shower (spread 0.08 there after 30 min of training), so the showers' centres also
            moved too little from event to event. On by default: 30 min (seed 0), the classifier AUCs went from
            1.0 / 0.99993 to 0.99977 / 0.9971 (JSD 1.0 / 0.980 to 0.956 / 0.905), the profile distance
            ``val_metric`` from 0.045 to 0.027, the median separation power of the 21 validation observables from
            0.017 to 0.012 (mean 0.056 and 0.059); 25 min with seed 1: AUCs 1.0 / 0.99991 to 0.99999 / 0.9956
            (high-level JSD 0.966 to 0.876), profile distance 0.041 to 0.018, separation power mean 0.090 to 0.065,
            median 0.018 to 0.013 (runs ``gan-default-30min``, ``gan-sharenoise-30min``,
            ``gan-default-seed1-25min``, ``gan-sharenoise-seed1-25min``). It cost about a quarter of the
            sampling rate at batch 1000 (4.5k against 5.6-5.9k showers/s on one core) before the noise took its
            logs with numpy (:mod:`calolab.gen.models.noise`).
        hit_logits: with ``energy_flow`` and ``sampled_hits``, the hit choice reads its own logit per cell
            (:attr:`Generator.hit_logit`, with the network's output) instead of the cell's logit of its share.
            With one logit for both, a cell's chance to be hit and its share of the layer's energy are tied, and
            the many far cells of a layer's halo drew too many hits, each too small a share: 30 min of training
            (40000 showers) left the first layer with 44 hits beyond 5.5 cells of the axis per 4000 showers
            against the Monte Carlo's 30, 11 between 1.5 and 3.5 cells against 18, and its width 1.08 +- 0.17
            cells against 1.19 +- 0.29. The hit logits are fitted before training so that each cell is hit as
            often as in the training showers (:meth:`Generator._match_hit_frequencies`), and the cell logits then
            so that a hit cell gets its mean share (:meth:`Generator._match_hit_shares`); both are fixed-point
            iterations on ratios of frequencies, not gradient steps. It replaces the fit of ``matched_start`` and
            applies with ``sampled_hits`` only. On by default: against the ``share_noise`` runs above, 30 min
            (seed 0) and 25 min (seed 1), the low-level classifier AUC went from 0.99977 to 0.99868 and from
            0.99999 to 0.99948, the high-level one from 0.9971 to 0.9957 and from 0.9956 to 0.9890, the mean
            separation power of the validation observables stayed at 0.059 and went from 0.065 to 0.057, and the
            first layer's hits per ring came within 3% of the Monte Carlo's (7.6, 9.3, 9.0, 19.9, 29.7 from 0.5-1.5
            out to beyond 5.5 cells; Monte Carlo 7.7, 9.3, 9.2, 19.6, 29.6). Training still took the far halo's
            share away (see ``share_profile_weight``). Runs ``gan-hitlogits-30min`` and
            ``gan-hitlogits-seed1-25min``, made before the fits summed their counts over steps.
        share_profile_weight: with ``energy_flow``, the weight of a loss of the generator that keeps each band of
            cells' summed share of its layer's energy at the real showers' (:meth:`Generator.share_profile_loss`).
            The bands are fixed before training by each cell's mean share in the training showers, half a decade
            wide (:data:`SHARE_BANDS_PER_DECADE`), so a layer's core, its first ring and its far halo each have
            their own, whatever the geometry. The discriminator reads the cells as ``(E / s)^0.85`` with ``s`` the
            mean hottest cell, in which a halo cell of ``1e-4 s`` is ``4e-4``: training let the first layer's
            far halo (beyond 5.5 cells) lose 40% of its share (0.017 against the Monte Carlo's 0.029, 25 min with
            ``hit_logits``), which its width shows first. On by default (weight 1): with ``hit_logits``, 30 min
            (seed 0) and 25 min (seed 1), the low-level classifier AUC went from 0.99868 to **0.99347** and from
            0.99948 to 0.99524 (JSD 0.931 to 0.849, 0.958 to 0.864), the high-level one from 0.9957 to 0.9885 and
            from 0.9890 to 0.9886, the mean separation power of the validation observables from 0.059 to 0.030
            and from 0.057 to 0.032 (median 0.012 to 0.010, 0.011 to 0.010), and the first layer's mean
            energy-weighted squared radius from 2.11 to 3.06 and from 1.96 to 3.00 cells^2 (Monte Carlo 3.04), its
            share beyond 5.5 cells 0.028 (Monte Carlo 0.029). The worst observables are then the shower centres
            (separation power 0.13-0.20). Runs ``gan-hitlogits-profile-30min`` and
            ``gan-hitlogits-profile-seed1-25min``.
        axis_shift: with ``energy_flow``, each shower's layers are moved sideways by offsets (cells, in x and y,
            :meth:`Generator.axis_offsets`) that are correlated from layer to layer, of a spread per layer that
            follows a power of ``E_inc``, all learnt (:attr:`Generator.axis_shift`); a layer moves by adding to its
            cells' logits of their shares the offset times the slope of the map of learnt cell logits
            (:meth:`Generator.logit_slopes`; a shift to first order). In the Monte Carlo a shower's centre of
            energy in a layer moves from shower to shower (pisa-csi e- of 5-15 GeV: 0.15-0.25 cells in layers 3-4),
            and neighbouring layers' centres are correlated by 0.3-0.45 (a sub-shower that leaves the axis crosses
            several layers); the share noise, independent per cell, gave 0.6 times that spread and no
            correlation (0.0-0.1). The hit choice moves too, along the slopes of the map of hit logits
            (:attr:`Generator.hit_logit`; with ``hit_logits`` the cell logits are the mean shares *where hit*, nearly
            flat in the deep layers, whose centres only the hits move). Before training the offsets are fitted to
            :meth:`Generator.centre_spread_loss` with the learnt logits alone (:meth:`Generator._fit_axis_shift`),
            and the hit and cell logits are fitted again with them (the offsets widen where cells are hit). 30 min
            (seed 0) against the same run without it (``gan-hitlogits-profile-30min``): the spread of the showers'
            centres 0.091 cells (Monte Carlo 0.098; 0.044 without), of layer 4's 0.29 (0.33; 0.18), the mean
            separation power of the 21 validation observables 0.014 against 0.030 (median 0.009 against 0.010; the
            centres leave the worst), the high-level classifier AUC 0.9675 against 0.9885 (JSD 0.659 against
            0.795), but the low-level AUC 0.99689 +- 0.0005 against 0.99347 +- 0.0008 (run
            ``gan-axisshift-fitonly-30min``); 25 min with seed 1 (against ``gan-hitlogits-profile-seed1-25min``):
            centres 0.091 (0.038 without), mean separation power 0.013 against 0.032 (median 0.007 against
            0.010), high-level AUC 0.9744 against 0.9886 (JSD 0.696 against 0.800), low-level 0.99610 +- 0.0006
            against 0.99524 (run ``gan-axisshift-seed1-25min``). The first layer's core is one hot cell whose
            neighbours the shift (to first order) makes too large and variable at 15-30 GeV (second cell
            0.051 +- 0.036 of the layer against 0.036 +- 0.014). On by default: the showers' centres, widths and
            other validation observables come right in both seeds and the high-level AUC falls, though the
            low-level AUC, which the cells' energy spectrum decides (a classifier of a per-shower histogram of the
            cells' energies in MeV alone reaches 1.0 with or without the shift), does not. It costs 9-20% of the
            sampling rate at batch 1000 (6.3k against 6.9k and 4.8k against 5.9k showers/s on one core in two runs
            of bench/generation.py).
        centre_spread_weight: with ``axis_shift``, the weight of a loss that keeps the spread of the showers'
            per-layer centres of energy and the correlation of neighbouring layers' centres at the real showers'
            (:meth:`Generator.centre_spread_loss`); it trains :attr:`Generator.axis_shift` only. Pushing the network
            as well, the network made the centres wander itself and broke the showers' widths: 30 min with the
            offsets started at 0.05 cells, not fitted, and moving the shares only, the centres' spread came to 0.105
            cells but the lateral width's separation power rose to 0.24, AUCs 0.99879 / 0.9975 (run
            ``gan-axisshift-30min``); with the fitted offsets moving the hits as well, 0.99522 / 0.9887 and mean
            separation power 0.024 (``gan-axisshift-hits-30min``).
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
    spectral_norm: bool = True
    energy_flow: bool = True
    energy_blocks: int = Field(default=5, ge=1)
    energy_hidden: int = Field(default=64, ge=2)
    log_view: bool = False
    minibatch_std: bool = False
    sampled_hits: bool = True
    scaled_latent: bool = True
    layer_view: bool = False
    matched_start: bool = True
    share_noise: bool = True
    hit_logits: bool = True
    share_profile_weight: float = Field(default=1.0, ge=0)
    axis_shift: bool = True
    centre_spread_weight: float = Field(default=1.0, ge=0)


#: ``matched_start``: Adam steps, showers per step and learning rate of the fit of the cell logits
MATCHED_START_STEPS, MATCHED_START_BATCH, MATCHED_START_LR = 300, 512, 0.05

#: ``hit_logits``: fixed-point steps, showers per step and rate of the fits of the hit and cell logits, the hit
#: frequency floor (1e-4: a cell hit once in 10000 showers) and the hits (summed over the steps with the memory
#: below) a cell needs to move its cell logit
HIT_MATCH_STEPS, HIT_MATCH_BATCH, HIT_MATCH_RATE, HIT_FREQUENCY_FLOOR, HIT_MATCH_MIN_HITS = 200, 1024, 0.5, 1e-4, 5
#: the weight by which a step's draws fall per later step in those fits (a memory of about ten steps)
HIT_MATCH_MEMORY = 0.9

#: ``share_profile_weight``: bands of the cells' mean shares per decade, and bands per layer (down to 1e-6)
SHARE_BANDS_PER_DECADE, SHARE_BANDS = 2, 12

#: ``axis_shift``: the start of the offsets' spread (cells, at every energy) and of the correlation of neighbouring
#: layers' offsets
AXIS_SHIFT_START_SPREAD, AXIS_SHIFT_START_CORRELATION = 0.05, 0.5
#: ``axis_shift``: the largest slope of the cell-logit map it uses (per cell; a shower's core falls by about 3 per
#: cell; the map's steps to cells never hit, at the log of 1e-12, are 20 or more and would move them as much)
AXIS_SHIFT_MAX_SLOPE = 5.0
#: ``axis_shift``: the smallest and largest spread of a layer's offsets (cells; the shift is to first order, and a
#: deep layer's centre wanders by several cells when few particles reach it, which its hits and share noise give)
AXIS_SHIFT_SPREAD_RANGE = (1e-3, 1.0)
#: ``axis_shift``: Adam steps, showers per step and learning rate of its fit before training
AXIS_SHIFT_FIT_STEPS, AXIS_SHIFT_FIT_BATCH, AXIS_SHIFT_FIT_LR = 150, 256, 0.05
#: the summed weight of a layer's kept cells below which their softmax is shifted by their own largest logit (its
#: square, in the gradient, must stay above float32's smallest normal number, 1.2e-38)
SOFTMAX_UNDERFLOW = 1e-15
#: ``centre_spread_weight``: the floor added to each layer's centre variance (cells^2) before its log is compared
CENTRE_VARIANCE_FLOOR = 1e-4

#: ``share_noise``: incident-energy bins (equal counts) of the start of the spreads, hits a bin needs to count
#: for a cell, the smallest and largest spread (in the log of a cell's share) and the reference energy (MeV)
SHARE_SPREAD_BINS, SHARE_SPREAD_MIN_HITS, SHARE_SPREAD_RANGE, SHARE_SPREAD_REFERENCE = 8, 10, (0.02, 3.0), 1e3


#: the GAN's energy flow: quantile knots of its coordinate map, dequantisation noise per cell (MeV) and logit
#: regulariser (the defaults of :class:`~calolab.gen.models.flow.FlowConfig`)
ENERGY_FLOW_KNOTS, ENERGY_FLOW_CELL_NOISE, ENERGY_FLOW_ALPHA = 256, 1e-3, 1e-6


#: the discriminator's ``log_view`` of a cell: ``log(1 + E / (epsilon E_inc)) / log(1 + 1 / epsilon)``; its
#: ``layer_view``: the same with the cell's layer energy in place of ``E_inc``
LOG_VIEW_EPSILON = 1e-4


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


def _offset_mixing(axis_shift: torch.Tensor) -> torch.Tensor:
    """The ``axis_shift`` offsets' mixing matrix ``(L, L)``, lower triangular: row ``l`` holds the weights of the
    standard normal draws ``0..l`` in layer ``l``'s offset (an AR(1) process of the correlations ``tanh`` of
    ``axis_shift[2]``; see :meth:`Generator.axis_offsets`)."""
    rho = torch.tanh(axis_shift[2])
    layers = len(rho)
    unit, fresh = torch.eye(layers, dtype=rho.dtype, device=rho.device), torch.sqrt(1 - rho**2)
    rows = [unit[0]]
    for layer in range(1, layers):
        rows.append(rho[layer] * rows[-1] + fresh[layer] * unit[layer])
    return torch.stack(rows)


def _made_in_another_mode(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` was made in inference mode and is now used outside it (where it cannot be written to,
    nor saved for a backward pass)."""
    return tensor.is_inference() and not torch.is_inference_mode_enabled()


def _shifted(logits: torch.Tensor, offsets: torch.Tensor, slopes: torch.Tensor) -> torch.Tensor:
    """Logits ``(N, L, P)`` of layers moved sideways by ``offsets`` ``(N, 2, L)`` (cells; x, y), to first order:
    ``logit(x - dx, y - dy) = logit - dx dlogit/dx - dy dlogit/dy`` with the map's ``slopes`` ``(2, L, P)``."""
    slopes = slopes.to(logits.dtype)
    # two fused passes over the cells (a product and a difference per axis would be four)
    moved = torch.addcmul(logits, offsets[:, 0, :, None], slopes[0], value=-1)
    return moved.addcmul_(offsets[:, 1, :, None], slopes[1], value=-1)


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
        self.layer_energies: LayerEnergyFlow | None = None
        self.sampled_hits = config.sampled_hits
        self.matched_start = config.matched_start
        self.scaled_latent = config.scaled_latent
        network_conditions = n_conditions
        if config.energy_flow:
            layers, pixels = self.shape[0], self.shape[1] * self.shape[2]
            self.layer_energies = LayerEnergyFlow(layers, pixels, n_conditions, blocks=config.energy_blocks,
                                                  hidden=config.energy_hidden, knots=ENERGY_FLOW_KNOTS,
                                                  cell_noise=ENERGY_FLOW_CELL_NOISE, alpha=ENERGY_FLOW_ALPHA)
            network_conditions += self.layer_energies.dim
        self.dense = nn.Sequential(nn.Linear(config.latent + network_conditions, c0 * math.prod(self.coarse)),
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
        # forward runs with one shower per column (see there): the row of each padded cell in its output, ordered
        # (grandchild, child, coarse voxel); the centre crop keeps the rows of the section's cells, in cell order
        rows = torch.arange(math.prod(padded)).view(*last, *first, *self.coarse)
        order = rows.permute(6, 3, 0, 7, 4, 1, 8, 5, 2).reshape(padded)
        self.register_buffer("shuffle", _crop(order, self.shape).reshape(-1).clone(), persistent=False)
        with torch.no_grad():  # start near the data: summed cells ~0.5 E_inc, half the cells zero
            output.linear.weight.mul_(0.03)
            output.linear.bias.zero_()
        if self.layer_energies is not None:  # logits, not cells: no final ReLU, and a learnt logit per cell
            self.body[3] = nn.Identity()
            self.cell_logit = nn.Parameter(torch.zeros(math.prod(self.shape)))
        self.share_spread: nn.Parameter | None = None
        if self.layer_energies is not None and config.share_noise:
            # per cell: the log of its share's spread at SHARE_SPREAD_REFERENCE, and its slope in log E_inc
            self.share_spread = nn.Parameter(torch.zeros(2, math.prod(self.shape)))
        self.axis_shift: nn.Parameter | None = None
        if self.layer_energies is not None and config.axis_shift:
            # per layer: the log of the offsets' spread (cells) at 1 GeV, its slope in log E_inc, and the atanh of the
            # correlation with the layer before (unused for the first layer)
            start = [math.log(AXIS_SHIFT_START_SPREAD), 0.0, math.atanh(AXIS_SHIFT_START_CORRELATION)]
            self.axis_shift = nn.Parameter(torch.tensor(start)[:, None].repeat(1, self.shape[0]))
        self.hit_logit: torch.Tensor | None
        # with hit_logits, each cell's logit of the hit choice (fitted before training, not learnt)
        self.register_buffer("hit_logit", torch.zeros(math.prod(self.shape))
                             if self.layer_energies is not None and config.hit_logits and config.sampled_hits
                             else None)
        self.share_band: torch.Tensor | None
        # with share_profile_weight, each cell's band (layer * SHARE_BANDS + band of its mean share), fitted
        self.register_buffer("share_band", torch.zeros(math.prod(self.shape), dtype=torch.long)
                             if self.layer_energies is not None and config.share_profile_weight > 0 else None)
        # tensors made from parameters or buffers (cast weights, slopes), see _derived
        self._cache: dict[str, tuple[tuple[tuple[int, int], ...], torch.Tensor]] = {}
        self._scratch_buffers: dict[str, torch.Tensor] = {}  # see _scratch

    def forward(self, z: torch.Tensor, conditions: torch.Tensor, energy_fraction: torch.Tensor) -> torch.Tensor:
        """Cells ``(N, 1, layers, y, x)`` (with ``energy_flow``: their logits) for latent ``z`` ``(N, latent)``,
        ``conditions`` ``(N, C)`` (with ``energy_flow``: followed by the energy flow's mapped coordinates) and
        ``E_inc / E_max`` ``(N,)`` (a view of :meth:`columns`)."""
        return self.columns(z, conditions, energy_fraction).T.view(z.shape[0], 1, *self.shape)

    def columns(self, z: torch.Tensor, conditions: torch.Tensor, energy_fraction: torch.Tensor, *,
                hidden_dtype: torch.dtype = torch.float32, reuse_buffers: bool = False) -> torch.Tensor:
        """The section's cells ``(layers * y * x, N)``, one shower per column, in the transformed space.

        Computes ``crop(body(dense(...)))`` with one shower per column and without the intermediate voxel
        shuffle. A kernel = stride transposed convolution maps each voxel to its own block of children, so the
        two of them act on each coarse voxel as a small two-layer network whose outputs are the voxel's
        4 x 4 x 4 grandchildren; with the showers along the columns, each layer is one matrix product whose
        long side runs over all voxels of all showers (two to three times faster on CPU than rows of 8 or 16
        outputs), and one gather of rows puts the kept cells in place.

        Args:
            hidden_dtype: ``torch.bfloat16`` runs the dense layer and the first transposed convolution (86% of
                the multiply-adds) in bfloat16, twice as fast on CPUs with AVX512-BF16; the last layer and the
                cells stay float32 (no bfloat16 steps in the cell energies). Sampling only.
            reuse_buffers: write the intermediate results and the result into buffers kept by the generator
                (:meth:`_scratch`) instead of new tensors, so that a loop over blocks of showers does not map and
                fault in fresh memory for each (10-15% of the plain GAN's sampling time). Sampling only, and
                only where the caller is done with the result before the next call overwrites it.
        """
        if self.scaled_latent:  # 3DGAN: the latent times the energy
            z = z * energy_fraction[:, None]
        h = torch.cat([z, conditions], dim=1)
        n, voxels = h.shape[0], math.prod(self.coarse)
        dense, first, last = cast(nn.Linear, self.dense[0]), cast(Deconv, self.body[0]), cast(Deconv, self.body[2])
        weights = [dense.weight, dense.bias, first.linear.weight, first.linear.bias]
        if hidden_dtype != torch.float32:
            weights = [self._derived(f"weight{index}_{hidden_dtype}", (w,), lambda w: w.to(hidden_dtype))
                       for index, w in enumerate(weights)]
            h = h.to(hidden_dtype)

        def buffer(name: str, rows: int, columns: int, dtype: torch.dtype) -> torch.Tensor | None:
            return self._scratch(name, (rows, columns), dtype, h.device) if reuse_buffers else None

        # (c0 * voxels, N), then (c1 * children, voxels * N), then (cells of the padded grid, N)
        grid = torch.addmm(weights[1][:, None], weights[0], h.T, out=buffer("grid", len(weights[0]), n, h.dtype))
        grid = nn.functional.leaky_relu(grid, 0.2, inplace=True)
        hidden = torch.addmm(weights[3][:, None], weights[2], grid.view(self.c0, voxels * n),
                             out=buffer("hidden", len(weights[2]), voxels * n, h.dtype))
        if hidden.dtype != torch.float32:  # its LeakyReLU in float32 (twice as fast as in bfloat16)
            converted = buffer("hidden_float32", len(weights[2]), voxels * n, torch.float32)
            hidden = hidden.float() if converted is None else converted.copy_(hidden)
        hidden = nn.functional.leaky_relu(hidden, 0.2, inplace=True)
        cells = torch.addmm(last.linear.bias[:, None], last.linear.weight, hidden.view(first.c_out, -1),
                            out=buffer("padded", len(last.linear.weight), hidden.numel() // first.c_out,
                                       torch.float32))
        cells = torch.index_select(cells.view(-1, n), 0, self.shuffle,
                                   out=buffer("cells", len(self.shuffle), n, torch.float32))
        if self.layer_energies is None:  # the body's final ReLU, on the kept cells
            return cells.relu_() if reuse_buffers else torch.relu(cells)
        return cells.add_(self.cell_logit[:, None]) if reuse_buffers else cells + self.cell_logit[:, None]

    def fit_energy_flow(self, cells: torch.Tensor, energy: torch.Tensor, seed: int = 0) -> None:
        """With ``energy_flow``, before training, on training cells ``(N, L, Y, X)`` MeV and incident energies
        ``(N,)`` MeV: fit the energy flow's coordinate map, and start each cell's learnt logit at the log of its
        mean share of its layer's energy, so that the first showers have the mean shape (with ``matched_start``,
        then fit the logits so that the hit choice and softmax give each cell that mean share)."""
        if self.layer_energies is None:
            return
        self.layer_energies.fit(cells, energy, seed)
        total = torch.zeros(self.shape[0], self.shape[1] * self.shape[2], dtype=torch.float64)
        for start in range(0, len(cells), 1024):  # in blocks: the doubles of all cells at once are large
            flat = cells[start:start + 1024].reshape(-1, self.shape[0], total.shape[1]).double()
            total += (flat / flat.sum(dim=2, keepdim=True).clamp_min(1e-30)).sum(dim=0)
        mean_share = total / max(len(cells), 1)
        with torch.no_grad():
            self.cell_logit.copy_(torch.log(mean_share.clamp_min(1e-12)).reshape(-1))
        if self.share_spread is not None and len(cells):
            self._fit_share_spread(cells, energy)
        if self.share_band is not None:
            band = torch.floor(-torch.log10(mean_share.clamp_min(1e-30)) * SHARE_BANDS_PER_DECADE)
            band = band.clamp(0, SHARE_BANDS - 1)
            layer = torch.arange(self.shape[0])[:, None] * SHARE_BANDS
            self.share_band.copy_((layer + band.long()).reshape(-1))
        if self.hit_logit is not None and len(cells):
            frequency = self._match_hit_frequencies(cells, energy, seed)
            self._match_hit_shares(cells, energy, mean_share, frequency, seed)
        elif self.matched_start and len(cells):
            self._match_mean_shares(cells, energy, mean_share.float(), seed)
        if self.axis_shift is not None and len(cells) > 1:
            self._fit_axis_shift(cells, energy, seed)
            if self.hit_logit is not None:  # the shifts widen where cells are hit: fit the logits again with them
                frequency = self._match_hit_frequencies(cells, energy, seed)
                self._match_hit_shares(cells, energy, mean_share, frequency, seed)

    def _fit_axis_shift(self, cells: torch.Tensor, energy: torch.Tensor, seed: int) -> None:
        """With ``axis_shift``, after the cell and hit logits: fit :attr:`axis_shift` so that the showers of the
        learnt cell logits alone (the network's output left out; hit choice and share noise as in sampling), with
        the layer energies and hit counts of the training showers ``cells`` ``(N, L, Y, X)`` MeV (incident energies
        ``energy`` ``(N,)`` MeV), have their centres' spread and layer-to-layer correlation
        (:meth:`centre_spread_loss`): Adam, :data:`AXIS_SHIFT_FIT_STEPS` steps of :data:`AXIS_SHIFT_FIT_BATCH`
        showers; the mean over the second half of the steps is kept. Training's learning rate alone barely moves it
        (30 min at 5e-4: the spreads from 0.05 to 0.05-0.07 cells)."""
        assert self.axis_shift is not None  # called only with axis_shift
        generator = torch.Generator().manual_seed(seed + 2)
        layers, pixels = self.shape[0], self.shape[1] * self.shape[2]
        logits = self.cell_logit.detach().view(1, layers, pixels)
        optimiser = torch.optim.Adam([self.axis_shift], lr=AXIS_SHIFT_FIT_LR)
        average = torch.zeros_like(self.axis_shift)
        for step in range(AXIS_SHIFT_FIT_STEPS):
            rows = torch.randint(0, len(cells), (min(AXIS_SHIFT_FIT_BATCH, len(cells)),), generator=generator)
            flat = cells[rows].reshape(len(rows), layers, pixels).float()
            drawn = self.cells_from_logits(logits.expand(len(rows), layers, pixels), flat.sum(dim=2),
                                           (flat > 0).sum(dim=2), generator, energy=energy[rows])
            loss = self.centre_spread_loss(drawn, flat, energy[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if step >= AXIS_SHIFT_FIT_STEPS // 2:
                average += self.axis_shift.detach() / (AXIS_SHIFT_FIT_STEPS - AXIS_SHIFT_FIT_STEPS // 2)
        with torch.no_grad():
            self.axis_shift.copy_(average)
        self.zero_grad(set_to_none=True)  # the share spreads took gradients too, and are left as they were

    @torch.no_grad()
    def _match_hit_frequencies(self, cells: torch.Tensor, energy: torch.Tensor, seed: int) -> torch.Tensor:
        """With ``hit_logits``: fit :attr:`hit_logit` so that the hit choice, with the hit counts of the
        training showers ``cells`` ``(N, L, Y, X)`` MeV and the network's output left out, hits each cell as often
        as they do; returns that frequency ``(L, P)`` (float64).

        A fixed-point iteration, :data:`HIT_MATCH_STEPS` steps of :data:`HIT_MATCH_BATCH` showers (drawn with
        replacement, so that a small training set still gives each step enough draws of its rare cells): each moves a
        cell's logit by :data:`HIT_MATCH_RATE` times the log of the ratio of its frequency in the training showers
        to that of the draws (both plus :data:`HIT_FREQUENCY_FLOOR`); the draws' counts are summed over the steps,
        each step's weight falling by :data:`HIT_MATCH_MEMORY` per step (the log of a few steps' frequency of a rare
        cell is biased low, and its logit would come out high); the result is the mean over the second half of
        the steps (their statistical jitter averages out). With ``axis_shift`` the draws are shifted as in sampling
        (incident energies ``energy`` ``(N,)`` MeV).
        """
        assert self.hit_logit is not None  # called only with hit_logits
        layers, pixels = self.shape[0], self.shape[1] * self.shape[2]
        hits = torch.zeros(layers, pixels, dtype=torch.float64)
        for start in range(0, len(cells), 1024):
            hits += (cells[start:start + 1024].reshape(-1, layers, pixels) > 0).sum(dim=0)
        frequency = hits / len(cells)
        target = torch.log(frequency + HIT_FREQUENCY_FLOOR).float()
        generator = torch.Generator().manual_seed(seed)
        logit, average = target.clone(), torch.zeros_like(target)
        kept, draws = torch.zeros_like(target), 0.0  # with memory HIT_MATCH_MEMORY
        for step in range(HIT_MATCH_STEPS):
            rows = torch.randint(0, len(cells), (HIT_MATCH_BATCH,), generator=generator)
            counts = (cells[rows].reshape(len(rows), layers, pixels) > 0).sum(dim=2)
            ranked = logit.expand(len(rows), layers, pixels)
            if self.axis_shift is not None:  # the hit choice moves along the slopes of the current logits
                offsets = self.axis_offsets(energy[rows], generator).detach()
                ranked = _shifted(ranked, offsets, self.logit_slopes(logit.reshape(-1)))
            kept = HIT_MATCH_MEMORY * kept + self._hits(ranked, counts, generator).sum(dim=0)
            draws = HIT_MATCH_MEMORY * draws + len(rows)
            logit += HIT_MATCH_RATE * (target - torch.log(kept / draws + HIT_FREQUENCY_FLOOR))
            if step >= HIT_MATCH_STEPS // 2:
                average += logit / (HIT_MATCH_STEPS - HIT_MATCH_STEPS // 2)
        self.hit_logit.copy_(average.reshape(-1))
        return frequency

    @torch.no_grad()
    def _match_hit_shares(self, cells: torch.Tensor, energy: torch.Tensor, mean_share: torch.Tensor,
                          frequency: torch.Tensor, seed: int) -> None:
        """With ``hit_logits``, after :meth:`_match_hit_frequencies`: fit :attr:`cell_logit` so that a cell, when
        the hit choice keeps it, gets on average the share of its layer's energy that the training showers
        ``cells`` ``(N, L, Y, X)`` MeV give it where it is hit (``mean_share / frequency``, both ``(L, P)``;
        incident energies ``energy`` ``(N,)`` MeV for ``share_noise``).

        A fixed-point iteration as for the hit logits: each step moves a cell's logit by
        :data:`HIT_MATCH_RATE` times the log of the ratio of the target to its mean share over the draws that
        keep it (summed with the same memory), where :data:`HIT_MATCH_MIN_HITS` or more do (the others keep
        their start, the log of their mean share where hit); the mean over the second half of the steps is kept.
        """
        assert self.hit_logit is not None  # called only with hit_logits
        layers, pixels = mean_share.shape
        seen = frequency > 0
        target = torch.log(torch.where(seen, mean_share / frequency.clamp_min(1e-30), torch.ones_like(frequency)))
        generator = torch.Generator().manual_seed(seed + 1)
        # start: the log of the mean share where hit (a cell kept too rarely to be fitted keeps it)
        logit = torch.where(seen, target, torch.log(mean_share.clamp_min(1e-12))).float()
        average = torch.zeros_like(logit)
        kept, summed = torch.zeros_like(target), torch.zeros_like(target)  # with memory HIT_MATCH_MEMORY
        hit_logits = self.hit_logit.view(layers, pixels)
        for step in range(HIT_MATCH_STEPS):
            rows = torch.randint(0, len(cells), (HIT_MATCH_BATCH,), generator=generator)
            flat = cells[rows].reshape(len(rows), layers, pixels)
            shares = self.cells_from_logits(logit.expand(len(rows), layers, pixels), torch.ones(len(rows), layers),
                                            (flat > 0).sum(dim=2), generator, energy=energy[rows],
                                            hit_logits=hit_logits.expand(len(rows), layers, pixels))
            kept = HIT_MATCH_MEMORY * kept + (shares > 0).sum(dim=0)
            summed = HIT_MATCH_MEMORY * summed + shares.double().sum(dim=0)
            conditional = summed / kept.clamp_min(1e-30)
            update = torch.where(seen & (kept >= HIT_MATCH_MIN_HITS),
                                 target - torch.log(conditional.clamp_min(1e-30)), torch.zeros_like(target))
            logit += HIT_MATCH_RATE * update.float()
            if step >= HIT_MATCH_STEPS // 2:
                average += logit / (HIT_MATCH_STEPS - HIT_MATCH_STEPS // 2)
        self.cell_logit.copy_(average.reshape(-1))

    def _fit_share_spread(self, cells: torch.Tensor, energy: torch.Tensor) -> None:
        """Start :attr:`share_spread` at the training showers' ``cells`` ``(N, L, Y, X)`` MeV (incident
        energies ``energy`` ``(N,)`` MeV).

        In each of :data:`SHARE_SPREAD_BINS` incident-energy bins of equal counts (fewer where a bin would hold
        under ``4 SHARE_SPREAD_MIN_HITS`` showers): the standard deviation of the log of each cell's share of
        its layer's energy, over the showers in which the cell is hit. Per cell, a straight line of the log of
        that spread in ``log(E_inc / 1 GeV)``, least squares over the bins weighted by their hits. A cell with
        only one bin of :data:`SHARE_SPREAD_MIN_HITS` hits or more is flat at that bin's spread; one with none
        takes its layer's median.
        """
        assert self.share_spread is not None  # called only with share_noise
        layers, pixels = self.shape[0], self.shape[1] * self.shape[2]
        n_bins = max(1, min(SHARE_SPREAD_BINS, len(cells) // (4 * SHARE_SPREAD_MIN_HITS)))  # bins of 40 showers or more
        edges = torch.quantile(energy.double(), torch.linspace(0, 1, n_bins + 1, dtype=torch.float64))
        bins = torch.bucketize(energy.double(), edges[1:-1], right=True)
        hits, sums, squares = (torch.zeros(n_bins, layers * pixels, dtype=torch.float64) for _ in range(3))
        for start in range(0, len(cells), 1024):  # in blocks, as the mean shares
            flat = cells[start:start + 1024].reshape(-1, layers, pixels).double().clamp_min(0)
            share = flat / flat.sum(dim=2, keepdim=True).clamp_min(1e-30)
            hit = (share > 0).reshape(len(flat), -1).double()
            log_share = torch.log(share.clamp_min(1e-30)).reshape(len(flat), -1) * hit
            index = bins[start:start + 1024]
            hits.index_add_(0, index, hit)
            sums.index_add_(0, index, log_share)
            squares.index_add_(0, index, log_share**2)
        counted = hits >= SHARE_SPREAD_MIN_HITS
        mean = sums / hits.clamp_min(1)
        variance = (squares / hits.clamp_min(1) - mean**2).clamp_min(0) * hits / (hits - 1).clamp_min(1)
        low, high = SHARE_SPREAD_RANGE
        log_spread = torch.log(variance.sqrt().clamp(low, high))  # (bins, cells)
        centres = torch.stack([torch.log(energy.double()[bins == b].mean() / SHARE_SPREAD_REFERENCE)
                               if (bins == b).any() else torch.tensor(0.0, dtype=torch.float64)
                               for b in range(n_bins)])[:, None].expand_as(log_spread)
        weight = hits * counted
        total = weight.sum(dim=0)
        x_mean = (weight * centres).sum(dim=0) / total.clamp_min(1e-30)
        y_mean = (weight * log_spread).sum(dim=0) / total.clamp_min(1e-30)
        spread_x = (weight * (centres - x_mean) ** 2).sum(dim=0)
        covariance = (weight * (centres - x_mean) * (log_spread - y_mean)).sum(dim=0)
        slope = torch.where((counted.sum(dim=0) >= 2) & (spread_x > 0), covariance / spread_x.clamp_min(1e-30),
                            torch.zeros_like(total))
        intercept = y_mean - slope * x_mean
        # a cell hit in no bin often enough: its layer's median (or the smallest spread in an empty layer)
        seen = counted.any(dim=0).view(layers, pixels)
        fallback = torch.stack([intercept.view(layers, pixels)[layer][seen[layer]].median() if seen[layer].any()
                                else torch.tensor(math.log(low), dtype=torch.float64) for layer in range(layers)])
        intercept = torch.where(seen, intercept.view(layers, pixels), fallback[:, None]).reshape(-1)
        with torch.no_grad():
            self.share_spread.copy_(torch.stack([intercept, slope]).float())

    def share_sigma(self, energy: torch.Tensor) -> torch.Tensor:
        """With ``share_noise``: the standard deviation ``(N, L * Y * X)`` of the noise on each cell's logit
        of its share, for showers of incident energies ``energy`` ``(N,)`` MeV: ``exp(a + b log(E_inc / 1 GeV))``
        with the cell's :attr:`share_spread` ``(a, b)``, within :data:`SHARE_SPREAD_RANGE`."""
        assert self.share_spread is not None  # called only with share_noise
        log_energy = torch.log(energy.to(self.share_spread.dtype) / SHARE_SPREAD_REFERENCE)
        # one matrix product (a + b log E for all showers and cells), several times faster than broadcasting
        log_sigma = torch.addmm(self.share_spread[0], log_energy[:, None], self.share_spread[1:])
        return torch.exp(log_sigma.clamp(*(math.log(v) for v in SHARE_SPREAD_RANGE)))

    def _match_mean_shares(self, cells: torch.Tensor, energy: torch.Tensor, mean_share: torch.Tensor, seed: int
                           ) -> None:
        """Fit :attr:`cell_logit` so that :meth:`cells_from_logits` of it alone, with the layer energies and hit
        counts of training showers ``cells`` ``(N, L, Y, X)`` MeV (incident energies ``energy`` ``(N,)`` MeV,
        for ``share_noise``), gives each cell the mean share ``(L, P)`` of its layer's energy (least squares of
        the logs, plus ``1e-7``)."""
        generator = torch.Generator().manual_seed(seed)
        layers, pixels = mean_share.shape
        logits = self.cell_logit.detach().view(layers, pixels).clone().requires_grad_(True)
        optimiser = torch.optim.Adam([logits], lr=MATCHED_START_LR)
        target = torch.log(mean_share + 1e-7)
        spreads = [] if self.share_spread is None else [self.share_spread]
        for spread in spreads:  # the spreads stay as started
            spread.requires_grad_(False)
        try:
            for _ in range(MATCHED_START_STEPS):
                rows = torch.randint(0, len(cells), (min(MATCHED_START_BATCH, len(cells)),), generator=generator)
                flat = cells[rows].reshape(len(rows), layers, pixels).float()
                # shares of a unit layer energy; an empty layer has no hits, so it keeps no cell and shares nothing
                shares = self.cells_from_logits(logits.expand(len(rows), layers, pixels),
                                                torch.ones(len(rows), layers), (flat > 0).sum(dim=2), generator,
                                                energy=energy[rows])
                loss = ((torch.log(shares.mean(dim=0) + 1e-7) - target) ** 2).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        finally:
            for spread in spreads:
                spread.requires_grad_(True)
        with torch.no_grad():
            self.cell_logit.copy_(logits.detach().reshape(-1))

    def cells_from_logits(self, logits: torch.Tensor, layer_energy: torch.Tensor, counts: torch.Tensor,
                          generator: torch.Generator | None = None, *, energy: torch.Tensor | None = None,
                          hit_logits: torch.Tensor | None = None) -> torch.Tensor:
        """Cells ``(N, L, P)`` MeV of the ``energy_flow`` generator's logits ``(N, L, P)``: each layer's
        ``counts`` ``(N, L)`` cells of largest logit (with ``sampled_hits``: of largest logit plus Gumbel noise
        drawn with ``generator``) share its energy ``layer_energy`` ``(N, L)`` MeV in proportion to the
        exponentials of their logits (a softmax over the kept cells); the others are 0. With ``share_noise``
        each logit of the share (not of the hit choice) has noise added: the log of an exponential variable,
        shifted and scaled to mean 0 and standard deviation :meth:`share_sigma` for the incident energies
        ``energy`` ``(N,)`` MeV (skewed like the Monte Carlo's: a long tail to small shares, a short one to large).
        The hit choice reads ``hit_logits`` (broadcast to ``(N, L, P)``) where given, else
        :meth:`hit_choice_logits` of ``logits``."""
        if (self.share_spread is not None or self.axis_shift is not None) and energy is None:
            msg = ("a generator with share_noise or axis_shift needs the incident energies (energy=) to share the "
                   "cells' energy")
            raise ValueError(msg)
        offsets = None if self.axis_shift is None else self.axis_offsets(cast(torch.Tensor, energy), generator)
        ranked = self.hit_choice_logits(logits) if hit_logits is None else hit_logits.detach()
        if offsets is not None:  # where a layer's cells are hit moves along the slopes of the hit choice's map
            ranked = _shifted(ranked, offsets, self._map_slopes("cell_logit" if self.hit_logit is None
                                                                else "hit_logit"))
        keep = self._hits(ranked, counts, generator)
        if self.share_spread is not None:
            # log of an exponential variable, standardised: a long tail to small shares, a short one to large
            noise = standardised_log_exponential(logits.shape, generator, logits.device)
            logits = logits + noise.mul_(self.share_sigma(cast(torch.Tensor, energy)).view(logits.shape))
        if offsets is not None:
            logits = _shifted(logits, offsets, self._map_slopes("cell_logit"))
        # the softmax over the kept cells, shifted by the row's largest logit (a layer's logits spread over a few
        # tens, from the log of the cells' mean shares, and exp underflows only 87 below it)
        weights = torch.exp(logits - logits.detach().amax(dim=-1, keepdim=True)) * keep
        total = weights.sum(dim=-1)
        if bool(((total < SOFTMAX_UNDERFLOW) & (counts > 0)).any()):
            # a row whose kept cells all lie far below a dropped one (the axis shift can move them there): shifted
            # by the largest kept logit instead (a third slower, so not always), the others capped at it and dropped
            largest_kept = torch.where(keep, logits.detach(), -math.inf).amax(dim=-1, keepdim=True)
            weights = torch.exp((logits - largest_kept).clamp_max_(0)) * keep
            total = weights.sum(dim=-1)
        scale = layer_energy.to(weights.dtype) / total.clamp_min(1e-30)
        return weights * scale[..., None]

    def axis_offsets(self, energy: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """With ``axis_shift``: each shower's lateral offsets ``(N, 2, L)`` (cells; x then y) of its layers, for
        incident energies ``energy`` ``(N,)`` MeV.

        Along the depth an autoregressive process of order 1: the first layer's offset is a standard normal variable,
        each next one ``rho_l`` times the one before plus ``sqrt(1 - rho_l^2)`` times a new one (so each is a standard
        normal variable, correlated ``rho_l`` with the layer before), times the layer's spread
        ``exp(a_l + b_l log(E_inc / 1 GeV))`` (within :data:`AXIS_SHIFT_SPREAD_RANGE`), ``(a, b, atanh rho)`` the
        rows of :attr:`axis_shift`. x and y are independent.
        """
        assert self.axis_shift is not None  # called only with axis_shift
        log_spread, slope, _ = self.axis_shift
        layers = self.shape[0]
        # without gradients (sampling) the mixing matrix is made once per value of the parameters
        mixing = (_offset_mixing(self.axis_shift) if torch.is_grad_enabled() and self.axis_shift.requires_grad
                  else self._derived("offset_mixing", (self.axis_shift,), _offset_mixing))
        draws = torch.randn(len(energy), 2, layers, generator=generator, device=energy.device)
        log_energy = torch.log(energy.to(log_spread.dtype) / SHARE_SPREAD_REFERENCE)
        low, high = (math.log(v) for v in AXIS_SHIFT_SPREAD_RANGE)
        spread = torch.exp((log_spread + slope * log_energy[:, None]).clamp(low, high))
        return (draws @ mixing.T) * spread[:, None, :]

    def logit_slopes(self, logit: torch.Tensor) -> torch.Tensor:
        """The slopes ``(2, L, Y * X)`` (per cell; along x, then y) of a map of learnt logits ``(L * Y * X,)``
        (:attr:`cell_logit` or :attr:`hit_logit`; detached): central differences, one-sided at the section's edges,
        within :data:`AXIS_SHIFT_MAX_SLOPE`."""
        layers, ny, nx = self.shape
        grid = logit.detach().view(layers, ny, nx)
        along_x = torch.gradient(grid, dim=2)[0] if nx > 1 else torch.zeros_like(grid)
        along_y = torch.gradient(grid, dim=1)[0] if ny > 1 else torch.zeros_like(grid)
        slopes = torch.stack([along_x, along_y]).clamp(-AXIS_SHIFT_MAX_SLOPE, AXIS_SHIFT_MAX_SLOPE)
        return slopes.view(2, layers, ny * nx)

    def centre_spread_loss(self, fake: torch.Tensor, real: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        """With ``centre_spread_weight``: how far the fake showers' per-layer centres of energy spread and correlate
        from layer to layer unlike the real ones', for fake and real cells ``(N, L, P)`` MeV that share their layer
        energies and incident energies ``energy`` ``(N,)`` MeV.

        The showers are split into the lower and the upper half of the batch's incident energies. In each half, the
        centres' deviations from the real showers' mean centre of the layer are weighted by ``E_inc`` (a layer's
        centre variance falls about as ``1 / E_inc``, so that no few low-energy showers dominate); per layer, the
        squared log of the ratio of the fake to the real variance (x and y together, plus
        :data:`CENTRE_VARIANCE_FLOOR`), and per pair of neighbouring layers the squared difference of the
        correlations, are averaged. The result is their sum, averaged over the halves.
        """
        layers, ny, nx = self.shape
        layer_energy = real.sum(dim=2)
        present = (layer_energy > 0).to(fake.dtype)  # (N, L)
        positions = [torch.arange(n, dtype=fake.dtype, device=fake.device) for n in (nx, ny)]

        def centres(cells: torch.Tensor) -> torch.Tensor:  # (N, 2, L) cells
            grid = cells.view(len(cells), layers, ny, nx)
            sums = torch.stack([(grid.sum(dim=2) * positions[0]).sum(dim=-1),
                                (grid.sum(dim=3) * positions[1]).sum(dim=-1)], dim=1)
            return sums / layer_energy.clamp_min(1e-30)[:, None, :]

        centre = {"fake": centres(fake), "real": centres(real)}
        order = torch.argsort(energy)
        half = len(order) // 2
        loss = torch.zeros((), dtype=fake.dtype, device=fake.device)
        parts = [order[:half], order[half:]] if half >= 2 else [order]
        for rows in parts:
            weight = (energy[rows] / energy[rows].mean()).to(fake.dtype)[:, None] * present[rows]  # (n, L)
            total = weight.sum(dim=0).clamp_min(1e-30)
            mean = ((centre["real"][rows] * weight[:, None, :]).sum(dim=0) / total).detach()  # (2, L)
            pair_weight = torch.sqrt(weight[:, 1:] * weight[:, :-1])
            moments = {}
            for name, value in centre.items():
                deviation = (value[rows] - mean) * present[rows][:, None, :]
                variance = (weight[:, None, :] * deviation**2).sum(dim=(0, 1)) / (2 * total) + CENTRE_VARIANCE_FLOOR
                covariance = ((pair_weight[:, None, :] * deviation[..., 1:] * deviation[..., :-1]).sum(dim=(0, 1))
                              / (2 * pair_weight.sum(dim=0).clamp_min(1e-30)))
                moments[name] = (variance, covariance / torch.sqrt(variance[1:] * variance[:-1]))
            loss = loss + ((torch.log(moments["fake"][0]) - torch.log(moments["real"][0])) ** 2).mean()
            loss = loss + ((moments["fake"][1] - moments["real"][1]) ** 2).mean()
        return loss / len(parts)

    def share_profile_loss(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """With ``share_profile_weight``: the mean over the layers' bands of cells (:attr:`share_band`) of the
        squared log of the ratio of the fake showers' summed share of their layer's energy in the band to the real
        ones' (plus ``1e-4`` per shower), for fake and real cells ``(N, L, P)`` MeV that share their layer
        energies (the fake ones drawn with the real ones' layer energies and hit counts)."""
        assert self.share_band is not None  # called only with share_profile_weight
        layer_energy = real.sum(dim=2, keepdim=True).clamp_min(1e-30)
        size = self.shape[0] * SHARE_BANDS
        sums = [torch.zeros(size, dtype=fake.dtype, device=fake.device).index_add(
            0, self.share_band, (cells / layer_energy).sum(dim=0).reshape(-1)) for cells in (fake, real)]
        floor = 1e-4 * len(real)
        used = torch.zeros(size, dtype=torch.bool, device=fake.device)
        used[self.share_band] = True
        return ((torch.log(sums[0] + floor) - torch.log(sums[1] + floor))[used] ** 2).mean()

    def hit_choice_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """The logits ``(N, L, P)`` of the hit choice for the logits ``logits`` of the cells' shares (the network's
        output plus :attr:`cell_logit`), detached: the same, or with ``hit_logits`` each cell's
        :attr:`cell_logit` swapped for its :attr:`hit_logit`."""
        ranked = logits.detach()
        if self.hit_logit is None:
            return ranked
        swap = self._derived("hit_swap", (self.hit_logit, self.cell_logit), lambda hit, cell: hit - cell)
        return ranked + swap.view(ranked.shape[-2:])

    def _map_slopes(self, name: str) -> torch.Tensor:
        """:meth:`logit_slopes` of the map :attr:`cell_logit` or :attr:`hit_logit` (``name``), made once per value
        of the map."""
        return self._derived(f"slopes_{name}", (getattr(self, name),), self.logit_slopes)

    def _hits(self, ranked: torch.Tensor, counts: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The hit mask ``(N, L, P)``: each layer's ``counts`` ``(N, L)`` cells of largest logit ``ranked``, with
        ``sampled_hits`` after Gumbel noise (drawn without replacement in proportion to ``exp(ranked)``)."""
        if self.sampled_hits:
            ranked = gumbel(ranked.shape, generator, ranked.device).add_(ranked)
        return largest(ranked, counts)

    def sample_cells(self, z: torch.Tensor, conditions: torch.Tensor, energy: torch.Tensor, energy_max: float,
                     generator: torch.Generator | None, *, hidden_dtype: torch.dtype = torch.float32,
                     block: int | None = None, out: torch.Tensor | None = None) -> torch.Tensor:
        """Cells ``(N, L, Y, X)`` MeV of the ``energy_flow`` generator for latent ``z``, conditions ``(N, C)``
        and incident energies ``(N,)`` MeV (``energy_max`` that of the training range): the energy flow
        samples the layer energies and hit counts, the network the shares.

        Args:
            hidden_dtype: see :meth:`columns`.
            block: showers per network pass (all at once by default); blocks of a few tens keep each pass's
                cells in the CPU's cache.
            out: where to write the cells (a new tensor by default).
        """
        if self.layer_energies is None:
            msg = "sample_cells needs a generator built with energy_flow"
            raise ValueError(msg)
        mapped, layer_energy, counts = self.layer_energies.sample(conditions, energy, generator)
        assert counts is not None  # the energy flow models the hit counts
        n = len(z)
        out = torch.empty(n, *self.shape, device=z.device) if out is None else out
        network_conditions, fraction = torch.cat([conditions, mapped], dim=1), energy / energy_max
        step = block or max(n, 1)
        for start in range(0, n, step):
            part = slice(start, start + step)
            logits = self.columns(z[part], network_conditions[part], fraction[part], hidden_dtype=hidden_dtype,
                                  reuse_buffers=True)
            # one shower per row, contiguous: the per-layer steps of cells_from_logits then run on rows in memory
            # order (a third faster than on the network's columns, copy included)
            rows = logits.T.contiguous().view(-1, self.shape[0], self.shape[1] * self.shape[2])
            cells = self.cells_from_logits(rows, layer_energy[part], counts[part], generator, energy=energy[part])
            out[part] = cells.view(-1, *self.shape)
        return out

    def _scratch(self, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The generator's buffer ``name`` for sampling, made anew only when the shape, dtype or device changes (or
        when one made in inference mode would be written outside it, which torch refuses)."""
        buffer = self._scratch_buffers.get(name)
        if (buffer is None or buffer.shape != shape or buffer.dtype != dtype or buffer.device != device
                or _made_in_another_mode(buffer)):
            buffer = torch.empty(shape, dtype=dtype, device=device)
            self._scratch_buffers[name] = buffer
        return buffer

    def _derived(self, key: str, sources: tuple[torch.Tensor, ...], make: Callable[..., torch.Tensor]
                 ) -> torch.Tensor:
        """``make(*sources)`` of the detached ``sources``, cached under ``key`` until one of them changes (its
        storage or version counter moves: an optimiser step, a fit, a load), and made anew outside inference mode
        when it was made inside (Lightning validates in inference mode; autograd cannot save such a tensor)."""
        version = tuple((source.data_ptr(), source._version) for source in sources)
        cached = self._cache.get(key)
        if cached is None or cached[0] != version or _made_in_another_mode(cached[1]):
            with torch.no_grad():
                cached = (version, make(*(source.detach() for source in sources)))
            self._cache[key] = cached
        return cached[1]


class Discriminator(nn.Module):
    """``(cells, total_over_einc) -> {"logit", "energy", "angle", "class_logits"}``; cells ``(N, 1, L, Y, X)``
    in the transformed space, followed by the ``log_view`` and ``layer_view`` channels where on
    (:data:`LOG_VIEW_EPSILON`).

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
        channels = 1 + int(config.log_view) + int(config.layer_view)
        self.body = nn.Sequential(
            nn.Conv3d(channels, c1, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv3d(c1, c2, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv3d(c2, c3, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.body(torch.zeros(1, channels, *self.padded)).shape[1]
        self.dense = nn.Sequential(nn.Linear(flat, config.hidden), nn.LeakyReLU(0.2))
        self.minibatch_std = config.minibatch_std
        features = config.hidden + 2 + int(config.minibatch_std)  # + the ECAL-sum inputs (+ the batch's spread)
        self.real_fake = nn.Linear(features, 1)
        self.energy = nn.Linear(features, 1)
        self.angle = nn.Linear(features, 1)
        self.particle = nn.Linear(features, max(n_classes, 1))
        if config.spectral_norm:
            for module in [*self.body, *self.dense, self.real_fake]:
                if isinstance(module, nn.Conv3d | nn.Linear):
                    nn.utils.parametrizations.spectral_norm(module)

    def forward(self, cells: torch.Tensor, total_over_einc: torch.Tensor) -> dict[str, torch.Tensor]:
        pad = []
        for size, target in zip(reversed(cells.shape[-3:]), reversed(self.padded), strict=True):
            extra = target - size
            pad += [extra // 2, extra - extra // 2]
        h = self.dense(self.body(nn.functional.pad(cells, pad)))
        ratio = total_over_einc[:, None].float()
        parts = [h, ratio, torch.log(ratio.clamp_min(1e-6))]
        if self.minibatch_std:
            parts.append(h.std(dim=0, unbiased=False).mean().expand(h.shape[0], 1))
        h = torch.cat(parts, dim=1)
        return {"logit": self.real_fake(h)[:, 0], "energy": self.energy(h)[:, 0], "angle": self.angle(h)[:, 0],
                "class_logits": self.particle(h)}
