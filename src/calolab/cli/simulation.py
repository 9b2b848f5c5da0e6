"""calolab simulate, demo and digitize: making shower files and their detector response."""

from __future__ import annotations

from pathlib import Path  # noqa: F401  (typer resolves the annotations at run time)
from typing import Annotated, Any, Optional  # noqa: F401,UP035  (typer needs Optional at run time)

import typer

from calolab.cli.app import app, console, error_console  # noqa: F401

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
    select: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--select", help="Keep only events passing cuts on their raw shower features, e.g. "
                                      "'hcal_ecal_ratio<0.1' or '0.5<ECAL_r9<0.9,energy_total>5000' (MeV): --n "
                                      "events are simulated, the file holds those kept and records the cuts."),
    ] = None,
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

    gun_options: dict[str, Any] = {"opening_angle": opening_angle, "polar_angle": polar_angle,
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
                        scheduler=scheduler, digitize=digitize, selection=select)
    gun.for_detector(campaign.detector)  # a separation in cells: checked before the first shower
    if not quiet:
        error_console.print(campaign.describe())
    start = time.perf_counter()
    path = campaign.write(output, overwrite=overwrite, compression=_compression(compression), progress=not quiet)
    seconds = time.perf_counter() - start
    written = (f"wrote {n} events" if campaign.selection is None else
               f"simulated {n} events and wrote the {campaign.n_kept} with {campaign.selection.describe()}")
    error_console.print(f"{written} to {path} in {seconds:.1f} s ({n / seconds:.1f} events/s); look at it with: "
                        f"calolab inspect {path}")
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

    Writes a new file holding everything IN holds plus ``/sections/<NAME>/digitized`` (MeV, calibrated).
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
