"""Shared pieces of the benchmarks: timing showers, machine facts, writing bench/results/<name>.json."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

from calolab import __version__
from calolab.detector.geometry import Calorimeter
from calolab.sim.events import Primaries
from calolab.sim.mc.engine import MonteCarloEngine


def peak_rss_mb() -> float:
    """Peak resident memory of this process, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> dict:
    return {"calolab_version": __version__, "machine": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count()}


def time_showers(engine: MonteCarloEngine, detector: Calorimeter, name: str, pdg: int, particle: str,
                 energy_gev: float, n: int) -> dict:
    """Simulate ``n`` showers on one core after warm-up showers (numba compilation or cache loading,
    physics tables); print and return the per-item costs."""
    warm_up = Primaries.single(np.full(3, pdg), min(energy_gev, 10.0) * 1000.0)
    engine.simulate(warm_up, detector, np.random.SeedSequence(0))
    primaries = Primaries.single(np.full(n, pdg), energy_gev * 1000.0)
    start = time.perf_counter()
    engine.simulate(primaries, detector, np.random.SeedSequence(1))
    elapsed = time.perf_counter() - start
    ms_per_shower = elapsed / n * 1000.0
    case = {"detector": name, "particle": particle, "energy_gev": energy_gev, "showers": n,
            "ms_per_shower": ms_per_shower, "ms_per_gev": ms_per_shower / energy_gev, "showers_per_s": n / elapsed}
    print(f"{name:>12s}  {particle:>3s} {energy_gev:5.0f} GeV: {ms_per_shower:8.2f} ms/shower  "
          f"{case['ms_per_gev']:6.3f} ms/GeV  ({case['showers_per_s']:.1f} showers/s)")
    return case


def write_results(name: str, results: dict) -> Path:
    out = Path(__file__).parent / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return out
