"""Generative models of calorimeter showers, one per file.

* ``gan`` -- :mod:`calolab.gen.models.gan3d`: the 3DGAN-style conditional GAN;
* ``flow`` -- :mod:`calolab.gen.models.flow`: the CaloFlow-style conditional normalising flow.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from calolab.errors import ConfigError, format_validation_error
from calolab.gen.models.flow import CaloFlow, FlowConfig
from calolab.gen.models.gan3d import Discriminator, GanConfig, Generator

__all__ = ["MODELS", "model_config", "saved_model_config", "GanConfig", "FlowConfig", "Generator", "Discriminator",
           "CaloFlow"]

#: model name -> its config class
MODELS: dict[str, type[BaseModel]] = {"gan": GanConfig, "flow": FlowConfig}
#: model -> options added after models were saved, with the value that rebuilds a model saved without them
_OPTIONS_BEFORE_THEY_EXISTED: dict[str, dict[str, Any]] = {"flow": {"hit_counts": False},
                                                      "gan": {"spectral_norm": False, "energy_flow": False,
                                                              "sampled_hits": False, "matched_start": False,
                                                              "share_noise": False, "hit_logits": False,
                                                              "share_profile_weight": 0.0, "axis_shift": False,
                                                              "centre_spread_weight": 0.0}}


def model_config(name: str, options: dict[str, Any] | None = None) -> BaseModel:
    """The validated config of model ``name`` from ``options``.

    Raises:
        ConfigError: an unknown model or a bad option (the message names it and the choices).
    """
    if name not in MODELS:
        msg = f"unknown generative model {name!r}: choose one of {list(MODELS)}"
        raise ConfigError(msg)
    try:
        return MODELS[name].model_validate(options or {})
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, what=f"{name} model options")) from None


def saved_model_config(name: str, saved: dict[str, Any]) -> BaseModel:
    """The config of a saved model ``name`` from its saved options (all fields of the config it was saved
    with): an option added since takes the value that rebuilds the model as saved."""
    return model_config(name, {**_OPTIONS_BEFORE_THEY_EXISTED.get(name, {}), **saved})
