"""The CaloChallenge 2022 HDF5 layout: its (r, alpha) binning in calolab terms, writing and reading.

The Fast Calorimeter Simulation Challenge 2022 (arXiv:2410.21611; its homepage and the binning
files ``binning_dataset_*.xml`` of github.com/CaloChallenge/homepage, read for this module) ships
one flat HDF5 group per file, ``N`` events::

    incident_energies  (N, 1)         energy of the incoming particle, MeV
    showers            (N, n_voxels)  deposited energy per voxel, MeV, flattened

**Geometry.** Concentric cylinders around the particle's axis (z): the detector is cut along z
into layers, each layer into ``n_r`` radial bins (edges in mm) and ``n_alpha`` equal bins of the
angle alpha about the axis. A layer whose XML ``r_edges`` is the single value ``"0"`` has no
voxels (dataset 1 keeps only some ATLAS samplings) and is absent from ``showers``.

**Flattening order** (the challenge README: "radial bins, angular bins, layer"): r fastest, then
alpha, then layer. Voxel ``(layer k, alpha bin j, r bin i)`` of a layer with ``n_r`` radial bins is
column ``offset[k] + j * n_r + i``; a uniform binning's ``showers.reshape(N, layers, n_alpha, n_r)``
is therefore its natural shape, and :meth:`CaloChallengeBinning.unflatten` returns
``(N, layers, n_r, n_alpha)``.

**Alpha.** Bin ``j`` spans ``[-pi + j * 2pi/n_alpha, -pi + (j+1) * 2pi/n_alpha)`` with
``alpha = atan2(y, x)`` (the challenge's XMLHandler: bin centres of ``linspace(-pi, pi, n+1)``,
voxel position ``x = r cos(alpha)``, ``y = r sin(alpha)``, its "eta" and "phi" axes). calolab
maps its local ``x`` and ``y`` (:mod:`calolab.detector.geometry`) onto these ``x`` and ``y``.

**The datasets** (built in as :data:`BUILTIN_BINNINGS`; the XML files, read):

=================  ==============================================================  ========
name               layers x r x alpha                                              voxels
=================  ==============================================================  ========
dataset1-photons   ATLAS samplings 0, 1, 2, 3, 12 (pid 22): 8x1, 16x10, 19x10,      368
                   5x1, 5x1; r up to 600 / 200 / 400 / 600 / 2000 mm
dataset1-pions     samplings 0, 1, 2, 3, 12, 13, 14 (pid 211): 8x1, 10x10, 10x10,   533
                   5x1, 15x10, 16x10, 10x1
dataset2           45 layers x 9 r (0-41.85 mm, 4.65 mm wide) x 16 alpha (e-)      6480
dataset3           45 layers x 18 r (0-41.85 mm, 2.325 mm wide) x 50 alpha (e-)    40500
=================  ==============================================================  ========

The radial bins of datasets 2 and 3 are 0.5 and 0.25 Moliere radii of tungsten (R_M = 9.327 mm,
PDG; REFERENCES.md). Datasets 2 and 3 were made with the Geant4 Par04 example, a cylinder of
Si-W layers; :func:`calochallenge_detector` gives a calolab :class:`Calorimeter` with their layer
count and a square cell grid covering the binning, whose stack (1.4 mm W + 0.3 mm Si per layer)
is quoted from memory of the challenge paper [M], not checked.

calolab adds root attributes to the files it writes (``calolab_format = "calolab-calochallenge"``,
``binning`` (the XML text), ``binning_name``, ``calolab_version``, ``created``); readers of the public
files ignore them. calolab cell arrays on a Cartesian grid are converted in
:mod:`calolab.data.formats.polar` and :mod:`calolab.data.convert`.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from calolab import __version__
from calolab.data.atomic import atomic_path
from calolab.errors import ConfigError, DatasetError

if TYPE_CHECKING:
    from calolab.detector.geometry import Calorimeter

__all__ = [
    "BUILTIN_BINNINGS",
    "CALOCHALLENGE_FORMAT",
    "CaloChallengeBinning",
    "CaloChallengeData",
    "CaloChallengeWriter",
    "LayerBinning",
    "calochallenge_detector",
    "read_calochallenge",
    "write_calochallenge",
]

#: Value of the root ``calolab_format`` attribute of CaloChallenge files written by calolab.
CALOCHALLENGE_FORMAT = "calolab-calochallenge"

_FIX = "copy it again, or regenerate it (calolab convert ... --to calochallenge)"


# ---------------------------------------------------------------- binning


@dataclass(frozen=True)
class LayerBinning:
    """The (r, alpha) bins of one layer.

    Attributes:
        index: the layer's ``id`` in the binning XML (dataset 1: the ATLAS sampling).
        r_edges: radial bin edges, mm, increasing (``n_r + 1`` values).
        n_alpha: number of equal bins of alpha over ``[-pi, pi)``.
    """

    index: int
    r_edges: tuple[float, ...]
    n_alpha: int

    @property
    def n_r(self) -> int:
        return len(self.r_edges) - 1

    @property
    def n_voxels(self) -> int:
        return self.n_r * self.n_alpha

    @property
    def r_max(self) -> float:
        """Outer radius of the last radial bin, mm."""
        return self.r_edges[-1]

    def alpha_edges(self) -> np.ndarray:
        """Alpha bin edges, rad, ``(n_alpha + 1,)`` from -pi to pi."""
        return np.linspace(-np.pi, np.pi, self.n_alpha + 1)

    def r_centres(self) -> np.ndarray:
        """Mid-points of the radial bins, mm, ``(n_r,)`` (the challenge's voxel radius)."""
        edges = np.asarray(self.r_edges)
        return (edges[:-1] + edges[1:]) / 2

    def describe(self) -> str:
        edges = np.asarray(self.r_edges)
        widths = np.diff(edges)
        if np.allclose(widths, widths[0], rtol=1e-9):
            radial = f"{self.n_r} r ({edges[0]:g}-{edges[-1]:g} mm, {widths[0]:g} mm wide)"
        else:
            radial = f"{self.n_r} r (edges {', '.join(f'{e:g}' for e in edges)} mm)"
        angular = "no alpha bins" if self.n_alpha == 1 else f"{self.n_alpha} alpha ({360 / self.n_alpha:g} deg)"
        return f"{radial} x {angular} = {self.n_voxels} voxels"


def _layer(index: int, edges: Sequence[float], n_alpha: int, where: str) -> LayerBinning:
    values = tuple(float(e) for e in edges)
    if len(values) < 2:
        msg = f"{where}: layer {index} has r_edges {list(values)}: give at least two edges (mm) for a layer with voxels"
        raise ConfigError(msg)
    if not all(math.isfinite(e) for e in values) or values[0] < 0 or any(b <= a for a, b in zip(values, values[1:])):
        msg = f"{where}: layer {index} r_edges {list(values)} must be finite, >= 0 and strictly increasing (mm)"
        raise ConfigError(msg)
    if int(n_alpha) != n_alpha or n_alpha < 1:
        msg = f"{where}: layer {index} n_bin_alpha = {n_alpha!r}: give an integer >= 1"
        raise ConfigError(msg)
    return LayerBinning(int(index), values, int(n_alpha))


@dataclass(frozen=True)
class CaloChallengeBinning:
    """A CaloChallenge geometry: per layer, radial edges (mm) and a number of alpha bins.

    Build one with :meth:`builtin`, :meth:`from_xml`, :meth:`regular` or :meth:`resolve`.

    Attributes:
        name: a label (``"dataset2"``, the XML file name, ...).
        layers: the layers that have voxels, in file order.
        particle: the XML ``name`` of the particle (``"electron"``), or ``""``.
        pdg: the XML ``pid`` (11, 22, 211), or 0 if unknown.
        empty_layers: XML layer ids without voxels (absent from ``showers``).
    """

    name: str
    layers: tuple[LayerBinning, ...]
    particle: str = ""
    pdg: int = 0
    empty_layers: tuple[int, ...] = ()
    _offsets: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.layers:
            msg = f"binning {self.name!r} has no layer with voxels: give at least one layer with r bins"
            raise ConfigError(msg)
        offsets = np.concatenate([[0], np.cumsum([layer.n_voxels for layer in self.layers])])
        object.__setattr__(self, "_offsets", tuple(int(o) for o in offsets))

    # ------------------------------------------------------------ construction

    @classmethod
    def builtin(cls, name: str) -> CaloChallengeBinning:
        """A built-in binning: ``dataset1-photons``, ``dataset1-pions``, ``dataset2``, ``dataset3``.

        Raises:
            ConfigError: an unknown name (the message lists the built-ins).
        """
        key = name.strip().lower().replace("_", "-").replace(" ", "")
        key = {"ds1-photons": "dataset1-photons", "ds1-pions": "dataset1-pions", "ds2": "dataset2",
               "ds3": "dataset3"}.get(key, key)
        if key not in BUILTIN_BINNINGS:
            msg = (f"unknown CaloChallenge binning {name!r}: choose one of {sorted(BUILTIN_BINNINGS)}, "
                   f"or give the path of a binning .xml file")
            raise ConfigError(msg)
        return BUILTIN_BINNINGS[key]

    @classmethod
    def regular(cls, n_layers: int, r_edges: Sequence[float], n_alpha: int, *, name: str = "regular",
                particle: str = "", pdg: int = 0) -> CaloChallengeBinning:
        """``n_layers`` identical layers with radial edges ``r_edges`` (mm) and ``n_alpha`` alpha bins.

        >>> CaloChallengeBinning.regular(45, [4.65 * i for i in range(10)], 16).n_voxels
        6480
        """
        if int(n_layers) != n_layers or n_layers < 1:
            msg = f"n_layers = {n_layers!r}: give an integer >= 1"
            raise ConfigError(msg)
        layers = tuple(_layer(i, r_edges, n_alpha, name) for i in range(int(n_layers)))
        return cls(name, layers, particle, int(pdg))

    @classmethod
    def from_xml(cls, source: str | os.PathLike[str], particle: str | None = None) -> CaloChallengeBinning:
        """Parse a challenge binning XML: a path, or the XML text itself.

        The layout: ``<Bins><Bin pid=".." name=".."><Layer id=".." r_edges="0,4.65,.." n_bin_alpha=".."/>
        ...</Bin></Bins>``. A file with several ``<Bin>`` elements needs ``particle`` (its ``name``
        or ``pid``).

        Raises:
            ConfigError: a missing file, malformed XML, no or ambiguous ``<Bin>``, bad edges or counts.
        """
        text_given = isinstance(source, str) and source.lstrip().startswith("<")
        where = "binning XML text" if text_given else str(source)
        if text_given:
            text = str(source)
            name = "custom"
        else:
            path = Path(source)
            if not path.is_file():
                msg = f"binning file {path} does not exist: give a CaloChallenge binning .xml or dataset2/dataset3"
                raise ConfigError(msg)
            text = path.read_text(encoding="utf-8")
            name = path.stem
        try:
            root = ET.fromstring(text)  # noqa: S314  (a local file the user names, not network input)
        except ET.ParseError as error:
            msg = f"{where} is not valid XML ({error}): give a CaloChallenge binning file (<Bins><Bin><Layer .../>)"
            raise ConfigError(msg) from None
        bins = [root] if root.tag == "Bin" else [item for item in root if item.tag == "Bin"]
        if not bins:
            msg = f"{where} has no <Bin> element: a CaloChallenge binning file holds <Bins><Bin><Layer .../></Bin></Bins>"
            raise ConfigError(msg)
        if particle is not None:
            chosen = [b for b in bins if particle in (b.get("name"), b.get("pid"))]
            if not chosen:
                found = [f"{b.get('name')} (pid {b.get('pid')})" for b in bins]
                msg = f"{where} has no <Bin> for particle {particle!r}: it has {found}"
                raise ConfigError(msg)
            bins = chosen
        if len(bins) > 1:
            found = [f"{b.get('name')} (pid {b.get('pid')})" for b in bins]
            msg = f"{where} has {len(bins)} <Bin> elements {found}: choose one with particle=NAME or PID"
            raise ConfigError(msg)
        element = bins[0]
        layers: list[LayerBinning] = []
        empty: list[int] = []
        for position, item in enumerate(child for child in element if child.tag == "Layer"):
            raw_id, raw_edges, raw_alpha = item.get("id"), item.get("r_edges"), item.get("n_bin_alpha", "1")
            try:
                index = int(raw_id) if raw_id is not None else position
                edges = [float(e) for e in (raw_edges or "").split(",") if e.strip()]
                n_alpha = int(raw_alpha)
            except ValueError:
                msg = (f"{where}: <Layer> {position} has id={raw_id!r} r_edges={raw_edges!r} n_bin_alpha={raw_alpha!r}: "
                       f"give an integer id, comma-separated numbers (mm) and an integer n_bin_alpha")
                raise ConfigError(msg) from None
            if len(edges) <= 1:
                empty.append(index)
            else:
                layers.append(_layer(index, edges, n_alpha, where))
        if not layers:
            msg = f"{where}: no <Layer> with r bins (r_edges with two or more values)"
            raise ConfigError(msg)
        try:
            pdg = int(element.get("pid", "0"))
        except ValueError:
            pdg = 0
        return cls(name, tuple(layers), element.get("name", ""), pdg, tuple(empty))

    @classmethod
    def resolve(cls, spec: str | os.PathLike[str] | CaloChallengeBinning) -> CaloChallengeBinning:
        """A binning from a built-in name, an XML path or XML text, or a binning (returned as is)."""
        if isinstance(spec, CaloChallengeBinning):
            return spec
        text = os.fspath(spec)
        if text.lstrip().startswith("<"):
            return cls.from_xml(text)
        if isinstance(spec, Path) or text.lower().endswith(".xml") or "/" in text or Path(text).is_file():
            return cls.from_xml(Path(text))
        return cls.builtin(text)

    @staticmethod
    def matching(n_voxels: int) -> list[CaloChallengeBinning]:
        """The built-in binnings with ``n_voxels`` voxels per shower."""
        return [b for b in BUILTIN_BINNINGS.values() if b.n_voxels == n_voxels]

    # ------------------------------------------------------------ sizes and order

    @property
    def n_layers(self) -> int:
        """Layers with voxels."""
        return len(self.layers)

    @property
    def n_voxels(self) -> int:
        return self._offsets[-1]

    @property
    def offsets(self) -> tuple[int, ...]:
        """Column of each layer's first voxel in ``showers``, and the total (``n_layers + 1`` values)."""
        return self._offsets

    @property
    def uniform(self) -> bool:
        """Whether every layer has the same r edges and alpha count (so showers reshape to a 4-d grid)."""
        first = self.layers[0]
        return all(layer.r_edges == first.r_edges and layer.n_alpha == first.n_alpha for layer in self.layers)

    @property
    def r_max(self) -> float:
        """Largest outer radius over the layers, mm."""
        return max(layer.r_max for layer in self.layers)

    def layer_slice(self, k: int) -> slice:
        """Columns of layer ``k`` (0-based among the layers with voxels) in ``showers``."""
        return slice(self._offsets[k], self._offsets[k + 1])

    def split(self, showers: np.ndarray) -> list[np.ndarray]:
        """``(N, n_voxels)`` -> one ``(N, n_r, n_alpha)`` array per layer (views, no copy)."""
        flat = self._check_flat(showers)
        n = flat.shape[0]
        return [np.swapaxes(flat[:, self.layer_slice(k)].reshape(n, layer.n_alpha, layer.n_r), 1, 2)
                for k, layer in enumerate(self.layers)]

    def unflatten(self, showers: np.ndarray) -> np.ndarray:
        """``(N, n_voxels)`` -> ``(N, layers, n_r, n_alpha)`` (a view); uniform binnings only.

        Raises:
            DatasetError: a non-uniform binning (use :meth:`split`) or the wrong number of voxels.
        """
        flat = self._check_flat(showers)
        if not self.uniform:
            msg = f"binning {self.name!r} has layers of different sizes: use split() for one array per layer"
            raise DatasetError(msg)
        first = self.layers[0]
        grid = flat.reshape(flat.shape[0], self.n_layers, first.n_alpha, first.n_r)
        return np.swapaxes(grid, 2, 3)

    def flatten(self, voxels: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Inverse of :meth:`unflatten` / :meth:`split`: ``(N, layers, n_r, n_alpha)`` or a list of
        ``(N, n_r, n_alpha)`` -> ``(N, n_voxels)`` in file order.

        Raises:
            DatasetError: shapes that do not match the binning.
        """
        per_layer: list[np.ndarray] | None
        if not isinstance(voxels, np.ndarray):
            per_layer = list(voxels)
        elif voxels.ndim == 4:
            per_layer = [voxels[:, k] for k in range(voxels.shape[1])]
        else:
            per_layer = None
        if per_layer is None or len(per_layer) != self.n_layers:
            got = np.shape(voxels) if isinstance(voxels, np.ndarray) else f"{len(per_layer or [])} arrays"
            msg = f"flatten: got {got}; binning {self.name!r} needs (N, {self.n_layers}, n_r, n_alpha) or one array per layer"
            raise DatasetError(msg)
        parts = []
        for k, (array, layer) in enumerate(zip(per_layer, self.layers, strict=True)):
            array = np.asarray(array)
            if array.ndim != 3 or array.shape[1:] != (layer.n_r, layer.n_alpha):
                msg = f"flatten: layer {k} has shape {array.shape}, binning {self.name!r} needs (N, {layer.n_r}, {layer.n_alpha})"
                raise DatasetError(msg)
            parts.append(np.swapaxes(array, 1, 2).reshape(array.shape[0], -1))
        return np.concatenate(parts, axis=1)

    def voxel_centres(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per voxel in file order: ``(layer (0-based), r centre mm, alpha centre rad)``, each ``(n_voxels,)``."""
        layer_of, radius, angle = [], [], []
        for k, layer in enumerate(self.layers):
            edges = layer.alpha_edges()
            alpha = (edges[:-1] + edges[1:]) / 2
            layer_of.append(np.full(layer.n_voxels, k))
            radius.append(np.tile(layer.r_centres(), layer.n_alpha))
            angle.append(np.repeat(alpha, layer.n_r))
        return np.concatenate(layer_of), np.concatenate(radius), np.concatenate(angle)

    def _check_flat(self, showers: np.ndarray) -> np.ndarray:
        flat = np.asarray(showers)
        if flat.ndim != 2 or flat.shape[1] != self.n_voxels:
            msg = (f"showers of shape {flat.shape} do not fit binning {self.name!r}: it needs (N, {self.n_voxels}) "
                   f"({self.describe(short=True)})")
            raise DatasetError(msg)
        return flat

    # ------------------------------------------------------------ text

    def describe(self, short: bool = False) -> str:
        """The binning in calolab terms: layers, r bins (mm), alpha bins, voxels.

        >>> CaloChallengeBinning.builtin("dataset2").describe(short=True)
        'dataset2: 45 layers x 9 r (0-41.85 mm, 4.65 mm wide) x 16 alpha (22.5 deg) = 6480 voxels'
        """
        if self.uniform:
            layer = self.layers[0]
            body = layer.describe().replace(f" = {layer.n_voxels} voxels", "")
            head = f"{self.name}: {self.n_layers} layers x {body} = {self.n_voxels} voxels"
        else:
            head = f"{self.name}: {self.n_layers} layers with voxels, {self.n_voxels} voxels"
        if short:
            return head
        lines = [head]
        if self.particle or self.pdg:
            lines.append(f"  particle {self.particle or '?'} (pdg {self.pdg})")
        lines.append("  order: r fastest, then alpha, then layer; alpha bins from -pi, alpha = atan2(y, x)")
        if not self.uniform:
            lines.extend(f"  layer {layer.index}: {layer.describe()}" for layer in self.layers)
        if self.empty_layers:
            lines.append(f"  layers without voxels: {', '.join(str(i) for i in self.empty_layers)}")
        return "\n".join(lines)

    def to_xml(self) -> str:
        """The binning as challenge XML text (empty layers included, in id order)."""
        entries = [(layer.index, ",".join(f"{e:g}" for e in layer.r_edges), layer.n_alpha) for layer in self.layers]
        entries += [(index, "0", 1) for index in self.empty_layers]
        rows = [f'      <Layer id="{i}" r_edges="{edges}" n_bin_alpha="{n}" />' for i, edges, n in sorted(entries)]
        name = self.particle or "particle"
        return "\n".join(["<Bins>", f'   <Bin pid="{self.pdg}" name="{name}">', *rows, "   </Bin>", "</Bins>", ""])


def _builtin_table() -> dict[str, CaloChallengeBinning]:
    # Values read in the challenge's binning_dataset_{1_photons,1_pions,2,3}.xml (CaloChallenge/homepage, code/)
    def sampled(name: str, particle: str, pdg: int, table: dict[int, tuple[str, int]]) -> CaloChallengeBinning:
        layers = tuple(_layer(i, [float(e) for e in edges.split(",")], n, name) for i, (edges, n) in table.items())
        empty = tuple(i for i in range(24) if i not in table)
        return CaloChallengeBinning(name, layers, particle, pdg, empty)

    photons = sampled("dataset1-photons", "photon", 22, {
        0: ("0,5,10,30,50,100,200,400,600", 1),
        1: ("0,2,4,6,8,10,12,15,20,30,40,50,70,90,120,150,200", 10),
        2: ("0,2,5,10,15,20,25,30,40,50,60,80,100,130,160,200,250,300,350,400", 10),
        3: ("0,50,100,200,400,600", 1),
        12: ("0,100,200,400,1000,2000", 1),
    })
    pions = sampled("dataset1-pions", "pion", 211, {
        0: ("0,5,10,30,50,100,200,400,600", 1),
        1: ("0,1,4,7,10,15,30,50,90,150,200", 10),
        2: ("0,5,10,20,30,50,80,130,200,300,400", 10),
        3: ("0,50,100,200,400,600", 1),
        12: ("0,10,20,30,50,80,100,130,160,200,250,300,350,400,1000,2000", 10),
        13: ("0,10,20,30,50,80,100,130,160,200,250,300,350,400,600,1000,2000", 10),
        14: ("0,50,100,150,200,250,300,400,600,1000,2000", 1),
    })
    dataset2 = CaloChallengeBinning.regular(45, [round(4.65 * i, 6) for i in range(10)], 16, name="dataset2",
                                            particle="electron", pdg=11)
    dataset3 = CaloChallengeBinning.regular(45, [round(2.325 * i, 6) for i in range(19)], 50, name="dataset3",
                                            particle="electron", pdg=11)
    return {b.name: b for b in (photons, pions, dataset2, dataset3)}


#: The challenge's binnings by name (see the module table).
BUILTIN_BINNINGS: Mapping[str, CaloChallengeBinning] = _builtin_table()


def calochallenge_detector(binning: CaloChallengeBinning | str = "dataset2", *, cell_size: float | None = None,
                           max_cells: int = 64) -> Calorimeter:
    """A calolab detector with the binning's layer count and a square grid covering its cylinder.

    One section ``ECAL`` of ``binning.n_layers`` layers of 1.4 mm W + 0.3 mm Si (the dataset 2/3 stack,
    [M]: quoted from memory of arXiv:2410.21611, not checked; for dataset 1 only the grid is meant),
    with square cells of ``cell_size`` mm (default: the narrowest radial bin of the layer with the
    most voxels, 4.65 mm for dataset 2, 2.325 mm for dataset 3) and an even number of cells per side
    covering that layer's outer radius (18 x 18 for dataset 2, 36 x 36 for dataset 3), at most
    ``max_cells`` (cells then grow to cover the radius).

    Raises:
        ConfigError: a non-positive ``cell_size`` or ``max_cells`` < 2.
    """
    from calolab.detector.config import config_from_dict
    from calolab.detector.geometry import Calorimeter

    binning = CaloChallengeBinning.resolve(binning)
    main = max(binning.layers, key=lambda layer: layer.n_voxels)
    if cell_size is not None and not cell_size > 0:
        msg = f"cell_size = {cell_size!r}: give a positive cell size in mm"
        raise ConfigError(msg)
    if max_cells < 2:
        msg = f"max_cells = {max_cells!r}: give at least 2 cells per side"
        raise ConfigError(msg)
    size = float(cell_size) if cell_size is not None else round(float(np.min(np.diff(main.r_edges))), 9)
    n = 2 * math.ceil(main.r_max / size - 1e-9)
    if n > max_cells:
        n = max_cells - max_cells % 2
        size = 2 * main.r_max / n
    data = {
        "name": f"calochallenge-{re.sub(r'[^A-Za-z0-9_-]+', '-', binning.name)}",
        "description": (f"CaloChallenge {binning.name} on a Cartesian grid: {binning.n_layers} layers, "
                        f"{n} x {n} cells of {size:g} mm covering r < {main.r_max:g} mm"),
        "reference": "arXiv:2410.21611 (CaloChallenge 2022)",
        "sections": [{
            "name": "ECAL",
            "cells": [n, n],
            "cell_size": [size, size],
            "layers": [{"count": binning.n_layers, "absorber": {"material": "W", "thickness": 1.4},
                        "active": {"material": "Si", "thickness": 0.3}}],
        }],
    }
    return Calorimeter(config_from_dict(data, source=f"calochallenge_detector({binning.name})"))


# ---------------------------------------------------------------- writing


def _compression(compression: str | None) -> dict[str, Any]:
    if compression in (None, "none"):
        return {}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if compression == "lzf":
        return {"compression": "lzf", "shuffle": True}
    msg = f"unknown compression {compression!r} for a CaloChallenge file: choose 'gzip' (as the challenge), 'lzf' or None"
    raise ConfigError(msg)


def _check_output(path: Path, overwrite: bool) -> None:
    if path.is_dir():
        msg = f"{path} is a folder: give a file name such as {path / 'showers_calochallenge.h5'}"
        raise DatasetError(msg)
    if path.exists() and not overwrite:
        msg = f"{path} already exists: choose another -o, delete it, or overwrite it (--overwrite)"
        raise DatasetError(msg)
    if not path.parent.is_dir():
        msg = f"folder {path.parent} does not exist: create it or choose another -o"
        raise DatasetError(msg)


def _float_array(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32 if what == "showers" else np.float64)
    return array


class CaloChallengeWriter:
    """Appends events to an open HDF5 file in the CaloChallenge layout (resizable along N).

    Args:
        file: an HDF5 file open for writing (the caller makes it atomic, e.g. with
            :func:`~calolab.data.atomic.atomic_path`).
        binning: the geometry; its XML is stored in the ``binning`` root attribute.
        shower_dtype, energy_dtype: stored dtypes (the public files: float32 / float64 [M]).
        compression: ``"gzip"`` (default), ``"lzf"`` or ``None``.
        attrs: extra root attributes (str or numbers).
    """

    def __init__(self, file: h5py.File, binning: CaloChallengeBinning, *, shower_dtype: Any = np.float32,
                 energy_dtype: Any = np.float64, compression: str | None = "gzip",
                 attrs: Mapping[str, Any] | None = None) -> None:
        options = _compression(compression)
        self.file = file
        self.binning = binning
        self.n_events = 0
        file.attrs["calolab_format"] = CALOCHALLENGE_FORMAT
        file.attrs["calolab_version"] = __version__
        file.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        file.attrs["binning_name"] = binning.name
        file.attrs["binning"] = binning.to_xml()
        file.attrs["voxel_order"] = "r fastest, then alpha (from -pi), then layer"
        for key, value in (attrs or {}).items():
            file.attrs[key] = value
        row_bytes = binning.n_voxels * np.dtype(shower_dtype).itemsize
        chunk = max(1, min(1024, (1 << 20) // row_bytes))
        self.energies = file.create_dataset("incident_energies", shape=(0, 1), maxshape=(None, 1), dtype=energy_dtype,
                                            chunks=(max(chunk, 256), 1), **options)
        self.energies.attrs["unit"] = "MeV"
        self.showers = file.create_dataset("showers", shape=(0, binning.n_voxels), maxshape=(None, binning.n_voxels),
                                           dtype=shower_dtype, chunks=(chunk, binning.n_voxels), **options)
        self.showers.attrs["unit"] = "MeV"

    def append(self, incident_energies: np.ndarray, showers: np.ndarray) -> None:
        """Add ``(N,)`` or ``(N, 1)`` incident energies (MeV) and ``(N, n_voxels)`` showers (MeV).

        Raises:
            DatasetError: shapes that disagree with each other or the binning, non-finite energies.
        """
        energies = _float_array(incident_energies, "incident_energies")
        flat = self.binning._check_flat(_float_array(showers, "showers"))
        if energies.ndim == 2 and energies.shape[1] == 1:
            energies = energies[:, 0]
        if energies.ndim != 1 or energies.shape[0] != flat.shape[0]:
            msg = (f"incident_energies has shape {np.shape(incident_energies)} but showers has {flat.shape[0]} rows: "
                   f"give one energy (MeV) per shower")
            raise DatasetError(msg)
        if not np.all(np.isfinite(energies)):
            msg = "incident_energies has NaN or infinite values: give finite energies in MeV"
            raise DatasetError(msg)
        n, start = flat.shape[0], self.n_events
        self.energies.resize(start + n, axis=0)
        self.energies[start:] = energies[:, None]
        self.showers.resize(start + n, axis=0)
        self.showers[start:] = flat
        self.n_events += n
        self.file.attrs["n_events"] = self.n_events


def write_calochallenge(
    path: str | os.PathLike[str],
    incident_energies: np.ndarray,
    showers: np.ndarray,
    binning: CaloChallengeBinning | str,
    *,
    compression: str | None = "gzip",
    attrs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write showers in the CaloChallenge layout, atomically (nothing appears at ``path`` on failure).

    Args:
        path: the ``.h5`` file.
        incident_energies: ``(N,)`` or ``(N, 1)`` energy of the incoming particle, MeV.
        showers: ``(N, n_voxels)`` in file order, or ``(N, layers, n_r, n_alpha)`` (flattened with
            :meth:`CaloChallengeBinning.flatten`), MeV. Floating dtypes are stored as given, so a
            write/read round trip is bit-exact.
        binning: a :class:`CaloChallengeBinning`, a built-in name or an XML path.
        compression: ``"gzip"`` (level 4 + shuffle), ``"lzf"`` or ``None``.
        attrs: extra root attributes.
        overwrite: replace an existing file.

    Returns:
        the path written.

    Raises:
        DatasetError: the output exists (without ``overwrite``), is a folder or its folder is missing;
            the shapes do not match the binning or each other.
        ConfigError: an unknown binning or compression.
    """
    target = Path(path)
    _check_output(target, overwrite)
    binning = CaloChallengeBinning.resolve(binning)
    flat = _float_array(showers, "showers")
    if flat.ndim == 4:
        flat = binning.flatten(flat)
    energies = _float_array(incident_energies, "incident_energies")
    with atomic_path(target) as temporary, h5py.File(temporary, "w") as f:
        writer = CaloChallengeWriter(f, binning, shower_dtype=flat.dtype, energy_dtype=energies.dtype,
                                     compression=compression, attrs=attrs)
        writer.append(energies, flat)
    return target


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class CaloChallengeData:
    """The contents of a CaloChallenge file.

    Attributes:
        incident_energies: ``(N,)`` energy of the incoming particle, MeV (dtype as stored).
        showers: ``(N, n_voxels)`` voxel energies in file order, MeV (dtype as stored).
        binning: the geometry the showers were read with.
        attrs: root attributes of the file.
    """

    incident_energies: np.ndarray
    showers: np.ndarray
    binning: CaloChallengeBinning
    attrs: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.showers.shape[0])

    def voxels(self) -> np.ndarray:
        """``(N, layers, n_r, n_alpha)`` (uniform binnings; see :meth:`CaloChallengeBinning.unflatten`)."""
        return self.binning.unflatten(self.showers)

    def layer(self, k: int) -> np.ndarray:
        """``(N, n_r, n_alpha)`` voxels of layer ``k`` (0-based among the layers with voxels)."""
        layer = self.binning.layers[k]
        return np.swapaxes(self.showers[:, self.binning.layer_slice(k)].reshape(len(self), layer.n_alpha, layer.n_r),
                           1, 2)

    def layer_energies(self) -> np.ndarray:
        """``(N, layers)`` energy per layer, MeV (float64)."""
        return np.stack([self.showers[:, self.binning.layer_slice(k)].sum(axis=1, dtype=np.float64)
                         for k in range(self.binning.n_layers)], axis=1)


def _open(path: Path) -> h5py.File:
    if not path.exists():
        msg = f"CaloChallenge file {path} does not exist: check the path"
        raise DatasetError(msg)
    if path.is_dir():
        msg = f"{path} is a folder, not a CaloChallenge file: give the path of an .h5/.hdf5 file"
        raise DatasetError(msg)
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError:
        is_hdf5 = False
    if not is_hdf5:
        size = path.stat().st_size
        what = "is empty" if size == 0 else f"is not an HDF5 file ({size} bytes, no HDF5 signature)"
        msg = f"{path} {what}: a partly copied or foreign file? {_FIX}"
        raise DatasetError(msg)
    try:
        return h5py.File(path, "r")
    except OSError as error:
        sizes = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(error))
        if sizes:
            msg = f"{path} is truncated: {sizes[1]} of {sizes[2]} bytes (an interrupted copy or write?): {_FIX}"
        else:
            msg = f"{path} cannot be opened as HDF5 (truncated or corrupted: {error}): {_FIX}"
        raise DatasetError(msg) from error


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _pick_binning(path: Path, n_voxels: int, binning: CaloChallengeBinning | str | None,
                  attrs: Mapping[str, Any]) -> CaloChallengeBinning:
    options = ", ".join(f"{b.name} ({b.n_voxels})" for b in BUILTIN_BINNINGS.values())
    if binning is not None:
        chosen = CaloChallengeBinning.resolve(binning)
        if chosen.n_voxels != n_voxels:
            fits = [b.name for b in CaloChallengeBinning.matching(n_voxels)]
            hint = f"give --binning {fits[0]}" if fits else "give the binning .xml the file was made with"
            msg = (f"{path}: showers have {n_voxels} voxels but binning {chosen.name!r} has {chosen.n_voxels}: "
                   f"{hint} (built in: {options})")
            raise DatasetError(msg)
        return chosen
    stored = attrs.get("binning")
    if isinstance(stored, str) and stored.strip():
        try:
            chosen = CaloChallengeBinning.from_xml(stored)
        except ConfigError:
            chosen = None
        if chosen is not None and chosen.n_voxels == n_voxels:
            name = attrs.get("binning_name")
            return CaloChallengeBinning(str(name), chosen.layers, chosen.particle, chosen.pdg, chosen.empty_layers) \
                if isinstance(name, str) and name else chosen
    fits = CaloChallengeBinning.matching(n_voxels)
    if len(fits) == 1:
        return fits[0]
    msg = (f"{path}: showers have {n_voxels} voxels, which match no built-in CaloChallenge binning ({options}): "
           f"give the binning .xml the file was made with (--binning FILE.xml)")
    raise DatasetError(msg)


def read_calochallenge(path: str | os.PathLike[str], binning: CaloChallengeBinning | str | None = None,
                       events: slice | None = None) -> CaloChallengeData:
    """Read a CaloChallenge file (public or calolab-written).

    Args:
        path: the ``.h5`` / ``.hdf5`` file.
        binning: its geometry; ``None`` = the binning stored by calolab, else the built-in binning
            with the file's voxel count (368, 533, 6480, 40500).
        events: a slice of events (all by default).

    Returns:
        a :class:`CaloChallengeData` (arrays as stored: bit-exact).

    Raises:
        DatasetError: the file is missing, not HDF5, truncated, a calolab shower file, lacks
            ``incident_energies`` or ``showers``, has inconsistent shapes, or a voxel count that
            matches no (or not the given) binning.
    """
    path = Path(path)
    selection = slice(None) if events is None else events
    if not isinstance(selection, slice):
        msg = f"events = {events!r}: give a slice such as slice(0, 100)"
        raise DatasetError(msg)
    with _open(path) as f:
        try:
            attrs = {key: _decode(f.attrs[key]) for key in f.attrs}
            names = sorted(f.keys())
        except OSError as error:
            msg = f"{path}: cannot read the file index (truncated or corrupted: {error}); {_FIX}"
            raise DatasetError(msg) from error
        if attrs.get("format") == "calolab-showers":
            msg = (f"{path} is a calolab shower file, not a CaloChallenge file: convert it with "
                   f"'calolab convert {path} -o OUT.h5 --to calochallenge'")
            raise DatasetError(msg)
        missing = [name for name in ("incident_energies", "showers") if not isinstance(f.get(name), h5py.Dataset)]
        if missing:
            msg = (f"{path} is not a CaloChallenge file: no {' or '.join(repr(m) for m in missing)} dataset "
                   f"(top-level entries {names}); the layout is incident_energies (N, 1) and showers (N, voxels)")
            raise DatasetError(msg)
        energies_ds, showers_ds = f["incident_energies"], f["showers"]
        if showers_ds.ndim != 2:
            msg = f"{path}: showers has shape {showers_ds.shape}; the layout needs (N, voxels)"
            raise DatasetError(msg)
        if not (energies_ds.ndim == 1 or (energies_ds.ndim == 2 and energies_ds.shape[1] == 1)) \
                or energies_ds.shape[0] != showers_ds.shape[0]:
            msg = (f"{path}: incident_energies has shape {energies_ds.shape} but showers {showers_ds.shape}: "
                   f"one energy per shower, (N, 1); {_FIX}")
            raise DatasetError(msg)
        chosen = _pick_binning(path, int(showers_ds.shape[1]), binning, attrs)
        try:
            showers = np.asarray(showers_ds[selection])
            energies = np.asarray(energies_ds[selection]).reshape(-1)
        except OSError as error:
            msg = f"{path}: cannot read the datasets (truncated or corrupted: {error}); {_FIX}"
            raise DatasetError(msg) from error
    return CaloChallengeData(incident_energies=energies, showers=showers, binning=chosen, attrs=attrs)
