"""The readout: calibration, photostatistics, intercalibration, noise, zero suppression, its config."""

from __future__ import annotations

import numpy as np
import pytest

import calolab
from calolab.detector import Calorimeter, load_detector
from calolab.detector.readout import (
    Readout,
    ReadoutConfig,
    SectionReadout,
    calibrate_sampling_fraction,
    intercalibration_gains,
    with_overrides,
)
from calolab.errors import ConfigError

SHAPE = (1, 10, 10)  # (layers, y, x) of the toy section


def toy(n_events: int = 2000, **fields: float) -> tuple[SectionReadout, np.ndarray]:
    """A toy section readout (sampling fraction 1 unless given) and zero deposits for it."""
    config = ReadoutConfig(**({"sampling_fraction": 1.0} | fields))
    gains = intercalibration_gains(config, "toy", SHAPE)
    return SectionReadout("toy", SHAPE, config, gains), np.zeros((n_events, *SHAPE), dtype=np.float32)


def test_noise_only_sigma_matches_config() -> None:
    readout, zeros = toy(noise_mev=40.0)
    signal = readout.digitize(zeros, np.random.default_rng(1))
    assert signal.dtype == np.float32 and signal.shape == zeros.shape
    # 200,000 gaussian cells: the sample sigma is within 0.5% of 40 MeV (its standard error is 0.16%)
    assert signal.std() == pytest.approx(40.0, rel=0.005)
    assert abs(signal.mean()) < 0.5
    assert np.count_nonzero(signal) == signal.size  # threshold 0 keeps every cell, negative noise included


def test_threshold_removes_cells() -> None:
    readout, zeros = toy(noise_mev=10.0, threshold_mev=25.0)
    zeros[:, 0, 5, 5] = 100.0  # a real signal of 100 MeV in one cell of every event
    signal = readout.digitize(zeros, np.random.default_rng(2))
    kept = signal != 0
    assert np.all(signal[kept] >= 25.0)
    assert np.all(kept[:, 0, 5, 5])  # the 100 MeV cell (10 sigma above threshold) always survives
    # noise-only cells survive with P(z > 2.5) = 0.621% (gaussian tail)
    noise_kept = (np.count_nonzero(kept) - len(zeros)) / (zeros.size - len(zeros))
    assert noise_kept == pytest.approx(0.00621, rel=0.1)


@pytest.mark.parametrize(("enf", "fraction"), [(1.0, 1.0), (2.0, 1.0), (2.0, 0.25)])
def test_photostatistics_variance_is_poisson_times_enf(enf: float, fraction: float) -> None:
    readout, deposits = toy(photoelectrons_per_mev=4.5, excess_noise_factor=enf, sampling_fraction=fraction)
    deposits[...] = 100.0  # MeV active in every cell: 450 photoelectrons on average
    signal = readout.digitize(deposits, np.random.default_rng(3)).astype(np.float64)
    # calibrated signal E_act/f: mean 100/f, variance F * 450 pe / (4.5 pe/MeV)^2 / f^2 (Poisson x ENF)
    assert signal.mean() == pytest.approx(100.0 / fraction, rel=0.002)
    expected = enf * 450.0 / 4.5**2 / fraction**2
    assert signal.var() == pytest.approx(expected, rel=0.03)  # 200,000 cells: standard error 0.3%


def test_no_light_from_no_deposit() -> None:
    readout, zeros = toy(photoelectrons_per_mev=4.5, excess_noise_factor=2.0)
    assert not readout.digitize(zeros, np.random.default_rng(4)).any()


def test_intercalibration_gains_are_fixed_by_the_seed() -> None:
    config = ReadoutConfig(intercalibration=0.02, intercalibration_seed=7)
    gains = intercalibration_gains(config, "ECAL", (4, 50, 50))
    np.testing.assert_array_equal(gains, intercalibration_gains(config, "ECAL", (4, 50, 50)))
    assert gains.std() == pytest.approx(0.02, rel=0.05)  # 10,000 cells: standard error 0.7%
    assert gains.mean() == pytest.approx(1.0, abs=0.001)
    other_seed = intercalibration_gains(config.model_copy(update={"intercalibration_seed": 8}), "ECAL", (4, 50, 50))
    assert not np.array_equal(gains, other_seed)
    assert not np.array_equal(gains, intercalibration_gains(config, "HCAL", (4, 50, 50)))
    assert intercalibration_gains(ReadoutConfig(), "ECAL", (4, 50, 50)) is None


def test_intercalibration_scales_each_cell_by_its_gain() -> None:
    readout, deposits = toy(n_events=3, intercalibration=0.05)
    deposits[...] = 1000.0
    signal = readout.digitize(deposits, np.random.default_rng(5))
    expected = np.broadcast_to(1000.0 * readout.gains, signal.shape)  # the same gains in every event
    np.testing.assert_allclose(signal, expected, rtol=1e-6)


def test_cms_preset_readout() -> None:
    cms = load_detector("cms")
    config = cms.section("ECAL").readout
    # CMS ECAL barrel: ~4.5 p.e./MeV, APD F ~ 2, ~40 MeV per crystal, 0.3% intercalibration (cms.toml)
    assert (config.photoelectrons_per_mev, config.excess_noise_factor) == (4.5, 2.0)
    assert (config.noise_mev, config.intercalibration) == (40.0, 0.003)
    readout = Readout.from_detector(cms)
    assert readout.sampling_fractions == {"ECAL": 1.0}  # homogeneous: no calibration run
    # same detector, same gains
    np.testing.assert_array_equal(readout.sections["ECAL"].gains, Readout.from_detector(cms).sections["ECAL"].gains)
    # photostatistics term of the preset: sqrt(F / (4.5 p.e./MeV * 1000 MeV)) = 2.1%/sqrt(GeV)
    assert np.sqrt(2.0 / 4500.0) == pytest.approx(0.021, abs=0.0005)


