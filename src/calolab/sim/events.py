"""In-memory containers for primaries and simulated deposits.

These are the currency between the gun, every simulation engine, the readout and the
shower file. Arrays follow the conventions of DESIGN.md: energies in MeV, lengths in mm,
cell arrays ``(N, layers, y, x)`` float32.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from calolab.errors import SimulationError

__all__ = ["Primaries", "Deposits", "LEAKAGE_COLUMNS"]

#: Columns of :attr:`Deposits.leakage`: energy (MeV) leaving through the front face
#: (albedo), through the sides of the cell grid, and through the back face.
LEAKAGE_COLUMNS = ("front", "lateral", "rear")


@dataclass
class Primaries:
    """The particles fired into the detector, ragged over events.

    Attributes:
        pdg: PDG code of each particle, shape ``(M,)`` int32 (11 e-, -11 e+, 22 gamma, ...).
        energy: kinetic energy of each particle in MeV, shape ``(M,)`` float64
            (as a Geant4 particle gun; for GeV electrons kinetic and total agree to 0.05%).
        position: start point in mm, shape ``(M, 3)``; ``z = 0`` is the front face of the
            first section, ``x = y = 0`` the detector axis.
        direction: unit momentum direction, shape ``(M, 3)``.
        event_offsets: particles of event ``i`` are ``[offsets[i], offsets[i+1])``,
            shape ``(N + 1,)`` int64.
        status: generator status of each particle, shape ``(M,)`` int8, HepMC convention:
            1 = to be transported (final state of the generator), 2 = decayed by the generator
            (truth only, never transported). Default: all 1.
        parent: index of each particle's parent *within its event* (0 = the event's first
            particle), shape ``(M,)`` int32; -1 for none. Default: all -1.

    Engines transport only :meth:`transported` particles; a decayed ``pi0`` (status 2) stays in
    the record as truth with its two photons (status 1, parent = the ``pi0``).
    """

    pdg: np.ndarray
    energy: np.ndarray
    position: np.ndarray
    direction: np.ndarray
    event_offsets: np.ndarray
    status: np.ndarray = None  # type: ignore[assignment]  # None -> all 1, in __post_init__
    parent: np.ndarray = None  # type: ignore[assignment]  # None -> all -1, in __post_init__

    def __post_init__(self) -> None:
        self.pdg = np.ascontiguousarray(self.pdg, dtype=np.int32)
        self.energy = np.ascontiguousarray(self.energy, dtype=np.float64)
        self.position = np.ascontiguousarray(self.position, dtype=np.float64).reshape(-1, 3)
        self.direction = np.ascontiguousarray(self.direction, dtype=np.float64).reshape(-1, 3)
        self.event_offsets = np.ascontiguousarray(self.event_offsets, dtype=np.int64)
        m = self.pdg.shape[0]
        if not (self.energy.shape[0] == self.position.shape[0] == self.direction.shape[0] == m):
            msg = "Primaries arrays pdg, energy, position, direction must have the same length"
            raise SimulationError(msg)
        if self.event_offsets.ndim != 1 or self.event_offsets.size < 1 or self.event_offsets[0] != 0:
            msg = "Primaries.event_offsets must be 1-d, start at 0 and end at the number of particles"
            raise SimulationError(msg)
        if self.event_offsets[-1] != m or np.any(np.diff(self.event_offsets) < 0):
            msg = "Primaries.event_offsets must be non-decreasing and end at the number of particles"
            raise SimulationError(msg)
        self.status = (np.ones(m, dtype=np.int8) if self.status is None
                       else np.ascontiguousarray(self.status, dtype=np.int8))
        self.parent = (np.full(m, -1, dtype=np.int32) if self.parent is None
                       else np.ascontiguousarray(self.parent, dtype=np.int32))
        if self.status.shape != (m,) or self.parent.shape != (m,):
            msg = (f"Primaries.status and Primaries.parent must have one entry per particle ({m}), got shapes "
                   f"{self.status.shape} and {self.parent.shape}")
            raise SimulationError(msg)
        if m and np.any(self.parent != -1):
            sizes = np.diff(self.event_offsets)
            within = np.arange(m) - np.repeat(self.event_offsets[:-1], sizes)
            bad = (self.parent < -1) | (self.parent >= np.repeat(sizes, sizes)) | (self.parent == within)
            if np.any(bad):
                i = int(np.flatnonzero(bad)[0])
                msg = (f"Primaries.parent[{i}] = {int(self.parent[i])} is not -1 or the index of another "
                       f"particle of the same event")
                raise SimulationError(msg)

    @classmethod
    def single(
        cls,
        pdg: np.ndarray,
        energy: np.ndarray,
        position: np.ndarray | None = None,
        direction: np.ndarray | None = None,
    ) -> Primaries:
        """One particle per event; position defaults to the origin, direction to +z."""
        pdg = np.atleast_1d(np.asarray(pdg))
        n = pdg.shape[0]
        energy = np.broadcast_to(np.asarray(energy, dtype=np.float64), (n,))
        if position is None:
            position = np.zeros((n, 3))
        if direction is None:
            direction = np.tile([0.0, 0.0, 1.0], (n, 1))
        return cls(pdg, energy, np.broadcast_to(position, (n, 3)), np.broadcast_to(direction, (n, 3)),
                   np.arange(n + 1), np.ones(n, dtype=np.int8), np.full(n, -1, dtype=np.int32))

    @property
    def n_events(self) -> int:
        return int(self.event_offsets.size - 1)

    @property
    def n_particles(self) -> int:
        return int(self.pdg.size)

    def event_index(self) -> np.ndarray:
        """The event of each particle, shape ``(M,)`` int64."""
        return np.repeat(np.arange(self.n_events, dtype=np.int64), np.diff(self.event_offsets))

    def event_energy(self) -> np.ndarray:
        """Sum of the kinetic energies of the transported (status 1) primaries per event, MeV, ``(N,)``.

        The energy that enters the detector: a decayed ``pi0`` (status 2) counts through its two
        photons, which carry its kinetic energy plus its mass. 0 for an empty event.
        """
        weights = np.where(self.status == 1, self.energy, 0.0)
        return np.bincount(self.event_index(), weights=weights, minlength=self.n_events)

    def leading(self, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most energetic transported (status 1) particles of each event, by falling energy.

        The truth of overlapping showers: for a photon pair or a decayed ``pi0``, its two photons.

        Args:
            k: particles per event (>= 1).

        Returns:
            ``(position (N, k, 2) mm, energy (N, k) MeV)``: the start point (x, y) and kinetic energy
            of each; NaN where an event has fewer than ``k`` transported particles.

        Raises:
            SimulationError: ``k < 1``.

        >>> p = Primaries(pdg=[22, 22, 11], energy=[1.0, 3.0, 2.0], position=np.arange(9.0).reshape(3, 3),
        ...               direction=np.tile([0.0, 0.0, 1.0], (3, 1)), event_offsets=[0, 2, 3])
        >>> position, energy = p.leading(2)
        >>> energy.tolist(), position[0].tolist()
        ([[3.0, 1.0], [2.0, nan]], [[3.0, 4.0], [0.0, 1.0]])
        """
        if k < 1:
            msg = f"Primaries.leading: k is the number of particles per event and must be >= 1, got {k}"
            raise SimulationError(msg)
        moving = self.transported()
        n = moving.n_events
        position = np.full((n, k, 2), np.nan)
        energy = np.full((n, k), np.nan)
        events = moving.event_index()
        order = np.lexsort((-moving.energy, events))  # by event, then falling energy
        rank = np.arange(order.size) - np.repeat(moving.event_offsets[:-1], np.diff(moving.event_offsets))
        keep = rank < k
        rows, slots = events[order][keep], rank[keep]
        position[rows, slots] = moving.position[order][keep][:, :2]
        energy[rows, slots] = moving.energy[order][keep]
        return position, energy

    def select(self, events: slice | np.ndarray) -> Primaries:
        """The primaries of a subset of events (a slice or an index array)."""
        index = np.arange(self.n_events)[events]
        starts, stops = self.event_offsets[index], self.event_offsets[index + 1]
        take = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)]) if index.size \
            else np.zeros(0, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(stops - starts)])
        return Primaries(self.pdg[take], self.energy[take], self.position[take], self.direction[take], offsets,
                         self.status[take], self.parent[take])  # parents are event-relative: unchanged

    def transported(self) -> Primaries:
        """Only the particles an engine transports (status 1), events kept; ``parent`` is reset to -1.

        A ``pi0`` decayed by the gun (status 2) drops out and its two photons stay.
        """
        keep = self.status == 1
        if keep.all():
            return Primaries(self.pdg, self.energy, self.position, self.direction, self.event_offsets,
                             self.status, np.full(self.n_particles, -1, dtype=np.int32))
        counts = np.bincount(self.event_index()[keep], minlength=self.n_events)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        return Primaries(self.pdg[keep], self.energy[keep], self.position[keep], self.direction[keep], offsets,
                         self.status[keep], np.full(int(keep.sum()), -1, dtype=np.int32))

    @staticmethod
    def concatenate(parts: list[Primaries]) -> Primaries:
        offsets = [np.zeros(1, dtype=np.int64)]
        base = 0
        for part in parts:
            offsets.append(part.event_offsets[1:] + base)
            base += part.n_particles
        return Primaries(
            np.concatenate([p.pdg for p in parts]),
            np.concatenate([p.energy for p in parts]),
            np.concatenate([p.position for p in parts]),
            np.concatenate([p.direction for p in parts]),
            np.concatenate(offsets),
            np.concatenate([p.status for p in parts]),
            np.concatenate([p.parent for p in parts]),
        )


