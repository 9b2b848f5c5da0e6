"""calolab evaluate, train, predict, scan and baseline: reconstruction models and their figures."""

from __future__ import annotations

from pathlib import Path  # noqa: F401  (typer resolves the annotations at run time)
from typing import Annotated, Optional  # noqa: F401,UP035  (typer needs Optional at run time)

import typer

from calolab.cli.app import MARKUP, StyleOption, app, console, error_console  # noqa: F401

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
    style: StyleOption = None,
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
                                 "(generative fast simulation).", no_args_is_help=True, rich_markup_mode=MARKUP)
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


def _data_inputs(classes: str | None, **fields: object) -> dict[str, object]:
    """The :class:`~calolab.data.torch.DataConfig` fields of the data options (``--classes 11,22`` parsed)."""
    if classes:
        fields["classes"] = [int(c) for c in classes.split(",") if c.strip()]
    return fields


def _reco_config(data: list[Path], inputs: dict[str, object], model_config: str | None, loss_weights: str | None,
                 quiet: bool, **training: object) -> object:
    """A :class:`~calolab.reco.train.TrainConfig` from the options of ``train reco`` and ``scan``."""
    from calolab.reco.train import TrainConfig

    return TrainConfig.make(data=data, inputs=inputs, model_options=_key_values(model_config, "--model-config"),
                            loss_weights=_key_values(loss_weights, "--loss-weights"), progress=not quiet, **training)


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
_MergeOption = Annotated[bool, typer.Option(help="A particle and its antiparticle make one class named |pdg| "
                                                "(e vs pi+- as two classes, not e- vs pi+ vs pi-).")]
_WindowOption = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(min=1, help="Crop an NxN cell window around the hottest cell (cluster/overlap default 5)."),
]
_PositionOption = Annotated[bool, typer.Option(help="Give the network the seed cell's absolute x, y.")]
_LayerFractionsOption = Annotated[bool, typer.Option(help="Give the network's dense layers each layer's share of "
                                                          "the summed energy (the longitudinal profile).")]
_FeatureInputsOption = Annotated[bool, typer.Option(help="Give the network's dense layers the shower-shape features "
                                                         "the feature BDT reads (calolab.features) as well.")]
_StartOption = Annotated[str, typer.Option(help="Overlap task: 'two-seed' makes the network correct the classical "
                                                "two-seed split (it reads the split's photons and adds to them); "
                                                "'none' predicts the photons alone.")]
_WeightsOption = Annotated[
    Optional[str], typer.Option(help="Loss weights of the heads: 'pid=1,energy=0.5'.")  # noqa: UP045
]
_AugmentOption = Annotated[str, typer.Option(help="Show training events mirrored at random: none, flips (x and y "
                                                  "mirrors) or dihedral (also x<->y, square cells). Only for a "
                                                  "detector and sample symmetric about the axis.")]


