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

# ---------------------------------------------------------------- simulate / demo commands
# (section owned by sim/gun.py + sim/campaign.py)


def _compression(name: str) -> str | None:
    return None if name.lower() == "none" else name


@app.command("simulate")
def simulate_command(
    detector: Annotated[
        str, typer.Option("--detector", "-d", help="Preset name (calolab detector --list) or .toml path.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Shower file to write (.h5); its folder must exist.")],
    particle: Annotated[
        str,
        typer.Option(
            "--particle", "-p",
            help="e-, e+, gamma, pi+, pi-, pi0 (decays to gamma gamma), proton, neutron, mu-, mu+, K+, K-, K0L "
                 "(aliases: electron, photon, pion-, p, n, muon, ...); a mixture 'e-,gamma,pi0,pi-' fires one "
                 "of them per event.",
        ),
    ] = "e-",
    energy: Annotated[
        str, typer.Option("--energy", "-E", help="Kinetic energy: '10GeV', '10-100GeV' (uniform), 'log:1-1000GeV'.")
    ] = "10GeV",
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="Number of events.")] = 1000,
    theta: Annotated[str, typer.Option(help="Polar angle to the detector axis, degrees: '0', '0-10'.")] = "0",
    phi: Annotated[str, typer.Option(help="Azimuth, degrees: '0', '0-360'.")] = "0",
    position: Annotated[str, typer.Option(help="Impact point 'x,y' on the front face, mm or with units.")] = "0,0",
    spread: Annotated[
        str, typer.Option(help="Impact-point spread: sigma (gaussian) or half-width, e.g. '5mm'.")
    ] = "0mm",
    spread_shape: Annotated[str, typer.Option(help="gaussian or uniform.")] = "gaussian",
    particles_per_event: Annotated[int, typer.Option(min=1, help="Independent particles per event.")] = 1,
    opening_angle: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="pi0 only: keep decays with this photon opening angle, rad: '<0.01', '<10mrad', "
                          "'0.002-0.01'."),
    ] = None,
    separation: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Fire two parallel particles per shot this far apart on the front face (overlapping "
                          "showers): '22mm', '10-30mm', '1.5cells', '0.5-3cells'."),
    ] = None,
    energy_sharing: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="With --separation: 'independent' (each from --energy, the default), or the first "
                          "particle's fraction of the total --energy: '0.5', '0.1-0.5', 'uniform'."),
    ] = None,
    polar_angle: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Collider polar angle to a beam along the face's x axis, degrees, e.g. '60-120' "
                          "(barrel datasets); replaces --theta/--phi."),
    ] = None,
    azimuth_deviation: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="With --polar-angle: azimuth around the beam from the face normal, degrees: '-5-5'."),
    ] = None,
    decay_distance: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="pi0: decay this far before the face (the photons arrive apart), e.g. '1.5m'."),
    ] = None,
    vertex_distance: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Fly from a point vertex this far before the face centre to each impact point "
                          "(projective incidence, angle grows off-centre), e.g. '1.3m'; use with --spread."),
    ] = None,
    seed: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Campaign seed; the same seed and shard size give the same file. Default: fresh."),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="Simulation engine: mc (the Monte Carlo) or model:RUN/model.pt (a trained generator).")
    ] = "mc",
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Local processes (or Dask workers).")] = 1,
    scheduler: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Run the shards on Dask: 'local' (a LocalCluster of --workers) or tcp://host:8786."),
    ] = None,
    shard_size: Annotated[int, typer.Option(min=1, help="Events per shard (with the seed it fixes the events).")] = 100,
    compression: Annotated[str, typer.Option(help="gzip, blosc (zstd) or none.")] = "gzip",
    digitize: Annotated[
        bool, typer.Option(help="Also store the detector response (the detector TOML's readout) beside the raw cells.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Simulate showers into an HDF5 shower file, with a progress bar.

    Gun, detector, engine and output path are checked before the first shower; the file appears when complete.

    Example:

    ``calolab simulate -d clic -p e- -E 10-100GeV -n 1000 -o electrons.h5 --seed 1 -j 2``
    """
    import time

    from calolab.errors import ConfigError
    from calolab.sim.campaign import Campaign
    from calolab.sim.gun import make_gun

    gun_options: dict[str, object] = {"opening_angle": opening_angle, "polar_angle": polar_angle,
                                      "azimuth_deviation": azimuth_deviation, "vertex_distance": vertex_distance,
                                      "decay_distance": decay_distance}
    if separation is not None:
        gun_options["pair"] = {"separation": separation, "energy_sharing": energy_sharing or "independent"}
    elif energy_sharing is not None:
        msg = "--energy-sharing applies to pairs: give --separation too"
        raise ConfigError(msg)
    gun = make_gun(particle=particle, energy=energy, theta=theta, phi=phi, position=position, spread=spread,
                   spread_shape=spread_shape, particles_per_event=particles_per_event,
                   **{key: value for key, value in gun_options.items() if value is not None})
    campaign = Campaign(detector, gun, n, seed=seed, engine=engine, shard_size=shard_size, workers=workers,
                        scheduler=scheduler, digitize=digitize)
    gun.for_detector(campaign.detector)  # a separation in cells: checked before the first shower
    if not quiet:
        error_console.print(campaign.describe())
    start = time.perf_counter()
    path = campaign.write(output, overwrite=overwrite, compression=_compression(compression), progress=not quiet)
    seconds = time.perf_counter() - start
    error_console.print(f"wrote {n} events to {path} in {seconds:.1f} s ({n / seconds:.1f} events/s); "
                        f"look at it with: calolab inspect {path}")
    typer.echo(str(path))


@app.command("demo")
def demo_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the demo files (created).")] = Path(
        "demo-output"
    ),
    n: Annotated[int, typer.Option("--n", "-n", min=40, help="Electrons to simulate.")] = 400,
    seed: Annotated[int, typer.Option(help="Campaign seed.")] = 2026,
    workers: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--workers", "-j", min=1, help="Local processes; default: the CPU count, at most 4."),
    ] = None,
) -> None:
    """Run the demo: e- of 10-50 GeV in the calice-siw preset -> shower file, event display, response plot.

    Prints the sampling fraction and the fitted stochastic term next to the published value.
    Example: ``calolab demo -o demo-output``.
    """
    import os
    import time

    from rich.table import Table

    from calolab.demo import DEMO_DETECTOR, run_demo

    workers = workers or max(1, min(4, os.cpu_count() or 1))
    console.print(f"calolab demo: {n} electrons of 10-50 GeV into {DEMO_DETECTOR} on {workers} process(es)")
    start = time.perf_counter()
    result = run_demo(output, n_events=n, seed=seed, workers=workers, progress=True)
    seconds = time.perf_counter() - start
    table = Table(title=f"{DEMO_DETECTOR}: e- resolution", caption="calibrated energy")
    table.add_column("beam energy (GeV)", justify="right")
    table.add_column("sigma/E (%)", justify="right")
    for energy, value, error in zip(result.bin_centres_gev, result.resolution, result.resolution_error, strict=True):
        table.add_row(f"{energy:.1f}", f"{value * 100:.2f} +- {error * 100:.2f}")
    console.print(table)
    console.print(f"response: weighted Si energy = {result.sampling_fraction * 100:.3f}% of the beam energy")
    if result.fit is not None:
        fit = result.fit
        console.print(f"fit: a = {fit.a * 100:.1f} +- {fit.a_error * 100:.1f} %/sqrt(GeV), c = {fit.c * 100:.2f} "
                      f"+- {fit.c_error * 100:.2f} %  (CALICE published: a = 16.6%, c = 1.1%)")
    console.print(f"done in {seconds:.0f} s. Files:")
    for label, path in (("showers", result.showers), ("event display", result.event_display),
                        ("response and resolution", result.response_plot)):
        console.print(f"  {label:<24} {path}")
    console.print(f"next: calolab inspect {result.showers}   |   calolab show {result.showers} --event 1")

# ---------------------------------------------------------------- dataset commands (inspect, show)
# (section owned by data/showerfile.py + plots.py)

_LAYER_ROWS = 10  # rows of the per-layer table; more layers wrap into side-by-side blocks
_LAYER_ENTRIES = 60  # most entries of the per-layer table; beyond this neighbouring layers are averaged


def _layer_table(name: str, means: list[float]) -> object:
    """Rich table of per-layer mean energies, wrapped into blocks and grouped when long."""
    import math

    from rich.table import Table

    size = max(1, math.ceil(len(means) / _LAYER_ENTRIES))
    entries = []
    for start in range(0, len(means), size):
        chunk = means[start: start + size]
        label = str(start) if len(chunk) == 1 else f"{start}-{start + len(chunk) - 1}"
        entries.append((label, sum(chunk) / len(chunk)))
    blocks = math.ceil(len(entries) / _LAYER_ROWS)
    caption = f"mean over {size} neighbouring layers per entry" if size > 1 else None
    table = Table(title=f"{name}: mean energy per layer (MeV)", caption=caption)
    for _ in range(blocks):
        table.add_column("layer", justify="right", style="dim")
        table.add_column("MeV", justify="right")
    rows = min(len(entries), _LAYER_ROWS)
    for row in range(rows):
        cells: list[str] = []
        for block in range(blocks):
            index = block * rows + row
            cells += [entries[index][0], f"{entries[index][1]:.4g}"] if index < len(entries) else ["", ""]
        table.add_row(*cells)
    return table


@app.command("inspect")
def inspect_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A calolab shower file (.h5).")],
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON summary instead of tables.")] = False,
) -> None:
    """Summarise a shower file: metadata, sections, per-layer mean energy and totals (MeV).

    Example: ``calolab inspect electrons.h5``, ``calolab inspect electrons.h5 --json | jq .totals``.
    """
    import json

    from rich.table import Table

    from calolab.data.showerfile import ShowerFile, summarize

    with ShowerFile(file) as showers:
        summary = summarize(showers)
    if json_:
        typer.echo(json.dumps(summary, indent=2))
        return
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column()
    gun = summary["gun"]
    rows = [
        ("file", summary["path"]),
        ("events", str(summary["n_events"])),
        ("detector", summary["detector"]),
        ("engine", f"{summary['engine']} {summary['engine_version']}"),
        ("seed", "none" if summary["seed"] is None else str(summary["seed"])),
        ("created", summary["created"]),
        ("calolab", f"{summary['calolab_version']} (format version {summary['format_version']})"),
        ("gun", "unknown" if gun is None else json.dumps(gun) if not isinstance(gun, str) else gun),
    ]
    rows += [(key, str(value)) for key, value in summary["attrs"].items()]
    for key, value in rows:
        info.add_row(key, value)
    console.print(info)
    if summary["detector_error"]:
        console.print(f"[yellow]note:[/] the stored detector cannot be rebuilt: {summary['detector_error']}")
    sections = Table(title="sections")
    for column, justify in (("section", "left"), ("layers", "right"), ("cells x, y", "right"),
                            ("cell size (mm)", "right"), ("mean energy (MeV)", "right")):
        sections.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, section in summary["sections"].items():
        layers, ny, nx = section["shape"]
        size = "?" if section["cell_size"] is None else "{:g} x {:g}".format(*section["cell_size"])
        sections.add_row(name, str(layers), f"{nx} x {ny}", size, f"{sum(section['layer_means']):.4g}")
    console.print(sections)
    for name, section in summary["sections"].items():
        console.print(_layer_table(name, section["layer_means"]))
    totals = summary["totals"]
    if summary["n_events"]:
        leakage = ", ".join(f"{key} {value:.4g}" for key, value in totals["leakage_mean"].items())
        console.print(f"active energy per event: mean {totals['active_mean']:.4g} MeV, "
                      f"std {totals['active_std']:.4g} MeV")
        console.print(f"mean leakage per event (MeV): {leakage}")
    else:
        console.print("the file holds no events")


@app.command("show")
def show_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A calolab shower file (.h5).")],
    event: Annotated[int, typer.Option("--event", "-e", help="Index of the event to draw (0 = first).")] = 0,
    output: Annotated[
        Optional[Path],  # noqa: UP045  (typer needs Optional at run time)
        typer.Option("--output", "-o", help="PNG to write; default <file stem>_event<N>.png beside FILE."),
    ] = None,
    style: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="mplhep style (ATLAS, CMS, LHCb2, ROOT); matplotlib's default when not given."),
    ] = None,
) -> None:
    """Draw one event: per-layer transverse energy maps of every section and the longitudinal profile.

    Example: ``calolab show electrons.h5 --event 3``, ``calolab show electrons.h5 -e 0 -o ev0.png``.
    """
    from calolab.data.showerfile import ShowerFile
    from calolab.errors import DatasetError
    from calolab.plots import plot_event

    with ShowerFile(file) as showers:
        n = showers.n_events
        if not 0 <= event < n:
            what = "holds no events" if n == 0 else f"has {n} events: choose --event from 0 to {n - 1}"
            msg = f"event {event} is out of range: {file} {what}"
            raise typer.BadParameter(msg, param_hint="--event")
        path = output if output is not None else file.with_name(f"{file.stem}_event{event}.png")
        if not path.parent.is_dir():
            msg = f"folder {path.parent} does not exist: create it or choose another -o"
            raise DatasetError(msg)
        plot_event(showers, showers.detector, event, path=path, style=style)
    typer.echo(str(path))

# ---------------------------------------------------------------- windows command (CLIC/LCD files)
# (section owned by data/windows.py + data/formats/lcd.py)


def _window_sizes(defaults: dict[str, str], ecal: str | None, hcal: str | None,
                  window: list[str] | None) -> dict[str, str]:
    """Section -> size text: the detector defaults, then --ecal/--hcal/--window; 'none' drops a section."""
    from calolab.errors import ConfigError

    sizes = dict(defaults)
    overrides: list[tuple[str, str | None]] = [("ECAL", ecal), ("HCAL", hcal)]
    for item in window or []:
        name, sep, size = item.partition("=")
        if not sep or not name.strip():
            msg = f"--window {item!r}: write NAME=NXxNYxLAYERS, e.g. --window ECAL=25x25x25 (or NAME=none)"
            raise ConfigError(msg)
        overrides.append((name.strip(), size))
    for section, text in overrides:
        if text is not None and text.strip().lower() == "none":
            sizes.pop(section, None)
        elif text is not None:
            sizes[section] = text
    return sizes


@app.command("windows")
def windows_command(
    file: Annotated[Path, typer.Argument(metavar="IN", help="A calolab shower file (.h5).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (.h5); its folder must exist.")],
    ecal: Annotated[
        Optional[str],  # noqa: UP045  (typer needs Optional at run time)
        typer.Option(help="ECAL window NXxNYxLAYERS (default 51x51x25, or the whole grid if smaller); 'none' drops."),
    ] = None,
    hcal: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="HCAL window (default 11x11x60, or the whole grid if smaller); 'none' drops it."),
    ] = None,
    window: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--window", "-w", help="NAME=NXxNYxLAYERS for any section (repeatable); others: whole grid."),
    ] = None,
    vertex_distance: Annotated[
        str, typer.Option(help="Vertex distance in front of the face for the reco angles (CLIC ECAL radius: 1.5m).")
    ] = "1.5m",
    centre_on: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Sections whose barycentre centres the windows: 'ECAL', 'ECAL,HCAL' or 'all'. "
                          "Default: the first windowed section."),
    ] = None,
    projection: Annotated[
        str, typer.Option(help="How other sections follow the barycentre: pointing (from the vertex) or straight.")
    ] = "pointing",
    cell_scale: Annotated[
        float, typer.Option(help="Stored cells are GeV x this; 50 mimics the public CLIC files.")
    ] = 1.0,
    format_: Annotated[str, typer.Option("--format", help="Output layout: lcd (the CLIC/3DGAN HDF5 layout).")] = "lcd",
    chunk: Annotated[int, typer.Option(min=1, help="Events converted at a time (bounds the memory).")] = 256,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Cut CLIC-style windows around each shower's barycentre and write the CLIC/LCD (3DGAN) layout.

    Per event: ECAL/HCAL windows (GeV; axes phi direction, beam, layer), energy (GeV), pdgID, true theta/phi/eta.

    recoTheta/recoPhi/recoEta: the barycentre seen from a vertex in front of the face; local x is the beam axis.

    Prints the fraction of each section's energy the windows hold.

    Example: ``calolab windows electrons.h5 -o electrons_lcd.h5 --ecal 25x25x25 --hcal 11x11x60``
    """
    import math
    from collections.abc import Callable

    from rich.table import Table

    from calolab.data.formats.lcd import LcdSummary, native_to_lcd
    from calolab.data.showerfile import ShowerFile
    from calolab.data.windows import WindowSpec
    from calolab.errors import ConfigError
    from calolab.units import parse_length

    if format_.lower() != "lcd":
        msg = f"--format {format_!r}: only 'lcd' (the CLIC/3DGAN HDF5 layout) is written; convert further from it"
        raise ConfigError(msg)
    distance = parse_length(vertex_distance)
    with ShowerFile(file) as showers:
        detector, n_events = showers.detector, showers.n_events
    defaults = {name: str(size) for name, size in WindowSpec.default_for(detector).sizes.items()}
    sizes = _window_sizes(defaults, ecal, hcal, window)
    if not sizes:
        msg = "every section was dropped (--ecal none, --hcal none ...): keep at least one window"
        raise ConfigError(msg)
    centre = None if centre_on is None else [name.strip() for name in centre_on.split(",") if name.strip()]
    spec = WindowSpec.parse(sizes, centre_on=centre, projection=projection)  # type: ignore[arg-type]
    if not quiet:
        error_console.print(f"{file}: {n_events} events in {detector.name}; windows {spec.describe()}, "
                            f"vertex {distance:g} mm in front of the face")

    def convert(progress: Callable[[int], None] | None = None) -> LcdSummary:
        return native_to_lcd(file, output, spec, vertex_distance=distance, cell_scale=cell_scale, chunk=chunk,
                             overwrite=overwrite, progress=progress)

    if quiet:
        summary = convert()
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("[bold]windows"), BarColumn(), MofNCompleteColumn(), TextColumn("events"),
                   TimeElapsedColumn())
        with Progress(*columns, console=error_console, transient=True) as bar:
            task = bar.add_task("windows", total=n_events)
            summary = convert(lambda done: bar.update(task, completed=done))
    table = Table(title=f"{summary.path.name}: {summary.n_events} events")
    for column, justify in (("section", "left"), ("window x, y, layers", "right"), ("energy in window", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, size in summary.windows.items():
        fraction = summary.containment[name]
        table.add_row(name, f"{size.nx} x {size.ny} x {size.layers}",
                      "no energy" if math.isnan(fraction) else f"{fraction * 100:.2f}%")
    console.print(table)
    bias, spread = summary.reco_theta_bias, summary.reco_theta_spread
    if not math.isnan(bias):
        console.print(f"recoTheta - true theta: mean {bias * 1e3:.2f} mrad, std {spread * 1e3:.2f} mrad")
    console.print(f"done in {summary.seconds:.1f} s")
    typer.echo(str(summary.path))


# ---------------------------------------------------------------- digitize command
# (section owned by detector/readout.py + data/digitize.py)


@app.command("digitize")
def digitize_command(
    file: Annotated[Path, typer.Argument(metavar="IN", help="A calolab shower file (.h5); it is never modified.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The new file: IN + the digitised signal.")],
    seed: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Seed of photostatistics and noise; the same seed gives the same file. Default: fresh."),
    ] = None,
    noise: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Override the noise per cell (gaussian sigma, calibrated): '40MeV', '0.04GeV'."),
    ] = None,
    threshold: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Override the zero-suppression threshold on the calibrated cell energy: '100MeV'."),
    ] = None,
    photoelectrons: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--photoelectrons-per-mev", help="Override the photoelectrons per MeV of active energy."),
    ] = None,
    excess_noise_factor: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Override the photodetector excess noise factor (>= 1; APDs ~2)."),
    ] = None,
    intercalibration: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Override the relative per-cell gain spread (0.003 = 0.3%)."),
    ] = None,
    sampling_fraction: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Override the sampling fraction of every section (default: config, else simulated)."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Digitise a shower file: photostatistics, calibration, intercalibration, noise, zero suppression.

    Writes a new file holding everything IN holds plus /sections/<NAME>/digitized (MeV, calibrated).
    The readout is the [sections.readout] table of the detector stored in IN; the options override
    it for every section. Sampling sections without a sampling fraction are calibrated by simulating
    electrons first.

    Example: ``calolab digitize electrons.h5 -o electrons-digi.h5 --seed 1 --noise 40MeV --threshold 100MeV``
    """
    from calolab.data.digitize import DEFAULT_DIGITIZE_CHUNK, digitize_file
    from calolab.data.showerfile import ShowerFile
    from calolab.units import parse_energy

    overrides: dict[str, object] = {}
    for key, text in (("noise_mev", noise), ("threshold_mev", threshold)):
        if text is not None:
            overrides[key] = parse_energy(text)
    for key, value in (("photoelectrons_per_mev", photoelectrons), ("excess_noise_factor", excess_noise_factor),
                       ("intercalibration", intercalibration), ("sampling_fraction", sampling_fraction)):
        if value is not None:
            overrides[key] = value
    with ShowerFile(file) as showers:  # fail early on a bad input, and size the progress bar
        n_events = showers.n_events
    show_bar = not quiet and n_events > DEFAULT_DIGITIZE_CHUNK
    if show_bar:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("[bold]digitizing"), BarColumn(), MofNCompleteColumn(), TextColumn("events"),
                      TimeElapsedColumn(), console=error_console) as bar:
            task = bar.add_task("digitizing", total=n_events)
            result = digitize_file(file, output, seed=seed, overrides=overrides, overwrite=overwrite,
                                   on_chunk=lambda n: bar.advance(task, n))
    else:
        result = digitize_file(file, output, seed=seed, overrides=overrides, overwrite=overwrite)
    error_console.print(result.describe())
    typer.echo(str(result.path))


# ---------------------------------------------------------------- evaluate command
# (section owned by evaluate/ + performance_plots.py)


def _energy_list(text: str, option: str) -> list[float]:
    """'10,20,50GeV' -> MeV; a unit after the last number applies to the bare numbers before it."""
    import re

    from calolab.errors import ConfigError
    from calolab.units import parse_energy

    parts = [part.strip() for part in text.split(",") if part.strip()]
    unit_match = re.search(r"[A-Za-z]+\s*$", parts[-1]) if parts else None
    unit = unit_match.group(0) if unit_match else ""
    values = [parse_energy(part if re.search(r"[A-Za-z]", part) else part + unit) for part in parts]
    if len(values) < 2 or any(b <= a for a, b in zip(values, values[1:], strict=False)):
        msg = f"{option} {text!r}: give at least 2 increasing energies, e.g. '10,20,50,100GeV'"
        raise ConfigError(msg)
    return values


def _number_list(text: str, option: str, kind: type) -> list:  # type: ignore[type-arg]
    from calolab.errors import ConfigError

    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        msg = f"{option} {text!r}: give comma-separated {kind.__name__} values, e.g. " + (
            "'111,211'" if kind is int else "'0.5,0.7,0.9'")
        raise ConfigError(msg) from None


def _value(value: float, error: float, scale: float = 1.0, digits: int = 3) -> str:
    import math

    if not math.isfinite(value):
        return "inf" if value == math.inf else "-"
    text = f"{value * scale:.{digits}g}"
    return f"{text} ± {error * scale:.2g}" if math.isfinite(error) else text


@app.command("evaluate")
def evaluate_command(
    files: Annotated[
        list[Path], typer.Argument(metavar="PREDICTIONS...", help="Predictions files (.h5) of one or more models.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the PNGs and figures.json (created).")],
    signal: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Signal PDG code of the particle ID (default: the first class of the first PID model)."),
    ] = None,
    background: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Background PDG codes, comma-separated: '111' or '211,-211' (default: the other classes)."),
    ] = None,
    bins: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="True-energy bin edges: '10,20,50,100,200,500GeV' (a trailing unit applies to all; "
                          "bare numbers are MeV). Default: one bin per fixed energy, else 10 log bins."),
    ] = None,
    efficiency: Annotated[
        str, typer.Option(help="Signal efficiencies of the background-rejection working points.")
    ] = "0.5,0.7,0.9",
    cell_size: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Cell pitch for the position resolution vs impact point in the cell: '22mm' "
                          "(default: the predictions' cell_size_mm attribute, else none)."),
    ] = None,
    cell_origin: Annotated[
        str, typer.Option(help="A cell centre: 0mm for an odd grid centred on 0, half a cell for an even one.")
    ] = "0mm",
    fix_noise: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Hold the noise term b of the resolution fit at this energy: '0GeV' (default: fitted)."),
    ] = None,
    style: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="mplhep style of the plots: CMS, ATLAS, LHCb2, ROOT (default: matplotlib's)."),
    ] = None,
) -> None:
    """Compare reconstruction models side by side: energy resolution, particle ID, position resolution.

    Reads the predictions files the models wrote and evaluates what each model predicts:

    energy: bias and Gaussian-core resolution per true-energy bin, fit of sigma/E = a/sqrt(E) (+) b/E (+) c;

    particle ID: ROC, AUC, background rejection at fixed signal efficiency, accuracy vs energy and eta;

    position: resolution vs energy and impact point in the cell; per photon vs separation for overlap models.

    Writes the plots and figures.json into the output folder and prints a table of the models.

    Example:

    ``calolab evaluate cnn.h5 xgboost.h5 linear.h5 -o eval/ --signal 22 --background 111``
    """
    import dataclasses

    from rich.table import Table

    from calolab.data.atomic import atomic_path
    from calolab.errors import ConfigError
    from calolab.evaluate import evaluate_models
    from calolab.performance_plots import write_evaluation_plots
    from calolab.reco.predictions import read_predictions
    from calolab.units import parse_energy, parse_length

    predictions = [read_predictions(path) for path in files]
    names = [p.model for p in predictions]
    predictions = [dataclasses.replace(p, model=f"{p.model} ({path.stem})") if names.count(p.model) > 1 else p
                   for p, path in zip(predictions, files, strict=True)]
    efficiencies = _number_list(efficiency, "--efficiency", float)
    evaluation = evaluate_models(
        predictions,
        energy_edges=None if bins is None else _energy_list(bins, "--bins"),
        signal=signal,
        background=None if background is None else _number_list(background, "--background", int),
        efficiencies=efficiencies,
        cell_size_mm=None if cell_size is None else parse_length(cell_size),
        cell_origin_mm=parse_length(cell_origin),
        fix_noise=None if fix_noise is None else parse_energy(fix_noise) / 1000.0,
    )
    if output.exists() and not output.is_dir():
        msg = f"--output {output} is a file: give a folder for the plots and figures.json"
        raise ConfigError(msg)
    output.mkdir(parents=True, exist_ok=True)
    plots = write_evaluation_plots(evaluation, output, style=style)
    figures = output / "figures.json"
    with atomic_path(figures) as temporary:
        temporary.write_text(evaluation.to_json() + "\n")

    quoted = max(efficiencies) if efficiencies else None
    title = "models" if evaluation.signal is None else (
        f"models (particle ID: {evaluation.signal} vs {', '.join(map(str, evaluation.background or ()))})")
    table = Table(title=title)
    for column in ("model", "events", "a (%·√GeV)", "b (GeV)", "c (%)", "AUC",
                   f"rejection @ {100 * quoted:g}%" if quoted else "rejection", "σx (mm)", "σy (mm)"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for m in evaluation.models:
        fit = None if m.energy is None else m.energy.fit
        row = [m.model, str(m.n_events)]
        row += ["-"] * 3 if fit is None else [_value(fit.a, fit.a_error, 100), _value(fit.b, fit.b_error),
                                              _value(fit.c, fit.c_error, 100)]
        c = m.classification
        point = None if c is None else max(c.working_points, key=lambda p: p.signal_efficiency, default=None)
        row += ["-" if c is None else _value(c.auc, c.auc_error, digits=4),
                "-" if point is None else _value(point.rejection, point.rejection_error)]
        if m.position is not None:
            row += [_value(m.position.x.sigma, m.position.x.sigma_error),
                    _value(m.position.y.sigma, m.position.y.sigma_error)]
        elif m.overlap is not None:  # per photon, x and y pooled
            row += [_value(m.overlap.position.sigma, m.overlap.position.sigma_error)] * 2
        else:
            row += ["-", "-"]
        table.add_row(*row)
    console.print(table)
    for m in evaluation.models:
        for note in m.notes:
            error_console.print(f"[yellow]{m.model}:[/] {note}")
    error_console.print(f"wrote {len(plots)} plots ({', '.join(plots)}) to {output}")
    typer.echo(str(figures))


# ---------------------------------------------------------------- train reco / predict / scan commands
# (section owned by data/torch.py + reco/task.py + reco/train.py + reco/inference.py + reco/scan.py)

train_app = typer.Typer(help="Train networks: 'calolab train reco' (reconstruction), 'calolab train gen' "
                                 "(generative fast simulation).", no_args_is_help=True)
app.add_typer(train_app, name="train")


def _key_values(text: str | None, option: str) -> dict[str, object]:
    """'{"width": 8}' (JSON) or 'width=8,dropout=0.2' -> a dict (numbers parsed)."""
    import json

    from calolab.errors import ConfigError

    if not text:
        return {}
    if text.lstrip().startswith("{"):
        try:
            return dict(json.loads(text))
        except json.JSONDecodeError as error:
            msg = f"{option} {text!r} is not valid JSON ({error}): e.g. '{{\"width\": 8}}' or width=8,dropout=0.2"
            raise ConfigError(msg) from None
    values: dict[str, object] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            msg = f"{option} {text!r}: give key=value pairs separated by commas, e.g. width=8,dropout=0.2"
            raise ConfigError(msg)
        try:
            values[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            values[key.strip()] = value.strip()
    return values


def _reco_config(data: list[Path], model: str, task: str, epochs: int, batch_size: int, lr: float, seed: int,
                 output: Path, logger: str, signal: str, max_events: int | None, model_config: str | None,
                 cell_transform: str, energy_target: str, classes: str | None, window: int | None,
                 position_input: bool, patience: int, loss_weights: str | None, accelerator: str,
                 overwrite: bool, quiet: bool, max_minutes: float | None = None) -> object:
    from calolab.reco.train import TrainConfig

    inputs = {"signal": signal, "cell_transform": cell_transform, "energy_target": energy_target,
              "window": window, "position_input": position_input, "max_events": max_events}
    if classes:
        inputs["classes"] = [int(c) for c in classes.split(",") if c.strip()]
    return TrainConfig.make(
        data=data, model=model, model_options=_key_values(model_config, "--model-config"), task=task,
        inputs=inputs, epochs=epochs, patience=patience, batch_size=batch_size, lr=lr, seed=seed, output=output,
        logger=logger, accelerator=accelerator, loss_weights=_key_values(loss_weights, "--loss-weights"),
        overwrite=overwrite, progress=not quiet, max_minutes=max_minutes,
    )


_DataOption = Annotated[list[Path], typer.Option("--data", help="Shower file(s) (.h5); repeat to combine files.")]
_ModelOption = Annotated[str, typer.Option(help="dnn, cnn (3D CNN), inception (3D Inception), cluster, overlap.")]
_TaskOption = Annotated[str, typer.Option(help="energy, pid, pid+energy, position, cluster, overlap.")]
_SignalOption = Annotated[str, typer.Option(help="raw (active energy) or digitized (calolab digitize).")]
_MaxEventsOption = Annotated[
    Optional[int], typer.Option(min=1, help="Read at most this many events per file.")  # noqa: UP045
]
_ModelConfigOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="Model config: 'width=16,dropout=0.2' or JSON (fields: calolab.reco.models)."),
]
_TransformOption = Annotated[str, typer.Option(help="Cell transform: none, log1p, power:0.85, or fraction (each "
                                                    "event's cells over their sum).")]
_TargetOption = Annotated[str, typer.Option(help="Energy trained as log (log E), linear, or ratio (log of E over "
                                                 "the summed cell energy: the net learns the calibration factor).")]
_ClassesOption = Annotated[
    Optional[str], typer.Option(help="PDG codes of the classes in order, '11,22' (default: from data).")  # noqa: UP045
]
_WindowOption = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(min=1, help="Crop an NxN cell window around the hottest cell (cluster/overlap default 5)."),
]
_PositionOption = Annotated[bool, typer.Option(help="Give the network the seed cell's absolute x, y.")]
_WeightsOption = Annotated[
    Optional[str], typer.Option(help="Loss weights of the heads: 'pid=1,energy=0.5'.")  # noqa: UP045
]


@train_app.command("reco")
def train_reco_command(
    data: _DataOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder: best.ckpt, config, logs, metrics.")],
    model: _ModelOption = "cnn",
    task: _TaskOption = "energy",
    epochs: Annotated[int, typer.Option(min=1, help="Maximum epochs (early stopping may end sooner).")] = 20,
    batch_size: Annotated[int, typer.Option(min=1, help="Events per batch.")] = 256,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Seed of the split, shuffling and initial weights.")] = 0,
    logger: Annotated[str, typer.Option(help="csv, tensorboard, wandb, mlflow or none.")] = "csv",
    signal: _SignalOption = "raw",
    max_events: _MaxEventsOption = None,
    model_config: _ModelConfigOption = None,
    cell_transform: _TransformOption = "none",
    energy_target: _TargetOption = "log",
    classes: _ClassesOption = None,
    window: _WindowOption = None,
    position_input: _PositionOption = False,
    patience: Annotated[int, typer.Option(min=1, help="Epochs without a better validation loss before stopping.")] = 5,
    loss_weights: _WeightsOption = None,
    accelerator: Annotated[str, typer.Option(help="cpu (default), auto, gpu, ...")] = "cpu",
    max_minutes: Annotated[
        Optional[float], typer.Option(help="Wall-time budget of the fit, minutes (the best checkpoint is kept).")  # noqa: UP045
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Reuse an output folder that holds a run.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train a reconstruction network on shower files; the best checkpoint goes to OUTPUT/best.ckpt.

    The events are split by --seed into train/validation/test (70/15/15); inputs and targets are
    standardised on the training split. Give one file per particle for particle ID (--task pid).

    Example: ``calolab train reco --data e.h5 --data gamma.h5 --model cnn --task pid+energy --epochs 30 -o runs/cnn``
    """
    from calolab.reco.train import train_reco

    config = _reco_config(data, model, task, epochs, batch_size, lr, seed, output, logger, signal, max_events,
                          model_config, cell_transform, energy_target, classes, window, position_input, patience,
                          loss_weights, accelerator, overwrite, quiet, max_minutes=max_minutes)
    result = train_reco(config)  # type: ignore[arg-type]
    for line in result.summary_lines():
        error_console.print(line)
    typer.echo(str(result.checkpoint))


