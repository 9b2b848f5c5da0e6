"""The particle species the gun knows: names, aliases, PDG codes and masses.

Names follow the PDG / ``particle`` package spelling (``"pi+"``, ``"K0L"``); common aliases
(``"pion+"``, ``"p"``, ``"muon"``, ``"photon"``) are accepted case-insensitively::

    >>> particle_pdg("pion-"), particle_pdg("p"), particle_mass(111)
    (-211, 2212, 134.9768)

Masses are rest energies in MeV from the PDG Review of Particle Physics 2024
(S. Navas et al., Phys. Rev. D 110 (2024) 030001), the values shipped by scikit-hep
``particle`` 1.1.0.
"""

from __future__ import annotations

from calolab.errors import ConfigError

__all__ = ["PARTICLES", "MASSES", "ALIASES", "particle_pdg", "particle_mass", "canonical_name"]

#: canonical particle names -> PDG code
PARTICLES: dict[str, int] = {
    "e-": 11,
    "e+": -11,
    "gamma": 22,
    "mu-": 13,
    "mu+": -13,
    "pi+": 211,
    "pi-": -211,
    "pi0": 111,
    "K+": 321,
    "K-": -321,
    "K0L": 130,
    "proton": 2212,
    "antiproton": -2212,
    "neutron": 2112,
}

#: lower-case aliases -> canonical name (canonical names are also matched case-insensitively)
ALIASES: dict[str, str] = {
    "electron": "e-",
    "positron": "e+",
    "photon": "gamma",
    "g": "gamma",
    "muon": "mu-",
    "muon-": "mu-",
    "muon+": "mu+",
    "antimuon": "mu+",
    "pion+": "pi+",
    "pion-": "pi-",
    "pion0": "pi0",
    "pizero": "pi0",
    "kaon+": "K+",
    "kaon-": "K-",
    "kaon0l": "K0L",
    "klong": "K0L",
    "k_l0": "K0L",
    "p": "proton",
    "p+": "proton",
    "pbar": "antiproton",
    "p-": "antiproton",
    "n": "neutron",
}

#: PDG code -> rest energy, MeV (PDG 2024, see module docs)
MASSES: dict[int, float] = {
    11: 0.51099895069,
    -11: 0.51099895069,
    22: 0.0,
    13: 105.6583755,
    -13: 105.6583755,
    211: 139.57039,
    -211: 139.57039,
    111: 134.9768,
    321: 493.677,
    -321: 493.677,
    130: 497.611,
    2212: 938.27208943,
    -2212: 938.27208943,
    2112: 939.5654219,
}

_BY_LOWER = {name.lower(): name for name in PARTICLES} | ALIASES


def canonical_name(name: str) -> str:
    """The canonical spelling of a particle name or alias (``"Pion+"`` -> ``"pi+"``).

    Raises:
        ConfigError: the name is unknown; the message lists the known ones.
    """
    key = name.strip()
    if key in PARTICLES:
        return key
    canonical = _BY_LOWER.get(key.lower())
    if canonical is None:
        msg = (f"unknown particle {name!r}: choose one of {list(PARTICLES)} "
               f"(aliases: {', '.join(sorted(ALIASES))})")
        raise ConfigError(msg)
    return canonical


def particle_pdg(name: str) -> int:
    """The PDG code of a particle name or alias (``"e-"`` -> 11, ``"pion-"`` -> -211).

    Raises:
        ConfigError: the name is unknown; the message lists the known ones.
    """
    return PARTICLES[canonical_name(name)]


def particle_mass(pdg: int) -> float:
    """Rest energy of the particle with PDG code ``pdg``, MeV.

    Raises:
        ConfigError: no mass is tabulated for ``pdg``.
    """
    if pdg not in MASSES:
        msg = f"no mass known for PDG code {pdg}: calolab knows {sorted(MASSES)}"
        raise ConfigError(msg)
    return MASSES[pdg]
