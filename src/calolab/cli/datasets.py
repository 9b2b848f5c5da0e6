"""calolab inspect, show, windows and convert: looking into shower files and changing their layout."""

from __future__ import annotations

from pathlib import Path  # noqa: F401  (typer resolves the annotations at run time)
from typing import Annotated, Optional  # noqa: F401,UP035  (typer needs Optional at run time)

import typer

from calolab.cli.app import StyleOption, app, console, error_console  # noqa: F401

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
        ("software", "unknown (an older file)" if not summary["software"] else
         ", ".join(f"{name} {version}" for name, version in summary["software"].items())),
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
        typer.Option("--output", "-o", help="PNG to write; default ``<file stem>_event<N>.png`` beside FILE."),
    ] = None,
    style: StyleOption = None,
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
    console.print(summary.line(), soft_wrap=True)  # one line, however long its paths: the terminal wraps it
    typer.echo(str(summary.path))
