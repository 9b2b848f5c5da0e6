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


# ---------------------------------------------------------------- Gaussian core fit, binned energy response

from scipy.stats import norm  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.metrics import roc_curve as sklearn_roc_curve  # noqa: E402
from synthetic_predictions import ENERGIES_GEV, synthetic, synthetic_overlap  # noqa: E402

from calolab.evaluate import (  # noqa: E402
    auc_with_error,
    classification_performance,
    discriminant,
    energy_bins,
    energy_performance,
    evaluate_models,
    fit_gaussian_core,
    match_photons,
    overlap_performance,
    paired_auc,
    paired_resolution,
    position_in_cell,
    position_performance,
    roc_curve,
    working_point,
)
from calolab.reco.predictions import Predictions  # noqa: E402


def test_core_fit_ignores_a_five_percent_tail():
    rng = np.random.default_rng(3)
    core = rng.normal(1.0, 0.05, 19_000)
    values = np.concatenate([core, rng.uniform(0.2, 0.85, 1_000)])  # 5% low tail, like leakage
    assert values.std() > 0.09  # the tail would double a plain RMS
    fit = fit_gaussian_core(values)
    assert fit.converged
    assert fit.sigma == pytest.approx(0.05, abs=3 * fit.sigma_error)
    assert fit.mean == pytest.approx(1.0, abs=3 * fit.mean_error)
    # the +-2 sigma truncation leaves less information than the whole Gaussian, sigma / sqrt(2 n)
    assert 0.05 / np.sqrt(2 * 19_000) < fit.sigma_error < 2 * 0.05 / np.sqrt(2 * 19_000)
    assert 0.85 < fit.core_fraction < 0.95  # ~95.4% of the core inside +-2 sigma, none of the tail


def test_core_fit_errors_match_the_spread_of_repeated_fits():
    rng = np.random.default_rng(17)
    fits = [fit_gaussian_core(np.concatenate([rng.normal(0.0, 1.0, 950), rng.uniform(3.0, 20.0, 50)]))
            for _ in range(150)]
    means, sigmas = np.array([f.mean for f in fits]), np.array([f.sigma for f in fits])
    # the spread of 150 values is known to ~6% (1/sqrt(2 * 150))
    assert np.mean([f.mean_error for f in fits]) == pytest.approx(means.std(ddof=1), rel=0.2)
    assert np.mean([f.sigma_error for f in fits]) == pytest.approx(sigmas.std(ddof=1), rel=0.2)
    assert sigmas.mean() == pytest.approx(1.0, abs=3 * sigmas.std() / np.sqrt(150))


def test_core_fit_is_not_biased_by_the_truncation():
    rng = np.random.default_rng(4)
    values = rng.normal(-3.0, 2.0, 40_000)
    for n_sigma in (1.0, 2.0, 3.0):
        fit = fit_gaussian_core(values, n_sigma=n_sigma)
        assert fit.sigma == pytest.approx(2.0, abs=3 * fit.sigma_error)  # a plain RMS in +-1 sigma gives 1.08
        assert fit.mean == pytest.approx(-3.0, abs=3 * fit.mean_error)


def test_core_fit_edge_cases():
    constant = fit_gaussian_core(np.full(50, 1.5))
    assert constant.mean == 1.5 and constant.sigma == 0.0
    with pytest.raises(ConfigError, match="at least 10"):
        fit_gaussian_core(np.array([1.0, 2.0, np.nan]))
    with pytest.raises(ConfigError, match="n_sigma"):
        fit_gaussian_core(np.arange(20.0), n_sigma=0)


def test_energy_bins():
    fixed = energy_bins(np.repeat([10_000.0, 40_000.0, 160_000.0], 5))
    np.testing.assert_allclose(fixed, [5_000.0, 20_000.0, 80_000.0, 320_000.0])  # geometric midpoints
    continuous = energy_bins(np.geomspace(1_000.0, 100_000.0, 500), n_bins=4)
    np.testing.assert_allclose(continuous, [1e3, 10**3.5, 1e4, 10**4.5, 1e5])
    with pytest.raises(ConfigError):
        energy_bins(np.array([0.0, -1.0]))


