"""Helpers of the generative-model tests: tiny model options and synthetic showers."""

from __future__ import annotations

import numpy as np

from calolab.gen.data import GenArrays

#: a tiny plain GAN (its own layer energies; ``energy_flow`` on adds an energy flow, see the tests that do)
TINY_GAN = {"latent": 8, "gen_channels": [8, 4], "disc_channels": [4, 4, 4], "hidden": 16, "energy_flow": False}
TINY_FLOW = {"energy_blocks": 2, "energy_hidden": 16, "shape_couplings": 2, "shape_hidden": 16}


def toy_arrays(n: int = 256, shape: tuple[int, int, int] = (4, 6, 6), seed: int = 0) -> GenArrays:
    """Synthetic showers: a Gaussian blob whose depth grows with log E, total ~ 0.9 E_inc with 2% spread."""
    from calolab.detector.geometry import load_detector

    rng = np.random.default_rng(seed)
    layers, ny, nx = shape
    energy = np.exp(rng.uniform(np.log(1e3), np.log(1e4), n))
    z = np.arange(layers)[None, :, None, None]
    y = (np.arange(ny) - (ny - 1) / 2)[None, None, :, None]
    x = (np.arange(nx) - (nx - 1) / 2)[None, None, None, :]
    depth = (0.5 + 0.3 * np.log(energy / 1e3))[:, None, None, None]
    profile = np.exp(-0.5 * ((z - depth) / 1.0) ** 2 - 0.5 * (x**2 + y**2) / 0.8**2)
    profile *= rng.gamma(20.0, 1 / 20.0, profile.shape)
    cells = profile / profile.sum(axis=(1, 2, 3), keepdims=True)
    cells *= (0.9 * energy * rng.normal(1.0, 0.02, n))[:, None, None, None]
    cells[cells < 1e-2] = 0.0
    return GenArrays(cells.astype(np.float32), energy, np.zeros(n), np.full(n, 11), load_detector("pisa-csi").to_toml(),
                     "ECAL")
