"""Generator truth in shower files: /primaries/status and /primaries/parent, and files written without them."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from calolab.data.showerfile import ShowerFile, write_showers
from calolab.errors import DatasetError
from calolab.sim.events import Deposits
from calolab.sim.gun import make_gun


def pi0_deposits(template: Deposits, seed: int = 4) -> Deposits:
    """The template's cells with the primaries of a pi0 gun (2 decays per event) in place of its own."""
    gun = make_gun(particle="pi0", energy="30-60GeV", particles_per_event=2, opening_angle="<0.01")
    primaries = gun.generate(len(template), np.random.default_rng(seed))
    return Deposits(primaries, template.active, template.passive, template.leakage, template.engine,
                    template.engine_version, template.extra | gun.truth(primaries))


def test_status_and_parent_round_trip(tmp_path, detector, make_deposits) -> None:
    deposits = pi0_deposits(make_deposits(6))
    path = write_showers(tmp_path / "pi0.h5", deposits, detector)
    with ShowerFile(path) as showers:
        primaries = showers.primaries()
        np.testing.assert_array_equal(primaries.status, deposits.primaries.status)
        np.testing.assert_array_equal(primaries.parent, deposits.primaries.parent)
        np.testing.assert_array_equal(primaries.status[:6], [2, 1, 1, 2, 1, 1])
        np.testing.assert_array_equal(primaries.parent[:6], [-1, 0, 0, -1, 3, 3])
        picked = showers.primaries([4, 1])  # an index array: parents stay event-relative
        want = deposits.primaries.select(np.array([4, 1]))
        np.testing.assert_array_equal(picked.parent, want.parent)
        np.testing.assert_array_equal(picked.pdg, want.pdg)
        np.testing.assert_array_equal(showers.primaries(slice(2, 4)).status, deposits.primaries.status[12:24])
        np.testing.assert_array_equal(showers.read().extra["opening_angle"], deposits.extra["opening_angle"])
        assert showers.read().extra["opening_angle"].shape == (6, 2)
    with h5py.File(path) as f:
        assert f["primaries/status"].dtype == np.int8 and f["primaries/parent"].dtype == np.int32
        assert f.attrs["format_version"] == 1


def test_files_without_status_and_parent_read_with_defaults(tmp_path, detector, make_deposits) -> None:
    path = write_showers(tmp_path / "old.h5", make_deposits(5, particles_per_event=2), detector)
    with h5py.File(path, "a") as f:  # as written before these datasets existed
        del f["primaries/status"], f["primaries/parent"]
    with ShowerFile(path) as showers:
        primaries = showers.primaries()
        assert primaries.n_particles == 10
        np.testing.assert_array_equal(primaries.status, np.ones(10))
        np.testing.assert_array_equal(primaries.parent, np.full(10, -1))
        assert showers.primaries([3, 0]).status.shape == (4,)


def test_inconsistent_status_length_is_refused(tmp_path, detector, make_deposits) -> None:
    path = write_showers(tmp_path / "bad.h5", make_deposits(3), detector)
    with h5py.File(path, "a") as f:
        del f["primaries/status"]
        f["primaries/status"] = np.ones(7, dtype=np.int8)
    with pytest.raises(DatasetError, match=r"primaries are inconsistent \(lengths .*'status': 7"):
        ShowerFile(path)
