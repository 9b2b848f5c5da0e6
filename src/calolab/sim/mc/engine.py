"""The calolab Monte Carlo engine (``--engine mc``): electromagnetic showers in layered calorimeters."""

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
from calolab.sim.mc.tables import PhysicsTables, build_tables
from calolab.sim.mc.transport import transport_events

__all__ = ["MonteCarloEngine", "SUPPORTED_PDG"]

#: particles the electromagnetic transport follows: e-, e+, gamma
SUPPORTED_PDG = (11, -11, 22)


@lru_cache(maxsize=16)
def _cached_tables(detector_toml: str, config_json: str) -> PhysicsTables:
    detector = Calorimeter.from_toml(detector_toml)
    return build_tables(detector.materials(), TransportConfig.model_validate_json(config_json))


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
        unsupported = sorted(set(np.unique(primaries.pdg).tolist()) - set(SUPPORTED_PDG))
        if unsupported:
            msg = (f"the 'mc' engine transports e-, e+ and gamma (PDG 11, -11, 22); got PDG codes {unsupported}. "
                   "Choose an electromagnetic particle.")
            raise SimulationError(msg)
        if not isinstance(seed, np.random.SeedSequence):
            seed = np.random.SeedSequence(seed)
        geometry = kernel_geometry(detector)
        tables = self.tables(detector)
        n = primaries.n_events
        active = np.zeros((n, geometry.n_cells), dtype=np.float32)
        passive = np.zeros((n, geometry.n_cells), dtype=np.float32)
        leakage = np.zeros((n, 3), dtype=np.float64)
        dead = np.zeros(n, dtype=np.float64)
        cfg = self.config
        overflows = transport_events(
            primaries.pdg, primaries.energy, primaries.position, primaries.direction,
            primaries.event_offsets, event_seeds(seed, n),
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
            extra={"dead_material_energy": dead.astype(np.float32)},
        )


register_engine("mc", lambda spec: MonteCarloEngine())
