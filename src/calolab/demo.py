"""The demo job behind ``make demo`` / ``calolab demo``: a small campaign from end to end.

It fires electrons of 10-50 GeV into the ``calice-siw`` preset (the CALICE Si-W ECAL physics
prototype), writes the shower file, draws one event and a response plot, and measures the
sampling fraction and the energy resolution -- the first things a calorimeter physicist looks at.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calolab.data.atomic import atomic_path
from calolab.data.showerfile import open_dataset
from calolab.errors import ConfigError
from calolab.evaluate import ResolutionFit, fit_resolution, relative_resolution
from calolab.sim.campaign import Campaign
from calolab.units import GeV

__all__ = ["DemoResult", "run_demo", "DEMO_DETECTOR", "DEMO_GUN"]

DEMO_DETECTOR = "calice-siw"
DEMO_GUN = {"particle": "e-", "energy": "10-50GeV"}
#: edges of the beam-energy bins of the resolution measurement, GeV
_BINS_GEV = (10.0, 20.0, 30.0, 40.0, 50.0)
#: CALICE Si-W ECAL electrons: a (sqrt(GeV)), b (GeV), c -- J. Repond et al., NIM A608 (2009) 372
_PUBLISHED = (0.166, 0.0, 0.011)


@dataclass
class DemoResult:
    """What the demo made and measured.

    Attributes:
        showers: the shower file.
        event_display: PNG of event 0.
        response_plot: PNG of the response and resolution.
        n_events: events simulated.
        sampling_fraction: weighted active / beam energy, from a straight-line fit (the weights
            are :meth:`~calolab.detector.geometry.Section.sampling_weights`, 1 : 2 : 3 here).
        bin_centres_gev: beam energy of each resolution bin, GeV.
        resolution: sigma/E of the calibrated energy in each bin; ``resolution_error`` its error.
        fit: the stochastic + constant fit of the resolution.
    """

    showers: Path
    event_display: Path
    response_plot: Path
    n_events: int
    sampling_fraction: float
    bin_centres_gev: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    resolution_error: list[float] = field(default_factory=list)
    fit: ResolutionFit | None = None


def run_demo(output: str | os.PathLike[str], *, n_events: int = 400, seed: int = 2026, workers: int = 1,
             progress: bool = False) -> DemoResult:
    """Run the demo into folder ``output`` (created if missing; earlier demo files are replaced).

    Args:
        output: the folder for ``showers.h5``, ``event0.png`` and ``response.png``.
        n_events: electrons to simulate (>= 40 so each energy bin has a few).
        seed: the campaign seed.
        workers: local processes.
        progress: show a progress bar.
    """
    if n_events < 40:
        msg = f"the demo needs at least 40 events for its resolution bins, got {n_events}"
        raise ConfigError(msg)
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    campaign = Campaign(DEMO_DETECTOR, DEMO_GUN, n_events, seed=seed, workers=workers)
    path = campaign.write(folder / "showers.h5", overwrite=True, progress=progress)

    from calolab.plots import plot_event

    with open_dataset(path) as showers:
        detector = showers.detector
        event_display = folder / "event0.png"
        plot_event(showers, detector, 0, path=event_display)
        beam = showers.primaries().event_energy() / GeV
        # the sampling-weighted energy (layers weighted by their absorber depth, as CALICE does)
        section = detector.sections[0]
        per_layer = showers.energy(section.name).sum(axis=(2, 3), dtype=np.float64)
        active = per_layer @ section.sampling_weights() / GeV

    slope, intercept = np.polyfit(beam, active, 1)
    calibrated = (active - intercept) / slope
    result = DemoResult(path, event_display, folder / "response.png", n_events, float(slope))
    for low, high in zip(_BINS_GEV[:-1], _BINS_GEV[1:], strict=True):
        inside = (beam >= low) & (beam < high)
        if inside.sum() < 10:
            continue
        value, error = relative_resolution(calibrated[inside] / beam[inside])
        result.bin_centres_gev.append(float(beam[inside].mean()))
        result.resolution.append(value)
        result.resolution_error.append(error)
    if len(result.resolution) >= 3:
        result.fit = fit_resolution(np.array(result.bin_centres_gev), np.array(result.resolution),
                                    np.array(result.resolution_error))
    _plot_response(result, beam, active, slope, intercept)
    return result


def _plot_response(result: DemoResult, beam: np.ndarray, active: np.ndarray, slope: float,
                   intercept: float) -> None:
    from matplotlib.figure import Figure

    from calolab.evaluate import resolution_model

    figure = Figure(figsize=(10, 4), layout="constrained")
    left, right = figure.subplots(1, 2)
    left.scatter(beam, active * 1e3, s=6, alpha=0.6, label="events")
    line = np.linspace(beam.min(), beam.max(), 50)
    left.plot(line, (slope * line + intercept) * 1e3, color="C3",
              label=f"straight-line fit: slope {slope * 100:.3f}%")
    left.set_xlabel("beam energy (GeV)")
    left.set_ylabel("weighted energy in silicon (MeV)")
    left.set_title(f"{DEMO_DETECTOR}: e- response")
    left.legend()
    right.errorbar(result.bin_centres_gev, np.array(result.resolution) * 100,
                   yerr=np.array(result.resolution_error) * 100, fmt="o", label="simulated")
    curve = np.linspace(_BINS_GEV[0], _BINS_GEV[-1], 100)
    if result.fit is not None:
        fit = result.fit
        right.plot(curve, resolution_model(curve, fit.a, fit.b, fit.c) * 100, color="C3",
                   label=f"a = {fit.a * 100:.1f}%/sqrt(E), c = {fit.c * 100:.1f}%")
    right.plot(curve, resolution_model(curve, *_PUBLISHED) * 100, color="grey", linestyle="--",
               label="CALICE published: 16.6%/sqrt(E) + 1.1%")
    right.set_xlabel("beam energy (GeV)")
    right.set_ylabel("sigma(E) / E (%)")
    right.set_title("energy resolution")
    right.legend()
    with atomic_path(result.response_plot) as temporary:
        figure.savefig(temporary, format="png", dpi=110)
