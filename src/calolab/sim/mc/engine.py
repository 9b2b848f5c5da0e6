"""The calolab Monte Carlo engine (``--engine mc``): electromagnetic and hadronic showers in layered
calorimeters.

Hadrons and muons go first through the hadron transport (:mod:`calolab.sim.mc.hadron_transport`);
the photons of its pi0 decays join the event's electrons and photons in the electromagnetic
transport (:mod:`calolab.sim.mc.transport`), which scores into the same cells.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from calolab import __version__
from calolab.detector.geometry import Calorimeter
from calolab.errors import SimulationError
from calolab.sim.engine import event_seeds, register_engine
from calolab.sim.events import Deposits, Primaries
from calolab.sim.mc.config import TransportConfig
from calolab.sim.mc.geometry import kernel_geometry
from calolab.sim.mc.hadron_tables import HadronTables, build_hadron_tables
from calolab.sim.mc.hadron_transport import transport_hadrons
from calolab.sim.mc.tables import PhysicsTables, build_tables
from calolab.sim.mc.transport import transport_events

__all__ = ["MonteCarloEngine", "SUPPORTED_PDG", "ELECTROMAGNETIC_PDG", "HADRONIC_PDG"]

#: particles the electromagnetic transport follows: e-, e+, gamma
ELECTROMAGNETIC_PDG = (11, -11, 22)
#: particles the hadron transport follows: pi+-, K+- (as pions), p, n, mu-+, and pi0 (decayed at once)
HADRONIC_PDG = (211, -211, 321, -321, 2212, 2112, 13, -13, 111)
SUPPORTED_PDG = ELECTROMAGNETIC_PDG + HADRONIC_PDG
#: salt of the hadron transport's seeds (the electromagnetic transport keeps the campaign's seeds)
_HADRON_SEED_KEY = 211


def _hadron_seed(seed: np.random.SeedSequence) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, _HADRON_SEED_KEY))


@lru_cache(maxsize=16)
def _cached_tables(detector_toml: str, config_json: str) -> PhysicsTables:
    detector = Calorimeter.from_toml(detector_toml)
    return build_tables(detector.materials(), TransportConfig.model_validate_json(config_json))


@lru_cache(maxsize=16)
def _cached_hadron_tables(detector_toml: str) -> HadronTables:
    return build_hadron_tables(Calorimeter.from_toml(detector_toml).materials())


class MonteCarloEngine:
    """Condensed-history Monte Carlo of e+-, gamma showers (see :mod:`calolab.sim.mc.transport`).

    Args:
        config: cuts and step limits; defaults as :class:`TransportConfig`.
    """

    name = "mc"
    version = __version__

    def __init__(self, config: TransportConfig | None = None) -> None:
        self.config = config or TransportConfig()

    def tables(self, detector: Calorimeter) -> PhysicsTables:
        """The physics tables of ``detector``'s materials (built once per detector and config)."""
        return _cached_tables(detector.to_toml(), self.config.model_dump_json())

    def simulate(self, primaries: Primaries, detector: Calorimeter, seed: np.random.SeedSequence) -> Deposits:
        transported = primaries.transported()  # decayed generator particles (status 2) are not transported
        unsupported = sorted(set(np.unique(transported.pdg).tolist()) - set(SUPPORTED_PDG))
        if unsupported:
            msg = (f"the 'mc' engine transports e+-, gamma, pi+-, pi0, K+-, p, n and mu+- (PDG {list(SUPPORTED_PDG)}); "
                   f"got PDG codes {unsupported}. Choose one of those particles.")
            raise SimulationError(msg)
        if not isinstance(seed, np.random.SeedSequence):
            seed = np.random.SeedSequence(seed)
        geometry = kernel_geometry(detector)
        tables = self.tables(detector)
        n = transported.n_events
        active = np.zeros((n, geometry.n_cells), dtype=np.float32)
        passive = np.zeros((n, geometry.n_cells), dtype=np.float32)
        leakage = np.zeros((n, 3), dtype=np.float64)
        dead = np.zeros(n, dtype=np.float64)
        invisible = np.zeros(n, dtype=np.float64)
        pi0_energy = np.zeros(n, dtype=np.float64)
        first_z = np.full(n, np.nan)
        electromagnetic = transported
        if np.isin(transported.pdg, HADRONIC_PDG).any():
            photons = self._transport_hadrons(transported, detector, geometry, tables, seed,
                                              (active, passive, leakage, dead, invisible, pi0_energy, first_z))
            electromagnetic = _merge_photons(transported, *photons)
        cfg = self.config
        overflows = transport_events(
            electromagnetic.pdg, electromagnetic.energy, electromagnetic.position, electromagnetic.direction,
            electromagnetic.event_offsets, event_seeds(seed, n),
            *geometry.kernel_arguments(),
            tables.values, tables.element_z, tables.element_density, tables.element_z_third_inv,
            tables.element_z_zxi, tables.element_ln_z, tables.element_coulomb, tables.n_elements,
            tables.radiation_length, tables.electron_cut, tables.photon_cut, tables.electron_density,
            cfg.electron_tracking_cut, cfg.photon_tracking_cut, cfg.range_rejection_energy,
            cfg.step_range_fraction, cfg.final_range, cfg.max_stack, cfg.energy_loss_fluctuations,
            active, passive, leakage, dead,
        )
        if overflows:
            msg = (f"the particle stack overflowed {overflows} times; raise TransportConfig.max_stack "
                   f"(now {cfg.max_stack})")
            raise SimulationError(msg)
        active_sections, passive_sections = {}, {}
        for section, offset in zip(detector.sections, geometry.section_offset, strict=True):
            size = int(np.prod(section.shape))
            active_sections[section.name] = active[:, offset:offset + size].reshape(n, *section.shape)
            passive_sections[section.name] = passive[:, offset:offset + size].reshape(n, *section.shape)
        return Deposits(
            primaries=primaries, active=active_sections, passive=passive_sections,
            leakage=leakage.astype(np.float32), engine=self.name, engine_version=self.version,
            extra={
                "dead_material_energy": dead.astype(np.float32),
                "invisible_energy": invisible.astype(np.float32),
                "pi0_energy": pi0_energy.astype(np.float32),
                "first_interaction_z": first_z.astype(np.float32),
            },
        )

    def _transport_hadrons(self, primaries: Primaries, detector: Calorimeter, geometry, tables: PhysicsTables,
                           seed: np.random.SeedSequence, outputs: tuple[np.ndarray, ...]
                           ) -> tuple[np.ndarray, np.ndarray]:
        """Run the hadron kernel, adding into ``outputs``; returns the pi0 photons (rows kinetic
        energy, x, y, z, u, v, w) and their event indices."""
        cfg = self.config
        hadron_tables = _cached_hadron_tables(detector.to_toml())
        seeds = event_seeds(_hadron_seed(seed), primaries.n_events)
        # a first guess of the photon buffer; the kernel is rerun with the exact size if it was short
        capacity = max(1024, int(primaries.energy[np.isin(primaries.pdg, HADRONIC_PDG)].sum() / 50.0))
        snapshot = [array.copy() for array in outputs]
        for _ in range(2):
            photons = np.zeros((capacity, 7))
            photon_event = np.zeros(capacity, dtype=np.int64)
            n_photons, overflows = transport_hadrons(
                primaries.pdg, primaries.energy, primaries.position, primaries.direction,
                primaries.event_offsets, seeds, *geometry.kernel_arguments(),
                hadron_tables.stopping_power, hadron_tables.nucleon_length, hadron_tables.pion_length,
                hadron_tables.density,
                tables.radiation_length, tables.electron_cut, tables.electron_density,
                cfg.hadronic.as_array(), cfg.hadron_stop_energy, cfg.hadronic.slow_neutron_thickness, cfg.max_stack,
                cfg.energy_loss_fluctuations, *outputs, photons, photon_event,
            )
            if overflows:
                msg = (f"the hadron stack overflowed {overflows} times; raise TransportConfig.max_stack "
                       f"(now {cfg.max_stack})")
                raise SimulationError(msg)
            if n_photons <= capacity:
                return photons[:n_photons], photon_event[:n_photons]
            for array, saved in zip(outputs, snapshot, strict=True):
                array[...] = saved
            capacity = int(n_photons)
        msg = "the pi0 photon buffer of the hadron transport did not settle; please report this"
        raise SimulationError(msg)


def _merge_photons(primaries: Primaries, photons: np.ndarray, photon_event: np.ndarray) -> Primaries:
    """``primaries`` (each event's own particles first) plus the pi0 photons of each event."""
    if photons.shape[0] == 0:
        return primaries
    own_event = np.repeat(np.arange(primaries.n_events), np.diff(primaries.event_offsets))
    event = np.concatenate([own_event, photon_event])
    order = np.argsort(event, kind="stable")
    counts = np.bincount(event, minlength=primaries.n_events)
    return Primaries(
        np.concatenate([primaries.pdg, np.full(photons.shape[0], 22, dtype=np.int32)])[order],
        np.concatenate([primaries.energy, photons[:, 0]])[order],
        np.concatenate([primaries.position, photons[:, 1:4]])[order],
        np.concatenate([primaries.direction, photons[:, 4:7]])[order],
        np.concatenate([[0], np.cumsum(counts)]),
    )


register_engine("mc", lambda spec: MonteCarloEngine())
