"""PID classes: PDG codes to class indices, with a particle and its antiparticle merged when asked."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from calolab.data.pid_classes import check_merged_classes, class_labels, infer_classes
from calolab.data.torch import DataConfig

PDG = np.array([11, 211, -211, 22, -11, 211])


def test_classes_apart_and_merged() -> None:
    assert infer_classes(PDG) == (-211, -11, 11, 22, 211)
    assert infer_classes(PDG, merge_antiparticles=True) == (11, 22, 211)
    np.testing.assert_array_equal(class_labels(PDG, (11, 211)), [0, 1, -1, -1, -1, 1])  # pi-, gamma, e+: no class
    np.testing.assert_array_equal(class_labels(PDG, (11, 211), merge_antiparticles=True), [0, 1, 1, -1, 0, 1])


def test_negative_classes_with_merging_are_refused_with_the_fix() -> None:
    check_merged_classes((11, -211), merge_antiparticles=False)
    check_merged_classes(None, merge_antiparticles=True)
    with pytest.raises(ValueError, match=r"give \[11, 211\]"):
        check_merged_classes((11, -211), merge_antiparticles=True)
    with pytest.raises(ValidationError, match="merge_antiparticles"):
        DataConfig(classes=(-11, 211), merge_antiparticles=True)
