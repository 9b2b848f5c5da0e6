"""Training tensors for generative models: one section's cells and the conditions of each shower.

A generative model learns showers of *one* section of *one* detector, conditioned on

* the incident kinetic energy ``E_inc`` (MeV), log-scaled to ``[0, 1]`` over the training range;
* the polar angle ``theta`` of the primary's direction to the detector axis (rad), scaled to ``[0, 1]``
  over the training range (0 when the training set has a single angle);
* the particle class, one-hot over the PDG codes of the training set.

:class:`ConditionSpec` holds those ranges and encodes conditions the same way at training and at
generation time. :class:`CellTransform` is the 3DGAN cell preprocessing ``x = (E / s)^0.85``
(Khattak et al., "Fast simulation of a high granularity calorimeter by generative adversarial
networks", EPJC 82 (2022) 386) and its inverse. :func:`load_gen_arrays` reads shower files into
:class:`GenArrays` (numpy, MeV); :func:`split_indices` makes the seeded train/validation split.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from calolab.errors import DatasetError, SimulationError

__all__ = ["ConditionSpec", "CellTransform", "GenArrays", "load_gen_arrays", "split_indices", "primary_conditions"]

#: relative margin by which a requested energy may leave the training range
ENERGY_MARGIN = 0.01
#: margin (rad) by which a requested angle may leave the training range (0.5 degree)
ANGLE_MARGIN = 0.5 * np.pi / 180.0


@dataclass(frozen=True)
class ConditionSpec:
    """The conditions a model was trained on, and how they are encoded.

    Attributes:
        energy_range: lowest and highest incident kinetic energy, MeV.
        theta_range: lowest and highest polar angle to the detector axis, rad.
        classes: PDG codes of the particle classes, in one-hot order.
    """

    energy_range: tuple[float, float]
    theta_range: tuple[float, float]
    classes: tuple[int, ...]

    @property
    def size(self) -> int:
        """Length of an encoded condition vector: log-energy, angle, one-hot classes."""
        return 2 + len(self.classes)

    @classmethod
    def from_arrays(cls, energy: np.ndarray, theta: np.ndarray, pdg: np.ndarray) -> ConditionSpec:
        """The ranges and classes seen in a training set (energies MeV, angles rad)."""
        return cls((float(np.min(energy)), float(np.max(energy))), (float(np.min(theta)), float(np.max(theta))),
                   tuple(int(p) for p in np.unique(pdg)))

    def class_index(self, pdg: np.ndarray) -> np.ndarray:
        """Index of each PDG code in :attr:`classes`; -1 for a code the model does not know."""
        lookup = {code: i for i, code in enumerate(self.classes)}
        return np.array([lookup.get(int(p), -1) for p in np.asarray(pdg).ravel()], dtype=np.int64)

    def energy_scaled(self, energy: np.ndarray) -> np.ndarray:
        """``log(E / E_min) / log(E_max / E_min)`` in ``[0, 1]``; 0.5 for a single training energy."""
        low, high = self.energy_range
        if high <= low * (1 + 1e-9):
            return np.full(np.shape(energy), 0.5)
        return np.log(np.asarray(energy, dtype=np.float64) / low) / np.log(high / low)

    def theta_scaled(self, theta: np.ndarray) -> np.ndarray:
        """``(theta - theta_min) / (theta_max - theta_min)``; 0 for a single training angle."""
        low, high = self.theta_range
        if high - low < 1e-9:
            return np.zeros(np.shape(theta))
        return (np.asarray(theta, dtype=np.float64) - low) / (high - low)

    def encode(self, energy: np.ndarray, theta: np.ndarray, pdg: np.ndarray) -> np.ndarray:
        """Condition vectors ``(N, size)`` float32: scaled log-energy, scaled angle, one-hot class."""
        energy = np.asarray(energy, dtype=np.float64).ravel()
        out = np.zeros((energy.size, self.size), dtype=np.float32)
        out[:, 0] = self.energy_scaled(energy)
        out[:, 1] = self.theta_scaled(np.asarray(theta, dtype=np.float64).ravel())
        index = self.class_index(pdg)
        known = index >= 0
        out[np.flatnonzero(known), 2 + index[known]] = 1.0
        return out

    def check(self, energy: np.ndarray, theta: np.ndarray, pdg: np.ndarray, what: str = "the model") -> None:
        """Refuse conditions outside what the model was trained on.

        Raises:
            SimulationError: an unknown particle, or an energy or angle outside the training range
                (energies may exceed it by 1%, angles by 0.5 degree). The message gives the range.
        """
        from calolab.sim.particles import PARTICLES

        names = {code: name for name, code in PARTICLES.items()}
        trained = ", ".join(f"{names.get(c, c)} ({c})" for c in self.classes)
        unknown = sorted(set(np.asarray(pdg).ravel().tolist()) - set(self.classes))
        if unknown:
            shown = ", ".join(f"{names.get(c, c)} ({c})" for c in unknown)
            msg = (f"{what} was trained on {trained} only; got {shown}. Generate one of those particles "
                   f"or train a model on showers of {shown}.")
            raise SimulationError(msg)
        energy = np.asarray(energy, dtype=np.float64)
        low, high = self.energy_range
        bad = (energy < low * (1 - ENERGY_MARGIN)) | (energy > high * (1 + ENERGY_MARGIN))
        if energy.size and bad.any():
            value = float(energy[bad][0])
            msg = (f"{what} was trained on incident energies {low / 1e3:g}-{high / 1e3:g} GeV; got "
                   f"{value / 1e3:g} GeV. Ask for an energy inside that range (it does not extrapolate).")
            raise SimulationError(msg)
        theta = np.asarray(theta, dtype=np.float64)
        low, high = self.theta_range
        bad = (theta < low - ANGLE_MARGIN) | (theta > high + ANGLE_MARGIN)
        if theta.size and bad.any():
            value = float(np.degrees(theta[bad][0]))
            msg = (f"{what} was trained on polar angles {np.degrees(low):g}-{np.degrees(high):g} degrees; got "
                   f"{value:g} degrees. Ask for an angle inside that range.")
            raise SimulationError(msg)

    def to_dict(self) -> dict[str, Any]:
        return {"energy_range": list(self.energy_range), "theta_range": list(self.theta_range),
                "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConditionSpec:
        return cls(tuple(data["energy_range"]), tuple(data["theta_range"]),  # type: ignore[arg-type]
                   tuple(int(c) for c in data["classes"]))


@dataclass(frozen=True)
class CellTransform:
    """The 3DGAN cell preprocessing ``x = (E / scale)^power`` and its inverse ``E = scale x^(1/power)``.

    The power 0.85 compresses the dynamic range of the cells (Khattak et al. 2022, section 3).

    Attributes:
        scale: energy that maps to 1, MeV (by default the mean over training showers of the hottest cell).
        power: the exponent, 0.85 as in 3DGAN.
    """

    scale: float
    power: float = 0.85

    @classmethod
    def fit(cls, cells: np.ndarray, power: float = 0.85) -> CellTransform:
        """The transform whose scale is the mean hottest cell of ``cells`` ``(N, ...)`` MeV."""
        hottest = np.asarray(cells).reshape(len(cells), -1).max(axis=1)
        scale = float(hottest.mean()) if hottest.size and hottest.mean() > 0 else 1.0
        return cls(scale, power)

    def forward(self, cells: Any) -> Any:
        """MeV -> transformed cells (numpy or torch; negative inputs are clipped to 0)."""
        return (cells.clip(0) / self.scale) ** self.power

    def inverse(self, x: Any) -> Any:
        """Transformed cells -> MeV (numpy or torch; negative inputs are clipped to 0)."""
        return self.scale * x.clip(0) ** (1.0 / self.power)

    def inverse_in_place(self, x: np.ndarray) -> np.ndarray:
        """:meth:`inverse` of float32 cells, overwriting ``x`` (sampling's fast path: numpy's vectorised log and
        exp take a third of the time of a power on CPU; they agree with it to a few units in the last place;
        torch's clamp an eighth of numpy's maximum)."""
        import torch  # here: the rest of this module needs numpy only

        torch.from_numpy(x).clamp_min_(0)
        with np.errstate(divide="ignore"):  # log(0) = -inf, whose exp is 0
            np.log(x, out=x)
        x *= 1.0 / self.power
        x += np.log(self.scale)
        return np.exp(x, out=x)

    def to_dict(self) -> dict[str, float]:
        return {"scale": self.scale, "power": self.power}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellTransform:
        return cls(float(data["scale"]), float(data["power"]))


@dataclass
class GenArrays:
    """Showers of one section with their conditions, in memory.

    Attributes:
        cells: deposited energy, MeV, ``(N, layers, y, x)`` float32.
        energy: incident kinetic energy, MeV, ``(N,)`` float64.
        theta: polar angle of the primary to the detector axis, rad, ``(N,)`` float64.
        pdg: PDG code of the primary, ``(N,)`` int64.
        detector_toml: the detector, as TOML text.
        section: the section's name.
    """

    cells: np.ndarray
    energy: np.ndarray
    theta: np.ndarray
    pdg: np.ndarray
    detector_toml: str
    section: str

    def __len__(self) -> int:
        return int(self.cells.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(layers, y, x)`` of the section."""
        return tuple(int(s) for s in self.cells.shape[1:])  # type: ignore[return-value]

    def conditions(self) -> ConditionSpec:
        return ConditionSpec.from_arrays(self.energy, self.theta, self.pdg)

    def select(self, index: np.ndarray) -> GenArrays:
        return GenArrays(self.cells[index], self.energy[index], self.theta[index], self.pdg[index],
                         self.detector_toml, self.section)

    def tensors(self, spec: ConditionSpec, transform: CellTransform | None = None) -> dict[str, np.ndarray]:
        """Model inputs: ``cells`` ``(N, 1, layers, y, x)`` (transformed when ``transform`` is given),
        ``conditions`` ``(N, spec.size)``, ``energy`` (MeV), ``class_index``, all float32 but the index."""
        cells = self.cells if transform is None else transform.forward(self.cells)
        return {"cells": np.ascontiguousarray(cells[:, None], dtype=np.float32),
                "conditions": spec.encode(self.energy, self.theta, self.pdg),
                "energy": self.energy.astype(np.float32),
                "class_index": spec.class_index(self.pdg)}


