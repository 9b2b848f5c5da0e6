"""Two-photon decays in flight (``pi0 -> gamma gamma``): kinematics and the opening-angle law.

Pure numpy functions, no I/O. A particle of mass ``m``, total energy ``E`` (Lorentz factor
``gamma = E/m``, velocity ``beta``) decays isotropically in its rest frame into two photons of
energy ``m/2`` each. With ``theta*`` the rest-frame angle of photon 1 to the flight direction,
the lab energies are ``E_1,2 = E (1 +- beta cos theta*) / 2``, so the energy asymmetry
``A = (E_1 - E_2)/(E_1 + E_2) = beta cos theta*`` is uniform on ``[-beta, beta]`` (isotropy:
``cos theta*`` is uniform). Invariant mass ``m^2 = 2 E_1 E_2 (1 - cos theta)`` gives the opening
angle ``theta`` between the photons::

    sin^2(theta/2) = 1 / (gamma^2 (1 - A^2))

hence the minimum opening angle ``theta_min = 2 arcsin(1/gamma) ~ 2 m/E`` (at ``A = 0``, the
symmetric decay) and, since ``|A|`` is uniform on ``[0, beta]``, the cumulative distribution::

    F(theta) = sqrt(1 - 1/(gamma^2 sin^2(theta/2))) / beta,        theta_min <= theta <= pi

    dN/dtheta = cos(theta/2) / (2 beta gamma sin^2(theta/2) sqrt(gamma^2 sin^2(theta/2) - 1))

(the flat lab-energy spectrum of an isotropic two-body decay is in the PDG Review of Particle
Physics, "Kinematics" review, two-body decays and Lorentz transformations; the opening-angle
law follows from it by the change of variable ``A -> theta`` above). The distribution peaks
sharply at ``theta_min``.

A cut ``theta_lo <= theta <= theta_hi`` is the band ``A(theta_lo) <= |A| <= A(theta_hi)`` with
``A(theta) = sqrt(1 - 1/(gamma^2 sin^2(theta/2)))``: sampling ``|A|`` uniformly in that band is
exactly rejection sampling of isotropic decays, without rejected draws.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "min_opening_angle",
    "asymmetry_at_angle",
    "opening_angle_cdf",
    "opening_angle_pdf",
    "opening_angle_acceptance",
    "sample_asymmetry",
    "two_photon_decay",
    "orthonormal_basis",
    "opening_angle",
]


def _gamma_beta(kinetic_energy: np.ndarray, mass: float) -> tuple[np.ndarray, np.ndarray]:
    """Lorentz factor and velocity of a particle of kinetic energy ``T`` (MeV) and mass ``m``."""
    t = np.asarray(kinetic_energy, dtype=np.float64)
    total = t + mass
    momentum = np.sqrt(t * (t + 2.0 * mass))
    return total / mass, momentum / total


def min_opening_angle(kinetic_energy: np.ndarray | float, mass: float) -> np.ndarray:
    """Smallest opening angle of the two photons, ``2 arcsin(m/E)`` rad (``E = T + m``)."""
    total = np.asarray(kinetic_energy, dtype=np.float64) + mass
    return 2.0 * np.arcsin(np.minimum(mass / total, 1.0))


def asymmetry_at_angle(theta: np.ndarray | float, kinetic_energy: np.ndarray | float, mass: float) -> np.ndarray:
    """``|A|`` of the decays whose opening angle is ``theta`` (0 below ``theta_min``, ``beta`` at pi)."""
    gamma, _ = _gamma_beta(np.asarray(kinetic_energy), mass)
    half = np.sin(np.clip(np.asarray(theta, dtype=np.float64), 0.0, np.pi) / 2.0)
    with np.errstate(divide="ignore"):
        inside = 1.0 - 1.0 / (gamma * half) ** 2
    return np.sqrt(np.clip(inside, 0.0, None))


def opening_angle_cdf(theta: np.ndarray | float, kinetic_energy: float, mass: float) -> np.ndarray:
    """Probability that the opening angle is <= ``theta`` (rad) at kinetic energy ``T`` (MeV)."""
    _, beta = _gamma_beta(np.asarray(kinetic_energy), mass)
    return np.clip(asymmetry_at_angle(theta, kinetic_energy, mass) / beta, 0.0, 1.0)


def opening_angle_pdf(theta: np.ndarray | float, kinetic_energy: float, mass: float) -> np.ndarray:
    """``dN/dtheta`` (1/rad), normalised to 1 over ``[theta_min, pi]``; 0 below ``theta_min``."""
    gamma, beta = _gamma_beta(np.asarray(kinetic_energy), mass)
    theta = np.asarray(theta, dtype=np.float64)
    half = np.sin(theta / 2.0)
    root = (gamma * half) ** 2 - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        pdf = np.cos(theta / 2.0) / (2.0 * beta * gamma * half**2 * np.sqrt(root))
    return np.where(root > 0, pdf, 0.0)


def opening_angle_acceptance(kinetic_energy: np.ndarray | float, mass: float, low: float, high: float) -> np.ndarray:
    """Fraction of decays with ``low <= theta <= high`` (rad) at each kinetic energy (MeV)."""
    _, beta = _gamma_beta(np.asarray(kinetic_energy), mass)
    band = asymmetry_at_angle(high, kinetic_energy, mass) - asymmetry_at_angle(low, kinetic_energy, mass)
    return np.clip(band / beta, 0.0, 1.0)


def sample_asymmetry(kinetic_energy: np.ndarray, mass: float, rng: np.random.Generator,
                     low: float = 0.0, high: float = np.pi) -> np.ndarray:
    """Energy asymmetries ``A = beta cos theta*`` of isotropic decays with ``low <= theta <= high``.

    Args:
        kinetic_energy: kinetic energies of the decaying particles, MeV, shape ``(n,)``.
        mass: their mass, MeV.
        rng: the random generator.
        low, high: opening-angle band, rad; every energy must have a non-empty band
            (:func:`opening_angle_acceptance` > 0).

    Returns:
        ``A`` in ``[-beta, beta]``, shape ``(n,)``; photon 1 carries ``(1 + A)/2`` of the energy.
    """
    a_low = asymmetry_at_angle(low, kinetic_energy, mass)
    a_high = asymmetry_at_angle(high, kinetic_energy, mass)
    n = np.shape(kinetic_energy)[0]
    magnitude = a_low + (a_high - a_low) * rng.random(n)
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return sign * magnitude


def orthonormal_basis(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors ``u, v`` with ``(u, v, w)`` right-handed and orthonormal, for unit rows ``w`` (n, 3).

    The branch-free construction of Duff et al., "Building an Orthonormal Basis, Revisited",
    J. Computer Graphics Techniques 6 (2017) 1.
    """
    x, y, z = w[:, 0], w[:, 1], w[:, 2]
    sign = np.where(z >= 0.0, 1.0, -1.0)
    a = -1.0 / (sign + z)
    b = x * y * a
    u = np.stack([1.0 + sign * x * x * a, sign * b, -sign * x], axis=1)
    v = np.stack([b, sign + y * y * a, -y], axis=1)
    return u, v


