"""Shower windows like the CLIC study: fixed-size cell windows centred on the shower barycentre.

The CLIC calorimeter-imaging data sets (Belayneh et al., "Calorimetry with deep learning",
EPJC 80 (2020) 688, arXiv:1912.06794) store per event an ECAL window of 51 x 51 x 25 cells
(or 25 x 25 x 25) and an HCAL window of 11 x 11 x 60 cells around the energy barycentre, with
the direction of the barycentre seen from the interaction point (``recoTheta``, ``recoEta``,
``recoPhi``). :func:`extract_windows` does the same on calolab's cell arrays, vectorised.

Geometry and conventions (calolab's flat stack, lengths in mm):

* The detector's front face is the plane z = 0; x, y are transverse, z is the depth.
* The **vertex** sits at ``(0, 0, -vertex_distance)``, in front of the face centre, as the
  interaction point sits at the ECAL inner radius (~1.5 m in CLICdet) below a barrel module.
* **Barrel convention**: local **x is the beam axis**, y the azimuthal (phi) direction and z the
  radial direction. With ``v`` the barycentre seen from the vertex,
  ``theta = arccos(v_x / |v|)`` is the polar angle to the beam, ``eta = -ln tan(theta / 2)
  = arcsinh(v_x / sqrt(v_y^2 + v_z^2))`` and ``phi = atan2(v_y, v_z)`` is the azimuth about the
  beam, zero at the face centre. A shower at the face centre has theta = 90 deg, eta = phi = 0.
  (The CLIC converter measured phi in global coordinates, ``atan(y / x)``; here phi is local to
  the module.)
* The **barycentre** is the energy-weighted mean of the cell centres (layer centres in z) of
  the sections in :attr:`WindowSpec.centre_on` (by default the first windowed section, e.g. the
  ECAL; ``"all"`` uses every section, as the CLIC converter did). If those sections hold no
  energy in an event, all sections are used; an event with no energy at all gets a NaN
  barycentre and NaN angles, and windows centred on the grid.
* **Window centres**: a section in ``centre_on`` is centred on the barycentre's (x, y). Another
  section (the HCAL behind an ECAL) is centred on the barycentre projected to its mid-depth along
  the line from the vertex (``projection="pointing"``, the shower axis of a particle from the
  vertex), or straight along z (``projection="straight"``, what the CLIC converter did along the
  beam direction). A window of ``n`` cells starts at cell ``round(u - (n - 1) / 2)``, ``u`` the
  centre in cell units (cell ``i`` has ``u = i``), so an odd window is centred on the cell that
  holds the centre, as in the CLIC converter.
* Windows take the first ``layers`` layers of the section. Cells outside the grid (and layers
  beyond the last) are zero.

>>> import numpy as np
>>> from calolab.detector import load_detector
>>> det = load_detector("clic")
>>> ecal = np.zeros((1, *det.section("ECAL").shape), dtype=np.float32)
>>> ecal[0, 3, 30, 20] = 1000.0  # 1 GeV in one cell
>>> cells = {"ECAL": ecal, "HCAL": np.zeros((1, *det.section("HCAL").shape), dtype=np.float32)}
>>> w = extract_windows(cells, det, WindowSpec.parse({"ECAL": "25x25x25", "HCAL": "11x11x60"}))
>>> w.cells["ECAL"].shape, float(w.cells["ECAL"][0, 3, 12, 12])
((1, 25, 25, 25), 1000.0)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from calolab.detector.geometry import Calorimeter, Section
from calolab.errors import ConfigError

__all__ = [
    "CLIC_VERTEX_DISTANCE",
    "WindowSize",
    "WindowSpec",
    "Windows",
    "direction_angles",
    "extract_windows",
]

#: Default vertex distance (mm): the CLICdet ECAL barrel inner radius, 1.5 m
#: (CLICdet description, CLICdp-Note-2017-001 [M]; arXiv:1912.06794 quotes the same detector).
CLIC_VERTEX_DISTANCE = 1500.0

_SIZE = re.compile(r"^\s*(\d+)\s*[xX*]\s*(\d+)\s*[xX*]\s*(\d+)\s*$")


@dataclass(frozen=True)
class WindowSize:
    """A window of ``nx`` x ``ny`` cells (x, y) over ``layers`` layers.

    Raises:
        ConfigError: a count below 1.
    """

    nx: int
    ny: int
    layers: int

    def __post_init__(self) -> None:
        for name in ("nx", "ny", "layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                msg = f"window {name} = {value!r}: give a whole number of cells >= 1 (e.g. '51x51x25')"
                raise ConfigError(msg)

    @classmethod
    def parse(cls, text: str | WindowSize | Iterable[int]) -> WindowSize:
        """``"51x51x25"`` (x cells, y cells, layers), a 3-sequence or a :class:`WindowSize`.

        >>> WindowSize.parse("51x51x25")
        WindowSize(nx=51, ny=51, layers=25)
        """
        if isinstance(text, WindowSize):
            return text
        if isinstance(text, str):
            match = _SIZE.match(text)
            if match is None:
                msg = f"window size {text!r}: write it as NXxNYxLAYERS, e.g. '51x51x25' or '11x11x60'"
                raise ConfigError(msg)
            return cls(*(int(g) for g in match.groups()))
        values = tuple(text)
        if len(values) != 3:
            msg = f"window size {values!r}: give three numbers (nx, ny, layers), e.g. (51, 51, 25)"
            raise ConfigError(msg)
        return cls(*(int(v) if isinstance(v, int | np.integer) else v for v in values))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Cell-array shape ``(layers, ny, nx)`` (calolab's layer-major order)."""
        return (self.layers, self.ny, self.nx)

    def __str__(self) -> str:
        return f"{self.nx}x{self.ny}x{self.layers}"


