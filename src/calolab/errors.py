"""Exceptions raised by calolab.

Every error a user can cause derives from :class:`CalolabError`; its message names the
offending field, file or value and says how to fix it.
"""

from __future__ import annotations

__all__ = ["CalolabError", "ConfigError", "DatasetError", "MaterialError", "SimulationError"]


class CalolabError(Exception):
    """Base class of all calolab errors."""


class ConfigError(CalolabError, ValueError):
    """A configuration value (detector, gun, CLI option) is invalid."""


class MaterialError(ConfigError, KeyError):
    """A material or element is unknown or inconsistently defined."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DatasetError(CalolabError, OSError):
    """A shower file is missing, truncated, foreign or fails validation."""


class SimulationError(CalolabError, RuntimeError):
    """The simulation could not run as configured."""
