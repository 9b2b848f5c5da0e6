"""Configuration of the calolab Monte Carlo transport (cuts and step limits)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["TransportConfig", "HadronicConfig"]


class HadronicConfig(BaseModel):
    """Parameters of the hadronic cascade model (:mod:`calolab.physics.hadronic`, which documents
    the rules). Defaults are tuned so that the electromagnetic fraction of pion showers follows
    Groom's f_em = 1 - (E / 1 GeV)^(-0.18) (NIM A572 (2007) 633) and about 40% of the
    non-electromagnetic energy is invisible (Wigmans, *Calorimetry*, 2nd ed., ch. 2).

    Attributes:
        nuclear_energy: mean energy taken by the struck nucleus per inelastic interaction, MeV.
        binding_fraction: share of it spent on nuclear binding energy (invisible).
        evaporation_fraction: share of it carried by evaporation neutrons.
        evaporation_neutron_energy: mean kinetic energy of one evaporation neutron, MeV.
        spallation_proton_energy: mean kinetic energy of one spallation proton, MeV.
        leading_alpha, leading_beta: Beta(a, b) distribution of the leading particle's share.
        charge_exchange: probability that a leading pion turns into a pi0.
        multiplicity_constant, multiplicity_slope: mean number of produced pions
            ``c + s ln(E / 1 GeV)`` (E the energy left for them).
        mean_transverse_momentum: of produced and leading particles, MeV.
        interaction_threshold: hadrons below this kinetic energy no longer interact, MeV.
        slow_neutron_thickness: mean mass thickness a slow (below-threshold) neutron crosses before
            it gives up its energy at one point, g/cm^2 (~5 cm of iron). Where it stops follows the
            mass, so active layers see their mass share; the extra neutron signal of hydrogenous
            scintillators is not modelled.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    nuclear_energy: float = Field(500.0, gt=0.0)
    binding_fraction: float = Field(0.25, ge=0.0, le=1.0)
    evaporation_fraction: float = Field(0.15, ge=0.0, le=1.0)
    evaporation_neutron_energy: float = Field(3.0, gt=0.0)
    spallation_proton_energy: float = Field(50.0, gt=0.0)
    leading_alpha: float = Field(1.2, gt=0.0)
    leading_beta: float = Field(2.5, gt=0.0)
    charge_exchange: float = Field(0.03, ge=0.0, le=1.0)
    multiplicity_constant: float = Field(3.0, ge=0.0)
    multiplicity_slope: float = Field(0.6, ge=0.0)
    mean_transverse_momentum: float = Field(350.0, gt=0.0)
    interaction_threshold: float = Field(100.0, gt=0.0)
    slow_neutron_thickness: float = Field(40.0, gt=0.0)

    @model_validator(mode="after")
    def _fractions(self) -> HadronicConfig:
        if self.binding_fraction + self.evaporation_fraction > 1.0:
            msg = (f"binding_fraction + evaporation_fraction = "
                   f"{self.binding_fraction + self.evaporation_fraction:g} exceeds 1: lower one of them")
            raise ValueError(msg)
        return self

    def as_array(self) -> np.ndarray:
        """The parameters in the order of :data:`calolab.physics.hadronic.MODEL_PARAMETERS`."""
        from calolab.physics.hadronic import MODEL_PARAMETERS

        return np.array([getattr(self, name) for name in MODEL_PARAMETERS], dtype=np.float64)


class TransportConfig(BaseModel):
    """Cuts and step limits of the electromagnetic transport. Defaults follow Geant4's
    standard electromagnetic physics where a counterpart exists.

    Attributes:
        production_range_cut: secondary production cut as a range, mm (Geant4 default 0.7 mm).
            Converted per material into an electron energy (CSDA range = cut) and a photon energy
            (5 attenuation lengths = cut); delta rays and bremsstrahlung photons below them are
            folded into the continuous energy loss.
        minimum_production_cut: lower bound of the production cuts in energy, MeV.
        electron_tracking_cut: e+- below this kinetic energy deposit it on the spot, MeV.
        photon_tracking_cut: photons below this energy are absorbed on the spot, MeV.
        range_rejection_energy: e+- below this kinetic energy whose residual range is shorter
            than the distance to the nearest boundary deposit their energy on the spot, MeV.
        step_range_fraction: a charged step is at most this fraction of the residual range
            (Geant4 dRoverRange = 0.2) ...
        final_range: ... but never shorter than this (or the residual range), mm.
        energy_loss_fluctuations: sample the continuous loss of each step around its mean
            (Bohr variance below the delta-ray cut); off gives the mean loss.
        max_stack: capacity of the particle stack per event.
        hadron_stop_energy: charged hadrons and muons below this kinetic energy deposit it on the
            spot, MeV.
        hadronic: the hadronic cascade model (:class:`HadronicConfig`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    production_range_cut: float = Field(0.7, gt=0.0)
    minimum_production_cut: float = Field(0.01, gt=0.0)
    electron_tracking_cut: float = Field(0.01, gt=0.0)
    photon_tracking_cut: float = Field(0.005, gt=0.0)
    range_rejection_energy: float = Field(2.0, ge=0.0)
    step_range_fraction: float = Field(0.2, gt=0.0, le=1.0)
    final_range: float = Field(0.1, gt=0.0)
    energy_loss_fluctuations: bool = True
    max_stack: int = Field(100_000, ge=100)
    hadron_stop_energy: float = Field(1.0, gt=0.0)
    hadronic: HadronicConfig = Field(default_factory=HadronicConfig)
