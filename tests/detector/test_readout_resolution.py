"""The cms preset with its documented readout reproduces the CMS ECAL test-beam resolution.

Reference: CMS ECAL barrel test beam, 3 x 3 crystals around the impact crystal, electrons at the
crystal centre: sigma/E = 2.8%/sqrt(E) (+) 0.12 GeV/E (+) 0.3% (P. Adzic et al., JINST 2 (2007)
P04004; a and c read in its abstract, b [M] in /work/shared/REFERENCES.md).

As in that measurement all electrons hit one crystal (within +-2 mm of its centre, the 4 x 4 mm^2
region of the paper), so the crystal gains of the intercalibration shift the mean but do not
widen the peak: the constant term comes from the shower's own leakage and containment
fluctuations in the Monte Carlo. The widths are those of the gaussian core, like the paper's
fits, which the rear-leakage tail would otherwise inflate.

The noise term b is measured as in a pedestal run: the 3 x 3 sum of events without a shower. The
beam energies then fit a and c with b held at that value; with b free too, five energies leave a
and b strongly correlated (about +-25% on a).
"""

from __future__ import annotations

import numpy as np
import pytest

import calolab
from calolab.detector.readout import Readout
from calolab.evaluate import fit_resolution

#: beam energy (GeV) -> electrons: more where the noise term dominates, fewer where showers cost more
SAMPLES = {5: 300, 10: 300, 25: 300, 50: 250, 100: 220}
#: the truncated-gaussian sigma at +-2.5 sigma is 0.9546 of the gaussian's
_TRUNCATION = 0.9546


def core_resolution(energy: np.ndarray, window: float = 2.5) -> tuple[float, float]:
    """sigma/mean of the gaussian core of ``energy`` (iterative +-2.5 sigma), and its uncertainty."""
    mean, sigma = energy.mean(), energy.std()
    for _ in range(10):
        core = energy[np.abs(energy - mean) < window * sigma]
        mean, sigma = core.mean(), core.std(ddof=1) / _TRUNCATION
    value = sigma / mean
    return float(value), float(value / np.sqrt(2.0 * (core.size - 1)))


@pytest.mark.slow
def test_cms_resolution_terms() -> None:
    detector = calolab.load_detector("cms")
    readout = Readout.from_detector(detector)
    ecal = detector.section("ECAL")
    energies, resolutions, errors = [], [], []
    for energy, n in SAMPLES.items():
        showers = calolab.simulate(detector, n=n, particle="e-", energy=f"{energy}GeV", seed=1000 + energy,
                                   position="0,0", spread="2mm", spread_shape="uniform")
        signal = readout.digitize(showers, np.random.default_rng(energy)).energy["ECAL"][:, 0]  # (n, y, x)
        ix, iy = ecal.cell_index(showers.primaries.position[:, 0], showers.primaries.position[:, 1])
        assert np.all(ix == 5) and np.all(iy == 5)  # the central crystal of the 11 x 11
        sum3x3 = signal[:, 4:7, 4:7].sum(axis=(1, 2))
        value, error = core_resolution(sum3x3)
        energies.append(energy)
        resolutions.append(value)
        errors.append(error)
    # pedestal run: the central 3 x 3 sums of 20,000 events without energy
    empty = np.zeros((20000, *ecal.shape), dtype=np.float32)
    pedestal = readout.sections["ECAL"].digitize(empty, np.random.default_rng(1))[:, 0, 4:7, 4:7]
    noise_gev = float(pedestal.sum(axis=(1, 2)).std()) / 1e3
    values = np.array(energies), np.array(resolutions), np.array(errors)
    fit = fit_resolution(*values, fix_noise=noise_gev)
    free = fit_resolution(*values, fix_noise=None)
    for name, result in (("b from pedestal", fit), ("b free", free)):
        print(f"cms 3x3 ({name}): a = {result.a:.4f} +- {result.a_error:.4f}, b = {result.b:.4f} +- "
              f"{result.b_error:.4f} GeV, c = {result.c:.4f} +- {result.c_error:.4f}, "
              f"chi2/ndof = {result.chi2:.1f}/{result.ndof}")
    # JINST 2 P04004: a = 2.8%, b = 0.12 GeV, c = 0.3%; tolerance 25% (issue 3)
    assert noise_gev == pytest.approx(0.12, rel=0.25)
    assert fit.a == pytest.approx(0.028, rel=0.25)
    assert fit.c == pytest.approx(0.003, rel=0.25)
    assert fit.chi2 / fit.ndof < 5.0  # the three-term model describes the points
    # with b free the fit still lands within 25% of b (its uncertainty is ~7%)
    assert free.b == pytest.approx(0.12, rel=0.25)
