"""The Engine protocol and the registry of simulation engines.

Every way of making showers -- the calolab Monte Carlo (``mc``), a parametrisation, Geant4,
or a trained generative model -- implements :class:`Engine` and returns the same
:class:`~calolab.sim.events.Deposits`, so every downstream tool works with any of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from calolab.errors import ConfigError

if TYPE_CHECKING:
    from calolab.detector.geometry import Calorimeter
    from calolab.sim.events import Deposits, Primaries

__all__ = ["Engine", "register_engine", "get_engine", "available_engines", "event_seeds"]


@runtime_checkable
class Engine(Protocol):
    """A simulation engine: primaries + detector + seed -> deposits."""

    name: str
    version: str

    def simulate(
        self, primaries: Primaries, detector: Calorimeter, seed: np.random.SeedSequence
    ) -> Deposits:
        """Simulate every event of ``primaries``; the result depends only on the inputs and ``seed``."""
        ...


_REGISTRY: dict[str, Callable[[str], Engine]] = {}


def register_engine(prefix: str, factory: Callable[[str], Engine]) -> None:
    """Register ``factory(spec) -> Engine`` for specs ``prefix`` or ``prefix:ARGUMENT``."""
    _REGISTRY[prefix] = factory


def available_engines() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def get_engine(spec: str | Engine) -> Engine:
    """The engine for ``spec`` (``"mc"``, ``"model:PATH"``, ...) or ``spec`` itself if it is one."""
    if not isinstance(spec, str):
        return spec
    _load_builtin()
    prefix = spec.split(":", 1)[0]
    factory = _REGISTRY.get(prefix)
    if factory is None:
        msg = f"unknown engine {spec!r}: choose one of {sorted(_REGISTRY)}"
        raise ConfigError(msg)
    return factory(spec)


def event_seeds(seed: np.random.SeedSequence, n_events: int) -> np.ndarray:
    """One independent 64-bit seed per event, derived from ``seed``; shape ``(n_events,)`` uint64."""
    return seed.generate_state(max(n_events, 1) * 2, dtype=np.uint32).view(np.uint64)[:n_events].copy()


def _load_builtin() -> None:
    if "mc" not in _REGISTRY:
        from calolab.sim.mc import engine as _mc  # noqa: F401  (registers itself)
    if "model" not in _REGISTRY:  # trained generative models; torch is imported only when one is asked for

        def _model(spec: str) -> Engine:
            from calolab.gen.engine import model_engine

            return model_engine(spec)

        _REGISTRY["model"] = _model
