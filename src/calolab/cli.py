"""The ``calolab`` command line: a thin layer that reads options, calls the library and
writes output. Each command's help text explains its options and gives an example.

Quantities take units: ``--energy 10-100GeV``, ``--thickness 2.2cm``.
"""

from __future__ import annotations

import sys
from pathlib import Path  # noqa: F401  (used by commands)
from typing import Annotated, Optional  # noqa: F401,UP035  (typer needs Optional at run time)

import typer
from rich.console import Console

from calolab.errors import CalolabError

app = typer.Typer(
    name="calolab",
    help="Calorimeter physics and ML toolkit: materials, detectors, shower Monte Carlo, datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
error_console = Console(stderr=True)


# ---------------------------------------------------------------- material commands
# (section owned by physics/materials.py)

# ---------------------------------------------------------------- detector commands
# (section owned by detector/)

# ---------------------------------------------------------------- simulate / demo commands
# (section owned by sim/gun.py + sim/campaign.py)

# ---------------------------------------------------------------- dataset commands (inspect, show)
# (section owned by data/showerfile.py + plots.py)


def main() -> None:
    """Entry point: run the app and turn library errors into one clear line and exit code 2."""
    try:
        app()
    except CalolabError as error:
        error_console.print(f"[bold red]error:[/] {error}")
        sys.exit(2)


if __name__ == "__main__":
    main()
