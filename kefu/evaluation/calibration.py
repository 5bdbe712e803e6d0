"""Expected calibration error: does a 90% confidence mean right nine times in ten?"""

import numpy as np

# float32 softmax outputs can overshoot 1.0 by a rounding error; anything further out is not a probability.
_TOLERANCE = 1e-6


def expected_calibration_error(
    confidences: np.ndarray, correct: np.ndarray, n_bins: int = 15
) -> tuple[float, list[dict]]:
    """ECE over ``n_bins`` equal-width bins of [0, 1], and the bins for a reliability diagram.

    Bin ``i`` holds confidences in ``[i/n_bins, (i+1)/n_bins)``; 1.0 goes to the last bin.
    ECE = sum over bins of ``count/n * |accuracy - mean confidence|``; it is 0.0 for no predictions.
    Each bin is ``{"lower", "upper", "count", "accuracy", "confidence"}``, the last two ``None`` when empty.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    conf = np.asarray(confidences, dtype=float).ravel()
    hits = np.asarray(correct, dtype=bool).ravel()
    if conf.shape != hits.shape:
        raise ValueError(f"{conf.size} confidences but {hits.size} correctness flags")
    if conf.size and (np.isnan(conf).any() or conf.min() < -_TOLERANCE or conf.max() > 1 + _TOLERANCE):
        raise ValueError("confidences must be probabilities in [0, 1]")
    conf = np.clip(conf, 0.0, 1.0)

    bin_index = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    bins = []
    for i in range(n_bins):
        in_bin = bin_index == i
        count = int(in_bin.sum())
        accuracy = float(hits[in_bin].mean()) if count else None
        confidence = float(conf[in_bin].mean()) if count else None
        if count:
            ece += count / conf.size * abs(accuracy - confidence)
        bins.append(
            {
                "lower": i / n_bins,
                "upper": (i + 1) / n_bins,
                "count": count,
                "accuracy": accuracy,
                "confidence": confidence,
            }
        )
    return ece, bins