def test_energy_performance_recovers_known_resolution_terms():
    a, b, c = 0.15, 0.5, 0.01
    predictions = synthetic(seed=5, n=60_000, abc=(a, b, c), outlier_fraction=0.03)
    performance = energy_performance(predictions)
    np.testing.assert_allclose(performance.energy / 1000.0, ENERGIES_GEV)  # one bin per beam energy
    expected = resolution_model(np.array(ENERGIES_GEV), a, b, c)
    assert np.all(np.abs(performance.resolution - expected) < 3.5 * performance.resolution_error)
    assert np.all(np.abs(performance.bias) < 3.5 * performance.bias_error)
    fit = performance.fit
    assert fit is not None and fit.ndof == 3
    assert fit.a == pytest.approx(a, abs=3 * fit.a_error)
    assert fit.b == pytest.approx(b, abs=3 * fit.b_error)
    assert fit.c == pytest.approx(c, abs=3 * fit.c_error)
    assert fit.a_error < 0.01


def test_energy_bias_and_sparse_bins():
    predictions = synthetic(seed=6, n=6_000, energy_scale=1.02)
    edges = np.array([5.0, 15.0, 30.0, 1_000.0, 2_000.0]) * 1000.0  # the last bin is empty
    performance = energy_performance(predictions, edges)
    assert performance.counts[-1] == 0 and np.isnan(performance.resolution[-1])
    assert np.all(np.abs(performance.bias[:3] - 0.02) < 3.5 * performance.bias_error[:3])
    np.testing.assert_allclose(performance.median_bias[:3], 0.02, atol=0.005)
    assert performance.fit is not None and performance.fit.b == 0.0  # 3 usable bins: the noise term is held
    with pytest.raises(ConfigError, match="predicts no energy"):
        energy_performance(Predictions("pid", {"energy": np.ones(3), "pdg": np.ones(3)}, {}))
    with pytest.raises(ConfigError, match="increasing"):
        energy_performance(predictions, [10.0, 5.0])


# ---------------------------------------------------------------- classification


def test_auc_matches_sklearn_and_limits():
    rng = np.random.default_rng(7)
    same_s, same_b = rng.normal(0, 1, 4000), rng.normal(0, 1, 3000)
    auc, error = auc_with_error(same_s, same_b)
    assert auc == pytest.approx(0.5, abs=3 * error)
    labels = np.r_[np.ones(4000), np.zeros(3000)]
    assert auc == pytest.approx(roc_auc_score(labels, np.r_[same_s, same_b]), abs=1e-12)
    far, error_far = auc_with_error(rng.normal(10, 1, 500), rng.normal(0, 1, 500))
    assert far == pytest.approx(1.0, abs=1e-4) and error_far < 1e-3
    # ties (integer scores) count one half, as in sklearn
    tied_s, tied_b = rng.integers(0, 5, 300).astype(float), rng.integers(0, 4, 200).astype(float)
    tied_labels, tied_scores = np.r_[np.ones(300), np.zeros(200)], np.r_[tied_s, tied_b]
    assert auc_with_error(tied_s, tied_b)[0] == pytest.approx(roc_auc_score(tied_labels, tied_scores), abs=1e-12)
    roc = roc_curve(tied_s, tied_b)
    fpr, tpr, thresholds = sklearn_roc_curve(tied_labels, tied_scores, drop_intermediate=False)
    np.testing.assert_allclose(roc.signal_efficiency, tpr)
    np.testing.assert_allclose(roc.background_efficiency, fpr)
    np.testing.assert_allclose(roc.thresholds[1:], thresholds[1:])


def test_delong_error_matches_the_spread_of_repeated_samples():
    rng = np.random.default_rng(8)
    results = np.array([auc_with_error(rng.normal(1, 1, 200), rng.normal(0, 1, 300)) for _ in range(300)])
    # the spread of 300 AUCs is known to ~4% (1/sqrt(2 * 300))
    assert results[:, 1].mean() == pytest.approx(results[:, 0].std(ddof=1), rel=0.15)
    assert results[:, 0].mean() == pytest.approx(norm.cdf(1 / np.sqrt(2)), abs=0.003)  # binormal AUC


def test_rejection_at_fixed_efficiency_two_gaussians():
    rng = np.random.default_rng(9)
    n = 200_000
    signal, background = rng.normal(2.0, 1.0, n), rng.normal(0.0, 1.0, n)
    roc = roc_curve(signal, background)
    for efficiency in (0.5, 0.7, 0.9):
        point = working_point(roc, efficiency, n)
        cut = 2.0 + norm.ppf(1.0 - efficiency)  # the threshold keeping `efficiency` of N(2, 1)
        expected = norm.sf(cut)  # the background efficiency of N(0, 1) above it
        assert point.threshold == pytest.approx(cut, abs=0.01)
        assert point.background_efficiency == pytest.approx(expected, rel=0.04)
        assert point.rejection == pytest.approx(1.0 / expected, rel=0.04)
        assert point.rejection_error == pytest.approx(point.background_efficiency_error / expected**2, rel=0.05)
    perfect = working_point(roc_curve(np.array([5.0, 6.0]), np.array([0.0, 1.0])), 0.9, 2)
    assert perfect.background_efficiency == 0.0 and perfect.rejection == np.inf
    with pytest.raises(ConfigError):
        working_point(roc, 1.5, n)


