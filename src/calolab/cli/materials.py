"""calolab material and calolab detector: the materials catalogue and the detector presets."""

from __future__ import annotations

from pathlib import Path  # noqa: F401  (typer resolves the annotations at run time)
from typing import Annotated, Optional  # noqa: F401,UP035  (typer needs Optional at run time)

import typer

from calolab.cli.app import app, console, error_console  # noqa: F401

# ---------------------------------------------------------------- material commands
# (section owned by physics/materials.py)


@app.command("material")
def material_command(
    name: Annotated[
        Optional[str],  # noqa: UP045  (typer needs Optional at run time)
        typer.Argument(metavar="NAME", help="A catalogue material or alias: PbWO4, PWO, LAr, scintillator."),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the material catalogue and exit.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show a material's shower properties: density, X0, Moliere radius, critical energy, lambda_I, I, Z_eff.

    Example: ``calolab material PbWO4``, ``calolab material LAr --json``, ``calolab material --list``.
    """
    import json

    from rich.table import Table

    from calolab.physics.materials import get_material, list_materials, material_note

    if list_:
        names = list_materials()
        if json_:
            typer.echo(json.dumps({n: material_note(n) for n in names}, indent=2))
            return
        table = Table(title="material catalogue", caption="calolab material NAME shows one")
        for column, justify in (("name", "left"), ("density g/cm3", "right"), ("X0 cm", "right"),
                                ("R_M cm", "right"), ("lambda_I cm", "right"), ("description", "left")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for n in names:
            s = get_material(n).summary()
            values = (s["density_g_cm3"], s["radiation_length_cm"], s["moliere_radius_cm"],
                      s["nuclear_interaction_length_cm"])
            table.add_row(n, *(f"{v:.4g}" for v in values), material_note(n))
        console.print(table)
        return
    if name is None:
        msg = "give a material name, or --list to see the catalogue"
        raise typer.BadParameter(msg, param_hint="NAME")
    material = get_material(name)  # MaterialError (exit code 2 via main) lists close names
    summary = material.summary()
    if json_:
        payload = {"name": material.name, "state": material.state, **summary}
        payload["composition"] = material.composition()
        typer.echo(json.dumps(payload, indent=2))
        return
    table = Table(title=f"{material.name} ({material.state})", caption=material_note(material.name) or None)
    table.add_column("property")
    table.add_column("value", justify="right")
    table.add_column("unit")
    rows = [
        ("density", f"{summary['density_g_cm3']:.6g}", "g/cm3"),
        ("radiation length X0", f"{summary['radiation_length_cm']:.4g}", "cm"),
        ("radiation length X0", f"{summary['radiation_length_g_cm2']:.4g}", "g/cm2"),
        ("Moliere radius R_M", f"{summary['moliere_radius_cm']:.4g}", "cm"),
        ("critical energy E_c (e-)", f"{summary['critical_energy_MeV']:.4g}", "MeV"),
        ("interaction length lambda_I", f"{summary['nuclear_interaction_length_cm']:.4g}", "cm"),
        ("interaction length lambda_I", f"{summary['nuclear_interaction_length_g_cm2']:.4g}", "g/cm2"),
        ("mean excitation energy I", f"{summary['mean_excitation_energy_eV']:.4g}", "eV"),
        ("Z_eff (electron-weighted)", f"{summary['effective_z']:.4g}", ""),
        ("A_eff", f"{summary['effective_a_g_mol']:.4g}", "g/mol"),
        ("electron density", f"{summary['electron_density_per_mm3']:.4g}", "1/mm3"),
        ("composition (mass fractions)",
         ", ".join(f"{s} {w:.4f}" for s, w in material.composition().items()), ""),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)


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
