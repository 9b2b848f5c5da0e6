"""The particle gun: spectra, angles, impact points, multi-particle events and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from calolab.errors import ConfigError
from calolab.sim.gun import EnergySpectrum, GunConfig, make_gun

N = 20_000


def generate(n: int = N, seed: int = 1, **options):
    return make_gun(**options).generate(n, np.random.default_rng(seed))


def test_fixed_energy_and_defaults() -> None:
    primaries = generate(100, particle="gamma", energy="50GeV")
    assert primaries.n_events == 100
    assert np.all(primaries.pdg == 22)
    assert np.all(primaries.energy == 50_000.0)
    np.testing.assert_array_equal(primaries.direction, np.tile([0.0, 0.0, 1.0], (100, 1)))
    np.testing.assert_array_equal(primaries.position, np.zeros((100, 3)))


@pytest.mark.parametrize(("name", "pdg"), [("e-", 11), ("electron", 11), ("e+", -11), ("positron", -11),
                                           ("gamma", 22), ("photon", 22)])
def test_particle_names(name: str, pdg: int) -> None:
    assert make_gun(particle=name).config.pdg == pdg


def test_uniform_spectrum_is_uniform() -> None:
    energy = generate(energy="10-100GeV").energy
    assert energy.min() >= 10_000.0 and energy.max() <= 100_000.0
    # Kolmogorov-Smirnov against U(10, 100) GeV; p > 1e-3 fails 1 in 1000 seeds, seed fixed
    assert stats.kstest(energy, stats.uniform(10_000.0, 90_000.0).cdf).pvalue > 1e-3


def test_log_uniform_spectrum_is_uniform_in_log_energy() -> None:
    energy = generate(energy="log:1-1000GeV").energy
    assert energy.min() >= 1_000.0 and energy.max() <= 1_000_000.0
    log_energy = np.log(energy)
    assert stats.kstest(log_energy, stats.uniform(np.log(1e3), np.log(1e3)).cdf).pvalue > 1e-3
    # dN/dE ~ 1/E: as many particles in 1-10 GeV as in 100-1000 GeV
    low, high = np.mean(energy < 10_000.0), np.mean(energy > 100_000.0)
    assert low == pytest.approx(1 / 3, abs=0.015) and high == pytest.approx(1 / 3, abs=0.015)


def test_energy_spectrum_parsing() -> None:
    assert EnergySpectrum.parse("10GeV") == EnergySpectrum(kind="fixed", low=1e4, high=1e4)
    assert EnergySpectrum.parse("500MeV-2GeV") == EnergySpectrum(kind="uniform", low=500.0, high=2000.0)
    assert EnergySpectrum.parse("log:1-10GeV").kind == "log-uniform"
    assert str(EnergySpectrum.parse("log:1-10GeV")) == "log:1 GeV-10 GeV"


def test_angles_and_unit_directions() -> None:
    primaries = generate(theta="5-30", phi="0-360")
    direction = primaries.direction
    np.testing.assert_allclose(np.linalg.norm(direction, axis=1), 1.0, rtol=1e-12)
    theta = np.degrees(np.arccos(direction[:, 2]))
    assert theta.min() >= 5.0 - 1e-9 and theta.max() <= 30.0 + 1e-9
    assert stats.kstest(theta, stats.uniform(5.0, 25.0).cdf).pvalue > 1e-3
    phi = np.degrees(np.arctan2(direction[:, 1], direction[:, 0])) % 360.0
    assert stats.kstest(phi, stats.uniform(0.0, 360.0).cdf).pvalue > 1e-3


def test_fixed_tilt_points_along_phi() -> None:
    direction = generate(10, theta=30, phi=90).direction
    np.testing.assert_allclose(direction, np.tile([0.0, 0.5, np.sqrt(3) / 2], (10, 1)), atol=1e-12)


def test_gaussian_and_uniform_impact_points() -> None:
    position = generate(position="10,-5mm", spread="2mm").position
    np.testing.assert_allclose(position[:, :2].mean(axis=0), [10.0, -5.0], atol=0.05)
    np.testing.assert_allclose(position[:, :2].std(axis=0), [2.0, 2.0], rtol=0.03)
    assert np.all(position[:, 2] == 0.0)  # particles start on the front face
    square = generate(position=(0, 0), spread="1cm", spread_shape="uniform").position
    assert np.abs(square[:, :2]).max() <= 10.0
    assert stats.kstest(square[:, 0], stats.uniform(-10.0, 20.0).cdf).pvalue > 1e-3


def test_particles_per_event() -> None:
    primaries = generate(50, energy="1-2GeV", particles_per_event=3)
    assert primaries.n_events == 50 and primaries.n_particles == 150
    np.testing.assert_array_equal(np.diff(primaries.event_offsets), 3)
    assert len(set(primaries.energy[:3])) == 3  # independent particles


def test_reproducible_from_the_generator_seed() -> None:
    a, b = generate(100, seed=5, energy="1-100GeV", theta="0-10"), generate(100, seed=5, energy="1-100GeV",
                                                                          theta="0-10")
    np.testing.assert_array_equal(a.energy, b.energy)
    np.testing.assert_array_equal(a.direction, b.direction)
    assert not np.array_equal(a.energy, generate(100, seed=6, energy="1-100GeV").energy)


def test_config_round_trip_through_json() -> None:
    gun = make_gun(particle="photon", energy="log:1-100GeV", theta="0-10", position="1,2", spread="3mm")
    again = make_gun(gun.to_dict())
    assert again.config == gun.config
    assert make_gun(gun.config, energy="5GeV").config.energy.low == 5000.0  # options override a config


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"energy": "abc"}, "gun.energy: cannot read energy 'abc'"),
        ({"energy": "10"}, "has no unit"),
        ({"energy": "100-10GeV"}, "low <= high"),
        ({"particle": "tau"}, "gun.particle: unknown particle 'tau'"),
        ({"theta": "95"}, "gun.theta: must lie in [0, 90)"),
        ({"theta": "x"}, "cannot read the angle 'x'"),
        ({"spread": -1.0}, "gun.spread"),
        ({"position": "1"}, "gun.position: the impact point needs two coordinates"),
        ({"particles_per_event": 0}, "gun.particles_per_event"),
        ({"energie": "10GeV"}, "gun.energie: unknown field 'energie'"),
    ],
)
def test_bad_gun_options_name_the_field(options: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_gun(**options)
    assert fragment in str(info.value)


def test_negative_event_count_is_refused() -> None:
    with pytest.raises(ConfigError, match="number of events"):
        make_gun().generate(-1, np.random.default_rng(0))


def test_gun_config_is_immutable() -> None:
    config = GunConfig()
    with pytest.raises(ValidationError, match="frozen"):
        config.particle = "gamma"  # type: ignore[misc]
