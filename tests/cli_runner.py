"""Run ``calolab`` commands in-process for the CLI tests."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from calolab import cli


def run(*args: str) -> tuple[int, str, BaseException | None]:
    """``calolab ARGS...`` -> (exit code, output, exception), on a 200-column console."""
    for console in (cli.console, cli.error_console):
        console.width = 200  # no wrapping, so tests can look for whole phrases
    # mount the app as a sub-group so commands are addressed by name; its help renders as the app's own does
    wrapper = typer.Typer(rich_markup_mode=cli.app.rich_markup_mode)
    wrapper.add_typer(cli.app, name="calolab")
    result = CliRunner().invoke(wrapper, ["calolab", *args])
    return result.exit_code, result.output, result.exception
