"""Quality of the generative models: classifier AUC against held-out Monte Carlo showers.

Steps (files go to ``--work``, default /tmp/calolab-genq; nothing there is committed):

1. ``python bench/generation_quality.py simulate``: pisa-csi e- of 1-30 GeV from the Monte Carlo, a
   training file (20000 events, seed 11), a held-out reference (10000 events, seed 12) and more training
   data for runs that ask for it (``--data train train-extra``; 20000 events, seed 13);
2. ``python bench/generation_quality.py train gan`` and ``... train flow``: one model each
   (:func:`calolab.gen.train.train_generator`, seed 0, a wall-time budget ``--minutes``, one torch thread
   unless ``--threads``); ``--init-from RUN`` goes on from an earlier run's weights;
3. ``python bench/generation_quality.py evaluate``: each model generates showers for the reference's
   incident energies; the classifier test of :mod:`calolab.validate.classifier` (seed 0) separates them
   from the reference on low-level inputs (cells / E_inc, log-compressed) and on high-level features;
   the same test between a second Monte Carlo sample and the reference gives the floor.
   Writes bench/results/generation_quality.json.
4. ``python bench/generation_quality.py separation``: for each generated file, the separation powers of
   the validation suite's observables against the reference (:func:`calolab.validate.suite.run_validation`,
   4000 events, no classifier): their mean and median and the worst four, under each model's
   ``separation_power`` (where every classifier AUC is 1.0, these still rank the models);
5. ``python bench/generation_quality.py closure``: an energy network (DNN, ratio target, seed 0) trained on
   the training file predicts the reference and each model's generated file
   (:func:`calolab.validate.closure.closure_test`); the separation power and mean of E_reco / E_inc go
   into the same JSON under ``closure`` (the training file against the reference gives the floor).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_results  # noqa: E402

#: file -> (events, seed); ``train-extra`` is more training data for runs that ask for it (``--data``)
SIMULATIONS = {"train": (20000, 11), "reference": (10000, 12), "train-extra": (20000, 13)}


def simulate(work: Path) -> None:
    for name, (n, seed) in SIMULATIONS.items():
        subprocess.run([sys.executable, "-m", "calolab.cli", "simulate", "-d", "pisa-csi", "-p", "e-", "-E", "1-30GeV",
                        "-n", str(n), "--seed", str(seed), "--workers", "2", "-o", str(work / f"{name}.h5"), "-q",
                        "--overwrite"], check=True)


def train(work: Path, model: str, minutes: float, epochs: int, options: dict, run: str | None, threads: int = 1,
          data: tuple[str, ...] = ("train",), init_from: str | None = None, lr: float | None = None,
          seed: int = 0) -> None:
    import torch

    from calolab.gen.train import GenTrainConfig, train_generator

    torch.set_num_threads(threads)
    output = work / "runs" / (run or model)
    config = GenTrainConfig(data=[work / f"{name}.h5" for name in data], model=model, model_options=options,
                            epochs=epochs, patience=8, max_minutes=minutes, seed=seed, output=output, overwrite=True,
                            lr=lr, init_from=None if init_from is None else work / "runs" / init_from)
    result = train_generator(config)
    summary = {"model": model, "model_options": options, "seed": seed, "max_minutes": minutes,
               "epochs_run": result.epochs, "seconds": result.seconds, "monitor": result.monitor,
               "best_score": result.best_score, "n_events": result.n_events, "batch_size": config.batch_size,
               "lr": config.learning_rate, "lr_schedule": config.lr_schedule, "torch_threads": threads,
               "data": list(data), "init_from": init_from}
    if init_from is not None:  # the budget of the whole chain of runs
        before = json.loads((work / "runs" / init_from / "budget.json").read_text())
        summary["total_minutes"] = before.get("total_minutes", before["max_minutes"]) + minutes
    (output / "budget.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(result.summary_lines()))


def _classify(reference_file: Path, candidate_file: Path, max_events: int) -> dict:
    from calolab.data.showerfile import ShowerFile
    from calolab.validate.classifier import ClassifierConfig, classifier_test, low_level_inputs
    from calolab.validate.observables import high_level_features, read_observables

    inputs, features = [], []
    for path in (reference_file, candidate_file):
        with ShowerFile(path) as showers:
            events = slice(0, min(len(showers), max_events))
            energy = showers.primaries(events).event_energy()
            inputs.append(low_level_inputs({"ECAL": showers.energy("ECAL", events)}, energy))
            features.append(high_level_features(read_observables(showers, max_events=max_events))[0])
    config = ClassifierConfig(seed=0)
    low = classifier_test(inputs[0], inputs[1], config=config, name="low-level")
    high = classifier_test(features[0], features[1], config=config, name="high-level")
    return {"low_level_auc": low.auc, "low_level_auc_error": low.auc_error, "low_level_jsd": low.jsd,
            "high_level_auc": high.auc, "high_level_auc_error": high.auc_error, "high_level_jsd": high.jsd,
            "n_test": low.n_test}


def summary(path: Path) -> dict:
    """Plain shower figures of a file: response sum/E_inc (mean, std), occupancy, longitudinal profile."""
    from calolab.data.showerfile import ShowerFile

    with ShowerFile(path) as showers:
        cells, energy = showers.energy("ECAL"), showers.primaries().event_energy()
    response = cells.sum(axis=(1, 2, 3)) / energy
    return {"response_mean": float(response.mean()), "response_std": float(response.std()),
            "occupancy": float((cells > 0).mean()), "occupancy_above_0.1MeV": float((cells > 0.1).mean()),
            "layer_fractions": (cells.sum(axis=(2, 3)).mean(axis=0) / energy.mean()).round(4).tolist(),
            "hottest_cell_fraction": float((cells.reshape(len(cells), -1).max(axis=1) / energy).mean())}


def evaluate(work: Path, max_events: int, runs: list[str] | None = None) -> dict:
    """Classifier tests of every run under ``work/runs`` (or only ``runs``, kept with the other models
    already in the results JSON); writes bench/results/generation_quality.json."""
    from calolab.data.showerfile import ShowerFile, write_showers
    from calolab.gen.engine import ModelEngine

    results: dict = {**machine(), "detector": "pisa-csi", "particle": "e-", "energy": "1-30GeV uniform",
                     "train_events": SIMULATIONS["train"][0], "train_seed": SIMULATIONS["train"][1],
                     "reference_events": SIMULATIONS["reference"][0], "reference_seed": SIMULATIONS["reference"][1],
                     "classifier": "calolab.validate.classifier defaults, seed 0", "goal_auc": 0.6, "models": {}}
    with ShowerFile(work / "reference.h5") as reference:
        primaries, detector = reference.primaries(), reference.detector
    if runs:
        previous = json.loads((Path(__file__).parent / "results" / "generation_quality.json").read_text())
        results["models"] = {name: entry for name, entry in previous["models"].items() if name not in runs}
    for run in sorted((work / "runs").glob("*/budget.json")):
        run, model = run.parent, run.parent.name
        if runs and model not in runs:
            continue
        engine = ModelEngine(run)
        start = time.perf_counter()
        deposits = engine.simulate(primaries, detector, np.random.SeedSequence(2026))
        seconds = time.perf_counter() - start
        out = write_showers(work / f"generated-{model}.h5", deposits, detector, seed=2026, overwrite=True)
        budget = json.loads((run / "budget.json").read_text())
        results["models"][model] = {**budget, "generate_seconds": seconds, **_classify(work / "reference.h5", out,
                                                                                          max_events),
                                    "summary": summary(out)}
        print(model, results["models"][model])
    results["models"] = dict(sorted(results["models"].items()))
    if runs:
        results["mc_vs_mc"], results["reference_summary"] = previous["mc_vs_mc"], previous["reference_summary"]
        results["closure"] = previous.get("closure")
        write_results("generation_quality", results)
        return results
    # the floor: a second Monte Carlo sample (the first events of the training file) against the reference
    results["mc_vs_mc"] = _classify(work / "reference.h5", work / "train.h5", max_events)
    results["reference_summary"] = summary(work / "reference.h5")
    print("mc vs mc", results["mc_vs_mc"])
    write_results("generation_quality", results)
    return results


def separation(work: Path, max_events: int = 4000, runs: list[str] | None = None) -> dict:
    """Separation powers of each generated file's observables against the reference (or only those of
    ``runs``, keeping the others' figures); adds them to each model's entry of the results JSON
    (``separation_power``) and the floor of a second Monte Carlo sample (``mc_vs_mc_separation_power``, kept
    when ``runs`` are given and it is there)."""
    from calolab.validate.suite import run_validation

    results_path = Path(__file__).parent / "results" / "generation_quality.json"
    results = json.loads(results_path.read_text())
    config = {"max_events": max_events, "classifier": False, "distances": False}

    def figures(path: Path) -> dict:
        rows = run_validation(work / "reference.h5", path, config=config).summary()
        powers = np.array([row["separation_power"] for row in rows])
        worst = sorted(rows, key=lambda row: -row["separation_power"])[:4]
        return {"mean": float(powers.mean()), "median": float(np.median(powers)), "observables": len(rows),
                "events": max_events, "worst": {f"{row['observable']}{'' if row['layer'] is None else [row['layer']]}":
                                                round(row["separation_power"], 4) for row in worst}}

    for name, entry in results["models"].items():
        path = work / f"generated-{name}.h5"
        if path.exists() and (not runs or name in runs):
            entry["separation_power"] = figures(path)
            print(f"{name:34s} separation power mean {entry['separation_power']['mean']:.3f} median "
                  f"{entry['separation_power']['median']:.3f}; worst {entry['separation_power']['worst']}")
    if not runs or "mc_vs_mc_separation_power" not in results:
        results["mc_vs_mc_separation_power"] = figures(work / "train.h5")
    print(f"{'mc vs mc':34s} separation power mean {results['mc_vs_mc_separation_power']['mean']:.3f}")
    write_results("generation_quality", results)
    return results


def closure(work: Path, minutes: float) -> dict:
    """The closure test of each generated file against the reference; adds ``closure`` to the results JSON."""
    import torch

    from calolab.reco.train import TrainConfig, train_reco
    from calolab.validate.closure import closure_test

    torch.set_num_threads(1)
    config = TrainConfig.make(data=[work / "train.h5"], model="dnn", task="energy", epochs=200, patience=10,
                              max_minutes=minutes, seed=0, output=work / "runs" / "reco-dnn", overwrite=True,
                              progress=False, inputs={"energy_target": "ratio"})
    network = train_reco(config)
    results_path = Path(__file__).parent / "results" / "generation_quality.json"
    results = json.loads(results_path.read_text())
    entry: dict = {"network": "dnn, energy_target ratio, seed 0", "epochs": network.epochs,
                   "test_resolution_on_mc": network.metrics["energy_resolution"], "samples": {}}
    candidates = {path.stem.removeprefix("generated-"): path for path in sorted(work.glob("generated-*.h5"))}
    candidates["mc (training file)"] = work / "train.h5"
    for name, path in candidates.items():
        if not path.exists():
            continue
        result = closure_test(network.checkpoint, work / "reference.h5", path, max_events=2000)
        entry["samples"][name] = result.figures()
        response = {c.observable.name: c for c in result.comparisons}["energy_response"]
        print(f"closure {name}: E_reco/E_inc mean {response.mean_candidate:.4f} (reference "
              f"{response.mean_reference:.4f}), separation power {response.separation:.3f}")
    results["closure"] = entry
    write_results("generation_quality", results)
    return entry


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["simulate", "train", "evaluate", "separation", "closure"])
    parser.add_argument("model", nargs="?", choices=["gan", "flow"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/calolab-genq"))
    parser.add_argument("--minutes", type=float, default=9.0)
    parser.add_argument("--options", type=json.loads, default={}, help="model options, JSON (train)")
    parser.add_argument("--run", help="name of the run folder under runs/ (train; default: the model)")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the training (train)")
    parser.add_argument("--data", nargs="+", default=["train"], choices=["train", "train-extra"],
                        help="training files, from the simulate step (train)")
    parser.add_argument("--init-from", help="run under runs/ to go on training from (train)")
    parser.add_argument("--lr", type=float, help="learning rate (train; default: the model's)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the training (train): the validation split, initial weights and batches")
    parser.add_argument("--max-events", type=int, default=10000)
    parser.add_argument("--runs", nargs="+",
                        help="evaluate only these runs, keeping the others' figures (evaluate, separation)")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step == "simulate":
        simulate(args.work)
    elif args.step == "train":
        if args.model is None:
            parser.error("train needs a model: gan or flow")
        train(args.work, args.model, args.minutes, args.epochs, args.options, args.run, args.threads,
              tuple(args.data), args.init_from, args.lr, args.seed)
    elif args.step == "closure":
        closure(args.work, min(args.minutes, 3.0))
    elif args.step == "separation":
        separation(args.work, runs=args.runs)
    else:
        evaluate(args.work, args.max_events, args.runs)


if __name__ == "__main__":
    main()