@dataclass(frozen=True)
class WindowSpec:
    """Which sections get a window, of what size, and how the windows are centred.

    Attributes:
        sizes: section name -> :class:`WindowSize`, in the order given.
        centre_on: sections whose energy defines the barycentre; ``None`` = the first section of
            the detector that has a window; ``("all",)`` = every section (the CLIC converter).
        projection: ``"pointing"`` (along the line from the vertex) or ``"straight"`` (along z):
            how the barycentre is carried to sections outside ``centre_on``.

    Raises:
        ConfigError: no sections, a bad size, an unknown projection, or ``centre_on`` naming a
            section without a window.
    """

    sizes: Mapping[str, WindowSize] = field(default_factory=dict)
    centre_on: tuple[str, ...] | None = None
    projection: Literal["pointing", "straight"] = "pointing"

    def __post_init__(self) -> None:
        if not self.sizes:
            msg = "window spec: give at least one section window, e.g. {'ECAL': '51x51x25'}"
            raise ConfigError(msg)
        sizes = {str(name): WindowSize.parse(size) for name, size in self.sizes.items()}
        object.__setattr__(self, "sizes", sizes)
        if self.projection not in ("pointing", "straight"):
            msg = f"window projection {self.projection!r}: choose 'pointing' or 'straight'"
            raise ConfigError(msg)
        if self.centre_on is not None:
            centre = (self.centre_on,) if isinstance(self.centre_on, str) else tuple(self.centre_on)
            unknown = [name for name in centre if name != "all" and name not in sizes]
            if not centre or unknown:
                msg = (f"window centre_on {list(centre)}: name sections that have a window "
                       f"({list(sizes)}) or 'all'")
                raise ConfigError(msg)
            object.__setattr__(self, "centre_on", centre)

    def __hash__(self) -> int:
        return hash((tuple(self.sizes.items()), self.centre_on, self.projection))

    @classmethod
    def parse(cls, sizes: Mapping[str, str | WindowSize | Iterable[int]], *,
              centre_on: str | Iterable[str] | None = None,
              projection: Literal["pointing", "straight"] = "pointing") -> WindowSpec:
        """Build a spec from ``{"ECAL": "51x51x25", "HCAL": "11x11x60"}``."""
        centre = None if centre_on is None else (centre_on,) if isinstance(centre_on, str) else tuple(centre_on)
        return cls({name: WindowSize.parse(size) for name, size in sizes.items()}, centre, projection)

    @classmethod
    def clic(cls, ecal: str = "51x51x25", hcal: str = "11x11x60") -> WindowSpec:
        """The CLIC-study windows: ECAL 51x51x25 (or 25x25x25) and HCAL 11x11x60."""
        return cls.parse({"ECAL": ecal, "HCAL": hcal})

    @classmethod
    def default_for(cls, detector: Calorimeter) -> WindowSpec:
        """CLIC sizes for sections named ECAL / HCAL whose grid holds them, else the full grid.

        ECAL 51x51x25 and HCAL 11x11x60 where the section has at least that many cells and
        layers (the ``clic`` preset); any other section, or a smaller one, gets its whole grid.
        """
        defaults = {"ECAL": WindowSize(51, 51, 25), "HCAL": WindowSize(11, 11, 60)}
        sizes = {}
        for s in detector.sections:
            full = WindowSize(s.n_cells_x, s.n_cells_y, s.n_layers)
            clic = defaults.get(s.name)
            fits = clic is not None and clic.nx <= full.nx and clic.ny <= full.ny and clic.layers <= full.layers
            sizes[s.name] = clic if fits and clic is not None else full
        return cls(sizes)

    def resolve_centre(self, detector: Calorimeter) -> tuple[str, ...]:
        """The section names whose energy defines the barycentre, for ``detector``."""
        if self.centre_on is None:
            return (next(s.name for s in detector.sections if s.name in self.sizes),)
        if "all" in self.centre_on:
            return tuple(s.name for s in detector.sections)
        return self.centre_on

    def describe(self) -> str:
        """``"ECAL 51x51x25, HCAL 11x11x60"``."""
        return ", ".join(f"{name} {size}" for name, size in self.sizes.items())


