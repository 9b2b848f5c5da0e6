"""Benchmark: reconstruction networks on the CPU -- showers per second and training time per epoch.

For each network with its default config: inference showers/s at batch 1 and batch 256 on a CLIC-like
input (ECAL 25 x 51 x 51 + HCAL 60 x 11 x 11 window, task pid+energy) and on a cms 5 x 5 crystal cluster
(1 x 5 x 5, task cluster; overlap for the two-photon network), and the training time (forward, backward,
Adam step) of one epoch of 10k showers at batch 256, extrapolated from a few timed batches. Inputs are
synthetic tensors (the cost does not depend on their values). Each figure is the fastest of repeated calls
(timeit's convention), so other load on a shared machine inflates it less. Writes
bench/results/reco_inference.json.

    python bench/reco_inference.py            # full
    python bench/reco_inference.py --quick    # fewer repetitions
    python bench/reco_inference.py --threads 1  # one CPU thread (steadier on a shared machine)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, peak_rss_mb, write_results  # noqa: E402

from calolab.reco.models import InputShapes, LossWeights, get_model, heads_for_task, multitask_loss  # noqa: E402

CASES = {
    "clic": (InputShapes({"ECAL": (25, 51, 51), "HCAL": (60, 11, 11)}, 2), "pid+energy",
             ("dnn", "cnn", "inception")),
    "cms-5x5": (InputShapes({"ECAL": (1, 5, 5)}, 1), "cluster", ("dnn", "cnn", "inception", "cluster", "overlap")),
}
EPOCH_SHOWERS = 10_000


def _batch(shapes: InputShapes, n: int, task: str, generator: torch.Generator) -> dict:
    cells = {name: torch.rand(n, 1, *shape, generator=generator) for name, shape in shapes.sections.items()}
    return {"cells": cells, "scalars": torch.randn(n, shapes.n_scalars, generator=generator),
            "label": torch.randint(0, 2, (n,), generator=generator), "energy": torch.randn(n, generator=generator),
            "position": torch.randn(n, 2, generator=generator), "photons": torch.randn(n, 2, 3, generator=generator)}


def _showers_per_s(net: torch.nn.Module, batch: dict, seconds: float) -> float:
    net.eval()
    n = batch["scalars"].shape[0]
    fastest, calls, start = float("inf"), 0, time.perf_counter()
    with torch.no_grad():
        net(batch["cells"], batch["scalars"])  # warm-up
        while calls < 3 or time.perf_counter() - start < seconds:
            tick = time.perf_counter()
            net(batch["cells"], batch["scalars"])
            fastest = min(fastest, time.perf_counter() - tick)
            calls += 1
    return n / fastest


def _epoch_seconds(net: torch.nn.Module, batch: dict, batches: int) -> float:
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    weights = LossWeights()

    def step() -> None:
        optimizer.zero_grad()
        loss, _ = multitask_loss(net(batch["cells"], batch["scalars"]), batch, weights)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    fastest = float("inf")
    for _ in range(batches):
        tick = time.perf_counter()
        step()
        fastest = min(fastest, time.perf_counter() - tick)
    return fastest / batch["scalars"].shape[0] * EPOCH_SHOWERS


def main(quick: bool = False) -> dict:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    seconds, train_batches = (0.5, 1) if quick else (2.0, 3)
    results = {**machine(), "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__,
               "epoch_showers": EPOCH_SHOWERS, "cases": []}
    for case, (shapes, task, names) in CASES.items():
        single, big = _batch(shapes, 1, task, generator), _batch(shapes, 256, task, generator)
        for name in names:
            model_task = "overlap" if name == "overlap" else task
            net = get_model(name, None, shapes, heads_for_task(model_task, 2))
            row = {"input": case, "model": name, "task": model_task,
                   "parameters": sum(p.numel() for p in net.parameters()),
                   "showers_per_s_batch1": _showers_per_s(net, single, seconds),
                   "showers_per_s_batch256": _showers_per_s(net, big, seconds),
                   "train_s_per_epoch_10k": _epoch_seconds(net, big, train_batches)}
            results["cases"].append(row)
            print(f"{case:>8s} {name:>9s} ({row['parameters']:>8d} parameters): "
                  f"{row['showers_per_s_batch1']:9.1f} showers/s at batch 1, "
                  f"{row['showers_per_s_batch256']:9.1f} at batch 256; "
                  f"training {row['train_s_per_epoch_10k']:8.1f} s per epoch of 10k showers", flush=True)
    results["peak_rss_mb"] = peak_rss_mb()
    print(f"peak RSS {results['peak_rss_mb']:.0f} MB, {results['torch_threads']} torch threads")
    write_results("reco_inference", results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's; 1 is steadier on a shared machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    main(args.quick)
