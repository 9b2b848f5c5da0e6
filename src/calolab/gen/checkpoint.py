"""Loading a trained generative model for sampling: :func:`load_generator` -> :class:`TrainedGenerator`.

A model is a run folder written by :func:`calolab.gen.train.train_generator` (its ``model.pt``), a
``model.pt`` file, or the run's Lightning ``best.ckpt``. ``model.pt`` holds only tensors and plain
values, so it is read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from calolab.errors import ConfigError, DatasetError

__all__ = ["FORMAT", "FORMAT_VERSION", "PRECISIONS", "TrainedGenerator", "load_generator", "resolve_model_path"]

FORMAT = "calolab-generator"
FORMAT_VERSION = 1
#: events sampled per network call
SAMPLE_BATCH = 1000
#: events per GAN forward pass within a call (a few MB of cells: the passes over them stay in the cache)
GAN_BLOCK = 32
#: sampling precisions of the GAN's hidden layers (:attr:`TrainedGenerator.precision`)
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass
class TrainedGenerator:
    """A trained generative model ready to sample.

    Attributes:
        name: the run's name (engine ``model:<name>``).
        model: ``gan`` or ``flow``.
        network: the sampling network (eval mode).
        conditions: the training conditions (:class:`~calolab.gen.data.ConditionSpec`).
        shape: ``(layers, y, x)`` of the section.
        section: the section's name.
        detector_toml: the detector it was trained on.
        transform: the GAN's cell preprocessing (``None`` for the flow).
        path: the file it came from.
        model_config: the model's options (:class:`~calolab.gen.models.GanConfig` or
            :class:`~calolab.gen.models.FlowConfig`).
        precision: arithmetic of the GAN's dense layer and first transposed convolution when sampling:
            ``float32``, or ``bfloat16`` (about twice as fast on CPUs with AVX512-BF16; the last layer and the
            cells stay float32). Set it with :meth:`with_precision`; the flow always samples in float32.
    """

    name: str
    model: str
    network: nn.Module
    conditions: Any
    shape: tuple[int, int, int]
    section: str
    detector_toml: str
    transform: Any
    path: Path
    model_config: Any = None
    precision: str = "float32"

    def with_precision(self, precision: str) -> TrainedGenerator:
        """This model sampling with ``precision`` (``float32`` or ``bfloat16``; the network is shared).

        Raises:
            ConfigError: another precision, or ``bfloat16`` for a flow.
        """
        if precision not in PRECISIONS:
            msg = f"unknown sampling precision {precision!r}: choose one of {list(PRECISIONS)}"
            raise ConfigError(msg)
        if precision != "float32" and self.model != "gan":
            msg = f"{self.name} is a {self.model} model, which samples in float32 only: drop --precision {precision}"
            raise ConfigError(msg)
        return replace(self, precision=precision)

    @property
    def detector(self) -> Any:
        """The :class:`~calolab.detector.geometry.Calorimeter` it was trained on."""
        from calolab.detector.geometry import Calorimeter

        return Calorimeter.from_toml(self.detector_toml)

    def describe(self) -> str:
        low, high = self.conditions.energy_range
        return (f"{self.model} model {self.name!r}: detector section {self.section} {'x'.join(map(str, self.shape))}, "
                f"{low / 1e3:g}-{high / 1e3:g} GeV, PDG {list(self.conditions.classes)}")

    @torch.inference_mode()
    def sample(self, energy: np.ndarray, theta: np.ndarray, pdg: np.ndarray, seed: int,
               batch_size: int = SAMPLE_BATCH) -> np.ndarray:
        """Cells ``(N, layers, y, x)`` MeV float32 for incident energies (MeV), angles (rad) and PDG codes.

        Conditions are not checked here (see :meth:`ConditionSpec.check`). The result depends only on the
        inputs, ``seed`` and ``batch_size``.
        """
        energy = np.asarray(energy, dtype=np.float64).ravel()
        encoded = torch.from_numpy(self.conditions.encode(energy, theta, pdg))
        energies = torch.from_numpy(energy.astype(np.float32))
        generator = torch.Generator().manual_seed(int(seed) % 2**63)
        out = np.empty((energy.size, *self.shape), dtype=np.float32)
        for start in range(0, energy.size, batch_size):
            part = slice(start, start + batch_size)
            self._sample(encoded[part], energies[part], generator, torch.from_numpy(out[part]))
        return out

    def _sample(self, conditions: torch.Tensor, energy: torch.Tensor, generator: torch.Generator,
                out: torch.Tensor) -> None:
        """Fill ``out`` ``(n, layers, y, x)`` MeV with one call's showers."""
        from calolab.gen.models import CaloFlow, Generator

        if self.model != "gan":
            out.copy_(cast(CaloFlow, self.network).sample(conditions, energy, generator))
            return
        network = cast(Generator, self.network)
        z = torch.randn(conditions.shape[0], network.latent, generator=generator)
        if network.layer_energies is not None:  # layer energies and hit counts from its energy flow
            network.sample_cells(z, conditions, energy, self.conditions.energy_range[1], generator,
                                 hidden_dtype=PRECISIONS[self.precision], block=GAN_BLOCK, out=out)
            return
        fraction = energy / self.conditions.energy_range[1]
        for start in range(0, len(z), GAN_BLOCK):  # blocks whose cells stay in the CPU's cache between steps
            block = slice(start, start + GAN_BLOCK)
            columns = network.columns(z[block], conditions[block], fraction[block],
                                      hidden_dtype=PRECISIONS[self.precision], reuse_buffers=True)
            cells = out[block].view(columns.shape[1], -1)
            cells.copy_(columns.T)
            self.transform.inverse_in_place(cells.numpy())  # on the contiguous block: faster than on columns