def test_sampling_fraction_of_calice_siw_from_simulation() -> None:
    assert calibrate_sampling_fraction("cms") == {"ECAL": 1.0}
    derived = calibrate_sampling_fraction("calice-siw", energy="10GeV", n=60, seed=11)["ECAL"]
    # independent events: the Si share of all the energy deposited in the ECAL by 10 GeV electrons
    showers = calolab.simulate("calice-siw", n=30, particle="e-", energy="10GeV", seed=12)
    silicon = showers.active["ECAL"].sum(dtype=np.float64)
    ratio = silicon / (silicon + showers.passive["ECAL"].sum(dtype=np.float64))
    assert derived == pytest.approx(ratio, rel=0.10)
    assert 0.005 < derived < 0.1  # W/Si: a few percent
    readout = Readout.from_detector("calice-siw", calibration_events=60, calibration_seed=11)
    assert readout.sampling_fractions["ECAL"] == derived  # what the readout uses when the config says nothing
    # calibration only (no noise): the digitised signal is the Si energy over the sampling fraction,
    # and the raw deposits stay as they were
    before = showers.active["ECAL"].copy()
    hits = readout.digitize(showers, np.random.default_rng(0))
    np.testing.assert_array_equal(showers.active["ECAL"], before)
    np.testing.assert_allclose(hits.energy["ECAL"], before / derived, rtol=1e-5)
    # on average the calibrated signal is the deposited energy (~10 GeV, less leakage)
    deposited = showers.total_deposited().mean()
    assert hits.total().mean() == pytest.approx(deposited, rel=0.05)


def test_explicit_sampling_fraction_and_overrides() -> None:
    readout = Readout.from_detector("calice-siw", sampling_fractions={"ECAL": 0.02}, overrides={"noise_mev": 3.0})
    assert readout.configs["ECAL"].sampling_fraction == 0.02 and readout.configs["ECAL"].noise_mev == 3.0
    with pytest.raises(ConfigError, match=r"sampling_fractions names sections \['HCAL'\]"):
        Readout.from_detector("calice-siw", sampling_fractions={"HCAL": 0.02})


def test_deposits_of_another_detector_are_refused() -> None:
    showers = calolab.simulate("pisa-csi", n=2, particle="e-", energy="100MeV", seed=1)
    readout = Readout.from_detector("cms")
    with pytest.raises(ConfigError, match="build the Readout from the detector that made them"):
        readout.digitize(showers, np.random.default_rng(0))


# ---------------------------------------------------------------- config


BASE = """
name = "t"
[[sections]]
name = "ECAL"
cells = [3, 3]
cell_size = [10.0, 10.0]
  [[sections.layers]]
  active = { material = "PbWO4", thickness = 100.0 }
  [sections.readout]
"""


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("noise_mev = -1", "sections[0].readout.noise_mev: must be >= 0 MeV, got -1"),
        ("threshold_mev = -0.5", "sections[0].readout.threshold_mev: must be >= 0 MeV, got -0.5"),
        ("sampling_fraction = 1.5", "sections[0].readout.sampling_fraction: must be in (0, 1], got 1.5"),
        ("sampling_fraction = 0", "sections[0].readout.sampling_fraction: must be in (0, 1], got 0"),
        ("photoelectrons_per_mev = 0", "sections[0].readout.photoelectrons_per_mev: must be > 0"),
        ("excess_noise_factor = 0.5", "sections[0].readout.excess_noise_factor: must be >= 1"),
        ("intercalibration = 0.7", "sections[0].readout.intercalibration: must be a relative spread in [0, 0.5)"),
        ("intercalibration_seed = -2", "sections[0].readout.intercalibration_seed: must be >= 0, got -2"),
        ("noise = 3", "sections[0].readout.noise: unknown field 'noise'"),
        ('noise_mev = "lots"', "sections[0].readout.noise_mev: "),
    ],
)
def test_config_errors_name_the_field(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Calorimeter.from_toml(BASE + "  " + line + "\n")
    assert str(info.value).startswith(message)


def test_override_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"^readout\.noise_mev: must be >= 0 MeV, got -3"):
        with_overrides(ReadoutConfig(), {"noise_mev": -3.0})
    with pytest.raises(ConfigError, match=r"^readout\.noise_sigma: unknown field"):
        with_overrides(ReadoutConfig(), {"noise_sigma": 3.0})
    assert with_overrides(ReadoutConfig(), None) == ReadoutConfig()


def test_readout_table_round_trips_through_toml() -> None:
    table = "  noise_mev = 40\n  intercalibration = 0.003\n  photoelectrons_per_mev = 4.5\n"
    detector = Calorimeter.from_toml(BASE + table)
    text = detector.to_toml()
    assert "[sections.readout]" in text and "sampling_fraction" not in text  # defaults are not written
    again = Calorimeter.from_toml(text)
    assert again == detector and again.section("ECAL").readout.noise_mev == 40.0
    cms = load_detector("cms")
    assert Calorimeter.from_toml(cms.to_toml()).section("ECAL").readout == cms.section("ECAL").readout
