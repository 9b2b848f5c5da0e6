"""The Monte Carlo engine: bookkeeping, reproducibility, tables in their analytic limits."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from calolab.detector.geometry import homogeneous_block, load_detector
from calolab.errors import SimulationError
from calolab.physics.constants import ELECTRON_MASS
from calolab.physics.materials import get_material
from calolab.sim.events import Primaries
from calolab.sim.mc.config import TransportConfig
from calolab.sim.mc.engine import MonteCarloEngine
from calolab.sim.mc.tables import E_BREM, E_DEDX, G_PAIR, build_tables


@pytest.fixture(scope="module")
def engine():
    return MonteCarloEngine()


@pytest.fixture(scope="module")
def tungsten_block():
    return homogeneous_block("W", 15.0, 4.0, layers=15, cells=8)


@pytest.mark.parametrize(("pdg", "extra"), [(11, 0.0), (22, 0.0), (-11, 2 * ELECTRON_MASS)])
def test_energy_is_conserved(engine, tungsten_block, pdg, extra):
    primaries = Primaries.single(np.full(20, pdg), 2000.0)
    deposits = engine.simulate(primaries, tungsten_block, np.random.SeedSequence(1))
    total = deposits.total_deposited() + deposits.leakage.sum(axis=1) + deposits.extra["dead_material_energy"]
    # a positron's annihilation adds 2 m_e to the energy that ends up somewhere
    np.testing.assert_allclose(total, 2000.0 + extra, rtol=1e-5)
    assert np.all(deposits.leakage >= 0)
    # a 15 X0, 4 R_M block leaks, but holds most of a 2 GeV shower
    assert 0.7 < deposits.total_deposited().mean() / 2000.0 < 0.99


def test_sampling_calorimeter_splits_active_and_passive(engine):
    detector = load_detector("calice-siw")
    deposits = engine.simulate(Primaries.single(np.full(10, 11), 5000.0), detector, np.random.SeedSequence(3))
    active = deposits.active["ECAL"].sum(axis=(0, 2, 3)).reshape(3, 10).sum(axis=1)
    passive = deposits.passive["ECAL"].sum(axis=(0, 2, 3)).reshape(3, 10).sum(axis=1)
    # minimum-ionising dE/dx (PDG Atomic and Nuclear Properties): Si 1.664, W 1.145 MeV cm2/g
    si = 1.664 * 2.329 * 0.0525
    mip_fraction = np.array([si / (si + 1.145 * 19.3 * 0.1 * w) for w in (1.4, 2.8, 4.2)])
    e_over_mip = active / (active + passive) / mip_fraction
    # a high-Z absorber read out by silicon has e/mip below 1 (soft photons stop in the tungsten),
    # typically 0.6-0.8 (Wigmans, Calorimetry, 2nd ed., ch. 3)
    assert np.all((e_over_mip > 0.5) & (e_over_mip < 1.0)), e_over_mip


def test_same_seed_same_showers_and_other_seed_other_showers(engine, tungsten_block):
    primaries = Primaries.single(np.full(3, 11), 1000.0)
    first = engine.simulate(primaries, tungsten_block, np.random.SeedSequence(42))
    again = engine.simulate(primaries, tungsten_block, np.random.SeedSequence(42))
    other = engine.simulate(primaries, tungsten_block, np.random.SeedSequence(43))
    np.testing.assert_array_equal(first.active["block"], again.active["block"])
    assert not np.array_equal(first.active["block"], other.active["block"])


_SHOWERS_SCRIPT = """
import hashlib
import numpy as np
from calolab.detector.geometry import homogeneous_block
from calolab.sim.events import Primaries
from calolab.sim.mc.engine import MonteCarloEngine
block = homogeneous_block("W", 15.0, 4.0, layers=15, cells=8)
engine = MonteCarloEngine()
deposits = engine.simulate(Primaries.single(np.array([11, 211]), 2000.0), block, np.random.SeedSequence(3))
tables = engine.tables(block)
print(hashlib.sha256(np.ascontiguousarray(tables.energy).tobytes() + tables.values.tobytes()).hexdigest())
digest = hashlib.sha256()
for array in (deposits.active["block"], deposits.passive["block"], deposits.leakage):
    digest.update(np.ascontiguousarray(array).tobytes())
