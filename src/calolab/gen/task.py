"""Lightning modules that train the generative models: :class:`GanTask` and :class:`FlowTask`.

Both carry everything needed to sample in their hyperparameters (model name and config, section
shape, condition ranges, cell preprocessing, detector TOML and section name) and compute the same
cheap validation metric on generated showers, :func:`profile_distance` (logged as ``val_metric``).
The GAN has no likelihood, so early stopping watches ``val_metric``; the flow logs its validation
negative log-likelihood per dimension as ``val_loss`` and stops on it.
"""

from __future__ import annotations

import math
from typing import Any, cast

import lightning as L
import numpy as np
import torch
from torch import nn

from calolab.gen.data import CellTransform, ConditionSpec
from calolab.gen.models import CaloFlow, Discriminator, FlowConfig, GanConfig, Generator, saved_model_config
from calolab.gen.models.energy_flow import LayerEnergyFlow
from calolab.gen.models.gan3d import LOG_VIEW_EPSILON

__all__ = ["GenTask", "GanTask", "FlowTask", "ProfileStats", "profile_distance", "TASKS", "build_task"]


class ProfileStats:
    """Running sums of what :func:`profile_distance` compares: per event the layer energies, the x and y
    projections and the total, all over ``E_inc``."""

    def __init__(self) -> None:
        self.n = 0
        self.sums: dict[str, np.ndarray] = {}

    def add(self, cells: np.ndarray, energy: np.ndarray) -> None:
        """Add showers ``(N, L, Y, X)`` MeV with incident energies ``(N,)`` MeV."""
        scaled = cells / energy[:, None, None, None]
        total = scaled.sum(axis=(1, 2, 3))
        parts = {"layers": scaled.sum(axis=(2, 3)).sum(0), "x": scaled.sum(axis=(1, 2)).sum(0),
                 "y": scaled.sum(axis=(1, 3)).sum(0), "total": np.array([total.sum()]),
                 "total2": np.array([(total**2).sum()])}
        for key, value in parts.items():
            self.sums[key] = self.sums.get(key, 0) + value.astype(np.float64)
        self.n += len(cells)

    def means(self) -> dict[str, np.ndarray]:
        return {key: value / max(self.n, 1) for key, value in self.sums.items()}


