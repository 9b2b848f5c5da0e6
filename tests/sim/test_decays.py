"""pi0 -> gamma gamma in the gun: conservation laws, the opening-angle law, the selection, the asymmetry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from calolab.errors import ConfigError
from calolab.sim.decays import (
    min_opening_angle,
    opening_angle,
    opening_angle_cdf,
    opening_angle_pdf,
    orthonormal_basis,
)
from calolab.sim.gun import make_gun
from calolab.sim.particles import particle_mass

M_PI0 = particle_mass(111)  # 134.9768 MeV, PDG 2024
N = 20_000


def pi0_events(n: int = N, seed: int = 3, **options):
    options = {"particle": "pi0", "energy": "20GeV"} | options
    gun = make_gun(**options)
    primaries = gun.generate(n, np.random.default_rng(seed))
    return gun, primaries


def photons(primaries):
    """(pi0 index, photon 1 index, photon 2 index) arrays of a pi0 gun's primaries."""
    pi0 = np.flatnonzero(primaries.pdg == 111)
    return pi0, pi0 + 1, pi0 + 2


def test_record_layout_status_and_parents() -> None:
    _, primaries = pi0_events(4, particles_per_event=2)
    assert primaries.n_events == 4 and primaries.n_particles == 24
    np.testing.assert_array_equal(primaries.pdg[:6], [111, 22, 22, 111, 22, 22])
    np.testing.assert_array_equal(primaries.status[:6], [2, 1, 1, 2, 1, 1])
    np.testing.assert_array_equal(primaries.parent[:6], [-1, 0, 0, -1, 3, 3])  # within the event
    np.testing.assert_array_equal(primaries.position[1::3], primaries.position[0::3])  # decayed on the face
    transported = primaries.transported()
    assert transported.n_events == 4 and np.all(transported.pdg == 22) and np.all(transported.parent == -1)
    np.testing.assert_array_equal(transported.event_offsets, [0, 4, 8, 12, 16])


@pytest.mark.parametrize(("energy", "theta"), [("1GeV", "0"), ("50-500GeV", "0-30"), ("300MeV", "10")])
def test_energy_and_momentum_conserved(energy: str, theta: str) -> None:
    _, primaries = pi0_events(2_000, energy=energy, theta=theta, phi="0-360")
    pi0, g1, g2 = photons(primaries)
    kinetic = primaries.energy[pi0]
    total = kinetic + M_PI0
    np.testing.assert_allclose(primaries.energy[g1] + primaries.energy[g2], total, rtol=1e-9)
    momentum = np.sqrt(kinetic * (kinetic + 2 * M_PI0))[:, None] * primaries.direction[pi0]
    summed = primaries.energy[g1, None] * primaries.direction[g1] + primaries.energy[g2, None] * primaries.direction[g2]
    np.testing.assert_allclose(np.linalg.norm(summed - momentum, axis=1) / np.linalg.norm(momentum, axis=1), 0.0,
                               atol=1e-9)
    # invariant mass of the photon pair: m^2 = 2 E1 E2 (1 - cos theta_12)
    angle = opening_angle(primaries.direction[g1], primaries.direction[g2])
    mass = np.sqrt(2 * primaries.energy[g1] * primaries.energy[g2] * 2 * np.sin(angle / 2) ** 2)
    np.testing.assert_allclose(mass, M_PI0, rtol=1e-6)


@pytest.mark.parametrize("kinetic", [500.0, 10_000.0, 200_000.0])
def test_opening_angle_follows_the_analytic_law(kinetic: float) -> None:
    # dN/dtheta = cos(theta/2) / (2 beta gamma sin^2(theta/2) sqrt(gamma^2 sin^2(theta/2) - 1)), from the flat
    # lab-energy spectrum of an isotropic two-body decay (PDG Review, Kinematics) and m^2 = 2 E1 E2 (1 - cos theta)
    gun, primaries = pi0_events(energy=kinetic)
    angle = gun.truth(primaries)["opening_angle"]
    assert stats.kstest(angle, lambda t: opening_angle_cdf(t, kinetic, M_PI0)).pvalue > 1e-3
    # the minimum opening angle 2 arcsin(m/E) ~ 2 m/E is reached (symmetric decays) and never undercut
    theta_min = float(min_opening_angle(kinetic, M_PI0))
    assert theta_min == pytest.approx(2 * math.asin(M_PI0 / (kinetic + M_PI0)), rel=1e-12)
    assert angle.min() >= theta_min * (1 - 1e-9)
    assert angle.min() < theta_min * 1.001


