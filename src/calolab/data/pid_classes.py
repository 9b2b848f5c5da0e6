"""Particle-ID classes: which PDG codes a classifier tells apart, and each event's class index.

With ``merge_antiparticles`` a particle and its antiparticle are one class named by the positive code
``|pdg|`` (e+- is 11, pi+- is 211): "e vs pi+-" becomes a two-class problem instead of e- vs pi+ vs pi-,
whose pi+ / pi- split is a charge the calorimeter barely sees.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["infer_classes", "class_labels", "check_merged_classes"]


def _codes(pdg: np.ndarray, merge_antiparticles: bool) -> np.ndarray:
    pdg = np.asarray(pdg)
    return np.abs(pdg) if merge_antiparticles else pdg


def infer_classes(pdg: np.ndarray, merge_antiparticles: bool = False) -> tuple[int, ...]:
    """Sorted distinct PDG codes (``|pdg|`` with ``merge_antiparticles``)."""
    return tuple(int(c) for c in np.unique(_codes(pdg, merge_antiparticles)))


def class_labels(pdg: np.ndarray, classes: Sequence[int], merge_antiparticles: bool = False) -> np.ndarray:
    """Index of each PDG code (``|pdg|`` with ``merge_antiparticles``) in ``classes``; -1 where it is not a
    class (ignored by the PID loss)."""
    lookup = {int(c): i for i, c in enumerate(classes)}
    return np.array([lookup.get(int(p), -1) for p in _codes(pdg, merge_antiparticles)], dtype=np.int64)


def check_merged_classes(classes: Sequence[int] | None, merge_antiparticles: bool) -> None:
    """Refuse a negative class code with ``merge_antiparticles`` (merged classes are named ``|pdg|``).

    Raises:
        ValueError: a negative code among ``classes`` (pydantic reports it as a validation error).
    """
    codes = [int(c) for c in classes or ()]
    if merge_antiparticles and min(codes, default=0) < 0:
        msg = (f"classes {codes} with merge_antiparticles: a particle and its antiparticle are one class named "
               f"by the positive code; give {sorted({abs(c) for c in codes})}")
        raise ValueError(msg)
