"""The CaloChallenge (r, alpha) geometry in calolab terms: per-layer binnings, the challenge's datasets, XML.

A :class:`CaloChallengeBinning` lists, for each layer with voxels, its radial edges (mm) and its
number of equal alpha bins over ``[-pi, pi)``, and knows the flattening order of the challenge
files (r fastest, then alpha, then layer; see :mod:`calolab.data.formats.calochallenge` for the
layout and its sources). The four binnings of the challenge are built in (:data:`BUILTIN_BINNINGS`,
values read in its ``binning_dataset_*.xml`` files); others load from a binning XML.
:func:`calochallenge_detector` gives a calolab detector whose layers and square cell grid match a
binning, for conversions to the native layout.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from calolab.errors import ConfigError, DatasetError

if TYPE_CHECKING:
    from calolab.detector.geometry import Calorimeter

__all__ = ["BUILTIN_BINNINGS", "CaloChallengeBinning", "LayerBinning", "calochallenge_detector"]


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
    increasing = all(b > a for a, b in zip(values, values[1:], strict=False))
    if not all(math.isfinite(e) for e in values) or values[0] < 0 or not increasing:
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
            msg = f"{where} has no <Bin> element: a CaloChallenge binning holds <Bins><Bin><Layer .../></Bin></Bins>"
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
                msg = (f"{where}: <Layer> {position} has id={raw_id!r} r_edges={raw_edges!r} "
                       f"n_bin_alpha={raw_alpha!r}: "
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
        flat = self.check_showers(showers)
        n = flat.shape[0]
        return [np.swapaxes(flat[:, self.layer_slice(k)].reshape(n, layer.n_alpha, layer.n_r), 1, 2)
                for k, layer in enumerate(self.layers)]

    def unflatten(self, showers: np.ndarray) -> np.ndarray:
        """``(N, n_voxels)`` -> ``(N, layers, n_r, n_alpha)`` (a view); uniform binnings only.

        Raises:
            DatasetError: a non-uniform binning (use :meth:`split`) or the wrong number of voxels.
        """
        flat = self.check_showers(showers)
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
            msg = (f"flatten: got {got}; binning {self.name!r} needs (N, {self.n_layers}, n_r, n_alpha) "
                   f"or one array per layer")
            raise DatasetError(msg)
        parts = []
        for k, (array, layer) in enumerate(zip(per_layer, self.layers, strict=True)):
            array = np.asarray(array)
            if array.ndim != 3 or array.shape[1:] != (layer.n_r, layer.n_alpha):
                msg = (f"flatten: layer {k} has shape {array.shape}, binning {self.name!r} needs "
                       f"(N, {layer.n_r}, {layer.n_alpha})")
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

    def check_showers(self, showers: np.ndarray) -> np.ndarray:
        """``showers`` as an array, checked to be ``(N, n_voxels)``.

        Raises:
            DatasetError: another shape.
        """
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
