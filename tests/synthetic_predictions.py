"""Seeded synthetic predictions with known resolution, separation and position smearing, for the evaluation tests."""

from __future__ import annotations

import numpy as np

from calolab.evaluate import resolution_model
from calolab.reco.predictions import Predictions

ENERGIES_GEV = (10.0, 20.0, 50.0, 100.0, 200.0, 500.0)


def synthetic(
    model: str = "model",
    *,
    seed: int = 0,
    n: int = 12_000,
    abc: tuple[float, float, float] = (0.15, 0.5, 0.01),
    energy_scale: float = 1.0,
    separation: float | None = 2.0,
    position_sigma_mm: tuple[float, float] | None = (1.5, 2.5),
    outlier_fraction: float = 0.0,
) -> Predictions:
    """Photons (PDG 22) and pi0 (111) at fixed energies, with everything a model may predict.

    * energy: ``E_true * energy_scale * (1 + N(0, sigma/E(a, b, c)))``, and a fraction
      ``outlier_fraction`` of events with half the energy (a leakage-like tail);
    * pid_score (classes 22, 111): a Gaussian score ``N(separation, 1)`` for photons and
      ``N(0, 1)`` for pi0, turned into probabilities by a logistic (monotonic, so the AUC is
      ``Phi(separation / sqrt(2))``); with ``separation=None`` there is no pid_score;
    * position: ``truth + N(0, sigma_x), N(0, sigma_y)`` mm; ``None`` for no position;
    * theta around 90 degrees (eta in about +-0.5).
    """
    rng = np.random.default_rng(seed)
    energy = rng.choice(np.array(ENERGIES_GEV) * 1000.0, n)
    pdg = np.where(rng.random(n) < 0.5, 22, 111).astype(np.int32)
    truth = {"energy": energy, "pdg": pdg, "theta": rng.uniform(np.radians(60.0), np.radians(120.0), n),
             "position": rng.uniform(-50.0, 50.0, (n, 2))}
    sigma = resolution_model(energy / 1000.0, *abc)
    predicted_energy = energy * energy_scale * (1.0 + rng.normal(0.0, sigma))
    tail = rng.random(n) < outlier_fraction
    predicted_energy[tail] *= 0.5
    predicted: dict[str, np.ndarray] = {"energy": predicted_energy}
    classes: tuple[int, ...] = ()
    if separation is not None:
        score = rng.normal(np.where(pdg == 22, separation, 0.0), 1.0)
        p_photon = 1.0 / (1.0 + np.exp(-(score - separation / 2)))
        predicted["pid_score"] = np.stack([p_photon, 1.0 - p_photon], axis=1).astype(np.float32)
        classes = (22, 111)
    if position_sigma_mm is not None:
        predicted["position"] = truth["position"] + rng.normal(0.0, position_sigma_mm, (n, 2))
    return Predictions(model, truth, predicted, classes)


def synthetic_overlap(
    model: str = "overlap",
    *,
    seed: int = 0,
    n: int = 6_000,
    sigma_mm: float = 1.0,
    energy_resolution: float = 0.05,
    shuffle: bool = True,
) -> Predictions:
    """Photon pairs 5-60 mm apart: predictions smeared by ``sigma_mm`` and ``energy_resolution``,
    in a random photon order when ``shuffle`` (so the evaluation must match them)."""
    rng = np.random.default_rng(seed)
    separation = rng.uniform(5.0, 60.0, n)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    centre = rng.uniform(-20.0, 20.0, (n, 2))
    half = 0.5 * separation[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    position = np.stack([centre - half, centre + half], axis=1)  # (n, 2, 2)
    photon_energy = rng.uniform(5_000.0, 50_000.0, (n, 2))
    predicted_position = position + rng.normal(0.0, sigma_mm, position.shape)
    predicted_energy = photon_energy * (1.0 + rng.normal(0.0, energy_resolution, photon_energy.shape))
    if shuffle:
        swap = rng.random(n) < 0.5
        predicted_position[swap] = predicted_position[swap][:, ::-1]
        predicted_energy[swap] = predicted_energy[swap][:, ::-1]
    truth = {"energy": photon_energy.sum(axis=1), "pdg": np.full(n, 22, dtype=np.int32), "position": position,
             "photon_energy": photon_energy, "separation": separation}
    predicted = {"position": predicted_position, "photon_energy": predicted_energy}
    return Predictions(model, truth, predicted)
