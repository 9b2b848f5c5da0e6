"""Species mixtures in one gun: each event fires one species drawn with equal odds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import calolab
from calolab.errors import ConfigError
from calolab.sim.gun import make_gun


def _first_pdg(primaries: calolab.Primaries) -> np.ndarray:
    return primaries.pdg[primaries.event_offsets[:-1]]


def test_species_are_drawn_with_equal_odds() -> None:
    gun = make_gun(particle="e-,gamma,pi0,pi-", energy="10-510GeV")
    primaries = gun.generate(4000, np.random.default_rng(5))
    codes, counts = np.unique(_first_pdg(primaries), return_counts=True)
    assert sorted(codes.tolist()) == [-211, 11, 22, 111]
    assert stats.chisquare(counts).pvalue > 0.001
    # pi0 events carry their decay photons (status 1) after the pi0 (status 2)
    pi0_events = np.flatnonzero(_first_pdg(primaries) == 111)
    starts = primaries.event_offsets[pi0_events]
    assert np.all(primaries.pdg[starts + 1] == 22) and np.all(primaries.status[starts] == 2)


def test_mixture_keeps_the_shared_options_and_cuts_only_pi0() -> None:
    gun = make_gun(particle="pi0,gamma", energy="20-100GeV", polar_angle="60-120", opening_angle="<0.01")
    primaries = gun.generate(300, np.random.default_rng(2))
    truth = gun.truth(primaries)["opening_angle"]
    is_pi0 = _first_pdg(primaries) == 111
    assert np.all(np.isnan(truth[~is_pi0])) and np.all(truth[is_pi0] < 0.01)
    polar = np.degrees(np.arccos(primaries.direction[primaries.event_offsets[:-1], 0]))  # the fired particles
    assert polar.min() >= 60.0 and polar.max() <= 120.0


def test_mixture_is_reproducible_and_simulates() -> None:
    first = calolab.simulate("calice-ahcal", n=6, particle="e-,pi+", energy="2GeV", seed=3, progress=False)
    second = calolab.simulate("calice-ahcal", n=6, particle="e-,pi+", energy="2GeV", seed=3, progress=False)
    np.testing.assert_array_equal(first.active["HCAL"], second.active["HCAL"])
    assert set(_first_pdg(first.primaries).tolist()) <= {11, 211}


@pytest.mark.parametrize(("options", "field"), [
    ({"particle": "e-,e-"}, "particle"),
    ({"particle": "e-,gamma", "pair": "20mm"}, "pair"),
    ({"particle": "e-,gamma", "opening_angle": "<0.01"}, "opening_angle"),
    ({"particle": "e-,tau"}, "tau"),
])
def test_bad_mixtures_name_the_field(options: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        make_gun(**options)
