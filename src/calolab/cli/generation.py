"""calolab generate and validate: generative fast simulation and its physics validation."""

from __future__ import annotations

from pathlib import Path  # noqa: F401  (typer resolves the annotations at run time)
from typing import Annotated, Optional  # noqa: F401,UP035  (typer needs Optional at run time)

import typer

from calolab.cli.app import StyleOption, app, console, error_console  # noqa: F401

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
    precision: Annotated[
        str, typer.Option(help="float32, or bfloat16 for a GAN's hidden layers: about twice as fast on CPUs with "
                               "AVX512-BF16; the cells stay float32.")
    ] = "float32",
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

    loaded = load_generator(model).with_precision(precision)
    seed = random_seed() if seed is None else seed
    start = time.perf_counter()
    deposits = generate(loaded, energy, particle, n, seed=seed, theta=theta)
    seconds = time.perf_counter() - start
    gun = {"particle": particle, "energy": energy, "theta": theta}
    path = write_showers(output, deposits, loaded.detector, gun=gun, seed=seed, overwrite=overwrite,
                         compression=None if compression.lower() == "none" else compression,
                         attrs={"model": str(loaded.path), "precision": loaded.precision})
    error_console.print(f"{loaded.describe()}: {n} showers in {seconds:.2f} s ({n / max(seconds, 1e-9):.0f}/s); "
                        f"look at them with: calolab inspect {path}")
    typer.echo(str(path))


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
    style: StyleOption = None,
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
    for name, test in result.classifiers.items():
        console.print(f"classifier {name}: AUC = {test.auc:.4f} ± {test.auc_error:.4f}, JSD = {test.jsd:.4f} "
                      f"({test.n_test} test events, seed {test.seed})")
    if result.closure is not None:
        for comparison in result.closure.comparisons:
            console.print(f"closure {result.closure.name} {comparison.observable.name}: mean "
                          f"{number(comparison.mean_reference, 4)} (reference) vs "
                          f"{number(comparison.mean_candidate, 4)} (candidate), separation power "
                          f"{number(comparison.separation)}")
    for name, distance in (("FPD", result.fpd), ("KPD", result.kpd)):
        if distance is not None:
            console.print(f"{name} = {number(distance.value, 4)} ± {number(distance.error, 2)}")
    for note in result.notes:
        error_console.print(f"[yellow]note:[/] {note}")
    error_console.print(f"wrote {len(images)} figures, figures.json and the report in {result.seconds:.1f} s")
    typer.echo(str(page))
