"""Expected calibration error on cases computed by hand."""

import numpy as np
import pytest

from kefu.evaluation import expected_calibration_error


def test_ece_two_bins_by_hand():
    # Upper bin [0.5, 1]: confidences 0.9, 0.8 (mean 0.85), one right -> gap 0.35, weight 1/2.
    # Lower bin [0, 0.5): confidences 0.3, 0.2 (mean 0.25), none right -> gap 0.25, weight 1/2.
    ece, bins = expected_calibration_error(np.array([0.9, 0.8, 0.3, 0.2]), np.array([1, 0, 0, 0]), n_bins=2)

    assert ece == pytest.approx(0.5 * 0.35 + 0.5 * 0.25)
    assert bins[0] == pytest.approx(
        {"lower": 0.0, "upper": 0.5, "count": 2, "accuracy": 0.0, "confidence": 0.25}
    )
    assert bins[1] == pytest.approx(
        {"lower": 0.5, "upper": 1.0, "count": 2, "accuracy": 0.5, "confidence": 0.85}
    )


def test_ece_is_zero_when_each_bin_is_calibrated():
    confidences = np.array([0.75] * 4 + [0.25] * 4)
    correct = np.array([True, True, True, False] + [True, False, False, False])

    ece, _ = expected_calibration_error(confidences, correct, n_bins=10)

    assert ece == pytest.approx(0.0)


def test_bins_cover_unit_interval_and_empty_bins_have_no_scores():
    ece, bins = expected_calibration_error(np.array([0.0, 1.0]), np.array([False, True]), n_bins=15)

    assert len(bins) == 15
    assert bins[0]["lower"] == 0.0 and bins[-1]["upper"] == 1.0
    # 0.0 belongs to the first bin and 1.0 to the last.
    assert bins[0]["count"] == 1 and bins[-1]["count"] == 1
    assert bins[7] == {"lower": 7 / 15, "upper": 8 / 15, "count": 0, "accuracy": None, "confidence": None}
    assert ece == pytest.approx(0.0)


def test_confidences_must_be_probabilities():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error(np.array([1.5]), np.array([True]))
    with pytest.raises(ValueError, match="correctness"):
        expected_calibration_error(np.array([0.5, 0.5]), np.array([True]))
