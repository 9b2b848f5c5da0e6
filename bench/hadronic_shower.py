"""Benchmark: hadronic shower Monte Carlo speed on one core.

Prints ms per shower and ms per GeV for pi- of 10 and 100 GeV in the ``clic`` preset (Si-W ECAL +
steel/scintillator HCAL) and in ``calice-ahcal``, next to e- of the same energies in ``clic``, plus
the peak resident memory; writes bench/results/hadronic_shower.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, peak_rss_mb, time_showers, write_results  # noqa: E402

from calolab.detector.geometry import load_detector  # noqa: E402
from calolab.sim.mc.engine import MonteCarloEngine  # noqa: E402

CASES = [("clic", -211, "pi-", 10.0, 100), ("clic", -211, "pi-", 100.0, 20), ("calice-ahcal", -211, "pi-", 10.0, 200),
         ("calice-ahcal", -211, "pi-", 100.0, 40), ("clic", 11, "e-", 10.0, 50), ("clic", 11, "e-", 100.0, 10)]


def main() -> dict:
    engine = MonteCarloEngine()
    results = {**machine(), "cases": []}
    for preset, pdg, particle, energy_gev, n in CASES:
        results["cases"].append(time_showers(engine, load_detector(preset), preset, pdg, particle, energy_gev, n))
    results["peak_rss_mb"] = peak_rss_mb()
    clic = {(c["particle"], c["energy_gev"]): c["ms_per_gev"] for c in results["cases"] if c["detector"] == "clic"}
    results["clic_pi_ms_per_gev"] = max(clic[("pi-", 10.0)], clic[("pi-", 100.0)])
    results["clic_pi_over_e_cost"] = clic[("pi-", 100.0)] / clic[("e-", 100.0)]
    print(f"clic pi-: {results['clic_pi_ms_per_gev']:.3f} ms/GeV (worst); pi-/e- cost at 100 GeV "
          f"{results['clic_pi_over_e_cost']:.2f}; peak RSS {results['peak_rss_mb']:.0f} MB")
    write_results("hadronic_shower", results)
    return results


if __name__ == "__main__":
    main()