def _log_view(cells: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``log(1 + E / scale) / log(1 + 1 / epsilon)`` of cells ``E`` (MeV) for ``scale = epsilon x`` (MeV): 0 for an
    empty cell, 1 for a cell of energy ``x`` (see :data:`~calolab.gen.models.gan3d.LOG_VIEW_EPSILON`)."""
    return torch.log1p(cells / scale.clamp_min(1e-30)) / math.log1p(1 / LOG_VIEW_EPSILON)


def profile_distance(reference: ProfileStats, candidate: ProfileStats) -> float:
    """A cheap distance between two sets of showers (0 = same mean profiles and response).

    The sum of the L1 distances of the mean longitudinal profile and of the mean x and y projections
    (all over ``E_inc``), plus the absolute differences of the mean and of the standard deviation of
    the total response ``sum(cells) / E_inc``.
    """
    a, b = reference.means(), candidate.means()
    std_a = np.sqrt(max(a["total2"][0] - a["total"][0] ** 2, 0.0))
    std_b = np.sqrt(max(b["total2"][0] - b["total"][0] ** 2, 0.0))
    return float(sum(np.abs(a[k] - b[k]).sum() for k in ("layers", "x", "y"))
                 + abs(a["total"][0] - b["total"][0]) + abs(std_a - std_b))


class GenTask(L.LightningModule):
    """What both tasks share: the hyperparameters, sampling and the validation metric.

    Args:
        model: ``gan`` or ``flow``.
        model_config: the model's config fields.
        shape: ``(layers, y, x)`` of the section.
        conditions: :meth:`ConditionSpec.to_dict` of the training set.
        detector_toml: the detector, TOML text.
        section: the section learnt.
        lr: learning rate.
        name: the run's name (the engine is ``model:<name>``).
        transform: :meth:`CellTransform.to_dict` (the GAN's cell preprocessing), or ``None``.
        val_seed: seed of the validation samples (the metric is reproducible).
    """

    def __init__(self, *, model: str, model_config: dict[str, Any], shape: list[int], conditions: dict[str, Any],
                 detector_toml: str, section: str, lr: float, name: str = "model",
                 transform: dict[str, float] | None = None, val_seed: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.spec = ConditionSpec.from_dict(conditions)
        self.section_shape: tuple[int, int, int] = (int(shape[0]), int(shape[1]), int(shape[2]))
        self._reference = ProfileStats()
        self._candidate = ProfileStats()

    def sample(self, conditions: torch.Tensor, energy: torch.Tensor, generator: torch.Generator | None
               ) -> torch.Tensor:
        """Cells ``(N, L, Y, X)`` MeV for encoded conditions and incident energies (MeV)."""
        raise NotImplementedError

    def sampler(self) -> nn.Module:
        """The part of the model needed to sample (exported to ``model.pt``)."""
        raise NotImplementedError

    def fit_preprocessing(self, cells: torch.Tensor, energy: torch.Tensor, seed: int) -> None:
        """Fit what the model maps its data with on the training cells ``(N, L, Y, X)`` MeV and incident
        energies ``(N,)`` MeV, before training (nothing by default)."""

    def _real_cells(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return batch["cells"][:, 0]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        generator = torch.Generator(device=batch["energy"].device).manual_seed(self.hparams["val_seed"] + batch_idx)
        fake = self.sample(batch["conditions"], batch["energy"], generator)
        energy = batch["energy"].double().cpu().numpy()
        self._reference.add(self._real_cells(batch).double().cpu().numpy(), energy)
        self._candidate.add(fake.double().cpu().numpy(), energy)

    def on_validation_epoch_end(self) -> None:
        if self._reference.n:
            self.log("val_metric", profile_distance(self._reference, self._candidate), prog_bar=True)
        self._reference, self._candidate = ProfileStats(), ProfileStats()


class GanTask(GenTask):
    """3DGAN-style adversarial training with the auxiliary and total-energy losses (manual optimisation)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False
        self.config = cast(GanConfig, saved_model_config("gan", self.hparams["model_config"]))
        self.cell_transform = CellTransform.from_dict(self.hparams["transform"])
        self.generator = Generator(self.section_shape, self.spec.size, self.config)
        self.discriminator = Discriminator(self.section_shape, len(self.spec.classes), self.config)

    def sampler(self) -> nn.Module:
        return self.generator

    def fit_preprocessing(self, cells: torch.Tensor, energy: torch.Tensor, seed: int) -> None:
        self.generator.fit_energy_flow(cells, energy, seed)

    def _real_cells(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.cell_transform.inverse(batch["cells"][:, 0])

    def _generate(self, conditions: torch.Tensor, energy: torch.Tensor, generator: torch.Generator | None
                  ) -> torch.Tensor:
        z = torch.randn(conditions.shape[0], self.config.latent, generator=generator, device=conditions.device)
        return self.generator(z, conditions, energy / self.spec.energy_range[1])

    def sample(self, conditions: torch.Tensor, energy: torch.Tensor, generator: torch.Generator | None
               ) -> torch.Tensor:
        if self.generator.layer_energies is not None:
            z = torch.randn(conditions.shape[0], self.config.latent, generator=generator, device=conditions.device)
            return self.generator.sample_cells(z, conditions, energy, self.spec.energy_range[1], generator)
        return self.cell_transform.inverse(self._generate(conditions, energy, generator)[:, 0])

    def _generate_like(self, x_real: torch.Tensor, conditions: torch.Tensor, energy: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """With the energy flow: fake showers (transformed, as ``x_real``) with the layer energies and hit
        counts of the real ones, the energy flow's negative log-likelihood per coordinate of the real ones
        (the generator reads the real showers' mapped energy coordinates, detached), and the generator's moment
        losses that are on: ``share_profile`` (:meth:`~Generator.share_profile_loss`) and ``centre_spread``
        (:meth:`~Generator.centre_spread_loss`)."""
        flow = cast(LayerEnergyFlow, self.generator.layer_energies)
        real = self.cell_transform.inverse(x_real[:, 0])
        log_p, mapped = flow.log_prob(real, conditions, energy)
        z = torch.randn(conditions.shape[0], self.config.latent, device=conditions.device)
        logits = self.generator(z, torch.cat([conditions, mapped.detach()], dim=1), energy / self.spec.energy_range[1])
        flat = real.reshape(len(real), flow.layers, -1)
        cells = self.generator.cells_from_logits(logits.reshape(flat.shape), flat.sum(dim=2), (flat > 0).sum(dim=2),
                                                 energy=energy)
        # the cell transform (E / s)^p, with a finite gradient at the empty cells (p < 1)
        scaled = cells / self.cell_transform.scale
        x = torch.where(scaled > 0, scaled.clamp_min(1e-30) ** self.cell_transform.power, torch.zeros_like(scaled))
        moments = {}
        if self.config.share_profile_weight > 0:
            moments["share_profile"] = self.generator.share_profile_loss(cells, flat)
        if self.config.centre_spread_weight > 0 and self.generator.axis_shift is not None:
            moments["centre_spread"] = self.generator.centre_spread_loss(cells, flat, energy)
        return x.view_as(x_real), -log_p.mean() / flow.dim, moments

    def _ratio(self, x: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        return self.cell_transform.inverse(x).sum(dim=(1, 2, 3, 4)) / energy

    def _discriminate(self, x: torch.Tensor, ratio: torch.Tensor, energy: torch.Tensor) -> dict[str, torch.Tensor]:
        """The discriminator's outputs for showers ``x`` ``(N, 1, L, Y, X)`` (transformed) of total/E_inc
        ``ratio`` and incident energies ``energy`` (MeV); with ``log_view`` it also sees the cells' logs, with
        ``layer_view`` the logs of their shares of their layer's energy."""
        views = [x]
        if self.config.log_view or self.config.layer_view:
            cells = self.cell_transform.inverse(x)
            if self.config.log_view:
                views.append(_log_view(cells, (LOG_VIEW_EPSILON * energy).view(-1, 1, 1, 1, 1)))
            if self.config.layer_view:
                views.append(_log_view(cells, LOG_VIEW_EPSILON * cells.sum(dim=(3, 4), keepdim=True)))
        return self.discriminator(torch.cat([v.to(x.dtype) for v in views], dim=1) if len(views) > 1 else x, ratio)

    def _aux_loss(self, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        c, cfg = batch["conditions"], self.config
        loss = cfg.energy_weight * nn.functional.mse_loss(out["energy"], c[:, 0])
        loss = loss + cfg.angle_weight * nn.functional.mse_loss(out["angle"], c[:, 1])
        if len(self.spec.classes) > 1:
            loss = loss + cfg.class_weight * nn.functional.cross_entropy(out["class_logits"], batch["class_index"])
        return loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        opt_g, opt_d, *opt_energy = cast(list[Any], self.optimizers())
        bce = nn.functional.binary_cross_entropy_with_logits
        x_real, energy = batch["cells"], batch["energy"]
        ratio_real = self._ratio(x_real, energy)
        logs = {}
        if opt_energy:  # the energy flow learns the real showers' layer energies by likelihood
            x_fake, energy_nll, moments = self._generate_like(x_real, batch["conditions"], energy)
            opt_energy[0].zero_grad()
            self.manual_backward(energy_nll)
            self.clip_gradients(opt_energy[0], gradient_clip_val=5.0, gradient_clip_algorithm="norm")  # as the flow
            opt_energy[0].step()
            logs["train_energy_nll"] = energy_nll.detach()
            logs.update({f"train_{name}": value.detach() for name, value in moments.items()})
        else:
            x_fake, moments = self._generate(batch["conditions"], energy, None), {}
        ratio_fake = self._ratio(x_fake, energy)
        # discriminator: real (one-sided label smoothing 0.9) vs fake, auxiliary heads on real showers
        out_real = self._discriminate(x_real, ratio_real, energy)
        out_fake = self._discriminate(x_fake.detach(), ratio_fake.detach(), energy)
        adversarial_d = (bce(out_real["logit"], torch.full_like(out_real["logit"], 0.9))
                         + bce(out_fake["logit"], torch.zeros_like(out_fake["logit"])))
        loss_d = adversarial_d + self._aux_loss(out_real, batch)
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        # generator: fool the discriminator, match the conditions, and the total energy (3DGAN's ECAL sum)
        out = self._discriminate(x_fake, ratio_fake, energy)
        adversarial_g = bce(out["logit"], torch.ones_like(out["logit"]))
        total_energy = ((ratio_fake - ratio_real).abs() / ratio_real.clamp_min(1e-6)).mean()
        loss_g = adversarial_g + self._aux_loss(out, batch) + self.config.total_energy_weight * total_energy
        if "share_profile" in moments:
            loss_g = loss_g + self.config.share_profile_weight * moments["share_profile"]
        axis_gradient = None
        if "centre_spread" in moments:  # trains the axis shift only (pushed by it, the network broke the widths)
            axis_shift = cast(nn.Parameter, self.generator.axis_shift)
            axis_gradient = torch.autograd.grad(self.config.centre_spread_weight * moments["centre_spread"],
                                                axis_shift, retain_graph=True)[0]
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        if axis_gradient is not None:
            axis_shift.grad = axis_gradient if axis_shift.grad is None else axis_shift.grad + axis_gradient
        opt_g.step()
        self.log_dict({"train_loss_d": loss_d.detach(), "train_loss_g": loss_g.detach(),
                       "train_adversarial_d": adversarial_d.detach(), "train_total_energy": total_energy.detach(),
                       **logs}, on_step=False, on_epoch=True, prog_bar=False)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """Adam for the generator's network and the discriminator (betas 0.5, 0.9), and with the energy
        flow, plain Adam for it (trained by likelihood, as the flow model)."""
        lr = self.hparams["lr"]
        network = [p for name, p in self.generator.named_parameters() if not name.startswith("layer_energies.")]
        optimizers: list[torch.optim.Optimizer] = [
            torch.optim.Adam(network, lr=lr, betas=(0.5, 0.9)),
            torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.5, 0.9))]
        if self.generator.layer_energies is not None:
            optimizers.append(torch.optim.Adam(self.generator.layer_energies.parameters(), lr=lr))
        return optimizers


class FlowTask(GenTask):
    """Maximum-likelihood training of the CaloFlow-style model; ``val_loss`` is the NLL per dimension
    (energy flow and shape flow each averaged over their dimensions, then added)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = cast(FlowConfig, saved_model_config("flow", self.hparams["model_config"]))
        self.flow = CaloFlow(self.section_shape, self.spec.size, self.config)

    def sampler(self) -> nn.Module:
        return self.flow

    def fit_preprocessing(self, cells: torch.Tensor, energy: torch.Tensor, seed: int) -> None:
        self.flow.fit_preprocessing(cells, energy, seed=seed)

    def sample(self, conditions: torch.Tensor, energy: torch.Tensor, generator: torch.Generator | None
               ) -> torch.Tensor:
        return self.flow.sample(conditions, energy, generator)

    def nll(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        layers, ny, nx = self.section_shape
        log_energy, log_shape = self.flow.log_prob(batch["cells"][:, 0], batch["conditions"], batch["energy"],
                                                   generator=generator)
        return -(log_energy.mean() / self.flow.energy_dim + log_shape.mean() / (layers * ny * nx))

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.nll(batch)
        self.log("train_loss", loss.detach(), on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        seed = self.hparams["val_seed"] + 7919 + batch_idx
        generator = torch.Generator(device=batch["energy"].device).manual_seed(seed)
        self.log("val_loss", self.nll(batch, generator), on_epoch=True, prog_bar=True,
                 batch_size=batch["energy"].shape[0])
        super().validation_step(batch, batch_idx)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams["lr"])


#: model name -> its task
TASKS: dict[str, type[GenTask]] = {"gan": GanTask, "flow": FlowTask}


def build_task(model: str, **kwargs: Any) -> GenTask:
    """The task of ``model`` (``gan`` or ``flow``) with the hyperparameters of :class:`GenTask`."""
    return TASKS[model](model=model, **kwargs)
