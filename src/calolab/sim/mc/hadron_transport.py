"""The hadron transport kernel (numba): charged pions, protons, neutrons and muons.

Each event's hadrons are followed depth first from a stack through the same slabs as the
electromagnetic transport (:mod:`calolab.sim.mc.transport`):

* charged particles take steps limited by the next boundary, the next inelastic interaction and
  a fraction of their energy; along a step they lose the Bethe mean energy with Bohr straggling
  (transfers up to the material's delta-ray cut) and scatter (Highland); the loss is scored at the
  step's midpoint;
* neutrons fly straight to their next interaction;
* inelastic interactions follow :func:`calolab.physics.hadronic.sample_inelastic`; their pi0s
  decay at once and the photons are written to an output buffer for the electromagnetic
  transport; hadrons below the interaction threshold range out (charged) or, for neutrons, travel
  an exponential distance isotropically and give up their energy there (slow neutrons);
* muons only ionise and scatter.

Besides the cell deposits and leakage, per event it scores the invisible energy (nuclear
binding, charged-pion rest masses), the energy handed to photons from pi0 decays, and the depth z
of the primary's first inelastic interaction.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from calolab.physics.constants import HIGHLAND_ENERGY
from calolab.physics.em.multiple_scattering import sample_scattering_cos
from calolab.physics.hadronic import (
    HADRON_MASSES,
    MUON,
    NEUTRAL_PION,
    NEUTRON,
    PION,
    PROTON,
    heavy_straggling_variance,
    sample_inelastic,
    sample_pi0_decay,
)
from calolab.sim.mc.rng import exponential, gamma, seed_state, uniform
from calolab.sim.mc.transport import _deposit, _distance_to_boundary, _locate_slab, _lookup, _rotate

__all__ = ["transport_hadrons", "hadron_kind"]

_BIG = 1.0e30
_TWO_PI = 2.0 * np.pi
_FRONT, _LATERAL, _REAR = 0, 1, 2
_MAX_SECONDARIES = 256
_MAX_ENERGY_LOSS = 0.1  # a charged step loses at most this fraction of the kinetic energy
_MIN_STEP = 0.01  # mm


@njit(cache=True)
def hadron_kind(pdg):
    """Kind of the hadron transport for a PDG code, or -1 if it is not a hadron or muon."""
    code = abs(pdg)
    if code == 211 or code == 321:
        return PION  # charged kaons travel as pions in this model
    if code == 2212:
        return PROTON
    if code == 2112:
        return NEUTRON
    if code == 13:
        return MUON
    if pdg == 111:
        return NEUTRAL_PION
    return -1


@njit(cache=True, inline="always")
def _stopping_row(kind):
    return 0 if kind == PION else (1 if kind == PROTON else 2)


@njit(cache=True)
def _emit_photon(event, k, x, y, z, u, v, w, out_photons, out_photon_event, n_photons):
    if n_photons < out_photon_event.size:
        out_photon_event[n_photons] = event
        out_photons[n_photons, 0] = k
        out_photons[n_photons, 1], out_photons[n_photons, 2], out_photons[n_photons, 3] = x, y, z
        out_photons[n_photons, 4], out_photons[n_photons, 5], out_photons[n_photons, 6] = u, v, w
    return n_photons + 1


@njit(cache=True)
def _decay_pi0(state, event, total, x, y, z, u, v, w, out_photons, out_photon_event, n_photons):
    k1, cos1, k2, cos2 = sample_pi0_decay(state, total)
    phi = _TWO_PI * uniform(state)
    au, av, aw = _rotate(u, v, w, cos1, phi)
    n_photons = _emit_photon(event, k1, x, y, z, au, av, aw, out_photons, out_photon_event, n_photons)
    bu, bv, bw = _rotate(u, v, w, cos2, phi + np.pi)
    return _emit_photon(event, k2, x, y, z, bu, bv, bw, out_photons, out_photon_event, n_photons)


@njit(cache=True)
def transport_hadrons(
    # primaries (hadrons and muons only; other codes are skipped)
    pdg, kinetic_energy, position, direction, event_offsets, seeds,
    # geometry
    slab_zf, slab_zb, slab_material, slab_section, slab_layer, slab_active, slab_hx, slab_hy,
    sec_nx, sec_ny, sec_cx, sec_cy, sec_offset,
    # material tables
    stopping_power, nucleon_length, pion_length, density, radiation_length, electron_cut, electron_density,
    # model
    params, stop_energy, slow_neutron_thickness, max_stack, fluctuations,
    # outputs (zeroed by the caller)
    out_active, out_passive, out_leakage, out_dead, out_invisible, out_pi0_energy, out_first_z,
    out_photons, out_photon_event,
):
    """Transport every event's hadrons. Returns ``(n_photons, overflows)``: the number of pi0 decay
    photons (if larger than the buffer, the caller must retry with a larger one) and how often the
    stack overflowed."""
    n_events = event_offsets.size - 1
    n_slabs = slab_zf.size
    threshold = params[11]
    state = np.zeros(4, dtype=np.uint64)
    st_kind = np.zeros(max_stack, dtype=np.int8)
    st = np.zeros((max_stack, 7))
    st_slab = np.zeros(max_stack, dtype=np.int64)
    st_primary = np.zeros(max_stack, dtype=np.bool_)
    sec_kind = np.zeros(_MAX_SECONDARIES, dtype=np.int64)
    sec_energy = np.zeros(_MAX_SECONDARIES)
    sec_cos = np.zeros(_MAX_SECONDARIES)
    sec_phi = np.zeros(_MAX_SECONDARIES)
    n_photons = 0
    overflows = 0
    for event in range(n_events):
        seed_state(state, seeds[event])
        out_first_z[event] = np.nan
        top = 0
        for p in range(event_offsets[event], event_offsets[event + 1]):
            kind = hadron_kind(pdg[p])
            if kind < 0:
                continue
            x, y, z = position[p, 0], position[p, 1], position[p, 2]
            u, v, w = direction[p, 0], direction[p, 1], direction[p, 2]
            if kind == NEUTRAL_PION:
                total = kinetic_energy[p] + HADRON_MASSES[NEUTRAL_PION]
                out_pi0_energy[event] += total
                n_photons = _decay_pi0(state, event, total, x, y, z, u, v, w, out_photons, out_photon_event,
                                       n_photons)
                continue
            if z < slab_zf[0]:
                if w <= 0.0:
                    out_leakage[event, _FRONT] += kinetic_energy[p]
                    continue
                t = (slab_zf[0] - z) / w
                x += t * u
                y += t * v
                z = slab_zf[0]
            s = _locate_slab(z, slab_zf, slab_zb)
            if s >= n_slabs or abs(x) >= slab_hx[max(s, 0)] or abs(y) >= slab_hy[max(s, 0)]:
                out_leakage[event, _LATERAL if s < n_slabs else _REAR] += kinetic_energy[p]
                continue
            st_kind[top] = kind
            st[top, 0] = kinetic_energy[p]
            st[top, 1], st[top, 2], st[top, 3] = x, y, z
            st[top, 4], st[top, 5], st[top, 6] = u, v, w
            st_slab[top] = s
            st_primary[top] = True
            top += 1

        while top > 0:
            top -= 1
            kind = st_kind[top]
            energy = st[top, 0]
            x, y, z = st[top, 1], st[top, 2], st[top, 3]
            u, v, w = st[top, 4], st[top, 5], st[top, 6]
            s = st_slab[top]
            primary = st_primary[top]
            mass = HADRON_MASSES[kind]
            charged = kind != NEUTRON

            if kind == NEUTRON and energy < threshold:
                # slow neutron: an isotropic flight through an exponential mass thickness (it scatters
                # on nuclei, so where it stops follows the mass, not the volume), then its energy is
                # given up at that point
                cos_t = 1.0 - 2.0 * uniform(state)
                phi = _TWO_PI * uniform(state)
                sin_t = np.sqrt(max(0.0, 1.0 - cos_t * cos_t))
                u, v, w = sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t
                mass_left = slow_neutron_thickness * exponential(state)  # g/cm^2
                while True:
                    d_geom, which = _distance_to_boundary(x, y, z, u, v, w, slab_zf[s], slab_zb[s], slab_hx[s],
                                                          slab_hy[s])
                    rho = density[slab_material[s]] * 0.1  # g/cm^3 -> g/cm^2 per mm
                    if rho * d_geom >= mass_left:
                        d = mass_left / rho
                        _deposit(event, energy, x + d * u, y + d * v, s, slab_section, slab_layer, slab_active,
                                 slab_hx, slab_hy, sec_nx, sec_ny, sec_cx, sec_cy, sec_offset, out_active,
                                 out_passive, out_dead)
                        break
                    mass_left -= rho * d_geom
                    x += d_geom * u
                    y += d_geom * v
                    z += d_geom * w
                    if which == 2:
                        out_leakage[event, _LATERAL] += energy
                        break
                    s += 1 if which == 0 else -1
                    if s >= n_slabs:
                        out_leakage[event, _REAR] += energy
                        break
                    if s < 0:
                        out_leakage[event, _FRONT] += energy
                        break
                    z = slab_zf[s] if which == 0 else slab_zb[s]
                continue

            n_lambda = exponential(state)
            alive = True
            interact = False
            while alive:
                if charged and energy <= stop_energy:
                    break
                m = slab_material[s]
                can_interact = kind != MUON and energy >= threshold
                length = pion_length[m] if kind == PION else nucleon_length[m]
                d_int = n_lambda * length if can_interact else _BIG
                zf = slab_zf[s]
                zb = slab_zb[s]
                d_geom, which = _distance_to_boundary(x, y, z, u, v, w, zf, zb, slab_hx[s], slab_hy[s])
                if charged:
                    row = _stopping_row(kind)
                    dedx = _lookup(stopping_power, m, row, energy)
                    step_limit = max(_MAX_ENERGY_LOSS * energy / dedx, _MIN_STEP) if dedx > 0.0 else _BIG
                else:
                    dedx = 0.0
                    step_limit = _BIG
                step = min(d_int, d_geom, step_limit)
                loss = 0.0
                if charged and dedx > 0.0:
                    loss = dedx * step
                    if fluctuations and loss > 0.0:
                        variance = heavy_straggling_variance(energy, mass, electron_cut[m], electron_density[m], step)
                        shape = loss * loss / variance if variance > 0.0 else 1.0e30
                        if shape < 1.0e4:
                            loss = gamma(state, shape) * loss / shape
                    loss = min(loss, energy)
                    half = 0.5 * step
                    _deposit(event, loss, x + half * u, y + half * v, s, slab_section, slab_layer, slab_active,
                             slab_hx, slab_hy, sec_nx, sec_ny, sec_cx, sec_cy, sec_offset, out_active,
                             out_passive, out_dead)
                x += step * u
                y += step * v
                z += step * w
                if can_interact:
                    n_lambda -= step / length
                energy -= loss
                if step >= d_geom:
                    if which == 2:
                        out_leakage[event, _LATERAL] += energy
                        energy = 0.0
                        alive = False
                        break
                    if which == 0:
                        s += 1
                        if s >= n_slabs:
                            out_leakage[event, _REAR] += energy
                            energy = 0.0
                            alive = False
                            break
                        z = slab_zf[s]
                    else:
                        s -= 1
                        if s < 0:
                            out_leakage[event, _FRONT] += energy
                            energy = 0.0
                            alive = False
                            break
                        z = slab_zb[s]
                elif step >= d_int:
                    interact = True
                    break
                if charged and step > 0.0 and energy > 0.0:
                    momentum = np.sqrt(energy * (energy + 2.0 * mass))
                    beta = momentum / (energy + mass)
                    t = step / radiation_length[m]
                    correction = max(1.0 + 0.038 * np.log(max(t / (beta * beta), 1e-12)), 0.3)
                    theta0 = HIGHLAND_ENERGY / (beta * momentum) * np.sqrt(t) * correction
                    cos_ms = sample_scattering_cos(state, theta0)
                    u, v, w = _rotate(u, v, w, cos_ms, _TWO_PI * uniform(state))

            if not interact:
                if energy > 0.0:
                    _deposit(event, energy, x, y, s, slab_section, slab_layer, slab_active, slab_hx, slab_hy,
                             sec_nx, sec_ny, sec_cx, sec_cy, sec_offset, out_active, out_passive, out_dead)
                continue

            # ---------------------------------------------------------- inelastic interaction
            if primary and np.isnan(out_first_z[event]):
                out_first_z[event] = z
            n_sec, invisible = sample_inelastic(state, kind, energy, params, sec_kind, sec_energy, sec_cos,
                                                sec_phi)
            out_invisible[event] += invisible
            for i in range(n_sec):
                e = sec_energy[i]
                if e <= 0.0:
                    continue
                su, sv, sw = _rotate(u, v, w, sec_cos[i], sec_phi[i])
                if sec_kind[i] == NEUTRAL_PION:
                    out_pi0_energy[event] += e
                    n_photons = _decay_pi0(state, event, e, x, y, z, su, sv, sw, out_photons, out_photon_event,
                                           n_photons)
                    continue
                if top < max_stack:
                    st_kind[top] = sec_kind[i]
                    st[top, 0] = e
                    st[top, 1], st[top, 2], st[top, 3] = x, y, z
                    st[top, 4], st[top, 5], st[top, 6] = su, sv, sw
                    st_slab[top] = s
                    st_primary[top] = False
                    top += 1
                else:
                    overflows += 1
                    _deposit(event, e, x, y, s, slab_section, slab_layer, slab_active, slab_hx, slab_hy,
                             sec_nx, sec_ny, sec_cx, sec_cy, sec_offset, out_active, out_passive, out_dead)
    return n_photons, overflows
