"""Classifier two-sample test: indistinguishable samples give AUC ~ 0.5, results reproduce, bad configs are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calolab.data.showerfile import ShowerFile
from calolab.errors import ConfigError
from calolab.validate import ClassifierConfig, classifier_test, high_level_features, low_level_inputs, read_observables


def _inputs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with ShowerFile(path) as showers:
        observables = read_observables(showers)
        low = low_level_inputs({"block": showers.energy("block")}, observables.e_inc)
    return low, high_level_features(observables)[0]


def test_two_simulations_of_one_configuration_are_indistinguishable(shower_files: dict[str, Path]) -> None:
    low_ref, high_ref = _inputs(shower_files["reference"])
    low_same, high_same = _inputs(shower_files["same"])
    assert low_ref.shape == (600, 1001) and np.all(np.isfinite(low_ref))
    for name, (a, b) in {"low-level": (low_ref, low_same), "high-level": (high_ref, high_same)}.items():
        result = classifier_test(a, b, name=name)
        # 240 test events: the AUC's standard error is ~0.037, so 0.5 +- 0.08 is about 2 sigma
        assert result.auc == pytest.approx(0.5, abs=0.08), name
        assert result.jsd < 0.05 and result.n_test == 240 and result.n_train == 720, name
        assert result.output_reference.sum() == result.output_candidate.sum() == 120


def test_results_reproduce_and_separate_shifted_gaussians() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(500, 5)), rng.normal(loc=[1.0, 0, 0, 0, 0], size=(500, 5))
    config = ClassifierConfig(epochs=15, seed=3)
    first, second = classifier_test(a, b, config=config), classifier_test(a, b, config=config)
    assert first.auc == second.auc and first.jsd == second.jsd and first.best_epoch == second.best_epoch
    # one feature shifted by 1 sigma: the optimal AUC is Phi(1/sqrt(2)) = 0.76
    assert first.auc == pytest.approx(0.76, abs=0.07) and first.jsd > 0.05
    other = classifier_test(a, b, config=config.model_copy(update={"seed": 4}))
    assert other.auc != first.auc


@pytest.mark.parametrize(("options", "fragment"), [
    ({"train_fraction": 0.7, "val_fraction": 0.3}, "leaves no test events"),
    ({"epochs": 0}, "epochs"),
    ({"hidden": (0,)}, "widths"),
    ({"unknown": 1}, "unknown field"),
])
def test_bad_configs_are_config_errors(options: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        ClassifierConfig.make(options)


def test_bad_inputs_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="same d"):
        classifier_test(np.zeros((50, 3)), np.zeros((50, 4)))
    with pytest.raises(ConfigError, match="at least 10"):
        classifier_test(np.zeros((5, 3)), np.zeros((50, 3)))
