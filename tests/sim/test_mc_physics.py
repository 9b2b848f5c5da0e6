"""Electromagnetic showers of the Monte Carlo against published shower physics.

References:
- G. Grindhammer, S. Peters, hep-ex/0001020 (GFlash): peak depth T = ln(E/E_c) - 0.858 and the
  radial profile in Moliere radii, fitted to detailed simulations of homogeneous media.
- PDG Review "Passage of particles through matter", sec. 34.5: t_max = ln(E/E_c) + C with
  C = -0.5 (electrons), +0.5 (photons); 95% of the energy within 2 R_M.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import curve_fit
from scipy.special import gammaln

from calolab.detector.geometry import homogeneous_block
from calolab.physics.gflash import containment_radius, longitudinal_profile
from calolab.sim.events import Primaries
from calolab.sim.mc.engine import MonteCarloEngine

ENGINE = MonteCarloEngine()
LAYERS_PER_X0 = 4


def _showers(material: str, energy: float, n: int, pdg: int = 11, *, cells: int = 1, layers: int = 120,  # noqa: PLR0913
             depth: float = 30.0, width: float = 10.0, seed: int = 0):
    detector = homogeneous_block(material, depth, width, layers=layers, cells=cells)
    primaries = Primaries.single(np.full(n, pdg), energy)
    return detector, ENGINE.simulate(primaries, detector, np.random.SeedSequence(seed))


def _profile_moments(energy_per_layer: np.ndarray, layer_depth: float) -> tuple[float, float]:
    """(peak, mean) in X0 of a gamma distribution fitted to a longitudinal profile."""
    depth = (np.arange(energy_per_layer.size) + 0.5) * layer_depth
    density = energy_per_layer / energy_per_layer.sum() / layer_depth

    def gamma_density(t, a, b):
        return np.exp(np.log(b) + (a - 1.0) * np.log(b * t) - b * t - gammaln(a))

    (a, b), _ = curve_fit(gamma_density, depth, density, p0=(4.0, 0.5))
    return (a - 1.0) / b, float(np.average(depth, weights=energy_per_layer))


@pytest.mark.parametrize("material", ["PbWO4", "CsI", "W", "Pb"])
@pytest.mark.parametrize(("energy", "n"), [(10_000.0, 100), (100_000.0, 40)])
def test_longitudinal_peak_matches_pdg_and_grindhammer_peters(material, energy, n):
    detector, deposits = _showers(material, energy, n, layers=160, depth=40.0)
    medium = detector.materials()[0]
    profile = deposits.active["block"].sum(axis=(0, 2, 3))
    peak, _ = _profile_moments(profile, 1.0 / LAYERS_PER_X0)
    # PDG: t_max = ln(E/E_c) - 0.5 for electrons; issue #2 asks for 0.5 X0
    assert peak == pytest.approx(np.log(energy / medium.critical_energy) - 0.5, abs=0.5)
    # GFlash's fit puts the peak 0.36 X0 shallower than the PDG rule; calolab lies between or
    # deeper (0.1-0.6 X0 below GFlash), so allow 0.75 X0 there
    expected = longitudinal_profile(energy, medium.critical_energy, medium.effective_z).peak
    assert peak == pytest.approx(expected, abs=0.75)


@pytest.mark.parametrize("material", ["PbWO4", "CsI", "W", "Pb"])
def test_lateral_containment_in_moliere_radii(material):
    detector, deposits = _showers(material, 10_000.0, 20, cells=160, layers=6, width=8.0)
    medium = detector.materials()[0]
    section = detector.sections[0]
    radius = np.hypot(section.cell_centres_x()[None, :], section.cell_centres_y()[:, None]).ravel()
    radius = radius / medium.moliere_radius
    image = deposits.active["block"].sum(axis=(0, 1)).ravel()
    order = np.argsort(radius)
    cumulative = np.cumsum(image[order]) / image.sum()
    r90 = radius[order][np.searchsorted(cumulative, 0.90)]
    r95 = radius[order][np.searchsorted(cumulative, 0.95)]
    # GFlash (fit to detailed simulations) puts the 90% radius at 1.06-1.29 R_M for these media,
    # not exactly at 1 R_M; calolab must agree with it within 15%
    expected90 = containment_radius(0.90, 10_000.0, medium.critical_energy, medium.effective_z)
    assert r90 == pytest.approx(expected90, rel=0.15)
    assert 0.85 <= r90 <= 1.45
    # PDG: 95% within about 2 R_M
    assert r95 == pytest.approx(2.0, rel=0.15)


def test_block_of_30_x0_and_10_moliere_radii_contains_a_10_gev_shower():
    _, deposits = _showers("PbWO4", 10_000.0, 30, layers=30)
    assert deposits.total_deposited().mean() / 10_000.0 >= 0.97


def test_photon_showers_start_later_than_electron_showers():
    # PDG: t_max(gamma) - t_max(e) = C_gamma - C_e = 1 X0; the first conversion alone is 9/7 X0 deep
    _, electrons = _showers("PbWO4", 10_000.0, 200, pdg=11, layers=60, seed=1)
    _, photons = _showers("PbWO4", 10_000.0, 200, pdg=22, layers=60, seed=2)
    _, mean_e = _profile_moments(electrons.active["block"].sum(axis=(0, 2, 3)), 0.5)
    _, mean_g = _profile_moments(photons.active["block"].sum(axis=(0, 2, 3)), 0.5)
    assert mean_g - mean_e == pytest.approx(1.0, abs=0.45)
