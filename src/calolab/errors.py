"""Exceptions raised by calolab.

Every error a user can cause derives from :class:`CalolabError`; its message names the
offending field, file or value and says how to fix it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "CalolabError",
    "ConfigError",
    "DatasetError",
    "FieldError",
    "MaterialError",
    "SimulationError",
    "format_validation_error",
]


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


class FieldError(ValueError):
    """Raised inside a pydantic validator for a problem that belongs to one named field.

    ``field`` is appended to the location pydantic reports, so the message names it; an empty
    ``field`` means the message already names its own path.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def format_location(loc: tuple[int | str, ...]) -> str:
    """``("sections", 0, "cells")`` -> ``"sections[0].cells"``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


#: a hook that rewrites one pydantic error item: ``(item, loc) -> (loc, message)`` or ``None``
ErrorDescriber = Callable[[dict[str, Any], tuple[int | str, ...]], tuple[tuple[int | str, ...], str] | None]


def format_validation_error(
    error: ValidationError, *, what: str, source: str | None = None, describe: ErrorDescriber | None = None
) -> str:
    """One message naming the path of every bad field of a pydantic ``error``.

    Args:
        error: the pydantic validation error.
        what: what was validated, for the several-problems headline (``"detector config"``).
        source: a file name that prefixes the message, if the values came from a file.
        describe: an optional hook giving a better message for items it recognises.

    Returns:
        ``"field.path: problem"``, or a headline and one such line per problem.
    """
    lines: list[str] = []
    for item in error.errors():
        loc = tuple(item["loc"])
        cause = (item.get("ctx") or {}).get("error")
        special = describe(dict(item), loc) if describe is not None else None
        if isinstance(cause, FieldError):
            if not cause.field:  # the message already names its path
                lines.append(str(cause))
                continue
            loc = (*loc, cause.field)
            message = str(cause)
        elif isinstance(cause, Exception):
            message = str(cause)
        elif special is not None:
            loc, message = special
        elif item["type"] == "missing":
            message = "missing required field"
        elif item["type"] == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}: check the spelling"
        else:
            message = f"{item['msg']} (value: {item.get('input')!r})"
        path = format_location(loc)
        line = f"{path}: {message}" if path else message
        if line not in lines:
            lines.append(line)
    prefix = f"{source}: " if source else ""
    if len(lines) == 1:
        return prefix + lines[0]
    return f"{prefix}{len(lines)} problems in the {what}:\n  " + "\n  ".join(lines)
