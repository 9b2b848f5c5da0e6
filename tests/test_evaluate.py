"""Resolution fits recover known parameters on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from calolab.errors import ConfigError
from calolab.evaluate import fit_resolution, relative_resolution, resolution_model


def test_fit_recovers_known_terms():
    rng = np.random.default_rng(1)
    energies = np.array([1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0])
    truth = resolution_model(energies, 0.15, 0.2, 0.01)
    errors = 0.01 * truth
    measured = truth + rng.normal(0.0, errors)
    fit = fit_resolution(energies, measured, errors, fix_noise=None)
    assert fit.a == pytest.approx(0.15, abs=3 * fit.a_error + 1e-3)
    assert fit.b == pytest.approx(0.2, abs=3 * fit.b_error + 1e-3)
    assert fit.c == pytest.approx(0.01, abs=3 * fit.c_error + 1e-4)
    assert fit(np.array([4.0]))[0] == pytest.approx(resolution_model(4.0, fit.a, fit.b, fit.c))


def test_relative_resolution_of_a_gaussian_sample():
    rng = np.random.default_rng(2)
    value, error = relative_resolution(rng.normal(100.0, 5.0, 20000))
    assert value == pytest.approx(0.05, abs=3 * error)


def test_bad_input_is_refused():
    with pytest.raises(ConfigError):
        fit_resolution([1.0], [0.1], [0.01])
    with pytest.raises(ConfigError):
        relative_resolution([1.0, 2.0])
