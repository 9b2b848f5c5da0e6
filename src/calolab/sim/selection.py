"""Keep only the simulated events that pass cuts on their shower features, where they are simulated.

A rare class of events (pions that leave almost all their energy in the ECAL, say: about 2% of
5-15 GeV pions in ``clic``) needs many showers simulated for a few kept. A campaign with a
selection applies the cuts to each shard as it is made, so only the kept events travel between
processes and reach the file; the file records the selection and how many events were simulated.

The cuts read the raw active energies (``Deposits.active``) through :func:`calolab.features.compute_features`
(a few hundred events at a time) with its defaults, so ``hcal_ecal_ratio < 0.1`` here is the
``hcal_ecal_ratio`` feature of the file's raw cells.

>>> selection = EventSelection.parse("hcal_ecal_ratio<0.1, energy_total>50")
>>> selection.describe()
'hcal_ecal_ratio < 0.1, energy_total > 50'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from calolab.errors import ConfigError

__all__ = ["Cut", "EventSelection", "as_selection"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_ONE_SIDED = re.compile(rf"^(?P<feature>{_NAME})\s*(?P<op>[<>])\s*(?P<value>{_NUMBER})$")
_RANGE = re.compile(rf"^(?P<low>{_NUMBER})\s*<\s*(?P<feature>{_NAME})\s*<\s*(?P<high>{_NUMBER})$")
_SYNTAX = ("write each cut as 'feature<value', 'feature>value' or 'low<feature<high', cuts separated by commas, "
           "e.g. 'hcal_ecal_ratio<0.1' (feature names: calolab.features.feature_names(detector))")


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Cut:
    """``above < feature < below``; a side that is ``None`` is open (units: the feature's, MeV and mm)."""

    feature: str
    above: float | None = None
    below: float | None = None

    def __post_init__(self) -> None:
        if self.above is None and self.below is None:
            msg = f"the cut on {self.feature!r} needs a lower or an upper bound: {_SYNTAX}"
            raise ConfigError(msg)
        for bound in (self.above, self.below):
            if bound is not None and not math.isfinite(bound):
                msg = f"the cut on {self.feature!r} has a bound that is not a finite number ({bound}): {_SYNTAX}"
                raise ConfigError(msg)
        if self.above is not None and self.below is not None and not self.above < self.below:
            msg = f"the cut {self.describe()} keeps nothing: the lower bound must be below the upper one"
            raise ConfigError(msg)

    def passes(self, values: np.ndarray) -> np.ndarray:
        """Whether each value passes (boolean array of the same shape)."""
        keep = np.ones(values.shape, dtype=bool)
        if self.above is not None:
            keep &= values > self.above
        if self.below is not None:
            keep &= values < self.below
        return keep

    def describe(self) -> str:
        if self.above is not None and self.below is not None:
            return f"{_number(self.above)} < {self.feature} < {_number(self.below)}"
        if self.below is not None:
            return f"{self.feature} < {_number(self.below)}"
        return f"{self.feature} > {_number(self.above)}"  # type: ignore[arg-type]  # one side is set


@dataclass(frozen=True)
class EventSelection:
    """Cuts on shower features that an event must all pass to be kept."""

    cuts: tuple[Cut, ...]

    def __post_init__(self) -> None:
        if not self.cuts:
            msg = f"a selection needs at least one cut: {_SYNTAX}"
            raise ConfigError(msg)

    @classmethod
    def parse(cls, text: str) -> EventSelection:
        """A selection from ``"feature<value"``, ``"feature>value"``, ``"low<feature<high"``, comma-separated.

        Raises:
            ConfigError: a cut that does not read as one of these (the message shows the syntax).
        """
        cuts = []
        for part in str(text).split(","):
            part = part.strip()
            if match := _RANGE.match(part):
                cuts.append(Cut(match["feature"], above=float(match["low"]), below=float(match["high"])))
            elif match := _ONE_SIDED.match(part):
                value = float(match["value"])
                cuts.append(Cut(match["feature"], below=value) if match["op"] == "<" else
                            Cut(match["feature"], above=value))
            else:
                msg = f"cannot read the selection cut {part!r} (in {text!r}): {_SYNTAX}"
                raise ConfigError(msg)
        return cls(tuple(cuts))

    def describe(self) -> str:
        """The selection as text; :meth:`parse` reads it back."""
        return ", ".join(cut.describe() for cut in self.cuts)

    def check(self, detector: Any) -> None:
        """Fail early if a cut names a feature ``detector`` does not have.

        Raises:
            ConfigError: an unknown feature, with the detector's global features and an example of a section's.
        """
        from calolab.features import feature_names

        known = feature_names(detector)
        unknown = [cut.feature for cut in self.cuts if cut.feature not in known]
        if unknown:
            first = detector.sections[0].name
            msg = (f"the selection names features {detector.name} does not have: {unknown}; its features are "
                   f"{[name for name in known if not name.startswith(tuple(s.name for s in detector.sections))]} "
                   f"and per section e.g. {first}_energy, {first}_r9, {first}_layer_0 "
                   "(calolab.features.feature_names(detector) lists them all)")
            raise ConfigError(msg)

    def passes(self, active: Mapping[str, np.ndarray], detector: Any) -> np.ndarray:
        """Which events pass every cut, a boolean ``(N,)`` array.

        Args:
            active: section name -> raw active energies ``(N, layers, y, x)``, MeV (``Deposits.active``).
            detector: the :class:`~calolab.detector.geometry.Calorimeter` they were simulated in.
        """
        from calolab.features import features_in_chunks  # a large --shard-size: bounded temporaries

        self.check(detector)
        features = features_in_chunks(active, detector)
        keep = np.ones(len(next(iter(features.values()))), dtype=bool)
        for cut in self.cuts:
            keep &= cut.passes(features[cut.feature])
        return keep


def as_selection(selection: EventSelection | str | None) -> EventSelection | None:
    """An :class:`EventSelection` from itself, its text or ``None``."""
    if selection is None or isinstance(selection, EventSelection):
        return selection
    return EventSelection.parse(selection)
