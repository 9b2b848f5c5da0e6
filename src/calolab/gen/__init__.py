"""Generative fast simulation: models that learn showers of one detector section and replace the Monte Carlo.

* :mod:`calolab.gen.data` -- training tensors, conditions (energy, angle, particle) and the 3DGAN cell preprocessing;
* :mod:`calolab.gen.models` -- the 3DGAN-style GAN (``gan``) and the CaloFlow-style flow (``flow``);
* :mod:`calolab.gen.task`, :mod:`calolab.gen.train` -- Lightning training (:func:`train_generator`);
* :mod:`calolab.gen.checkpoint` -- loading a trained model (:func:`load_generator`);
* :mod:`calolab.gen.engine` -- the model as an engine, ``--engine model:PATH`` (:class:`ModelEngine`);
* :mod:`calolab.gen.api` -- :func:`generate`.

Submodules import torch; import them directly (``from calolab.gen.train import train_generator``).
"""

from __future__ import annotations

__all__: list[str] = []