def test_classification_performance_of_a_model():
    predictions = synthetic(seed=10, n=20_000, separation=2.0)
    result = classification_performance(predictions)  # default: first class (22) vs the others (111)
    assert (result.signal, result.background) == (22, (111,))
    assert result.auc == pytest.approx(norm.cdf(2.0 / np.sqrt(2)), abs=3 * result.auc_error)
    assert [p.signal_efficiency for p in result.working_points] == [0.5, 0.7, 0.9]
    assert result.accuracy == pytest.approx(norm.cdf(1.0), abs=0.01)  # cut half-way between the means
    assert np.all(np.abs(result.accuracy_vs_energy.value[result.accuracy_vs_energy.counts > 0] - norm.cdf(1.0))
                  < 4 * result.accuracy_vs_energy.error[result.accuracy_vs_energy.counts > 0])
    assert result.accuracy_vs_eta is not None and result.accuracy_vs_eta.counts.sum() == len(predictions)
    with pytest.raises(ConfigError, match="not a class"):
        classification_performance(predictions, signal=11)
    with pytest.raises(ConfigError, match="true codes"):
        classification_performance(predictions, signal=22, background=[211])


def test_discriminant_of_three_classes():
    scores = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    np.testing.assert_allclose(discriminant(scores, (22, 111, 11), 22, [111]), [0.6 / 0.9, 0.5])
    np.testing.assert_allclose(discriminant(scores, (22, 111, 11), 22, [111, 11]), [0.6, 0.2])


# ---------------------------------------------------------------- position


def test_position_resolution_recovers_known_sigma():
    predictions = synthetic(seed=11, n=20_000, position_sigma_mm=(1.5, 2.5))
    result = position_performance(predictions)
    assert result.x.sigma == pytest.approx(1.5, abs=3 * result.x.sigma_error)
    assert result.y.sigma == pytest.approx(2.5, abs=3 * result.y.sigma_error)
    assert result.x.mean == pytest.approx(0.0, abs=3 * result.x.mean_error)
    assert result.sigma == pytest.approx(np.sqrt((1.5**2 + 2.5**2) / 2), rel=0.02)
    binned = result.vs_energy
    assert binned.counts.sum() == len(predictions)
    assert np.all(np.abs(binned.sigma_x - 1.5) < 3.5 * binned.sigma_x_error)
    assert result.vs_cell is None


def test_position_in_cell_and_s_curve():
    np.testing.assert_allclose(position_in_cell(np.array([0.0, 10.9, 11.1, -33.0]), 22.0), [0.0, 10.9, -10.9, -11.0])
    np.testing.assert_allclose(position_in_cell(np.array([0.0, 12.0]), 22.0, cell_origin_mm=11.0), [-11.0, 1.0])
    rng = np.random.default_rng(12)
    n, cell = 30_000, 22.0
    true = rng.uniform(-55.0, 55.0, (n, 2))
    offset = position_in_cell(true, cell)
    # a centre-of-gravity-like S-curve: the prediction is pulled towards the cell centre
    predicted = true - 3.0 * np.sin(2 * np.pi * offset / cell) + rng.normal(0.0, 0.5, (n, 2))
    predictions = Predictions("cog", {"energy": np.full(n, 1e4), "pdg": np.full(n, 22), "position": true},
                              {"position": predicted}, attrs={"cell_size_mm": cell})
    result = position_performance(predictions)
    assert result.vs_cell is not None and result.cell_size_mm == cell
    expected = -3.0 * np.sin(2 * np.pi * result.vs_cell.centres / cell)
    np.testing.assert_allclose(result.vs_cell.bias_x, expected, atol=0.35)  # bins 2.2 mm wide average the curve
    np.testing.assert_allclose(result.vs_cell.bias_y, expected, atol=0.35)


def test_match_photons_finds_the_closest_assignment():
    true = np.array([[[0.0, 0.0], [10.0, 0.0]], [[0.0, 0.0], [10.0, 0.0]]])
    predicted = np.array([[[9.0, 0.5], [1.0, 0.0]], [[1.0, 0.0], [9.0, 0.0]]])
    np.testing.assert_array_equal(match_photons(predicted, true), [[1, 0], [0, 1]])
    three = np.array([[[0.0, 0.0], [5.0, 5.0], [20.0, 0.0]]])
    np.testing.assert_array_equal(match_photons(three[:, [2, 0, 1]], three), [[1, 2, 0]])
    with pytest.raises(ConfigError):
        match_photons(true[:, :, :1], true[:, :, :1])


