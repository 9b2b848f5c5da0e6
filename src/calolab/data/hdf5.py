"""Opening HDF5 inputs with errors that say what is wrong: missing, a folder, not HDF5, truncated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from calolab.errors import DatasetError

__all__ = ["check_hdf5", "open_hdf5", "decode_attribute"]


def check_hdf5(path: Path, kind: str, fix: str, missing_fix: str = "check the path") -> None:
    """Raise a :class:`DatasetError` unless ``path`` is an existing HDF5 file.

    Args:
        path: the file.
        kind: what the file should be, for messages (``"shower file"``, ``"LCD file"``).
        fix: what to do about a damaged or foreign file.
        missing_fix: what to do about a missing file.
    """
    if not path.exists():
        msg = f"{kind} {path} does not exist: {missing_fix}"
        raise DatasetError(msg)
    if path.is_dir():
        msg = f"{path} is a folder, not a {kind}: give the path of an .h5 file"
        raise DatasetError(msg)
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError:
        is_hdf5 = False
    if not is_hdf5:
        size = path.stat().st_size
        what = "is empty" if size == 0 else f"is not an HDF5 file ({size} bytes, no HDF5 signature)"
        msg = f"{path} {what}: a partly copied or foreign file? {fix}"
        raise DatasetError(msg)


def open_hdf5(path: Path, kind: str, fix: str, missing_fix: str = "check the path") -> h5py.File:
    """Open ``path`` read-only after :func:`check_hdf5`; a truncated file says how many bytes it lacks."""
    check_hdf5(path, kind, fix, missing_fix)
    try:
        return h5py.File(path, "r")
    except OSError as error:
        sizes = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(error))
        if sizes:
            msg = f"{path} is truncated: {sizes[1]} of {sizes[2]} bytes (an interrupted copy or write?): {fix}"
        else:
            msg = f"{path} cannot be opened as HDF5 (truncated or corrupted: {error}): {fix}"
        raise DatasetError(msg) from error


def decode_attribute(value: Any) -> Any:
    """An HDF5 attribute as a plain Python value (bytes -> str, numpy scalars -> Python scalars)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value
