"""Gun species, overlapping-photon pairs, collider-frame directions, provenance and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from calolab.detector import load_detector
from calolab.errors import ConfigError
from calolab.sim.gun import make_gun
from calolab.sim.gun_options import EnergySharing, OpeningAngleCut, Separation
from calolab.sim.particles import MASSES, PARTICLES, particle_mass, particle_pdg

N = 20_000


def generate(n: int = N, seed: int = 1, **options):
    return make_gun(**options).generate(n, np.random.default_rng(seed))


@pytest.mark.parametrize(
    ("name", "pdg"),
    [("pi+", 211), ("pion+", 211), ("pi-", -211), ("Pion-", -211), ("pi0", 111), ("pion0", 111),
     ("proton", 2212), ("p", 2212), ("neutron", 2112), ("n", 2112), ("mu-", 13), ("muon", 13), ("mu+", -13),
     ("K+", 321), ("kaon-", -321), ("K0L", 130), ("klong", 130), ("e-", 11), ("photon", 22)],
)
def test_species_names_map_to_pdg_codes(name: str, pdg: int) -> None:
    assert particle_pdg(name) == pdg
    gun = make_gun(particle=name)
    assert gun.config.pdg == pdg and gun.config.particle in PARTICLES


def test_hadrons_and_muons_are_single_particles_with_kinetic_energy() -> None:
    primaries = generate(10, particle="pi-", energy="10GeV")
    assert np.all(primaries.pdg == -211) and np.all(primaries.energy == 10_000.0)
    assert np.all(primaries.status == 1) and np.all(primaries.parent == -1)


def test_masses_agree_with_the_particle_package() -> None:
    # PDG 2024 values, as shipped by scikit-hep particle (checked here when it is installed)
    assert particle_mass(111) == pytest.approx(134.9768) and particle_mass(211) == pytest.approx(139.57039)
    particle = pytest.importorskip("particle")
    for pdg, mass in MASSES.items():
        assert particle.Particle.from_pdgid(pdg).mass == pytest.approx(mass, rel=1e-9, abs=1e-12)


def test_pair_separation_at_the_face_as_configured() -> None:
    gun = make_gun(particle="gamma", energy="20GeV", position="5,-3", theta="0-20", phi="0-360",
                   pair={"separation": "10-30mm"})
    primaries = gun.generate(N, np.random.default_rng(2))
    assert primaries.n_particles == 2 * N and np.all(primaries.pdg == 22) and np.all(primaries.status == 1)
    first, second = primaries.position[0::2], primaries.position[1::2]
    distance = np.linalg.norm(second[:, :2] - first[:, :2], axis=1)
    assert np.all(first[:, 2] == 0.0) and np.all(second[:, 2] == 0.0)
    assert stats.kstest(distance, stats.uniform(10.0, 20.0).cdf).pvalue > 1e-3
    np.testing.assert_allclose(gun.truth(primaries)["separation"], distance, rtol=1e-12)
    np.testing.assert_allclose((first + second)[:, :2] / 2, np.tile([5.0, -3.0], (N, 1)), atol=1e-9)  # centred
    np.testing.assert_array_equal(primaries.direction[0::2], primaries.direction[1::2])  # parallel
    orientation = np.arctan2(*(second - first)[:, 1::-1].T)
    assert stats.kstest(orientation, stats.uniform(-math.pi, 2 * math.pi).cdf).pvalue > 1e-3  # random


def test_pair_separation_in_cells_uses_the_front_cell_pitch() -> None:
    detector = load_detector("cms")
    pitch = detector.sections[0].cell_size_x
    gun = make_gun(particle="gamma", pair={"separation": "1.5cells", "orientation": "0"})
    with pytest.raises(ConfigError, match="needs the detector's cell size"):
        gun.generate(2, np.random.default_rng(0))
    primaries = gun.for_detector(detector).generate(3, np.random.default_rng(0))
    np.testing.assert_allclose(primaries.position[1::2, 0] - primaries.position[0::2, 0], 1.5 * pitch)
    np.testing.assert_allclose(primaries.position[:, 1], 0.0)
    assert gun.to_dict()["pair"]["separation"] == {"low": 1.5, "high": 1.5, "unit": "cells"}  # provenance


@pytest.mark.parametrize(("sharing", "low", "high"), [("0.3", 0.3, 0.3), ("0.1-0.4", 0.1, 0.4), ("uniform", 0, 1)])
def test_energy_sharing_splits_the_total(sharing: str, low: float, high: float) -> None:
    primaries = generate(particle="gamma", energy="10-100GeV", pair={"separation": 20, "energy_sharing": sharing})
    e1, e2 = primaries.energy[0::2], primaries.energy[1::2]
    total = e1 + e2
    assert total.min() >= 10_000.0 * (1 - 1e-12) and total.max() <= 100_000.0 * (1 + 1e-12)
    fraction = e1 / total
    if low == high:
        np.testing.assert_allclose(fraction, low, rtol=1e-12)
    else:
        assert stats.kstest(fraction, stats.uniform(low, high - low).cdf).pvalue > 1e-3


def test_independent_energies_each_follow_the_spectrum() -> None:
    primaries = generate(particle="gamma", energy="10-100GeV", pair="22mm")
    for energy in (primaries.energy[0::2], primaries.energy[1::2]):
        assert stats.kstest(energy, stats.uniform(10_000.0, 90_000.0).cdf).pvalue > 1e-3
    assert abs(stats.pearsonr(primaries.energy[0::2], primaries.energy[1::2])[0]) < 0.03


def test_polar_angle_directions_in_the_collider_frame() -> None:
    primaries = generate(polar_angle="60-120")
    direction = primaries.direction
    np.testing.assert_allclose(np.linalg.norm(direction, axis=1), 1.0, rtol=1e-12)
    polar = np.degrees(np.arccos(direction[:, 0]))  # to the beam, along x
    assert stats.kstest(polar, stats.uniform(60.0, 60.0).cdf).pvalue > 1e-3
    np.testing.assert_allclose(direction[:, 1], 0.0, atol=1e-15)  # no azimuthal deviation
    assert np.all(direction[:, 2] > 0)  # into the face
    fixed = generate(4, polar_angle=60, azimuth_deviation=10).direction
    expected = [0.5, math.sin(math.radians(60)) * math.sin(math.radians(10)),
                math.sin(math.radians(60)) * math.cos(math.radians(10))]
    np.testing.assert_allclose(fixed, np.tile(expected, (4, 1)), atol=1e-12)


def test_every_mode_round_trips_through_the_stored_config() -> None:
    for options in ({"particle": "pi0", "energy": "log:30-500GeV", "opening_angle": "<10mrad", "polar_angle": "60-120"},
                    {"particle": "gamma", "pair": {"separation": "0.5-2cells", "energy_sharing": "0.2-0.5"}},
                    {"particle": "proton", "polar_angle": "80-100", "azimuth_deviation": "-5-5"}):
        gun = make_gun(**options)
        again = make_gun(gun.to_dict())
        assert again.config == gun.config
        np.testing.assert_array_equal(again.for_detector(load_detector("cms")).generate(5, np.random.default_rng(1))
                                      .energy, gun.for_detector(load_detector("cms"))
                                      .generate(5, np.random.default_rng(1)).energy)


def test_option_value_parsing() -> None:
    assert OpeningAngleCut.parse("<0.01") == OpeningAngleCut(high=0.01)
    assert OpeningAngleCut.parse("<10mrad").high == pytest.approx(0.01)
    assert OpeningAngleCut.parse(">0.002") == OpeningAngleCut(low=0.002)
    assert OpeningAngleCut.parse("0.002-0.01") == OpeningAngleCut(low=0.002, high=0.01)
    assert Separation.parse("2.2cm") == Separation(low=22.0, high=22.0)
    assert Separation.parse("1-3cells") == Separation(low=1.0, high=3.0, unit="cells")
    assert EnergySharing.parse("independent").kind == "independent"
    assert EnergySharing.parse("0.1-0.5") == EnergySharing(kind="fraction", low=0.1, high=0.5)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"particle": "pion"}, "gun.particle: unknown particle 'pion'"),
        ({"polar_angle": "60-120", "theta": "5"}, "gun.polar_angle: polar_angle (60-120 deg, collider frame) and"),
        ({"polar_angle": "0-90"}, "gun.polar_angle: must lie in (0, 180) degrees"),
        ({"polar_angle": "90", "azimuth_deviation": "95"}, "gun.azimuth_deviation: must lie in (-90, 90)"),
        ({"azimuth_deviation": "5"}, "gun.azimuth_deviation: applies only with polar_angle"),
        ({"pair": "far"}, "gun.pair.separation: cannot read the separation 'far'"),
        ({"pair": "-5mm"}, "gun.pair.separation: the separation '-5mm' is negative"),
        ({"pair": "5furlongs"}, "gun.pair.separation: unknown unit 'furlongs'"),
        ({"pair": {"separation": "5mm", "energy_sharing": "1.5"}}, "gun.pair.energy_sharing: the energy sharing '1.5'"),
        ({"pair": {"separation": "5mm", "energy_sharing": "half"}}, "gun.pair.energy_sharing: cannot read"),
        ({"pair": {"separation": "5mm", "energy_sharing": 1}}, "strictly between 0 and 1"),
        ({"pair": {"separation": "5mm", "gap": 1}}, "gun.pair.gap: unknown field 'gap'"),
        ({"particle": "pi0", "pair": "5mm"}, "gun.pair: pairs of pi0 are not supported"),
        ({"particle": "pi0", "opening_angle": "0.02-0.01"}, "gun.opening_angle"),
    ],
)
def test_bad_options_name_the_field(options: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_gun(**options)
    assert fragment in str(info.value)


def test_non_square_cells_refuse_a_separation_in_cells() -> None:
    class Section:
        name, cell_size_x, cell_size_y = "ECAL", 5.0, 10.0

    class Detector:
        sections = [Section()]

    with pytest.raises(ConfigError, match=r"gun.pair.separation 2 cells: .* 5 x 10 mm cells"):
        make_gun(particle="gamma", pair="2cells").for_detector(Detector())  # type: ignore[arg-type]


def test_vertex_distance_points_each_particle_from_the_vertex_to_its_impact_point() -> None:
    primaries = generate(400, spread="66mm", spread_shape="uniform", vertex_distance="25cm")
    direction, position = primaries.direction, primaries.position
    np.testing.assert_allclose(np.linalg.norm(direction, axis=1), 1.0, rtol=1e-12)
    # the line back along the direction from the impact point crosses z = -250 mm at the origin
    back = position[:, :2] - direction[:, :2] / direction[:, 2:] * 250.0
    np.testing.assert_allclose(back, 0.0, atol=1e-9)
    incidence = np.degrees(np.arccos(direction[:, 2]))
    assert incidence.max() > 15.0  # atan(66 sqrt(2) / 250) = 20.5 deg at the corners
    assert incidence.max() < 20.6
    with pytest.raises(ConfigError, match="vertex_distance"):
        make_gun(vertex_distance=250.0, theta="0-10")
    assert "vertex 250 mm upstream" in make_gun(vertex_distance="25cm").config.describe()


def test_pi0_decayed_upstream_puts_its_photons_apart_on_the_face() -> None:
    gun = make_gun(particle="pi0", energy="100GeV", decay_distance="1.5m", spread="10mm")
    primaries = gun.generate(200, np.random.default_rng(4))
    angle = gun.truth(primaries)["opening_angle"]
    face = primaries.position.reshape(200, 3, 3)
    np.testing.assert_allclose(face[:, :, 2], 0.0)
    separation = np.linalg.norm(face[:, 1, :2] - face[:, 2, :2], axis=1)
    # small angles: the photons arrive decay_distance x opening angle apart (2 m/E = 2.7 mrad -> >= 4 mm)
    np.testing.assert_allclose(separation, 1500.0 * angle, rtol=1e-3)
    assert separation.min() > 4.0
    # the energy-weighted photon impact point is the pi0's own impact point (momentum conservation)
    photons = primaries.energy.reshape(200, 3)[:, 1:]
    centre = (face[:, 1:, :2] * photons[:, :, None]).sum(axis=1) / photons.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(centre, face[:, 0, :2], atol=0.05)
    with pytest.raises(ConfigError, match="decay_distance"):
        make_gun(particle="gamma", decay_distance="1m")
