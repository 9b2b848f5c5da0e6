"""Materials: elements, compounds and mixtures, and the shower-relevant lengths and energies.

Everything is computed from a small element table (``data/elements.csv``, PDG "Atomic and
Nuclear Properties of Materials") with the PDG review's formulas ("Passage of particles
through matter", section 34 of the 2022 edition):

- radiation length of an element: Tsai's formula (eq. 34.26), for a mixture
  ``1/X0 = sum_j w_j / X0_j`` (eq. 34.28);
- electron critical energy: the PDG tabulated value of the element where the table has one,
  otherwise the PDG fits ``610 MeV/(Z + 1.24)`` (solids, liquids) and ``710 MeV/(Z + 0.92)``
  (gases) (fig. 34.13);
- Moliere radius ``R_M = E_s X0 / E_c`` with ``E_s = 21.2052 MeV`` (eq. 34.37), for a mixture
  ``1/R_M = (1/E_s) sum_j w_j E_c,j / X0_j`` (eq. 34.38); the mixture's critical energy is then
  ``E_c = E_s X0 / R_M``;
- nuclear interaction length ``1/lambda_I = sum_j w_j / lambda_I,j``;
- mean excitation energy by Bragg additivity unless a measured value is given.

Lengths are in mm and energies in MeV (library units); ``mass_*`` lengths are in g/cm^2.

The catalogue (``data/materials.toml``) is looked up by name or alias, case-insensitively::

    >>> pwo = get_material("PWO")
    >>> pwo.name, round(pwo.radiation_length, 2)  # mm; PDG: 8.903 mm
    ('PbWO4', 8.9)
    >>> round(get_material("Pb").moliere_radius / 10, 3)  # cm; PDG: 1.602 cm
    1.602
    >>> Material.from_formula("my-CsI", "CsI", density=4.51).mass_fractions[0]  # doctest: +ELLIPSIS
    0.5115...
"""

from __future__ import annotations

import csv
import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from calolab.errors import MaterialError
from calolab.physics.constants import AVOGADRO, CLASSICAL_ELECTRON_RADIUS, FINE_STRUCTURE, SCATTERING_ENERGY

__all__ = [
    "STATES",
    "Element",
    "Material",
    "coulomb_correction",
    "element_critical_energy",
    "element_mass_radiation_length",
    "get_element",
    "get_material",
    "list_elements",
    "list_materials",
    "load_material_file",
    "material_note",
    "parse_formula",
    "radiation_logarithms",
    "register_material",
]

#: allowed values of ``Material.state``
STATES = ("solid", "liquid", "gas")

_MEV_PER_EV = 1.0e-6
_CM_PER_MM = 0.1
_MM3_PER_CM3 = 1.0e3
#: A / (4 alpha r_e^2 N_A) for A = 1 g/mol: 716.408 g/cm^2 (PDG eq. 34.26)
_TSAI_SCALE = 1.0 / (4.0 * FINE_STRUCTURE * (CLASSICAL_ELECTRON_RADIUS * _CM_PER_MM) ** 2 * AVOGADRO)
#: Tsai's radiation logarithms L_rad, L'_rad for Z = 1..4 (PDG table 34.2)
_LIGHT_RADIATION_LOGARITHMS = {1: (5.31, 6.144), 2: (4.79, 5.621), 3: (4.74, 5.805), 4: (4.71, 5.924)}
_FRACTION_TOLERANCE = 1.0e-3


# ------------------------------------------------------------------ element physics (pure)


def radiation_logarithms(Z: int) -> tuple[float, float]:  # noqa: N803  (physics notation)
    """Tsai's radiation logarithms ``(L_rad, L'_rad)`` of element ``Z`` (PDG table 34.2).

    Tabulated for Z = 1..4; beyond, ``L_rad = ln(184.15 Z^-1/3)`` and ``L'_rad = ln(1194 Z^-2/3)``.

    >>> radiation_logarithms(1)
    (5.31, 6.144)
    >>> [round(x, 4) for x in radiation_logarithms(82)]
    [3.7468, 4.1473]
    """
    z = int(Z)
    if z < 1:
        msg = f"atomic number must be >= 1, got Z={Z!r}"
        raise MaterialError(msg)
    if z in _LIGHT_RADIATION_LOGARITHMS:
        return _LIGHT_RADIATION_LOGARITHMS[z]
    return math.log(184.15 * z ** (-1.0 / 3.0)), math.log(1194.0 * z ** (-2.0 / 3.0))


