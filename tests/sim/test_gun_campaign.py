"""Gun truth through a campaign into a shower file: pi0 decays and overlapping photon pairs (mc engine)."""

from __future__ import annotations

import h5py
import numpy as np

from calolab.data.showerfile import open_dataset
from calolab.sim.campaign import Campaign
from calolab.sim.decays import opening_angle


def test_pi0_file_keeps_the_decay_record_and_the_opening_angle(tmp_path) -> None:
    gun = {"particle": "pi0", "energy": "1GeV", "theta": "0-10", "phi": "0-360"}
    path = Campaign("pisa-csi", gun, 5, seed=3, shard_size=3).write(tmp_path / "pi0.h5")
    with open_dataset(path) as showers:
        deposits = showers.read()
        primaries = deposits.primaries
        assert showers.metadata["gun"]["particle"] == "pi0"
    np.testing.assert_array_equal(primaries.pdg, np.tile([111, 22, 22], 5))
    np.testing.assert_array_equal(primaries.status, np.tile([2, 1, 1], 5))
    np.testing.assert_array_equal(primaries.parent, np.tile([-1, 0, 0], 5))
    direction = primaries.direction.reshape(5, 3, 3)
    np.testing.assert_allclose(deposits.extra["opening_angle"], opening_angle(direction[:, 1], direction[:, 2]),
                               rtol=1e-12)
    # only the photons were transported: deposits + leakage + dead material close on T + m_pi0 (PDG 134.9768 MeV)
    closure = deposits.total_deposited() + deposits.leakage.sum(axis=1) + deposits.extra["dead_material_energy"]
    np.testing.assert_allclose(closure, 1000.0 + 134.9768, rtol=1e-4)
    np.testing.assert_allclose(primaries.event_energy(), 1134.9768, rtol=1e-12)
    with h5py.File(path) as f:
        assert f["truth/opening_angle"].shape == (5,)


def test_pair_in_cells_is_resolved_with_the_detector(tmp_path) -> None:
    gun = {"particle": "gamma", "energy": "1GeV", "pair": {"separation": "1.5cells", "energy_sharing": "0.3"}}
    campaign = Campaign("cms", gun, 3, seed=1)
    path = campaign.write(tmp_path / "pairs.h5")
    pitch = campaign.detector.sections[0].cell_size_x
    with open_dataset(path) as showers:
        deposits = showers.read()
        assert showers.metadata["gun"]["pair"]["separation"]["unit"] == "cells"  # provenance as configured
    np.testing.assert_allclose(deposits.extra["separation"], 1.5 * pitch, rtol=1e-12)
    np.testing.assert_allclose(deposits.primaries.energy.reshape(3, 2), np.tile([300.0, 700.0], (3, 1)), rtol=1e-12)
