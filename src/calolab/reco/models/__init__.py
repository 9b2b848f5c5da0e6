"""Reconstruction networks: one module per backbone, multi-task heads, and a registry.

>>> from calolab.reco.models import InputShapes, get_model, heads_for_task  # doctest: +SKIP
>>> net = get_model("cnn", {"width": 8}, InputShapes({"ECAL": (25, 51, 51)}, 1), heads_for_task("energy", 0))
>>> outputs = net(cells, scalars)   # {"energy": (B,)}  # doctest: +SKIP

Every network takes ``cells`` (section -> ``(B, 1, layers, y, x)``) and ``scalars`` (``(B, S)``) and returns
the dict of :class:`~calolab.reco.models.heads.MultiTaskHead`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from pydantic import BaseModel, ValidationError
from torch import nn

from calolab.errors import ConfigError, format_validation_error
from calolab.reco.models.cluster import ClusterConfig, ClusterNet
from calolab.reco.models.cnn3d import CNN3D, CNNConfig
from calolab.reco.models.common import InputShapes, ModelConfig
from calolab.reco.models.dnn import DNN, DNNConfig
from calolab.reco.models.heads import HeadSpec, LossWeights, MultiTaskHead, heads_for_task, multitask_loss
from calolab.reco.models.inception3d import Inception3D, InceptionConfig
from calolab.reco.models.overlap import OverlapConfig, OverlapNet

__all__ = [
    "MODELS",
    "RecoNet",
    "InputShapes",
    "HeadSpec",
    "LossWeights",
    "ModelConfig",
    "get_model",
    "model_config",
    "list_models",
    "heads_for_task",
    "multitask_loss",
]

#: model name -> (config class, backbone class)
MODELS: dict[str, tuple[type[ModelConfig], type[nn.Module]]] = {
    "dnn": (DNNConfig, DNN),
    "cnn": (CNNConfig, CNN3D),
    "inception": (InceptionConfig, Inception3D),
    "cluster": (ClusterConfig, ClusterNet),
    "overlap": (OverlapConfig, OverlapNet),
}
_ALIASES = {"cnn3d": "cnn", "inception3d": "inception", "mlp": "dnn"}


class RecoNet(nn.Module):
    """A backbone (features from cells and scalars) followed by the multi-task head."""

    def __init__(self, backbone: nn.Module, n_scalars: int, heads: HeadSpec, head_hidden: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = MultiTaskHead(int(backbone.n_features), n_scalars, heads, head_hidden)  # type: ignore[arg-type]

    def forward(self, cells: Mapping[str, torch.Tensor], scalars: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head(self.backbone(cells, scalars), scalars)


def list_models() -> list[str]:
    """Names accepted by :func:`get_model`."""
    return list(MODELS)


def _canonical(name: str) -> str:
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in MODELS:
        msg = f"unknown model {name!r}: choose one of {list(MODELS)}"
        raise ConfigError(msg)
    return key


def model_config(name: str, config: Mapping[str, Any] | BaseModel | None = None) -> ModelConfig:
    """The validated config of model ``name`` (defaults for missing fields).

    Raises:
        ConfigError: unknown model, unknown field or a bad value (the message names the field).
    """
    config_class = MODELS[_canonical(name)][0]
    if isinstance(config, config_class):
        return config
    data = config.model_dump() if isinstance(config, BaseModel) else dict(config or {})
    try:
        return config_class(**data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, what=f"model config of {name!r}")) from None


def get_model(name: str, config: Mapping[str, Any] | BaseModel | None, input_shapes: InputShapes,
              heads: HeadSpec) -> RecoNet:
    """Build network ``name`` (``dnn``, ``cnn``, ``inception``, ``cluster``, ``overlap``) for the given inputs.

    Args:
        name: the model (aliases ``cnn3d``, ``inception3d``, ``mlp``).
        config: its config fields (width, dropout, ...), a dict or the config model; ``None`` for defaults.
        input_shapes: section -> (layers, y, x) and the number of scalar inputs.
        heads: which outputs (see :func:`heads_for_task`).

    Raises:
        ConfigError: unknown model or invalid config.
    """
    key = _canonical(name)
    validated = model_config(key, config)
    if not input_shapes.sections:
        msg = "the network needs at least one detector section as input"
        raise ConfigError(msg)
    backbone = MODELS[key][1](validated, input_shapes)
    return RecoNet(backbone, input_shapes.n_scalars, heads, validated.head_hidden)
