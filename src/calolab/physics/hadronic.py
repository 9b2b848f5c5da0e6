"""Hadronic interactions: the calolab cascade model (pure numerics, numba).

A hadron shower is a chain of inelastic nuclear interactions. calolab models each one with a
few documented rules that reproduce the features calorimetry depends on (Wigmans, *Calorimetry*,
2nd ed., Oxford 2017, ch. 2; Groom, NIM A572 (2007) 633; Gabriel et al., NIM A338 (1994) 336):

1. **Free path.** Nucleons interact after an exponential path of the nuclear interaction length
   lambda_I of the material; pions after ``lambda_pi = lambda_I (1 + 0.83 A^(-1/3))``, a fit to the
   PDG ratios of pion to nucleon interaction lengths (about 1.37 for C, 1.22 for Fe, 1.14 for Pb)
   that expresses the smaller pion-nucleus cross section (:func:`pion_length_factor`).
2. **Nuclear break-up.** The struck nucleus takes an energy ``E_nuc = min(T, G)``, ``G`` gamma
   distributed (shape 2) with mean ``nuclear_energy``. Of it, ``binding_fraction`` is spent
   on the binding energy of the released nucleons (invisible), ``evaporation_fraction`` goes to
   evaporation neutrons of a few MeV and the rest to spallation protons (exponential kinetic
   energies of mean ``spallation_proton_energy``, isotropic), which range out by ionisation.
3. **Leading particle.** Of the remaining ``T - E_nuc`` a fraction ``x ~ Beta(a, b)`` stays with
   the leading particle (a pion stays a pion, except charge exchange into a pi0 with probability
   ``charge_exchange``; a nucleon becomes a proton or a neutron with equal odds).
4. **Produced pions.** The rest is shared (flat Dirichlet) among ``1 + Poisson(mu - 1)`` pions,
   ``mu = c + s ln(E / 1 GeV)``, each pi+, pi- or pi0 with probability 1/3 (isospin), with
   transverse momenta of mean ``mean_transverse_momentum``. A pi0 decays at once into two photons
   that the electromagnetic transport takes over; this is how the electromagnetic fraction grows
   with energy, f_em ~ 1 - (E/E0)^(k-1). The rest mass of a charged pion is invisible (its decay
   neutrinos escape, a pi- is captured).
5. Hadrons below ``interaction_threshold`` no longer interact: charged ones range out,
   neutrons are followed as slow neutrons (see the transport).

The invisible energy (binding, pion masses, escaping neutrinos) makes e/h > 1 for every
non-compensating calorimeter. Energies are kinetic, in MeV; lengths in mm.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from calolab.physics.constants import CLASSICAL_ELECTRON_RADIUS, ELECTRON_MASS
from calolab.physics.em.ionisation import density_effect
from calolab.sim.mc.rng import exponential, gamma, normal, uniform

__all__ = [
    "CHARGED_PION_MASS",
    "NEUTRAL_PION_MASS",
    "PROTON_MASS",
    "NEUTRON_MASS",
    "MUON_MASS",
    "PION",
    "PROTON",
    "NEUTRON",
    "MUON",
    "NEUTRAL_PION",
    "HADRON_MASSES",
    "MODEL_PARAMETERS",
    "pion_length_factor",
    "heavy_stopping_power",
    "heavy_straggling_variance",
    "sample_inelastic",
    "sample_pi0_decay",
]

# PDG 2024 masses, MeV
CHARGED_PION_MASS = 139.57039
NEUTRAL_PION_MASS = 134.9768
PROTON_MASS = 938.27209
NEUTRON_MASS = 939.56542
MUON_MASS = 105.6583755

#: particle kinds of the hadron transport (index into :data:`HADRON_MASSES`)
PION, PROTON, NEUTRON, MUON, NEUTRAL_PION = 0, 1, 2, 3, 4
HADRON_MASSES = np.array([CHARGED_PION_MASS, PROTON_MASS, NEUTRON_MASS, MUON_MASS, NEUTRAL_PION_MASS])

#: order of the model parameters in the array the kernels take (names of HadronicConfig)
MODEL_PARAMETERS = (
    "nuclear_energy",
    "binding_fraction",
    "evaporation_fraction",
    "evaporation_neutron_energy",
    "spallation_proton_energy",
    "leading_alpha",
    "leading_beta",
    "charge_exchange",
    "multiplicity_constant",
    "multiplicity_slope",
    "mean_transverse_momentum",
    "interaction_threshold",
)
(_NUC, _BIND, _EVAP, _EVAP_E, _SPALL_E, _LEAD_A, _LEAD_B, _CEX, _MULT_C, _MULT_S, _PT,
 _THRESHOLD) = range(len(MODEL_PARAMETERS))

_TWO_PI = 2.0 * np.pi


def pion_length_factor(mass_number: float) -> float:
    """lambda_pi / lambda_I for a nucleus of mass number A: ``1 + 0.83 A^(-1/3)``.

    A one-parameter fit to the PDG tables of pion and nucleon interaction lengths
    (C 1.37, Fe 1.22, Pb 1.14; PDG "Atomic and nuclear properties of materials").

    >>> round(pion_length_factor(55.845), 2), round(pion_length_factor(207.2), 2)
    (1.22, 1.14)
    """
    return 1.0 + 0.83 * mass_number ** (-1.0 / 3.0)


@njit(cache=True)
def heavy_stopping_power(kinetic_energy, mass, electron_density, mean_excitation_energy, c, x0, x1, a):
    """Mean collision stopping power (MeV/mm) of a singly charged heavy particle: the Bethe
    formula with the full maximum energy transfer and the density effect (PDG eq. 34.5).

    Args:
        kinetic_energy: MeV; mass: MeV; electron_density: electrons per mm^3;
        mean_excitation_energy: I, MeV; c, x0, x1, a: Sternheimer density-effect parameters.
    """
    total = kinetic_energy + mass
    gamma_ = total / mass
    bg2 = gamma_ * gamma_ - 1.0
    if bg2 <= 1.0e-8:
        return 0.0
    beta2 = bg2 / (gamma_ * gamma_)
    ratio = ELECTRON_MASS / mass
    t_max = 2.0 * ELECTRON_MASS * bg2 / (1.0 + 2.0 * gamma_ * ratio + ratio * ratio)
    k = 2.0 * np.pi * CLASSICAL_ELECTRON_RADIUS**2 * ELECTRON_MASS * electron_density  # K/2 Z/A rho
    log_term = np.log(2.0 * ELECTRON_MASS * bg2 * t_max / (mean_excitation_energy * mean_excitation_energy))
    dedx = k / beta2 * (log_term - 2.0 * beta2 - density_effect(bg2, c, x0, x1, a))
    # below beta gamma ~ 0.05 the Bethe formula fails; keep the loss positive and growing
    return max(dedx, 0.0)


@njit(cache=True)
def heavy_straggling_variance(kinetic_energy, mass, cut, electron_density, step):
    """Bohr variance (MeV^2) of the energy loss over ``step`` (mm) with transfers up to
    ``min(cut, T_max)``: ``2 pi r_e^2 m_e n_el T_c s / beta^2 (1 - beta^2 / 2)``."""
    total = kinetic_energy + mass
    gamma_ = total / mass
    bg2 = gamma_ * gamma_ - 1.0
    beta2 = bg2 / (gamma_ * gamma_)
    ratio = ELECTRON_MASS / mass
    t_max = 2.0 * ELECTRON_MASS * bg2 / (1.0 + 2.0 * gamma_ * ratio + ratio * ratio)
    t_cut = min(cut, t_max)
    return (2.0 * np.pi * CLASSICAL_ELECTRON_RADIUS**2 * ELECTRON_MASS * electron_density
            * t_cut * step / beta2 * (1.0 - 0.5 * beta2))


@njit(cache=True, inline="always")
def _emission_cos(state, kinetic_energy, mass, mean_pt):
    """cos(theta) to the incoming direction of a particle of ``kinetic_energy`` emitted with a
    transverse momentum drawn from p_T exp(-2 p_T / <p_T>) (mean ``mean_pt``), MeV."""
    momentum = np.sqrt(kinetic_energy * (kinetic_energy + 2.0 * mass))
    pt = 0.5 * mean_pt * (exponential(state) + exponential(state))
    if pt >= momentum:
        return 1.0 - 2.0 * uniform(state)  # soft particle: isotropic
    return np.sqrt(1.0 - (pt / momentum) ** 2)


@njit(cache=True)
def _poisson(state, mean):
    if mean <= 0.0:
        return 0
    if mean > 30.0:
        return max(0, int(mean + np.sqrt(mean) * normal(state) + 0.5))
    limit = np.exp(-mean)
    k = 0
    product = uniform(state)
    while product > limit:
        k += 1
        product *= uniform(state)
    return k


@njit(cache=True)
def _beta(state, a, b):
    x = gamma(state, a)
    y = gamma(state, b)
    return x / (x + y) if x + y > 0.0 else 0.5


@njit(cache=True)
def sample_inelastic(state, kind, kinetic_energy, params, out_kind, out_energy, out_cos, out_phi):
    """One inelastic hadron-nucleus interaction (the rules of the module docstring).

    Args:
        state: random state (:mod:`calolab.sim.mc.rng`).
        kind: :data:`PION`, :data:`PROTON` or :data:`NEUTRON` (the incoming hadron).
        kinetic_energy: of the incoming hadron, MeV.
        params: model parameters in the order of :data:`MODEL_PARAMETERS`.
        out_kind, out_energy, out_cos, out_phi: filled with the secondaries: kind, kinetic energy
            (MeV; for :data:`NEUTRAL_PION` the total energy), cos(theta) and azimuth relative to the
            incoming direction. Their length bounds the number of secondaries.

    Returns:
        ``(n, invisible)``: the number of secondaries written and the energy (MeV) that becomes
        invisible at the vertex (nuclear binding, charged-pion rest masses). The secondaries'
        energies plus ``invisible`` equal ``kinetic_energy``.
    """
    capacity = out_kind.size
    n = 0
    invisible = 0.0
    available = kinetic_energy
    # --- nuclear break-up: binding (invisible), evaporation neutrons, spallation protons
    nuclear = min(available, gamma(state, 2.0) * params[_NUC] / 2.0)
    available -= nuclear
    invisible += params[_BIND] * nuclear
    evaporation = params[_EVAP] * nuclear
    spallation = nuclear - params[_BIND] * nuclear - evaporation
    for budget, species, mean in ((evaporation, NEUTRON, params[_EVAP_E]), (spallation, PROTON, params[_SPALL_E])):
        while budget > 0.0:
            e = min(budget, mean * exponential(state))
            if budget - e < 0.1 * mean:
                e = budget
            budget -= e
            if n < capacity:
                out_kind[n], out_energy[n] = species, e
                out_cos[n], out_phi[n] = 1.0 - 2.0 * uniform(state), _TWO_PI * uniform(state)
                n += 1
            else:
                invisible += e
    if available <= 0.0:
        return n, invisible
    # --- leading particle
    lead = _beta(state, params[_LEAD_A], params[_LEAD_B]) * available
    produced = available - lead
    if kind == PION:
        lead_kind = NEUTRAL_PION if uniform(state) < params[_CEX] else PION
    else:
        lead_kind = PROTON if uniform(state) < 0.5 else NEUTRON
    # --- produced pions: multiplicity and flat sharing
    mean_multiplicity = params[_MULT_C] + params[_MULT_S] * np.log(max(produced, 1.0) / 1000.0)
    multiplicity = 1 + _poisson(state, max(mean_multiplicity - 1.0, 0.0))
    multiplicity = min(multiplicity, int(produced / (CHARGED_PION_MASS + 10.0)), capacity - n - 1)
    if multiplicity <= 0:
        lead += produced
        produced = 0.0
    if n < capacity:
        out_kind[n], out_energy[n] = lead_kind, lead
        mass = NEUTRAL_PION_MASS if lead_kind == NEUTRAL_PION else HADRON_MASSES[lead_kind]
        out_cos[n] = _emission_cos(state, lead, mass, params[_PT])
        out_phi[n] = _TWO_PI * uniform(state)
        n += 1
    else:
        invisible += lead
    if multiplicity <= 0:
        return n, invisible
    total_weight = 0.0
    first = n
    for i in range(multiplicity):
        weight = exponential(state)
        out_energy[first + i] = weight
        total_weight += weight
    for i in range(multiplicity):
        share = produced * out_energy[first + i] / total_weight
        r = 3.0 * uniform(state)
        if r < 1.0:
            out_kind[n], out_energy[n] = NEUTRAL_PION, share
            out_cos[n] = _emission_cos(state, share, NEUTRAL_PION_MASS, params[_PT])
        else:
            kinetic = share - CHARGED_PION_MASS
            invisible += min(share, CHARGED_PION_MASS)
            if kinetic <= 0.0:
                out_energy[n] = 0.0
                continue
            out_kind[n], out_energy[n] = PION, kinetic
            out_cos[n] = _emission_cos(state, kinetic, CHARGED_PION_MASS, params[_PT])
        out_phi[n] = _TWO_PI * uniform(state)
        n += 1
    return n, invisible


@njit(cache=True)
def sample_pi0_decay(state, total_energy):
    """pi0 -> gamma gamma in flight: isotropic in the pi0 rest frame, boosted along its direction.

    Args:
        total_energy: of the pi0, MeV (below the pi0 mass the decay is taken at rest).

    Returns:
        ``(k1, cos1, k2, cos2)``: the photon energies (MeV, summing to ``total_energy``) and the
        cosines of their angles to the pi0 direction; the two lie in one plane on opposite sides.
    """
    cos_star = 1.0 - 2.0 * uniform(state)
    if total_energy <= NEUTRAL_PION_MASS:
        half = 0.5 * total_energy
        return half, cos_star, half, -cos_star
    gamma_ = total_energy / NEUTRAL_PION_MASS
    beta = np.sqrt(1.0 - 1.0 / (gamma_ * gamma_))
    half = 0.5 * NEUTRAL_PION_MASS
    k1 = gamma_ * half * (1.0 + beta * cos_star)
    k2 = gamma_ * half * (1.0 - beta * cos_star)
    cos1 = (cos_star + beta) / (1.0 + beta * cos_star)
    cos2 = (-cos_star + beta) / (1.0 - beta * cos_star)
    return k1, cos1, k2, cos2