@train_app.command("reco")
def train_reco_command(
    data: _DataOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder: best.ckpt, config, logs, metrics.")],
    model: _ModelOption = "cnn",
    task: _TaskOption = "energy",
    epochs: Annotated[int, typer.Option(min=1, help="Maximum epochs (early stopping may end sooner).")] = 20,
    batch_size: Annotated[int, typer.Option(min=1, help="Events per batch.")] = 256,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    lr_schedule: Annotated[
        str, typer.Option(help="plateau (halve --lr after 3 epochs without a better validation loss) or cosine "
                               "(anneal to 1% of --lr over the --epochs / --max-minutes budget; give a long "
                               "--patience so the run uses it).")
    ] = "plateau",
    seed: Annotated[int, typer.Option(help="Seed of the split, shuffling and initial weights.")] = 0,
    logger: Annotated[str, typer.Option(help="csv, tensorboard, wandb, mlflow or none.")] = "csv",
    signal: _SignalOption = "raw",
    max_events: _MaxEventsOption = None,
    model_config: _ModelConfigOption = None,
    cell_transform: _TransformOption = "none",
    energy_target: _TargetOption = "log",
    classes: _ClassesOption = None,
    merge_antiparticles: _MergeOption = False,
    window: _WindowOption = None,
    position_input: _PositionOption = False,
    layer_fractions: _LayerFractionsOption = False,
    feature_inputs: _FeatureInputsOption = False,
    start_from: _StartOption = "none",
    patience: Annotated[int, typer.Option(min=1, help="Epochs without a better validation loss before stopping.")] = 5,
    loss_weights: _WeightsOption = None,
    huber_delta: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Regression losses squared up to this error (standardised units), linear beyond (Huber): "
                          "the few events a --start-from split got badly wrong do not dominate."),
    ] = None,
    augment: _AugmentOption = "none",
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

    inputs = _data_inputs(classes, signal=signal, max_events=max_events, cell_transform=cell_transform,
                          energy_target=energy_target, window=window, position_input=position_input,
                          layer_fractions=layer_fractions, feature_inputs=feature_inputs, start_from=start_from,
                          merge_antiparticles=merge_antiparticles)
    config = _reco_config(data, inputs, model_config, loss_weights, quiet, model=model, task=task, epochs=epochs,
                          patience=patience, batch_size=batch_size, lr=lr, lr_schedule=lr_schedule, seed=seed,
                          output=output, logger=logger, accelerator=accelerator, overwrite=overwrite,
                          max_minutes=max_minutes, augment=augment, huber_delta=huber_delta)
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
    lr_schedule: Annotated[
        str, typer.Option(help="cosine (anneal to 1% of --lr over the --epochs / --max-minutes budget) or constant.")
    ] = "cosine",
    seed: Annotated[int, typer.Option(help="Seed of the split, weights, noise and validation samples.")] = 0,
    max_events: _MaxEventsOption = None,
    model_config: _ModelConfigOption = None,
    patience: Annotated[int, typer.Option(min=1, help="Epochs with no better validation figure before stopping.")] = 5,
    logger: Annotated[str, typer.Option(help="csv or none.")] = "csv",
    accelerator: Annotated[str, typer.Option(help="cpu (default), auto, gpu, ...")] = "cpu",
    overwrite: Annotated[bool, typer.Option(help="Reuse an output folder that holds a run.")] = False,
    init_from: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="A previous run (folder or model.pt) to go on training: its weights, options, condition "
                          "encoding and preprocessing start this run (same detector, particles and ranges)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train a generative model (fast simulation) on shower files of one detector.

    The run folder's model.pt then works as an engine: ``calolab simulate --engine model:RUN/model.pt``
    or ``calolab generate --model RUN``.

    Example: ``calolab train gen --data csi.h5 --model flow --epochs 30 -o runs/flow``

    Go on from that run with more data and a lower learning rate:
    ``calolab train gen --data csi.h5 --data csi2.h5 --init-from runs/flow --lr 3e-4 -o runs/flow-more``
    """
    from calolab.gen.train import GenTrainConfig, train_generator

    config = GenTrainConfig.make(
        data=list(data), model=model, model_options=_key_values(model_config, "--model-config"), section=section,
        max_events=max_events, epochs=epochs, patience=patience, max_minutes=max_minutes, batch_size=batch_size,
        lr=lr, lr_schedule=lr_schedule, seed=seed, output=output, logger=logger, accelerator=accelerator,
        progress=not quiet, overwrite=overwrite, init_from=init_from,
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
    output: Annotated[Path, typer.Option("--output", "-o", help="Scan folder: ``trial_<k>/`` runs and scan.json.")],
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
    merge_antiparticles: _MergeOption = False,
    window: _WindowOption = None,
    position_input: _PositionOption = False,
    layer_fractions: _LayerFractionsOption = False,
    feature_inputs: _FeatureInputsOption = False,
    start_from: _StartOption = "none",
    patience: Annotated[int, typer.Option(min=1, help="Early-stopping patience per trial.")] = 3,
    loss_weights: _WeightsOption = None,
    augment: _AugmentOption = "none",
) -> None:
    """Optuna scan of the learning rate, width and dropout of a network; prints the best trial.

    Each trial trains on the same seeded split and is scored by its best validation loss; the
    summary of every trial is written to OUTPUT/scan.json.

    Example: ``calolab scan --data e.h5 --model cnn --trials 20 --epochs 10 -o scan/``
    """
    from calolab.reco.scan import run_scan

    inputs = _data_inputs(classes, signal=signal, max_events=max_events, cell_transform=cell_transform,
                          energy_target=energy_target, window=window, position_input=position_input,
                          layer_fractions=layer_fractions, feature_inputs=feature_inputs, start_from=start_from,
                          merge_antiparticles=merge_antiparticles)
    base = _reco_config(data, inputs, model_config, loss_weights, True, model=model, task=task, epochs=epochs,
                        patience=patience, batch_size=batch_size, lr=1e-3, seed=seed, output=output / "trial",
                        logger="csv", accelerator="cpu", overwrite=True, augment=augment)
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
                           no_args_is_help=True, rich_markup_mode=MARKUP)
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