def two_photon_decay(kinetic_energy: np.ndarray, direction: np.ndarray, mass: float, asymmetry: np.ndarray,
                     azimuth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two photons of decays in flight, given the energy asymmetry and the azimuth of the decay plane.

    Args:
        kinetic_energy: of the parent, MeV, ``(n,)``.
        direction: unit flight directions of the parent, ``(n, 3)``.
        mass: parent mass, MeV.
        asymmetry: ``A = beta cos theta*`` of each decay, ``(n,)``.
        azimuth: angle of photon 1 around the flight direction, rad, ``(n,)``.

    Returns:
        photon energies ``(n, 2)`` MeV (they sum to ``T + m``) and unit directions ``(n, 2, 3)``;
        the momenta ``E_i d_i`` sum to the parent momentum.
    """
    t = np.asarray(kinetic_energy, dtype=np.float64)
    total = t + mass
    momentum = np.sqrt(t * (t + 2.0 * mass))
    beta = momentum / total
    one_minus_beta = mass * mass / (total * (total + momentum))  # 1 - beta without cancellation
    cos_star = np.clip(asymmetry / beta, -1.0, 1.0)
    sin_star = np.sqrt((1.0 - cos_star) * (1.0 + cos_star))
    energies = np.stack([total * (1.0 + asymmetry) / 2.0, total * (1.0 - asymmetry) / 2.0], axis=1)
    # lab momentum along the flight direction: (E/2)(beta +- cos*) = (E/2)((1 +- cos*) - (1 - beta))
    along = np.stack([(1.0 + cos_star) - one_minus_beta, (1.0 - cos_star) - one_minus_beta], axis=1)
    along *= total[:, None] / 2.0
    across = (mass / 2.0) * sin_star
    u, v = orthonormal_basis(np.asarray(direction, dtype=np.float64))
    transverse = u * np.cos(azimuth)[:, None] + v * np.sin(azimuth)[:, None]
    p1 = along[:, 0, None] * direction + across[:, None] * transverse
    p2 = along[:, 1, None] * direction - across[:, None] * transverse
    directions = np.stack([p1, p2], axis=1)
    directions /= np.linalg.norm(directions, axis=2, keepdims=True)
    return energies, directions


def opening_angle(d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """Angle between unit vectors (rows of ``(n, 3)``), rad, accurate for tiny angles (atan2 form)."""
    cross = np.linalg.norm(np.cross(d1, d2), axis=-1)
    return np.arctan2(cross, np.sum(d1 * d2, axis=-1))
