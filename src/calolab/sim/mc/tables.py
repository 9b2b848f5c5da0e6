"""Per-material transport tables for the Monte Carlo.

For every material of a detector, on a logarithmic kinetic-energy grid: the restricted
stopping powers and CSDA ranges of e- and e+, the macroscopic cross sections (1/mm) of
discrete bremsstrahlung, Moller, Bhabha and annihilation, and of Compton scattering, pair
production and photo-absorption. Cross sections are integrated numerically (Gauss-Legendre)
from the same differential cross sections that the samplers use, so tables and sampling agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from calolab.physics.constants import ELECTRON_MASS
from calolab.physics.em.annihilation import annihilation_cross_section
from calolab.physics.em.bremsstrahlung import bremsstrahlung_dcs
from calolab.physics.em.compton import klein_nishina_cross_section
from calolab.physics.em.ionisation import density_effect_parameters, restricted_collision_stopping_power
from calolab.physics.em.moller_bhabha import bhabha_dcs, moller_dcs
from calolab.physics.em.pair import pair_dcs
from calolab.physics.em.photoelectric import photoelectric_cross_section
from calolab.physics.materials import Material, coulomb_correction, radiation_logarithms
from calolab.sim.mc.config import TransportConfig

__all__ = ["PhysicsTables", "build_tables", "GRID_MIN", "GRID_MAX", "GRID_PER_DECADE"]

# quantity rows of PhysicsTables.values
E_DEDX, E_RANGE, E_BREM, E_MOLLER = 0, 1, 2, 3
P_DEDX, P_RANGE, P_BREM, P_BHABHA, P_ANNIHILATION = 4, 5, 6, 7, 8
G_COMPTON, G_PAIR, G_PHOTO, G_TOTAL = 9, 10, 11, 12
N_QUANTITIES = 13

GRID_MIN = 1.0e-3  # MeV
GRID_MAX = 1.0e7  # MeV
GRID_PER_DECADE = 40
MAX_ELEMENTS = 8

_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)


@dataclass(frozen=True)
class PhysicsTables:
    """Arrays consumed by the transport kernel (all float64 unless noted).

    Attributes:
        energy: kinetic-energy grid, MeV, ``(G,)``.
        values: ``(materials, 13, G)`` stopping powers (MeV/mm), ranges (mm) and macroscopic
            cross sections (1/mm); rows named by the module constants E_DEDX ... G_TOTAL.
        element_z, element_density, element_z_third_inv, element_z_zxi, element_ln_z, element_coulomb:
            ``(materials, MAX_ELEMENTS)`` element data; ``element_density`` in atoms/mm^3 (0 pads).
        n_elements: ``(materials,)`` int64.
        radiation_length: mm; electron_cut, photon_cut: production cuts, MeV; electron_density:
            electrons/mm^3; ``(materials,)``.
    """

    energy: np.ndarray
    values: np.ndarray
    element_z: np.ndarray
    element_density: np.ndarray
    element_z_third_inv: np.ndarray
    element_z_zxi: np.ndarray
    element_ln_z: np.ndarray
    element_coulomb: np.ndarray
    n_elements: np.ndarray
    radiation_length: np.ndarray
    electron_cut: np.ndarray
    photon_cut: np.ndarray
    electron_density: np.ndarray


def energy_grid() -> np.ndarray:
    """Kinetic energies of the tables, MeV: ``GRID_PER_DECADE`` per decade, log-spaced.

    Computed with Python's floats (the C library's ``pow``), not numpy's vectorised power: numpy picks
    its SIMD kernels by CPU (AVX-512 or not) and version, and they differ in the last bit. One bit in the
    grid moves the tables, and the Monte Carlo then follows other histories from the same seed: with
    numpy's AVX-512 kernels switched off (``NPY_DISABLE_CPU_FEATURES``), 20 of the 401 energies
    differed and the same seeds gave other showers.
    """
    points = int(round(math.log10(GRID_MAX / GRID_MIN) * GRID_PER_DECADE)) + 1
    return np.array([GRID_MIN * 10.0 ** (k / GRID_PER_DECADE) for k in range(points)])


@njit(cache=True)
def _brems_integrals(kinetic, photon_cut, z3, zz, lnz, fc, dens, n_el, gl_x, gl_w):
    """(macroscopic discrete cross section above photon_cut 1/mm, restricted radiative loss MeV/mm)."""
    total = kinetic + ELECTRON_MASS
    loss_upper = min(photon_cut, kinetic)
    loss = 0.0
    sigma = 0.0
    for j in range(gl_x.size):
        # restricted loss: int_0^kc k dsigma/dk dk
        k = 0.5 * loss_upper * (gl_x[j] + 1.0)
        g = 0.0
        for i in range(n_el):
            g += dens[i] * bremsstrahlung_dcs(z3[i], zz[i], lnz[i], fc[i], total, k)
        loss += 0.5 * loss_upper * gl_w[j] * g
        if kinetic > photon_cut:
            # discrete: int_kc^T dsigma/dk dk = int g d ln k
            span = np.log(kinetic / photon_cut)
            k = photon_cut * np.exp(0.5 * span * (gl_x[j] + 1.0))
            g = 0.0
            for i in range(n_el):
                g += dens[i] * bremsstrahlung_dcs(z3[i], zz[i], lnz[i], fc[i], total, k)
            sigma += 0.5 * span * gl_w[j] * g
    return sigma, loss


@njit(cache=True)
def _delta_ray_cross_section(kinetic, cut, positron, electron_density, gl_x, gl_w):
    upper = 1.0 if positron else 0.5
    low = cut / kinetic
    if low >= upper:
        return 0.0
    span = np.log(upper / low)
    total = 0.0
    for j in range(gl_x.size):
        eps = low * np.exp(0.5 * span * (gl_x[j] + 1.0))
        dcs = bhabha_dcs(kinetic, eps) if positron else moller_dcs(kinetic, eps)
        total += 0.5 * span * gl_w[j] * dcs * eps
    return electron_density * total


@njit(cache=True)
def _pair_cross_section(k, z3, zz, lnz, fc, dens, n_el, gl_x, gl_w):
    if k <= 2.0 * ELECTRON_MASS:
        return 0.0
    low = ELECTRON_MASS / k
    half = 0.5 - low
    total = 0.0
    for j in range(gl_x.size):
        eps = low + 0.5 * half * (gl_x[j] + 1.0)
        for i in range(n_el):
            total += 0.5 * half * gl_w[j] * dens[i] * pair_dcs(z3[i], zz[i], lnz[i], fc[i], k, eps)
    return 2.0 * total  # symmetric in eps <-> 1 - eps


@njit(cache=True)
def _fill_material(values, m, grid, photon_cut, electron_cut, z, z3, zz, lnz, fc, dens, n_el,
                   electron_density, excitation, c, x0, x1, a, gl_x, gl_w):
    for g in range(grid.size):
        t = grid[g]
        sigma_brem, loss_rad = _brems_integrals(t, photon_cut, z3, zz, lnz, fc, dens, n_el, gl_x, gl_w)
        for positron in (False, True):
            col = restricted_collision_stopping_power(t, electron_cut, positron, electron_density,
                                                      excitation, c, x0, x1, a)
            row = P_DEDX if positron else E_DEDX
            values[m, row, g] = max(col + loss_rad, 1e-30)
        values[m, E_BREM, g] = sigma_brem
        values[m, P_BREM, g] = sigma_brem
        if t > 2.0 * electron_cut:
            values[m, E_MOLLER, g] = _delta_ray_cross_section(t, electron_cut, False, electron_density,
                                                              gl_x, gl_w)
        if t > electron_cut:
            values[m, P_BHABHA, g] = _delta_ray_cross_section(t, electron_cut, True, electron_density,
                                                              gl_x, gl_w)
        values[m, P_ANNIHILATION, g] = electron_density * annihilation_cross_section(t)
        values[m, G_COMPTON, g] = electron_density * klein_nishina_cross_section(t)
        values[m, G_PAIR, g] = _pair_cross_section(t, z3, zz, lnz, fc, dens, n_el, gl_x, gl_w)
        photo = 0.0
        for i in range(n_el):
            photo += dens[i] * photoelectric_cross_section(z[i], t)
        values[m, G_PHOTO, g] = photo
        values[m, G_TOTAL, g] = values[m, G_COMPTON, g] + values[m, G_PAIR, g] + photo
    # CSDA ranges from the restricted stopping powers (trapezoid in ln T; R(T_min) = T_min / S)
    for row_dedx, row_range in ((E_DEDX, E_RANGE), (P_DEDX, P_RANGE)):
        values[m, row_range, 0] = grid[0] / values[m, row_dedx, 0]
        for g in range(1, grid.size):
            f0 = grid[g - 1] / values[m, row_dedx, g - 1]
            f1 = grid[g] / values[m, row_dedx, g]
            values[m, row_range, g] = values[m, row_range, g - 1] + 0.5 * (f0 + f1) * np.log(grid[g] / grid[g - 1])


def _element_arrays(material: Material):
    n = len(material.elements)
    if n > MAX_ELEMENTS:
        msg = f"material {material.name!r} has {n} elements; the transport supports at most {MAX_ELEMENTS}"
        raise ValueError(msg)
    out = {key: np.zeros(MAX_ELEMENTS) for key in ("z", "dens", "z3", "zz", "lnz", "fc")}
    densities = material.number_densities()
    for i, element in enumerate(material.elements):
        z = float(element.Z)
        l_rad, l_rad_prime = radiation_logarithms(element.Z)
        f_c = coulomb_correction(element.Z)
        xi = l_rad_prime / (l_rad - f_c)
        out["z"][i] = z
        out["dens"][i] = densities[i]
        out["z3"][i] = z ** (-1.0 / 3.0)
        out["zz"][i] = z * (z + xi)
        out["lnz"][i] = 4.0 / 3.0 * np.log(z)
        out["fc"][i] = f_c
    return n, out


def _range_cut_to_energy(grid: np.ndarray, ranges: np.ndarray, range_cut: float) -> float:
    return float(np.exp(np.interp(range_cut, ranges, np.log(grid))))


def build_tables(materials: list[Material], config: TransportConfig) -> PhysicsTables:
    """Build the transport tables of ``materials`` with the cuts of ``config``."""
    grid = energy_grid()
    n_mat = len(materials)
    values = np.zeros((n_mat, N_QUANTITIES, grid.size))
    el = {key: np.zeros((n_mat, MAX_ELEMENTS)) for key in ("z", "dens", "z3", "zz", "lnz", "fc")}
    n_elements = np.zeros(n_mat, dtype=np.int64)
    x0 = np.zeros(n_mat)
    e_cuts = np.zeros(n_mat)
    g_cuts = np.zeros(n_mat)
    probe = np.zeros((1, N_QUANTITIES, grid.size))
    for m, material in enumerate(materials):
        n, arrays = _element_arrays(material)
        n_elements[m] = n
        for key, array in arrays.items():
            el[key][m] = array
        density_params = density_effect_parameters(
            material.electron_density, material.mean_excitation_energy, material.state == "gas"
        )
        common = (arrays["z"], arrays["z3"], arrays["zz"], arrays["lnz"], arrays["fc"], arrays["dens"], n,
                  material.electron_density, material.mean_excitation_energy, *density_params, _GL_X, _GL_W)
        # production cuts from the range cut: unrestricted e- loss gives the CSDA range,
        # photon attenuation gives the absorption length (Geant4 uses 5 absorption lengths)
        _fill_material(probe, 0, grid, GRID_MAX, GRID_MAX, *common)
        e_cut = _range_cut_to_energy(grid, probe[0, E_RANGE], config.production_range_cut)
        attenuation = probe[0, G_TOTAL]
        above = np.nonzero(5.0 / np.maximum(attenuation, 1e-300) > config.production_range_cut)[0]
        g_cut = float(grid[above[0]]) if above.size else GRID_MAX
        e_cuts[m] = max(e_cut, config.minimum_production_cut)
        g_cuts[m] = max(g_cut, config.minimum_production_cut)
        _fill_material(values, m, grid, g_cuts[m], e_cuts[m], *common)
        x0[m] = material.radiation_length
    return PhysicsTables(
        energy=grid, values=values, element_z=el["z"], element_density=el["dens"],
        element_z_third_inv=el["z3"], element_z_zxi=el["zz"], element_ln_z=el["lnz"],
        element_coulomb=el["fc"], n_elements=n_elements, radiation_length=x0,
        electron_cut=e_cuts, photon_cut=g_cuts,
        electron_density=np.array([material.electron_density for material in materials]),
    )
