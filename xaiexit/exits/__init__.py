"""Early exit: when may a network stop thinking?

- rules (:mod:`~xaiexit.exits.rules`): ``MaxSoftmax``, ``Entropy``, ``Margin``: a score
  per sample at an exit and a threshold;
- the joint training loss (:func:`early_exit_loss`);
- inference that really stops (:func:`predict_with_exits`) and its simulation from all
  exits' logits (:func:`simulate_exits`);
- compute (:mod:`~xaiexit.exits.macs`): MACs per layer, block, exit;
- the oracle (:func:`oracle_exits`): the earliest correct exit, the bound on savings;
- calibration (:mod:`~xaiexit.exits.calibration`): ECE, reliability bins, temperature;
- thresholds chosen on validation (:func:`choose_thresholds`).
"""
from xaiexit.exits.calibration import expected_calibration_error, fit_temperature, reliability
from xaiexit.exits.inference import predict_with_exits, simulate_exits
from xaiexit.exits.loss import early_exit_loss
from xaiexit.exits.macs import conv2d_macs, count_macs, exit_costs, macs_by_part
from xaiexit.exits.oracle import Oracle, oracle_exits
from xaiexit.exits.rules import Entropy, ExitRule, Margin, MaxSoftmax, entropy_score, margin_score, max_softmax_score
from xaiexit.exits.thresholds import choose_threshold, choose_thresholds

__all__ = [
    "ExitRule", "MaxSoftmax", "Entropy", "Margin", "max_softmax_score", "entropy_score", "margin_score",
    "early_exit_loss", "predict_with_exits", "simulate_exits",
    "conv2d_macs", "count_macs", "macs_by_part", "exit_costs",
    "Oracle", "oracle_exits",
    "expected_calibration_error", "reliability", "fit_temperature",
    "choose_threshold", "choose_thresholds",
]
