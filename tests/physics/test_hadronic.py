"""The hadronic physics kernels: stopping power, pion interaction lengths, interactions, pi0 decay."""

from __future__ import annotations

import numpy as np
import pytest

from calolab.physics.em.ionisation import density_effect_parameters
from calolab.physics.hadronic import (
    MUON_MASS,
    NEUTRAL_PION,
    NEUTRAL_PION_MASS,
    PION,
    PROTON,
    heavy_stopping_power,
    sample_inelastic,
    sample_pi0_decay,
)
from calolab.physics.materials import get_material
from calolab.sim.mc.config import HadronicConfig
from calolab.sim.mc.rng import new_state, seed_state


def _stopping(material_name: str, kinetic: float, mass: float) -> float:
    m = get_material(material_name)
    params = density_effect_parameters(m.electron_density, m.mean_excitation_energy, m.state == "gas")
    return heavy_stopping_power(kinetic, mass, m.electron_density, m.mean_excitation_energy, *params)


@pytest.mark.parametrize(("name", "minimum"), [("Fe", 1.451), ("Cu", 1.403), ("Pb", 1.122), ("polystyrene", 1.936)])
def test_minimum_ionisation_matches_pdg(name: str, minimum: float) -> None:
    # PDG "Atomic and nuclear properties of materials": <-dE/dx>_min in MeV cm^2/g (muons), within 3 %
    # (values quoted from memory in REFERENCES.md, "Hadronic showers")
    m = get_material(name)
    grid = np.geomspace(50.0, 2000.0, 200)  # muon kinetic energies around beta gamma ~ 3.5
    lowest = min(_stopping(name, t, MUON_MASS) for t in grid) / (m.density * 0.1)
    assert lowest == pytest.approx(minimum, rel=0.03)


def test_stopping_power_rises_at_low_energy() -> None:
    assert _stopping("Fe", 20.0, 938.272) > 10.0 * _stopping("Fe", 2000.0, 938.272)


@pytest.mark.parametrize("kind", [PION, PROTON])
def test_interaction_conserves_energy(kind: int) -> None:
    state = new_state()
    params = HadronicConfig().as_array()
    out = [np.zeros(256, dtype=np.int64), np.zeros(256), np.zeros(256), np.zeros(256)]
    for i, energy in enumerate([150.0, 1000.0, 20000.0, 300000.0]):
        seed_state(state, np.uint64(i + 1))
        n, invisible = sample_inelastic(state, kind, energy, params, *out)
        assert n >= 1 and invisible >= 0.0
        assert out[1][:n].sum() + invisible == pytest.approx(energy, rel=1e-9)
        assert np.all(np.abs(out[2][:n]) <= 1.0)


def test_pi0_decay_kinematics() -> None:
    # energies add up; the opening angle never falls below 2 m / E (the symmetric decay)
    state = new_state()
    seed_state(state, np.uint64(3))
    energy = 10000.0
    angles = []
    for _ in range(2000):
        k1, c1, k2, c2 = sample_pi0_decay(state, energy)
        assert k1 + k2 == pytest.approx(energy, rel=1e-12)
        # the photons' transverse momenta balance (they lie on opposite sides of the pi0 direction)
        assert k1 * np.sqrt(max(0.0, 1 - c1 * c1)) == pytest.approx(k2 * np.sqrt(max(0.0, 1 - c2 * c2)), rel=1e-6)
        angles.append(np.arccos(np.clip(c1, -1, 1)) + np.arccos(np.clip(c2, -1, 1)))
    minimum = 2.0 * np.arcsin(NEUTRAL_PION_MASS / energy)
    assert min(angles) >= minimum * (1 - 1e-9)
    assert min(angles) < 1.05 * minimum  # the distribution piles up at the minimum (Jacobian peak)
    assert NEUTRAL_PION == 4