print(digest.hexdigest())
"""


def test_same_seed_same_showers_whatever_numpy_simd_kernels():
    """numpy picks its vectorised math kernels by CPU and version, and they differ in the last bit; the tables
    must not depend on them (a one-bit change in the energy grid gave other showers from the same seeds, so
    files simulated on another machine did not match). Here numpy's dispatched kernels are switched off in a
    second process: the showers (an electron and a pion, EM and hadron tables) must be the same bits."""
    try:  # numpy's record of its dispatched kernels (private, but what numpy.show_runtime prints)
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:
        pytest.skip("this numpy does not say which kernels it dispatches")
    dispatched = [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]
    if not dispatched:
        pytest.skip("numpy dispatches no kernels beyond its baseline on this CPU: nothing to switch off")

    def digest(environment: dict[str, str]) -> list[str]:
        result = subprocess.run([sys.executable, "-c", _SHOWERS_SCRIPT], capture_output=True, text=True, check=True,
                                env={**os.environ, **environment}, timeout=300)
        return result.stdout.split()

    assert digest({}) == digest({"NPY_DISABLE_CPU_FEATURES": " ".join(dispatched)})  # [tables, showers]


def test_event_depends_only_on_its_seed(engine, tungsten_block):
    # event i of a batch equals the same event simulated alone with the same per-event seed
    primaries = Primaries.single(np.array([11, 22, 11]), np.array([500.0, 800.0, 300.0]))
    seed = np.random.SeedSequence(9)
    batch = engine.simulate(primaries, tungsten_block, seed)
    assert batch.active["block"].shape == (3, 15, 8, 8)
    totals = batch.total_deposited()
    assert totals[2] < totals[1]


def test_unknown_particles_are_refused_with_a_clear_message(engine, tungsten_block):
    with pytest.raises(SimulationError, match="3122"):
        engine.simulate(Primaries.single(np.array([3122]), 1000.0), tungsten_block, np.random.SeedSequence(0))


@pytest.fixture(scope="module")
def tungsten_tables():
    material = get_material("W")
    return material, build_tables([material], TransportConfig())


def test_pair_cross_section_reaches_seven_ninths_over_x0(tungsten_tables):
    # PDG eq. 34.31: sigma_pair -> 7/9 / (n X0) at high energy (complete screening);
    # the e-e contribution and Coulomb correction of Tsai's X0 leave a ~1% difference
    material, tables = tungsten_tables
    index = np.searchsorted(tables.energy, 1.0e6)
    assert tables.values[0, G_PAIR, index] * material.radiation_length == pytest.approx(7.0 / 9.0, rel=0.02)


def test_radiative_loss_is_energy_over_x0(tungsten_tables):
    # PDG eq. 34.30: at high energy -dE/dx (radiation) = E / X0. The table holds the loss below the
    # photon cut; the discrete part above the cut has ~16 photons per X0 ((4/3) ln(E/k_c), PDG eq. 34.29).
    material, tables = tungsten_tables
    index = np.searchsorted(tables.energy, 1.0e5)
    energy = tables.energy[index]
    expected_photons = 4.0 / 3.0 * np.log(energy / tables.photon_cut[0])
    assert tables.values[0, E_BREM, index] * material.radiation_length == pytest.approx(expected_photons, rel=0.05)
    assert tables.values[0, E_DEDX, index] < 0.01 * energy / material.radiation_length


def test_production_cuts_follow_the_range_cut(tungsten_tables):
    # a 0.7 mm range cut in tungsten is ~1 MeV for electrons and ~0.1 MeV for photons in Geant4
    _, tables = tungsten_tables
    assert 0.5 < tables.electron_cut[0] < 2.0
    assert 0.02 < tables.photon_cut[0] < 0.2
