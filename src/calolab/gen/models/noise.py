"""Random noise of the generators' sampling steps: drawn with a torch generator, its logs taken by numpy on CPU.

numpy's vectorised float32 log is about three times torch's on CPU (1.9 ms against 6-7 ms for 7.7 million
values on one thread of the benchmark machine), and these draws, one value per cell of each shower, are the
largest cost of the GAN's cells after its network. The draws themselves are torch's, so a seeded
``torch.Generator`` fixes the result as before.
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: the Euler-Mascheroni constant, the mean of a standard Gumbel variable
EULER_GAMMA = 0.5772156649015329
#: the smallest and largest uniform draw kept (their logs, twice taken, stay finite)
UNIFORM_RANGE = (1e-12, 1 - 1e-7)


def log_(x: torch.Tensor) -> torch.Tensor:
    """The natural log of ``x``, in place (numpy's on a CPU tensor outside autograd, torch's otherwise)."""
    if x.device.type == "cpu" and not x.requires_grad and x.dtype in (torch.float32, torch.float64):
        array = x.numpy()
        np.log(array, out=array)
        return x
    return x.log_()


def gumbel(shape: tuple[int, ...] | torch.Size, generator: torch.Generator | None,
           device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard Gumbel noise ``-log(-log u)`` of shape ``shape`` (float32; mean :data:`EULER_GAMMA`,
    standard deviation pi / sqrt(6)). Added to logits, the ``k`` largest sums draw ``k`` cells without
    replacement in proportion to the exponentials of the logits (the Gumbel-top-k trick)."""
    uniform = torch.rand(shape, generator=generator, device=device).clamp_(*UNIFORM_RANGE)
    return log_(log_(uniform).neg_()).neg_()


def standardised_log_exponential(shape: tuple[int, ...] | torch.Size, generator: torch.Generator | None,
                                 device: torch.device | str = "cpu") -> torch.Tensor:
    """The log of a standard exponential variable, shifted and scaled to mean 0 and standard deviation 1
    (float32): skewed, a long tail to low values (q01 -3.2) and a short one to high (q99 +1.6). It is minus a
    :func:`gumbel` variable, standardised."""
    return gumbel(shape, generator, device).neg_().add_(EULER_GAMMA).mul_(math.sqrt(6) / math.pi)
