"""Flat arrays of a :class:`~calolab.detector.geometry.Calorimeter` for the transport kernel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calolab.detector.geometry import Calorimeter

__all__ = ["KernelGeometry", "kernel_geometry"]


@dataclass(frozen=True)
class KernelGeometry:
    """Slab and section arrays in the order the kernel takes them.

    Slab arrays ``(S,)``: ``z_front``, ``z_back`` (mm), ``material`` (index into the detector's
    materials), ``section``, ``layer`` (-1 for gaps), ``active``, ``half_width_x``, ``half_width_y``
    (mm, of the slab's section). Section arrays ``(K,)``: cell counts and sizes (mm) and the offset
    of each section in the flat per-event cell vector of length ``n_cells``.
    """

    z_front: np.ndarray
    z_back: np.ndarray
    material: np.ndarray
    section: np.ndarray
    layer: np.ndarray
    active: np.ndarray
    half_width_x: np.ndarray
    half_width_y: np.ndarray
    n_cells_x: np.ndarray
    n_cells_y: np.ndarray
    cell_size_x: np.ndarray
    cell_size_y: np.ndarray
    section_offset: np.ndarray
    n_cells: int

    def kernel_arguments(self) -> tuple:
        return (self.z_front, self.z_back, self.material, self.section, self.layer, self.active,
                self.half_width_x, self.half_width_y, self.n_cells_x, self.n_cells_y, self.cell_size_x,
                self.cell_size_y, self.section_offset)


def kernel_geometry(detector: Calorimeter) -> KernelGeometry:
    """Flatten ``detector`` for :func:`calolab.sim.mc.transport.transport_events`."""
    slabs = detector.slab_arrays()
    sections = detector.sections
    sizes = np.array([int(np.prod(s.shape)) for s in sections], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    section_index = slabs["section"].astype(np.int64)
    half_x = np.array([s.width_x / 2.0 for s in sections])[section_index]
    half_y = np.array([s.width_y / 2.0 for s in sections])[section_index]
    return KernelGeometry(
        z_front=np.ascontiguousarray(slabs["z_front"], dtype=np.float64),
        z_back=np.ascontiguousarray(slabs["z_back"], dtype=np.float64),
        material=np.ascontiguousarray(slabs["material"], dtype=np.int64),
        section=section_index,
        layer=np.ascontiguousarray(slabs["layer"], dtype=np.int64),
        active=np.ascontiguousarray(slabs["active"], dtype=np.bool_),
        half_width_x=half_x,
        half_width_y=half_y,
        n_cells_x=np.array([s.n_cells_x for s in sections], dtype=np.int64),
        n_cells_y=np.array([s.n_cells_y for s in sections], dtype=np.int64),
        cell_size_x=np.array([s.cell_size_x for s in sections], dtype=np.float64),
        cell_size_y=np.array([s.cell_size_y for s in sections], dtype=np.float64),
        section_offset=offsets,
        n_cells=int(sizes.sum()),
    )
