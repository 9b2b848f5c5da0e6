"""Atomic output files: write to a hidden temporary beside the target, rename when complete.

An interrupted run therefore never leaves a half-written file under the final name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from calolab.errors import DatasetError

__all__ = ["atomic_path", "check_output"]


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed onto ``path``, on error removed.

    >>> with atomic_path(tmp / "figure.png") as temporary:  # doctest: +SKIP
    ...     figure.savefig(temporary, format="png")

    Raises:
        DatasetError: the folder of ``path`` does not exist.
    """
    target = Path(path)
    if not target.parent.is_dir():
        msg = f"folder {target.parent} does not exist: create it or choose another output path"
        raise DatasetError(msg)
    temporary = target.with_name(f".{target.name}.partial")
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def check_output(path: Path, overwrite: bool, example_name: str) -> None:
    """Refuse an output path before any work: a folder, an existing file (without ``overwrite``) or a
    missing parent folder, each with a message that names the fix.

    Args:
        example_name: a file name to suggest when ``path`` is a folder (``"windows.h5"``).
    """
    if path.is_dir():
        msg = f"{path} is a folder: give a file name such as {path / example_name}"
        raise DatasetError(msg)
    if path.exists() and not overwrite:
        msg = f"{path} already exists: choose another -o, delete it, or overwrite it (--overwrite)"
        raise DatasetError(msg)
    if not path.parent.is_dir():
        msg = f"folder {path.parent} does not exist: create it or choose another -o"
        raise DatasetError(msg)
