"""Closure test: a trained reconstruction network run on the reference and on the candidate showers.

A generative model is good enough for an analysis when the reconstruction cannot tell its showers from
the full simulation's. The network (a :mod:`calolab.reco` checkpoint) predicts both files; the suite
then compares, on the reference's bins, the distributions of what it predicts:

- ``energy_response``: E_reco / E_inc per event, and the reconstructed energy itself;
- ``pid_score_<pdg>``: the particle-ID score of each class.

Each comparison is a :class:`~calolab.validate.comparison.HistogramComparison` of group ``closure``
(section: the model's name), so it gets its separation power, chi2 and figure like every other
observable. :func:`response_by_energy` adds the mean response and resolution in bins of E_inc.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from calolab.validate.comparison import HistogramComparison, compare_histograms
from calolab.validate.observables import Observable

__all__ = ["ClosureResult", "closure_test", "response_by_energy"]

GROUP = "closure"
ENERGY_RESPONSE = Observable("energy_response", r"$E_\mathrm{reco} / E_\mathrm{inc}$", "", "scalar")
ENERGY_RECO = Observable("energy_reco", "reconstructed energy", "MeV", "scalar")


def _pid_observable(pdg: int) -> Observable:
    return Observable(f"pid_score_{pdg}", f"particle-ID score of class {pdg}", "", "scalar")


@dataclass(frozen=True)
class ClosureResult:
    """What the network made of both samples.

    Attributes:
        model: the checkpoint's path.
        name: the model's name (the comparisons' section).
        task: its task (``energy``, ``pid``, ...).
        n_reference, n_candidate: events predicted.
        comparisons: one histogram comparison per predicted quantity.
        response: :func:`response_by_energy` of both samples (empty without an energy head).
    """

    model: str
    name: str
    task: str
    n_reference: int
    n_candidate: int
    comparisons: list[HistogramComparison]
    response: dict[str, Any]

    def figures(self) -> dict[str, Any]:
        return {"model": self.model, "name": self.name, "task": self.task, "n_reference": self.n_reference,
                "n_candidate": self.n_candidate, "response": self.response,
                "separation_power": {c.observable.name: c.separation for c in self.comparisons},
                "mean_reference": {c.observable.name: c.mean_reference for c in self.comparisons},
                "mean_candidate": {c.observable.name: c.mean_candidate for c in self.comparisons}}


def response_by_energy(true_energy: np.ndarray, predicted_energy: np.ndarray, edges: np.ndarray,
                       ) -> dict[str, list[float]]:
    """Mean and standard deviation of E_reco / E_inc in bins of E_inc (MeV edges); NaN for bins under 2 events."""
    response = predicted_energy / true_energy
    index = np.digitize(true_energy, edges) - 1
    mean, std, counts = [], [], []
    for k in range(len(edges) - 1):
        values = response[(index == k) & np.isfinite(response)]
        counts.append(int(values.size))
        mean.append(float(values.mean()) if values.size >= 2 else float("nan"))
        std.append(float(values.std(ddof=1)) if values.size >= 2 else float("nan"))
    return {"energy_edges_mev": edges.tolist(), "counts": counts, "mean": mean, "std": std}


def closure_test(model: str | os.PathLike[str], reference: str | os.PathLike[str],
                 candidate: str | os.PathLike[str], *, max_events: int | None = None, bins: int = 30,
                 energy_bins: int = 5) -> ClosureResult:
    """Predict both shower files with a trained network and compare what it predicts.

    Args:
        model: a reconstruction checkpoint (``best.ckpt`` or its run folder).
        reference, candidate: shower files of the detector the network was trained on.
        max_events: predict at most this many events of each file.
        bins: bins per histogram (from the reference).
        energy_bins: bins of E_inc (reference quantiles) for the response summary.

    Raises:
        DatasetError: a missing or unreadable checkpoint or file, or a file of another detector.
    """
    from calolab.reco.inference import load_task, predictions_for

    task = load_task(model)
    name = str(task.hparams["model"])
    predicted = [predictions_for(task, path, max_events=max_events) for path in (reference, candidate)]
    comparisons: list[HistogramComparison] = []
    response: dict[str, Any] = {}
    ref, cand = predicted
    if "energy" in ref.predicted:
        values = [p.predicted["energy"] / p.truth["energy"] for p in predicted]
        comparisons.append(compare_histograms(values[0], values[1], ENERGY_RESPONSE, group=GROUP, section=name,
                                              bins=bins))
        comparisons.append(compare_histograms(ref.predicted["energy"], cand.predicted["energy"], ENERGY_RECO,
                                              group=GROUP, section=name, bins=bins))
        edges = np.unique(np.quantile(ref.truth["energy"], np.linspace(0.0, 1.0, energy_bins + 1)))
        edges[-1] = np.nextafter(edges[-1], np.inf)
        response = {label: response_by_energy(p.truth["energy"], p.predicted["energy"], edges)
                    for label, p in zip(("reference", "candidate"), predicted, strict=True)}
    if "pid_score" in ref.predicted:
        for column, pdg in enumerate(ref.classes):
            comparisons.append(compare_histograms(ref.predicted["pid_score"][:, column],
                                                  cand.predicted["pid_score"][:, column], _pid_observable(pdg),
                                                  group=GROUP, section=name, bins=bins))
    return ClosureResult(model=str(Path(model)), name=name, task=task.task_name, n_reference=len(ref),
                         n_candidate=len(cand), comparisons=comparisons, response=response)
