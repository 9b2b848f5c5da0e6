"""Benchmark: electromagnetic shower Monte Carlo speed on one core.

Prints ms per shower and ms per GeV for electrons of 10 and 100 GeV in the ``cms`` preset
(PbWO4 crystals) and in the ``calice-siw`` sampling calorimeter, plus the peak resident memory,
and writes them to bench/results/em_shower.json. Goal (issue #2): at most 1 ms per GeV per core
(Geant4 needs of the order of 10 ms per GeV).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, peak_rss_mb, time_showers, write_results  # noqa: E402

from calolab.detector.geometry import load_detector  # noqa: E402
from calolab.sim.events import Primaries  # noqa: E402
from calolab.sim.mc.engine import MonteCarloEngine  # noqa: E402

GOAL_MS_PER_GEV = 1.0
CASES = [("cms", 10.0, 200), ("cms", 100.0, 40), ("calice-siw", 10.0, 200), ("calice-siw", 100.0, 40)]


def main() -> dict:
    engine = MonteCarloEngine()
    results = {**machine(), "goal_ms_per_gev": GOAL_MS_PER_GEV, "cases": []}
    start = time.perf_counter()
    engine.simulate(Primaries.single(np.array([11]), 1000.0), load_detector("cms"), np.random.SeedSequence(0))
    results["first_call_s"] = time.perf_counter() - start  # numba compile or cache load + tables
    for preset, energy_gev, n in CASES:
        results["cases"].append(time_showers(engine, load_detector(preset), preset, 11, "e-", energy_gev, n))
    results["peak_rss_mb"] = peak_rss_mb()
    cms = [c["ms_per_gev"] for c in results["cases"] if c["detector"] == "cms"]
    results["cms_ms_per_gev"] = max(cms)
    results["goal_met"] = max(cms) <= GOAL_MS_PER_GEV
    verdict = "met" if results["goal_met"] else "NOT met"
    first_call, peak = results["first_call_s"], results["peak_rss_mb"]
    print(f"first call (compile/cache + tables): {first_call:.1f} s; peak RSS {peak:.0f} MB")
    print(f"goal <= {GOAL_MS_PER_GEV} ms/GeV in cms: {verdict} (worst {max(cms):.3f} ms/GeV)")
    write_results("em_shower", results)
    return results


if __name__ == "__main__":
    main()
