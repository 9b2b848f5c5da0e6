"""Benchmark: electromagnetic shower Monte Carlo speed on one core.

Prints ms per shower and ms per GeV for electrons of 10 and 100 GeV in the ``cms`` preset
(PbWO4 crystals) and in the ``calice-siw`` sampling calorimeter, plus the peak resident memory,
and writes them to bench/results/em_shower.json. Goal (issue #2): at most 1 ms per GeV per core
(Geant4 needs of the order of 10 ms per GeV).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

from calolab import __version__
from calolab.detector.geometry import load_detector
from calolab.sim.events import Primaries
from calolab.sim.mc.engine import MonteCarloEngine

GOAL_MS_PER_GEV = 1.0
CASES = [("cms", 10.0, 200), ("cms", 100.0, 40), ("calice-siw", 10.0, 200), ("calice-siw", 100.0, 40)]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> dict:
    engine = MonteCarloEngine()
    results = {"calolab_version": __version__, "machine": platform.processor() or platform.machine(),
               "cpu_count": os.cpu_count(), "goal_ms_per_gev": GOAL_MS_PER_GEV, "cases": []}
    start = time.perf_counter()
    engine.simulate(Primaries.single(np.array([11]), 1000.0), load_detector("cms"), np.random.SeedSequence(0))
    results["first_call_s"] = time.perf_counter() - start  # numba compile or cache load + tables
    for preset, energy_gev, n in CASES:
        detector = load_detector(preset)
        engine.simulate(Primaries.single(np.array([11]), 1000.0), detector, np.random.SeedSequence(0))
        primaries = Primaries.single(np.full(n, 11), energy_gev * 1000.0)
        start = time.perf_counter()
        engine.simulate(primaries, detector, np.random.SeedSequence(1))
        elapsed = time.perf_counter() - start
        ms_per_shower = elapsed / n * 1000.0
        case = {"detector": preset, "particle": "e-", "energy_gev": energy_gev, "showers": n,
                "ms_per_shower": ms_per_shower, "ms_per_gev": ms_per_shower / energy_gev,
                "showers_per_s": n / elapsed}
        results["cases"].append(case)
        print(f"{preset:>11s}  e- {energy_gev:5.0f} GeV: {ms_per_shower:8.2f} ms/shower  "
              f"{case['ms_per_gev']:6.3f} ms/GeV  ({case['showers_per_s']:.1f} showers/s)")
    results["peak_rss_mb"] = _peak_rss_mb()
    cms = [c["ms_per_gev"] for c in results["cases"] if c["detector"] == "cms"]
    results["cms_ms_per_gev"] = max(cms)
    results["goal_met"] = max(cms) <= GOAL_MS_PER_GEV
    verdict = "met" if results["goal_met"] else "NOT met"
    first_call, peak = results["first_call_s"], results["peak_rss_mb"]
    print(f"first call (compile/cache + tables): {first_call:.1f} s; peak RSS {peak:.0f} MB")
    print(f"goal <= {GOAL_MS_PER_GEV} ms/GeV in cms: {verdict} (worst {max(cms):.3f} ms/GeV)")
    out = Path(__file__).parent / "results" / "em_shower.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