def resolve_model_path(path: str | os.PathLike[str]) -> Path:
    """The model file of ``path``: a run folder's ``model.pt`` (or ``best.ckpt``), or the file itself.

    Raises:
        DatasetError: nothing there, or a folder without a model.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        for name in ("model.pt", "best.ckpt"):
            if (path / name).is_file():
                return path / name
        msg = f"{path} holds no model.pt or best.ckpt: give a run folder written by 'calolab train gen'"
        raise DatasetError(msg)
    if not path.is_file():
        msg = f"no generative model at {path}: give a run folder of 'calolab train gen' or its model.pt"
        raise DatasetError(msg)
    return path


def _build(hparams: dict[str, Any], state: dict[str, torch.Tensor], path: Path) -> TrainedGenerator:
    from calolab.gen.data import CellTransform, ConditionSpec
    from calolab.gen.models import CaloFlow, Generator, saved_model_config

    model = hparams["model"]
    spec = ConditionSpec.from_dict(hparams["conditions"])
    shape = tuple(int(s) for s in hparams["shape"])
    config = saved_model_config(model, hparams["model_config"])
    network: nn.Module = (Generator(shape, spec.size, config) if model == "gan"  # type: ignore[arg-type]
                          else CaloFlow(shape, spec.size, config))  # type: ignore[arg-type]
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        msg = f"{path}: the weights do not fit the {model} model it describes ({error}); retrain it"
        raise DatasetError(msg) from None
    network.eval()
    transform = CellTransform.from_dict(hparams["transform"]) if hparams.get("transform") else None
    return TrainedGenerator(name=str(hparams.get("name", path.parent.name)), model=model, network=network,
                            conditions=spec, shape=shape, section=hparams["section"],  # type: ignore[arg-type]
                            detector_toml=hparams["detector_toml"], transform=transform, path=path,
                            model_config=config)


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> TrainedGenerator:
    file = Path(path)
    if file.suffix == ".ckpt":
        from calolab.gen.task import TASKS

        try:
            hparams = dict(torch.load(file, map_location="cpu", weights_only=False)["hyper_parameters"])
            task = TASKS[hparams["model"]].load_from_checkpoint(file, map_location="cpu")
        except (KeyError, RuntimeError, OSError) as error:
            msg = f"{file} is not a calolab generative checkpoint ({error}): give a run folder of 'calolab train gen'"
            raise DatasetError(msg) from None
        return _build(dict(task.hparams), task.sampler().state_dict(), file)
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (torch raises many kinds on a foreign file)
        msg = f"{file} is not a calolab generative model ({type(error).__name__}): give a run folder or its model.pt"
        raise DatasetError(msg) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        msg = f"{file} is not a calolab generative model (no {FORMAT!r} marker): give a run folder or its model.pt"
        raise DatasetError(msg)
    if int(payload.get("format_version", 0)) > FORMAT_VERSION:
        msg = f"{file} was written by a newer calolab (model format {payload['format_version']}): upgrade calolab"
        raise DatasetError(msg)
    return _build(payload["hparams"], payload["state_dict"], file)


def load_generator(path: str | os.PathLike[str] | TrainedGenerator) -> TrainedGenerator:
    """Load a trained generative model (cached per file and modification time).

    Args:
        path: a run folder of ``calolab train gen``, its ``model.pt`` or its ``best.ckpt``; a loaded model is
            returned as is.

    Raises:
        DatasetError: no model there, or a file that is not one.
    """
    if isinstance(path, TrainedGenerator):
        return path
    file = resolve_model_path(path).resolve()
    return _load_cached(str(file), file.stat().st_mtime_ns)