@train_app.command("gen")
def train_gen_command(
    data: _DataOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder: best.ckpt, model.pt, config, logs.")],
    model: Annotated[str, typer.Option("--model", "-m", help="gan (3DGAN-style) or flow (CaloFlow-style).")] = "flow",
    section: Annotated[
        Optional[str], typer.Option(help="Section to learn (default: the detector's first).")  # noqa: UP045
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Maximum epochs (early stopping may end sooner).")] = 30,
    max_minutes: Annotated[
        Optional[float], typer.Option(help="Wall-time budget of the fit, minutes.")  # noqa: UP045
    ] = None,
    batch_size: Annotated[int, typer.Option(min=2, help="Events per batch.")] = 128,
    lr: Annotated[
        Optional[float], typer.Option(help="Learning rate (default 5e-4 for gan, 1e-3 for flow).")  # noqa: UP045
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split, weights, noise and validation samples.")] = 0,
    max_events: _MaxEventsOption = None,
    model_config: _ModelConfigOption = None,
    patience: Annotated[int, typer.Option(min=1, help="Epochs with no better validation figure before stopping.")] = 5,
    logger: Annotated[str, typer.Option(help="csv or none.")] = "csv",
    accelerator: Annotated[str, typer.Option(help="cpu (default), auto, gpu, ...")] = "cpu",
    overwrite: Annotated[bool, typer.Option(help="Reuse an output folder that holds a run.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train a generative model (fast simulation) on shower files of one detector.

    The run folder's model.pt then works as an engine: ``calolab simulate --engine model:RUN/model.pt``
    or ``calolab generate --model RUN``.

    Example: ``calolab train gen --data csi.h5 --model flow --epochs 30 -o runs/flow``
    """
    from calolab.gen.train import GenTrainConfig, train_generator

    config = GenTrainConfig.make(
        data=list(data), model=model, model_options=_key_values(model_config, "--model-config"), section=section,
        max_events=max_events, epochs=epochs, patience=patience, max_minutes=max_minutes, batch_size=batch_size,
        lr=lr, seed=seed, output=output, logger=logger, accelerator=accelerator, progress=not quiet,
        overwrite=overwrite,
    )
    result = train_generator(config)
    for line in result.summary_lines():
        error_console.print(line)
    typer.echo(str(result.model_file))


@app.command("predict")
def predict_command(
    model: Annotated[Path, typer.Option("--model", "-m", help="A checkpoint (runs/NAME/best.ckpt) or run folder.")],
    data: Annotated[Path, typer.Option("--data", help="The shower file to predict (.h5).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The predictions file to write (.h5).")],
    name: Annotated[
        Optional[str], typer.Option(help="Model name in the file (default: the network's).")  # noqa: UP045
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Events per batch.")] = 1024,
    max_events: _MaxEventsOption = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing predictions file.")] = False,
) -> None:
    """Predict a shower file with a trained network and write a predictions file for calolab evaluate.

    Works on any file of the training detector: a model trained on electrons predicts pions as well.

    Example: ``calolab predict --model runs/cnn/best.ckpt --data test.h5 -o cnn.h5``
    """
    import time

    from calolab.reco.inference import predict_file

    start = time.perf_counter()
    predictions = predict_file(model, data, output, name=name, batch_size=batch_size, max_events=max_events,
                               overwrite=overwrite)
    seconds = time.perf_counter() - start
    error_console.print(f"{predictions.model} ({predictions.attrs['task']}): {len(predictions)} events, "
                        f"predicted {sorted(predictions.predicted)} in {seconds:.1f} s")
    typer.echo(str(output))


@app.command("scan")
def scan_command(
    data: _DataOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="Scan folder: trial_<k>/ runs and scan.json.")],
    model: _ModelOption = "cnn",
    task: _TaskOption = "energy",
    trials: Annotated[int, typer.Option(min=1, help="Number of Optuna trials.")] = 20,
    epochs: Annotated[int, typer.Option(min=1, help="Maximum epochs per trial.")] = 10,
    batch_size: Annotated[int, typer.Option(min=1, help="Events per batch.")] = 256,
    seed: Annotated[int, typer.Option(help="Seed of the split, the trials' weights and the sampler.")] = 0,
    signal: _SignalOption = "raw",
    max_events: _MaxEventsOption = None,
    model_config: _ModelConfigOption = None,
    cell_transform: _TransformOption = "none",
    energy_target: _TargetOption = "log",
    classes: _ClassesOption = None,
    window: _WindowOption = None,
    position_input: _PositionOption = False,
    patience: Annotated[int, typer.Option(min=1, help="Early-stopping patience per trial.")] = 3,
    loss_weights: _WeightsOption = None,
) -> None:
    """Optuna scan of the learning rate, width and dropout of a network; prints the best trial.

    Each trial trains on the same seeded split and is scored by its best validation loss; the
    summary of every trial is written to OUTPUT/scan.json.

    Example: ``calolab scan --data e.h5 --model cnn --trials 20 --epochs 10 -o scan/``
    """
    from calolab.reco.scan import run_scan

    base = _reco_config(data, model, task, epochs, batch_size, 1e-3, seed, output / "trial", "csv", signal,
                        max_events, model_config, cell_transform, energy_target, classes, window, position_input,
                        patience, loss_weights, "cpu", True, True)
    result = run_scan(base, trials, output)  # type: ignore[arg-type]
    for trial in result.trials:
        params = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in trial["params"].items())
        error_console.print(f"trial {trial['number']}: {params}: val loss {trial['val_loss']:.4g}")
    best = result.best
    error_console.print(f"best: trial {best['number']} ({best['params']}), val loss {best['val_loss']:.4g}, "
                        f"{result.seconds:.1f} s in all")
    typer.echo(str(result.summary_path))


# ---------------------------------------------------------------- baseline fit / predict commands
# (section owned by features.py + reco/baselines.py + reco/trees.py + reco/clustering.py)

baseline_app = typer.Typer(help="Classical baselines: 'calolab baseline fit' and 'calolab baseline predict'.",
                           no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")

_BASELINE_KINDS = ("linear", "xgboost", "bdt", "cut-id", "log-position", "two-seed")


def _baseline_kind(model: str, target: str | None) -> str:
    """The baseline kind for ``--model`` and ``--target`` (``xgboost`` with ``pid`` is the BDT)."""
    from calolab.errors import ConfigError
    from calolab.reco.baselines import BASELINES

    if model not in BASELINES:
        msg = f"--model {model!r} is not a baseline: choose one of {', '.join(_BASELINE_KINDS)}"
        raise ConfigError(msg)
    if target is None or BASELINES[model].target == target:
        return model
    if model == "xgboost" and target == "pid":
        return "bdt"
    valid = ", ".join(f"{k} -> {c.target}" for k, c in BASELINES.items())
    msg = f"--model {model} cannot predict --target {target!r}: valid pairs are {valid} (and xgboost -> pid)"
    raise ConfigError(msg)


def _baseline_options(texts: list[str] | None) -> dict[str, object]:
    """``KEY=VALUE`` options: JSON values (numbers, true/false, lists), else comma lists, else strings."""
    import json

    from calolab.errors import ConfigError

    options: dict[str, object] = {}
    for text in texts or []:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            msg = f"--option {text!r} is not KEY=VALUE (e.g. --option w0=4.0 or --option features=ECAL_energy,ECAL_r9)"
            raise ConfigError(msg)
        try:
            value: object = json.loads(raw)
        except json.JSONDecodeError:
            parts = [p.strip() for p in raw.split(",")] if "," in raw else None
            value = [int(p) if p.lstrip("-").isdigit() else p for p in parts] if parts else raw
        options[key.strip().replace("-", "_")] = value
    return options


@baseline_app.command("fit")
def baseline_fit_command(
    data: Annotated[Path, typer.Option("--data", help="Training shower file (.h5).")],
    model: Annotated[str, typer.Option("--model", "-m",
                                       help="linear, xgboost, bdt, cut-id, log-position or two-seed.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The model file to write (.json).")],
    target: Annotated[
        Optional[str], typer.Option(help="energy, pid, position or photons (default: the model's).")  # noqa: UP045
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the trees and their validation split.")] = 0,
    signal: Annotated[str, typer.Option(help="raw (active energy) or digitized (calolab digitize).")] = "raw",
    option: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--option", help="Model option KEY=VALUE (repeatable): w0=4.0, efficiency=0.9, "
                                       "n_estimators=500, features=ECAL_energy,HCAL_energy, ..."),
    ] = None,
    max_events: Annotated[
        Optional[int], typer.Option(min=1, help="Use only the first events.")  # noqa: UP045
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing model file.")] = False,
) -> None:
    """Fit a classical baseline on a shower file and save it as JSON.

    linear: E = a E_ECAL + b E_HCAL + c; xgboost: boosted trees on the shower features (energy);
    bdt: boosted-tree particle ID; cut-id: shower-shape cuts at a signal efficiency (photons);
    log-position: CMS log-weighted cluster centre with an S-curve correction; two-seed: two overlapping
    photons by shower-shape splitting of the cluster (profile length tuned on the file).

    Example: ``calolab baseline fit --data train.h5 --model xgboost -o xgb.json``
    """
    import time

    from calolab.errors import DatasetError
    from calolab.reco.baselines import fit_file, make_baseline

    if output.exists() and not overwrite:
        msg = f"{output} exists: pass --overwrite or choose another -o"
        raise DatasetError(msg)
    kind = _baseline_kind(model, target)
    options = _baseline_options(option)
    if kind in ("xgboost", "bdt"):
        options.setdefault("seed", seed)
    baseline = make_baseline(kind, **options)
    start = time.perf_counter()
    fit_file(baseline, data, signal=signal, max_events=max_events)
    baseline.save(output)
    details = baseline.summary()
    error_console.print(f"{kind} ({baseline.target}) fitted on {baseline.meta['n_events']} events in "
                        f"{time.perf_counter() - start:.1f} s" + (f": {details}" if details else ""))
    typer.echo(str(output))


@baseline_app.command("predict")
def baseline_predict_command(
    model: Annotated[Path, typer.Option("--model", "-m", help="A model file of calolab baseline fit (.json).")],
    data: Annotated[Path, typer.Option("--data", help="The shower file to predict (.h5).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The predictions file to write (.h5).")],
    name: Annotated[
        Optional[str], typer.Option(help="Model name in the file (default: the kind).")  # noqa: UP045
    ] = None,
    signal: Annotated[
        Optional[str], typer.Option(help="raw or digitized (default: the training signal).")  # noqa: UP045
    ] = None,
    max_events: Annotated[
        Optional[int], typer.Option(min=1, help="Predict only the first events.")  # noqa: UP045
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing predictions file.")] = False,
) -> None:
    """Predict a shower file with a fitted baseline and write a predictions file for calolab evaluate.

    Example: ``calolab baseline predict --model xgb.json --data test.h5 -o xgb.h5``
    """
    from calolab.errors import DatasetError
    from calolab.reco.baselines import load_baseline, predict_file
    from calolab.reco.predictions import write_predictions

    if output.exists() and not overwrite:
        msg = f"{output} exists: pass --overwrite or choose another -o"
        raise DatasetError(msg)
    baseline = load_baseline(model)
    predictions = predict_file(baseline, data, signal=signal, name=name, max_events=max_events, model_path=model)
    write_predictions(output, predictions, overwrite=overwrite)
    error_console.print(f"{predictions.model} ({baseline.target}): {len(predictions)} events, predicted "
                        f"{sorted(predictions.predicted)}")
    typer.echo(str(output))


# ---------------------------------------------------------------- generate command
# (section owned by gen/)


@app.command("generate")
def generate_command(
    model: Annotated[Path, typer.Option("--model", "-m", help="A run folder of 'calolab train gen' or its model.pt.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Shower file to write (.h5); its folder must exist.")],
    particle: Annotated[str, typer.Option("--particle", "-p", help="A particle the model was trained on.")] = "e-",
    energy: Annotated[
        str, typer.Option("--energy", "-E", help="Kinetic energy: '10GeV', '10-30GeV' (uniform), 'log:1-30GeV'.")
    ] = "10GeV",
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="Number of showers.")] = 1000,
    theta: Annotated[str, typer.Option(help="Polar angle to the detector axis, degrees: '0', '0-10'.")] = "0",
    seed: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Seed; the same seed gives the same showers. Default: fresh."),
    ] = None,
    compression: Annotated[str, typer.Option(help="gzip, blosc (zstd) or none.")] = "gzip",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
) -> None:
    """Generate showers with a trained generative model into a native shower file.

    The file looks like a simulated one (engine ``model:<name>``), so inspect, validate and predict work on it.

    Example: ``calolab generate --model runs/flow -p e- -E 10-30GeV -n 1000 -o generated.h5 --seed 1``
    """
    import time

    from calolab.data.showerfile import write_showers
    from calolab.gen.api import generate
    from calolab.gen.checkpoint import load_generator
    from calolab.sim.campaign import random_seed

    loaded = load_generator(model)
    seed = random_seed() if seed is None else seed
    start = time.perf_counter()
    deposits = generate(loaded, energy, particle, n, seed=seed, theta=theta)
    seconds = time.perf_counter() - start
    gun = {"particle": particle, "energy": energy, "theta": theta}
    path = write_showers(output, deposits, loaded.detector, gun=gun, seed=seed, overwrite=overwrite,
                         compression=None if compression.lower() == "none" else compression,
                         attrs={"model": str(loaded.path)})
    error_console.print(f"{loaded.describe()}: {n} showers in {seconds:.2f} s ({n / max(seconds, 1e-9):.0f}/s); "
                        f"look at them with: calolab inspect {path}")
    typer.echo(str(path))


# ---------------------------------------------------------------- convert command (native / CaloChallenge / LCD)
# (section owned by data/convert.py + data/formats/calochallenge.py + data/formats/polar.py)


@app.command("convert")
def convert_command(
    file: Annotated[Path, typer.Argument(metavar="IN", help="A native, CaloChallenge or LCD file (.h5); detected.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (.h5); its folder must exist.")],
    to: Annotated[str, typer.Option("--to", help="Output layout: native, calochallenge or lcd.")],
    binning: Annotated[
        Optional[str],  # noqa: UP045  (typer needs Optional at run time)
        typer.Option(help="CaloChallenge binning: auto (9 r x 16 alpha on the detector's layers; default when "
                          "writing), dataset2, dataset3, dataset1-photons, dataset1-pions or FILE.xml. Reading: "
                          "default from the file / its voxel count."),
    ] = None,
    detector: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Detector preset or .toml for CaloChallenge/LCD -> native (default: the challenge's "
                          "own square grid / the LCD file's detector)."),
    ] = None,
    overflow: Annotated[
        str, typer.Option(help="Energy beyond the target bins or grid: fold (into the nearest bin) or drop.")
    ] = "fold",
    compression: Annotated[str, typer.Option(help="gzip or none.")] = "gzip",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Convert shower files between the native, CaloChallenge (r, alpha voxels) and CLIC/LCD layouts.

    Native -> CaloChallenge resamples each layer onto (r, alpha) bins around the primary's axis by
    sub-cell sampling; CaloChallenge -> native spreads each bin over its area onto a Cartesian grid.
    Both conserve each layer's energy (--overflow fold). Other pairs go through a native file.

    Example: ``calolab convert electrons.h5 -o electrons_cc.h5 --to calochallenge --binning auto``
    """
    from calolab.data.convert import ConversionSummary, convert_file, detect_format, event_count
    from calolab.errors import ConfigError

    if overflow not in ("fold", "drop"):
        msg = f"--overflow {overflow!r}: choose fold (keep the energy in the nearest bin) or drop"
        raise ConfigError(msg)
    if compression not in ("gzip", "none"):
        msg = f"--compression {compression!r}: choose gzip or none"
        raise ConfigError(msg)
    source = detect_format(file)
    n_events = event_count(file)
    if not quiet:
        error_console.print(f"{file}: {n_events} events in the {source} layout -> {to}")

    def run(progress: object = None) -> ConversionSummary:
        return convert_file(file, output, to, binning=binning, detector=detector, overflow=overflow,  # type: ignore[arg-type]
                            compression=None if compression == "none" else compression, overwrite=overwrite,
                            progress=progress)  # type: ignore[arg-type]

    if quiet:
        summary = run()
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("[bold]convert"), BarColumn(), MofNCompleteColumn(), TextColumn("events"),
                   TimeElapsedColumn())
        with Progress(*columns, console=error_console, transient=True) as bar:
            task = bar.add_task("convert", total=n_events)
            summary = run(lambda done: bar.update(task, completed=done))
    console.print(summary.line())
    typer.echo(str(summary.path))


# ---------------------------------------------------------------- validate command
# (section owned by validate/ + report.py)


@app.command("validate")
def validate_command(
    reference: Annotated[
        Path, typer.Option("--reference", "-r", help="Reference shower file (.h5), e.g. the full simulation.")
    ],
    candidate: Annotated[
        Path, typer.Option("--candidate", "-c", help="Candidate shower file (.h5) to judge, same detector.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Report folder (created): index.html, figures.json, PNGs.")
    ],
    max_events: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Read at most this many events of each file (the first ones). Default: all.", min=2),
    ] = None,
    classifier: Annotated[
        bool, typer.Option("--classifier/--no-classifier", help="Run the classifier two-sample tests (torch, CPU).")
    ] = True,
    low_level: Annotated[
        bool, typer.Option("--low-level/--no-low-level", help="Include the low-level (cell) classifier.")
    ] = True,
    seed: Annotated[
        int, typer.Option(help="Seed of the classifier split and weights and of the FPD/KPD batches.")
    ] = 0,
    epochs: Annotated[int, typer.Option(help="Most classifier training epochs (early stopping on validation loss).",
                                        min=1)] = 40,
    classifier_events: Annotated[int, typer.Option(help="Most events per sample for the classifier tests.",
                                                   min=10)] = 10_000,
    bins: Annotated[int, typer.Option(help="Bins per histogram (bins from the reference).", min=2)] = 30,
    threshold: Annotated[
        str, typer.Option(help="Cell threshold: cells at or below count as empty, e.g. '0.5MeV'.")
    ] = "0MeV",
    signal: Annotated[
        str, typer.Option(help="Compare the active 'energy' or the 'digitized' readout signal.")
    ] = "energy",
    closure_model: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="A trained reconstruction network (calolab train reco run folder or best.ckpt) to "
                          "run on both files: the closure test compares its energy response and PID scores."),
    ] = None,
    style: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="mplhep style of the plots: CMS, ATLAS, LHCb2, ROOT (default: matplotlib's)."),
    ] = None,
) -> None:
    """Compare a candidate shower file with a reference: physics observables, classifier test, FPD/KPD.

    Per section and primary species: E_dep/E_inc, cells above threshold, energy per layer, mean
    energy per hit cell, shower shapes along x, y and z, centres and widths of energy (per layer
    too), longitudinal thirds, mean depth, longitudinal and lateral width. Each histogram gets its
    separation power and chi2; a classifier (low-level cells and high-level features) gives AUC
    and JSD; FPD and KPD are computed on the high-level features.

    Writes OUTPUT/index.html (one self-contained page), OUTPUT/figures.json and the PNGs, and
    prints a summary table of the worst-separated observables. With --closure-model, a trained
    reconstruction network predicts both files and its energy response and PID scores are compared too.

    Example:

    ``calolab validate --reference geant4.h5 --candidate gan.h5 -o report/ --max-events 10000``
    """
    from rich.table import Table

    from calolab.data.atomic import atomic_path
    from calolab.errors import ConfigError, DatasetError
    from calolab.report import write_report
    from calolab.units import parse_energy
    from calolab.validate import ValidationConfig, run_validation
    from calolab.validate.plots import write_validation_plots

    for path, option in ((reference, "--reference"), (candidate, "--candidate")):
        if not path.exists():
            msg = (f"{option} {path} does not exist: give a shower file written by calolab (simulate, convert, "
                   f"generate)")
            raise DatasetError(msg)
    if output.exists() and not output.is_dir():
        msg = f"--output {output} is a file: give a folder for index.html, figures.json and the PNGs"
        raise ConfigError(msg)
    if signal not in ("energy", "digitized"):
        msg = f"--signal {signal!r}: choose 'energy' (active energy) or 'digitized' (readout signal)"
        raise ConfigError(msg)
    config = ValidationConfig.make(
        max_events=max_events, bins=bins, threshold_mev=parse_energy(threshold), signal=signal,
        classifier=classifier, low_level=low_level, seed=seed,
        classifier_options={"epochs": epochs, "max_events": classifier_events}, closure_model=closure_model)
    with error_console.status(f"comparing {candidate.name} with {reference.name} ..."):
        result = run_validation(reference, candidate, config=config)
    output.mkdir(parents=True, exist_ok=True)
    with error_console.status("drawing figures ..."):
        images = write_validation_plots(result, output, style=style)
    figures = output / "figures.json"
    with atomic_path(figures) as temporary:
        temporary.write_text(result.to_json() + "\n")
    page = write_report(result, output, images)

    def number(value: float | None, digits: int = 3) -> str:
        return "-" if value is None or value != value else f"{value:.{digits}g}"

    rows = sorted(result.summary(), key=lambda row: -(row["separation_power"] if row["separation_power"]
                                                     == row["separation_power"] else -1.0))
    several_groups = len({row["group"] for row in rows}) > 1
    several_sections = len({row["section"] for row in rows}) > 1
    table = Table(title=f"{candidate.name} vs {reference.name}: {result.n_candidate} vs {result.n_reference} events, "
                        f"worst separated first")
    for column in ("observable", "S", "S stat.", "chi2/ndf", "p-value"):
        table.add_column(column, justify="left" if column == "observable" else "right")
    for row in rows[:15]:
        name = "/".join([*([row["group"]] if several_groups else []), *([row["section"]] if several_sections else []),
                         row["observable"]]) + ("" if row["layer"] is None else f"[{row['layer']}]")
        table.add_row(name, number(row["separation_power"]), number(row["separation_power_expected"], 2),
                      f"{number(row['chi2'])}/{row['ndf']}", number(row["p_value"], 2))
    console.print(table)
    error_console.print("S: separation power (0 same, 1 disjoint); S stat.: what statistics alone give")
    if len(rows) > 15:
        error_console.print(f"... {len(rows) - 15} more observables in {page}")
    for name, c in result.classifiers.items():
        console.print(f"classifier {name}: AUC = {c.auc:.4f} ± {c.auc_error:.4f}, JSD = {c.jsd:.4f} "
                      f"({c.n_test} test events, seed {c.seed})")
    if result.closure is not None:
        for c in result.closure.comparisons:
            console.print(f"closure {result.closure.name} {c.observable.name}: mean {number(c.mean_reference, 4)} "
                          f"(reference) vs {number(c.mean_candidate, 4)} (candidate), separation power "
                          f"{number(c.separation)}")
    for name, distance in (("FPD", result.fpd), ("KPD", result.kpd)):
        if distance is not None:
            console.print(f"{name} = {number(distance.value, 4)} ± {number(distance.error, 2)}")
    for note in result.notes:
        error_console.print(f"[yellow]note:[/] {note}")
    error_console.print(f"wrote {len(images)} figures, figures.json and the report in {result.seconds:.1f} s")
    typer.echo(str(page))


def main() -> None:
    """Entry point: run the app and turn library errors into one clear line and exit code 2."""
    try:
        app()
    except CalolabError as error:
        error_console.print(f"[bold red]error:[/] {error}")
        sys.exit(2)


if __name__ == "__main__":
    main()
