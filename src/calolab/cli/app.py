"""The typer application, its consoles and the entry point that turns library errors into one line."""

from __future__ import annotations

import sys
from typing import Annotated, Final, Optional

import typer
from rich.console import Console

from calolab.errors import CalolabError

__all__ = ["app", "console", "error_console", "main", "MARKUP", "StyleOption"]

#: how ``--help`` reads docstrings and option help: as Markdown, so paragraphs reflow to the terminal's
#: width (rich markup kept the source's line breaks and took ``[sections.readout]`` for a style tag);
#: write a placeholder such as ``<NAME>`` inside double backticks, or Markdown drops it as an HTML tag
MARKUP: Final = "markdown"

app = typer.Typer(
    name="calolab",
    help="Calorimeter physics and ML toolkit: materials, detectors, shower Monte Carlo, datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=MARKUP,
)
console = Console()
error_console = Console(stderr=True)

#: the ``--style`` option of every command that draws plots
StyleOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="mplhep style of the plots: CMS, ATLAS, LHCb2, ROOT (default: matplotlib's)."),
]


def main() -> None:
    """Entry point: run the app and turn library errors into one clear line and exit code 2."""
    try:
        app()
    except CalolabError as error:
        error_console.print(f"[bold red]error:[/] {error}")
        sys.exit(2)