def test_overlap_performance_vs_separation():
    predictions = synthetic_overlap(seed=13, n=6_000, sigma_mm=1.0, energy_resolution=0.05)
    result = overlap_performance(predictions, n_bins=4)
    assert result.photons == 2 and result.vs_separation.counts.sum() == 2 * 6_000
    assert result.position.sigma == pytest.approx(1.0, abs=3 * result.position.sigma_error)
    assert result.energy is not None and result.energy.sigma == pytest.approx(0.05, abs=3 * result.energy.sigma_error)
    bins = result.vs_separation
    assert np.all(np.abs(bins.position_sigma - 1.0) < 3.5 * bins.position_sigma_error)
    assert np.all(np.abs(bins.energy_resolution - 0.05) < 3.5 * bins.energy_resolution_error)
    # without matching, half the photons would be 5-60 mm off
    unmatched = predictions.predicted["position"] - predictions.truth["position"]
    assert np.mean(np.abs(unmatched) > 4.0) > 0.2


# ---------------------------------------------------------------- several models, JSON


def test_evaluate_models_and_json():
    import json

    good = synthetic("cnn", seed=14, abc=(0.10, 0.3, 0.005), separation=3.0)
    worse = synthetic("linear", seed=15, abc=(0.20, 0.5, 0.02), separation=None, position_sigma_mm=None)
    overlap = synthetic_overlap("pairnet", seed=16, n=2_000)
    evaluation = evaluate_models([good, worse, overlap], signal=22, background=[111])
    # the overlap model is binned in separation, so its continuous energies do not change the bins
    edges_gev = np.sqrt([50, 200, 1000, 5000, 20_000, 100_000, 625_000])  # geometric means of 10, 20, ... 500 GeV
    np.testing.assert_allclose(evaluation.energy_edges / 1000.0, edges_gev, rtol=1e-12)
    assert evaluation["cnn"].classification is not None and evaluation["linear"].classification is None
    assert evaluation["cnn"].position is not None and evaluation["pairnet"].overlap is not None
    assert evaluation["pairnet"].energy is None and evaluation["pairnet"].classification is None
    figures = json.loads(evaluation.to_json())
    cnn = figures["models"]["cnn"]
    assert cnn["energy"]["fit"]["a"] == pytest.approx(evaluation["cnn"].energy.fit.a)
    assert cnn["energy"]["fit"]["a"] == pytest.approx(0.10, abs=0.01)
    assert figures["models"]["linear"]["energy"]["fit"]["c"] == pytest.approx(0.02, abs=0.003)
    assert cnn["classification"]["auc"] == pytest.approx(norm.cdf(3 / np.sqrt(2)), abs=0.01)
    assert [p["signal_efficiency"] for p in cnn["classification"]["working_points"]] == [0.5, 0.7, 0.9]
    assert cnn["position"]["x_sigma_mm"] == pytest.approx(1.5, rel=0.05)
    assert figures["models"]["pairnet"]["overlap"]["position_sigma_mm"] == pytest.approx(1.0, rel=0.05)
    assert "classification" not in figures["models"]["linear"]
    assert figures["signal"] == 22 and figures["background"] == [111]
    with pytest.raises(ConfigError, match="unique"):
        evaluate_models([good, good])
    with pytest.raises(KeyError):
        evaluation["nope"]


def test_paired_resolution_sees_a_small_gain_that_the_error_bars_hide():
    """B = A's error plus independent noise of 60% of it (sigma_B / sigma_A = 1.166), 1000 events per bin: the
    paired bootstrap error of the difference is well below the two unpaired errors in quadrature (the
    shared showers cancel) and resolves the gain in every bin."""
    rng = np.random.default_rng(11)
    true = np.repeat([20_000.0, 100_000.0, 400_000.0], 1000)
    shared = rng.normal(0.0, 0.02, true.size)
    truth = {"energy": true, "pdg": np.full(true.size, 11)}
    first = Predictions("A", truth, {"energy": true * (1.0 + shared)}, ())
    second = Predictions("B", truth, {"energy": true * (1.0 + shared + rng.normal(0.0, 0.012, true.size))}, ())
    edges = [10_000.0, 50_000.0, 200_000.0, 500_000.0]
    paired = paired_resolution(first, second, edges, n_resamples=100, seed=2)
    assert paired.models == ("A", "B") and paired.first_better_everywhere
    np.testing.assert_allclose(paired.second / paired.first, np.sqrt(1.0 + 0.6**2), rtol=0.05)
    unpaired = np.hypot(*(energy_performance(p, edges).resolution_error for p in (first, second)))
    assert np.all(paired.difference_error < 0.75 * unpaired)
    assert np.all(paired.difference > 3.0 * paired.difference_error) and np.all(paired.p_first_not_better < 0.02)
    same = paired_resolution(first, first, edges, n_resamples=10)
    np.testing.assert_allclose(same.difference, 0.0)
    assert not same.first_better_everywhere and np.all(same.p_first_not_better == 1.0)
    with pytest.raises(ConfigError, match="same events"):
        paired_resolution(first, Predictions("C", {**truth, "energy": true[::-1]}, {"energy": true}, ()), edges)


