"""Projective incidence: the depth correction of the log-weighted position (DepthCorrection)."""

from __future__ import annotations

import numpy as np
import pytest

import calolab
from calolab.errors import ConfigError
from calolab.reco.baselines import LogWeightedPosition, load_baseline
from calolab.reco.clustering import DepthCorrection


def test_fit_recovers_the_depth_law_of_synthetic_showers() -> None:
    rng = np.random.default_rng(0)
    truth = rng.uniform(-66.0, 66.0, (4000, 2))
    energy = np.exp(rng.uniform(np.log(2e3), np.log(2e5), 4000))  # MeV
    depth = 60.0 + 20.0 * np.log(energy / 1000.0)  # mm: like t_max in PbWO4 (X0 = 8.9 mm)
    estimate = truth * (1.0 + depth / 250.0)[:, None] + rng.normal(0.0, 0.5, (4000, 2))
    correction = DepthCorrection.fit(estimate, truth, energy, 250.0)
    assert correction.a == pytest.approx(60.0, rel=0.02)
    assert correction.b == pytest.approx(20.0, rel=0.02)
    residual = correction.apply(estimate, energy) - truth
    assert np.sqrt(np.mean(residual ** 2)) < 0.6
    assert DepthCorrection.from_dict(correction.to_dict()) == correction
    with pytest.raises(ConfigError, match="vertex_distance"):
        DepthCorrection.fit(estimate, truth, energy, 0.0)


def test_log_position_from_a_vertex_needs_and_gets_the_depth_correction(tmp_path) -> None:
    cms = calolab.load_detector("cms")
    gun = {"particle": "gamma", "energy": "10-50GeV", "spread": 55.0, "spread_shape": "uniform",
           "vertex_distance": 250.0}
    train, test = (calolab.simulate(cms, gun, n=n, seed=seed) for n, seed in ((200, 5), (100, 6)))

    def truth(deposits: calolab.Deposits) -> np.ndarray:
        return deposits.primaries.position[:, :2]

    errors = {}
    for name, options in (("plain", {}), ("depth", {"vertex_distance": 250.0})):
        model = LogWeightedPosition(**options)
        X, names = model.table({"ECAL": train.active["ECAL"]}, cms)
        model.fit(X, truth(train), names)
        X_test, _ = model.table({"ECAL": test.active["ECAL"]}, cms)
        errors[name] = np.sqrt(np.mean((model.predict(X_test, names) - truth(test)) ** 2))
        if name == "depth":
            # the energy-weighted depth lies ~2 X0 beyond t_max = X0 (ln(E/Ec) - 0.5): at 30 GeV in PbWO4
            # (X0 8.9 mm, Ec 9.3 MeV, PDG) t_max = 67 mm, the centre of gravity ~85 mm deep
            assert 50.0 < model.depth.depth(np.array([30e3]))[0] < 130.0
            model.save(tmp_path / "depth.json")
            again = load_baseline(tmp_path / "depth.json")
            np.testing.assert_allclose(again.predict(X_test, names), model.predict(X_test, names))
    # without the correction the estimate is off by ~ depth x tan(angle): several mm; with it ~ 1-2 mm
    assert errors["plain"] > 5.0
    assert errors["depth"] < 0.4 * errors["plain"]
