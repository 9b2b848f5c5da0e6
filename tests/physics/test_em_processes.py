"""Electromagnetic process kernels against analytic values and their own differential cross sections.

Each sampler is checked against a slow numpy reference: the histogram of sampled values must
follow the differential cross section (chi2 test), and total cross sections must equal the
integral of the differential ones or a textbook value.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from calolab.physics.constants import CLASSICAL_ELECTRON_RADIUS, ELECTRON_MASS
from calolab.physics.em.annihilation import annihilation_cross_section, sample_annihilation
from calolab.physics.em.compton import klein_nishina_cross_section, sample_compton
from calolab.physics.em.moller_bhabha import bhabha_dcs, moller_dcs, sample_bhabha, sample_moller
from calolab.physics.em.multiple_scattering import highland_theta0, sample_scattering_cos
from calolab.sim.mc.rng import new_state, seed_state

BARN = 1.0e-22  # mm^2


def _state(seed: int) -> np.ndarray:
    state = new_state()
    seed_state(state, seed)
    return state


def _chi2_pvalue(samples: np.ndarray, edges: np.ndarray, density) -> float:
    """p-value of the sampled histogram against the normalised ``density`` integrated per bin."""
    counts, _ = np.histogram(samples, edges)
    probs = np.array([integrate.quad(density, a, b)[0] for a, b in zip(edges[:-1], edges[1:], strict=True)])
    expected = probs / probs.sum() * counts.sum()
    return float(stats.chisquare(counts, expected).pvalue)


def test_klein_nishina_total_cross_section_textbook_values():
    # Klein-Nishina per electron: 0.2112 b at 1 MeV (Evans, The Atomic Nucleus, table 23.1);
    # Thomson limit 8 pi r_e^2 / 3 = 0.6652 b (PDG physical constants)
    assert klein_nishina_cross_section(1.0) / BARN == pytest.approx(0.2112, rel=2e-3)
    thomson = 8.0 * np.pi / 3.0 * CLASSICAL_ELECTRON_RADIUS**2
    assert klein_nishina_cross_section(1e-6) == pytest.approx(thomson, rel=1e-4)


@pytest.mark.parametrize("k", [0.2, 1.0, 20.0])
def test_compton_sampling_follows_klein_nishina(k):
    x = k / ELECTRON_MASS

    def dcs(eps):  # dsigma/deps up to a constant (Butcher & Messel 1960)
        one_minus_cos = (1.0 - eps) / (eps * x)
        sin_sq = one_minus_cos * (2.0 - one_minus_cos)
        return (1.0 / eps + eps) * (1.0 - eps * sin_sq / (1.0 + eps * eps))

    eps0 = 1.0 / (1.0 + 2.0 * x)
    total, _ = integrate.quad(dcs, eps0, 1.0)
    # the integral of the differential cross section is the total cross section
    sigma = np.pi * CLASSICAL_ELECTRON_RADIUS**2 / x * total
    assert sigma == pytest.approx(klein_nishina_cross_section(k), rel=1e-6)
    state = _state(7)
    samples = np.array([sample_compton(state, k)[0] for _ in range(40_000)])
    assert samples.min() >= eps0 - 1e-12 and samples.max() <= 1.0
    assert _chi2_pvalue(samples, np.linspace(eps0, 1.0, 21), dcs) > 1e-3


@pytest.mark.parametrize("kinetic", [2.0, 1000.0])
def test_moller_sampling_follows_dcs(kinetic):
    cut = 0.1
    state = _state(3)
    samples = np.array([sample_moller(state, kinetic, cut) for _ in range(40_000)]) / kinetic
    edges = np.geomspace(cut / kinetic, 0.5, 21)
    assert _chi2_pvalue(samples, edges, lambda e: moller_dcs(kinetic, e)) > 1e-3


@pytest.mark.parametrize("kinetic", [2.0, 1000.0])
def test_bhabha_sampling_follows_dcs(kinetic):
    cut = 0.1
    state = _state(4)
    samples = np.array([sample_bhabha(state, kinetic, cut) for _ in range(40_000)]) / kinetic
    edges = np.geomspace(cut / kinetic, 1.0, 21)
    assert _chi2_pvalue(samples, edges, lambda e: bhabha_dcs(kinetic, e)) > 1e-3


def test_moller_and_bhabha_tend_to_rutherford_on_free_electrons():
    # for eps -> 0 both reduce to 2 pi r_e^2 m_e / (beta^2 T eps^2) (free-electron Rutherford)
    kinetic, eps = 100.0, 1e-6
    gamma = kinetic / ELECTRON_MASS + 1.0
    beta2 = 1.0 - 1.0 / gamma**2
    rutherford = 2.0 * np.pi * CLASSICAL_ELECTRON_RADIUS**2 / (beta2 * (gamma - 1.0) * eps**2)
    assert moller_dcs(kinetic, eps) == pytest.approx(rutherford, rel=1e-4)
    assert bhabha_dcs(kinetic, eps) == pytest.approx(rutherford, rel=1e-4)


def test_annihilation_conserves_energy_and_momentum():
    state = _state(11)
    kinetic = 5.0
    momentum = np.sqrt(kinetic * (kinetic + 2.0 * ELECTRON_MASS))
    for _ in range(200):
        k1, cos1, k2, cos2 = sample_annihilation(state, kinetic)
        assert k1 + k2 == pytest.approx(kinetic + 2.0 * ELECTRON_MASS, rel=1e-12)
        # longitudinal momentum balance; transverse balances by construction (opposite azimuths)
        assert k1 * cos1 + k2 * cos2 == pytest.approx(momentum, rel=1e-6)
        assert k1 * np.sqrt(1 - cos1**2) == pytest.approx(k2 * np.sqrt(1 - cos2**2), rel=1e-5, abs=1e-9)


def test_annihilation_cross_section_falls_as_ln_gamma_over_gamma():
    # Heitler high-energy limit: sigma -> pi r_e^2 / gamma (ln 2 gamma - 1)
    kinetic = 1.0e5
    gamma = kinetic / ELECTRON_MASS + 1.0
    limit = np.pi * CLASSICAL_ELECTRON_RADIUS**2 / gamma * (np.log(2.0 * gamma) - 1.0)
    assert annihilation_cross_section(kinetic) == pytest.approx(limit, rel=1e-3)


def test_highland_formula_value():
    # PDG eq. 34.15: 1 GeV/c electron through 1 X0: theta0 = 13.6 MeV / 1000 MeV * 1.0 = 13.6 mrad
    kinetic = np.sqrt(1000.0**2 + ELECTRON_MASS**2) - ELECTRON_MASS
    beta = 1000.0 / (kinetic + ELECTRON_MASS)
    expected = 13.6 / (beta * 1000.0) * (1.0 + 0.038 * np.log(1.0 / beta**2))
    assert highland_theta0(kinetic, 10.0, 10.0) == pytest.approx(expected, rel=1e-9)


def test_scattering_angle_small_angle_limit():
    # for small theta0, <theta_space^2> = 2 theta0^2, i.e. <1 - cos theta> = theta0^2
    state = _state(5)
    theta0 = 0.01
    samples = np.array([sample_scattering_cos(state, theta0) for _ in range(50_000)])
    assert np.mean(1.0 - samples) == pytest.approx(theta0**2, rel=0.03)
    # very wide steps become isotropic: <cos> = 0
    wide = np.array([sample_scattering_cos(state, 20.0) for _ in range(20_000)])
    assert abs(wide.mean()) < 0.02


@pytest.mark.parametrize("shape", [0.3, 2.0, 50.0])
def test_gamma_sampler_matches_scipy(shape):
    from calolab.sim.mc.rng import gamma

    state = _state(21)
    samples = np.array([gamma(state, shape) for _ in range(20_000)])
    assert stats.kstest(samples, stats.gamma(shape).cdf).pvalue > 1e-3


def test_straggling_variance_is_bohrs():
    # Bohr: Omega^2 = 2 pi r_e^2 m_e n_el T_c s (1 - beta^2/2) / beta^2; for beta -> 1 the bracket is 1/2
    from calolab.physics.em.ionisation import straggling_variance

    n_el, cut, step = 7.0e20, 0.4, 0.5
    expected = 2.0 * np.pi * CLASSICAL_ELECTRON_RADIUS**2 * ELECTRON_MASS * n_el * cut * step * 0.5
    assert straggling_variance(1.0e5, cut, False, n_el, step) == pytest.approx(expected, rel=1e-4)