@dataclass
class Deposits:
    """Energy deposited by ``N`` events in the cells of a calorimeter.

    Attributes:
        primaries: what was fired, per event.
        active: section name -> energy in the active (read-out) material, MeV,
            ``(N, layers, y, x)`` float32.
        passive: section name -> energy in the passive (absorber) material, MeV, same shape.
            Homogeneous sections have all their energy in ``active`` and zeros here.
        leakage: energy leaving the detector, MeV, ``(N, 3)`` float32 with columns
            :data:`LEAKAGE_COLUMNS`.
        engine: name of the engine that made them; ``engine_version`` its version.
    """

    primaries: Primaries
    active: dict[str, np.ndarray]
    passive: dict[str, np.ndarray]
    leakage: np.ndarray
    engine: str = "unknown"
    engine_version: str = "0"
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.primaries.n_events
        for kind, arrays in (("active", self.active), ("passive", self.passive)):
            for name, array in arrays.items():
                if array.ndim != 4 or array.shape[0] != n:
                    msg = f"Deposits.{kind}[{name!r}] must have shape (N={n}, layers, y, x), got {array.shape}"
                    raise SimulationError(msg)
        if set(self.active) != set(self.passive):
            msg = "Deposits.active and Deposits.passive must name the same sections"
            raise SimulationError(msg)
        self.leakage = np.asarray(self.leakage, dtype=np.float32).reshape(n, len(LEAKAGE_COLUMNS))

    def __len__(self) -> int:
        return self.primaries.n_events

    @property
    def sections(self) -> list[str]:
        return list(self.active)

    def total_active(self) -> np.ndarray:
        """Active energy per event summed over all sections, MeV, ``(N,)`` float64."""
        return sum((a.sum(axis=(1, 2, 3), dtype=np.float64) for a in self.active.values()),
                   np.zeros(len(self)))

    def total_deposited(self) -> np.ndarray:
        """Active + passive energy per event, MeV, ``(N,)`` float64."""
        passive = sum((a.sum(axis=(1, 2, 3), dtype=np.float64) for a in self.passive.values()),
                      np.zeros(len(self)))
        return self.total_active() + passive

    def select(self, events: slice | np.ndarray) -> Deposits:
        """The deposits of a subset of events (a slice or an index array)."""
        return Deposits(
            self.primaries.select(events),
            {k: v[events] for k, v in self.active.items()},
            {k: v[events] for k, v in self.passive.items()},
            self.leakage[events],
            self.engine,
            self.engine_version,
            {k: v[events] for k, v in self.extra.items()},
        )

    @staticmethod
    def concatenate(parts: list[Deposits]) -> Deposits:
        if not parts:
            msg = "Deposits.concatenate needs at least one part"
            raise SimulationError(msg)
        first = parts[0]
        return Deposits(
            Primaries.concatenate([p.primaries for p in parts]),
            {k: np.concatenate([p.active[k] for p in parts]) for k in first.active},
            {k: np.concatenate([p.passive[k] for p in parts]) for k in first.passive},
            np.concatenate([p.leakage for p in parts]),
            first.engine,
            first.engine_version,
            {k: np.concatenate([p.extra[k] for p in parts]) for k in first.extra},
        )
