"""``--help`` of every command: it renders, its paragraphs reflow, and no placeholder is lost."""

from __future__ import annotations

import pytest
from tests.cli_runner import run
from typer.main import get_command

from calolab.cli import app


def _command_paths(command, path=()):
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _command_paths(sub, (*path, name))
    else:
        yield path


COMMANDS = sorted(_command_paths(get_command(app)))


def test_every_command_has_help(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert len(COMMANDS) > 15
    for path in COMMANDS:
        code, output, error = run(*path, "--help")
        assert code == 0, (path, output, error)
        assert "Usage: " in output and "--help" in output, path


@pytest.mark.parametrize(("path", "phrase"), [
    # the docstring breaks this sentence after "mean": Markdown joins the lines of a paragraph
    (("validate",), "energy per layer, mean energy per hit cell, shower shapes"),
    # rich markup took [sections.readout] for a style tag and printed nothing in its place
    (("digitize",), "The readout is the [sections.readout] table"),
    (("digitize",), "/sections/<NAME>/digitized"),
    (("show",), "<file stem>_event<N>.png"),
    (("scan",), "trial_<k>/"),
    (("generate",), "model:<name>"),
])
def test_help_text_survives_rendering(monkeypatch, path, phrase):
    monkeypatch.setenv("COLUMNS", "200")
    code, output, _ = run(*path, "--help")
    assert code == 0
    assert phrase in output
