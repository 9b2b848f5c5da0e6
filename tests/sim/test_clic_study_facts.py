"""Qualitative facts of the CLIC calorimeter study (Belayneh et al., EPJC 80 (2020) 688) on calolab's clic preset."""

from __future__ import annotations

import numpy as np

import calolab
from calolab.sim.gun import Gun, GunConfig


def _hcal_over_ecal(particle: str, n: int) -> np.ndarray:
    deposits = calolab.simulate("clic", n=n, particle=particle, energy="20-60GeV", polar_angle="60-120", seed=4,
                                progress=False)
    ecal = deposits.active["ECAL"].sum(axis=(1, 2, 3), dtype=np.float64)
    hcal = deposits.active["HCAL"].sum(axis=(1, 2, 3), dtype=np.float64)
    return hcal / np.maximum(ecal, 1e-9)


def test_hcal_over_ecal_separates_electrons_from_charged_pions_except_at_low_ratio() -> None:
    # the study cut at HCAL/ECAL < 0.1 to keep the pions that look like electrons: every electron
    # lies below it, most pions above; pions showering early in the ECAL reach down towards it
    electrons = _hcal_over_ecal("e-", 12)
    pions = _hcal_over_ecal("pi-", 40)
    assert np.all(electrons < 0.1)
    above = np.mean(pions > 0.1)
    assert above > 0.6
    assert np.median(pions) > 20 * np.median(electrons)
    assert pions.min() < 0.2 * np.median(pions)


def test_pi0_opening_angle_falls_with_energy() -> None:
    rng = np.random.default_rng(3)
    medians = []
    for energy in ("10GeV", "60GeV", "300GeV"):
        gun = Gun(GunConfig(particle="pi0", energy=energy))
        angles = gun.truth(gun.generate(400, rng))["opening_angle"]
        medians.append(float(np.median(angles)))
    assert medians[0] > medians[1] > medians[2]
    # about 2 m / E at the Jacobian peak: 27 mrad at 10 GeV (m_pi0 = 135 MeV)
    assert 0.027 < medians[0] < 0.05