def coulomb_correction(Z: int | float) -> float:  # noqa: N803
    """Davies-Bethe-Maximon Coulomb correction ``f(Z)`` as fitted by Tsai (PDG eq. 34.27).

    ``f = a^2 [1/(1 + a^2) + 0.20206 - 0.0369 a^2 + 0.0083 a^4 - 0.002 a^6]`` with ``a = alpha Z``.

    >>> round(coulomb_correction(82), 4)
    0.3316
    """
    a2 = (FINE_STRUCTURE * float(Z)) ** 2
    return a2 * (1.0 / (1.0 + a2) + 0.20206 - 0.0369 * a2 + 0.0083 * a2**2 - 0.002 * a2**3)


def element_mass_radiation_length(Z: int, A: float) -> float:  # noqa: N803
    """Radiation length of an element in g/cm^2, Tsai's formula (PDG eq. 34.26).

    ``1/X0 = 4 alpha r_e^2 N_A/A {Z^2 [L_rad - f(Z)] + Z L'_rad}``.

    >>> round(element_mass_radiation_length(82, 207.2), 2)  # PDG: 6.37 g/cm^2
    6.37
    """
    l_rad, l_rad_prime = radiation_logarithms(Z)
    z = float(Z)
    return _TSAI_SCALE * A / (z * z * (l_rad - coulomb_correction(z)) + z * l_rad_prime)


def element_critical_energy(Z: int | float, state: str = "solid") -> float:  # noqa: N803
    """Electron critical energy (Rossi definition) in MeV from the PDG fits (PDG fig. 34.13).

    ``610 MeV/(Z + 1.24)`` for solids and liquids, ``710 MeV/(Z + 0.92)`` for gases. These fits
    are good to a few %; :class:`Material` prefers the element's tabulated value.

    >>> round(element_critical_energy(82), 2), round(element_critical_energy(18, "gas"), 2)
    (7.33, 37.53)
    """
    _check_state(state)
    if state == "gas":
        return 710.0 / (float(Z) + 0.92)
    return 610.0 / (float(Z) + 1.24)


def _check_state(state: str) -> None:
    if state not in STATES:
        msg = f"state must be one of {list(STATES)}, got {state!r}"
        raise MaterialError(msg)


# ------------------------------------------------------------------ elements


@dataclass(frozen=True)
class Element:
    """A chemical element with the properties that showers need.

    Attributes:
        symbol: chemical symbol, e.g. ``"Pb"``.
        name: English name, e.g. ``"lead"``.
        Z: atomic number.
        A: standard atomic weight, g/mol.
        mean_excitation_energy: I, MeV (ICRU 37 values quoted by the PDG; Pb: 823 eV).
        nuclear_interaction_length: lambda_I, g/cm^2 (PDG).
        density: g/cm^3 of the element in its usual state, or ``None``.
        critical_energy: PDG tabulated electron critical energy of the condensed element, MeV,
            or ``None`` to use the fit :func:`element_critical_energy`.
        state: usual state of the element (``solid``, ``liquid`` or ``gas``).
    """

    symbol: str
    name: str
    Z: int
    A: float
    mean_excitation_energy: float
    nuclear_interaction_length: float
    density: float | None
    critical_energy: float | None = None
    state: str = "solid"

    @property
    def mass_radiation_length(self) -> float:
        """Radiation length in g/cm^2 (Tsai)."""
        return element_mass_radiation_length(self.Z, self.A)

    def critical_energy_in(self, state: str) -> float:
        """Electron critical energy (MeV) of this element in a material of the given state.

        The tabulated PDG value for condensed materials, else the PDG fit for ``state``.
        """
        _check_state(state)
        if state != "gas" and self.critical_energy is not None:
            return self.critical_energy
        return element_critical_energy(self.Z, state)


def _optional_float(text: str) -> float | None:
    return float(text) if text.strip() else None