def test_density_is_the_derivative_of_the_cdf_and_normalised() -> None:
    kinetic = 5_000.0
    theta_min = float(min_opening_angle(kinetic, M_PI0))
    total, _ = integrate.quad(lambda t: float(opening_angle_pdf(t, kinetic, M_PI0)), theta_min, math.pi,
                              points=[theta_min * 1.001, theta_min * 1.1], limit=200)
    assert total == pytest.approx(1.0, abs=1e-6)
    t = np.linspace(theta_min * 1.05, 2.0, 50)
    step = 1e-7
    numeric = (opening_angle_cdf(t + step, kinetic, M_PI0) - opening_angle_cdf(t - step, kinetic, M_PI0)) / (2 * step)
    np.testing.assert_allclose(opening_angle_pdf(t, kinetic, M_PI0), numeric, rtol=1e-5)
    assert opening_angle_pdf(theta_min * 0.99, kinetic, M_PI0) == 0.0


def test_energy_asymmetry_is_uniform() -> None:
    # isotropic in the rest frame -> A = (E1 - E2)/(E1 + E2) = beta cos theta* uniform on [-beta, beta]
    kinetic = 2_000.0
    _, primaries = pi0_events(energy=kinetic)
    _, g1, g2 = photons(primaries)
    asymmetry = (primaries.energy[g1] - primaries.energy[g2]) / (primaries.energy[g1] + primaries.energy[g2])
    beta = math.sqrt(kinetic * (kinetic + 2 * M_PI0)) / (kinetic + M_PI0)
    assert np.abs(asymmetry).max() <= beta
    assert stats.kstest(asymmetry, stats.uniform(-beta, 2 * beta).cdf).pvalue > 1e-3


def test_decay_is_isotropic_around_the_flight_direction() -> None:
    _, primaries = pi0_events(energy="1GeV", theta=20, phi=40)
    pi0, g1, _ = photons(primaries)
    w = primaries.direction[pi0]
    u, v = orthonormal_basis(w)
    np.testing.assert_allclose(np.cross(u, v), w, atol=1e-12)
    azimuth = np.arctan2(np.sum(primaries.direction[g1] * v, axis=1), np.sum(primaries.direction[g1] * u, axis=1))
    assert stats.kstest(azimuth, stats.uniform(-math.pi, 2 * math.pi).cdf).pvalue > 1e-3


def test_opening_angle_selection_is_respected() -> None:
    gun, primaries = pi0_events(5_000, energy="10-510GeV", opening_angle="<0.01")
    angle = gun.truth(primaries)["opening_angle"]
    assert angle.max() <= 0.01 * (1 + 1e-9)
    kinetic = primaries.energy[primaries.pdg == 111]
    # impossible below E = m / sin(0.005) ~ 27 GeV: no kept pi0 there
    assert kinetic.min() >= M_PI0 / math.sin(0.005) - M_PI0
    # within the band the law is the analytic one, truncated: at fixed energy the conditional CDF
    fixed = make_gun(particle="pi0", energy="40GeV", opening_angle="0.006-0.01")
    kept = fixed.truth(fixed.generate(N, np.random.default_rng(5)))["opening_angle"]
    low, high = (opening_angle_cdf(x, 40_000.0, M_PI0) for x in (0.006, 0.01))
    assert kept.min() >= 0.006 * (1 - 1e-9) and kept.max() <= 0.01 * (1 + 1e-9)
    assert stats.kstest(kept, lambda t: (opening_angle_cdf(t, 40_000.0, M_PI0) - low) / (high - low)).pvalue > 1e-3


def test_selection_is_rejection_of_whole_decays() -> None:
    # the kept energy spectrum is the configured one times the acceptance P(theta < cut | E), which rises with E
    gun, primaries = pi0_events(N, energy="30-60GeV", opening_angle="<0.01")
    kinetic = primaries.energy[primaries.pdg == 111]
    grid = np.linspace(30_000.0, 60_000.0, 7)
    acceptance = opening_angle_cdf(0.01, grid, M_PI0)
    expected = np.diff([integrate.quad(lambda e: float(opening_angle_cdf(0.01, e, M_PI0)), grid[0], x)[0]
                        for x in grid])
    observed = np.histogram(kinetic, grid)[0]
    assert acceptance[0] < 0.5 < acceptance[-1]
    assert stats.chisquare(observed, expected / expected.sum() * observed.sum()).pvalue > 1e-3


def test_impossible_selection_names_the_field_and_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"gun\.opening_angle: no pi0 decay .* 2 arcsin\(m/E\) = 0\.0266 rad"):
        make_gun(particle="pi0", energy="10GeV", opening_angle="<0.01")
    with pytest.raises(ConfigError, match=r"gun\.opening_angle: selects pi0 .* particle is 'gamma'"):
        make_gun(particle="gamma", opening_angle="<0.01")
    with pytest.raises(ConfigError, match="gun.opening_angle: cannot read the opening angle"):
        make_gun(particle="pi0", opening_angle="small")