def test_paired_resolution_summaries_over_bins():
    """Sign test: k of n independent bins better for two equally good models is a binomial tail with p = 1/2
    (10 of 10: 2^-10; 5 of 10: 638/1024); the mean difference's error adds the bins' errors in quadrature."""
    from scipy.stats import binom

    from calolab.evaluate.resolution import PairedResolution

    def paired(difference, error):
        n = len(difference)
        return PairedResolution(("A", "B"), np.arange(n + 1.0), np.ones(n), np.ones(n), np.asarray(difference),
                                np.asarray(error), np.zeros(n), 100, 0)

    all_better = paired([0.001] * 10, [0.002] * 10)
    assert all_better.bins_first_better == (10, 10)
    assert all_better.sign_test_p == pytest.approx(1.0 / 1024.0)
    assert all_better.mean_difference() == pytest.approx((0.001, 0.002 * np.sqrt(10.0) / 10.0))
    half = paired([0.001, -0.001] * 5, [0.001] * 10)
    assert half.sign_test_p == pytest.approx(638.0 / 1024.0) == pytest.approx(binom.sf(4, 10, 0.5))
    assert half.mean_difference()[0] == pytest.approx(0.0)
    with_empty = paired([0.003, np.nan, -0.001], [0.004, np.nan, 0.003])
    assert with_empty.bins_first_better == (1, 2) and with_empty.sign_test_p == pytest.approx(0.75)
    assert with_empty.mean_difference() == pytest.approx((0.001, 0.0025))
    assert np.isnan(paired([np.nan], [np.nan]).sign_test_p)


def _two_classifiers(rng, n, shared, extra):
    """Photons (22) score N(1, 1) + shared noise, pi0 (111) N(0, 1) + shared; B adds independent noise."""
    pdg = np.where(rng.random(n) < 0.5, 22, 111)
    common = rng.normal(np.where(pdg == 22, 1.0, 0.0), 1.0) + rng.normal(0.0, shared, n)
    truth = {"energy": np.full(n, 50_000.0), "pdg": pdg}

    def model(name, score):
        p = 1.0 / (1.0 + np.exp(-score))
        return Predictions(name, truth, {"pid_score": np.stack([p, 1.0 - p], axis=1)}, (22, 111))

    return model("A", common), model("B", common + rng.normal(0.0, extra, n))


def test_paired_auc_error_matches_the_spread_of_repeated_samples():
    """DeLong's paired error of AUC_A - AUC_B against the spread over 200 independent samples of 2000 events;
    B is A plus independent noise, so its AUC is lower and the shared part cancels in the difference."""
    rng = np.random.default_rng(4)
    results = [paired_auc(*_two_classifiers(rng, 2000, 0.3, 0.5)) for _ in range(200)]
    differences = np.array([r.difference for r in results])
    errors = np.array([r.difference_error for r in results])
    assert differences.std(ddof=1) == pytest.approx(errors.mean(), rel=0.15)
    assert np.all(differences > 0) and np.median([r.significance for r in results]) > 3
    unpaired = np.mean([np.hypot(*(classification_performance(m).auc_error for m in _two_classifiers(
        np.random.default_rng(k), 2000, 0.3, 0.5))) for k in range(5)])
    assert errors.mean() < 0.5 * unpaired  # the two models' shared fluctuations cancel
    a, _ = _two_classifiers(np.random.default_rng(0), 500, 0.3, 0.5)
    same = paired_auc(a, a)
    assert same.difference == 0.0 and same.difference_error == 0.0 and same.significance == 0.0
    other, _ = _two_classifiers(np.random.default_rng(1), 500, 0.3, 0.5)
    with pytest.raises(ConfigError, match="same events"):
        paired_auc(a, other)