@cache
def _element_table() -> dict[str, Element]:
    text = resources.files("calolab.physics").joinpath("data/elements.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if line and not line.startswith("#"))
    table = {}
    for row in rows:
        element = Element(
            symbol=row["symbol"],
            name=row["name"],
            Z=int(row["Z"]),
            A=float(row["A"]),
            mean_excitation_energy=float(row["I_eV"]) * _MEV_PER_EV,
            nuclear_interaction_length=float(row["lambda_I"]),
            density=_optional_float(row["density"]),
            critical_energy=_optional_float(row["Ec_MeV"]),
            state=row["state"],
        )
        table[element.symbol] = element
    return table


def list_elements() -> list[str]:
    """Symbols of the elements in the table, by Z."""
    return [e.symbol for e in sorted(_element_table().values(), key=lambda e: e.Z)]


def get_element(symbol_or_name: str) -> Element:
    """The element with this symbol (``"Pb"``, case-insensitive if unambiguous) or name (``"lead"``).

    Raises:
        MaterialError: the element is not in the table; the message lists close matches.

    >>> get_element("lead").Z, get_element("W").A
    (82, 183.84)
    """
    table = _element_table()
    key = str(symbol_or_name).strip()
    if key in table:
        return table[key]
    lowered = key.lower()
    for element in table.values():
        if lowered in (element.symbol.lower(), element.name.lower()) or (
            lowered == "aluminum" and element.symbol == "Al"
        ) or (lowered == "cesium" and element.symbol == "Cs"):
            return element
    candidates = [*table, *(e.name for e in table.values())]
    close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    msg = (
        f"unknown element {symbol_or_name!r}{hint} The element table holds {', '.join(list_elements())}; "
        "add a row to calolab/physics/data/elements.csv for another element"
    )
    raise MaterialError(msg)


# ------------------------------------------------------------------ formulas

_TOKEN = re.compile(r"([A-Z][a-z]?)|(\()|(\))|(\d+(?:\.\d*)?|\.\d+)|(\s+)")


def parse_formula(formula: str) -> dict[str, float]:
    """Atom counts of a chemical formula: ``"Bi4Ge3O12"``, ``"Lu1.8Y0.2SiO5"``, ``"Ca3(PO4)2"``.

    Returns:
        ``{symbol: count}`` in order of first appearance.

    Raises:
        MaterialError: empty formula, unknown element, unbalanced parentheses, stray text or a
            zero count; the message names the formula and the position.

    >>> parse_formula("Bi4Ge3O12")
    {'Bi': 4.0, 'Ge': 3.0, 'O': 12.0}
    """
    text = str(formula)
    stack: list[dict[str, float]] = [{}]
    last: dict[str, float] | None = None  # what a following number multiplies
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            msg = (
                f"cannot read formula {formula!r}: unexpected {text[pos]!r} at position {pos}; "
                "write element symbols with counts, e.g. 'PbWO4' or 'C8H8'"
            )
            raise MaterialError(msg)
        symbol, opening, closing, number, space = match.groups()
        pos = match.end()
        if space:
            continue
        if symbol:
            get_element(symbol)  # raises for an unknown symbol
            last = {symbol: 1.0}
            _add_counts(stack[-1], last)
        elif opening:
            stack.append({})
            last = None
        elif closing:
            if len(stack) == 1:
                msg = f"cannot read formula {formula!r}: ')' at position {pos - 1} has no matching '('"
                raise MaterialError(msg)
            last = stack.pop()
            _add_counts(stack[-1], last)
        else:
            count = float(number)
            if last is None or count <= 0.0:
                what = "must follow an element or ')'" if last is None else "must be > 0"
                msg = (
                    f"cannot read formula {formula!r}: the count {number!r} at position {match.start()} "
                    f"{what}"
                )
                raise MaterialError(msg)
            _add_counts(stack[-1], {k: v * (count - 1.0) for k, v in last.items()})
            last = None
    if len(stack) != 1:
        msg = f"cannot read formula {formula!r}: an opening '(' is never closed"
        raise MaterialError(msg)
    if not stack[0]:
        msg = f"cannot read formula {formula!r}: it names no element; write e.g. 'PbWO4'"
        raise MaterialError(msg)
    return stack[0]


def _add_counts(into: dict[str, float], counts: Mapping[str, float]) -> None:
    for key, value in counts.items():
        into[key] = into.get(key, 0.0) + value


# ------------------------------------------------------------------ materials


@dataclass(frozen=True)
class Material:
    """A homogeneous material: elements with mass fractions, a density and a state.

    Attributes:
        name: the material's name.
        density: g/cm^3.
        elements: the elements, each once.
        mass_fractions: mass fraction of each element, same order; must sum to 1 (within 1e-3,
            then normalised exactly).
        state: ``"solid"``, ``"liquid"`` or ``"gas"`` (selects the critical-energy fit).
        excitation_energy: measured mean excitation energy I in MeV overriding Bragg additivity,
            or ``None``.

    Raises:
        MaterialError: on an invalid definition; the message names the material and the field.
    """

    name: str
    density: float
    elements: tuple[Element, ...]
    mass_fractions: tuple[float, ...]
    state: str = "solid"
    excitation_energy: float | None = field(default=None, compare=True)

    def __post_init__(self) -> None:
        where = f"material {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            msg = f"a material needs a non-empty name, got {self.name!r}"
            raise MaterialError(msg)
        if not (isinstance(self.density, int | float) and math.isfinite(self.density) and self.density > 0):
            msg = f"{where}: density must be a positive number of g/cm^3, got {self.density!r}"
            raise MaterialError(msg)
        if self.state not in STATES:
            msg = f"{where}: state must be one of {list(STATES)}, got {self.state!r}"
            raise MaterialError(msg)
        elements = tuple(self.elements)
        fractions = tuple(float(w) for w in self.mass_fractions)
        if not elements or len(elements) != len(fractions):
            msg = (
                f"{where}: needs one mass fraction per element, got {len(elements)} elements and "
                f"{len(fractions)} fractions"
            )
            raise MaterialError(msg)
        if not all(isinstance(e, Element) for e in elements):
            msg = f"{where}: elements must be Element objects (use get_element('Pb'))"
            raise MaterialError(msg)
        symbols = [e.symbol for e in elements]
        if len(set(symbols)) != len(symbols):
            msg = f"{where}: an element is listed twice in {symbols}; give each element once"
            raise MaterialError(msg)
        if any(not math.isfinite(w) or w < 0.0 for w in fractions):
            msg = f"{where}: mass fractions must be >= 0, got {dict(zip(symbols, fractions, strict=True))}"
            raise MaterialError(msg)
        total = sum(fractions)
        if abs(total - 1.0) > _FRACTION_TOLERANCE:
            msg = (
                f"{where}: mass fractions sum to {total:.6g}, not 1 "
                f"({dict(zip(symbols, fractions, strict=True))}); fix them or use Material.from_formula"
            )
            raise MaterialError(msg)
        if self.excitation_energy is not None and not (self.excitation_energy > 0):
            msg = f"{where}: mean excitation energy must be > 0 MeV, got {self.excitation_energy!r}"
            raise MaterialError(msg)
        object.__setattr__(self, "elements", elements)
        object.__setattr__(self, "mass_fractions", tuple(w / total for w in fractions))
        object.__setattr__(self, "density", float(self.density))

    # -------------------------------------------------------------- constructors

    @classmethod
    def from_formula(
        cls,
        name: str,
        formula: str,
        density: float,
        state: str = "solid",
        mean_excitation_energy: float | None = None,
    ) -> Material:
        """A compound from its chemical formula.

        Args:
            name: material name.
            formula: e.g. ``"PbWO4"``, ``"C8H8"``, ``"Bi4Ge3O12"``, ``"Lu1.8Y0.2SiO5"``.
            density: g/cm^3.
            state: ``"solid"``, ``"liquid"`` or ``"gas"``.
            mean_excitation_energy: measured I in MeV, or ``None`` for Bragg additivity.

        >>> pwo = Material.from_formula("PWO", "PbWO4", 8.3)
        >>> [round(w, 4) for w in pwo.mass_fractions]  # PDG: Pb 0.455347, W 0.404011
        [0.4553, 0.404, 0.1406]
        """
        counts = parse_formula(formula)
        elements = tuple(get_element(symbol) for symbol in counts)
        masses = [counts[e.symbol] * e.A for e in elements]
        total = sum(masses)
        return cls(name, density, elements, tuple(m / total for m in masses), state, mean_excitation_energy)

    @classmethod
    def from_mass_fractions(
        cls,
        name: str,
        fractions: Mapping[str, float],
        density: float,
        state: str = "solid",
        mean_excitation_energy: float | None = None,
    ) -> Material:
        """A material from element mass fractions, e.g. ``{"Cu": 0.7, "Zn": 0.3}``."""
        elements = tuple(get_element(symbol) for symbol in fractions)
        return cls(name, density, elements, tuple(fractions.values()), state, mean_excitation_energy)

    @classmethod
    def mixture(
        cls,
        name: str,
        components: Sequence[tuple[Material | str, float]],
        density: float,
        state: str = "solid",
    ) -> Material:
        """A mixture of materials by mass fraction, e.g. ``[("quartz", 0.6), ("epoxy", 0.4)]``.

        Components may be :class:`Material` objects or catalogue names. The mean excitation
        energy combines the components' I by Bragg additivity, so measured component values
        carry over.

        Raises:
            MaterialError: unknown component, or fractions that do not sum to 1.
        """
        resolved = [(c if isinstance(c, Material) else get_material(c), float(w)) for c, w in components]
        if not resolved:
            msg = f"mixture {name!r} has no components"
            raise MaterialError(msg)
        total = sum(w for _, w in resolved)
        if any(w < 0 for _, w in resolved) or abs(total - 1.0) > _FRACTION_TOLERANCE:
            listing = {m.name: w for m, w in resolved}
            msg = (
                f"mixture {name!r}: component mass fractions must be >= 0 and sum to 1, "
                f"got {listing} (sum {total:.6g})"
            )
            raise MaterialError(msg)
        by_symbol: dict[str, list[Any]] = {}
        for material, weight in resolved:
            for element, fraction in zip(material.elements, material.mass_fractions, strict=True):
                entry = by_symbol.setdefault(element.symbol, [element, 0.0])
                entry[1] += weight * fraction
        # Bragg additivity over components: ln I = sum w_c <Z/A>_c ln I_c / sum w_c <Z/A>_c
        electrons = [w * m._z_over_a for m, w in resolved]
        log_i = sum(
            e * math.log(m.mean_excitation_energy) for e, (m, _) in zip(electrons, resolved, strict=True)
        )
        excitation = math.exp(log_i / sum(electrons))
        elements = tuple(entry[0] for entry in by_symbol.values())
        fractions = tuple(entry[1] for entry in by_symbol.values())
        return cls(name, density, elements, fractions, state, excitation)

    # -------------------------------------------------------------- properties

    @cached_property
    def _z_over_a(self) -> float:
        """<Z/A> = sum w_j Z_j / A_j, mol/g."""
        return sum(w * e.Z / e.A for e, w in zip(self.elements, self.mass_fractions, strict=True))

    @cached_property
    def mass_radiation_length(self) -> float:
        """Radiation length in g/cm^2: ``1/X0 = sum w_j / X0_j`` (PDG eq. 34.28)."""
        inverse = sum(
            w / e.mass_radiation_length for e, w in zip(self.elements, self.mass_fractions, strict=True)
        )
        return 1.0 / inverse

    @property
    def radiation_length(self) -> float:
        """Radiation length X0 in mm."""
        return self.mass_radiation_length / self.density / _CM_PER_MM

    @cached_property
    def mass_moliere_radius(self) -> float:
        """Moliere radius in g/cm^2: ``1/R_M = (1/E_s) sum w_j E_c,j / X0_j`` (PDG eq. 34.38)."""
        inverse = sum(
            w * e.critical_energy_in(self.state) / e.mass_radiation_length
            for e, w in zip(self.elements, self.mass_fractions, strict=True)
        )
        return SCATTERING_ENERGY / inverse

    @property
    def moliere_radius(self) -> float:
        """Moliere radius R_M in mm."""
        return self.mass_moliere_radius / self.density / _CM_PER_MM

    @property
    def critical_energy(self) -> float:
        """Electron critical energy in MeV, ``E_s X0 / R_M`` (the element's value for a pure element)."""
        return SCATTERING_ENERGY * self.mass_radiation_length / self.mass_moliere_radius

    @cached_property
    def mass_nuclear_interaction_length(self) -> float:
        """Nuclear interaction length in g/cm^2: ``1/lambda_I = sum w_j / lambda_I,j``."""
        inverse = sum(
            w / e.nuclear_interaction_length for e, w in zip(self.elements, self.mass_fractions, strict=True)
        )
        return 1.0 / inverse

    @property
    def nuclear_interaction_length(self) -> float:
        """Nuclear interaction length lambda_I in mm."""
        return self.mass_nuclear_interaction_length / self.density / _CM_PER_MM

    @cached_property
    def mean_excitation_energy(self) -> float:
        """Mean excitation energy I in MeV: the given value, else Bragg additivity.

        ``ln I = sum w_j (Z_j/A_j) ln I_j / sum w_j Z_j/A_j``.
        """
        if self.excitation_energy is not None:
            return self.excitation_energy
        log_i = sum(
            w * e.Z / e.A * math.log(e.mean_excitation_energy)
            for e, w in zip(self.elements, self.mass_fractions, strict=True)
        )
        return math.exp(log_i / self._z_over_a)

    @cached_property
    def effective_z(self) -> float:
        """Electron-weighted mean atomic number ``sum_j eps_j Z_j``, eps_j the electron fractions."""
        weighted = sum(
            w * e.Z / e.A * e.Z for e, w in zip(self.elements, self.mass_fractions, strict=True)
        )
        return weighted / self._z_over_a

    @property
    def effective_a(self) -> float:
        """Effective atomic weight in g/mol, ``Z_eff / <Z/A>`` (keeps the electrons per gram)."""
        return self.effective_z / self._z_over_a

    @property
    def electron_density(self) -> float:
        """Electrons per mm^3."""
        return self.density * AVOGADRO * self._z_over_a / _MM3_PER_CM3

    def number_densities(self) -> np.ndarray:
        """Atoms per mm^3 of each element, in the order of :attr:`elements`."""
        return np.array(
            [self.density * AVOGADRO * w / e.A / _MM3_PER_CM3
             for e, w in zip(self.elements, self.mass_fractions, strict=True)]
        )

    def composition(self) -> dict[str, float]:
        """``{symbol: mass fraction}``."""
        return {e.symbol: w for e, w in zip(self.elements, self.mass_fractions, strict=True)}

    def summary(self) -> dict[str, float]:
        """The material's properties, units in the keys, for printing and JSON."""
        return {
            "density_g_cm3": self.density,
            "radiation_length_cm": self.radiation_length * _CM_PER_MM,
            "radiation_length_g_cm2": self.mass_radiation_length,
            "moliere_radius_cm": self.moliere_radius * _CM_PER_MM,
            "critical_energy_MeV": self.critical_energy,
            "nuclear_interaction_length_cm": self.nuclear_interaction_length * _CM_PER_MM,
            "nuclear_interaction_length_g_cm2": self.mass_nuclear_interaction_length,
            "mean_excitation_energy_eV": self.mean_excitation_energy / _MEV_PER_EV,
            "effective_z": self.effective_z,
            "effective_a_g_mol": self.effective_a,
            "electron_density_per_mm3": self.electron_density,
        }


# ------------------------------------------------------------------ catalogue

_G4_PREFIX = "g4"


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(name)).lower()


