"""Per-material tables of the hadron transport: stopping powers and interaction lengths."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calolab.physics.em.ionisation import density_effect_parameters
from calolab.physics.hadronic import HADRON_MASSES, MUON, PION, PROTON, heavy_stopping_power, pion_length_factor
from calolab.physics.materials import Material
from calolab.sim.mc.tables import energy_grid

__all__ = ["HadronTables", "build_hadron_tables", "STOPPING_ROWS"]

_CM_PER_MM = 0.1

#: rows of :attr:`HadronTables.stopping_power`: the charged kinds (pion, proton, muon)
STOPPING_ROWS = (PION, PROTON, MUON)


@dataclass(frozen=True)
class HadronTables:
    """Arrays the hadron kernel takes, one entry per material of the detector.

    Attributes:
        stopping_power: ``(materials, 3, grid)`` mean collision stopping power, MeV/mm, rows
            :data:`STOPPING_ROWS` (kind index -> row: pion 0, proton 1, muon 2), on the energy grid
            of the electromagnetic tables.
        nucleon_length: nuclear interaction length lambda_I, mm ``(materials,)``.
        pion_length: pion interaction length, mm ``(materials,)``.
        density: g/cm^3 ``(materials,)`` (slow neutrons travel a mass thickness).
    """

    stopping_power: np.ndarray
    nucleon_length: np.ndarray
    pion_length: np.ndarray
    density: np.ndarray


def pion_interaction_length(material: Material) -> float:
    """Pion interaction length (mm): ``1/lambda_pi = sum_j w_j / (lambda_I,j f(A_j))`` with
    f = :func:`calolab.physics.hadronic.pion_length_factor` and w_j the mass fractions."""
    inverse = sum(w / (e.nuclear_interaction_length * pion_length_factor(e.A))
                  for e, w in zip(material.elements, material.mass_fractions, strict=True))
    return 1.0 / inverse / material.density / _CM_PER_MM


def build_hadron_tables(materials: list[Material]) -> HadronTables:
    """Stopping powers and interaction lengths of ``materials`` (in the detector's order)."""
    grid = energy_grid()
    stopping = np.zeros((len(materials), len(STOPPING_ROWS), grid.size))
    for m, material in enumerate(materials):
        params = density_effect_parameters(material.electron_density, material.mean_excitation_energy,
                                           material.state == "gas")
        for row, kind in enumerate(STOPPING_ROWS):
            mass = float(HADRON_MASSES[kind])
            stopping[m, row] = [heavy_stopping_power(t, mass, material.electron_density,
                                                     material.mean_excitation_energy, *params) for t in grid]
        # below the Bethe formula's validity (beta gamma < ~0.05) keep dE/dx at its maximum
        for row in range(len(STOPPING_ROWS)):
            peak = int(np.argmax(stopping[m, row]))
            stopping[m, row, :peak] = stopping[m, row, peak]
    return HadronTables(
        stopping_power=stopping,
        nucleon_length=np.array([m.nuclear_interaction_length for m in materials]),
        pion_length=np.array([pion_interaction_length(m) for m in materials]),
        density=np.array([m.density for m in materials]),
    )