def primary_conditions(primaries: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energy (MeV), polar angle (rad) and PDG code of each event's single transported primary.

    Raises:
        SimulationError: an event with no or several transported particles (a generative model
            makes one particle's shower at a time).
    """
    transported = primaries.transported()
    counts = np.diff(transported.event_offsets)
    if np.any(counts != 1):
        bad = int(np.flatnonzero(counts != 1)[0])
        msg = (f"event {bad} has {int(counts[bad])} transported particles: generative models make showers of "
               f"one particle per event (no pairs, pi0 decays or several particles per event)")
        raise SimulationError(msg)
    direction = transported.direction
    norm = np.linalg.norm(direction, axis=1)
    theta = np.arccos(np.clip(direction[:, 2] / np.where(norm > 0, norm, 1.0), -1.0, 1.0))
    return transported.energy.astype(np.float64), theta, transported.pdg.astype(np.int64)


def load_gen_arrays(paths: Sequence[str | os.PathLike[str]], section: str | None = None,
                    max_events: int | None = None) -> GenArrays:
    """Read the cells of one section and the conditions of every event of shower files.

    Args:
        paths: native shower files, all of the same detector; concatenated.
        section: the section to learn; ``None`` = the detector's first section.
        max_events: read at most this many events of each file (``None`` = all).

    Raises:
        DatasetError: no files, files of different detectors, an unknown section, or events with
            more than one transported particle.
    """
    from calolab.data.showerfile import ShowerFile

    if not paths:
        msg = "no shower files to train on: pass --data FILE.h5"
        raise DatasetError(msg)
    parts: list[GenArrays] = []
    for path in paths:
        with ShowerFile(path) as showers:
            detector = showers.detector
            name = section or showers.sections[0]
            if name not in showers.sections:
                msg = f"{path}: no section {name!r}; choose one of {showers.sections} (--section)"
                raise DatasetError(msg)
            events = slice(0, min(len(showers), max_events)) if max_events else slice(None)
            cells = showers.energy(name, events)
            try:
                energy, theta, pdg = primary_conditions(showers.primaries(events))
            except SimulationError as error:
                raise DatasetError(f"{path}: {error}") from None
            parts.append(GenArrays(cells, energy, theta, pdg, detector.to_toml(), name))
    first = parts[0]
    for path, part in zip(paths[1:], parts[1:], strict=True):
        if part.detector_toml != first.detector_toml or part.section != first.section:
            msg = f"{path} was simulated in another detector than {paths[0]}: train on files of one detector"
            raise DatasetError(msg)
    if len(parts) == 1:
        return first
    return GenArrays(np.concatenate([p.cells for p in parts]), np.concatenate([p.energy for p in parts]),
                     np.concatenate([p.theta for p in parts]), np.concatenate([p.pdg for p in parts]),
                     first.detector_toml, first.section)


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``range(n)`` into (train, validation) index arrays, each sorted.

    Raises:
        DatasetError: fewer than 2 events, or a split that leaves one side empty.
    """
    n_val = int(round(n * val_fraction))
    if n < 2 or n_val < 1 or n_val >= n:
        msg = f"{n} events cannot be split with val_fraction={val_fraction}: simulate more events"
        raise DatasetError(msg)
    order = np.random.default_rng(np.random.SeedSequence([seed, 5])).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])