@dataclass
class _Catalogue:
    materials: dict[str, Material] = field(default_factory=dict)  # canonical name -> material
    keys: dict[str, str] = field(default_factory=dict)  # normalised name or alias -> canonical
    notes: dict[str, str] = field(default_factory=dict)

    def add(self, material: Material, aliases: Iterable[str] = (), note: str = "") -> None:
        for label in (material.name, *aliases):
            owner = self.keys.get(_key(label))
            if owner is not None and self.materials[owner] != material:
                msg = (
                    f"material name {label!r} is already used by {owner!r} with a different "
                    "definition; choose another name"
                )
                raise MaterialError(msg)
        self.materials[material.name] = material
        for label in (material.name, *aliases):
            self.keys.setdefault(_key(label), material.name)
        if note:
            self.notes[material.name] = note

    def find(self, name: str) -> Material | None:
        key = _key(name)
        canonical = self.keys.get(key)
        if canonical is None and key.startswith(_G4_PREFIX):
            canonical = self.keys.get(key[len(_G4_PREFIX):])
        return None if canonical is None else self.materials[canonical]


_ENTRY_KEYS = {"formula", "mass_fractions", "components", "density", "state", "I_eV", "aliases", "note"}


def _material_from_entry(name: str, entry: Mapping[str, Any], source: str, catalogue: _Catalogue) -> Material:
    where = f"{source}: [{name}]"
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        msg = f"{where}: unknown keys {sorted(unknown)}; allowed are {sorted(_ENTRY_KEYS)}"
        raise MaterialError(msg)
    given = [k for k in ("formula", "mass_fractions", "components") if k in entry]
    if len(given) != 1:
        msg = f"{where}: give exactly one of formula, mass_fractions or components (got {given or 'none'})"
        raise MaterialError(msg)
    if "density" not in entry:
        msg = f"{where}: density (g/cm^3) is missing"
        raise MaterialError(msg)
    density = entry["density"]
    state = entry.get("state", "solid")
    excitation = entry["I_eV"] * _MEV_PER_EV if "I_eV" in entry else None
    try:
        if "formula" in entry:
            return Material.from_formula(name, entry["formula"], density, state, excitation)
        if "mass_fractions" in entry:
            return Material.from_mass_fractions(name, entry["mass_fractions"], density, state, excitation)
        components = []
        for component, weight in entry["components"].items():
            material = catalogue.find(component)
            if material is None:
                msg = f"component {component!r} is not defined above it (or in the catalogue)"
                raise MaterialError(msg)
            components.append((material, weight))
        mixture = Material.mixture(name, components, density, state)
        if excitation is not None:
            mixture = Material(name, density, mixture.elements, mixture.mass_fractions, state, excitation)
        return mixture
    except MaterialError as error:
        msg = f"{where}: {error}"
        raise MaterialError(msg) from None


