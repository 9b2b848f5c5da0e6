"""Configuration of the calolab Monte Carlo transport (cuts and step limits)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TransportConfig"]


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