@dataclass(frozen=True)
class Windows:
    """Windows of ``N`` events and the barycentre direction.

    Attributes:
        cells: section name -> ``(N, layers, ny, nx)`` float32 windows, in the unit of the input
            cells (MeV for calolab files).
        barycentre: ``(N, 3)`` float64, mm: the energy barycentre (x, y, z); NaN for empty events.
        theta: ``(N,)`` polar angle (rad) of the barycentre seen from the vertex, to the x (beam) axis.
        phi: ``(N,)`` azimuth (rad) about the x axis, ``atan2(y, z + vertex_distance)``.
        eta: ``(N,)`` pseudorapidity ``-ln tan(theta / 2)``.
        origin: section name -> ``(N, 2)`` int64 cell indices ``(ix, iy)`` of each window's first
            cell in the section grid (may be negative or beyond the grid: padded cells).
        vertex_distance: distance (mm) of the vertex in front of the face.
        spec: the :class:`WindowSpec` used.
    """

    cells: dict[str, np.ndarray]
    barycentre: np.ndarray
    theta: np.ndarray
    phi: np.ndarray
    eta: np.ndarray
    origin: dict[str, np.ndarray]
    vertex_distance: float
    spec: WindowSpec

    def __len__(self) -> int:
        return int(self.barycentre.shape[0])


# ---------------------------------------------------------------- pure geometry