def _load_entries(data: Mapping[str, Any], source: str, catalogue: _Catalogue) -> list[Material]:
    loaded = []
    for name, entry in data.items():
        if not isinstance(entry, Mapping):
            msg = f"{source}: {name!r} must be a table [{name}] with formula/density/..."
            raise MaterialError(msg)
        material = _material_from_entry(name, entry, source, catalogue)
        catalogue.add(material, entry.get("aliases", ()), entry.get("note", ""))
        loaded.append(material)
    return loaded


@cache
def _catalogue() -> _Catalogue:
    catalogue = _Catalogue()
    text = resources.files("calolab.physics").joinpath("data/materials.toml").read_text(encoding="utf-8")
    _load_entries(tomllib.loads(text), "calolab/physics/data/materials.toml", catalogue)
    return catalogue


def get_material(name: str | Material) -> Material:
    """The catalogue material called ``name`` or one of its aliases.

    Matching ignores case, spaces, ``-`` and ``_``, and accepts a Geant4 ``G4_`` prefix:
    ``"PWO"``, ``"lead tungstate"``, ``"G4_PbWO4"``, ``"LAr"``, ``"scintillator"``.

    Raises:
        MaterialError: unknown name; the message suggests close names.
    """
    if isinstance(name, Material):
        return name
    catalogue = _catalogue()
    material = catalogue.find(name)
    if material is not None:
        return material
    labels = catalogue.keys
    close_keys = difflib.get_close_matches(_key(name), list(labels), n=6, cutoff=0.6)
    close = list(dict.fromkeys(labels[k] for k in close_keys))[:3]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "."
    msg = (
        f"unknown material {name!r}{hint} `calolab material --list` shows the catalogue; "
        "define new materials in a TOML file (load_material_file) or with register_material"
    )
    raise MaterialError(msg)


def list_materials() -> list[str]:
    """Canonical names of the catalogue materials, in catalogue order."""
    return list(_catalogue().materials)


def material_note(name: str) -> str:
    """The catalogue's one-line description of a material ('' if none)."""
    return _catalogue().notes.get(get_material(name).name, "")


def register_material(material: Material, aliases: Iterable[str] = (), note: str = "") -> None:
    """Add ``material`` to the catalogue so that :func:`get_material` finds it by name.

    Registering the same definition again is a no-op.

    Raises:
        MaterialError: the name or an alias is taken by a different material.
    """
    if not isinstance(material, Material):
        msg = f"register_material needs a Material, got {type(material).__name__}"
        raise MaterialError(msg)
    _catalogue().add(material, aliases, note)


def load_material_file(path: str | Path) -> list[Material]:
    """Read a materials TOML file (same format as the built-in catalogue) and register its materials.

    Raises:
        MaterialError: unreadable file or invalid entry; the message names the file and entry.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        msg = f"cannot read materials file {str(path)!r}: {error}"
        raise MaterialError(msg) from None
    return _load_entries(data, str(path), _catalogue())
