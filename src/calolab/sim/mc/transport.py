"""The condensed-history electromagnetic transport kernel (numba).

Particles (photons, electrons, positrons) are followed one event at a time, depth first from
a LIFO stack, through a stack of slabs along z (each slab one material, bounded transversely by
its section's cell grid):

* photons fly exponential free paths (total cross section of Compton, pair, photo-absorption)
  and interact;
* electrons and positrons take condensed steps limited by the next discrete interaction
  (bremsstrahlung above the photon cut, Moller/Bhabha above the electron cut, annihilation),
  by a fraction of the residual range, and by the next boundary. Along a step they lose the
  restricted continuous energy from the CSDA range table (with Bohr straggling) and are deflected by multiple
  scattering at a random hinge point, where the step's energy is deposited.

Energy is scored per cell in active or passive material; energy leaving the front, sides or
back is scored as leakage (positrons leaving count their 2 m_e of annihilation energy).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from calolab.physics.constants import ELECTRON_MASS
from calolab.physics.em.annihilation import sample_annihilation
from calolab.physics.em.bremsstrahlung import bremsstrahlung_bound, bremsstrahlung_dcs, sample_tsai_angle
from calolab.physics.em.compton import sample_compton
from calolab.physics.em.ionisation import straggling_variance
from calolab.physics.em.moller_bhabha import delta_ray_cos_theta, sample_bhabha, sample_moller
from calolab.physics.em.multiple_scattering import highland_theta0, sample_scattering_cos
from calolab.physics.em.pair import pair_bound, pair_dcs
from calolab.physics.em.photoelectric import k_shell_binding_energy, photoelectric_cross_section
from calolab.sim.mc.rng import exponential, gamma, seed_state, uniform
from calolab.sim.mc.tables import (
    E_BREM,
    E_MOLLER,
    E_RANGE,
    G_COMPTON,
    G_PAIR,
    G_TOTAL,
    GRID_MIN,
    GRID_PER_DECADE,
    P_ANNIHILATION,
    P_BHABHA,
    P_BREM,
    P_RANGE,
)

__all__ = ["transport_events", "PHOTON", "ELECTRON", "POSITRON"]

PHOTON, ELECTRON, POSITRON = 0, 1, 2
_BIG = 1.0e30
_LOG_GRID_MIN = np.log(GRID_MIN)
_INV_DLOG = GRID_PER_DECADE / np.log(10.0)
_TWO_PI = 2.0 * np.pi

# leakage columns (calolab.sim.events.LEAKAGE_COLUMNS)
_FRONT, _LATERAL, _REAR = 0, 1, 2


@njit(cache=True, inline="always")
def _lookup(values, m, row, energy):
    """Linear interpolation in ln(E) of table row ``row`` of material ``m``."""
    x = (np.log(energy) - _LOG_GRID_MIN) * _INV_DLOG
    n = values.shape[2]
    if x <= 0.0:
        return values[m, row, 0]
    i = int(x)
    if i >= n - 1:
        return values[m, row, n - 1]
    f = x - i
    return values[m, row, i] * (1.0 - f) + values[m, row, i + 1] * f


@njit(cache=True)
def _energy_from_range(values, m, row, residual_range):
    """Inverse of the range table: kinetic energy (MeV) whose CSDA range is ``residual_range``."""
    if residual_range <= 0.0:
        return 0.0
    lo = 0
    hi = values.shape[2] - 1
    if residual_range <= values[m, row, 0]:
        return GRID_MIN * residual_range / values[m, row, 0]
    if residual_range >= values[m, row, hi]:
        return np.exp(_LOG_GRID_MIN + hi / _INV_DLOG)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if values[m, row, mid] <= residual_range:
            lo = mid
        else:
            hi = mid
    f = (residual_range - values[m, row, lo]) / (values[m, row, hi] - values[m, row, lo])
    return np.exp(_LOG_GRID_MIN + (lo + f) / _INV_DLOG)


@njit(cache=True, inline="always")
def _rotate(u, v, w, cos_theta, phi):
    """Direction after deflection by polar ``cos_theta`` and azimuth ``phi`` about (u, v, w)."""
    sin_theta = np.sqrt(max(0.0, 1.0 - cos_theta * cos_theta))
    cp = np.cos(phi)
    sp = np.sin(phi)
    perp = np.sqrt(u * u + v * v)
    if perp < 1e-10:
        sign = 1.0 if w >= 0.0 else -1.0
        return sin_theta * cp, sin_theta * sp, sign * cos_theta
    nu = cos_theta * u + sin_theta * (u * w * cp - v * sp) / perp
    nv = cos_theta * v + sin_theta * (v * w * cp + u * sp) / perp
    nw = cos_theta * w - sin_theta * perp * cp
    norm = 1.0 / np.sqrt(nu * nu + nv * nv + nw * nw)
    return nu * norm, nv * norm, nw * norm


@njit(cache=True, inline="always")
def _distance_to_boundary(x, y, z, u, v, w, zf, zb, hx, hy):
    """Distance along (u, v, w) to the slab's z planes and its section's sides, and which one:
    0 = back plane, 1 = front plane, 2 = side."""
    best = _BIG
    which = 0
    if w > 0.0:
        best = (zb - z) / w
        which = 0
    elif w < 0.0:
        best = (zf - z) / w
        which = 1
    if u > 0.0:
        d = (hx - x) / u
        if d < best:
            best, which = d, 2
    elif u < 0.0:
        d = (-hx - x) / u
        if d < best:
            best, which = d, 2
    if v > 0.0:
        d = (hy - y) / v
        if d < best:
            best, which = d, 2
    elif v < 0.0:
        d = (-hy - y) / v
        if d < best:
            best, which = d, 2
    return max(best, 0.0), which


@njit(cache=True, inline="always")
def _deposit(event, energy, x, y, s, slab_section, slab_layer, slab_active, slab_hx, slab_hy,
             sec_nx, sec_ny, sec_cx, sec_cy, sec_offset, out_active, out_passive, out_dead):
    if energy <= 0.0:
        return
    layer = slab_layer[s]
    if layer < 0:
        out_dead[event] += energy
        return
    sec = slab_section[s]
    nx = sec_nx[sec]
    ny = sec_ny[sec]
    ix = int((x + slab_hx[s]) / sec_cx[sec])
    iy = int((y + slab_hy[s]) / sec_cy[sec])
    ix = min(max(ix, 0), nx - 1)
    iy = min(max(iy, 0), ny - 1)
    index = sec_offset[sec] + (layer * ny + iy) * nx + ix
    if slab_active[s]:
        out_active[event, index] += energy
    else:
        out_passive[event, index] += energy


@njit(cache=True)
def _locate_slab(z, slab_zf, slab_zb):
    n = slab_zf.size
    if z < slab_zf[0]:
        return -1
    if z >= slab_zb[n - 1]:
        return n
    lo, hi = 0, n - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if slab_zb[mid] <= z:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _sample_brems_photon(state, values, m, kinetic, photon_cut, z3, zz, lnz, fc, dens, n_el):
    total = kinetic + ELECTRON_MASS
    bound = 0.0
    for i in range(n_el):
        bound += dens[m, i] * bremsstrahlung_bound(zz[m, i], lnz[m, i], fc[m, i], total)
    log_ratio = np.log(kinetic / photon_cut)
    for _ in range(1000):
        k = photon_cut * np.exp(log_ratio * uniform(state))
        g = 0.0
        for i in range(n_el):
            g += dens[m, i] * bremsstrahlung_dcs(z3[m, i], zz[m, i], lnz[m, i], fc[m, i], total, k)
        if g >= bound * uniform(state):
            return k
    return photon_cut


@njit(cache=True)
def _sample_pair_fraction(state, k, m, z3, zz, lnz, fc, dens, n_el):
    low = ELECTRON_MASS / k
    bound = 0.0
    for i in range(n_el):
        bound += dens[m, i] * pair_bound(z3[m, i], zz[m, i], lnz[m, i], fc[m, i], k)
    for _ in range(1000):
        eps = low + (0.5 - low) * uniform(state)
        f = 0.0
        for i in range(n_el):
            f += dens[m, i] * pair_dcs(z3[m, i], zz[m, i], lnz[m, i], fc[m, i], k, eps)
        if f >= bound * uniform(state):
            return eps
    return 0.5


@njit(cache=True)
def transport_events(
    # primaries
    pdg, kinetic_energy, position, direction, event_offsets, seeds,
    # geometry
    slab_zf, slab_zb, slab_material, slab_section, slab_layer, slab_active, slab_hx, slab_hy,
    sec_nx, sec_ny, sec_cx, sec_cy, sec_offset,
    # physics tables
    values, el_z, el_dens, el_z3, el_zz, el_lnz, el_fc, n_elements, radiation_length, electron_cut, photon_cut,
    electron_density,
    # transport parameters
    electron_tracking_cut, photon_tracking_cut, range_rejection_energy, step_range_fraction, final_range,
    max_stack, fluctuations,
    # outputs (zeroed by the caller)
    out_active, out_passive, out_leakage, out_dead,
):
    """Transport every event; returns the number of events whose stack overflowed (0 normally)."""
    n_events = event_offsets.size - 1
    n_slabs = slab_zf.size
    state = np.zeros(4, dtype=np.uint64)
    st_type = np.zeros(max_stack, dtype=np.int8)
    st = np.zeros((max_stack, 7))  # kinetic energy, x, y, z, u, v, w
    st_slab = np.zeros(max_stack, dtype=np.int64)
    overflows = 0
    for event in range(n_events):
        seed_state(state, seeds[event])
        top = 0
        for p in range(event_offsets[event], event_offsets[event + 1]):
            code = pdg[p]
            if code == 22:
                ptype = PHOTON
            elif code == 11:
                ptype = ELECTRON
            elif code == -11:
                ptype = POSITRON
            else:
                continue  # not an electromagnetic particle: the caller validates this
            x, y, z = position[p, 0], position[p, 1], position[p, 2]
            u, v, w = direction[p, 0], direction[p, 1], direction[p, 2]
            if z < slab_zf[0]:
                # fly straight to the front face through vacuum
                if w <= 0.0:
                    out_leakage[event, _FRONT] += kinetic_energy[p] + (2.0 * ELECTRON_MASS if ptype == POSITRON
                                                                      else 0.0)
                    continue
                t = (slab_zf[0] - z) / w
                x += t * u
                y += t * v
                z = slab_zf[0]
            s = _locate_slab(z, slab_zf, slab_zb)
            if s >= n_slabs or abs(x) >= slab_hx[max(s, 0)] or abs(y) >= slab_hy[max(s, 0)]:
                out_leakage[event, _LATERAL if s < n_slabs else _REAR] += kinetic_energy[p] + (
                    2.0 * ELECTRON_MASS if ptype == POSITRON else 0.0)
                continue
            st_type[top] = ptype
            st[top, 0] = kinetic_energy[p]
            st[top, 1], st[top, 2], st[top, 3] = x, y, z
            st[top, 4], st[top, 5], st[top, 6] = u, v, w
            st_slab[top] = s
            top += 1

        while top > 0:
            top -= 1
            ptype = st_type[top]
            energy = st[top, 0]
            x, y, z = st[top, 1], st[top, 2], st[top, 3]
            u, v, w = st[top, 4], st[top, 5], st[top, 6]
            s = st_slab[top]
            n_lambda = exponential(state)

            # ------------------------------------------------------------ photons
            if ptype == PHOTON:
                while True:
                    if energy < photon_tracking_cut:
                        _deposit(event, energy, x, y, s, slab_section, slab_layer, slab_active, slab_hx,
                                 slab_hy, sec_nx, sec_ny, sec_cx, sec_cy, sec_offset, out_active,
                                 out_passive, out_dead)
                        break
                    m = slab_material[s]
                    sigma = _lookup(values, m, G_TOTAL, energy)
                    d_geom, which = _distance_to_boundary(x, y, z, u, v, w, slab_zf[s], slab_zb[s],
                                                          slab_hx[s], slab_hy[s])
                    d_int = n_lambda / sigma if sigma > 0.0 else _BIG
                    if d_int >= d_geom:
                        x += d_geom * u
                        y += d_geom * v
                        z += d_geom * w
                        n_lambda -= d_geom * sigma
                        if which == 2:
                            out_leakage[event, _LATERAL] += energy
                            break
                        if which == 0:
                            s += 1
                            z = slab_zf[s] if s < n_slabs else z
                        else:
                            s -= 1
                            z = slab_zb[s] if s >= 0 else z
                        if s >= n_slabs:
                            out_leakage[event, _REAR] += energy
                            break
                        if s < 0:
                            out_leakage[event, _FRONT] += energy
                            break
                        continue
                    x += d_int * u
                    y += d_int * v
                    z += d_int * w
                    r = uniform(state) * sigma
                    compton = _lookup(values, m, G_COMPTON, energy)
                    pair = _lookup(values, m, G_PAIR, energy)
                    if r < compton:
                        eps, cos_t = sample_compton(state, energy)
                        phi = _TWO_PI * uniform(state)
                        k_out = eps * energy
                        t_e = energy - k_out
                        nu, nv, nw = _rotate(u, v, w, cos_t, phi)
                        # electron momentum = photon momentum in - photon momentum out
                        pex = energy * u - k_out * nu
                        pey = energy * v - k_out * nv
                        pez = energy * w - k_out * nw
                        pnorm = np.sqrt(pex * pex + pey * pey + pez * pez)
                        if t_e > electron_tracking_cut and pnorm > 0.0 and top < max_stack:
                            st_type[top] = ELECTRON
                            st[top, 0] = t_e
                            st[top, 1], st[top, 2], st[top, 3] = x, y, z
                            st[top, 4], st[top, 5], st[top, 6] = pex / pnorm, pey / pnorm, pez / pnorm
                            st_slab[top] = s
                            top += 1
                        else:
                            _deposit(event, t_e, x, y, s, slab_section, slab_layer, slab_active, slab_hx,
                                     slab_hy, sec_nx, sec_ny, sec_cx, sec_cy, sec_offset, out_active,
                                     out_passive, out_dead)
                        energy = k_out
                        u, v, w = nu, nv, nw
                        n_lambda = exponential(state)
                        continue
                    if r < compton + pair:
                        eps = _sample_pair_fraction(state, energy, m, el_z3, el_zz, el_lnz, el_fc, el_dens,
                                                    n_elements[m])
                        if uniform(state) < 0.5:
                            eps = 1.0 - eps
                        phi = _TWO_PI * uniform(state)
                        for lepton in range(2):
                            total = eps * energy if lepton == 0 else (1.0 - eps) * energy
                            t_l = total - ELECTRON_MASS
                            theta = sample_tsai_angle(state, total)
                            lu, lv, lw = _rotate(u, v, w, np.cos(theta), phi + np.pi * lepton)
                            kind = ELECTRON if lepton == 0 else POSITRON
                            if top < max_stack:
                                st_type[top] = kind
                                st[top, 0] = max(t_l, 0.0)
                                st[top, 1], st[top, 2], st[top, 3] = x, y, z
                                st[top, 4], st[top, 5], st[top, 6] = lu, lv, lw
                                st_slab[top] = s
                                top += 1
                            else:
                                overflows += 1
                                _deposit(event, total, x, y, s, slab_section, slab_layer, slab_active,
                                         slab_hx, slab_hy, sec_nx, sec_ny, sec_cx, sec_cy, sec_offset,
                                         out_active, out_passive, out_dead)
                        break
                    # photo-absorption: choose the atom by its partial cross section
                    n_el = n_elements[m]
                    total_pe = 0.0
                    for i in range(n_el):
                        total_pe += el_dens[m, i] * photoelectric_cross_section(el_z[m, i], energy)
                    pick = uniform(state) * total_pe
                    chosen = 0
                    for i in range(n_el):
                        pick -= el_dens[m, i] * photoelectric_cross_section(el_z[m, i], energy)
                        if pick <= 0.0:
                            chosen = i
                            break
                    binding = k_shell_binding_energy(el_z[m, chosen])
                    if binding >= energy:
                        binding = binding / 8.0 if binding / 8.0 < energy else 0.0  # L shell
                    t_pe = energy - binding
                    if t_pe > electron_tracking_cut and top < max_stack:
                        _deposit(event, binding, x, y, s, slab_section, slab_layer, slab_active, slab_hx,
                                 slab_hy, sec_nx, sec_ny, sec_cx, sec_cy, sec_offset, out_active,
                                 out_passive, out_dead)
                        st_type[top] = ELECTRON
                        st[top, 0] = t_pe
                        st[top, 1], st[top, 2], st[top, 3] = x, y, z
                        st[top, 4], st[top, 5], st[top, 6] = u, v, w
                        st_slab[top] = s
                        top += 1
                    else:
                        _deposit(event, energy, x, y, s, slab_section, slab_layer, slab_active, slab_hx,
                                 slab_hy, sec_nx, sec_ny, sec_cx, sec_cy, sec_offset, out_active,
                                 out_passive, out_dead)
                    break
                continue

            # ------------------------------------------------------------ electrons and positrons
            positron = ptype == POSITRON
            row_range = P_RANGE if positron else E_RANGE
            row_brem = P_BREM if positron else E_BREM
            row_delta = P_BHABHA if positron else E_MOLLER
            alive = True
            while alive:
                m = slab_material[s]
                if energy <= electron_tracking_cut:
                    break
                residual = _lookup(values, m, row_range, energy)
                zf = slab_zf[s]
                zb = slab_zb[s]
                hx = slab_hx[s]
                hy = slab_hy[s]
                if energy < range_rejection_energy:
                    safety = min(z - zf, zb - z, hx - abs(x), hy - abs(y))
                    if residual < safety:
                        break
                sigma_brem = _lookup(values, m, row_brem, energy)
                sigma_delta = _lookup(values, m, row_delta, energy)
                sigma_annihilation = _lookup(values, m, P_ANNIHILATION, energy) if positron else 0.0
                sigma = sigma_brem + sigma_delta + sigma_annihilation
                d_int = n_lambda / sigma if sigma > 0.0 else _BIG
                d_geom, which = _distance_to_boundary(x, y, z, u, v, w, zf, zb, hx, hy)
                step_limit = max(step_range_fraction * residual, min(residual, final_range))
                step = min(d_int, d_geom, step_limit, residual)
                # random hinge: straight to a random point, deflect, straight on
                first = step * uniform(state)
                hxp = x + first * u
                hyp = y + first * v
                hzp = z + first * w
                theta0 = highland_theta0(energy, step, radiation_length[m])
                cos_t = sample_scattering_cos(state, theta0)
                nu, nv, nw = _rotate(u, v, w, cos_t, _TWO_PI * uniform(state))
                rest = step - first
                d2, which2 = _distance_to_boundary(hxp, hyp, hzp, nu, nv, nw, zf, zb, hx, hy)
                crossed = d2 <= rest
                if crossed:
                    rest = d2
                path = first + rest
                end_energy = _energy_from_range(values, m, row_range, residual - path)
                mean_loss = energy - end_energy
                if end_energy > 0.0 and mean_loss > 0.0 and fluctuations:
                    # energy-loss straggling below the delta-ray cut: a gamma distribution with
                    # the mean loss and Bohr's variance (positive and skewed like the real one)
                    variance = straggling_variance(energy, electron_cut[m], positron, electron_density[m], path)
                    shape = mean_loss * mean_loss / variance if variance > 0.0 else 1.0e30
                    if shape < 1.0e4:
                        end_energy = max(energy - gamma(state, shape) * mean_loss / shape, 0.0)
                _deposit(event, energy - end_energy, hxp, hyp, s, slab_section, slab_layer, slab_active,
                         slab_hx, slab_hy, sec_nx, sec_ny, sec_cx, sec_cy, sec_offset, out_active,
                         out_passive, out_dead)
                energy = end_energy
                x = hxp + rest * nu
                y = hyp + rest * nv
                z = hzp + rest * nw
                u, v, w = nu, nv, nw
                n_lambda -= path * sigma
                if crossed:
                    if which2 == 2:
                        out_leakage[event, _LATERAL] += energy + (2.0 * ELECTRON_MASS if positron else 0.0)
                        alive = False
                        energy = 0.0
                        break
                    if which2 == 0:
                        s += 1
                        if s >= n_slabs:
                            out_leakage[event, _REAR] += energy + (2.0 * ELECTRON_MASS if positron else 0.0)
                            energy = 0.0
                            alive = False
                            break
                        z = slab_zf[s]
                    else:
                        s -= 1
                        if s < 0:
                            out_leakage[event, _FRONT] += energy + (2.0 * ELECTRON_MASS if positron else 0.0)
                            energy = 0.0
                            alive = False
                            break
                        z = slab_zb[s]
                    continue
                if step < d_int or energy <= electron_tracking_cut:
                    continue
                # discrete interaction at the end of the step
                sigma_brem = _lookup(values, m, row_brem, energy)
                sigma_delta = _lookup(values, m, row_delta, energy)
                sigma_annihilation = _lookup(values, m, P_ANNIHILATION, energy) if positron else 0.0
                total_sigma = sigma_brem + sigma_delta + sigma_annihilation
                n_lambda = exponential(state)
                if total_sigma <= 0.0:
                    continue
                r = uniform(state) * total_sigma
                phi = _TWO_PI * uniform(state)
                if r < sigma_brem:
                    if energy <= photon_cut[m]:
                        continue
                    k = _sample_brems_photon(state, values, m, energy, photon_cut[m], el_z3, el_zz, el_lnz,
                                             el_fc, el_dens, n_elements[m])
                    theta = sample_tsai_angle(state, energy + ELECTRON_MASS)
                    gu, gv, gw = _rotate(u, v, w, np.cos(theta), phi)
                    energy -= k
                    if top < max_stack:
                        st_type[top] = PHOTON
                        st[top, 0] = k
                        st[top, 1], st[top, 2], st[top, 3] = x, y, z
                        st[top, 4], st[top, 5], st[top, 6] = gu, gv, gw
                        st_slab[top] = s
                        top += 1
                    else:
                        overflows += 1
                        energy += k
                elif r < sigma_brem + sigma_delta:
                    cut = electron_cut[m]
                    if positron:
                        if energy <= cut:
                            continue
                        t_delta = sample_bhabha(state, energy, cut)
                    else:
                        if energy <= 2.0 * cut:
                            continue
                        t_delta = sample_moller(state, energy, cut)
                    cos_d = delta_ray_cos_theta(energy, t_delta)
                    du, dv, dw = _rotate(u, v, w, cos_d, phi)
                    remaining = energy - t_delta
                    cos_p = delta_ray_cos_theta(energy, remaining)
                    u, v, w = _rotate(u, v, w, cos_p, phi + np.pi)
                    energy = remaining
                    if top < max_stack:
                        st_type[top] = ELECTRON
                        st[top, 0] = t_delta
                        st[top, 1], st[top, 2], st[top, 3] = x, y, z
                        st[top, 4], st[top, 5], st[top, 6] = du, dv, dw
                        st_slab[top] = s
                        top += 1
                    else:
                        overflows += 1
                        energy += t_delta
                else:
                    k1, cos1, k2, cos2 = sample_annihilation(state, energy)
                    for photon in range(2):
                        kk = k1 if photon == 0 else k2
                        cc = cos1 if photon == 0 else cos2
                        gu, gv, gw = _rotate(u, v, w, cc, phi + np.pi * photon)
                        if top < max_stack:
                            st_type[top] = PHOTON
                            st[top, 0] = kk
                            st[top, 1], st[top, 2], st[top, 3] = x, y, z
                            st[top, 4], st[top, 5], st[top, 6] = gu, gv, gw
                            st_slab[top] = s
                            top += 1
                        else:
                            overflows += 1
                    energy = 0.0
                    alive = False
                    positron = False  # annihilated: no annihilation at rest
                    break

            if energy > 0.0:
                # stopped (tracking cut or range rejection): deposit the rest on the spot
                _deposit(event, energy, x, y, s, slab_section, slab_layer, slab_active, slab_hx, slab_hy,
                         sec_nx, sec_ny, sec_cx, sec_cy, sec_offset, out_active, out_passive, out_dead)
            if positron and alive:
                # annihilation at rest: two back-to-back 511 keV photons, isotropic
                cos_a = 1.0 - 2.0 * uniform(state)
                phi = _TWO_PI * uniform(state)
                sin_a = np.sqrt(max(0.0, 1.0 - cos_a * cos_a))
                au, av, aw = sin_a * np.cos(phi), sin_a * np.sin(phi), cos_a
                for sign in (1.0, -1.0):
                    if top < max_stack:
                        st_type[top] = PHOTON
                        st[top, 0] = ELECTRON_MASS
                        st[top, 1], st[top, 2], st[top, 3] = x, y, z
                        st[top, 4], st[top, 5], st[top, 6] = sign * au, sign * av, sign * aw
                        st_slab[top] = s
                        top += 1
                    else:
                        overflows += 1
    return overflows