def direction_angles(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(theta, phi, eta)`` of vectors ``(..., 3)`` in the barrel convention (x = beam axis).

    ``theta = arccos(v_x / |v|)``, ``phi = atan2(v_y, v_z)``, ``eta = arcsinh(v_x / sqrt(v_y^2 + v_z^2))``
    (the same as ``-ln tan(theta / 2)``). Zero or NaN vectors give NaN.

    >>> theta, phi, eta = direction_angles(np.array([0.0, 0.0, 1.0]))
    >>> float(np.degrees(theta)), float(phi), float(eta)
    (90.0, 0.0, 0.0)
    """
    v = np.asarray(vectors, dtype=np.float64)
    norm = np.linalg.norm(v, axis=-1)
    transverse = np.hypot(v[..., 1], v[..., 2])
    with np.errstate(invalid="ignore", divide="ignore"):
        bad = ~(norm > 0)
        theta = np.where(bad, np.nan, np.arccos(np.clip(v[..., 0] / np.where(bad, 1.0, norm), -1.0, 1.0)))
        phi = np.where(bad, np.nan, np.arctan2(v[..., 1], v[..., 2]))
        eta = np.where(bad, np.nan, np.arcsinh(v[..., 0] / transverse))  # +-inf along the beam axis
    return theta, phi, eta


def _window_start(centre: np.ndarray, width: float, cell_size: float, n: int) -> np.ndarray:
    """First cell index of ``n``-cell windows centred at ``centre`` (mm) on a grid centred on 0."""
    u = (centre + width / 2) / cell_size - 0.5  # cell i has its centre at u = i
    u = np.where(np.isfinite(u), u, (width / cell_size - 1) / 2)  # empty events: the grid centre
    return np.floor(u - (n - 1) / 2 + 0.5).astype(np.int64)  # round half up, no banker's rounding


def _cut(cells: np.ndarray, section: Section, size: WindowSize, start_x: np.ndarray,
         start_y: np.ndarray) -> np.ndarray:
    """Gather ``(N, layers, ny, nx)`` windows starting at cells ``(start_x, start_y)``, zero outside."""
    n_events = cells.shape[0]
    ix = start_x[:, None] + np.arange(size.nx)  # (N, nx)
    iy = start_y[:, None] + np.arange(size.ny)  # (N, ny)
    layers = min(size.layers, section.n_layers)
    inside_x = (ix >= 0) & (ix < section.n_cells_x)
    inside_y = (iy >= 0) & (iy < section.n_cells_y)
    out = np.zeros((n_events, size.layers, size.ny, size.nx), dtype=np.float32)
    if n_events == 0:
        return out
    events = np.arange(n_events)[:, None, None, None]
    gathered = cells[events, np.arange(layers)[None, :, None, None],
                     np.clip(iy, 0, section.n_cells_y - 1)[:, None, :, None],
                     np.clip(ix, 0, section.n_cells_x - 1)[:, None, None, :]]
    mask = (inside_y[:, :, None] & inside_x[:, None, :])[:, None, :, :]
    out[:, :layers] = np.where(mask, gathered, 0.0)
    return out


def _barycentre(cells_by_section: Mapping[str, np.ndarray], sections: Iterable[Section]) -> np.ndarray:
    """Energy-weighted mean cell centre (x, y, z) in mm, ``(N, 3)``; NaN where there is no energy."""
    totals, moments = [], []
    for section in sections:
        e = np.asarray(cells_by_section[section.name], dtype=np.float64)
        per_layer = e.sum(axis=(2, 3))  # (N, L)
        ex = (e.sum(axis=(1, 2)) * section.cell_centres_x()).sum(axis=1)
        ey = (e.sum(axis=(1, 3)) * section.cell_centres_y()).sum(axis=1)
        ez = (per_layer * section.layer_z_centres()).sum(axis=1)
        totals.append(per_layer.sum(axis=1))
        moments.append(np.stack([ex, ey, ez], axis=1))
    total = np.sum(totals, axis=0)
    moment = np.sum(moments, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((total > 0)[:, None], moment / np.where(total > 0, total, 1.0)[:, None], np.nan)


# ---------------------------------------------------------------- extraction


def extract_windows(
    cells_by_section: Mapping[str, np.ndarray],
    detector: Calorimeter,
    spec: WindowSpec | None = None,
    *,
    vertex_distance: float = CLIC_VERTEX_DISTANCE,
) -> Windows:
    """Cut windows centred on the shower barycentre and estimate its direction from the vertex.

    Args:
        cells_by_section: section name -> ``(N, layers, y, x)`` cell energies (MeV), as in
            :meth:`~calolab.data.showerfile.ShowerFile.energy`; every section of ``spec`` (and of
            its ``centre_on``) must be present.
        detector: the detector the cells belong to.
        spec: the windows; ``None`` = :meth:`WindowSpec.default_for` the detector.
        vertex_distance: distance (mm) of the vertex in front of the face centre, > 0.

    Returns:
        the :class:`Windows`; window cells keep the input unit.

    Raises:
        ConfigError: a section unknown to the detector or missing from ``cells_by_section``, a
            cell array of the wrong shape, event counts that differ, or ``vertex_distance <= 0``.
    """
    spec = WindowSpec.default_for(detector) if spec is None else spec
    if not np.isfinite(vertex_distance) or vertex_distance <= 0:
        msg = f"vertex_distance = {vertex_distance!r} mm: give a positive distance, e.g. 1.5m (CLIC ECAL radius)"
        raise ConfigError(msg)
    names = [s.name for s in detector.sections]
    unknown = [name for name in spec.sizes if name not in names]
    if unknown:
        msg = f"window sections {unknown} are not in detector {detector.name!r}: choose from {names}"
        raise ConfigError(msg)
    centre_names = spec.resolve_centre(detector)
    needed = [s for s in detector.sections if s.name in spec.sizes or s.name in centre_names]
    counts = set()
    for section in needed:
        if section.name not in cells_by_section:
            msg = f"cells of section {section.name!r} are missing: give all of {[s.name for s in needed]}"
            raise ConfigError(msg)
        shape = tuple(np.shape(cells_by_section[section.name]))
        if len(shape) != 4 or shape[1:] != section.shape:
            expected = ", ".join(map(str, section.shape))
            msg = (f"cells of section {section.name!r} have shape {shape}, expected (N, {expected}) "
                   f"= (N, layers, y, x) for detector {detector.name!r}")
            raise ConfigError(msg)
        counts.add(shape[0])
    if len(counts) > 1:
        msg = f"sections have different numbers of events {sorted(counts)}: give the same events for each"
        raise ConfigError(msg)

    centre_sections = [s for s in detector.sections if s.name in centre_names]
    barycentre = _barycentre(cells_by_section, centre_sections)
    empty = ~np.isfinite(barycentre[:, 0])
    if np.any(empty) and len(centre_sections) < len(needed):  # fall back to every section with cells
        fallback = _barycentre({k: np.asarray(cells_by_section[k])[empty] for k in
                                (s.name for s in needed)}, needed)
        barycentre[empty] = fallback
    theta, phi, eta = direction_angles(barycentre + np.array([0.0, 0.0, vertex_distance]))

    cells: dict[str, np.ndarray] = {}
    origin: dict[str, np.ndarray] = {}
    for section in detector.sections:
        size = spec.sizes.get(section.name)
        if size is None:
            continue
        if section.name in centre_names or spec.projection == "straight":
            centre_xy = barycentre[:, :2]
        else:  # along the line vertex -> barycentre, to the section's mid-depth
            z_mid = (section.z_front + section.z_back) / 2
            with np.errstate(invalid="ignore"):
                scale = (vertex_distance + z_mid) / (vertex_distance + barycentre[:, 2])
            centre_xy = barycentre[:, :2] * scale[:, None]
        start_x = _window_start(centre_xy[:, 0], section.width_x, section.cell_size_x, size.nx)
        start_y = _window_start(centre_xy[:, 1], section.width_y, section.cell_size_y, size.ny)
        cells[section.name] = _cut(np.asarray(cells_by_section[section.name]), section, size, start_x, start_y)
        origin[section.name] = np.stack([start_x, start_y], axis=1)
    return Windows(cells=cells, barycentre=barycentre, theta=theta, phi=phi, eta=eta, origin=origin,
                   vertex_distance=float(vertex_distance), spec=spec)
