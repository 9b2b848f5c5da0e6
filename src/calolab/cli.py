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


@app.command("detector")
def detector_command(
    spec: Annotated[
        Optional[str],  # noqa: UP045  (typer needs Optional at run time)
        typer.Argument(metavar="NAME_OR_PATH", help="A preset name (see --list) or a detector .toml path."),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the built-in presets and exit.")] = False,
    toml: Annotated[bool, typer.Option("--toml", help="Print the detector as TOML, not a table.")] = False,
) -> None:
    """Show a detector: per section its layers, cell grid, depth in X0 and lambda_I, and z range.

    Example: ``calolab detector clic``, ``calolab detector --list``,
    ``calolab detector cms --toml > my.toml``.
    """
    from rich.table import Table

    from calolab.detector import list_presets, load_detector

    if list_:
        table = Table(title="detector presets")
        table.add_column("name", style="bold")
        table.add_column("description")
        for name in list_presets():
            table.add_row(name, load_detector(name).description)
        console.print(table)
        return
    if spec is None:
        msg = "give a detector preset name or a .toml path, or --list to see the presets"
        raise typer.BadParameter(msg, param_hint="NAME_OR_PATH")
    detector = load_detector(spec)
    if toml:
        typer.echo(detector.to_toml(), nl=False)
        return
    title = f"{detector.name}: {detector.description}" if detector.description else detector.name
    table = Table(title=title, caption="thicknesses in mm; * = active (read out)")
    for column, justify in (
        ("section", "left"), ("layers", "right"), ("layer composition (mm)", "left"), ("cells x, y", "right"),
        ("cell size (mm)", "right"), ("X0", "right"), ("lambda_I", "right"), ("z front (mm)", "right"),
        ("z back (mm)", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in detector.summary():
        name = row["section"] + (f" (after {row['gap']:g} mm gap)" if row["gap"] else "")
        table.add_row(
            name, str(row["layers"]), row["composition"], "{} x {}".format(*row["cells"]),
            "{:g} x {:g}".format(*row["cell_size"]), f"{row['depth_x0']:.2f}", f"{row['depth_lambda']:.3f}",
            f"{row['z_front']:.2f}", f"{row['z_back']:.2f}",
        )
    console.print(table)
    total = (
        f"total: {detector.depth:.1f} mm, {detector.depth_radiation_lengths:.2f} X0, "
        f"{detector.depth_interaction_lengths:.3f} lambda_I"
    )
    if detector.reference:
        total += f"  (reference: {detector.reference})"
    console.print(total)

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
