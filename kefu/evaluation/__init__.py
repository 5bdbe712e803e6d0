"""Evaluation of intent predictions: metrics, calibration and a self-contained HTML report."""

from kefu.evaluation.calibration import expected_calibration_error
from kefu.evaluation.report import EvalReport, evaluate_predictions, write_report

__all__ = ["EvalReport", "evaluate_predictions", "expected_calibration_error", "write_report"]
