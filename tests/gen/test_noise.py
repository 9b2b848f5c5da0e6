"""The generators' sampling noise (calolab.gen.models.noise) against the distributions it stands for."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from calolab.gen.models.noise import EULER_GAMMA, gumbel, log_, standardised_log_exponential


def test_log_in_place_agrees_with_torch_and_keeps_autograd() -> None:
    x = torch.rand(1000, dtype=torch.float32) + 1e-6
    expected = torch.log(x)
    assert log_(x.clone()).allclose(expected, rtol=1e-6, atol=0)
    leaf = torch.rand(10, dtype=torch.float64, requires_grad=True)
    y = leaf + 0.5  # requires grad: torch's log_, which autograd follows
    log_(y).sum().backward()
    assert leaf.grad is not None and leaf.grad.allclose(1 / (leaf.detach() + 0.5))


def test_gumbel_has_the_moments_of_the_standard_gumbel() -> None:
    """Mean Euler's gamma, standard deviation pi/sqrt(6), skewness 12 sqrt(6) zeta(3) / pi^3 = 1.1395."""
    sample = gumbel((400_000,), torch.Generator().manual_seed(0)).double().numpy()
    assert sample.mean() == pytest.approx(EULER_GAMMA, abs=0.01)
    assert sample.std() == pytest.approx(math.pi / math.sqrt(6), rel=0.01)
    assert stats.skew(sample) == pytest.approx(1.1395, abs=0.05)
    # Kolmogorov-Smirnov against scipy's Gumbel (right-skewed, location 0, scale 1)
    assert stats.kstest(sample[:20_000], stats.gumbel_r.cdf).pvalue > 0.01


def test_gumbel_top_one_draws_each_cell_in_proportion_to_the_exponential_of_its_logit() -> None:
    logits = torch.tensor([0.0, 1.0, -1.0, 2.0])
    draws = 200_000
    chosen = (gumbel((draws, 4), torch.Generator().manual_seed(1)) + logits).argmax(dim=1)
    frequency = np.bincount(chosen.numpy(), minlength=4) / draws
    expected = torch.softmax(logits, dim=0).numpy()
    assert np.allclose(frequency, expected, atol=4 * np.sqrt(expected * (1 - expected) / draws).max())


def test_standardised_log_exponential_is_the_log_of_an_exponential_scaled_to_mean_0_and_spread_1() -> None:
    sample = standardised_log_exponential((400_000,), torch.Generator().manual_seed(2)).double().numpy()
    assert sample.mean() == pytest.approx(0.0, abs=0.01)
    assert sample.std() == pytest.approx(1.0, rel=0.01)
    assert stats.skew(sample) == pytest.approx(-1.1395, abs=0.05)  # a long tail to small shares
    # back to the exponential it came from: exp(x pi / sqrt(6) - gamma) ~ Exp(1)
    exponential = np.exp(sample[:20_000] * math.pi / math.sqrt(6) - EULER_GAMMA)
    assert stats.kstest(exponential, stats.expon.cdf).pvalue > 0.01


def test_the_same_generator_seed_gives_the_same_noise() -> None:
    first = gumbel((3, 5), torch.Generator().manual_seed(7))
    again = gumbel((3, 5), torch.Generator().manual_seed(7))
    assert torch.equal(first, again)
    assert not torch.equal(first, gumbel((3, 5), torch.Generator().manual_seed(8)))
